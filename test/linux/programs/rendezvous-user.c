/*
 * Drives test/sched/modules/rendezvous.c: a process blocked in a module's
 * read while another process runs to completion, then woken by a third
 * process's write; ioctls woken by kernel threads while a process runs;
 * signals ending a sleep in module code (EINTR, a restart, death).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

static void spin(const char *who, unsigned long n)
{
	unsigned long i, s = 0;
	for (i = 0; i < n; i++)
		s += i ^ (s >> 3);
	sink = s;
	printf("%s %d: spun %lu\n", who, getpid(), n);
}

static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
	handled = sig;
}

/* A child that reads /dev/rendezvous (or, ioctl != 0, makes that ioctl) with a SIGUSR1 handler (flags: 0 or SA_RESTART; -1: no handler). */
static pid_t signalled_reader(int fd, int flags, int code, int ioctl_cmd)
{
	pid_t pid = fork();
	if (pid == 0) {
		char buf[32];
		ssize_t n;
		if (flags >= 0) {
			struct sigaction sa;
			memset(&sa, 0, sizeof sa);
			sa.sa_handler = on_usr1;
			sa.sa_flags = flags;
			sigaction(SIGUSR1, &sa, NULL);
		}
		if (ioctl_cmd) {
			n = ioctl(fd, ioctl_cmd, 10000);
			printf("ioctl %d waiter %d: ioctl returned %zd%s%s, handler %d\n", ioctl_cmd, getpid(), n, n < 0 ? ": " : "",
			       n < 0 ? strerror(errno) : "", handled);
			_exit(code);
		}
		n = read(fd, buf, sizeof buf);
		printf("reader %d: read returned %zd%s%s, handler %d, data %.*s\n", getpid(), n, n < 0 ? ": " : "",
		       n < 0 ? strerror(errno) : "", handled, (int)(n > 0 ? n : 0), buf);
		_exit(code);
	}
	return pid;
}

static int status_of(pid_t pid)
{
	int st = 0;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void)
{
	int fd = open("/dev/rendezvous", O_RDWR);
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	pid_t reader, worker, spinner;
	long r;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (fd < 0) {
		perror("open /dev/rendezvous");
		return 1;
	}
	reader = fork();
	if (reader == 0) {
		char buf[32];
		ssize_t n;
		printf("reader %d: reading\n", getpid());
		n = read(fd, buf, sizeof buf);
		printf("reader %d: read %.*s\n", getpid(), (int)(n > 0 ? n : 0), buf);
		_exit(3);
	}
	worker = fork();
	if (worker == 0) {
		spin("worker", 500000);
		_exit(4);
	}
	nanosleep(&ts, NULL);
	printf("parent: worker exited with %d\n", status_of(worker));
	if (write(fd, "hello", 5) != 5)
		perror("write");
	printf("parent: reader exited with %d\n", status_of(reader));

	spinner = fork();
	if (spinner == 0) {
		spin("spinner", 100000);
		_exit(5);
	}
	r = ioctl(fd, 1, 0);
	printf("parent: ioctl 1 woken by kernel thread %ld\n", r);
	printf("parent: spinner exited with %d\n", status_of(spinner));
	r = ioctl(fd, 2, 0);
	printf("parent: ioctl 2 (semaphore) upped by kernel thread %ld\n", r);
	r = ioctl(fd, 3, 20);
	printf("parent: ioctl 3 (msleep) returned %ld\n", r);

	reader = signalled_reader(fd, 0, 6, 0);
	nanosleep(&ts, NULL);
	kill(reader, SIGUSR1);
	printf("parent: reader without SA_RESTART exited with %d\n", status_of(reader));
	reader = signalled_reader(fd, SA_RESTART, 7, 0);
	nanosleep(&ts, NULL);
	kill(reader, SIGUSR1);
	nanosleep(&ts, NULL);
	if (write(fd, "again", 5) != 5)
		perror("write");
	printf("parent: reader with SA_RESTART exited with %d\n", status_of(reader));
	reader = signalled_reader(fd, -1, 8, 0);
	nanosleep(&ts, NULL);
	kill(reader, SIGTERM);
	printf("parent: reader killed by SIGTERM: %d\n", status_of(reader));
	reader = signalled_reader(fd, SA_RESTART, 9, 4);
	nanosleep(&ts, NULL);
	kill(reader, SIGUSR1);
	printf("parent: semaphore waiter exited with %d\n", status_of(reader));
	reader = signalled_reader(fd, 0, 10, 6);
	nanosleep(&ts, NULL);
	kill(reader, SIGUSR1);
	printf("parent: msleep_interruptible waiter exited with %d\n", status_of(reader));
	reader = signalled_reader(fd, 0, 11, 7);
	nanosleep(&ts, NULL);
	kill(reader, SIGUSR1);
	printf("parent: completion waiter exited with %d\n", status_of(reader));
	{
		char byte = '-';
		r = ioctl(fd, 5, &byte);
		printf("parent: ioctl 5 returned %ld, byte '%c'\n", r, byte);
	}
	close(fd);
	return 0;
}
