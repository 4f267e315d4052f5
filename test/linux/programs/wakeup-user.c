/*
 * Wake-up preemption (test/sched/processes.test.ts, with
 * test/sched/modules/rendezvous.c): a child sleeps in read() of
 * /dev/rendezvous; the parent computes for a while (SPIN iterations, less
 * than a tick), then write()s, which wakes the child. With wake-up
 * preemption the child — which slept while the parent ran — runs at the
 * parent's return to user mode from write(), so "child" is printed before
 * "parent"; without it the parent goes on to the end of its tick first.
 * `./wakeup-user N` spins N iterations (default 100000).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *s)
{
	write(1, s, strlen(s));
}

int main(int argc, char **argv)
{
	long spin = argc > 1 ? atol(argv[1]) : 100000;
	int fd = open("/dev/rendezvous", O_RDWR);
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	volatile unsigned long x = 0;
	char buf[8];
	int status;
	pid_t pid;

	if (fd < 0) {
		perror("open /dev/rendezvous");
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		ssize_t n = read(fd, buf, sizeof(buf));

		say(n == 1 ? "child: read 1 byte\n" : "child: read failed\n");
		_exit(0);
	}
	nanosleep(&ts, NULL); /* the child is asleep in read() by now */
	for (long i = 0; i < spin; i++)
		x += i;
	write(fd, "x", 1);
	say("parent: wrote 1 byte\n");
	waitpid(pid, &status, 0);
	say("parent: child exited\n");
	return 0;
}
