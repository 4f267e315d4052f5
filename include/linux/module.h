/*
 * <linux/module.h> for kmemsim: module_init()/module_exit(), the MODULE_*()
 * information (kept in .modinfo, as Linux keeps it), THIS_MODULE and the
 * module reference count (try_module_get()/module_put(): a char device
 * opened by a process keeps its module loaded, and rmmod fails with EBUSY).
 *
 * `kmemsim cc` links each module with a NAME.mod.c that defines
 * __this_module in .gnu.linkonce.this_module, as modpost does. A module
 * run straight from its .c file has none: THIS_MODULE is then NULL, as for
 * code built into the kernel (no reference counting).
 */
#ifndef _LINUX_MODULE_H
#define _LINUX_MODULE_H
#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/init.h>
#include <linux/export.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>
#include <linux/stringify.h>

#ifndef KBUILD_MODNAME
#define KBUILD_MODNAME "module"
#endif

#define MODULE_NAME_LEN 56

enum module_state {
	MODULE_STATE_LIVE,
	MODULE_STATE_COMING,
	MODULE_STATE_GOING,
	MODULE_STATE_UNFORMED,
};

struct module {
	enum module_state state;
	struct list_head list;
	char name[MODULE_NAME_LEN];
	int (*init)(void);
	void (*exit)(void);
	atomic_t refcnt;
};

extern struct module __this_module __attribute__((weak));
#define THIS_MODULE (&__this_module)

#define __MODULE_INFO(tag, name, info)						\
	static const char __UNIQUE_ID(name)[]					\
	__attribute__((section(".modinfo"), used, aligned(1)))			\
	= __stringify(tag) "=" info
#define MODULE_INFO(tag, info) __MODULE_INFO(tag, tag, info)

#undef MODULE_LICENSE
#undef MODULE_AUTHOR
#undef MODULE_DESCRIPTION
#define MODULE_LICENSE(_license) MODULE_INFO(license, _license)
#define MODULE_AUTHOR(_author) MODULE_INFO(author, _author)
#define MODULE_DESCRIPTION(_description) MODULE_INFO(description, _description)
#define MODULE_VERSION(_version) MODULE_INFO(version, _version)
#define MODULE_ALIAS(_alias) MODULE_INFO(alias, _alias)
#define MODULE_SOFTDEP(_softdep) MODULE_INFO(softdep, _softdep)
#define MODULE_FIRMWARE(_firmware) MODULE_INFO(firmware, _firmware)
#define MODULE_IMPORT_NS(ns) MODULE_INFO(import_ns, #ns)
#define MODULE_DEVICE_TABLE(type, name)

/* Take and drop a reference on a module (kernel/module.c); NULL (built-in) always succeeds. */
bool try_module_get(struct module *module);
void module_put(struct module *module);
void __module_get(struct module *module);
int module_refcount(struct module *mod);
#define module_name(mod) ((mod) ? (mod)->name : "kernel")

/* module_driver() and friends: the init/exit pair that registers one driver. */
#define module_driver(__driver, __register, __unregister, ...)		\
static int __init __driver##_init(void)					\
{									\
	return __register(&(__driver), ##__VA_ARGS__);			\
}									\
module_init(__driver##_init);						\
static void __exit __driver##_exit(void)				\
{									\
	__unregister(&(__driver), ##__VA_ARGS__);			\
}									\
module_exit(__driver##_exit);

#endif
