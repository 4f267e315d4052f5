/* A pre_handler that reads a kmalloc'd word nobody wrote: kmemcheck reports it in the handler. */
#include <linux/kprobes.h>
#include <linux/slab.h>

__attribute__((__noinline__)) int probed(int x) { return x + 1; }
int (*volatile call_probed)(int) = probed;
static int *state;
static int hits;
volatile int sink;

static int leaky_pre(struct kprobe *p, struct pt_regs *regs)
{
	hits++;
	if (*state > 0)	/* never initialized */
		sink = 1;
	return 0;
}
static struct kprobe kp = { .symbol_name = "probed", .pre_handler = leaky_pre };

int init_module(void)
{
	state = kmalloc(sizeof(*state), GFP_KERNEL);
	register_kprobe(&kp);
	call_probed(1);
	unregister_kprobe(&kp);
	printk("hits %d\n", hits);
	kfree(state);
	return 0;
}
