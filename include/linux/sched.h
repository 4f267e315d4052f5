/*
 * <linux/sched.h>: tasks and the scheduler of kmemsim's kernel.
 *
 * `current` is the running task (the per-CPU current_task, as on x86).
 * struct task_struct has Linux's field names for what modules use — pid,
 * tgid, comm, mm, __state (also reachable as `state`, its name before
 * 5.14), flags, stack, real_parent, group_leader, exit_code — in kmemsim's
 * own layout. schedule() switches kernel stacks; set_current_state() is a
 * store to current->__state, which schedule() reads, exactly as Linux.
 */
#ifndef _LINUX_SCHED_H
#define _LINUX_SCHED_H
#include <linux/types.h>
#include <linux/preempt.h>

#define TASK_RUNNING		0x00000000
#define TASK_INTERRUPTIBLE	0x00000001
#define TASK_UNINTERRUPTIBLE	0x00000002
#define __TASK_STOPPED		0x00000004
#define __TASK_TRACED		0x00000008
#define EXIT_DEAD		0x00000010
#define EXIT_ZOMBIE		0x00000020
#define TASK_PARKED		0x00000040
#define TASK_DEAD		0x00000080
#define TASK_WAKEKILL		0x00000100
#define TASK_WAKING		0x00000200
#define TASK_NOLOAD		0x00000400
#define TASK_NEW		0x00000800
#define TASK_KILLABLE		(TASK_WAKEKILL | TASK_UNINTERRUPTIBLE)
#define TASK_IDLE		(TASK_UNINTERRUPTIBLE | TASK_NOLOAD)
#define TASK_NORMAL		(TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE)

#define PF_KTHREAD		0x00200000

#define TASK_COMM_LEN 16
#define MAX_SCHEDULE_TIMEOUT	0x7fffffffL

struct mm_struct;

struct task_struct {
	union {
		volatile unsigned int __state;
		volatile unsigned int state;	/* its name before Linux 5.14 */
	};
	void *stack;
	unsigned int flags;
	int prio;
	struct mm_struct *mm;
	int exit_code;
	pid_t pid;
	pid_t tgid;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	char comm[TASK_COMM_LEN];
	unsigned long __kmemsim_reserved[2];
};

extern struct task_struct *current_task;

static __always_inline struct task_struct *get_current(void) { return *(struct task_struct *volatile *)&current_task; }
#define current get_current()

#define __set_current_state(state_value) do { current->__state = (state_value); } while (0)
#define set_current_state(state_value) \
	do { current->__state = (state_value); __asm__ __volatile__("" ::: "memory"); } while (0)
#define get_current_state() (current->__state)

void schedule(void);
long schedule_timeout(long timeout);
long schedule_timeout_interruptible(long timeout);
long schedule_timeout_uninterruptible(long timeout);
int wake_up_process(struct task_struct *tsk);
int __cond_resched(void);
#define cond_resched() __cond_resched()

static inline pid_t task_pid_nr(struct task_struct *tsk) { return tsk->pid; }
static inline pid_t task_tgid_nr(struct task_struct *tsk) { return tsk->tgid; }
static inline pid_t task_pid_vnr(struct task_struct *tsk) { return tsk->pid; }
static inline struct task_struct *get_task_struct(struct task_struct *t) { return t; }
static inline void put_task_struct(struct task_struct *t) { (void)t; }
/*
 * A signal pending for the task (a process's, that its mask lets through;
 * fatal: SIGKILL). Kernel threads receive none. Out of line in kmemsim.
 */
int signal_pending(struct task_struct *p);
int fatal_signal_pending(struct task_struct *p);

/* get_task_comm(): the task's name, NUL-terminated, into buf (TASK_COMM_LEN bytes). */
#define get_task_comm(buf, tsk) ({ \
	int __i; \
	for (__i = 0; __i < TASK_COMM_LEN - 1 && (tsk)->comm[__i]; __i++) (buf)[__i] = (tsk)->comm[__i]; \
	(buf)[__i] = 0; (buf); })

#endif
