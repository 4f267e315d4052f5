/*
 * --stack precise: a local read before it is written (test/shadow/stack-precise.test.ts).
 * `volatile` keeps the local in its stack slot at -O2 as well.
 */
#include <kmemsim/kernel.h>

static __attribute__((noinline)) int read_uninit(void)
{
	volatile int x;
	return x + 1; /* FINDING read_uninit */
}

int init_module(void)
{
	int r = read_uninit();
	printk(KERN_INFO "uninit: %d\n", r != 0x12345678);
	return 0;
}
