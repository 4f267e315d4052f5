/*
 * <linux/rcupdate.h>: RCU on kmemsim's uniprocessor, non-preemptible
 * kernel (Linux's Tiny RCU): a read-side critical section is a
 * preempt-disabled region (sleeping in one is reported), so by the time a
 * task calls synchronize_rcu() every other task has passed a quiescent
 * state and it returns at once, after its might_sleep() check.
 * call_rcu() callbacks and kfree_rcu() frees run at the next context
 * switch (the next quiescent state), in softirq context, or in
 * rcu_barrier() (src/kernel/rcu.ts).
 */
#ifndef _LINUX_RCUPDATE_H
#define _LINUX_RCUPDATE_H
#include <linux/types.h>
#include <linux/preempt.h>

#define rcu_read_lock() preempt_disable()
#define rcu_read_unlock() preempt_enable()
#define rcu_read_lock_bh() preempt_disable()
#define rcu_read_unlock_bh() preempt_enable()
#define rcu_read_lock_sched() preempt_disable()
#define rcu_read_unlock_sched() preempt_enable()
#define rcu_read_lock_held() (preempt_count() != 0)

#define rcu_dereference(p) (*(__typeof__(p) volatile *)&(p))
#define rcu_dereference_protected(p, c) (p)
#define rcu_dereference_raw(p) rcu_dereference(p)
#define rcu_dereference_check(p, c) rcu_dereference(p)
#define rcu_access_pointer(p) rcu_dereference(p)
#define rcu_assign_pointer(p, v) do { __asm__ __volatile__("" ::: "memory"); (p) = (v); } while (0)
#define RCU_INIT_POINTER(p, v) do { (p) = (v); } while (0)
#define RCU_INITIALIZER(v) (v)

void synchronize_rcu(void);
static inline void synchronize_rcu_expedited(void) { synchronize_rcu(); }
void rcu_barrier(void);
void call_rcu(struct rcu_head *head, rcu_callback_t func);

/* kfree_rcu(ptr, rhf): kfree(ptr) after a grace period (ptr->rhf is its struct rcu_head). */
void kvfree_call_rcu(struct rcu_head *head, void *ptr);
#define kfree_rcu(ptr, rhf) kvfree_call_rcu(&((ptr)->rhf), (void *)(ptr))
#define kvfree_rcu(ptr, rhf) kfree_rcu(ptr, rhf)

#endif
