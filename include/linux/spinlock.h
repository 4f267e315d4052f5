/*
 * <linux/spinlock.h> for kmemsim's uniprocessor kernel: a spinlock cannot be
 * contended by another CPU, so taking it marks it held (and disables
 * interrupts in the _irq/_irqsave forms, with CLI). With
 * CONFIG_DEBUG_SPINLOCK's checks, taking a held lock is "spinlock
 * recursion" (it would deadlock) and releasing a free one "already
 * unlocked": both are reported by the kernel's spin_bug() as Linux's
 * lib/locking/spinlock_debug.c reports them, and stop the machine.
 */
#ifndef _LINUX_SPINLOCK_H
#define _LINUX_SPINLOCK_H
#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/irqflags.h>
#include <linux/spinlock_types.h>
#include <linux/rwlock.h>
#include <linux/preempt.h>

void spin_bug(spinlock_t *lock, const char *msg);

#define spin_lock_init(lock) do { (lock)->locked = 0; } while (0)
#define raw_spin_lock_init(lock) spin_lock_init(lock)

static __always_inline void spin_lock(spinlock_t *lock)
{
	preempt_disable();	/* a sleep while holding it is "sleeping function called from invalid context" */
	if (unlikely(lock->locked))
		spin_bug(lock, "recursion");
	lock->locked = 1;
	barrier();
}

static __always_inline void spin_unlock(spinlock_t *lock)
{
	barrier();
	if (unlikely(!lock->locked))
		spin_bug(lock, "already unlocked");
	lock->locked = 0;
	preempt_enable();
}

static __always_inline int spin_trylock(spinlock_t *lock)
{
	if (lock->locked)
		return 0;
	preempt_disable();
	lock->locked = 1;
	barrier();
	return 1;
}

static __always_inline int spin_is_locked(spinlock_t *lock) { return lock->locked; }

static __always_inline void spin_lock_irq(spinlock_t *lock)
{
	local_irq_disable();
	spin_lock(lock);
}

static __always_inline void spin_unlock_irq(spinlock_t *lock)
{
	spin_unlock(lock);
	local_irq_enable();
}

#define spin_lock_irqsave(lock, flags) do { local_irq_save(flags); spin_lock(lock); } while (0)
#define spin_unlock_irqrestore(lock, flags) do { spin_unlock(lock); local_irq_restore(flags); } while (0)
#define spin_trylock_irqsave(lock, flags) ({ local_irq_save(flags); spin_trylock(lock) ? 1 : ({ local_irq_restore(flags); 0; }); })
/* No softirqs in kmemsim's kernel: the _bh forms are the plain ones. */
#define spin_lock_bh(lock) spin_lock(lock)
#define spin_unlock_bh(lock) spin_unlock(lock)
#define spin_lock_nested(lock, subclass) spin_lock(lock)
#define assert_spin_locked(lock) do { if (unlikely(!(lock)->locked)) spin_bug(lock, "not locked"); } while (0)
#define lockdep_assert_held(l) do { } while (0)

#define raw_spin_lock spin_lock
#define raw_spin_unlock spin_unlock
#define raw_spin_lock_irqsave spin_lock_irqsave
#define raw_spin_unlock_irqrestore spin_unlock_irqrestore

#endif
