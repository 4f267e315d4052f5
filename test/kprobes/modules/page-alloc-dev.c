/*
 * Page allocations on request from user space: writing "ORDER" to
 * /dev/page_alloc allocates a block of that order (kept until rmmod);
 * writing "-" frees the newest. Something for a program to drive while
 * page_owner, bpftrace and the checkers watch.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <linux/kernel.h>

MODULE_LICENSE("GPL");

#define MAX_BLOCKS 16
static struct page *blocks[MAX_BLOCKS];
static unsigned int orders[MAX_BLOCKS];
static int nblocks;

static ssize_t pa_write(struct file *file, const char __user *ubuf, size_t len, loff_t *ppos)
{
	char buf[8];
	unsigned long order;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (buf[0] == '-') {
		if (nblocks == 0)
			return -ENOENT;
		nblocks--;
		__free_pages(blocks[nblocks], orders[nblocks]);
		return len;
	}
	/* The number read again through kstrtoul_from_user(), as drivers parse a write. */
	if (kstrtoul_from_user(ubuf, len, 10, &order) || order > 4)
		return -EINVAL;
	if (nblocks == MAX_BLOCKS)
		return -ENOSPC;
	blocks[nblocks] = alloc_pages(GFP_KERNEL, order);
	if (!blocks[nblocks])
		return -ENOMEM;
	orders[nblocks++] = order;
	return len;
}

static const struct file_operations pa_fops = {
	.owner = THIS_MODULE,
	.write = pa_write,
};

static struct miscdevice pa_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "page_alloc",
	.fops = &pa_fops,
};

static int __init pa_init(void)
{
	return misc_register(&pa_dev);
}

static void __exit pa_exit(void)
{
	while (nblocks > 0) {
		nblocks--;
		__free_pages(blocks[nblocks], orders[nblocks]);
	}
	misc_deregister(&pa_dev);
}

module_init(pa_init);
module_exit(pa_exit);
