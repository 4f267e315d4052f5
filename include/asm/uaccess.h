/* <asm/uaccess.h>: where modules before Linux 4.x found copy_to_user() (<linux/uaccess.h>). */
#include <linux/uaccess.h>
