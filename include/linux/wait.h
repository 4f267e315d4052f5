/*
 * <linux/wait.h>: wait queues (kernel/sched/wait.c). The wait_event*()
 * macros are Linux's ___wait_event() loop: queue an entry on the stack,
 * set the task state, test the condition, schedule(); wake_up*() walk the
 * queue in guest memory.
 */
#ifndef _LINUX_WAIT_H
#define _LINUX_WAIT_H
#include <linux/types.h>
#include <linux/spinlock_types.h>
#include <linux/sched.h>

#define WQ_FLAG_EXCLUSIVE	0x01
#define WQ_FLAG_WOKEN		0x02

struct wait_queue_entry;
typedef int (*wait_queue_func_t)(struct wait_queue_entry *wq_entry, unsigned mode, int flags, void *key);

struct wait_queue_entry {
	unsigned int flags;
	void *private;
	wait_queue_func_t func;
	struct list_head entry;
};
typedef struct wait_queue_entry wait_queue_entry_t;

struct wait_queue_head {
	spinlock_t lock;
	struct list_head head;
};
typedef struct wait_queue_head wait_queue_head_t;

#define __WAIT_QUEUE_HEAD_INITIALIZER(name) { \
	.lock = __SPIN_LOCK_UNLOCKED(name.lock), \
	.head = { &(name).head, &(name).head } }
#define DECLARE_WAIT_QUEUE_HEAD(name) struct wait_queue_head name = __WAIT_QUEUE_HEAD_INITIALIZER(name)

void __init_waitqueue_head(struct wait_queue_head *wq_head, const char *name, void *key);
#define init_waitqueue_head(wq_head) __init_waitqueue_head((wq_head), #wq_head, NULL)

int autoremove_wake_function(struct wait_queue_entry *wq_entry, unsigned mode, int sync, void *key);
int default_wake_function(struct wait_queue_entry *wq_entry, unsigned mode, int flags, void *key);
int woken_wake_function(struct wait_queue_entry *wq_entry, unsigned mode, int sync, void *key);
void init_wait_entry(struct wait_queue_entry *wq_entry, int flags);
long prepare_to_wait_event(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry, int state);
void prepare_to_wait(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry, int state);
bool prepare_to_wait_exclusive(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry, int state);
void finish_wait(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry);
void add_wait_queue(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry);
void remove_wait_queue(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry);
int __wake_up(struct wait_queue_head *wq_head, unsigned int mode, int nr, void *key);
void __wake_up_sync(struct wait_queue_head *wq_head, unsigned int mode);

#define DEFINE_WAIT_FUNC(name, function) \
	struct wait_queue_entry name = { .private = current, .func = function, .entry = { &(name).entry, &(name).entry } }
#define DEFINE_WAIT(name) DEFINE_WAIT_FUNC(name, autoremove_wake_function)
#define DECLARE_WAITQUEUE(name, tsk) \
	struct wait_queue_entry name = { .private = tsk, .func = default_wake_function, .entry = { NULL, NULL } }

static inline int waitqueue_active(struct wait_queue_head *wq_head) { return wq_head->head.next != &wq_head->head; }
static inline bool wq_has_sleeper(struct wait_queue_head *wq_head) { return waitqueue_active(wq_head); }

#define wake_up(x)			__wake_up(x, TASK_NORMAL, 1, NULL)
#define wake_up_nr(x, nr)		__wake_up(x, TASK_NORMAL, nr, NULL)
#define wake_up_all(x)			__wake_up(x, TASK_NORMAL, 0, NULL)
#define wake_up_interruptible(x)	__wake_up(x, TASK_INTERRUPTIBLE, 1, NULL)
#define wake_up_interruptible_nr(x, nr)	__wake_up(x, TASK_INTERRUPTIBLE, nr, NULL)
#define wake_up_interruptible_all(x)	__wake_up(x, TASK_INTERRUPTIBLE, 0, NULL)
#define wake_up_interruptible_sync(x)	__wake_up_sync((x), TASK_INTERRUPTIBLE)

#define ___wait_is_interruptible(state) \
	(__builtin_constant_p(state) ? ((state) == TASK_INTERRUPTIBLE || (state) == TASK_KILLABLE) : 1)

#define ___wait_event(wq_head, condition, state, exclusive, ret, cmd) ({ \
	__label__ __out; \
	struct wait_queue_entry __wq_entry; \
	long __ret = ret; \
	init_wait_entry(&__wq_entry, exclusive ? WQ_FLAG_EXCLUSIVE : 0); \
	for (;;) { \
		long __int = prepare_to_wait_event(&wq_head, &__wq_entry, state); \
		if (condition) \
			break; \
		if (___wait_is_interruptible(state) && __int) { \
			__ret = __int; \
			goto __out; \
		} \
		cmd; \
	} \
	finish_wait(&wq_head, &__wq_entry); \
__out:	__ret; })

#define ___wait_cond_timeout(condition) ({ \
	bool __cond = (condition); \
	if (__cond && !__ret) \
		__ret = 1; \
	__cond || !__ret; })

#define wait_event(wq_head, condition) do { \
	might_sleep(); \
	if (condition) \
		break; \
	(void)___wait_event(wq_head, condition, TASK_UNINTERRUPTIBLE, 0, 0, schedule()); \
} while (0)

#define wait_event_interruptible(wq_head, condition) ({ \
	int __ret = 0; \
	might_sleep(); \
	if (!(condition)) \
		__ret = ___wait_event(wq_head, condition, TASK_INTERRUPTIBLE, 0, 0, schedule()); \
	__ret; })

#define wait_event_killable(wq_head, condition) ({ \
	int __ret = 0; \
	might_sleep(); \
	if (!(condition)) \
		__ret = ___wait_event(wq_head, condition, TASK_KILLABLE, 0, 0, schedule()); \
	__ret; })

#define wait_event_exclusive_cmd(wq_head, condition, cmd1, cmd2) do { \
	if (condition) \
		break; \
	(void)___wait_event(wq_head, condition, TASK_UNINTERRUPTIBLE, 1, 0, cmd1; schedule(); cmd2); \
} while (0)

#define wait_event_timeout(wq_head, condition, timeout) ({ \
	long __ret = timeout; \
	might_sleep(); \
	if (!___wait_cond_timeout(condition)) \
		__ret = ___wait_event(wq_head, ___wait_cond_timeout(condition), TASK_UNINTERRUPTIBLE, 0, timeout, \
				      __ret = schedule_timeout(__ret)); \
	__ret; })

#define wait_event_interruptible_timeout(wq_head, condition, timeout) ({ \
	long __ret = timeout; \
	might_sleep(); \
	if (!___wait_cond_timeout(condition)) \
		__ret = ___wait_event(wq_head, ___wait_cond_timeout(condition), TASK_INTERRUPTIBLE, 0, timeout, \
				      __ret = schedule_timeout(__ret)); \
	__ret; })

#endif
