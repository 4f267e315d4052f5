/*
 * <linux/interrupt.h>: device interrupt handlers. request_irq() puts a
 * handler on one of the lines 0-15; when a virtual MMIO device raises its
 * line (README "Virtual MMIO devices"; the board's counter device is on
 * IRQ 11) the handler is called in interrupt context — in_interrupt()
 * true, interrupts off, sleeping reported — with the line and dev_id
 * (src/mmio/irq.ts says when). free_irq() removes the handler whose
 * dev_id it is given and returns its name.
 */
#ifndef _LINUX_INTERRUPT_H
#define _LINUX_INTERRUPT_H
#include <linux/types.h>
#include <linux/preempt.h>

typedef int irqreturn_t;
#define IRQ_NONE (0)
#define IRQ_HANDLED (1)
#define IRQ_WAKE_THREAD (2)
#define IRQ_RETVAL(x) ((x) ? IRQ_HANDLED : IRQ_NONE)

typedef irqreturn_t (*irq_handler_t)(int irq, void *dev_id);

#define IRQF_SHARED 0x00000080

/* 0, -EINVAL (no such line, no handler, a shared line without dev_id), -EBUSY (the line is taken). */
int request_irq(unsigned int irq, irq_handler_t handler, unsigned long flags, const char *name, void *dev);
const void *free_irq(unsigned int irq, void *dev_id);

#endif
