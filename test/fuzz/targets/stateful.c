/*
 * A fuzz target that remembers: a static call counter, a kmalloc'd object
 * kept (leaked) per call in a global list, and a global "armed" flag that
 * one input sets and another one trips over. On a machine restored from
 * the snapshot before every input nothing carries over, so the counter is
 * 1 on every call and the "armed" crash of the second input never happens.
 */
#include <kmemsim/kernel.h>

static int calls;
static int armed;
static void *kept[64];

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	calls++;
	if (calls > 1)
		BUG(); /* state leaked from an earlier input */
	if (size > 0 && data[0] == 'A')
		armed = 1;
	if (size > 0 && data[0] == 'B' && armed)
		BUG();
	kept[calls & 63] = kmalloc(1000, GFP_KERNEL);
	return 0;
}
