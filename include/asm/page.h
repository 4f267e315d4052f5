/*
 * <asm/page.h>: the kernel's direct map at PAGE_OFFSET (0xC0000000, the
 * 3G/1G split), __pa()/__va() between it and physical addresses.
 */
#ifndef _ASM_X86_PAGE_H
#define _ASM_X86_PAGE_H
#include <linux/types.h>
#define PAGE_OFFSET 0xC0000000UL
#define TASK_SIZE PAGE_OFFSET
#define __pa(x) ((unsigned long)(x) - PAGE_OFFSET)
#define __va(x) ((void *)((unsigned long)(x) + PAGE_OFFSET))
#define virt_to_phys(x) __pa(x)
#define phys_to_virt(x) __va(x)
#endif
