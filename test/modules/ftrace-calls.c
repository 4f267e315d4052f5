/*
 * Call shapes for the ftrace tests (test/ftrace/ftrace.test.ts): nested
 * calls, recursion, a 64-bit argument and return value, a hot loop. No
 * kernel API: the tests call the functions directly with callGuest().
 */
#define noinline __attribute__((noinline))

int calls_made;

noinline int leaf(int x)
{
	calls_made++;
	return x * 3 + 1;
}

noinline int mid(int a, int b)
{
	return leaf(a) + leaf(b);
}

noinline int fib(int n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

noinline long long wide(int a, long long b, int c)
{
	return b * a + c;
}

noinline int hot(int n)
{
	int s = 0;
	for (int i = 0; i < n; i++)
		s += mid(i, s & 7);
	return s;
}

/* At -O2 a sibling call: `jmp leaf` with tail()'s own return address still in place. */
noinline int tail(int x)
{
	return leaf(x + 1);
}

noinline int tail2(int x)
{
	return tail(x * 2);
}

/* The callee pops its stack arguments: `ret $8`. */
noinline __attribute__((stdcall, regparm(0))) int popper(int a, int b)
{
	return a - b;
}

noinline int use_popper(int n)
{
	return popper(n, 1) * 2;
}

int top(int n)
{
	return hot(n) + fib(n) + (int)(wide(2, 0x100000000LL + n, 3) >> 1) + tail2(n) + use_popper(n);
}
