/* <linux/stringify.h>: __stringify() (defined in <linux/compiler.h>). */
#include <linux/compiler.h>
