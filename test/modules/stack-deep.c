/*
 * --stack precise: a clean program with a deep call tree, arrays, heap
 * objects and printk with stack arguments: no findings.
 */
#include <kmemsim/kernel.h>

static __attribute__((noinline)) int leaf(int a, int b)
{
	volatile int t[3];

	t[0] = a;
	t[1] = b;
	t[2] = a ^ b;
	return t[0] + t[1] + t[2];
}

static __attribute__((noinline)) int tree(int n, int seed)
{
	volatile int acc = seed;
	int buf[8];
	int i;

	if (n == 0)
		return leaf(seed, n);
	for (i = 0; i < 8; i++)
		buf[i] = seed + i;
	acc = acc + tree(n - 1, buf[n & 7]);
	acc = acc + tree(n - 1, buf[(n + 3) & 7]);
	return acc;
}

int init_module(void)
{
	int *p = kmalloc(4 * sizeof(int), GFP_KERNEL);
	int r, i;

	if (!p)
		return -ENOMEM;
	for (i = 0; i < 4; i++)
		p[i] = tree(6, i);
	r = p[0] + p[1] + p[2] + p[3];
	printk(KERN_INFO "deep: %d %d %d\n", r, p[0], p[3]);
	kfree(p);
	return 0;
}
