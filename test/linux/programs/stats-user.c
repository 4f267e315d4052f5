/* Calls STATS_GET on /dev/stats (test/linux/modules/uninit-ioctl.c). */
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define STATS_GET _IOR('s', 1, int)

int main(void)
{
	int total = -1, fd = open("/dev/stats", O_RDONLY);
	int r;

	if (fd < 0) {
		perror("open /dev/stats");
		return 1;
	}
	r = ioctl(fd, STATS_GET, &total);
	printf("ioctl %d\n", r);
	close(fd);
	return 0;
}
