/*
 * A clean program with deep call trees, recursion, 64-bit, struct and
 * variadic arguments: the stack poisoner must find nothing and change
 * nothing (test/ftrace/poison.test.ts).
 */
#include <kmemsim/kernel.h>

#define noinline __attribute__((noinline))

struct pt {
	int x, y;
	char tag;
};

noinline int leafsum(int a, int b, int c, int d, int e)
{
	return a + 2 * b + 3 * c + 4 * d + 5 * e;
}

noinline int node(int depth, int v)
{
	int local[3];
	if (depth == 0)
		return leafsum(v, v + 1, v + 2, v + 3, v + 4);
	local[0] = node(depth - 1, v * 2);
	local[1] = node(depth - 1, v * 2 + 1);
	local[2] = local[0] ^ local[1];
	return local[0] + local[1] + (local[2] & 1);
}

noinline long long mul64(long long a, int b)
{
	return a * b + 1;
}

noinline long long add64s(int a, int b, long long c, int d)
{
	return c + a + b + d;
}

noinline int vsum(int n, ...)
{
	__builtin_va_list ap;
	int s = 0;
	__builtin_va_start(ap, n);
	for (int i = 0; i < n; i++)
		s += __builtin_va_arg(ap, int);
	__builtin_va_end(ap);
	return s;
}

noinline int manhattan(struct pt p, int k)
{
	return (p.x < 0 ? -p.x : p.x) + (p.y < 0 ? -p.y : p.y) + k + p.tag;
}

noinline struct pt mkpt(int x, int y)
{
	struct pt p = { x, y, 'p' };
	return p;
}

noinline int ackermann(int m, int n)
{
	if (m == 0)
		return n + 1;
	if (n == 0)
		return ackermann(m - 1, 1);
	return ackermann(m - 1, ackermann(m, n - 1));
}

int init_module(void)
{
	int s = node(6, 1);
	struct pt p = mkpt(-3, 4);
	s += (int)mul64(0x123456789LL, 3);
	s += (int)(add64s(1, 2, 0x500000000LL, 4) >> 3);
	s += vsum(4, 1, 2, 3, 4);
	s += manhattan(p, 5);
	s += ackermann(2, 3);
	printk(KERN_INFO "ftrace-clean: %d\n", s);
	return 0;
}
