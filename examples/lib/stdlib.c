/*
 * examples/lib/stdlib.c — process start and exit, environment, number
 * parsing, qsort, assert.
 */
#include "libc.h"

char **environ;

int main(int argc, char **argv, char **envp);

#define MAX_ATEXIT 8
static void (*atexit_fns[MAX_ATEXIT])(void);
static int atexit_count;

int atexit(void (*fn)(void))
{
	if (atexit_count == MAX_ATEXIT)
		return -1;
	atexit_fns[atexit_count++] = fn;
	return 0;
}

void exit(int status)
{
	while (atexit_count > 0)
		atexit_fns[--atexit_count]();
	fflush_stdout();
	sys_exit_group(status);
}

void _exit(int status)
{
	sys_exit_group(status);
}

/* Called by _start (start.S) with the values of the initial stack. */
__attribute__((noreturn, used)) void __libc_start(int argc, char **argv, char **envp)
{
	environ = envp;
	exit(main(argc, argv, envp));
}

void abort(void)
{
	static const char msg[] = "abort()\n";
	fflush_stdout();
	write_all(2, msg, sizeof msg - 1);
	/* As glibc's abort(): die of SIGABRT (6), so a parent, a shell or a fuzzer
	 * sees the signal. The runtime installs no handlers, so the default action
	 * (terminate) runs. Where the kernel serves no kill(2), exit with the status
	 * a shell reports for that death. */
	syscall2(SYS_kill, sys_getpid(), 6);
	sys_exit_group(134); /* 128 + SIGABRT */
}

void __assert_fail(const char *expr, const char *file, int line)
{
	dprintf(2, "%s:%d: assertion failed: %s\n", file, line, expr);
	abort();
}

char *getenv(const char *name)
{
	size_t n = strlen(name);
	if (!environ)
		return NULL;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

int abs(int x)
{
	return x < 0 ? -x : x;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'z') return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
	return 99;
}

unsigned long strtoul(const char *s, char **end, int base)
{
	const char *p = s;
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	int neg = 0;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && digit_value(p[2]) < 16) {
		p += 2;
		base = 16;
	} else if (base == 0) {
		base = p[0] == '0' ? 8 : 10;
	}
	unsigned long v = 0;
	const char *digits = p;
	while (digit_value(*p) < base)
		v = v * (unsigned long)base + (unsigned long)digit_value(*p++);
	if (end)
		*end = (char *)(p == digits ? s : p);
	return neg ? 0ul - v : v;
}

long strtol(const char *s, char **end, int base)
{
	return (long)strtoul(s, end, base);
}

int atoi(const char *s)
{
	return (int)strtol(s, NULL, 10);
}

/* ---- qsort: median-of-three quicksort, insertion sort below 8 elements ---- */

static void swap_bytes(char *a, char *b, size_t size)
{
	while (size--) {
		char t = *a;
		*a++ = *b;
		*b++ = t;
	}
}

static void qsort_r_(char *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	while (n > 7) {
		char *lo = base, *mid = base + (n / 2) * size, *hi = base + (n - 1) * size;
		if (cmp(mid, lo) < 0) swap_bytes(mid, lo, size);
		if (cmp(hi, mid) < 0) {
			swap_bytes(hi, mid, size);
			if (cmp(mid, lo) < 0) swap_bytes(mid, lo, size);
		}
		/* Pivot at lo+size; partition (lo+size, hi) by Hoare's scheme. */
		swap_bytes(mid, lo + size, size);
		char *pivot = lo + size;
		char *i = lo + size, *j = hi;
		for (;;) {
			do i += size; while (cmp(i, pivot) < 0);
			do j -= size; while (cmp(pivot, j) < 0);
			if (i >= j)
				break;
			swap_bytes(i, j, size);
		}
		swap_bytes(pivot, j, size);
		/* Recurse on the smaller side, loop on the larger: O(log n) stack. */
		size_t left = (size_t)(j - base) / size;
		size_t right = n - left - 1;
		if (left < right) {
			qsort_r_(base, left, size, cmp);
			base = j + size;
			n = right;
		} else {
			qsort_r_(j + size, right, size, cmp);
			n = left;
		}
	}
	for (size_t k = 1; k < n; k++)
		for (char *p = base + k * size; p > base && cmp(p - size, p) > 0; p -= size)
			swap_bytes(p - size, p, size);
}

void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	qsort_r_(base, n, size, cmp);
}
