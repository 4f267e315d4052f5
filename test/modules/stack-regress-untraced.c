/*
 * Shrunk by property-tests/stack.test.ts (ftrace recall): a dead word that
 * untraced code wrote. kzalloc() is a (traced) module function: it calls
 * the native kmalloc, whose CALL pushes a return address just below
 * kzalloc's frame; the native is not traced, so nothing poisons that word
 * when it returns, and kzalloc's own poisoned frame (its .su size) does
 * not reach it. f0's a1[9] sits on it: the uninitialized a1[9] that f0
 * passes to f1 is kzalloc+0x23, a code address, not the poison — ftrace
 * misses it, precise and cpl1 find the read (line 24). With kmalloc in
 * init_module instead, ftrace finds it (no traced function in between).
 */
#include <kmemsim/kernel.h>

static int *h0;
static __attribute__((noinline)) int f0(int p0);
static __attribute__((noinline)) int f1(int p0, int p1);

static __attribute__((noinline)) int f0(int p0)
{
	int acc = 0;
	int l0;
	int a1[12];

	a1[9] = f1(0, a1[9]);
	l0 = 1;
	return l0;
}

static __attribute__((noinline)) int f1(int p0, int p1)
{
	int acc = 0;

	if (p0 > 0)
		acc = acc * 31 + f1(p0 - 1, 1);
	return p1;
}

int init_module(void)
{
	int r;

	h0 = kzalloc(4, GFP_KERNEL);
	if (!h0)
		return -ENOMEM;
	r = f0(0);
	printk(KERN_INFO "r %d\n", r);
	kfree(h0);
	return 0;
}
