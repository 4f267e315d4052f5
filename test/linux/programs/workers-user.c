/* Drives test/sched/modules/workers-dev.c: kernel threads started by an ioctl, with pids apart from the processes'. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	int fd = open("/dev/workers", O_RDWR);
	long sum;
	if (fd < 0) {
		perror("open /dev/workers");
		return 1;
	}
	printf("pid %d\n", getpid());
	sum = ioctl(fd, 0, 4);
	printf("ioctl: sum of the threads' pids %ld\n", sum);
	close(fd);
	return 0;
}
