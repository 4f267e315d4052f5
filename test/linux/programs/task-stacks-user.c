/*
 * Drives test/linux/modules/task-stacks.c from several tasks (argv[1]):
 *   fork     a child process makes the TS_UNINIT call (the parent never does)
 *   kthread  TS_KTHREAD: a kernel thread makes the planted read
 *   sleep    a child sleeps in TS_SLEEP while the parent runs TS_WAKE, then
 *            the child makes the TS_UNINIT call
 *   reuse    two children one after the other (the second gets the first's
 *            freed kernel stack): both print their stack, the second makes
 *            the TS_UNINIT call
 *   remote   a child makes the TS_REMOTE call (a kernel thread fills a
 *            buffer on the child's kernel stack)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../modules/task-stacks.h"

static int dev(void)
{
	int fd = open(TS_DEVICE, O_RDWR);

	if (fd < 0) {
		perror("open " TS_DEVICE);
		exit(1);
	}
	return fd;
}

static void uninit(const char *who)
{
	int total = -1, fd = dev();

	printf("%s: TS_UNINIT %d\n", who, ioctl(fd, TS_UNINIT, &total));
	close(fd);
}

static void stack(const char *who)
{
	unsigned long s = 0;
	int fd = dev();

	if (ioctl(fd, TS_STACK, &s) == 0)
		printf("%s: stack %#lx\n", who, s);
	close(fd);
}

/* Run `child` in a child process and wait for it; its exit status. */
static int spawn(void (*child)(void))
{
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		child();
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void fork_child(void) { uninit("child"); }

static void sleeper(void)
{
	int total = -1, fd = dev();

	printf("sleeper: TS_SLEEP %d", ioctl(fd, TS_SLEEP, &total));
	printf(" sum %d\n", total);
	close(fd);
	uninit("sleeper");
}

static void remote(void)
{
	int sum = -1, fd = dev();

	printf("child: TS_REMOTE %d", ioctl(fd, TS_REMOTE, &sum));
	printf(" sum %d\n", sum);
	close(fd);
}

static void first(void) { stack("first"); }
static void second(void) { stack("second"); uninit("second"); }

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";

	if (!strcmp(what, "fork")) {
		printf("child exited %d\n", spawn(fork_child));
	} else if (!strcmp(what, "kthread")) {
		int fd = dev();

		printf("TS_KTHREAD %d\n", ioctl(fd, TS_KTHREAD));
		close(fd);
	} else if (!strcmp(what, "sleep")) {
		int status, fd;
		pid_t pid = fork();

		if (pid == 0) {
			sleeper();
			fflush(stdout);
			_exit(0);
		}
		fd = dev();
		printf("waker: TS_WAKE %d\n", ioctl(fd, TS_WAKE));
		fflush(stdout);
		close(fd);
		waitpid(pid, &status, 0);
		printf("sleeper exited %d\n", WEXITSTATUS(status));
	} else if (!strcmp(what, "remote")) {
		spawn(remote);
	} else if (!strcmp(what, "reuse")) {
		spawn(first);
		spawn(second);
	} else {
		fprintf(stderr, "usage: task-stacks-user fork|kthread|sleep|reuse|remote\n");
		return 2;
	}
	return 0;
}
