/*
 * include/kmemsim/kernel.h — the kernel API for kmemsim's guest kernel modules.
 *
 * A module is one C file compiled the way i386 Linux compiles modules
 * (`kmemsim run mod.c` uses exactly these flags; see README "Kernel modules"):
 *
 *   gcc -m32 -ffreestanding -fno-pic -mregparm=3 -fno-builtin -g -O2 \
 *       -march=i686 -mno-sse -mno-mmx -fno-stack-protector \
 *       -fcf-protection=none -fno-asynchronous-unwind-tables \
 *       -I<kmemsim>/include -c mod.c
 *
 * and loaded like insmod loads a .ko: its undefined symbols are linked
 * against the functions the simulated kernel exports (kmalloc, printk, ...)
 * and against kmemsim's guest runtime (memcpy, memset, strlen, ... — real
 * i386 code, so its string instructions reach the checkers). Then the
 * kernel calls `int init_module(void)` and, when that returned 0, at
 * "rmmod" time `void cleanup_module(void)`. Use module_init()/module_exit()
 * below to name them, as in Linux.
 *
 * Calling convention: Linux i386's -mregparm=3 — the first three integer
 * arguments in EAX, EDX, ECX, the rest on the stack. Variadic functions
 * (printk, snprintf, sprintf, panic) take all their arguments on the stack
 * (gcc never uses registers for a variadic call); printk is also declared
 * asmlinkage (regparm(0)), as in Linux.
 *
 * Only gcc's freestanding headers are used (stdarg.h), never the host libc.
 */
#ifndef KMEMSIM_KERNEL_H
#define KMEMSIM_KERNEL_H

#include <stdarg.h>

/* ---- basic types (include/linux/types.h, asm-generic/int-ll64.h) -------- */

typedef __SIZE_TYPE__ size_t;
typedef __PTRDIFF_TYPE__ ptrdiff_t;
typedef long ssize_t;

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef signed short s16;
typedef signed int s32;
typedef signed long long s64;

typedef unsigned long uintptr_t;

#if !defined(__cplusplus) && (!defined(__STDC_VERSION__) || __STDC_VERSION__ < 202311L)
typedef _Bool bool;
#define true 1
#define false 0
#endif

#undef NULL
#define NULL ((void *)0)

/* ---- compiler attributes (include/linux/compiler*.h, linkage.h) ------- */

/* Arguments on the stack, whatever -mregparm says (asm/linkage.h on i386). */
#define asmlinkage __attribute__((regparm(0)))
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define __noreturn __attribute__((noreturn))
#define __used __attribute__((used))
#define __maybe_unused __attribute__((unused))
#define __aligned(x) __attribute__((aligned(x)))
#define __packed __attribute__((packed))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define barrier() __asm__ __volatile__("" ::: "memory")

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define offsetof(type, member) __builtin_offsetof(type, member)
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* ---- error numbers (asm-generic/errno-base.h) -------------------------- */

#define EPERM    1
#define ENOENT   2
#define EIO      5
#define ENXIO    6
#define E2BIG    7
#define EAGAIN   11
#define ENOMEM   12
#define EACCES   13
#define EFAULT   14
#define EBUSY    16
#define EEXIST   17
#define ENODEV   19
#define EINVAL   22
#define ENOSPC   28
#define ERANGE   34
#define ENOSYS   38

/* ---- allocation flags (include/linux/gfp.h and slab.h of the 2.6.2x era) - */

typedef unsigned int gfp_t;

#define __GFP_WAIT     ((gfp_t)0x10u)     /* may sleep */
#define __GFP_HIGH     ((gfp_t)0x20u)     /* may use emergency pools */
#define __GFP_IO       ((gfp_t)0x40u)     /* may start physical I/O */
#define __GFP_FS       ((gfp_t)0x80u)     /* may call into the file system */
#define __GFP_ZERO     ((gfp_t)0x8000u)   /* return zeroed memory */
#define __GFP_NOTRACK  ((gfp_t)0x200000u) /* kmemcheck: do not track this allocation */

#define GFP_ATOMIC     (__GFP_HIGH)                        /* 0x20 */
#define GFP_KERNEL     (__GFP_WAIT | __GFP_IO | __GFP_FS)  /* 0xD0 */

/* kmem_cache_create() flags */
#define SLAB_HWCACHE_ALIGN 0x00002000UL
#define SLAB_PANIC         0x00040000UL
#define SLAB_NOTRACK       0x01000000UL /* kmemcheck: do not track objects of this cache */

#define PAGE_SHIFT 12
#define PAGE_SIZE  (1UL << PAGE_SHIFT)
#define PAGE_MASK  (~(PAGE_SIZE - 1))

