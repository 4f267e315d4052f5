/*
 * ftrace reports garbage that went through arithmetic only when the
 * arithmetic left it unchanged. f1 computes acc = 0 * 31 + l0 with l0
 * unwritten and returns it: the value is "computed" (the generator's
 * uninitArgs lists only raw dead-stack bytes) but still the poison, so
 * passing it to f2 is a (true) ftrace finding; in f3, acc = 1 * 31 + l0
 * is no longer the poison, and passing that to f2 is a miss by design.
 */
#include <kmemsim/kernel.h>

static __attribute__((noinline)) int f2(int p0, int p1)
{
	return p0 + (p1 != 0);
}

static __attribute__((noinline)) int f1(int p0)
{
	int acc = 0;
	int l0;

	acc = acc * 31 + l0;
	return acc;
}

static __attribute__((noinline)) int f3(int p0)
{
	int acc = 1;
	int l0;

	acc = acc * 31 + l0;
	return acc;
}

static __attribute__((noinline)) int f0(int p0)
{
	int l0;
	int l1;

	l0 = f1(0);
	l1 = f2(0, l0);
	l0 = f3(0);
	l1 = l1 + f2(1, l0);
	return l1;
}

int init_module(void)
{
	int r;

	r = f0(0);
	printk(KERN_INFO "r %d\n", r);
	return 0;
}
