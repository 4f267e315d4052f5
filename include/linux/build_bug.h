/* <linux/build_bug.h>: BUILD_BUG_ON() and static_assert() (in <linux/bug.h>). */
#include <linux/bug.h>
