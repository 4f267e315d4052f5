/*
 * A probe hit while another probe's handler runs is not handled: it is
 * counted in nmissed and its instruction single-stepped (reenter_kprobe()).
 * kretprobe instances: with maxactive 1, a second call while the first is
 * in flight is missed too.
 */
#include <linux/kprobes.h>

__attribute__((__noinline__)) int inner(int x) { return x + 1; }
__attribute__((__noinline__)) int outer(int x) { return inner(x) * 2; }
int (*volatile call_outer)(int) = outer;
int (*volatile call_inner)(int) = inner;

static int inner_hits, outer_hits, rets;

static int inner_pre(struct kprobe *p, struct pt_regs *regs) { inner_hits++; return 0; }
static int outer_pre(struct kprobe *p, struct pt_regs *regs)
{
	outer_hits++;
	/* A call into a probed function from a handler: missed, not handled. */
	return call_inner(5) != 6;
}

static struct kprobe kp_inner = { .symbol_name = "inner", .pre_handler = inner_pre };
static struct kprobe kp_outer = { .symbol_name = "outer", .pre_handler = outer_pre };

int recurse(int n);
int (*volatile call_recurse)(int) = recurse;
/* Through the pointer: gcc cannot turn the recursion into a loop. */
__attribute__((__noinline__)) int recurse(int n) { return n <= 0 ? 0 : 1 + call_recurse(n - 1); }

struct depth { int n; };
static int rec_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	((struct depth *)ri->data)->n = regs->ax;
	return 0;
}
static int rec_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	rets++;
	printk("recurse(%d) returned %lu\n", ((struct depth *)ri->data)->n, regs_return_value(regs));
	return 0;
}
static struct kretprobe rp = { .kp.symbol_name = "recurse", .entry_handler = rec_entry, .handler = rec_ret, .data_size = sizeof(struct depth), .maxactive = 2 };

int init_module(void)
{
	int v;
	register_kprobe(&kp_inner);
	register_kprobe(&kp_outer);
	v = call_outer(1);
	printk("outer(1) = %d; outer hits %d, inner hits %d, inner nmissed %lu\n", v, outer_hits, inner_hits, kp_inner.nmissed);
	v = call_inner(1);
	printk("inner(1) = %d; inner hits %d, inner nmissed %lu\n", v, inner_hits, kp_inner.nmissed);
	unregister_kprobe(&kp_outer);
	unregister_kprobe(&kp_inner);

	printk("register_kretprobe = %d\n", register_kretprobe(&rp));
	v = call_recurse(3);
	printk("recurse(3) = %d; handler ran %d times, nmissed %d\n", v, rets, rp.nmissed);
	unregister_kretprobe(&rp);
	v = call_recurse(3);
	printk("after unregister: recurse(3) = %d, handler ran %d times\n", v, rets);
	return 0;
}
