/*
 * Writes where no object lives: one int past an 8-byte kmalloc object
 * (slab space no object owns), and into an object after kfree(). Linux's
 * kmemcheck checked reads only, so `--kmemcheck` alone reports nothing;
 * `--kmemcheck --kmemcheck-writes` (as KASAN does) reports a write to
 * unallocated memory in fill_counters() and a write to freed memory in
 * reset_after_free().
 */
#include <kmemsim/kernel.h>

__attribute__((noipa)) void fill_counters(int *c, int n)
{
	int i;

	for (i = 0; i < n; i++)
		c[i] = i + 1;
}

__attribute__((noipa)) void reset_after_free(int *c)
{
	c[0] = 0;
}

int init_module(void)
{
	int *c = kmalloc(2 * sizeof(int), GFP_KERNEL);

	if (!c)
		return -ENOMEM;
	fill_counters(c, 3); /* off by one: writes c[2] */
	printk(KERN_INFO "write-past-and-after-free: first %d\n", c[0]);
	kfree(c);
	reset_after_free(c); /* use after free: a write */
	return 0;
}
