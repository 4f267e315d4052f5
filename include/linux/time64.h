/* <linux/time64.h>: struct timespec64. */
#ifndef _LINUX_TIME64_H
#define _LINUX_TIME64_H
#include <linux/types.h>
#include <linux/jiffies.h>
struct timespec64 {
	time64_t tv_sec;
	long tv_nsec;
};
#define KTIME_MAX ((s64)~((u64)1 << 63))
#define KTIME_SEC_MAX (KTIME_MAX / NSEC_PER_SEC)
#endif
