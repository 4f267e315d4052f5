/*
 * <linux/jiffies.h>: the tick count at HZ = 100, from the kernel's
 * deterministic clock (100 M instructions a second), starting at
 * INITIAL_JIFFIES (five minutes before wrap-around) as Linux's. jiffies is
 * read through get_jiffies_64(), since the counter is the clock's rather
 * than a variable the timer interrupt increments.
 */
#ifndef _LINUX_JIFFIES_H
#define _LINUX_JIFFIES_H
#include <linux/types.h>
#include <linux/limits.h>

#define HZ 100
#define USER_HZ 100
#define INITIAL_JIFFIES ((unsigned long)(unsigned int)(-300 * HZ))
#define MAX_JIFFY_OFFSET ((LONG_MAX >> 1) - 1)
#define MSEC_PER_SEC 1000L
#define USEC_PER_MSEC 1000L
#define NSEC_PER_USEC 1000L
#define NSEC_PER_MSEC 1000000L
#define USEC_PER_SEC 1000000L
#define NSEC_PER_SEC 1000000000L
#define TICK_NSEC (NSEC_PER_SEC / HZ)

u64 get_jiffies_64(void);
#define jiffies ((unsigned long)get_jiffies_64())
#define jiffies_64 get_jiffies_64()

#define time_after(a, b) ((long)((b) - (a)) < 0)
#define time_before(a, b) time_after(b, a)
#define time_after_eq(a, b) ((long)((a) - (b)) >= 0)
#define time_before_eq(a, b) time_after_eq(b, a)
#define time_in_range(a, b, c) (time_after_eq(a, b) && time_before_eq(a, c))
#define time_after64(a, b) ((s64)((b) - (a)) < 0)
#define time_before64(a, b) time_after64(b, a)
#define time_is_before_jiffies(a) time_after(jiffies, a)
#define time_is_after_jiffies(a) time_before(jiffies, a)

static inline unsigned int jiffies_to_msecs(const unsigned long j) { return (MSEC_PER_SEC / HZ) * j; }
static inline unsigned int jiffies_to_usecs(const unsigned long j) { return (USEC_PER_SEC / HZ) * j; }
static inline u64 jiffies_to_nsecs(const unsigned long j) { return (u64)j * TICK_NSEC; }
static inline unsigned long msecs_to_jiffies(const unsigned int m)
{
	if ((int)m < 0)
		return MAX_JIFFY_OFFSET;
	return (m + (MSEC_PER_SEC / HZ) - 1) / (MSEC_PER_SEC / HZ);
}
static inline unsigned long usecs_to_jiffies(const unsigned int u)
{
	return (u + (USEC_PER_SEC / HZ) - 1) / (USEC_PER_SEC / HZ);
}
#define jiffies_to_clock_t(x) ((clock_t)(x))

#endif
