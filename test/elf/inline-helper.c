/*
 * A module whose uninitialized read is inside a `static inline` helper
 * that gcc -O2 inlines into its caller (test/elf/dwarf-inline.test.ts):
 * the finding names the helper at its line, then the caller at the call
 * site, as `addr2line -i -f` does.
 */
#include <kmemsim/kernel.h>

struct sample {
	int count;
	int scale;	/* never written */
};

static inline int scaled(const struct sample *s)
{
	return s->count * s->scale;
}

__attribute__((noipa)) int measure(struct sample *s, int extra)
{
	int v = scaled(s);
	return v + extra;
}

int init_module(void)
{
	struct sample *s = kmalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	s->count = 3;
	printk(KERN_INFO "inline-helper: %d\n", measure(s, 1));
	kfree(s);
	return 0;
}

void cleanup_module(void)
{
}
