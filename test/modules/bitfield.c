/* The kmemcheck annotations compile and call kmemcheck_mark_initialized with the bitfield's bytes. */
#include <kmemsim/kernel.h>

struct flags {
	int before;
	kmemcheck_bitfield_begin(bits);
	unsigned int a : 1;
	unsigned int b : 3;
	unsigned int c : 12;
	kmemcheck_bitfield_end(bits);
	int after;
};

static struct flags f;

int init_module(void)
{
	struct flags *p = &f;

	kmemcheck_annotate_bitfield(p, bits);
	p->a = 1;
	p->b = 5;
	return (int)((char *)&f.after - (char *)&f.before);
}
