/*
 * <linux/atomic.h>: atomic_t, atomic_long_t (the same on i386) and
 * atomic64_t, with the LOCK-prefixed instructions of arch/x86's atomic.h
 * (atomic64 with interrupts off: correct on the uniprocessor kernel).
 */
#ifndef _LINUX_ATOMIC_H
#define _LINUX_ATOMIC_H
#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/irqflags.h>

static __always_inline int atomic_read(const atomic_t *v) { return READ_ONCE(v->counter); }
static __always_inline void atomic_set(atomic_t *v, int i) { WRITE_ONCE(v->counter, i); }

static __always_inline void atomic_add(int i, atomic_t *v)
{
	__asm__ __volatile__("lock; addl %1,%0" : "+m"(v->counter) : "ir"(i) : "memory");
}

static __always_inline void atomic_sub(int i, atomic_t *v)
{
	__asm__ __volatile__("lock; subl %1,%0" : "+m"(v->counter) : "ir"(i) : "memory");
}

static __always_inline void atomic_inc(atomic_t *v) { __asm__ __volatile__("lock; incl %0" : "+m"(v->counter) : : "memory"); }
static __always_inline void atomic_dec(atomic_t *v) { __asm__ __volatile__("lock; decl %0" : "+m"(v->counter) : : "memory"); }

static __always_inline int atomic_fetch_add(int i, atomic_t *v)
{
	__asm__ __volatile__("lock; xaddl %0,%1" : "+r"(i), "+m"(v->counter) : : "memory");
	return i;
}

static __always_inline int atomic_add_return(int i, atomic_t *v) { return i + atomic_fetch_add(i, v); }
static __always_inline int atomic_sub_return(int i, atomic_t *v) { return atomic_add_return(-i, v); }
static __always_inline int atomic_fetch_sub(int i, atomic_t *v) { return atomic_fetch_add(-i, v); }
static __always_inline int atomic_inc_return(atomic_t *v) { return atomic_add_return(1, v); }
static __always_inline int atomic_dec_return(atomic_t *v) { return atomic_sub_return(1, v); }
static __always_inline int atomic_fetch_inc(atomic_t *v) { return atomic_fetch_add(1, v); }
static __always_inline int atomic_fetch_dec(atomic_t *v) { return atomic_fetch_sub(1, v); }
static __always_inline bool atomic_sub_and_test(int i, atomic_t *v) { return atomic_sub_return(i, v) == 0; }
static __always_inline bool atomic_dec_and_test(atomic_t *v) { return atomic_dec_return(v) == 0; }
static __always_inline bool atomic_inc_and_test(atomic_t *v) { return atomic_inc_return(v) == 0; }
static __always_inline bool atomic_add_negative(int i, atomic_t *v) { return atomic_add_return(i, v) < 0; }

static __always_inline int atomic_xchg(atomic_t *v, int new)
{
	__asm__ __volatile__("xchgl %0,%1" : "+r"(new), "+m"(v->counter) : : "memory");
	return new;
}

static __always_inline int atomic_cmpxchg(atomic_t *v, int old, int new)
{
	int prev;

	__asm__ __volatile__("lock; cmpxchgl %2,%1" : "=a"(prev), "+m"(v->counter) : "r"(new), "0"(old) : "memory");
	return prev;
}

static __always_inline bool atomic_try_cmpxchg(atomic_t *v, int *old, int new)
{
	int r = atomic_cmpxchg(v, *old, new);
	bool ok = r == *old;

	*old = r;
	return ok;
}

static __always_inline int atomic_fetch_add_unless(atomic_t *v, int a, int u)
{
	int c = atomic_read(v);

	do {
		if (unlikely(c == u))
			break;
	} while (!atomic_try_cmpxchg(v, &c, c + a));
	return c;
}

static __always_inline bool atomic_add_unless(atomic_t *v, int a, int u) { return atomic_fetch_add_unless(v, a, u) != u; }
#define atomic_inc_not_zero(v) atomic_add_unless((v), 1, 0)

