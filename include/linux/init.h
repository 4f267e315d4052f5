/*
 * <linux/init.h>: module_init()/module_exit() name the functions insmod
 * and rmmod call (aliases init_module and cleanup_module, as Linux's
 * module build makes them); __init/__exit sections are not discarded.
 */
#ifndef _LINUX_INIT_H
#define _LINUX_INIT_H
#include <linux/types.h>

#define __exitdata
#define __initconst
#define __exit_p(x) x
#define __init_or_module
#define __ref
#define __refdata

typedef int (*initcall_t)(void);
typedef void (*exitcall_t)(void);

/* In a module every initcall level is module_init(), as in Linux. */
#define early_initcall(fn) module_init(fn)
#define core_initcall(fn) module_init(fn)
#define subsys_initcall(fn) module_init(fn)
#define fs_initcall(fn) module_init(fn)
#define device_initcall(fn) module_init(fn)
#define late_initcall(fn) module_init(fn)
#define __initcall(fn) device_initcall(fn)

#endif
