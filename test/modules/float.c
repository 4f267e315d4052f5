/* A module that uses floating point: built with Linux's -msoft-float it needs libgcc's __adddf3 ..., which no kernel exports. */
#include <kmemsim/kernel.h>

static volatile double scale = 1.5;

int init_module(void)
{
	double x = scale * 2.0 + 0.25;
	printk(KERN_INFO "scaled %d\n", (int)x);
	return 0;
}
