/*
 * <linux/io.h> and <asm/io.h>: port I/O with IN/OUT (the simulated PC's
 * ports), memory-mapped I/O, and virt_to_phys()/phys_to_virt() on the
 * direct map. ioremap()/iounmap() and readb..writel, ioread32/iowrite32
 * come from <kmemsim/kernel.h> (through <linux/types.h>): the virtual MMIO
 * devices (README "Virtual MMIO devices"); the other names are aliases.
 */
#ifndef _LINUX_IO_H
#define _LINUX_IO_H
#include <linux/types.h>
#include <linux/compiler.h>
#include <asm/page.h>

static inline void outb(u8 v, u16 port) { __asm__ __volatile__("outb %b0, %w1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 v, u16 port) { __asm__ __volatile__("outw %w0, %w1" : : "a"(v), "Nd"(port)); }
static inline void outl(u32 v, u16 port) { __asm__ __volatile__("outl %0, %w1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ __volatile__("inb %w1, %b0" : "=a"(v) : "Nd"(port)); return v; }
static inline u16 inw(u16 port) { u16 v; __asm__ __volatile__("inw %w1, %w0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 inl(u16 port) { u32 v; __asm__ __volatile__("inl %w1, %0" : "=a"(v) : "Nd"(port)); return v; }
#define outb_p outb
#define inb_p inb

#define readb_relaxed readb
#define readw_relaxed readw
#define readl_relaxed readl
#define writeb_relaxed writeb
#define writew_relaxed writew
#define writel_relaxed writel
#define ioread8 readb
#define ioread16 readw
#define iowrite8 writeb
#define iowrite16 writew

#define mb() __asm__ __volatile__("lock; addl $0,0(%%esp)" : : : "memory", "cc")
#define rmb() mb()
#define wmb() mb()

#endif
