/*
 * Kernel threads that block and wake one another: a semaphore ping-pong,
 * a mutex held across a sleep by four threads, a wait queue between a
 * producer and a consumer, a completion, kthread_stop() return values.
 */
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/semaphore.h>
#include <linux/mutex.h>
#include <linux/wait.h>
#include <linux/completion.h>
#include <linux/delay.h>

#define ROUNDS 100

static struct semaphore ping, pong;
static DEFINE_MUTEX(lock);
static DECLARE_WAIT_QUEUE_HEAD(wq);
static DECLARE_COMPLETION(done);
static int counter, in_section, max_in_section, produced, consumed;

static int pinger(void *data)
{
	int i;
	for (i = 0; i < ROUNDS; i++) {
		if (down_interruptible(&ping))
			return -1;
		up(&pong);
	}
	return 100 + (int)(long)data;
}

static int ponger(void *data)
{
	int i;
	for (i = 0; i < ROUNDS; i++) {
		up(&ping);
		down(&pong);
	}
	return 200;
}

static int locker(void *data)
{
	int i;
	for (i = 0; i < 5; i++) {
		mutex_lock(&lock);
		in_section++;
		if (in_section > max_in_section)
			max_in_section = in_section;
		msleep(1);
		counter++;
		in_section--;
		mutex_unlock(&lock);
	}
	while (!kthread_should_stop())
		msleep(10);
	return current->pid;
}

static int producer(void *data)
{
	int i;
	for (i = 0; i < 10; i++) {
		produced++;
		wake_up_interruptible(&wq);
		usleep_range(500, 1000);
	}
	complete(&done);
	return 0;
}

static int consumer(void *data)
{
	while (consumed < 10) {
		if (wait_event_interruptible(wq, produced > consumed))
			return -1;
		consumed++;
	}
	return consumed;
}

int init_module(void)
{
	struct task_struct *a, *b, *l[4], *p, *c;
	int i, sum = 0;

	sema_init(&ping, 0);
	sema_init(&pong, 0);
	a = kthread_run(pinger, (void *)7, "pinger");
	b = kthread_run(ponger, NULL, "ponger");
	for (i = 0; i < 4; i++)
		l[i] = kthread_run(locker, NULL, "locker/%d", i);
	c = kthread_run(consumer, NULL, "consumer");
	p = kthread_run(producer, NULL, "producer");
	printk("started: %s/%d %s/%d %s/%d %s/%d\n", a->comm, a->pid, b->comm, b->pid, l[3]->comm, l[3]->pid, p->comm, p->pid);

	wait_for_completion(&done);
	printk("producer done: produced %d, consumed %d\n", produced, consumed);
	printk("kthread_stop: pinger %d, ponger %d\n", kthread_stop(a), kthread_stop(b));
	for (i = 0; i < 4; i++)
		sum += kthread_stop(l[i]);
	printk("lockers: counter %d, at most %d in the section, pids sum %d\n", counter, max_in_section, sum);
	printk("consumer %d, producer %d\n", kthread_stop(c), kthread_stop(p));
	return 0;
}

void cleanup_module(void)
{
}
