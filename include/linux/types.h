/*
 * <linux/types.h> for kmemsim modules: Linux's kernel types on i386
 * (include/linux/types.h, asm-generic/int-ll64.h), on top of
 * <kmemsim/kernel.h>. Every Linux header of kmemsim includes this first, so
 * KMEMSIM_LINUX_API tells <kmemsim/kernel.h> to leave kmalloc(), pr_*() and
 * the MODULE_*() macros to the Linux headers.
 */
#ifndef _LINUX_TYPES_H
#define _LINUX_TYPES_H

#define KMEMSIM_LINUX_API 1
#include <kmemsim/kernel.h>
#include <linux/compiler.h>

typedef u8 __u8;
typedef u16 __u16;
typedef u32 __u32;
typedef u64 __u64;
typedef s8 __s8;
typedef s16 __s16;
typedef s32 __s32;
typedef s64 __s64;
typedef u16 __le16;
typedef u32 __le32;
typedef u64 __le64;
typedef u16 __be16;
typedef u32 __be32;
typedef u64 __be64;

typedef unsigned char u_char;
typedef unsigned short u_short;
typedef unsigned int u_int;
typedef unsigned long u_long;
typedef unsigned char unchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;

typedef u8 uint8_t;
typedef u16 uint16_t;
typedef u32 uint32_t;
typedef u64 uint64_t;
typedef s8 int8_t;
typedef s16 int16_t;
typedef s32 int32_t;
typedef s64 int64_t;
typedef long intptr_t;

typedef long long loff_t;
typedef long off_t;
typedef unsigned int dev_t;	/* 12-bit major, 20-bit minor (<linux/kdev_t.h>) */
typedef unsigned short umode_t;
typedef unsigned int fmode_t;
typedef int pid_t;
typedef unsigned int uid_t;
typedef unsigned int gid_t;
typedef long time_t;
typedef s64 time64_t;
typedef s64 ktime_t;
typedef long clock_t;
typedef unsigned long sector_t;
typedef unsigned long blkcnt_t;
typedef unsigned int __poll_t;
typedef unsigned int slab_flags_t;
typedef unsigned long phys_addr_t;
typedef phys_addr_t resource_size_t;
typedef u32 dma_addr_t;
typedef unsigned long irq_hw_number_t;

typedef struct { uid_t val; } kuid_t;
typedef struct { gid_t val; } kgid_t;

typedef struct {
	int counter;
} atomic_t;

typedef struct {
	long counter;
} atomic_long_t;

typedef struct {
	s64 counter;
} atomic64_t;

#define ATOMIC_INIT(i) { (i) }
#define ATOMIC_LONG_INIT(i) { (i) }
#define ATOMIC64_INIT(i) { (i) }

struct list_head {
	struct list_head *next, *prev;
};

struct hlist_head {
	struct hlist_node *first;
};

struct hlist_node {
	struct hlist_node *next, **pprev;
};

struct callback_head {
	struct callback_head *next;
	void (*func)(struct callback_head *head);
} __attribute__((aligned(sizeof(void *))));
#define rcu_head callback_head

typedef void (*rcu_callback_t)(struct rcu_head *head);

#endif /* _LINUX_TYPES_H */
