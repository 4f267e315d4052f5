/*
 * Drives test/linux/modules/ftrace-ioctl.c: `sum` (FT_SUM in this process),
 * `fork` (FT_SUM in a child process, on its own kernel stack, then here),
 * `thread` (FT_THREAD: the module's kernel thread does the sum).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define FT_SUM _IOR('f', 1, int)
#define FT_THREAD _IOR('f', 2, int)

static int call(const char *who, unsigned long cmd)
{
	int total = -1, fd = open("/dev/ftsum", O_RDONLY);
	int r;

	if (fd < 0) {
		perror("open /dev/ftsum");
		return 1;
	}
	r = ioctl(fd, cmd, &total);
	printf("%s: ioctl %d\n", who, r);
	fflush(stdout);
	close(fd);
	return r != 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "sum";

	if (!strcmp(mode, "thread"))
		return call("thread", FT_THREAD);
	if (!strcmp(mode, "fork")) {
		int status;
		pid_t pid = fork();

		if (pid == 0)
			_exit(call("child", FT_SUM));
		waitpid(pid, &status, 0);
		return call("parent", FT_SUM) || status != 0;
	}
	return call("sum", FT_SUM);
}
