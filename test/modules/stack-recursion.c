/*
 * --stack precise: recursion. Only the innermost call (n == 0) reads its
 * local uninitialized. The second depth() call makes the same read at the
 * same EIP right after the first error: kmemcheck's queue drops it (one
 * finding in all).
 */
#include <kmemsim/kernel.h>

static __attribute__((noinline)) int depth(int n)
{
	volatile int v;

	if (n > 0)
		v = depth(n - 1) + n;
	return v; /* FINDING depth (n == 0) */
}

int init_module(void)
{
	int r = depth(5);
	r += depth(3);
	printk(KERN_INFO "recursion: %d\n", r > 0);
	return 0;
}
