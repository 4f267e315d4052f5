/*
 * Reads a field of a kmalloc'd struct that was never written: kmemcheck
 * reports a 32-bit read from uninitialized memory in read_config().
 */
#include <kmemsim/kernel.h>

struct config {
	int mode;
	int level;
};

static struct config *cfg;

__attribute__((noipa)) int read_config(struct config *c)
{
	return c->level; /* never written */
}

int init_module(void)
{
	cfg = kmalloc(sizeof(*cfg), GFP_KERNEL);
	if (!cfg)
		return -ENOMEM;
	cfg->mode = 1;
	printk(KERN_INFO "uninit-kmalloc: level %d\n", read_config(cfg) != 0);
	return 0;
}

void cleanup_module(void)
{
	kfree(cfg);
}
