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
/*
 * The count's fields as Linux's: preemption bits 0-7, softirq 8-15, hardirq
 * 16-19, NMI 20. A device IRQ's handler (request_irq, <linux/interrupt.h>)
 * runs with HARDIRQ_OFFSET added.
 */
#define SOFTIRQ_OFFSET (1 << 8)
#define HARDIRQ_OFFSET (1 << 16)
#define NMI_OFFSET (1 << 20)
#define softirq_count() (preempt_count() & 0x0000ff00)
#define hardirq_count() (preempt_count() & 0x000f0000)
#define irq_count() (preempt_count() & 0x001fff00)
#define in_interrupt() (irq_count() != 0)
#define in_irq() (hardirq_count() != 0)
#define in_hardirq() in_irq()
#define in_softirq() (softirq_count() != 0)
#define in_nmi() ((preempt_count() & NMI_OFFSET) != 0)
#define in_task() (!in_interrupt())

void preempt_count_add(int val);
void preempt_count_sub(int val);

/* might_sleep(): __might_sleep() reports a sleeping call in atomic context (CONFIG_DEBUG_ATOMIC_SLEEP). */
void __might_sleep(const char *file, int line);
#undef might_sleep	/* <linux/kernel.h> may have defined the no-op */
#define might_sleep() __might_sleep(__FILE__, __LINE__)
#define might_sleep_if(cond) do { if (cond) might_sleep(); } while (0)

#endif
