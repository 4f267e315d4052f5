/* <asm/types.h>: fixed-size types (<linux/types.h>). */
#include <linux/types.h>
