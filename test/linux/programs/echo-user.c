/* Drives test/linux/modules/echo.c from user space: /dev and /proc, ioctl, read, write, EFAULT. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define ECHO_SET _IOW('k', 1, int)
#define ECHO_GET _IOR('k', 2, int)
#define ECHO_ADD _IO('k', 3)

int main(void)
{
	struct stat st;
	char buf[256];
	int v = 41, fd, n;
	FILE *f;
	volatile unsigned long bad = 16;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (stat("/dev/kmemsim_echo", &st) != 0) {
		perror("stat");
		return 1;
	}
	printf("dev %u:%u chr %d\n", major(st.st_rdev), minor(st.st_rdev), S_ISCHR(st.st_mode));
	fd = open("/dev/kmemsim_echo", O_RDWR);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	n = ioctl(fd, ECHO_SET, &v);
	printf("set %d\n", n);
	n = ioctl(fd, ECHO_ADD, 10);
	printf("add %d\n", n);
	v = 0;
	n = ioctl(fd, ECHO_GET, &v);
	printf("get %d value %d\n", n, v);
	n = ioctl(fd, ECHO_GET, (int *)0xc0001000);
	printf("get kernel address %d errno %d\n", n, errno);
	n = ioctl(fd, ECHO_SET, (int *)0);
	printf("set NULL %d errno %d\n", n, errno);
	n = ioctl(fd, _IO('k', 9));
	printf("unknown %d errno %d\n", n, errno);
	n = write(fd, "hello, module", 13);
	printf("write %d\n", n);
	n = write(fd, (char *)(unsigned long)bad, 4);
	printf("write bad %d errno %d\n", n, errno);
	n = pread(fd, buf, 5, 7);
	printf("pread %d '%.*s'\n", n, n > 0 ? n : 0, buf);
	n = read(fd, buf, sizeof(buf));
	printf("read %d '%.*s'\n", n, n > 0 ? n : 0, buf);
	n = read(fd, buf, sizeof(buf));
	printf("read eof %d\n", n);
	printf("lseek %ld\n", (long)lseek(fd, 2, SEEK_SET));
	n = read(fd, buf, 3);
	printf("read %d '%.*s'\n", n, n > 0 ? n : 0, buf);
	close(fd);
	f = fopen("/proc/kmemsim_echo", "r");
	if (!f) {
		perror("fopen /proc/kmemsim_echo");
		return 1;
	}
	while (fgets(buf, sizeof(buf), f))
		printf("proc: %s", buf);
	fclose(f);
	return 0;
}
