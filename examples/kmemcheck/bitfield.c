/*
 * Bitfields: setting one bit is a read-modify-write of the byte (or word)
 * that holds it, so the first store to a bitfield of a fresh kmalloc object
 * reads uninitialized memory. Linux's kmemcheck reported that, and the
 * annotations below were its answer: kmemcheck_bitfield_begin/end put two
 * zero-length markers around the bitfields and kmemcheck_annotate_bitfield()
 * marks the bytes between them initialized right after allocation.
 *
 * set_plain() has no annotation: one report, in set_plain.
 * set_annotated() has the same layout with the annotation: no report.
 */
#include <kmemsim/kernel.h>

struct plain_flags {
	int id;
	unsigned int ready : 1;
	unsigned int mode : 3;
};

struct annotated_flags {
	int id;
	kmemcheck_bitfield_begin(flags);
	unsigned int ready : 1;
	unsigned int mode : 3;
	kmemcheck_bitfield_end(flags);
};

__attribute__((noipa)) int set_plain(void)
{
	struct plain_flags *p = kmalloc(sizeof(*p), GFP_KERNEL);
	int mode;

	if (!p)
		return -ENOMEM;
	p->id = 1;
	p->ready = 1;		/* reads the uninitialized byte that holds it */
	p->mode = 2;
	mode = p->mode;
	kfree(p);
	return mode;
}

__attribute__((noipa)) int set_annotated(void)
{
	struct annotated_flags *p = kmalloc(sizeof(*p), GFP_KERNEL);
	int mode;

	if (!p)
		return -ENOMEM;
	kmemcheck_annotate_bitfield(p, flags);
	p->id = 2;
	p->ready = 1;
	p->mode = 3;
	mode = p->mode;
	kfree(p);
	return mode;
}

int init_module(void)
{
	int a = set_plain();
	int b = set_annotated();

	printk(KERN_INFO "bitfield: modes %d %d\n", a, b);
	return 0;
}
