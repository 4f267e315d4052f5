/*
 * Drives /dev/taskstk (test/linux/modules/task-stacks.c) from two
 * processes, for --stack cpl1. "uninit": a child process makes the
 * uninitialized read in its own system call (TS_UNINIT), then the parent
 * has a kernel thread make one (TS_KTHREAD). "sleep": parent and child
 * sleep in module code at the same time, each with a filled record on its
 * kernel stack (TS_NAP), then a kernel thread does the same
 * (TS_KTHREAD_NAP).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../modules/task-stacks.h"

int main(int argc, char **argv)
{
	int sleep = argc > 1 && strcmp(argv[1], "sleep") == 0;
	int fd = open(TS_DEVICE, O_RDONLY), v = 0, status = 0;
	pid_t child;

	if (fd < 0) {
		perror("open " TS_DEVICE);
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		int r = ioctl(fd, sleep ? TS_NAP : TS_UNINIT, &v);

		if (sleep)
			printf("child: ioctl %d, sum %s\n", r, v == getpid() * (getpid() + 1) - (getpid() + 2) ? "right" : "wrong");
		else
			printf("child: ioctl %d\n", r);
		return 0;
	}
	if (sleep) {
		int r = ioctl(fd, TS_NAP, &v);

		printf("parent: ioctl %d, sum %s\n", r, v == getpid() * (getpid() + 1) - (getpid() + 2) ? "right" : "wrong");
	}
	waitpid(child, &status, 0);
	if (sleep) {
		int r = ioctl(fd, TS_KTHREAD_NAP, &v);

		printf("kthread: ioctl %d, sum %s\n", r, v == 10 * 11 - 12 ? "right" : "wrong");
	} else {
		printf("kthread: ioctl %d\n", ioctl(fd, TS_KTHREAD));
	}
	close(fd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
