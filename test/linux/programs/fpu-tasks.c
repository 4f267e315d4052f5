/*
 * Two processes computing with the x87 at the same time: each keeps its
 * accumulators in x87 registers across millions of instructions, so the
 * scheduler preempts them mid-computation. Their results match the host's
 * only if every task has its own FPU state (saved and restored on a task
 * switch, copied by fork, reset by execve).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static long double spin(long double seed, long double step, int n)
{
	long double a = seed, b = 1.0L;
	for (int i = 0; i < n; i++) {
		a = a * 1.0000001L + step;
		b = b * 0.9999999L + a / 1e9L;
	}
	return a + b;
}

int main(void)
{
	long double before = 3.25L; /* live in the parent across fork */
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		long double r = spin(2.5L, 0.75L, 400000);
		printf("child  %.18Lg %.6Lf\n", r, before * 2);
		fflush(stdout);
		_exit(0);
	}
	long double r = spin(-7.0L, 0.125L, 400000);
	int st;
	waitpid(pid, &st, 0);
	printf("parent %.18Lg %.6Lf status %d\n", r, before, WEXITSTATUS(st));
	return 0;
}
