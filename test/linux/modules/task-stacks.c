/*
 * Kernel stacks of every task under --stack precise (issue 11): each
 * ioctl runs on the kernel stack of the task that calls it — the first
 * process's (the boot stack), a forked process's own, a kernel thread's.
 *
 *  TS_UNINIT   sums a local record with one field never set: an
 *              uninitialized stack read in rec_sum() (the planted bug);
 *  TS_KTHREAD  starts a kernel thread that makes the same mistake in
 *              worker_sum() on its own stack, and waits for it;
 *  TS_SLEEP    fills a local array, sleeps on a wait queue until TS_WAKE,
 *              then sums its own (live, initialized) array: no finding;
 *  TS_WAKE     waits until a task sleeps in TS_SLEEP, runs deep frames on
 *              its own stack, then wakes the sleeper;
 *  TS_STACK    returns current->stack (which pages this task's stack is);
 *  TS_REMOTE   has a kernel thread fill a buffer on the caller's stack
 *              (snprintf, a native kernel routine) while the caller
 *              sleeps, then sums the buffer: no finding.
 *
 * Built with -DKTHREAD_AT_INIT, the module's init runs the TS_KTHREAD
 * scenario itself (a module run: `kmemsim run task-stacks.c --stack precise`).
 */
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/uaccess.h>
#include <linux/ioctl.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/wait.h>

#define TS_UNINIT	_IOR('t', 1, int)
#define TS_KTHREAD	_IO('t', 2)
#define TS_SLEEP	_IOR('t', 3, int)
#define TS_WAKE		_IO('t', 4)
#define TS_STACK	_IOR('t', 5, unsigned long)
#define TS_REMOTE	_IOR('t', 6, int)

struct rec {
	int calls;
	int zero;
	int missing;	/* never set: the bug */
};

static int calls;
static DECLARE_WAIT_QUEUE_HEAD(wq);
#ifdef KTHREAD_AT_INIT
static const int kthread_at_init = 1;
#else
static const int kthread_at_init;
#endif
static int sleeping, woken, worker_done, worker_total;

static noinline int rec_sum(const struct rec *r)
{
	return r->calls + r->zero + r->missing;
}

/* noipa: gcc would otherwise fold the uninitialized field into the caller. */
static noinline __attribute__((noipa)) int worker_sum(const struct rec *r)
{
	return r->calls + r->zero + r->missing;
}

static int worker(void *data)
{
	struct rec local;

	local.calls = ++calls;
	local.zero = 0;
	worker_total = worker_sum(&local);
	worker_done = 1;
	wake_up(&wq);
	return 0;
}

static noinline int sum_live(const int *v, int n)
{
	int i, s = 0;

	for (i = 0; i < n; i++)
		s += v[i];
	return s;
}

/* Deep frames on the caller's stack: every byte of each written before it is read. */
static noinline int deep(int depth)
{
	volatile int frame[32];
	int i, s = 0;

	for (i = 0; i < 32; i++)
		frame[i] = depth + i;
	for (i = 0; i < 32; i++)
		s += frame[i];
	return depth > 0 ? s + deep(depth - 1) : s;
}

/* Another task's stack written by a native routine on this task's behalf. */
static int remote_fill(void *data)
{
	snprintf(data, 12, "from %s", "worker");
	worker_done = 1;
	wake_up(&wq);
	return 0;
}

static noinline int sum_bytes(const char *b, int n)
{
	int i, s = 0;

	for (i = 0; i < n; i++)
		s += b[i];
	return s;
}

/* A kernel thread runs fn(data); wait for it. */
static int run_worker(int (*fn)(void *), void *data)
{
	struct task_struct *t;

	worker_done = 0;
	t = kthread_run(fn, data, "ts_worker");
	if (IS_ERR(t))
		return PTR_ERR(t);
	wait_event(wq, worker_done);
	return 0;
}

static long ts_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct rec local;
	int mine[8], i, total;
	char buf[12];

	switch (cmd) {
	case TS_UNINIT:
		local.calls = ++calls;
		local.zero = 0;
		total = rec_sum(&local);
		return put_user(total, (int __user *)arg);
	case TS_KTHREAD:
		return run_worker(worker, NULL);
	case TS_REMOTE:
		total = run_worker(remote_fill, buf);
		return total ? total : put_user(sum_bytes(buf, 12), (int __user *)arg);
	case TS_SLEEP:
		for (i = 0; i < 8; i++)
			mine[i] = i + 1;
		sleeping = 1;
		wake_up(&wq);
		if (wait_event_interruptible(wq, woken))
			return -ERESTARTSYS;
		woken = 0;
		return put_user(sum_live(mine, 8), (int __user *)arg);
	case TS_WAKE:
		wait_event(wq, sleeping);
		sleeping = 0;
		total = deep(8);
		woken = 1;
		wake_up(&wq);
		return total > 0 ? 0 : -EINVAL;
	case TS_STACK:
		return put_user((unsigned long)current->stack, (unsigned long __user *)arg);
	}
	return -ENOTTY;
}

static const struct file_operations ts_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = ts_ioctl,
};

static struct miscdevice ts_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "taskstk",
	.fops = &ts_fops,
};

static int __init ts_init(void)
{
	int err = misc_register(&ts_dev);

	if (err || !kthread_at_init)
		return err;
	run_worker(worker, NULL);
	pr_info("task_stacks: worker returned %d\n", worker_total);
	return 0;
}

static void __exit ts_exit(void)
{
	misc_deregister(&ts_dev);
}

module_init(ts_init);
module_exit(ts_exit);
MODULE_LICENSE("GPL");
