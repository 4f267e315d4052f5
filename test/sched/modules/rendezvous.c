/*
 * Processes sleeping in module code (the Linux personality, with processes
 * as tasks of the kernel's scheduler): /dev/rendezvous's read sleeps on a
 * wait queue until another process writes; ioctl 1 sleeps on a wait queue
 * until a kernel thread wakes it, ioctl 2 in down_interruptible() until a
 * kernel thread ups the semaphore, ioctl 3 in msleep(), ioctl 4 in
 * down_interruptible() until a signal comes (6: msleep_interruptible(),
 * 7: wait_for_completion_interruptible()); ioctl 5 has a kernel thread
 * try copy_to_user() to the caller's buffer. A kprobe on do_exit
 * prints every exit it sees (processes and kernel threads).
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/kthread.h>
#include <linux/semaphore.h>
#include <linux/wait.h>
#include <linux/delay.h>
#include <linux/completion.h>
#include <linux/sched.h>
#include <linux/uaccess.h>
#include <linux/kprobes.h>

MODULE_LICENSE("GPL");

static DECLARE_WAIT_QUEUE_HEAD(readers);
static DECLARE_WAIT_QUEUE_HEAD(waiters);
static struct semaphore sem;
static char msg[32];
static size_t msg_len;
static int kdone;
static DECLARE_COMPLETION(never);

static int exit_pre(struct kprobe *p, struct pt_regs *regs)
{
	/* A process still has its mm at do_exit's entry; a kernel thread never has one. */
	pr_info("do_exit: %s %s/%d code 0x%lx%s\n", current->flags & PF_KTHREAD ? "kthread" : "process",
		current->comm, current->pid, regs->ax, !current->mm == !(current->flags & PF_KTHREAD) ? " (mm wrong)" : "");
	return 0;
}
static struct kprobe exit_probe = { .symbol_name = "do_exit", .pre_handler = exit_pre };

static ssize_t rv_read(struct file *f, char __user *buf, size_t n, loff_t *pos)
{
	pr_info("read: %s/%d sleeps%s\n", current->comm, current->pid, current->mm ? "" : " (no mm)");
	if (wait_event_interruptible(readers, msg_len > 0))
		return -ERESTARTSYS;
	if (n > msg_len)
		n = msg_len;
	if (copy_to_user(buf, msg, n))
		return -EFAULT;
	msg_len = 0;
	pr_info("read: %s/%d woke with %zu bytes\n", current->comm, current->pid, n);
	return n;
}

static ssize_t rv_write(struct file *f, const char __user *buf, size_t n, loff_t *pos)
{
	if (n > sizeof(msg))
		n = sizeof(msg);
	if (copy_from_user(msg, buf, n))
		return -EFAULT;
	msg_len = n;
	pr_info("write: %s/%d wakes the readers\n", current->comm, current->pid);
	wake_up_interruptible(&readers);
	return n;
}

static int waker(void *data)
{
	msleep(50);
	kdone = 1;
	pr_info("waker: %s/%d wakes the waiters\n", current->comm, current->pid);
	wake_up(&waiters);
	return 0;
}

static int upper(void *data)
{
	msleep(50);
	pr_info("upper: %s/%d ups the semaphore\n", current->comm, current->pid);
	up(&sem);
	return 0;
}

/* A kernel thread has no user address space: copying to a user pointer fails. */
static int poker(void *data)
{
	unsigned long left = copy_to_user((void __user *)data, "x", 1);
	pr_info("poker: copy_to_user from a kernel thread left %lu\n", left);
	kdone = 1;
	wake_up(&waiters);
	return 0;
}

static long rv_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct task_struct *t;
	switch (cmd) {
	case 1:
		kdone = 0;
		t = kthread_run(waker, NULL, "waker");
		if (IS_ERR(t))
			return PTR_ERR(t);
		pr_info("ioctl: %s/%d waits for %s/%d\n", current->comm, current->pid, t->comm, t->pid);
		wait_event(waiters, kdone);
		return t->pid;
	case 2:
		t = kthread_run(upper, NULL, "upper");
		if (IS_ERR(t))
			return PTR_ERR(t);
		if (down_interruptible(&sem))
			return -EINTR;
		return t->pid;
	case 3:
		msleep(arg);
		return 0;
	case 4:
		/* Nobody ups it: only a signal ends this sleep. */
		if (down_interruptible(&sem))
			return -EINTR;
		return 0;
	case 6:
		/* Returns the milliseconds left when a signal ends it. */
		return msleep_interruptible(arg);
	case 7:
		/* Nobody completes it: -ERESTARTSYS when a signal comes. */
		return wait_for_completion_interruptible(&never);
	case 5:
		kdone = 0;
		t = kthread_run(poker, (void *)arg, "poker");
		if (IS_ERR(t))
			return PTR_ERR(t);
		wait_event(waiters, kdone);
		return 0;
	}
	return -ENOTTY;
}

static const struct file_operations fops = { .owner = THIS_MODULE, .read = rv_read, .write = rv_write, .unlocked_ioctl = rv_ioctl };
static struct miscdevice dev = { .minor = MISC_DYNAMIC_MINOR, .name = "rendezvous", .fops = &fops };

static int __init rv_init(void)
{
	int r;
	sema_init(&sem, 0);
	r = register_kprobe(&exit_probe);
	if (r)
		return r;
	r = misc_register(&dev);
	if (r)
		unregister_kprobe(&exit_probe);
	return r;
}

static void __exit rv_exit(void)
{
	misc_deregister(&dev);
	unregister_kprobe(&exit_probe);
}

module_init(rv_init);
module_exit(rv_exit);
