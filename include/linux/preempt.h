/*
 * <linux/preempt.h>: the preemption count, a per-CPU variable as on x86
 * (__preempt_count). Spinlocks, RCU read-side sections and kprobe
 * handlers raise it; a sleeping call made while it is non-zero (or with
 * interrupts disabled) gets the kernel's "BUG: sleeping function called
 * from invalid context" report.
 */
#ifndef _LINUX_PREEMPT_H
#define _LINUX_PREEMPT_H
#include <linux/types.h>

extern int __preempt_count;

static __always_inline int preempt_count(void) { return *(volatile int *)&__preempt_count; }
#define preempt_count_inc() do { __preempt_count++; __asm__ __volatile__("" ::: "memory"); } while (0)
#define preempt_count_dec() do { __asm__ __volatile__("" ::: "memory"); __preempt_count--; } while (0)
#define preempt_disable() preempt_count_inc()
#define preempt_enable() preempt_count_dec()
#define preempt_enable_no_resched() preempt_count_dec()
#define preempt_disable_notrace() preempt_count_inc()
#define preempt_enable_notrace() preempt_count_dec()
#define in_atomic() (preempt_count() != 0)
#define in_task() 1
#define in_interrupt() 0
#define in_irq() 0
#define in_softirq() 0

void preempt_count_add(int val);
void preempt_count_sub(int val);

/* might_sleep(): __might_sleep() reports a sleeping call in atomic context (CONFIG_DEBUG_ATOMIC_SLEEP). */
void __might_sleep(const char *file, int line);
#undef might_sleep	/* <linux/kernel.h> may have defined the no-op */
#define might_sleep() __might_sleep(__FILE__, __LINE__)
#define might_sleep_if(cond) do { if (cond) might_sleep(); } while (0)

#endif
