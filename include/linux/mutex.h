/*
 * <linux/mutex.h>: sleeping mutexes (kernel/locking/mutex.c). kmemsim's
 * kernel has lock debugging on (CONFIG_DEBUG_LOCK_ALLOC), so, as in
 * Linux, mutex_lock() is mutex_lock_nested(lock, 0) — the function a
 * tracer probes. The owner is the task_struct holding it; unlock hands the
 * mutex to the first waiter (FIFO).
 */
#ifndef _LINUX_MUTEX_H
#define _LINUX_MUTEX_H
#include <linux/types.h>
#include <linux/spinlock_types.h>

struct mutex {
	atomic_long_t owner;
	raw_spinlock_t wait_lock;
	struct list_head wait_list;
};

#define __MUTEX_INITIALIZER(lockname) { \
	.owner = { 0 }, \
	.wait_lock = __RAW_SPIN_LOCK_UNLOCKED(lockname.wait_lock), \
	.wait_list = { &(lockname).wait_list, &(lockname).wait_list } }
#define DEFINE_MUTEX(mutexname) struct mutex mutexname = __MUTEX_INITIALIZER(mutexname)

void __mutex_init(struct mutex *lock, const char *name, void *key);
#define mutex_init(mutex) __mutex_init((mutex), #mutex, NULL)
static inline void mutex_destroy(struct mutex *lock) { (void)lock; }

void mutex_lock_nested(struct mutex *lock, unsigned int subclass);
int __attribute__((warn_unused_result)) mutex_lock_interruptible_nested(struct mutex *lock, unsigned int subclass);
int __attribute__((warn_unused_result)) mutex_lock_killable_nested(struct mutex *lock, unsigned int subclass);
#define mutex_lock(lock) mutex_lock_nested(lock, 0)
#define mutex_lock_interruptible(lock) mutex_lock_interruptible_nested(lock, 0)
#define mutex_lock_killable(lock) mutex_lock_killable_nested(lock, 0)
int mutex_trylock(struct mutex *lock);
void mutex_unlock(struct mutex *lock);
static inline bool mutex_is_locked(struct mutex *lock) { return *(volatile long *)&lock->owner.counter != 0; }

#endif
