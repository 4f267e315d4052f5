/*
 * <linux/irqflags.h>: the interrupt flag, with the real instructions
 * (PUSHF/POPF, CLI/STI: the module runs at CPL 0, or at CPL 1 with IOPL 1
 * under --stack cpl1).
 */
#ifndef _LINUX_IRQFLAGS_H
#define _LINUX_IRQFLAGS_H
#include <linux/types.h>

#define X86_EFLAGS_IF 0x00000200

static __always_inline unsigned long arch_local_save_flags(void)
{
	unsigned long flags;

	__asm__ __volatile__("pushfl ; popl %0" : "=rm"(flags) : : "memory");
	return flags;
}

static __always_inline void arch_local_irq_disable(void) { __asm__ __volatile__("cli" : : : "memory"); }
static __always_inline void arch_local_irq_enable(void) { __asm__ __volatile__("sti" : : : "memory"); }

static __always_inline unsigned long arch_local_irq_save(void)
{
	unsigned long flags = arch_local_save_flags();

	arch_local_irq_disable();
	return flags;
}

static __always_inline void arch_local_irq_restore(unsigned long flags)
{
	__asm__ __volatile__("pushl %0 ; popfl" : : "g"(flags) : "memory", "cc");
}

#define local_irq_enable() arch_local_irq_enable()
#define local_irq_disable() arch_local_irq_disable()
#define local_irq_save(flags) do { (flags) = arch_local_irq_save(); } while (0)
#define local_irq_restore(flags) arch_local_irq_restore(flags)
#define local_save_flags(flags) do { (flags) = arch_local_save_flags(); } while (0)
#define irqs_disabled() (!(arch_local_save_flags() & X86_EFLAGS_IF))
#define irqs_disabled_flags(flags) (!((flags) & X86_EFLAGS_IF))

#endif
