/*
 * Shrunk by property-tests/stack.test.ts (transparency of cpl1): f1 reads
 * a3[5] (a3[0] before Linux's 4-byte stack alignment), never written; the
 * sum is printed. The dead stack below f1 holds what earlier frames left
 * (f0's recursion, f2's): a stack address, and the ring-1 layout runs the
 * kernel on its own CPL-1 stack, where that garbage differs from the ring-0
 * stack's: --stack cpl1 prints what a plain run with --kernel-ring 1
 * prints (the tracker itself is transparent), not what a ring-0 run
 * prints. The read (line 35) is found by cpl1 and precise, either ring.
 */
#include <kmemsim/kernel.h>

static __attribute__((noinline)) int f1(int p0);
static __attribute__((noinline)) int f2(int p0);

static __attribute__((noinline)) int f0(int p0)
{
	int acc = 0;

	if (p0 > 0)
		acc = acc * 31 + f0(p0 - 1);
	acc = acc * 31 + f1(0);
	return acc;
}

static __attribute__((noinline)) int f1(int p0)
{
	int acc = 0;
	int l0;
	int l1;
	int a2[1];
	int a3[6];

	acc = acc * 31 + f2(1);
	acc = acc * 31 + a3[5];
	l0 = 1;
	return acc;
}

static __attribute__((noinline)) int f2(int p0)
{
	int acc = 0;

	if (p0 > 0)
		acc = acc * 31 + f2(p0 - 1);
	return acc;
}

int init_module(void)
{
	int r;

	r = f0(1);
	printk(KERN_INFO "r %d\n", r);
	return 0;
}
