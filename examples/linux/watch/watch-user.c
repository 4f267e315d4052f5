/*
 * Watching a user process's buffer from a module (issue 12, seed 000's
 * third example): the program gives the module its buffer's address with
 * an ioctl, the module kmcf_add()s it — in the calling process's address
 * space — and its handler sees the program's own reads and writes (CPL 3)
 * with the program's pid. WATCH_USER_STATS prints the statistics and
 * deletes the buffer; a buffer still watched when the process exits is
 * dropped then (its pages shown again before its memory goes).
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/uaccess.h>
#include <kmemsim/watch.h>
#include "watch-user.h"

/* guest_handler=0: register no handler, TypeScript's WatchFramework.setHandler() takes the accesses. */
static int guest_handler = 1;
module_param(guest_handler, int, 0444);

static int handler(const struct kmcf_access *acc, int post)
{
	if (post)
		pr_info("watch_user: pid %d %s %u byte%s at offset %lu: %#lx\n", acc->pid,
			acc->write ? "wrote" : "read", acc->size, acc->size == 1 ? "" : "s",
			(unsigned long)acc->offset, acc->value);
	return 0;
}

static long watch_user_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct watch_user_req req;
	struct kmcf_stats st;
	int err;

	switch (cmd) {
	case WATCH_USER_ADD:
		if (copy_from_user(&req, (void __user *)arg, sizeof(req)))
			return -EFAULT;
		err = kmcf_add((const void *)req.buf, req.len);
		pr_info("watch_user: kmcf_add(%d bytes): %d\n", (int)req.len, err);
		return err;
	case WATCH_USER_STATS:
		err = kmcf_stats((const void *)arg, &st);
		if (err)
			return err;
		pr_info("watch_user: %lu reads, %lu writes, %lu foreign\n", st.reads, st.writes, st.foreign);
		return kmcf_delete((const void *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations watch_user_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = watch_user_ioctl,
};

static struct miscdevice watch_user_dev = {
	.minor = WATCH_USER_MINOR,
	.name = WATCH_USER_NAME,
	.fops = &watch_user_fops,
};

static int __init watch_user_init(void)
{
	int err = guest_handler ? kmcf_register(handler) : 0;

	if (err)
		return err;
	err = misc_register(&watch_user_dev);
	if (err && guest_handler)
		kmcf_unregister();
	return err;
}

static void __exit watch_user_exit(void)
{
	misc_deregister(&watch_user_dev);
	if (guest_handler)
		kmcf_unregister();
}

module_init(watch_user_init);
module_exit(watch_user_exit);
MODULE_LICENSE("GPL");
