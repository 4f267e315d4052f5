/*
 * Uninitialized stack reads in compiled C for the CPL-1 stack tracker
 * (test/rings/stack-tracker.test.ts), built at -O0 and -O2.
 */
#include <kmemsim/kernel.h>

#define noinline __attribute__((noinline))

/* The classic: x is only set on one path. */
noinline int maybe(int arg)
{
	int x;
	if (arg)
		x = 1;
	return x;
}

/* An uninitialized local passed to printk (its varargs are read from the stack by the native). */
noinline int pass_uninit(void)
{
	int v;
	printk(KERN_INFO "v=%d\n", v);
	return 0;
}

/* Sibling calls: read_slot()'s local lands where set_slot()'s dead one was (volatile keeps both in memory). */
noinline void set_slot(void)
{
	volatile int x = 0x77;
	(void)x;
}

noinline int read_slot(void)
{
	volatile int y;
	return y;
}

noinline int siblings(void)
{
	set_slot();
	return read_slot();
}

/* Clean: locals, a local buffer filled by snprintf, kmalloc/kfree, printk of it. */
noinline int clean(int n)
{
	char buf[24];
	int a[8];
	int i, s = 0;
	char *p = kmalloc(32, GFP_KERNEL);

	for (i = 0; i < 8; i++)
		a[i] = i * n;
	for (i = 0; i < 8; i++)
		s += a[i];
	snprintf(buf, sizeof(buf), "sum=%d", s);
	if (p) {
		memcpy(p, buf, strlen(buf) + 1);
		printk(KERN_INFO "%s %s\n", buf, p);
		kfree(p);
	}
	return s;
}

static int __init uninit_init(void)
{
	return clean(3) == 84 ? 0 : -EINVAL;
}

module_init(uninit_init);
