/* kzalloc() zeroes the object: every read is of initialized memory, nothing to report. */
#include <kmemsim/kernel.h>

struct stats {
	int packets;
	int bytes;
	int errors;
};

__attribute__((noipa)) int total(const struct stats *s)
{
	return s->packets + s->bytes + s->errors;
}

int init_module(void)
{
	struct stats *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return -ENOMEM;
	s->packets = 2;
	printk(KERN_INFO "kzalloc: total %d\n", total(s));
	kfree(s);
	return 0;
}
