/*
 * kmemcheck's known false-positive class: a struct with padding, every
 * member written, copied byte by byte. The three padding bytes after
 * `tag` were never written, so reading them one byte at a time is a read
 * of uninitialized memory and kmemcheck reports it in copy_bytes() — even
 * though the program never uses those bytes for anything. (memcpy() would
 * carry the shadow instead and stay quiet; Linux's kmemcheck produced such
 * reports for code that copies structs to user space or hashes them.)
 */
#include <kmemsim/kernel.h>

struct record {
	char tag;	/* 3 bytes of padding follow */
	int value;
};

__attribute__((noipa)) void copy_bytes(char *dst, const volatile char *src, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		dst[i] = src[i];
}

int init_module(void)
{
	struct record *r = kmalloc(sizeof(*r), GFP_KERNEL);
	char out[sizeof(struct record)];

	if (!r)
		return -ENOMEM;
	r->tag = 'x';
	r->value = 5;
	copy_bytes(out, (const volatile char *)r, sizeof(*r));
	printk(KERN_INFO "padding: tag %c\n", out[0]);
	kfree(r);
	return 0;
}
