/* The ioctl interface of watch-user.c (/dev/watch_user, misc 10:60). */
#ifndef WATCH_USER_H
#define WATCH_USER_H 1

#define WATCH_USER_MINOR 60
#define WATCH_USER_NAME "watch_user"

struct watch_user_req {
	unsigned long buf;	/* the caller's buffer */
	unsigned long len;
};

#define WATCH_USER_ADD		0x5701	/* arg: struct watch_user_req *: watch it (kmcf_add in the caller) */
#define WATCH_USER_STATS	0x5702	/* arg: the buffer: print its statistics, stop watching it (kmcf_delete) */

#endif
