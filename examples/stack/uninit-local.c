/*
 * An uninitialized local: fill_stats() sets one field of a struct on its
 * caller's stack and forgets the other; report() then reads it. The read
 * is in report(), of init_module()'s frame — a stack read of bytes nobody
 * wrote since the stack grew over them.
 *
 * precise and cpl1 catch the read itself. ftrace catches it only if the
 * garbage reaches a function argument: here report() passes it on to
 * account(), so the poison the dead stack was filled with arrives there.
 */
#include <kmemsim/kernel.h>

struct stats {
	int packets;
	int errors;	/* never written */
};

__attribute__((noipa)) void fill_stats(struct stats *s)
{
	s->packets = 10;
}

__attribute__((noipa)) int account(int packets, int errors)
{
	return packets - errors;
}

__attribute__((noipa)) int report(const struct stats *s)
{
	return account(s->packets, s->errors);
}

int init_module(void)
{
	struct stats s;

	fill_stats(&s);
	report(&s);
	printk(KERN_INFO "uninit-local: %d packets\n", s.packets);
	return 0;
}