/* ---- console (include/linux/kernel.h, printk.h) ------------------------ */

#define KERN_EMERG   "<0>" /* system is unusable */
#define KERN_ALERT   "<1>" /* action must be taken immediately */
#define KERN_CRIT    "<2>" /* critical conditions */
#define KERN_ERR     "<3>" /* error conditions */
#define KERN_WARNING "<4>" /* warning conditions */
#define KERN_NOTICE  "<5>" /* normal but significant condition */
#define KERN_INFO    "<6>" /* informational */
#define KERN_DEBUG   "<7>" /* debug-level messages */

asmlinkage __printf(1, 2) int printk(const char *fmt, ...);
asmlinkage int vprintk(const char *fmt, va_list args);
__printf(3, 4) int snprintf(char *buf, size_t size, const char *fmt, ...);
__printf(3, 4) int scnprintf(char *buf, size_t size, const char *fmt, ...);
__printf(2, 3) int sprintf(char *buf, const char *fmt, ...);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list args);
int vsprintf(char *buf, const char *fmt, va_list args);
__printf(1, 2) __noreturn void panic(const char *fmt, ...);

#ifndef KMEMSIM_LINUX_API /* <linux/printk.h> defines them with pr_fmt() */
#define pr_emerg(fmt, ...)   printk(KERN_EMERG fmt, ##__VA_ARGS__)
#define pr_alert(fmt, ...)   printk(KERN_ALERT fmt, ##__VA_ARGS__)
#define pr_crit(fmt, ...)    printk(KERN_CRIT fmt, ##__VA_ARGS__)
#define pr_err(fmt, ...)     printk(KERN_ERR fmt, ##__VA_ARGS__)
#define pr_warning(fmt, ...) printk(KERN_WARNING fmt, ##__VA_ARGS__)
#define pr_notice(fmt, ...)  printk(KERN_NOTICE fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)    printk(KERN_INFO fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...)   printk(KERN_DEBUG fmt, ##__VA_ARGS__)
#endif

/*
 * Linux's BUG() is a ud2 with a bug-table entry; kmemsim's kernel exports
 * BUG as a function that reports its caller and stops the machine.
 */
__noreturn void BUG(void);
#define BUG_ON(cond) do { if (unlikely(cond)) BUG(); } while (0)
/* Compile-time check: a negative array size when cond is true. */
#define BUILD_BUG_ON(cond) ((void)sizeof(char[1 - 2 * !!(cond)]))

/* ---- slab allocator (include/linux/slab.h) ----------------------------- */

struct kmem_cache;

void kfree(const void *objp);
size_t ksize(const void *objp);

#ifndef KMEMSIM_LINUX_API /* <linux/slab.h> makes kmalloc() the inline function of Linux */
void *kmalloc(size_t size, gfp_t flags);

/* As in Linux, kzalloc() is kmalloc() asking for zeroed memory. */
static inline void *kzalloc(size_t size, gfp_t flags)
{
	return kmalloc(size, flags | __GFP_ZERO);
}
#endif

struct kmem_cache *kmem_cache_create(const char *name, size_t size, size_t align,
				     unsigned long flags, void (*ctor)(void *));
void *kmem_cache_alloc(struct kmem_cache *cachep, gfp_t flags);
void *kmem_cache_zalloc(struct kmem_cache *cachep, gfp_t flags);
void kmem_cache_free(struct kmem_cache *cachep, void *objp);
void kmem_cache_destroy(struct kmem_cache *cachep);

/* ---- page allocator (include/linux/gfp.h, mm.h) ------------------------ */

struct page;

struct page *alloc_pages(gfp_t gfp_mask, unsigned int order);
void __free_pages(struct page *page, unsigned int order);
void *page_address(struct page *page);
struct page *virt_to_page(const void *addr); /* a macro in Linux */
unsigned long __get_free_pages(gfp_t gfp_mask, unsigned int order);
unsigned long get_zeroed_page(gfp_t gfp_mask);
void free_pages(unsigned long addr, unsigned int order);

#define alloc_page(gfp_mask) alloc_pages(gfp_mask, 0)
#define __free_page(page) __free_pages((page), 0)
#define __get_free_page(gfp_mask) __get_free_pages((gfp_mask), 0)
#define free_page(addr) free_pages((addr), 0)

/* ---- string functions (the guest runtime, guest/runtime/) -------------- */

