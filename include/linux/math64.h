/*
 * <linux/math64.h> and <asm/div64.h>: 64-bit division on i386 without
 * libgcc's __udivdi3 (which the kernel does not export, as in Linux).
 */
#ifndef _LINUX_MATH64_H
#define _LINUX_MATH64_H
#include <linux/types.h>
#include <asm/div64.h>

static inline u64 div_u64_rem(u64 dividend, u32 divisor, u32 *remainder)
{
	*remainder = do_div(dividend, divisor);
	return dividend;
}

static inline u64 div_u64(u64 dividend, u32 divisor)
{
	u32 remainder;
	return div_u64_rem(dividend, divisor, &remainder);
}

static inline s64 div_s64(s64 dividend, s32 divisor)
{
	bool neg = (dividend < 0) != (divisor < 0);
	u64 q = div_u64(dividend < 0 ? -(u64)dividend : (u64)dividend, divisor < 0 ? -(u32)divisor : (u32)divisor);
	return neg ? -(s64)q : (s64)q;
}

#endif
