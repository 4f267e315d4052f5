/*
 * <linux/moduleparam.h>: module_param(name, type, perm) records the
 * parameter in the module's __param section; insmod's "name=value"
 * arguments (init_module(2)'s param_values, `kmemsim run --module
 * m.ko:name=value`) are parsed by the kernel before init runs, as
 * parse_args() does. Types: bool, invbool, byte, short, ushort, int, uint,
 * long, ulong, charp.
 */
#ifndef _LINUX_MODULEPARAM_H
#define _LINUX_MODULEPARAM_H
#include <linux/types.h>

/* kmemsim's parameter types (the kernel's parser reads them from __param). */
enum kmemsim_param_type {
	__KMEMSIM_PARAM_bool = 1, __KMEMSIM_PARAM_invbool, __KMEMSIM_PARAM_byte,
	__KMEMSIM_PARAM_short, __KMEMSIM_PARAM_ushort, __KMEMSIM_PARAM_int,
	__KMEMSIM_PARAM_uint, __KMEMSIM_PARAM_long, __KMEMSIM_PARAM_ulong,
	__KMEMSIM_PARAM_charp,
};

struct kernel_param {
	const char *name;
	int type;		/* enum kmemsim_param_type */
	unsigned short perm;
	void *arg;
};

#define module_param_named(name, value, type, perm)				\
	static const char __param_str_##name[] = #name;				\
	static const struct kernel_param __param_##name				\
	__attribute__((section("__param"), used, aligned(sizeof(void *))))	\
	= { __param_str_##name, __KMEMSIM_PARAM_##type, (perm), &(value) }

#define module_param(name, type, perm) module_param_named(name, name, type, perm)
#define MODULE_PARM_DESC(_parm, desc) MODULE_INFO(parmtype_desc_##_parm, #_parm ":" desc)

#endif
