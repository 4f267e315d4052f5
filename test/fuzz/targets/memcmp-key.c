/*
 * Input-to-state test target for routine compares (src/fuzz/cmplog.ts):
 * the planted bug sits behind a memcmp() of 8 input bytes with a key held
 * as a string (no 2- or 4-byte immediate for the automatic dictionary,
 * and memcmp's byte loop stops at the first difference, so coverage does
 * not lead there byte by byte). Behind it the rest of an
 * uninitialized heap record is copied out (--kmemcheck).
 */
#include <kmemsim/kernel.h>

int memcmp(const void *a, const void *b, size_t n); /* Linux lib/string.c, linked into every module */

static const char key[] = "KMEMSIM!";
u32 sink;

__attribute__((noipa)) static void emit(const u8 *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sink = sink * 31 + p[i];
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	u8 *rec;

	if (size < 10 || data[0] != 'K')
		return 0;
	if (memcmp(data + 2, key, 8) != 0)
		return 0;
	rec = kmalloc(4, GFP_KERNEL);
	if (!rec)
		return 0;
	rec[0] = data[1];
	emit(rec, 4); /* rec[1..3] were never written */
	kfree(rec);
	return 0;
}
