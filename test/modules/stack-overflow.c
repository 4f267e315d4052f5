/* Unbounded recursion: the kernel stack overflows into its guard page (test/module/oops.test.ts). */
#include <kmemsim/kernel.h>

static int depth;

static __attribute__((noinline)) int recurse(int n)
{
	char buf[64];

	buf[n & 63] = (char)n;
	depth++;
	return recurse(n + 1) + buf[(n * 7) & 63]; /* RECURSE */
}

int init_module(void)
{
	return recurse(0);
}
