/*
 * --stack precise: an uninitialized value passed to a function (in EAX,
 * -mregparm=3): the finding is the load in the caller.
 */
#include <kmemsim/kernel.h>

static __attribute__((noinline)) int consume(int v)
{
	return v * 2 + 1;
}

static __attribute__((noinline)) int producer(void)
{
	volatile int v;
	return consume(v); /* FINDING producer */
}

int init_module(void)
{
	int r = producer();
	printk(KERN_INFO "arg: %d\n", r & 1);
	return 0;
}
