/* A two-file module for test/cli/compare-build.test.ts: init_module here, the helper in util.c. */
#include <kmemsim/kernel.h>
#include "util.h"

int init_module(void)
{
	int *p = kmalloc(2 * sizeof(int), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	p[0] = BASE;
#ifdef FILL_ALL
	p[1] = BASE;
#endif
	printk(KERN_INFO "two-file: %d\n", sum_pair(p));
	kfree(p);
	return 0;
}

void cleanup_module(void)
{
}
