/*
 * A misc device written the way Linux drivers are: /dev/kmemsim_echo (misc
 * major 10, a dynamic minor) keeps the last bytes written to it and reads
 * them back; ioctls set and get a number (by pointer, _IOW/_IOR) and add
 * one passed by value; /proc/kmemsim_echo shows the state through seq_file.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/uaccess.h>
#include <linux/slab.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include <linux/ioctl.h>

#define ECHO_SET _IOW('k', 1, int)
#define ECHO_GET _IOR('k', 2, int)
#define ECHO_ADD _IO('k', 3)

static DEFINE_SPINLOCK(echo_lock);
static char *echo_buf;
static size_t echo_len;
static int echo_value;
static int opens, releases;

static int echo_open(struct inode *inode, struct file *file)
{
	struct miscdevice *misc = file->private_data;

	opens++;
	pr_info("open minor %u (misc %s)\n", iminor(inode), misc->name);
	return 0;
}

static int echo_release(struct inode *inode, struct file *file)
{
	releases++;
	return 0;
}

static ssize_t echo_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	return simple_read_from_buffer(buf, count, ppos, echo_buf, echo_len);
}

static ssize_t echo_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos)
{
	char *nbuf = kmalloc(count, GFP_KERNEL);

	if (!nbuf)
		return -ENOMEM;
	if (copy_from_user(nbuf, buf, count)) {
		kfree(nbuf);
		return -EFAULT;
	}
	spin_lock(&echo_lock);
	kfree(echo_buf);
	echo_buf = nbuf;
	echo_len = count;
	spin_unlock(&echo_lock);
	return count;
}

static long echo_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	int v;

	switch (cmd) {
	case ECHO_SET:
		if (get_user(v, (int __user *)arg))
			return -EFAULT;
		echo_value = v;
		return 0;
	case ECHO_GET:
		return put_user(echo_value, (int __user *)arg);
	case ECHO_ADD:
		echo_value += (int)arg;
		return echo_value;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations echo_fops = {
	.owner = THIS_MODULE,
	.open = echo_open,
	.release = echo_release,
	.read = echo_read,
	.write = echo_write,
	.unlocked_ioctl = echo_ioctl,
	.llseek = default_llseek,
};

static struct miscdevice echo_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kmemsim_echo",
	.fops = &echo_fops,
	.mode = 0666,
};

static int echo_show(struct seq_file *m, void *v)
{
	seq_printf(m, "value %d\n", echo_value);
	seq_printf(m, "bytes %zu\n", echo_len);
	seq_printf(m, "opens %d releases %d\n", opens, releases);
	seq_puts(m, "minor ");
	seq_printf(m, "%d\n", echo_dev.minor);
	return 0;
}

static int echo_proc_open(struct inode *inode, struct file *file)
{
	return single_open(file, echo_show, NULL);
}

static const struct proc_ops echo_proc_ops = {
	.proc_open = echo_proc_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

static int __init echo_init(void)
{
	int err = misc_register(&echo_dev);

	if (err)
		return err;
	if (!proc_create("kmemsim_echo", 0444, NULL, &echo_proc_ops)) {
		misc_deregister(&echo_dev);
		return -ENOMEM;
	}
	pr_info("loaded, minor %d\n", echo_dev.minor);
	return 0;
}

static void __exit echo_exit(void)
{
	remove_proc_entry("kmemsim_echo", NULL);
	misc_deregister(&echo_dev);
	kfree(echo_buf);
	pr_info("unloaded\n");
}

module_init(echo_init);
module_exit(echo_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmemsim test: a misc device with ioctls and a /proc file");
