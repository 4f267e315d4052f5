/* A NULL pointer dereference in init_module: the kernel oopses. */
#include <kmemsim/kernel.h>

struct thing {
	int a;
	int b;
};

static struct thing *volatile nothing;

int init_module(void)
{
	return nothing->b;
}
