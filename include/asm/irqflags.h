/* <asm/irqflags.h>: the interrupt flag (<linux/irqflags.h>). */
#include <linux/irqflags.h>
