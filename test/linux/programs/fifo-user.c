/*
 * Drives /dev/kmemsim_fifo (test/linux/modules/fifo.c): poll(2) and
 * select(2) that sleep until another process writes, writev(2)/readv(2),
 * and (unless built with -DNO_MMAP) mmap(2) of the driver's page.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };
	nanosleep(&ts, NULL);
}

static void writer(int fd, const char *a, const char *b)
{
	struct iovec v[2] = { { (void *)a, strlen(a) }, { (void *)b, strlen(b) } };

	nap(20);
	printf("child: writev %zd\n", writev(fd, v, 2));
	fflush(stdout);
}

int main(void)
{
	int fd = open("/dev/kmemsim_fifo", O_RDWR);
	struct pollfd p = { fd, POLLIN | POLLOUT, 0 };
	char one[4] = { 0 }, two[16] = { 0 };
	struct iovec v[2] = { { one, 3 }, { two, 15 } };
	fd_set rd;
	int n, status;

	if (fd < 0) {
		perror("open /dev/kmemsim_fifo");
		return 1;
	}
	n = poll(&p, 1, 0);
	printf("poll, timeout 0: %d, revents %#x\n", n, p.revents);
	p.events = POLLIN;
	n = poll(&p, 1, 10);
	if (n < 0)
		perror("poll");
	printf("poll POLLIN, timeout 10 ms: %d, revents %#x\n", n, p.revents);
	fflush(stdout);

	if (fork() == 0) {
		writer(fd, "hel", "lo");
		return 0;
	}
	n = poll(&p, 1, -1);
	printf("poll POLLIN, no timeout: %d, revents %#x\n", n, p.revents);
	wait(&status);
	n = readv(fd, v, 2);
	printf("readv %d: \"%s\" \"%s\"\n", n, one, two);
	fflush(stdout);

	if (fork() == 0) {
		writer(fd, "sel", "ect");
		return 0;
	}
	FD_ZERO(&rd);
	FD_SET(fd, &rd);
	n = select(fd + 1, &rd, NULL, NULL, NULL);
	printf("select: %d, readable %d\n", n, FD_ISSET(fd, &rd) ? 1 : 0);
	wait(&status);
#ifndef NO_MMAP
	{
		char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		if (m == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		printf("mmap: \"%.6s\"\n", m);
		m[0] = 'S';
		munmap(m, 4096);
		if (mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED)
			perror("mmap 8192");
	}
#endif
	memset(two, 0, sizeof(two));
	n = read(fd, two, sizeof(two) - 1);
	printf("read %d: \"%s\"\n", n, two);
	close(fd);
	return 0;
}
