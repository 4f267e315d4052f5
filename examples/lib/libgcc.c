/*
 * examples/lib/libgcc.c — the libgcc routines gcc -m32 calls for 64-bit
 * division (there is no 32-bit libgcc on a host without multilib, and the
 * guests link with -nostdlib anyway): __udivdi3, __umoddi3, __divdi3,
 * __moddi3, __udivmoddi4, __divmoddi4 (the last two since gcc 7, e.g. at -Os).
 *
 * Divisors that fit in 32 bits use two DIVL instructions (long division in
 * base 2^32); larger divisors use shift-and-subtract, at most 32 steps since
 * the quotient then fits in 32 bits. Everything here is 32-bit arithmetic or
 * 64-bit shifts, adds and compares, which gcc open-codes, so these
 * functions never call themselves.
 */
#include <stdint.h>

uint64_t __udivmoddi4(uint64_t n, uint64_t d, uint64_t *rem);
uint64_t __udivdi3(uint64_t n, uint64_t d);
uint64_t __umoddi3(uint64_t n, uint64_t d);
int64_t __divdi3(int64_t n, int64_t d);
int64_t __moddi3(int64_t n, int64_t d);
int64_t __divmoddi4(int64_t n, int64_t d, int64_t *rem);

/* (hi:lo) / d with hi < d: one DIVL. */
static inline uint32_t divl(uint32_t hi, uint32_t lo, uint32_t d, uint32_t *r)
{
	uint32_t q, rr;
	__asm__("divl %4" : "=a"(q), "=d"(rr) : "a"(lo), "d"(hi), "rm"(d));
	*r = rr;
	return q;
}

uint64_t __udivmoddi4(uint64_t n, uint64_t d, uint64_t *rem)
{
	uint32_t nh = (uint32_t)(n >> 32), nl = (uint32_t)n;
	uint32_t dh = (uint32_t)(d >> 32), dl = (uint32_t)d;
	uint64_t q;

	if (dh == 0) {
		if (dl == 0) {
			/* Divide by zero: raise #DE like the hardware would. */
			volatile uint32_t zero = 0;
			if (rem)
				*rem = 0;
			return nl / zero;
		}
		uint32_t r, qh = 0;
		if (nh >= dl) {
			qh = nh / dl;
			nh = nh % dl;
		}
		uint32_t ql = divl(nh, nl, dl, &r);
		q = ((uint64_t)qh << 32) | ql;
		if (rem)
			*rem = r;
		return q;
	}
	if (d > n) {
		if (rem)
			*rem = n;
		return 0;
	}
	/* d >= 2^32: align d's top bit with n's, then subtract down. */
	int shift = __builtin_clz(dh) - __builtin_clz(nh);
	uint64_t dd = d << shift;
	uint32_t qq = 0;
	for (int i = 0; i <= shift; i++) {
		qq <<= 1;
		if (n >= dd) {
			n -= dd;
			qq |= 1;
		}
		dd >>= 1;
	}
	if (rem)
		*rem = n;
	return qq;
}

uint64_t __udivdi3(uint64_t n, uint64_t d)
{
	return __udivmoddi4(n, d, 0);
}

uint64_t __umoddi3(uint64_t n, uint64_t d)
{
	uint64_t r;
	__udivmoddi4(n, d, &r);
	return r;
}

int64_t __divdi3(int64_t n, int64_t d)
{
	int neg = (n < 0) != (d < 0);
	uint64_t un = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
	uint64_t ud = d < 0 ? 0 - (uint64_t)d : (uint64_t)d;
	uint64_t q = __udivmoddi4(un, ud, 0);
	return neg ? (int64_t)(0 - q) : (int64_t)q;
}

int64_t __moddi3(int64_t n, int64_t d)
{
	uint64_t un = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
	uint64_t ud = d < 0 ? 0 - (uint64_t)d : (uint64_t)d;
	uint64_t r;
	__udivmoddi4(un, ud, &r);
	return n < 0 ? (int64_t)(0 - r) : (int64_t)r;
}

int64_t __divmoddi4(int64_t n, int64_t d, int64_t *rem)
{
	int64_t q = __divdi3(n, d);
	if (rem)
		*rem = n - q * d;
	return q;
}
