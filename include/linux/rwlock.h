/*
 * <linux/rwlock.h>: reader-writer spinlocks on the uniprocessor kernel:
 * readers count up, a writer marks the lock -1; taking it for writing while
 * held, or for reading while write-held, would deadlock and is reported by
 * spin_bug() (rwlock_bug in Linux's spinlock_debug.c).
 */
#ifndef _LINUX_RWLOCK_H
#define _LINUX_RWLOCK_H
#include <linux/types.h>
#include <linux/irqflags.h>
#include <linux/spinlock_types.h>

void spin_bug(spinlock_t *lock, const char *msg);

#define rwlock_init(lock) do { (lock)->readers = 0; } while (0)

static __always_inline void read_lock(rwlock_t *lock)
{
	if (unlikely(lock->readers < 0))
		spin_bug((spinlock_t *)lock, "read_lock: held for writing");
	lock->readers++;
	barrier();
}

static __always_inline void read_unlock(rwlock_t *lock)
{
	barrier();
	if (unlikely(lock->readers <= 0))
		spin_bug((spinlock_t *)lock, "read_unlock: not held for reading");
	lock->readers--;
}

static __always_inline void write_lock(rwlock_t *lock)
{
	if (unlikely(lock->readers != 0))
		spin_bug((spinlock_t *)lock, "write_lock: already held");
	lock->readers = -1;
	barrier();
}

static __always_inline void write_unlock(rwlock_t *lock)
{
	barrier();
	if (unlikely(lock->readers != -1))
		spin_bug((spinlock_t *)lock, "write_unlock: not held for writing");
	lock->readers = 0;
}

#define read_lock_irqsave(lock, flags) do { local_irq_save(flags); read_lock(lock); } while (0)
#define read_unlock_irqrestore(lock, flags) do { read_unlock(lock); local_irq_restore(flags); } while (0)
#define write_lock_irqsave(lock, flags) do { local_irq_save(flags); write_lock(lock); } while (0)
#define write_unlock_irqrestore(lock, flags) do { write_unlock(lock); local_irq_restore(flags); } while (0)
#define read_lock_irq(lock) do { local_irq_disable(); read_lock(lock); } while (0)
#define read_unlock_irq(lock) do { read_unlock(lock); local_irq_enable(); } while (0)
#define write_lock_irq(lock) do { local_irq_disable(); write_lock(lock); } while (0)
#define write_unlock_irq(lock) do { write_unlock(lock); local_irq_enable(); } while (0)
#define read_lock_bh(lock) read_lock(lock)
#define read_unlock_bh(lock) read_unlock(lock)
#define write_lock_bh(lock) write_lock(lock)
#define write_unlock_bh(lock) write_unlock(lock)

#endif
