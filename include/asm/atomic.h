/* <asm/atomic.h>: the old path of <linux/atomic.h>. */
#include <linux/atomic.h>
