/* <asm/io.h>: port and memory-mapped I/O (<linux/io.h>). */
#include <linux/io.h>
