/*
 * Drives /dev/stack_tasks (test/linux/modules/stack-tasks.c) from two
 * processes. "uninit": a child process makes the uninitialized read in its
 * own system call, then the parent has a kernel thread make one. "sleep":
 * parent and child sleep in module code at the same time, each with a
 * filled record on its kernel stack, then a kernel thread does the same.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define TASKS_PROC_UNINIT	_IOR('t', 1, int)
#define TASKS_KTHREAD_UNINIT	_IOR('t', 2, int)
#define TASKS_PROC_SLEEP	_IOR('t', 3, int)
#define TASKS_KTHREAD_SLEEP	_IOR('t', 4, int)

int main(int argc, char **argv)
{
	int sleep = argc > 1 && strcmp(argv[1], "sleep") == 0;
	int fd = open("/dev/stack_tasks", O_RDONLY), v = 0, status = 0;
	pid_t child;

	if (fd < 0) {
		perror("open /dev/stack_tasks");
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		int r = ioctl(fd, sleep ? TASKS_PROC_SLEEP : TASKS_PROC_UNINIT, &v);

		if (sleep)
			printf("child: ioctl %d, sum %s\n", r, v == getpid() * (getpid() + 1) - (getpid() + 2) ? "right" : "wrong");
		else
			printf("child: ioctl %d\n", r);
		return 0;
	}
	if (sleep) {
		int r = ioctl(fd, TASKS_PROC_SLEEP, &v);

		printf("parent: ioctl %d, sum %s\n", r, v == getpid() * (getpid() + 1) - (getpid() + 2) ? "right" : "wrong");
	}
	waitpid(child, &status, 0);
	if (sleep) {
		int r = ioctl(fd, TASKS_KTHREAD_SLEEP, &v);

		printf("kthread: ioctl %d, sum %s\n", r, v == 10 * 11 - 12 ? "right" : "wrong");
	} else {
		printf("kthread: ioctl %d\n", ioctl(fd, TASKS_KTHREAD_UNINIT, &v));
	}
	close(fd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
