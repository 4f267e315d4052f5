/*
 * Fuzz target: struct padding serialized byte by byte behind a 32-bit magic.
 *
 * An input starting with the magic "KMEM" and a kind byte gets a reply
 * header: a kmalloc'd struct whose fields are all set — but the three
 * padding bytes after `kind` never are. serialize() sends the struct one
 * byte at a time, the way a driver copies a reply out to user space or a
 * network buffer: the padding leaks heap contents. MemorySanitizer would
 * not report it (the bytes decide no branch); kmemcheck reports the 8-bit
 * read of uninitialized memory. The magic is a 32-bit compare: give the
 * fuzzer the dictionary (-x examples/fuzz/padding.dict).
 *
 *   kmemsim fuzz examples/fuzz/padding.c --kmemcheck -x examples/fuzz/padding.dict -o out
 */
#include <kmemsim/kernel.h>

struct reply_header {
	u8 kind;
	/* 3 bytes of padding */
	u32 length;
};

unsigned int wire_sum; /* global: the bytes sent are visible */

__attribute__((noipa)) static void send_byte(u8 b)
{
	wire_sum = wire_sum * 31 + b;
}

__attribute__((noipa)) static void serialize(const void *obj, size_t n)
{
	const u8 *p = obj;
	size_t i;

	for (i = 0; i < n; i++)
		send_byte(p[i]);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct reply_header *h;
	u32 magic;

	if (size < 5)
		return 0;
	memcpy(&magic, data, 4);
	if (magic != 0x4d454d4b) /* "KMEM" */
		return 0;
	h = kmalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return 0;
	h->kind = data[4];
	h->length = size - 5;
	serialize(h, sizeof(*h));
	kfree(h);
	return 0;
}
