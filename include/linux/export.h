/*
 * <linux/export.h>: EXPORT_SYMBOL() puts the symbol in the module's
 * __ksymtab section, as Linux's does; when the module is loaded its
 * exports join the kernel's table, so modules loaded after it link
 * against them (and rmmod refuses while such a user is loaded).
 */
#ifndef _LINUX_EXPORT_H
#define _LINUX_EXPORT_H
#include <linux/types.h>

struct kernel_symbol {
	unsigned long value;
	const char *name;
};

#define __EXPORT_SYMBOL(sym, sec)						\
	extern typeof(sym) sym;							\
	static const char __kstrtab_##sym[]					\
	__attribute__((section("__ksymtab_strings"), used, aligned(1))) = #sym;	\
	static const struct kernel_symbol __ksymtab_##sym			\
	__attribute__((section("__ksymtab" sec), used))			\
	= { (unsigned long)&sym, __kstrtab_##sym }

#define EXPORT_SYMBOL(sym) __EXPORT_SYMBOL(sym, "")
#define EXPORT_SYMBOL_GPL(sym) __EXPORT_SYMBOL(sym, "_gpl")
#define EXPORT_SYMBOL_NS(sym, ns) __EXPORT_SYMBOL(sym, "")
#define EXPORT_SYMBOL_NS_GPL(sym, ns) __EXPORT_SYMBOL(sym, "_gpl")

#endif
