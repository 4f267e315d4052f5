/* init_module fails like a driver that found no memory: insmod must fail and cleanup_module must not run. */
#include <kmemsim/kernel.h>

int init_module(void)
{
	printk(KERN_ERR "fail: giving up\n");
	return -ENOMEM;
}

void cleanup_module(void)
{
	printk(KERN_ERR "fail: cleanup must not run\n");
}
