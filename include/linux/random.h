/*
 * <linux/random.h>: random bytes from the kernel's deterministic stream
 * (the same one /dev/urandom reads: same input, same run).
 */
#ifndef _LINUX_RANDOM_H
#define _LINUX_RANDOM_H
#include <linux/types.h>

void get_random_bytes(void *buf, size_t len);
u32 get_random_u32(void);
u64 get_random_u64(void);
static inline u8 get_random_u8(void) { return (u8)get_random_u32(); }
static inline u16 get_random_u16(void) { return (u16)get_random_u32(); }
static inline unsigned long get_random_long(void) { return get_random_u32(); }
static inline unsigned int get_random_int(void) { return get_random_u32(); }
static inline u32 prandom_u32(void) { return get_random_u32(); }
static inline void prandom_bytes(void *buf, size_t nbytes) { get_random_bytes(buf, nbytes); }
/* A value in [0, ceil): Lemire's multiply-shift, as Linux 6.2's get_random_u32_below(). */
static inline u32 get_random_u32_below(u32 ceil) { return (u32)(((u64)get_random_u32() * ceil) >> 32); }
#define prandom_u32_max get_random_u32_below
static inline u32 get_random_u32_inclusive(u32 floor, u32 ceil) { return floor + get_random_u32_below(ceil - floor + 1); }

#endif
