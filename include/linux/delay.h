/*
 * <linux/delay.h>: sleeps and busy waits. msleep() sleeps at least
 * msecs_to_jiffies(ms) + 1 jiffies (HZ = 100), usleep_range() at least
 * `min` µs; the idle clock jumps ahead when every task sleeps. udelay()
 * and ndelay() busy-wait: time passes without instructions.
 */
#ifndef _LINUX_DELAY_H
#define _LINUX_DELAY_H
#include <linux/types.h>
#include <linux/sched.h>

void msleep(unsigned int msecs);
unsigned long msleep_interruptible(unsigned int msecs);
void usleep_range_state(unsigned long min, unsigned long max, unsigned int state);
static inline void usleep_range(unsigned long min, unsigned long max) { usleep_range_state(min, max, TASK_UNINTERRUPTIBLE); }
static inline void usleep_idle_range(unsigned long min, unsigned long max) { usleep_range_state(min, max, TASK_IDLE); }
static inline void ssleep(unsigned int seconds) { msleep(seconds * 1000); }
static inline void fsleep(unsigned long usecs)
{
	if (usecs <= 20000)
		usleep_range(usecs, 2 * usecs);
	else
		msleep((usecs + 999) / 1000);
}

void __udelay(unsigned long usecs);
void __ndelay(unsigned long nsecs);
void __const_udelay(unsigned long xloops);
#define udelay(n) __udelay(n)
#define ndelay(n) __ndelay(n)
#define mdelay(n) ({ unsigned long __ms = (n); while (__ms--) udelay(1000); })

#endif
