/* The tracer's ioctl interface (SO2 "Kprobe based tracer"): the PID is passed by value. */
#ifndef TRACER_H__
#define TRACER_H__ 1

/* Include <linux/types.h> (kernel) or <sys/types.h> (user) first, for pid_t. */
#include <asm/ioctl.h>

#define TRACER_DEV_MINOR 42
#define TRACER_DEV_NAME "tracer"

#define TRACER_ADD_PROCESS	_IOW(_IOC_WRITE, 42, pid_t)
#define TRACER_REMOVE_PROCESS	_IOW(_IOC_WRITE, 43, pid_t)

#endif
