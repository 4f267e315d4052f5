/*
 * The commands of /dev/taskstk (test/linux/modules/task-stacks.c), for the
 * module and the programs that drive it (test/linux/programs/*-user.c).
 * Include it after <linux/ioctl.h> or <sys/ioctl.h>.
 */
#ifndef TASK_STACKS_H
#define TASK_STACKS_H

#define TS_DEVICE	"/dev/taskstk"

#define TS_UNINIT	_IOR('t', 1, int)
#define TS_KTHREAD	_IO('t', 2)
#define TS_SLEEP	_IOR('t', 3, int)
#define TS_WAKE		_IO('t', 4)
#define TS_STACK	_IOR('t', 5, unsigned long)
#define TS_REMOTE	_IOR('t', 6, int)
#define TS_NAP		_IOR('t', 7, int)
#define TS_KTHREAD_NAP	_IOR('t', 8, int)
#define TS_PASS		_IOR('t', 9, int)
#define TS_PASS_KTHREAD	_IOR('t', 10, int)

#endif
