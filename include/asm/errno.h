/* <asm/errno.h>: error numbers (<linux/errno.h>). */
#include <linux/errno.h>
