/*
 * tracer_helper.ko: kernel threads that make, on request, the calls the
 * tracer counts (as the course's test helper does). /dev/tracer_helper:
 * HELPER_CREATE makes n threads and returns their PIDs (they wait);
 * HELPER_RUN gives each its work and waits until all are done (they keep
 * waiting, so their rows stay in /proc/tracer); HELPER_STOP stops them.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/uaccess.h>
#include <linux/kthread.h>
#include <linux/semaphore.h>
#include <linux/mutex.h>
#include <linux/completion.h>
#include <linux/wait.h>
#include <linux/delay.h>
#include "helper.h"

MODULE_DESCRIPTION("Helper for the kprobe based tracer's tests");
MODULE_LICENSE("GPL");

static struct task_struct *threads[HELPER_MAX_THREADS];
static int nthreads;
static struct helper_work work;
static int generation;
static DECLARE_WAIT_QUEUE_HEAD(go);
static DECLARE_COMPLETION(done);
static struct semaphore sem;
static DEFINE_MUTEX(mtx);

static int helper_thread(void *data)
{
	int id = (int)(long)data, seen = 0, i;

	while (!kthread_should_stop()) {
		if (wait_event_interruptible(go, generation != seen || kthread_should_stop()))
			continue;
		if (kthread_should_stop())
			break;
		seen = generation;
		for (i = 0; i < work.kmallocs[id]; i++) {
			void *p = kmalloc(work.size[id], GFP_KERNEL);
			kfree(p);
		}
		for (i = 0; i < work.pairs[id]; i++) {
			if (down_interruptible(&sem))
				break;
			up(&sem);
		}
		for (i = 0; i < work.locks[id]; i++) {
			mutex_lock(&mtx);
			msleep(1);
			mutex_unlock(&mtx);
		}
		msleep(1);
		complete(&done);
	}
	return 0;
}

static void stop_all(void)
{
	int i;
	for (i = 0; i < nthreads; i++)
		kthread_stop(threads[i]);
	nthreads = 0;
}

static long helper_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct helper_threads t;
	int i;

	switch (cmd) {
	case HELPER_CREATE:
		if (copy_from_user(&t, (void __user *)arg, sizeof(t)))
			return -EFAULT;
		if (t.n < 1 || t.n > HELPER_MAX_THREADS || nthreads)
			return -EINVAL;
		for (i = 0; i < t.n; i++) {
			threads[i] = kthread_run(helper_thread, (void *)(long)i, "helper/%d", i);
			if (IS_ERR(threads[i]))
				return PTR_ERR(threads[i]);
			t.pids[i] = threads[i]->pid;
			nthreads++;
		}
		return copy_to_user((void __user *)arg, &t, sizeof(t)) ? -EFAULT : 0;
	case HELPER_RUN:
		if (copy_from_user(&work, (void __user *)arg, sizeof(work)))
			return -EFAULT;
		reinit_completion(&done);
		generation++;
		wake_up_interruptible_all(&go);
		for (i = 0; i < nthreads; i++)
			wait_for_completion(&done);
		return 0;
	case HELPER_STOP:
		stop_all();
		return 0;
	}
	return -ENOTTY;
}

static const struct file_operations helper_fops = { .owner = THIS_MODULE, .unlocked_ioctl = helper_ioctl };
static struct miscdevice helper_dev = { .minor = MISC_DYNAMIC_MINOR, .name = "tracer_helper", .fops = &helper_fops };

static int __init helper_init(void)
{
	sema_init(&sem, 1);
	return misc_register(&helper_dev);
}

static void __exit helper_exit(void)
{
	stop_all();
	misc_deregister(&helper_dev);
}

module_init(helper_init);
module_exit(helper_exit);
