/*
 * The fault-driven kmemcheck is not transparent for a program that reads
 * uninitialized stack: touch()'s read of a tracked heap object faults, and
 * the #PF and #DB frames the CPU pushes land in the dead part of the
 * ring-0 stack, where reader()'s frame is later; reader() reads them as
 * garbage. A plain run and the inline checker see the same garbage; the
 * precise oracle's findings are the same in all three.
 * (Regression from property-tests/stack.test.ts.)
 */
#include <kmemsim/kernel.h>

static int *h;

static __attribute__((noinline)) int touch(void)
{
	return h[1];
}

static __attribute__((noinline)) int reader(void)
{
	volatile int buf[16];
	int i, sum = 0;

	for (i = 0; i < 16; i++)
		sum = sum * 31 + buf[i]; /* FINDING reader */
	return sum;
}

int init_module(void)
{
	int r;

	h = kzalloc(16, GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	r = touch();
	r += reader();
	printk(KERN_INFO "frames: %d\n", r);
	kfree(h);
	return 0;
}