static __always_inline void atomic_and(int i, atomic_t *v) { __asm__ __volatile__("lock; andl %1,%0" : "+m"(v->counter) : "ir"(i) : "memory"); }
static __always_inline void atomic_or(int i, atomic_t *v) { __asm__ __volatile__("lock; orl %1,%0" : "+m"(v->counter) : "ir"(i) : "memory"); }
static __always_inline void atomic_xor(int i, atomic_t *v) { __asm__ __volatile__("lock; xorl %1,%0" : "+m"(v->counter) : "ir"(i) : "memory"); }

/* atomic_long_t is atomic_t on a 32-bit kernel. */
#define atomic_long_read(v) atomic_read((atomic_t *)(v))
#define atomic_long_set(v, i) atomic_set((atomic_t *)(v), (i))
#define atomic_long_add(i, v) atomic_add((i), (atomic_t *)(v))
#define atomic_long_sub(i, v) atomic_sub((i), (atomic_t *)(v))
#define atomic_long_inc(v) atomic_inc((atomic_t *)(v))
#define atomic_long_dec(v) atomic_dec((atomic_t *)(v))
#define atomic_long_add_return(i, v) atomic_add_return((i), (atomic_t *)(v))
#define atomic_long_sub_return(i, v) atomic_sub_return((i), (atomic_t *)(v))
#define atomic_long_inc_return(v) atomic_inc_return((atomic_t *)(v))
#define atomic_long_dec_return(v) atomic_dec_return((atomic_t *)(v))
#define atomic_long_dec_and_test(v) atomic_dec_and_test((atomic_t *)(v))
#define atomic_long_xchg(v, n) atomic_xchg((atomic_t *)(v), (n))
#define atomic_long_cmpxchg(v, o, n) atomic_cmpxchg((atomic_t *)(v), (o), (n))

static inline s64 atomic64_read(const atomic64_t *v)
{
	unsigned long flags;
	s64 r;

	local_irq_save(flags);
	r = v->counter;
	local_irq_restore(flags);
	return r;
}

static inline void atomic64_set(atomic64_t *v, s64 i)
{
	unsigned long flags;

	local_irq_save(flags);
	v->counter = i;
	local_irq_restore(flags);
}

static inline s64 atomic64_add_return(s64 i, atomic64_t *v)
{
	unsigned long flags;
	s64 r;

	local_irq_save(flags);
	r = v->counter += i;
	local_irq_restore(flags);
	return r;
}

static inline s64 atomic64_xchg(atomic64_t *v, s64 n)
{
	unsigned long flags;
	s64 r;

	local_irq_save(flags);
	r = v->counter;
	v->counter = n;
	local_irq_restore(flags);
	return r;
}

#define atomic64_add(i, v) ((void)atomic64_add_return((i), (v)))
#define atomic64_sub(i, v) ((void)atomic64_add_return(-(s64)(i), (v)))
#define atomic64_sub_return(i, v) atomic64_add_return(-(s64)(i), (v))
#define atomic64_inc(v) atomic64_add(1, (v))
#define atomic64_dec(v) atomic64_sub(1, (v))
#define atomic64_inc_return(v) atomic64_add_return(1, (v))
#define atomic64_dec_return(v) atomic64_sub_return(1, (v))
#define atomic64_dec_and_test(v) (atomic64_dec_return(v) == 0)

#define smp_mb() barrier()
#define smp_rmb() barrier()
#define smp_wmb() barrier()
#define smp_mb__before_atomic() barrier()
#define smp_mb__after_atomic() barrier()
#define smp_load_acquire(p) ({ typeof(*(p)) ___p1 = READ_ONCE(*(p)); barrier(); ___p1; })
#define smp_store_release(p, v) do { barrier(); WRITE_ONCE(*(p), (v)); } while (0)

#endif
