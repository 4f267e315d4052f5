/*
 * --stack precise: a local initialized only on one path. pick(1) writes the
 * slot, pick(0) then reuses the same (dead) slot: memory still holds 7, but
 * the bytes died when pick(1) returned, so the read is a finding.
 */
#include <kmemsim/kernel.h>

static __attribute__((noinline)) int pick(int c)
{
	volatile int x;
	if (c)
		x = 7;
	return x; /* FINDING pick (only when c == 0) */
}

int init_module(void)
{
	int r = pick(1);
	r += pick(0);
	r += pick(1);
	printk(KERN_INFO "cond: %d\n", r);
	return 0;
}
