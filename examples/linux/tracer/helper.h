/* tracer_helper.ko's ioctls: kernel threads that make the calls the tracer counts. */
#ifndef TRACER_HELPER_H__
#define TRACER_HELPER_H__ 1

#include <asm/ioctl.h>

#define HELPER_MAX_THREADS 32

struct helper_threads {
	int n;
	int pids[HELPER_MAX_THREADS];
};

/* What thread i does: kmallocs[i] allocations of size[i] bytes (then kfree), pairs[i] down_interruptible/up, locks[i] mutex lock/unlock. */
struct helper_work {
	int kmallocs[HELPER_MAX_THREADS];
	int size[HELPER_MAX_THREADS];
	int pairs[HELPER_MAX_THREADS];
	int locks[HELPER_MAX_THREADS];
};

#define HELPER_CREATE	_IOWR('h', 1, struct helper_threads)
#define HELPER_RUN	_IOW('h', 2, struct helper_work)
#define HELPER_STOP	_IO('h', 3)

#endif
