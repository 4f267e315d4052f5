/* A module that forgets to stop its kernel thread; and timeouts that run out. */
#include <linux/kthread.h>
#include <linux/delay.h>
#include <linux/semaphore.h>

static int forever(void *data)
{
	while (!kthread_should_stop())
		msleep(100);
	return 0;
}

static struct semaphore sem;

int init_module(void)
{
	long left;
	sema_init(&sem, 0);
	printk("down_timeout: %d\n", down_timeout(&sem, 5));
	set_current_state(TASK_INTERRUPTIBLE);
	left = schedule_timeout(3);
	printk("schedule_timeout(3) left %ld\n", left);
	kthread_run(forever, NULL, "forever");
	return 0;
}

void cleanup_module(void)
{
}
