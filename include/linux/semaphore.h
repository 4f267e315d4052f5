/*
 * <linux/semaphore.h>: counting semaphores (kernel/locking/semaphore.c).
 * down() sleeps while the count is 0; up() hands the unit to the first
 * waiter (FIFO) or increments the count. DEFINE_SEMAPHORE takes the
 * initial count since Linux 6.4 and defaults to 1 without it (older
 * kernels), so both forms build.
 */
#ifndef _LINUX_SEMAPHORE_H
#define _LINUX_SEMAPHORE_H
#include <linux/types.h>
#include <linux/spinlock_types.h>

struct semaphore {
	raw_spinlock_t lock;
	unsigned int count;
	struct list_head wait_list;
};

#define __SEMAPHORE_INITIALIZER(name, n) { \
	.lock = __RAW_SPIN_LOCK_UNLOCKED((name).lock), \
	.count = n, \
	.wait_list = { &(name).wait_list, &(name).wait_list } }

#define __DEFINE_SEMAPHORE_1(name) struct semaphore name = __SEMAPHORE_INITIALIZER(name, 1)
#define __DEFINE_SEMAPHORE_2(name, n) struct semaphore name = __SEMAPHORE_INITIALIZER(name, n)
#define __DEFINE_SEMAPHORE_PICK(_1, _2, which, ...) which
#define DEFINE_SEMAPHORE(...) __DEFINE_SEMAPHORE_PICK(__VA_ARGS__, __DEFINE_SEMAPHORE_2, __DEFINE_SEMAPHORE_1)(__VA_ARGS__)

static inline void sema_init(struct semaphore *sem, int val)
{
	sem->lock = (raw_spinlock_t)__RAW_SPIN_LOCK_UNLOCKED(sem->lock);
	sem->count = val;
	sem->wait_list.next = sem->wait_list.prev = &sem->wait_list;
}

void down(struct semaphore *sem);
int __attribute__((warn_unused_result)) down_interruptible(struct semaphore *sem);
int __attribute__((warn_unused_result)) down_killable(struct semaphore *sem);
int __attribute__((warn_unused_result)) down_trylock(struct semaphore *sem);
int __attribute__((warn_unused_result)) down_timeout(struct semaphore *sem, long timeout);
void up(struct semaphore *sem);

#endif
