/*
 * Kernel threads started from a system call (the Linux personality): an
 * ioctl on /dev/workers starts N kernel threads that sleep and take a
 * semaphore, waits for them (the calling process sleeps in the ioctl),
 * and returns the sum of their pids; a kretprobe on down_interruptible
 * counts the calls per pid class (the caller, kernel threads).
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/kthread.h>
#include <linux/semaphore.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kprobes.h>

MODULE_LICENSE("GPL");

static struct semaphore sem;
static struct completion done;
static pid_t caller;
static int by_caller, by_threads;

static int down_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	if (current->pid == caller)
		by_caller++;
	else if (current->flags & PF_KTHREAD)
		by_threads++;
	return 1;
}
static int down_ret(struct kretprobe_instance *ri, struct pt_regs *regs) { return 0; }
static struct kretprobe rp = { .kp.symbol_name = "down_interruptible", .entry_handler = down_entry, .handler = down_ret, .maxactive = 32 };

static int worker(void *data)
{
	int i;
	for (i = 0; i < 3; i++) {
		if (down_interruptible(&sem))
			return -1;
		msleep(1);
		up(&sem);
	}
	complete(&done);
	return 0;
}

static long workers_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	long sum = 0;
	unsigned long i;
	caller = current->pid;
	pr_info("ioctl by %s/%d: %lu threads\n", current->comm, current->pid, arg);
	if (down_interruptible(&sem))
		return -EINTR;
	up(&sem);
	init_completion(&done);
	for (i = 0; i < arg; i++) {
		struct task_struct *t = kthread_run(worker, NULL, "worker/%lu", i);
		if (IS_ERR(t))
			return PTR_ERR(t);
		sum += t->pid;
	}
	for (i = 0; i < arg; i++)
		wait_for_completion(&done);
	pr_info("down_interruptible: caller %d, threads %d\n", by_caller, by_threads);
	return sum;
}

static const struct file_operations fops = { .owner = THIS_MODULE, .unlocked_ioctl = workers_ioctl };
static struct miscdevice dev = { .minor = MISC_DYNAMIC_MINOR, .name = "workers", .fops = &fops };

static int __init workers_init(void)
{
	int r;
	sema_init(&sem, 2);
	r = register_kretprobe(&rp);
	if (r)
		return r;
	return misc_register(&dev);
}

static void __exit workers_exit(void)
{
	misc_deregister(&dev);
	unregister_kretprobe(&rp);
}

module_init(workers_init);
module_exit(workers_exit);
