/* <linux/kallsyms.h>: the kernel's symbols — its functions and every loaded module's, static ones included. */
#ifndef _LINUX_KALLSYMS_H
#define _LINUX_KALLSYMS_H
#include <linux/types.h>

#define KSYM_NAME_LEN 512
#define KSYM_SYMBOL_LEN (sizeof("%s+%#lx/%#lx [%s %s]") + KSYM_NAME_LEN * 2 + 40)

/* Exported by kmemsim's kernel as by Linux before 5.7 (later modules find it through a kprobe). */
unsigned long kallsyms_lookup_name(const char *name);

#endif
