/*
 * The program side of watch-user.c: a static glibc program that asks the
 * module to watch one of its buffers, touches it (and its neighbour, which
 * is not watched), forks a child whose copy is not watched, and reads the
 * statistics. With the argument "exit" it leaves the buffer watched and
 * exits: the kernel drops it then. With "marker" it writes the buffer's
 * address to trace_marker instead of asking the module (a TypeScript user
 * of WatchFramework adds it: test/watch/user-buffer.test.ts).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "watch-user.h"

static struct {
	char buf[16];
	char next[16];
} __attribute__((aligned(4096))) area;

int main(int argc, char **argv)
{
	struct watch_user_req req = { (unsigned long)area.buf, sizeof(area.buf) };
	volatile char *b = area.buf;
	int fd = open("/dev/" WATCH_USER_NAME, O_RDWR);
	pid_t child;
	int r, sum = 0;

	if (fd < 0) {
		perror("/dev/" WATCH_USER_NAME);
		return 1;
	}
	memset(&area, 0, sizeof(area));	/* the pages are present before they are watched */
	if (argc > 1 && strcmp(argv[1], "marker") == 0) {
		int m = open("/sys/kernel/tracing/trace_marker", O_WRONLY);

		r = dprintf(m, "watch %#lx %lu", req.buf, req.len) > 0 ? 0 : -1;
		close(m);
	} else {
		r = ioctl(fd, WATCH_USER_ADD, &req);
	}
	printf("pid %d: watch: %d\n", (int)getpid(), r);
	*(volatile unsigned int *)(b + 4) = 0x11223344;	/* a 32-bit write */
	b[0] = 'k';					/* a byte */
	sum += b[5];					/* a read */
	area.next[0] = 1;				/* the neighbour: foreign */
	child = fork();
	if (child == 0) {
		b[1] = 'c';				/* the child's own copy: not watched */
		_exit(b[1] == 'c' ? 0 : 1);
	}
	waitpid(child, &r, 0);
	printf("child exited %d, sum %d\n", WEXITSTATUS(r), sum);
	if (argc > 1 && strcmp(argv[1], "marker") != 0)
		return 0;				/* still watched: dropped at exit */
	r = ioctl(fd, WATCH_USER_STATS, area.buf);
	printf("stats: %d\n", r);
	b[2] = 'x';					/* no longer watched */
	r = ioctl(fd, WATCH_USER_STATS, area.buf);
	printf("again: %d\n", r);
	return 0;
}
