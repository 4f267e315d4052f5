/*
 * <linux/kthread.h>: kernel threads. Each has its own kernel stack
 * (THREAD_SIZE, 8 KiB) and pid; kthread_create() makes one that sleeps
 * until wake_up_process(), kthread_run() starts it at once. threadfn's
 * return value is what kthread_stop() returns; kthread_stop() of a thread
 * that never ran returns -EINTR without running threadfn, as Linux.
 */
#ifndef _LINUX_KTHREAD_H
#define _LINUX_KTHREAD_H
#include <linux/types.h>
#include <linux/err.h>
#include <linux/sched.h>

#define NUMA_NO_NODE (-1)

__attribute__((format(printf, 4, 5)))
struct task_struct *kthread_create_on_node(int (*threadfn)(void *data), void *data, int node, const char namefmt[], ...);

#define kthread_create(threadfn, data, namefmt, arg...) \
	kthread_create_on_node(threadfn, data, NUMA_NO_NODE, namefmt, ##arg)

#define kthread_run(threadfn, data, namefmt, ...) ({ \
	struct task_struct *__k = kthread_create(threadfn, data, namefmt, ##__VA_ARGS__); \
	if (!IS_ERR(__k)) \
		wake_up_process(__k); \
	__k; })

int kthread_stop(struct task_struct *k);
bool kthread_should_stop(void);
__attribute__((noreturn)) void do_exit(long code);
#define kthread_complete_and_exit(comp, code) do { if (comp) complete(comp); do_exit(code); } while (0)

#endif
