/*
 * Stack reads in every kind of task that runs module code, for --stack
 * cpl1 with a program (test/linux/cpl1-program.test.ts): each command of
 * /dev/stack_tasks sums a three-field record on the stack.
 *
 *   TASKS_PROC_UNINIT     in the calling process; one field forgotten (a finding in proc_sum)
 *   TASKS_KTHREAD_UNINIT  in a kernel thread the call starts, waits for and stops; one field
 *                         forgotten (a finding in kthread_sum, on the thread's own stack)
 *   TASKS_PROC_SLEEP      in the calling process, the record filled, then msleep(), then summed:
 *                         clean — other tasks run on their own stacks meanwhile
 *   TASKS_KTHREAD_SLEEP   the same in a kernel thread: clean
 *
 * The reply is the sum (put_user); the uninitialized field is whatever the
 * stack held, so the programs print only what does not depend on it.
 */
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/uaccess.h>
#include <linux/ioctl.h>
#include <linux/kthread.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/err.h>

#define TASKS_PROC_UNINIT	_IOR('t', 1, int)
#define TASKS_KTHREAD_UNINIT	_IOR('t', 2, int)
#define TASKS_PROC_SLEEP	_IOR('t', 3, int)
#define TASKS_KTHREAD_SLEEP	_IOR('t', 4, int)

struct record {
	int a;
	int b;
	int c;
};

static noinline void fill(struct record *r, int seed)
{
	r->a = seed;
	r->b = seed + 1;
	r->c = seed + 2;
}

static noinline int proc_sum(const struct record *r)
{
	return r->a + r->b + r->c;
}

/* Each sum its own code (gcc -O2 would fold identical functions into one). */
static noinline int kthread_sum(const struct record *r)
{
	return r->a ^ r->b ^ r->c;
}

static noinline int sleep_sum(const struct record *r)
{
	return r->a * r->b - r->c;
}

/* The record with c never written. */
static noinline int proc_uninit(void)
{
	struct record r;

	r.a = 1;
	r.b = 2;
	return proc_sum(&r);
}

static noinline int kthread_uninit(void)
{
	struct record r;

	r.a = 3;
	r.b = 4;
	return kthread_sum(&r);
}

/* Filled, then the task sleeps (other tasks run), then summed: nothing to report. */
static noinline int filled_across_sleep(int seed)
{
	struct record r;

	fill(&r, seed);
	msleep(20);
	return sleep_sum(&r);
}

static DECLARE_COMPLETION(computed);
static int kthread_result;

static int worker(void *data)
{
	kthread_result = data ? filled_across_sleep(10) : kthread_uninit();
	complete(&computed);
	while (!kthread_should_stop())
		msleep(1);
	return 0;
}

static int in_kthread(int sleep)
{
	struct task_struct *t;

	reinit_completion(&computed);
	t = kthread_run(worker, sleep ? (void *)1 : NULL, "stack_tasks");
	if (IS_ERR(t))
		return PTR_ERR(t);
	wait_for_completion(&computed);
	kthread_stop(t);
	return kthread_result;
}

static long tasks_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	int v;

	switch (cmd) {
	case TASKS_PROC_UNINIT:
		v = proc_uninit();
		break;
	case TASKS_KTHREAD_UNINIT:
		v = in_kthread(0);
		break;
	case TASKS_PROC_SLEEP:
		v = filled_across_sleep(current->pid);
		break;
	case TASKS_KTHREAD_SLEEP:
		v = in_kthread(1);
		break;
	default:
		return -ENOTTY;
	}
	return put_user(v, (int __user *)arg);
}

static const struct file_operations tasks_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = tasks_ioctl,
};

static struct miscdevice tasks_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "stack_tasks",
	.fops = &tasks_fops,
};

module_misc_device(tasks_dev);
MODULE_LICENSE("GPL");
