/*
 * <linux/poll.h>: a driver's poll() (fs/select.c). poll_wait() is inline
 * as Linux's: it calls the table's _qproc — the kernel's __pollwait, which
 * puts the polling task on `wait_address` until poll(2)/select(2) ends —
 * and does nothing for a NULL table (a call that will not wait). The
 * EPOLL* masks are Linux's (asm-generic/poll.h values, as on i386).
 */
#ifndef _LINUX_POLL_H
#define _LINUX_POLL_H
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/fs.h>

#define EPOLLIN		0x00000001
#define EPOLLPRI	0x00000002
#define EPOLLOUT	0x00000004
#define EPOLLERR	0x00000008
#define EPOLLHUP	0x00000010
#define EPOLLNVAL	0x00000020
#define EPOLLRDNORM	0x00000040
#define EPOLLRDBAND	0x00000080
#define EPOLLWRNORM	0x00000100
#define EPOLLWRBAND	0x00000200
#define EPOLLMSG	0x00000400
#define EPOLLRDHUP	0x00002000

#define POLLIN		EPOLLIN
#define POLLPRI		EPOLLPRI
#define POLLOUT		EPOLLOUT
#define POLLERR		EPOLLERR
#define POLLHUP		EPOLLHUP
#define POLLNVAL	EPOLLNVAL
#define POLLRDNORM	EPOLLRDNORM
#define POLLRDBAND	EPOLLRDBAND
#define POLLWRNORM	EPOLLWRNORM
#define POLLWRBAND	EPOLLWRBAND

#define DEFAULT_POLLMASK (EPOLLIN | EPOLLOUT | EPOLLRDNORM | EPOLLWRNORM)

struct poll_table_struct;
typedef void (*poll_queue_proc)(struct file *, wait_queue_head_t *, struct poll_table_struct *);

typedef struct poll_table_struct {
	poll_queue_proc _qproc;
	__poll_t _key;
} poll_table;

void __pollwait(struct file *filp, wait_queue_head_t *wait_address, poll_table *p);

static inline void poll_wait(struct file *filp, wait_queue_head_t *wait_address, poll_table *p)
{
	if (p && p->_qproc && wait_address)
		p->_qproc(filp, wait_address, p);
}

static inline bool poll_does_not_wait(const poll_table *p)
{
	return p == NULL || p->_qproc == NULL;
}

static inline __poll_t poll_requested_events(const poll_table *p)
{
	return p ? p->_key : ~(__poll_t)0;
}
#endif
