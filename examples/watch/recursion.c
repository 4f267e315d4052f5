/*
 * A handler that touches the buffer it watches: its accesses fault too,
 * but are not passed to it again (no recursion) — they are counted, in the
 * buffer's reads and writes and in the `nested` figure kmcf_unregister()
 * prints. The handler here keeps a checksum of the buffer up to date by
 * reading all of it after every write.
 */
#include <kmemsim/kernel.h>
#include <kmemsim/watch.h>

#define LEN 8

static volatile unsigned char *ring;
static unsigned int checksum, calls;

static int resum(const struct kmcf_access *acc, int post)
{
	unsigned int i, s = 0;

	calls++;
	if (!post || !acc->write)
		return 0;
	for (i = 0; i < LEN; i++)	/* reads of the watched buffer from the handler */
		s += ring[i];
	checksum = s;
	return 0;
}

int init_module(void)
{
	struct kmcf_stats st;
	int i;

	ring = kzalloc(LEN, GFP_KERNEL);
	if (!ring)
		return -ENOMEM;
	kmcf_register(resum);
	kmcf_add((void *)ring, LEN);
	for (i = 0; i < 3; i++)
		ring[i] = 10 * (i + 1);
	kmcf_stats((void *)ring, &st);
	printk(KERN_INFO "recursion: checksum %u after %u handler calls; %lu reads, %lu writes\n",
	       checksum, calls, st.reads, st.writes);
	kmcf_unregister();
	kfree((void *)ring);
	return 0;
}
