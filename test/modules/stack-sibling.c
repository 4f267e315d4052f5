/*
 * --stack precise: sibling calls reusing a dead frame. writer() fills its
 * array and returns; reader()'s array occupies the same bytes, which still
 * hold writer()'s values (a plain run prints 4242), but they died when
 * writer() returned.
 */
#include <kmemsim/kernel.h>

static __attribute__((noinline)) void writer(void)
{
	volatile int secret[4];
	int i;

	for (i = 0; i < 4; i++)
		secret[i] = 4242;
}

static __attribute__((noinline)) int reader(void)
{
	volatile int buf[4];

	return buf[1]; /* FINDING reader */
}

int init_module(void)
{
	int r;

	writer();
	r = reader();
	printk(KERN_INFO "sibling: %d\n", r);
	return 0;
}
