/*
 * Fuzz target: a partially filled local array summed and returned.
 *
 * A 'S' command followed by up to 8 sample bytes fills that many slots of
 * a local array, then averages all 8: with fewer than 8 samples the sum
 * reads uninitialized stack slots — stale data of earlier calls. The
 * result only flows into the returned value (no branch on it), so
 * MemorySanitizer needs the value to reach a check; the precise stack
 * checker reports the read itself.
 *
 *   kmemsim fuzz examples/fuzz/stack-sum.c --stack precise -x examples/fuzz/stack-sum.dict -o out
 */
#include <kmemsim/kernel.h>

int average; /* global: the result is visible */

__attribute__((noipa)) static int average_of(const u8 *samples, size_t n)
{
	int slot[8];
	int sum = 0;
	size_t i;

	for (i = 0; i < n && i < 8; i++)
		slot[i] = samples[i];
	for (i = 0; i < 8; i++)
		sum += slot[i]; /* slots past n were never written */
	return sum / 8;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	if (size >= 1 && data[0] == 'S')
		average = average_of(data + 1, size - 1);
	return 0;
}
