/*
 * Fuzz target without bugs: a length-prefixed record parser that checks
 * every bound and initializes everything it reads. Fuzzing it with every
 * checker must find nothing (exit status 0).
 *
 *   kmemsim fuzz examples/fuzz/clean.c --kmemcheck --stack precise -o out --runs 200
 */
#include <kmemsim/kernel.h>

struct record {
	u8 type;
	u8 len;
	u8 payload[16];
};

int checksum; /* global: the result is visible */

__attribute__((noipa)) static int sum_record(const struct record *r)
{
	int s = r->type;
	int i;

	for (i = 0; i < r->len; i++)
		s += r->payload[i];
	return s;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	size_t off = 0;
	int total = 0;

	while (off + 2 <= size) {
		struct record *r = kzalloc(sizeof(*r), GFP_KERNEL);
		size_t n = data[off + 1];

		if (!r)
			return 0;
		if (n > sizeof(r->payload))
			n = sizeof(r->payload);
		if (off + 2 + n > size)
			n = size - off - 2;
		r->type = data[off];
		r->len = n;
		memcpy(r->payload, data + off + 2, n);
		if (r->type == 'S')
			total += sum_record(r);
		else if (r->type == 'X')
			total ^= sum_record(r);
		kfree(r);
		off += 2 + n;
	}
	checksum = total;
	return 0;
}
