/*
 * memcpy() of a partly initialized struct between two kmalloc'd objects
 * copies the shadow along with the bytes (kmemcheck_copy()): memcpy itself
 * is not reported; the read of the copy's uninitialized field in
 * use_copy() is.
 */
#include <kmemsim/kernel.h>

struct msg {
	int type;
	int len;
	int flags;
	int seq;
};

__attribute__((noipa)) int use_copy(const struct msg *m)
{
	return m->type + m->seq; /* seq was never written in the original */
}

int init_module(void)
{
	struct msg *a = kmalloc(sizeof(*a), GFP_KERNEL);
	struct msg *b = kmalloc(sizeof(*b), GFP_KERNEL);
	int r;

	if (!a || !b) {
		kfree(a);
		kfree(b);
		return -ENOMEM;
	}
	a->type = 1;
	a->len = 16;
	a->flags = 0;
	memcpy(b, a, sizeof(*a));
	r = use_copy(b);
	printk(KERN_INFO "memcpy-shadow: type %d\n", b->type);
	(void)r;
	kfree(a);
	kfree(b);
	return 0;
}
