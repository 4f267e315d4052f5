/*
 * /dev/kmemsim_fifo: a byte FIFO in one page, with read, write, poll
 * (poll_wait on a wait queue that write() wakes) and mmap (the page
 * mapped into the process with remap_pfn_range()). Driven by
 * test/linux/programs/fifo-user.c.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/gfp.h>
#include <linux/poll.h>
#include <linux/wait.h>
#include <linux/uaccess.h>
#include <linux/string.h>

MODULE_LICENSE("GPL");

static char *buf;		/* one page: the FIFO's bytes */
static size_t len;
static DECLARE_WAIT_QUEUE_HEAD(readers);

static ssize_t fifo_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	if (count > len)
		count = len;
	if (copy_to_user(ubuf, buf, count))
		return -EFAULT;
	memmove(buf, buf + count, len - count);
	len -= count;
	return count;
}

static ssize_t fifo_write(struct file *file, const char __user *ubuf, size_t count, loff_t *ppos)
{
	if (count > PAGE_SIZE - len)
		count = PAGE_SIZE - len;
	if (count == 0)
		return -ENOSPC;
	if (copy_from_user(buf + len, ubuf, count))
		return -EFAULT;
	len += count;
	wake_up_interruptible(&readers);
	return count;
}

static __poll_t fifo_poll(struct file *file, poll_table *wait)
{
	__poll_t mask = 0;

	poll_wait(file, &readers, wait);
	if (len > 0)
		mask |= EPOLLIN | EPOLLRDNORM;
	if (len < PAGE_SIZE)
		mask |= EPOLLOUT | EPOLLWRNORM;
	return mask;
}

#ifndef NO_MMAP
static int fifo_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long size = vma->vm_end - vma->vm_start;

	if (size > PAGE_SIZE || vma->vm_pgoff != 0)
		return -EINVAL;
	return remap_pfn_range(vma, vma->vm_start, virt_to_phys(buf) >> PAGE_SHIFT, size, vma->vm_page_prot);
}
#endif

static const struct file_operations fifo_fops = {
	.owner = THIS_MODULE,
	.read = fifo_read,
	.write = fifo_write,
	.poll = fifo_poll,
#ifndef NO_MMAP
	.mmap = fifo_mmap,
#endif
};

static struct miscdevice fifo_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kmemsim_fifo",
	.fops = &fifo_fops,
};

static int __init fifo_init(void)
{
	int err;

	buf = (char *)get_zeroed_page(GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	err = misc_register(&fifo_dev);
	if (err)
		free_page((unsigned long)buf);
	return err;
}

static void __exit fifo_exit(void)
{
	misc_deregister(&fifo_dev);
	free_page((unsigned long)buf);
}

module_init(fifo_init);
module_exit(fifo_exit);
