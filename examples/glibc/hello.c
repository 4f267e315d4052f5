/*
 * An ordinary C program linked with glibc: stdio, floating point (x87),
 * strtod, fork and wait. Build it with `gcc -m32 -static` (Debian's
 * gcc-multilib) and it prints the same natively and under kmemsim.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	double x = strtod(argc > 1 ? argv[1] : "2.0", NULL);
	printf("hello from glibc: sqrt(%g) = %.12f, sin = %.6e\n", x, sqrt(x), sin(x));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		printf("child %d says %.3Lf\n", (int)getpid(), (long double)x / 3);
		return 3;
	}
	int status;
	waitpid(pid, &status, 0);
	printf("parent %d: child exited with %d\n", (int)getpid(), WEXITSTATUS(status));
	return 0;
}
