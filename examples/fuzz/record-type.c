/*
 * Fuzz target: a field only one record type initializes, copied out.
 *
 * Input: a sequence of records, one type byte each ('A' or 'B') followed by
 * one value byte. Both types fill in `id`; only type 'A' fills in `flags`.
 * emit() copies both fields out to the "reply" — for a type 'B' record
 * `flags` is uninitialized heap memory. MemorySanitizer stays silent (the
 * value decides no branch); kmemcheck reports the read in emit().
 *
 *   kmemsim fuzz examples/fuzz/record-type.c --kmemcheck -o out
 */
#include <kmemsim/kernel.h>

struct record {
	int id;
	int flags;
};

int reply[2]; /* global: the copy-out is visible (not optimized away) */

__attribute__((noipa)) static void emit(const struct record *r)
{
	reply[0] = r->id;
	reply[1] = r->flags; /* type 'B' never set it */
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	size_t i;

	for (i = 0; i + 1 < size; i += 2) {
		struct record *r;

		if (data[i] != 'A' && data[i] != 'B')
			continue;
		r = kmalloc(sizeof(*r), GFP_KERNEL);
		if (!r)
			return 0;
		r->id = data[i + 1];
		if (data[i] == 'A')
			r->flags = 1;
		if (data[i] == 'B')
			emit(r);
		kfree(r);
	}
	return 0;
}
