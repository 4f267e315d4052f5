/*
 * <linux/timekeeping.h>: the kernel's clocks, read from the deterministic
 * clock of kmemsim's kernel (src/linux/clock.ts): CLOCK_MONOTONIC counts
 * from boot (one second per 100 M instructions, plus idle time skipped),
 * CLOCK_REALTIME starts at 2008-04-04 00:00:00 UTC.
 */
#ifndef _LINUX_TIMEKEEPING_H
#define _LINUX_TIMEKEEPING_H
#include <linux/types.h>
#include <linux/time64.h>

ktime_t ktime_get(void);
ktime_t ktime_get_real(void);
ktime_t ktime_get_boottime(void);
ktime_t ktime_get_raw(void);
time64_t ktime_get_seconds(void);
time64_t ktime_get_real_seconds(void);
void ktime_get_ts64(struct timespec64 *ts);
void ktime_get_real_ts64(struct timespec64 *ts);
static inline u64 ktime_get_ns(void) { return ktime_get(); }
static inline u64 ktime_get_real_ns(void) { return ktime_get_real(); }
static inline u64 ktime_get_boottime_ns(void) { return ktime_get_boottime(); }
static inline u64 ktime_get_raw_ns(void) { return ktime_get_raw(); }
#define ktime_get_mono_fast_ns ktime_get_ns
#define ktime_get_boot_fast_ns ktime_get_boottime_ns
#define ktime_get_clocktai ktime_get_real
#define getnstimeofday64 ktime_get_real_ts64
#define ktime_get_boottime_ts64 ktime_get_ts64

#endif
