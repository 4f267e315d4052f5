/*
 * A planted bug in an ioctl path: STATS_GET builds a kmalloc'd record,
 * forgets one field, and sums the fields into the reply — a read of
 * uninitialized heap memory that kmemcheck reports at the line of the sum,
 * reached from a user program's ioctl(2). Built with -DON_STACK the record
 * is a local variable: the uninitialized stack read --stack precise finds.
 */
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/ioctl.h>

#define STATS_GET _IOR('s', 1, int)

struct stats {
	int opens;
	int reads;
	int errors;	/* never set: the bug */
};

static int opens;

static int stats_open(struct inode *inode, struct file *file)
{
	opens++;
	return 0;
}

static noinline int stats_total(const struct stats *st)
{
	return st->opens + st->reads + st->errors;
}

static long stats_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	int total;
#ifdef ON_STACK
	struct stats local;

	if (cmd != STATS_GET)
		return -ENOTTY;
	local.opens = opens;
	local.reads = 0;
	total = stats_total(&local);
#else
	struct stats *st;

	if (cmd != STATS_GET)
		return -ENOTTY;
	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	st->opens = opens;
	st->reads = 0;
	total = stats_total(st);
	kfree(st);
#endif
	return put_user(total, (int __user *)arg);
}

static const struct file_operations stats_fops = {
	.owner = THIS_MODULE,
	.open = stats_open,
	.unlocked_ioctl = stats_ioctl,
};

static struct miscdevice stats_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "stats",
	.fops = &stats_fops,
};

module_misc_device(stats_dev);
MODULE_LICENSE("GPL");
