/* A driver bug: its ioctl dereferences a near-NULL pointer. The calling process dies of the oops (SIGSEGV); the console says where. */
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
static long o_ioctl(struct file *f, unsigned int cmd, unsigned long arg) { return *(int *)(arg & 0xf); }
static const struct file_operations fo = { .owner = THIS_MODULE, .unlocked_ioctl = o_ioctl };
static struct miscdevice md = { .minor = MISC_DYNAMIC_MINOR, .name = "stats", .fops = &fo };
module_misc_device(md);
MODULE_LICENSE("GPL");
