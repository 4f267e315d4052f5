/*
 * Shrunk by property-tests/stack.test.ts (transparency): a program that
 * prints dead-stack garbage. f0(0) leaves a0[0] unwritten and returns it.
 * What it prints is whatever the dead stack held there, so it depends on
 * the stack layout and on ftrace's poison:
 *  - --stack ftrace fills dead frames with 0xA5A5A5A5 and prints
 *    "r -1515870811" (the poison) instead of the plain run's garbage;
 *  - --stack cpl1 runs the kernel at CPL 1 on another stack than ring 0's:
 *    it prints what a plain run with the same layout (--kernel-ring 1)
 *    prints, not necessarily what a ring-0 run prints.
 * Every mode still finds the read (line 21) and returns 0.
 */
#include <kmemsim/kernel.h>

static __attribute__((noinline)) int f0(int p0)
{
	int a0[1];

	if (p0 > 0)
		a0[0] = 1;
	return a0[0];
}

int init_module(void)
{
	int r;

	r = f0(0);
	printk(KERN_INFO "r %d\n", r);
	return 0;
}
