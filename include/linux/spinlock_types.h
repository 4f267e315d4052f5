/* <linux/spinlock_types.h>: spinlock_t and rwlock_t (see <linux/spinlock.h>). */
#ifndef _LINUX_SPINLOCK_TYPES_H
#define _LINUX_SPINLOCK_TYPES_H
#include <linux/types.h>

typedef struct spinlock {
	volatile unsigned int locked;
} spinlock_t;

typedef spinlock_t raw_spinlock_t;

typedef struct {
	volatile int readers;	/* -1: held for writing */
} rwlock_t;

#define __SPIN_LOCK_UNLOCKED(lockname) { .locked = 0 }
#define __RAW_SPIN_LOCK_UNLOCKED(lockname) __SPIN_LOCK_UNLOCKED(lockname)
#define DEFINE_SPINLOCK(x) spinlock_t x = __SPIN_LOCK_UNLOCKED(x)
#define DEFINE_RAW_SPINLOCK(x) raw_spinlock_t x = __SPIN_LOCK_UNLOCKED(x)
#define __RW_LOCK_UNLOCKED(lockname) { .readers = 0 }
#define DEFINE_RWLOCK(x) rwlock_t x = __RW_LOCK_UNLOCKED(x)

#endif
