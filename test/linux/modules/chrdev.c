/* A register_chrdev() driver (test/linux/lkm.test.ts): major 0 asks for a dynamic one; its users make the node with mknod. */
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/uaccess.h>
static int major;
static ssize_t c_read(struct file *f, char __user *buf, size_t n, loff_t *pos)
{
	static const char msg[] = "chardev says hi\n";
	return simple_read_from_buffer(buf, n, pos, msg, sizeof(msg) - 1);
}
static const struct file_operations fo = { .owner = THIS_MODULE, .read = c_read };
static int __init c_init(void)
{
	major = register_chrdev(0, "hichr", &fo);
	if (major < 0)
		return major;
	pr_info("hichr major %d\n", major);
	return 0;
}
static void __exit c_exit(void) { unregister_chrdev(major, "hichr"); }
module_init(c_init);
module_exit(c_exit);
MODULE_LICENSE("GPL");
