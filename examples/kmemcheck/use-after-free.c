/*
 * Reads an object after kfree(): kmemcheck reports a read from freed
 * memory in peek_stale().
 */
#include <kmemsim/kernel.h>

struct session {
	int id;
	int refs;
	int state;
};

__attribute__((noipa)) int peek_stale(struct session *s)
{
	return s->state; /* s was freed */
}

int init_module(void)
{
	struct session *s = kmalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return -ENOMEM;
	s->id = 7;
	s->refs = 1;
	s->state = 3;
	kfree(s);
	printk(KERN_INFO "use-after-free: state read %d\n", peek_stale(s) == 3);
	return 0;
}