void *memcpy(void *to, const void *from, size_t n);
void *memmove(void *to, const void *from, size_t n);
void *memset(void *s, int c, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strcpy(char *dst, const char *src);
char *strncpy(char *dst, const char *src, size_t n);
char *strchr(const char *s, int c);

/* ---- kmemcheck annotations (include/linux/kmemcheck.h) ----------------- */

/*
 * Tell kmemcheck that n bytes at addr count as initialized (the kernel
 * exports it; Linux's kmemcheck_mark_initialized()).
 */
void kmemcheck_mark_initialized(void *addr, unsigned int n);

/*
 * Switch kmemcheck off and on at run time (Linux: echo 0/1 >
 * /proc/sys/kernel/kmemcheck). Accesses made while it is off are unknown
 * to it. Without --kmemcheck both do nothing.
 */
void kmemcheck_enable(void);
void kmemcheck_disable(void);

/*
 * Bitfields are written with read-modify-write instructions, so the first
 * store to one bit "reads" the uninitialized bits around it. Linux brackets
 * such bitfields with two zero-length markers and, right after allocating
 * the object, marks everything between them initialized:
 *
 *	struct foo {
 *		kmemcheck_bitfield_begin(flags);
 *		unsigned int a:1, b:3;
 *		kmemcheck_bitfield_end(flags);
 *	};
 *	p = kmalloc(sizeof(*p), GFP_KERNEL);
 *	kmemcheck_annotate_bitfield(p, flags);
 *
 * The markers are zero-length arrays: they take no space.
 */
#define kmemcheck_bitfield_begin(name) int name##_begin[0]
#define kmemcheck_bitfield_end(name) int name##_end[0]

#define kmemcheck_annotate_bitfield(ptr, name)                                  \
	do {                                                                    \
		if (!(ptr))                                                     \
			break;                                                  \
		kmemcheck_mark_initialized(&(ptr)->name##_begin,                \
			(unsigned int)((char *)&(ptr)->name##_end -             \
				       (char *)&(ptr)->name##_begin));          \
	} while (0)

/* A whole variable (Linux: kmemcheck_annotate_variable()). */
#define kmemcheck_annotate_variable(var) \
	kmemcheck_mark_initialized(&(var), sizeof(var))

/* ---- memory-mapped I/O (asm/io.h, include/linux/mmiotrace.h) ---------- */

/*
 * ioremap() maps a device's physical register window at a kernel address
 * (NULL when no device is there); every access to it reaches the device —
 * the accessors below or a plain pointer. kmemsim's virtual board (README
 * "Virtual MMIO devices"): the example counter device at 0xfeb00000,
 * pass-through to a 16550 UART at 0xfeb01000 and to an 8254 PIT at
 * 0xfeb02000. mmiotrace_printk() writes a MARK line into the mmiotrace log
 * (kmemsim run --mmiotrace FILE).
 */
#define __iomem

void __iomem *ioremap(unsigned long phys_addr, unsigned long size);
void iounmap(volatile void __iomem *addr);
int mmiotrace_printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline u8 readb(const volatile void __iomem *addr) { return *(const volatile u8 *)addr; }
static inline u16 readw(const volatile void __iomem *addr) { return *(const volatile u16 *)addr; }
static inline u32 readl(const volatile void __iomem *addr) { return *(const volatile u32 *)addr; }
static inline void writeb(u8 value, volatile void __iomem *addr) { *(volatile u8 *)addr = value; }
static inline void writew(u16 value, volatile void __iomem *addr) { *(volatile u16 *)addr = value; }
static inline void writel(u32 value, volatile void __iomem *addr) { *(volatile u32 *)addr = value; }
static inline u32 ioread32(const void __iomem *addr) { return readl(addr); }
static inline void iowrite32(u32 value, void __iomem *addr) { writel(value, addr); }

/* ---- module entry points (include/linux/init.h, module.h) -------------- */

/*
 * The loader calls init_module() and cleanup_module() by name; these
 * macros make them aliases of your functions, as Linux's do.
 */
#define module_init(initfn) \
	int init_module(void) __attribute__((alias(#initfn)))
#define module_exit(exitfn) \
	void cleanup_module(void) __attribute__((alias(#exitfn)))

/* Linux puts these in .init.text/.exit.text; kmemsim keeps them in .text. */
#define __init
#define __exit
#define __initdata

/* Module metadata is accepted and ignored (Linux keeps it in .modinfo). */
#ifndef KMEMSIM_LINUX_API /* <linux/module.h> puts them in .modinfo */
#define MODULE_LICENSE(s) extern int __kmemsim_modinfo_ignored
#define MODULE_AUTHOR(s) extern int __kmemsim_modinfo_ignored
#define MODULE_DESCRIPTION(s) extern int __kmemsim_modinfo_ignored
#define EXPORT_SYMBOL(sym) extern int __kmemsim_modinfo_ignored
#endif

#endif /* KMEMSIM_KERNEL_H */
