/*
 * Kernel stacks of every task that runs module code, for the three stack
 * checkers with a program: each ioctl of /dev/taskstk (./task-stacks.h)
 * runs on the kernel stack of the task that calls it — the first
 * process's (the boot stack), a forked process's own, a kernel thread's.
 * The lines the tests look for are marked `planted:`.
 *
 * --stack precise (test/linux/task-stacks.test.ts) and --stack cpl1
 * (test/linux/cpl1-program.test.ts): an uninitialized field of a local
 * record read through a pointer.
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
 *              sleeps, then sums the buffer: no finding;
 *  TS_NAP      fills a local record, msleep()s (other tasks run on their
 *              own stacks meanwhile), then sums it: no finding; the reply
 *              is pid * (pid + 1) - (pid + 2);
 *  TS_KTHREAD_NAP  the same in a kernel thread, seed 10 (10 * 11 - 12).
 *
 * --stack ftrace (test/linux/ftrace-system.test.ts): sample_sum() passes a
 * field of a local struct that fill() writes only for n > 100 to
 * account() — an uninitialized stack value reaching a traced function,
 * which ftrace's frame poisoning finds at account()'s entry.
 *  TS_PASS          in the calling process's system call;
 *  TS_PASS_KTHREAD  in a kernel thread, while the caller sleeps on a
 *                   completion.
 * Built with -DCLEAN every field of that struct is written: nothing to find.
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
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/err.h>
#include "task-stacks.h"

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
	return r->calls + r->zero + r->missing;	/* planted: rec_sum */
}

/* noipa: gcc would otherwise fold the uninitialized field into the caller. */
static noinline __attribute__((noipa)) int worker_sum(const struct rec *r)
{
	return r->calls + r->zero + r->missing;	/* planted: worker_sum */
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

/* TS_NAP: filled, then the task sleeps (other tasks run), then summed: nothing to report. */
struct record {
	int a;
	int b;
	int c;
};

static noinline void fill_record(struct record *r, int seed)
{
	r->a = seed;
	r->b = seed + 1;
	r->c = seed + 2;
}

static noinline int nap_sum(const struct record *r)
{
	return r->a * r->b - r->c;
}

static noinline int filled_across_sleep(int seed)
{
	struct record r;

	fill_record(&r, seed);
	msleep(20);
	return nap_sum(&r);
}

static DECLARE_COMPLETION(computed);
static int kthread_result;

static int napper(void *data)
{
	kthread_result = filled_across_sleep(10);
	complete(&computed);
	while (!kthread_should_stop())
		msleep(1);
	return 0;
}

/* TS_PASS: an uninitialized field passed on to a traced function. */
struct sample {
	int a;
	int b;
	int c;
	int history[8];
};

static noinline void fill(struct sample *s, int n)
{
	int i;

	for (i = 0; i < 8; i++)
		s->history[i] = n - i;
	s->a = n;
#ifndef CLEAN
	if (n > 100)
#endif
		s->b = 2 * n;
	s->c = 3;
}

static noinline int account(int a, int b, int c)
{	/* planted: account */
	return a + (b & 1) + c;
}

static noinline int sample_sum(int n)
{
	struct sample s;

	fill(&s, n);
	return account(s.a, s.b, s.c) + s.history[7];
}

static int sum_thread(void *data)
{
	kthread_result = sample_sum(7);	/* planted: sum_thread */
	complete(&computed);
	return 0;
}

/* A kernel thread runs fn and completes `computed` with kthread_result; stopped when `stop`. */
static int in_kthread(int (*fn)(void *), int stop)
{
	struct task_struct *t;

	reinit_completion(&computed);
	t = kthread_run(fn, NULL, "ts_kthread");
	if (IS_ERR(t))
		return PTR_ERR(t);
	wait_for_completion(&computed);
	if (stop)
		kthread_stop(t);
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
	case TS_NAP:
		return put_user(filled_across_sleep(current->pid), (int __user *)arg);
	case TS_KTHREAD_NAP:
		total = in_kthread(napper, 1);
		return total ? total : put_user(kthread_result, (int __user *)arg);
	case TS_PASS:
		total = sample_sum(5);	/* planted: ts_ioctl */
		return put_user(total, (int __user *)arg);
	case TS_PASS_KTHREAD:
		total = in_kthread(sum_thread, 0);
		return total ? total : put_user(kthread_result, (int __user *)arg);
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
