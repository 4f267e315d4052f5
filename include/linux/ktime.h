/* <linux/ktime.h>: ktime_t (nanoseconds as s64) and its arithmetic. */
#ifndef _LINUX_KTIME_H
#define _LINUX_KTIME_H
#include <linux/types.h>
#include <linux/time64.h>
#include <linux/math64.h>
#define ktime_sub(a, b) ((a) - (b))
#define ktime_add(a, b) ((a) + (b))
#define ktime_add_ns(kt, nsval) ((kt) + (nsval))
#define ktime_sub_ns(kt, nsval) ((kt) - (nsval))
#define ktime_compare(a, b) ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)
#define ktime_after(a, b) ((a) > (b))
#define ktime_before(a, b) ((a) < (b))
static inline s64 ktime_to_ns(const ktime_t kt) { return kt; }
static inline ktime_t ns_to_ktime(u64 ns) { return ns; }
static inline ktime_t ms_to_ktime(u64 ms) { return ms * NSEC_PER_MSEC; }
static inline s64 ktime_to_us(const ktime_t kt) { return div_s64(kt, NSEC_PER_USEC); }
static inline s64 ktime_to_ms(const ktime_t kt) { return div_s64(kt, NSEC_PER_MSEC); }
static inline s64 ktime_us_delta(const ktime_t later, const ktime_t earlier) { return ktime_to_us(later - earlier); }
static inline s64 ktime_ms_delta(const ktime_t later, const ktime_t earlier) { return ktime_to_ms(later - earlier); }
static inline ktime_t ktime_set(const s64 secs, const unsigned long nsecs) { return secs * NSEC_PER_SEC + (s64)nsecs; }
static inline struct timespec64 ns_to_timespec64(s64 nsec)
{
	struct timespec64 ts;
	u32 rem;

	ts.tv_sec = div_u64_rem((u64)nsec, NSEC_PER_SEC, &rem);
	ts.tv_nsec = rem;
	return ts;
}
#define ktime_to_timespec64(kt) ns_to_timespec64((kt))
#include <linux/timekeeping.h>
#endif
