/*
 * Test-only stand-in for the Linux basics <linux/types.h> provides (branch
 * `lkm` writes the real header): searched with -isystem (after -I), so the real one
 * in include/linux wins once it is there.
 */
#ifndef _LINUX_TYPES_H
#define _LINUX_TYPES_H
#define KMEMSIM_LINUX_API 1
#include <kmemsim/kernel.h>
#define __always_inline inline __attribute__((__always_inline__))
typedef int pid_t;
typedef struct { int counter; } atomic_t;
typedef struct { long counter; } atomic_long_t;
struct list_head { struct list_head *next, *prev; };
struct hlist_head { struct hlist_node *first; };
struct hlist_node { struct hlist_node *next, **pprev; };
struct callback_head { struct callback_head *next; void (*func)(struct callback_head *head); };
#define rcu_head callback_head
#endif
