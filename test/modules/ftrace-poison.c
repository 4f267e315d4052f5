/*
 * Uninitialized stack values reaching function arguments, for the ftrace
 * stack poisoner (test/ftrace/poison.test.ts). Each scenario is its own
 * function so the tests can call them one by one; init_module() runs all.
 * No scenario's result depends on the garbage it reads: the values go to
 * `sink` only, so the run's output is the same with and without poisoning.
 */
#include <kmemsim/kernel.h>

#define noinline __attribute__((noinline))

int sink;

/* Writes *p only when asked: the caller's local stays uninitialized otherwise (its address is taken, so it lives on the stack at any -O). */
noinline void maybe_set(int *p, int flag)
{
	if (flag)
		*p = 42;
}

noinline void maybe_set64(long long *p, int flag)
{
	if (flag)
		*p = 0x100000002LL;
}

noinline int consume(int v)
{
	sink += v;
	return 0;
}

/* 1. an uninitialized local passed to a function (in EAX) */
noinline int uninit_arg(int flag)
{
	int x;
	maybe_set(&x, flag);
	return consume(x);
}

/* 2. sibling calls: writer()'s frame dies, reader() reads the same slots without writing them */
noinline int writer(int v)
{
	volatile int buf[4];
	buf[0] = v;
	buf[1] = v;
	buf[2] = v;
	buf[3] = v;
	return buf[v & 3];
}

noinline int reader(int i)
{
	volatile int buf[4];
	return consume(buf[i & 3]);
}

noinline int siblings(int v)
{
	writer(v);
	return reader(1);
}

/* 3. 64-bit arguments: in EDX:ECX after an int in EAX, and on the stack when two ints took EAX and EDX */
noinline int consume64(int a, long long v, int c)
{
	sink += (int)v + a + c;
	return 0;
}

noinline int consume64s(int a, int b, long long v)
{
	sink += (int)(v >> 32) + a + b;
	return 0;
}

noinline int uninit64(int flag)
{
	long long x;
	maybe_set64(&x, flag);
	return consume64(1, x, 2);
}

noinline int uninit64s(int flag)
{
	long long x;
	maybe_set64(&x, flag);
	return consume64s(1, 2, x);
}

/* 4. a variadic function takes even its named argument on the stack */
noinline int vconsume(int n, ...)
{
	__builtin_va_list ap;
	int s = n;
	__builtin_va_start(ap, n);
	s += __builtin_va_arg(ap, int);
	__builtin_va_end(ap);
	sink += s;
	return 0;
}

noinline int uninit_variadic(int flag)
{
	int x;
	maybe_set(&x, flag);
	return vconsume(x, 7);
}

/* 5. recursion: the uninitialized value is passed at the bottom of the recursion */
noinline int recurse(int depth, int flag)
{
	int x;
	if (depth == 0) {
		maybe_set(&x, flag);
		return consume(x);
	}
	return recurse(depth - 1, flag) * 3 + (depth ^ 5);
}

int init_module(void)
{
	uninit_arg(0);
	siblings(9);
	uninit64(0);
	uninit64s(0);
	uninit_variadic(0);
	recurse(4, 0);
	printk(KERN_INFO "ftrace-poison: done\n");
	return 0;
}

void cleanup_module(void)
{
	uninit_arg(1); /* clean: initialized */
}
