/*
 * --stack ftrace over a program and its module (test/linux/ftrace-system.test.ts):
 * sample_sum() passes a field of a local struct that fill() writes only for
 * n > 100 to account() — an uninitialized stack value reaching a traced
 * function, which ftrace's frame poisoning finds at account()'s entry.
 * FT_SUM runs it in the calling process's system call, on that process's
 * kernel stack; FT_THREAD in a kernel thread, on the thread's own stack,
 * while the caller sleeps on a completion. Built with -DCLEAN every field is
 * written: nothing to find.
 */
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/uaccess.h>
#include <linux/ioctl.h>
#include <linux/kthread.h>
#include <linux/completion.h>

#define FT_SUM _IOR('f', 1, int)
#define FT_THREAD _IOR('f', 2, int)

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
{
	return a + (b & 1) + c;
}

static noinline int sample_sum(int n)
{
	struct sample s;

	fill(&s, n);
	return account(s.a, s.b, s.c) + s.history[7];
}

static DECLARE_COMPLETION(done);
static int thread_result;

static int sum_thread(void *data)
{
	thread_result = sample_sum(7);
	complete(&done);
	return 0;
}

static long ft_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	int total;

	switch (cmd) {
	case FT_SUM:
		total = sample_sum(5);
		break;
	case FT_THREAD:
		reinit_completion(&done);
		if (IS_ERR(kthread_run(sum_thread, NULL, "ftsum")))
			return -ENOMEM;
		wait_for_completion(&done);
		total = thread_result;
		break;
	default:
		return -ENOTTY;
	}
	return put_user(total, (int __user *)arg);
}

static const struct file_operations ft_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = ft_ioctl,
};

static struct miscdevice ft_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "ftsum",
	.fops = &ft_fops,
};

module_misc_device(ft_dev);
MODULE_LICENSE("GPL");
