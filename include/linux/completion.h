/* <linux/completion.h>: completions (kernel/sched/completion.c); waiters are woken in FIFO order. */
#ifndef _LINUX_COMPLETION_H
#define _LINUX_COMPLETION_H
#include <linux/types.h>
#include <linux/spinlock_types.h>

struct swait_queue_head {
	raw_spinlock_t lock;
	struct list_head task_list;
};

struct completion {
	unsigned int done;
	struct swait_queue_head wait;
};

#define COMPLETION_INITIALIZER(work) \
	{ 0, { __RAW_SPIN_LOCK_UNLOCKED((work).wait.lock), { &(work).wait.task_list, &(work).wait.task_list } } }
#define DECLARE_COMPLETION(work) struct completion work = COMPLETION_INITIALIZER(work)

static inline void init_completion(struct completion *x)
{
	x->done = 0;
	x->wait.task_list.next = x->wait.task_list.prev = &x->wait.task_list;
}
static inline void reinit_completion(struct completion *x) { x->done = 0; }

void wait_for_completion(struct completion *x);
int wait_for_completion_interruptible(struct completion *x);
int wait_for_completion_killable(struct completion *x);
unsigned long wait_for_completion_timeout(struct completion *x, unsigned long timeout);
long wait_for_completion_interruptible_timeout(struct completion *x, unsigned long timeout);
bool try_wait_for_completion(struct completion *x);
bool completion_done(struct completion *x);
void complete(struct completion *x);
void complete_all(struct completion *x);

#endif
