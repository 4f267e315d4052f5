/*
 * Sibling calls reusing a dead frame: make_key() leaves a secret in its
 * frame and returns; use_buffer(), called next from the same caller, gets
 * the same stack bytes for its own array and reads an element it never
 * wrote — the old secret, the classic stack infoleak.
 *
 * precise and cpl1 see the read of a dead-and-reused byte; ftrace sees it
 * when the value is passed on (here to emit()): the frame of make_key()
 * was poisoned when it returned.
 */
#include <kmemsim/kernel.h>

__attribute__((noipa)) int make_key(int seed)
{
	volatile int secret[8];
	int i, k = 0;

	for (i = 0; i < 8; i++)
		secret[i] = seed * 0x9e3779b1 + i;
	for (i = 0; i < 8; i++)
		k += secret[i];
	return k;
}

__attribute__((noipa)) int emit(int value)
{
	return value & 1;
}

__attribute__((noipa)) int use_buffer(int n)
{
	volatile int buf[8];
	int i;

	for (i = 0; i < n; i++)
		buf[i] = i;
	return emit(buf[n]);	/* buf[n] was never written */
}

int init_module(void)
{
	int k = make_key(42);
	int v = use_buffer(5);

	printk(KERN_INFO "sibling-frames: key %08x, bit %d\n", k, v >= 0);
	return 0;
}
