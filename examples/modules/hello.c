/* The README's first kernel module ("Kernel modules"): kmalloc, strcpy, printk, kfree. */
#include <kmemsim/kernel.h>

static int __init hello_init(void)
{
	char *p = kmalloc(32, GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	strcpy(p, "world");
	printk(KERN_INFO "hello, %s\n", p);
	kfree(p);
	return 0;
}

static void __exit hello_exit(void)
{
	printk(KERN_INFO "goodbye\n");
}

module_init(hello_init);
module_exit(hello_exit);
