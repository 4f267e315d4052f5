/*
 * <linux/compiler.h> (with compiler_types.h and compiler_attributes.h):
 * sparse's address-space markers (no-ops for gcc, as in Linux), attribute
 * shorthands, READ_ONCE()/WRITE_ONCE().
 */
#ifndef _LINUX_COMPILER_H
#define _LINUX_COMPILER_H

#define __user
#define __kernel
#define __iomem
#define __rcu
#define __percpu
#define __force
#define __bitwise
#define __safe
#define __must_hold(x)
#define __acquires(x)
#define __releases(x)
#define __acquire(x) (void)0
#define __release(x) (void)0
#define __cond_lock(x, c) (c)

#define __always_inline inline __attribute__((__always_inline__))
#define noinline __attribute__((__noinline__))
#define __must_check __attribute__((__warn_unused_result__))
#define __cold __attribute__((__cold__))
#define __pure __attribute__((__pure__))
#define __weak __attribute__((__weak__))
#define __visible __attribute__((__externally_visible__))
#define __section(s) __attribute__((__section__(s)))
#define __always_unused __attribute__((__unused__))
#define __read_mostly
#define __cacheline_aligned __attribute__((__aligned__(32)))
#define ____cacheline_aligned __cacheline_aligned
#define __randomize_layout
#define __no_randomize_layout
#define notrace __attribute__((__no_instrument_function__))
#define __nocfi
#define fallthrough __attribute__((__fallthrough__))
#define __stringify_1(x...) #x
#define __stringify(x...) __stringify_1(x)
#define ___PASTE(a, b) a##b
#define __PASTE(a, b) ___PASTE(a, b)
#define __UNIQUE_ID(prefix) __PASTE(__PASTE(__UNIQUE_ID_, prefix), __COUNTER__)
#define unreachable() __builtin_unreachable()
#define __same_type(a, b) __builtin_types_compatible_p(typeof(a), typeof(b))
#define __must_be_array(a) 0
#define typeof_member(T, m) typeof(((T *)0)->m)

#define READ_ONCE(x) (*(const volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, val) do { *(volatile typeof(x) *)&(x) = (val); } while (0)

#endif /* _LINUX_COMPILER_H */
