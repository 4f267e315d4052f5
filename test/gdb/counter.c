/*
 * A module to debug with gdb (README "Debugging with gdb"): bump() writes
 * a field of a kmalloc'd struct (watch it), total() reads a field that was
 * never written (kmemcheck reports it; --gdb-on-finding stops there). Kept
 * under test/, so `kmemsim compare examples/` and its README figures stay
 * as they are.
 */
#include <kmemsim/kernel.h>

struct counter {
	int hits;
	int limit;
};

static struct counter *ctr;

__attribute__((noipa)) int bump(struct counter *c, int by)
{
	c->hits += by;
	return c->hits;
}

__attribute__((noipa)) int total(struct counter *c)
{
	return c->hits + c->limit; /* limit is never written */
}

int init_module(void)
{
	int i, sum = 0;

	ctr = kmalloc(sizeof(*ctr), GFP_KERNEL);
	if (!ctr)
		return -ENOMEM;
	ctr->hits = 0;
	for (i = 1; i <= 3; i++)
		sum += bump(ctr, i);
	printk(KERN_INFO "counter: sum %d, total %d\n", sum, total(ctr) != 0);
	return 0;
}

void cleanup_module(void)
{
	kfree(ctr);
}
