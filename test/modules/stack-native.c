/*
 * --stack precise: a native kernel routine reads an uninitialized stack
 * argument. `pushl mem` copies the slot's shadow (kmemcheck_copy), so the
 * copy is not a finding; printk's read of the argument is, attributed to
 * printk.
 */
#include <kmemsim/kernel.h>

static const char fmt[] = KERN_INFO "native: %d\n";

int init_module(void)
{
	volatile int u[2];

	u[0] = 1;
	__asm__ __volatile__("pushl %0\n\tpushl %1\n\tcall printk\n\taddl $8, %%esp"
			     : : "m"(u[1]), "i"(fmt) : "eax", "ecx", "edx", "memory");
	return u[0] - 1;
}
