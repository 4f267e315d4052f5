/*
 * Reads one int past an 8-byte kmalloc object: the bytes behind it in the
 * slab belong to no object yet, and kmemcheck reports a read from
 * unallocated memory in sum_counters().
 */
#include <kmemsim/kernel.h>

__attribute__((noipa)) int sum_counters(const int *c, int n)
{
	int i, sum = 0;

	for (i = 0; i < n; i++)
		sum += c[i];
	return sum;
}

int init_module(void)
{
	int *c = kmalloc(2 * sizeof(int), GFP_KERNEL);
	int sum;

	if (!c)
		return -ENOMEM;
	c[0] = 1;
	c[1] = 2;
	sum = sum_counters(c, 3); /* off by one: reads c[2] */
	printk(KERN_INFO "past-the-end: sum computed %d\n", sum >= 3);
	kfree(c);
	return 0;
}
