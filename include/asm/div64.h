/*
 * <asm/div64.h>: do_div(n, base) divides the u64 lvalue n in place by a
 * 32-bit base and yields the remainder, with two DIVL as i386 does it.
 */
#ifndef _ASM_X86_DIV64_H
#define _ASM_X86_DIV64_H
#include <linux/types.h>

#define do_div(n, base) ({						\
	unsigned long __upper, __low, __high, __mod, __base;		\
	__base = (base);						\
	__upper = __high = (u32)((n) >> 32);				\
	__low = (u32)(n);						\
	if (__high) {							\
		__upper = __high % __base;				\
		__high = __high / __base;				\
	}								\
	__asm__("divl %2" : "=a"(__low), "=d"(__mod)			\
		: "rm"(__base), "0"(__low), "1"(__upper));		\
	(n) = ((u64)__high << 32) | __low;				\
	__mod;								\
})

#endif
