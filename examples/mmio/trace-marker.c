/*
 * A user program that writes markers into the trace, as tools do with
 * Linux's trace_marker: both of Linux's paths (tracefs at
 * /sys/kernel/tracing, and its debugfs automount). Under
 * `kmemsim run --module examples/mmio/counter-driver.c --mmiotrace FILE
 * trace-marker` each write becomes a MARK line of the mmiotrace log,
 * after the driver's MAP/R/W/UNMAP lines.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int mark(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0) {
		perror(path);
		return 1;
	}
	n = write(fd, text, strlen(text));
	close(fd);
	return n != (ssize_t)strlen(text);
}

int main(void)
{
	int bad = mark("/sys/kernel/debug/tracing/trace_marker", "user: through debugfs\n");

	bad |= mark("/sys/kernel/tracing/trace_marker", "user: through tracefs");
	printf("markers written: %s\n", bad ? "no" : "yes");
	return bad;
}
