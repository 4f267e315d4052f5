/*
 * A stack-heavy kernel module for `kmemsim compare bench/modules`: many
 * calls with frames of different sizes (arrays, several locals), values
 * passed through arguments and returned, recursion — every local written
 * before it is read, so every strategy must stay silent. It prints a
 * checksum so runs can be compared. ROUNDS (default 40, about a million
 * instructions) may be set with -DROUNDS=N.
 */
#include <kmemsim/kernel.h>

#ifndef ROUNDS
#define ROUNDS 40
#endif

__attribute__((noipa)) unsigned int mix(unsigned int a, unsigned int b, unsigned int c)
{
	volatile unsigned int t[4];

	t[0] = a * 2654435761u;
	t[1] = b ^ (a >> 7);
	t[2] = c + t[1];
	t[3] = t[0] ^ t[2];
	return t[3] + t[1];
}

__attribute__((noipa)) unsigned int tree(int depth, unsigned int seed)
{
	volatile unsigned int frame[8];
	unsigned int acc = 0;
	int i;

	for (i = 0; i < 8; i++)
		frame[i] = seed + i * 40503u;
	if (depth == 0)
		return mix(frame[1], frame[5], seed);
	acc = tree(depth - 1, frame[depth & 7]);
	acc ^= tree(depth - 1, frame[(depth + 3) & 7] + acc);
	return mix(acc, frame[0], frame[7]);
}

__attribute__((noipa)) unsigned int sort_local(unsigned int seed)
{
	unsigned int v[24];
	int i, j;

	for (i = 0; i < 24; i++) {
		seed = seed * 1103515245u + 12345u;
		v[i] = seed >> 8;
	}
	for (i = 1; i < 24; i++) {
		unsigned int x = v[i];

		for (j = i - 1; j >= 0 && v[j] > x; j--)
			v[j + 1] = v[j];
		v[j + 1] = x;
	}
	return v[0] ^ v[12] ^ v[23];
}

int init_module(void)
{
	unsigned int sum = 0;
	int round;

	for (round = 0; round < ROUNDS; round++) {
		sum += tree(7, sum + round);
		sum ^= sort_local(sum);
	}
	printk(KERN_INFO "stack-workload: %08x\n", sum);
	return 0;
}
