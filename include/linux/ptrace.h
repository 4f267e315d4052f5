/* <linux/ptrace.h>: struct pt_regs and its accessors (<asm/ptrace.h>). */
#ifndef _LINUX_PTRACE_H
#define _LINUX_PTRACE_H
#include <linux/types.h>
#include <asm/ptrace.h>
#endif
