/*
 * Shrunk by property-tests/stack.test.ts (ftrace recall): an uninitialized
 * *heap* value (a kmalloc'd int nobody wrote) passed as an argument. It
 * reaches f1's p1 just like an uninitialized local would, but ftrace's
 * poison only fills dead stack frames: kmalloc'd memory is never the
 * poison, so --stack ftrace cannot see it (by design); no stack strategy
 * reports it (the read is of the heap), a heap checker does.
 */
#include <kmemsim/kernel.h>

static int *h0;

static __attribute__((noinline)) int f1(int p0, int p1)
{
	int acc = 0;

	if (p0 > 0)
		acc = acc * 31 + f1(p0 - 1, 1);
	return p1;
}

static __attribute__((noinline)) int f0(int p0)
{
	int l0;

	l0 = h0[0];
	l0 = f1(0, l0);
	l0 = 1;
	return l0;
}

int init_module(void)
{
	int r;

	h0 = kmalloc(4, GFP_KERNEL);
	if (!h0)
		return -ENOMEM;
	r = f0(0);
	printk(KERN_INFO "r %d\n", r);
	kfree(h0);
	return 0;
}
