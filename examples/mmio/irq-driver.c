/*
 * Interrupts from a virtual device (src/mmio/irq.ts): the driver puts a
 * handler on the counter device's line (IRQ 11) with request_irq(), makes
 * the device raise it (CTRL bit 1), and the handler runs in interrupt
 * context — in_interrupt() true, interrupts off — where it reads the
 * device's COUNT register and returns IRQ_HANDLED. Then the bad uses:
 * a handler that sleeps (the kernel's "BUG: sleeping function called
 * from invalid context"), a second request on the taken line (-EBUSY), an
 * IRQ with no handler ("nobody cared"), free_irq() of a free line.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/interrupt.h>
#include <linux/irqflags.h>
#include <linux/io.h>

#define COUNTER_PHYS 0xfeb00000UL
#define COUNTER_IRQ  11
#define REG_CTRL  0x04
#define REG_COUNT 0x08
#define CTRL_RESET 1
#define CTRL_IRQ   2

struct counter {
	void __iomem *regs;
	int irqs;
	int sleep_in_handler;
};

static struct counter dev;

static irqreturn_t counter_irq(int irq, void *dev_id)
{
	struct counter *c = dev_id;

	WRITE_ONCE(c->irqs, c->irqs + 1);
	pr_info("counter irq %d: in_interrupt %d, in_irq %d, irqs_disabled %d, count %u\n",
		irq, in_interrupt() != 0, in_irq() != 0, !(arch_local_save_flags() & X86_EFLAGS_IF),
		readl(c->regs + REG_COUNT));
	if (READ_ONCE(c->sleep_in_handler))
		might_sleep();
	return IRQ_HANDLED;
}

static irqreturn_t other_irq(int irq, void *dev_id)
{
	return IRQ_HANDLED;
}

static int __init irq_driver_init(void)
{
	int err;

	dev.regs = ioremap(COUNTER_PHYS, 0x10);
	if (!dev.regs)
		return -ENODEV;
	err = request_irq(COUNTER_IRQ, counter_irq, 0, "counter", &dev);
	pr_info("request_irq: %d, in_interrupt %d\n", err, in_interrupt() != 0);
	writel(CTRL_RESET, dev.regs + REG_CTRL);
	writel(CTRL_IRQ, dev.regs + REG_CTRL);
	pr_info("after the first IRQ: %d handled\n", READ_ONCE(dev.irqs));
	writel(CTRL_IRQ, dev.regs + REG_CTRL);
	pr_info("after the second IRQ: %d handled, in_interrupt %d\n", READ_ONCE(dev.irqs), in_interrupt() != 0);

	/* The handler reads the flag: the stores must not be merged around the write that raises the IRQ. */
	WRITE_ONCE(dev.sleep_in_handler, 1);
	writel(CTRL_IRQ, dev.regs + REG_CTRL);
	WRITE_ONCE(dev.sleep_in_handler, 0);

	pr_info("request_irq on the taken line: %d\n", request_irq(COUNTER_IRQ, other_irq, 0, "other", &dev));
	pr_info("free_irq: %s\n", (const char *)free_irq(COUNTER_IRQ, &dev));
	writel(CTRL_IRQ, dev.regs + REG_CTRL);
	pr_info("free_irq again: %p\n", free_irq(COUNTER_IRQ, &dev));
	iounmap(dev.regs);
	return 0;
}

static void __exit irq_driver_exit(void)
{
}

module_init(irq_driver_init);
module_exit(irq_driver_exit);
MODULE_LICENSE("GPL");
