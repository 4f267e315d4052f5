/*
 * A driver for kmemsim's made-up "counter" device (src/mmio/device.ts,
 * CounterDevice) at physical address 0xfeb00000: it checks the ID
 * register, reads the counter three times, resets it, round-trips a value
 * through the echo register with 8-, 16- and 32-bit accesses, and prints
 * a line through the 16550 UART behind the pass-through window at
 * 0xfeb01000. `kmemsim run examples/mmio/counter-driver.c --mmiotrace
 * FILE` logs every one of these accesses in Linux's mmiotrace format.
 */
#include <kmemsim/kernel.h>

#define COUNTER_PHYS 0xfeb00000UL
#define UART_PHYS    0xfeb01000UL

#define REG_ID    0x00
#define REG_CTRL  0x04
#define REG_COUNT 0x08
#define REG_ECHO  0x0c

#define UART_THR 0 /* transmit holding register */
#define UART_LSR 5 /* line status: bit 5 = THR empty */

static void uart_puts(void __iomem *uart, const char *s)
{
	for (; *s; s++) {
		while (!(readb(uart + UART_LSR) & 0x20))
			;
		writeb(*s, uart + UART_THR);
	}
}

int init_module(void)
{
	void __iomem *regs = ioremap(COUNTER_PHYS, 0x10);
	void __iomem *uart;
	u32 a, b, c;

	if (!regs)
		return -ENODEV;
	if (ioread32(regs + REG_ID) != 0x434d534b) {
		iounmap(regs);
		return -ENODEV;
	}
	mmiotrace_printk("counter: probed\n");
	a = readl(regs + REG_COUNT);
	b = readl(regs + REG_COUNT);
	c = readl(regs + REG_COUNT);
	writel(1, regs + REG_CTRL);	/* reset */
	printk(KERN_INFO "counter: %u %u %u, after reset %u\n", a, b, c, readl(regs + REG_COUNT));

	iowrite32(0xcafef00d, regs + REG_ECHO);
	writeb(0x11, regs + REG_ECHO + 3);
	writew(0x2233, regs + REG_ECHO);
	printk(KERN_INFO "counter: echo %#x, byte 1 %#x\n", readl(regs + REG_ECHO), readb(regs + REG_ECHO + 1));
	/* A plain pointer works too: the device sees the same 32-bit read. */
	printk(KERN_INFO "counter: id via pointer %#x\n", *(volatile u32 *)(regs + REG_ID));
	printk(KERN_INFO "counter: ioremap of nothing: %p\n", ioremap(0xfeb0f000UL, 4));
	iounmap(regs);

	uart = ioremap(UART_PHYS, 8);
	if (uart) {
		uart_puts(uart, "ok\n");
		iounmap(uart);
	}
	return 0;
}
