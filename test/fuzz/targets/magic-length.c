/*
 * Input-to-state test target (src/fuzz/cmplog.ts): a header whose 32-bit
 * magic and 16-bit length field must both match before the planted bug is
 * reached. The magic is computed in LLVMFuzzerInitialize(), so it is no
 * immediate in the code (the automatic dictionary cannot offer it), and
 * the length is compared with the input's real size (no checksum: the
 * field's value reaches the compare unchanged). Behind both, a record is
 * kmalloc'd and only its first field set: copying it out reads
 * uninitialized heap (--kmemcheck).
 *
 *   header: u32 magic (LE) | u16 payload length (LE) | payload
 */
#include <kmemsim/kernel.h>

static u32 magic;
u32 sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	u32 i, m = 0x2545f491;

	for (i = 0; i < 7; i++)
		m = m * 1103515245u + 12345u;
	magic = m;
	return 0;
}

__attribute__((noipa)) static void emit(const u8 *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sink = sink * 31 + p[i];
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	u32 m;
	u16 len;
	u8 *rec;

	if (size < 6)
		return 0;
	memcpy(&m, data, 4);
	if (m != magic)
		return 0;
	memcpy(&len, data + 4, 2);
	if (len != size - 6)
		return 0;
	rec = kmalloc(8, GFP_KERNEL);
	if (!rec)
		return 0;
	rec[0] = 1;
	emit(rec, 8); /* rec[1..7] were never written */
	kfree(rec);
	return 0;
}
