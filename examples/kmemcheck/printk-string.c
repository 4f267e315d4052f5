/*
 * A string that was never terminated: name_device() copies the characters
 * of a name into a kmalloc'd buffer but not the NUL, and the caller prints
 * it with %s. vsnprintf reads the string one byte at a time until it finds
 * a NUL, running into the uninitialized byte after the name (a fresh slab
 * page happens to hold zeros, so the output looks right): kmemcheck reports
 * an 8-bit read from uninitialized memory in printk, the routine that read
 * it, called from init_module. (With "%.4s" printk would read only the four
 * written bytes, and nothing would be reported — as in Linux.)
 */
#include <kmemsim/kernel.h>

__attribute__((noipa)) void name_device(char *buf, const char *name)
{
	while (*name)
		*buf++ = *name++;	/* the NUL is not copied */
}

int init_module(void)
{
	char *buf = kmalloc(16, GFP_KERNEL);

	if (!buf)
		return -ENOMEM;
	name_device(buf, "eth0");
	printk(KERN_INFO "printk-string: device %s\n", buf);
	kfree(buf);
	return 0;
}
