/* Registration errors as Linux returns them. */
#include <linux/kprobes.h>

int plain(int x) { return x * 12345 + 7; }
int forbidden(int x) { return x * 2; }
NOKPROBE_SYMBOL(forbidden);

static int pre(struct kprobe *p, struct pt_regs *regs) { return 0; }
static int ret_handler(struct kretprobe_instance *ri, struct pt_regs *regs) { return 0; }

static struct kprobe missing = { .symbol_name = "no_such_function", .pre_handler = pre };
static struct kprobe both = { .symbol_name = "plain", .addr = (kprobe_opcode_t *)plain, .pre_handler = pre };
static struct kprobe neither = { .pre_handler = pre };
static struct kprobe black = { .symbol_name = "forbidden", .pre_handler = pre };
static struct kprobe inside = { .symbol_name = "plain", .offset = 1, .pre_handler = pre };
static struct kprobe data = { .addr = (kprobe_opcode_t *)&missing, .pre_handler = pre };
static struct kprobe own = { .symbol_name = "register_kprobe", .pre_handler = pre };
static struct kprobe twice = { .symbol_name = "plain", .pre_handler = pre };
static struct kretprobe big = { .kp.symbol_name = "plain", .handler = ret_handler, .maxactive = 5000 };
static struct kretprobe dflt = { .kp.symbol_name = "plain", .handler = ret_handler };

int init_module(void)
{
	int r;

	printk("missing symbol: %d\n", register_kprobe(&missing));
	printk("symbol and addr: %d\n", register_kprobe(&both));
	printk("neither: %d\n", register_kprobe(&neither));
	printk("NOKPROBE_SYMBOL: %d\n", register_kprobe(&black));
	printk("inside an instruction: %d\n", register_kprobe(&inside));
	printk("data address: %d\n", register_kprobe(&data));
	printk("kprobes itself: %d\n", register_kprobe(&own));
	r = register_kprobe(&twice);
	printk("twice: %d %d\n", r, register_kprobe(&twice));
	unregister_kprobe(&twice);
	printk("maxactive 5000: %d\n", register_kretprobe(&big));
	r = register_kretprobe(&dflt);
	printk("maxactive 0: %d, now %d\n", r, dflt.maxactive);
	unregister_kretprobe(&dflt);
	return 0;
}
