/*
 * Drives test/linux/modules/task-stacks.c for --stack ftrace: `sum`
 * (TS_PASS in this process), `fork` (TS_PASS in a child process, on its own
 * kernel stack, then here), `thread` (TS_PASS_KTHREAD: the module's kernel
 * thread does the sum).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../modules/task-stacks.h"

static int call(const char *who, unsigned long cmd)
{
	int total = -1, fd = open(TS_DEVICE, O_RDONLY);
	int r;

	if (fd < 0) {
		perror("open " TS_DEVICE);
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
		return call("thread", TS_PASS_KTHREAD);
	if (!strcmp(mode, "fork")) {
		int status;
		pid_t pid = fork();

		if (pid == 0)
			_exit(call("child", TS_PASS));
		waitpid(pid, &status, 0);
		return call("parent", TS_PASS) || status != 0;
	}
	return call("sum", TS_PASS);
}
