/*
 * An uninitialized read, then an oops (NULL pointer dereference): the run
 * stops abnormally, and the queued report is still printed.
 */
#include <kmemsim/kernel.h>

struct dev {
	int irq;
	int *regs;
};

__attribute__((noipa)) int dev_irq(const struct dev *d)
{
	return d->irq; /* never written */
}

__attribute__((noipa)) int dev_reg(const struct dev *d)
{
	return d->regs[1];
}

int init_module(void)
{
	struct dev *d = kmalloc(sizeof(*d), GFP_KERNEL);

	if (!d)
		return -ENOMEM;
	d->regs = NULL;
	printk(KERN_INFO "oops-after-read: irq read %d\n", dev_irq(d) >= 0 || 1);
	return dev_reg(d); /* oops */
}
