/*
 * <kmemsim/kernel.h> for a native libFuzzer build of kmemsim's fuzz
 * examples (bench/libfuzzer.sh): the kernel API the examples use, on the
 * host's C library. kmalloc() is malloc() (uninitialized, as kmalloc
 * without __GFP_ZERO), kzalloc() calloc(), kfree() free(); printk()
 * prints nothing (a fuzz target's output would only slow libFuzzer
 * down); BUG() aborts. So MemorySanitizer and AddressSanitizer see the
 * same allocations kmemsim's kmemcheck does.
 */
#ifndef KMEMSIM_NATIVE_KERNEL_H
#define KMEMSIM_NATIVE_KERNEL_H
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;
typedef unsigned int gfp_t;

#define GFP_KERNEL 0xD0u
#define GFP_ATOMIC 0x20u
#define __GFP_ZERO 0x8000u
#define KERN_INFO "<6>"
#define KERN_ERR "<3>"

static inline void *kmalloc(size_t size, gfp_t flags)
{
	return (flags & __GFP_ZERO) ? calloc(1, size ? size : 1) : malloc(size ? size : 1);
}
static inline void *kzalloc(size_t size, gfp_t flags)
{
	(void)flags;
	return calloc(1, size ? size : 1);
}
static inline void kfree(const void *p)
{
	free((void *)p);
}
static inline int printk(const char *fmt, ...)
{
	(void)fmt;
	return 0;
}
#define BUG() abort()
#define BUG_ON(c) do { if (c) abort(); } while (0)
#define kmemcheck_mark_initialized(addr, n) ((void)(addr), (void)(n))
#define module_init(f)
#define module_exit(f)
#define MODULE_LICENSE(x)
#endif
