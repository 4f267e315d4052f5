/*
 * Per-buffer read/write statistics (seed 000's first use): two kmalloc'd
 * buffers on the same page and a static one are watched; the handler logs
 * every access before and after it, with the value in the post call.
 * Expected output: examples/watch/stats.expected.
 */
#include <kmemsim/kernel.h>
#include <kmemsim/watch.h>

static unsigned int counts[2]; /* pre, post: the handler's own bookkeeping */

static int log_access(const struct kmcf_access *acc, int post)
{
	counts[post]++;
	if (post)
		printk(KERN_INFO "stats: %s %u bytes at +%lu: %#lx\n",
		       acc->write ? "wrote" : "read", acc->size,
		       (unsigned long)acc->offset, acc->value);
	return 0;
}

static char table[64] __aligned(64);

static void report(const char *name, const void *buf)
{
	struct kmcf_stats s;

	if (kmcf_stats(buf, &s) == 0)
		printk(KERN_INFO "stats: %s: %lu reads, %lu writes, %lu faults, %lu foreign\n",
		       name, s.reads, s.writes, s.faults, s.foreign);
}

int init_module(void)
{
	volatile int *a = kmalloc(16, GFP_KERNEL);
	volatile short *b = kmalloc(16, GFP_KERNEL);
	volatile char *t = table;
	int sum;

	if (!a || !b)
		return -ENOMEM;
	if (kmcf_register(log_access) || kmcf_add((void *)a, 16) ||
	    kmcf_add((void *)b, 16) || kmcf_add(table, sizeof(table)))
		return -EINVAL;
	printk(KERN_INFO "stats: second register: %d, overlapping add: %d, add len 0: %d\n",
	       kmcf_register(log_access), kmcf_add((void *)(a + 2), 4), kmcf_add(table, 0));

	a[0] = 0x11223344;
	a[1] = 7;
	sum = a[0] + a[1];
	b[3] = (short)sum;
	b[3] += 1;		/* read-modify-write: a read and a write */
	t[5] = 'x';
	printk(KERN_INFO "stats: sum %#x b[3] %#x t[5] %c\n", sum, b[3], t[5]);

	report("a", (void *)a);
	report("b", (void *)b);
	report("table", table);
	printk(KERN_INFO "stats: delete unknown: %d, stats unknown: %d\n",
	       kmcf_delete(counts), kmcf_stats(counts, NULL));
	printk(KERN_INFO "stats: handler calls %u pre, %u post\n", counts[0], counts[1]);
	kmcf_unregister();
	kfree((void *)a);
	kfree((void *)b);
	return 0;
}
