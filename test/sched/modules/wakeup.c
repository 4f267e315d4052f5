/*
 * Wake-up preemption between kernel threads (test/sched/wakeup-preempt.test.ts):
 * "sleeper" waits on a wait queue; "waker" computes for a while (more than
 * the wakeup granularity, less than a tick), wakes it, and calls
 * cond_resched() — the preemption point where the sleeper, far behind in
 * vruntime, runs before the waker goes on.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/wait.h>
#include <linux/sched.h>

MODULE_LICENSE("GPL");

static DECLARE_WAIT_QUEUE_HEAD(wq);
static int ready;

static int sleeper(void *data)
{
	pr_info("sleeper: waits\n");
	wait_event(wq, ready);
	pr_info("sleeper: woke\n");
	return 0;
}

static int waker(void *data)
{
	volatile unsigned long x = 0;
	int i;

	for (i = 0; i < 100000; i++)
		x += i;
	ready = 1;
	wake_up(&wq);
	pr_info("waker: woke the sleeper\n");
	cond_resched();
	pr_info("waker: after cond_resched\n");
	return 0;
}

static int __init wakeup_init(void)
{
	kthread_run(sleeper, NULL, "sleeper");
	kthread_run(waker, NULL, "waker");
	return 0;
}

static void __exit wakeup_exit(void)
{
}

module_init(wakeup_init);
module_exit(wakeup_exit);
