/*
 * A module whose init_module never returns: a loop with no exit, as a
 * hung insmod would be. kmemsim stops it with the instruction budget
 * (exit status 124); `kmemsim compare` marks the run "budget".
 */
#include <kmemsim/kernel.h>

int init_module(void)
{
	volatile unsigned int n = 0;

	for (;;)
		n++;
	return 0;
}
