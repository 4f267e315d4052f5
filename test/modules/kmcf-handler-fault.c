/* A watch handler that faults: an oops like any kernel fault, with kmcf_handler_return under the handler (test/watch/examples.test.ts). */
#include <kmemsim/kernel.h>
#include <kmemsim/watch.h>
static int bad(const struct kmcf_access *acc, int post) { return *(volatile int *)0; }
int init_module(void)
{
	int *p = kmalloc(16, GFP_KERNEL);
	kmcf_register(bad);
	kmcf_add(p, 16);
	p[0] = 1;
	return 0;
}
