/*
 * A clean program with a deep call tree: every local is written before it
 * is read, frames of different sizes come and go (recursion, siblings,
 * arrays), values flow through arguments and returns. No strategy may
 * report anything.
 */
#include <kmemsim/kernel.h>

__attribute__((noipa)) int leaf(int a, int b, int c, int d, int e)
{
	volatile int t[4];

	t[0] = a; t[1] = b; t[2] = c; t[3] = d;
	return t[0] + t[1] * 2 + t[2] * 3 + t[3] * 4 + e;
}

__attribute__((noipa)) int walk(int depth, int acc)
{
	volatile int frame[6];
	int i;

	for (i = 0; i < 6; i++)
		frame[i] = depth * i + acc;
	if (depth == 0)
		return leaf(frame[0], frame[1], frame[2], frame[3], frame[4]);
	return walk(depth - 1, frame[depth % 6]) + leaf(depth, acc, frame[5], 1, 2);
}

__attribute__((noipa)) int fib(int n)
{
	int a = 0, b = 1, i;

	for (i = 0; i < n; i++) {
		int t = a + b;
		a = b;
		b = t;
	}
	return a;
}

int init_module(void)
{
	int total = 0, i;

	for (i = 0; i < 8; i++)
		total += walk(i, i) + fib(i + 10);
	printk(KERN_INFO "deep-clean: %d\n", total);
	return 0;
}
