/*
 * Recursion: depth() keeps a local per level and initializes it on every
 * level but the deepest, whose value is then folded into the result on the
 * way back up. The uninitialized read happens once, at the bottom.
 */
#include <kmemsim/kernel.h>

__attribute__((noipa)) int combine(int a, int b)
{
	return a + b;
}

__attribute__((noipa)) int depth(int n)
{
	volatile int local;

	if (n > 0)
		local = n;
	if (n == 0)
		return combine(local, 0);	/* never written at the bottom */
	return combine(local, depth(n - 1));
}

int init_module(void)
{
	depth(6);
	printk(KERN_INFO "recursion: done\n");
	return 0;
}
