/*
 * kmemcheck_disable()/kmemcheck_enable() from guest code, and
 * kmemcheck_mark_initialized(): the read while kmemcheck is off and the
 * read of explicitly marked bytes are not reported; the last read is.
 */
#include <kmemsim/kernel.h>

struct pair {
	int a;
	int b;
	int c;
};

__attribute__((noipa)) int get_a(const struct pair *p) { return p->a; }
__attribute__((noipa)) int get_b(const struct pair *p) { return p->b; }
__attribute__((noipa)) int get_c(const struct pair *p) { return p->c; }

int init_module(void)
{
	struct pair *p = kmalloc(sizeof(*p), GFP_KERNEL);
	int sum = 0;

	if (!p)
		return -ENOMEM;
	kmemcheck_disable();
	sum += get_a(p);		/* off: not seen */
	kmemcheck_enable();
	kmemcheck_mark_initialized(&p->b, sizeof(p->b));
	sum += get_b(p);		/* marked: fine */
	sum += get_c(p);		/* reported */
	printk(KERN_INFO "enable-disable: done %d\n", sum == sum);
	kfree(p);
	return 0;
}
