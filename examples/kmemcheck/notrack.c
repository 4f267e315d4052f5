/*
 * __GFP_NOTRACK: the allocation is not tracked (counts as initialized
 * from the start), so the read of a field nobody wrote is not reported.
 */
#include <kmemsim/kernel.h>

struct ring {
	int head;
	int tail;
};

__attribute__((noipa)) int ring_tail(const struct ring *r)
{
	return r->tail;
}

int init_module(void)
{
	struct ring *r = kmalloc(sizeof(*r), GFP_KERNEL | __GFP_NOTRACK);

	if (!r)
		return -ENOMEM;
	r->head = 0;
	printk(KERN_INFO "notrack: tail read %d\n", ring_tail(r) >= 0 || 1);
	kfree(r);
	return 0;
}
