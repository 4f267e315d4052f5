/* A module that sleeps under a spinlock taken with <linux/spinlock.h>: Linux's report, and the module goes on. */
#include <linux/module.h>
#include <linux/spinlock.h>
#include <linux/delay.h>

MODULE_LICENSE("GPL");

static DEFINE_SPINLOCK(lock);

static int __init spin_sleep_init(void)
{
	unsigned long flags;
	spin_lock(&lock);
	msleep(10);
	spin_unlock(&lock);
	spin_lock_irqsave(&lock, flags);
	pr_info("preempt_count %d under spin_lock_irqsave\n", preempt_count());
	spin_unlock_irqrestore(&lock, flags);
	pr_info("preempt_count %d after\n", preempt_count());
	return 0;
}

module_init(spin_sleep_init);
