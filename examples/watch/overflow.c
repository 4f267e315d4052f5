/*
 * A buffer-overflow detector with a guard zone (seed 000's second use):
 * a 24-byte record is kmalloc'd from the 32-byte cache and watched; the
 * rest of its page — the 8 bytes after it and the neighbouring objects —
 * is the guard zone. fill() copies one element too many: the write past
 * the end is not passed to the handler, it is counted in the buffer's
 * `foreign` statistic and, with kmcf_set_overflow_report(1), reported
 * like a kmemcheck error with registers and stack.
 */
#include <kmemsim/kernel.h>
#include <kmemsim/watch.h>

#define N 6

static int writes;

static int count_writes(const struct kmcf_access *acc, int post)
{
	if (post && acc->write)
		writes++;
	return 0;
}

__attribute__((noipa)) void fill(int *rec, int n)
{
	int i;

	for (i = 0; i <= n; i++)	/* off by one: writes rec[n] */
		rec[i] = i * i;
}

int init_module(void)
{
	int *rec = kmalloc(N * sizeof(int), GFP_KERNEL);
	struct kmcf_stats s;

	if (!rec)
		return -ENOMEM;
	kmcf_register(count_writes);
	kmcf_set_overflow_report(1);
	kmcf_add(rec, N * sizeof(int));
	fill(rec, N);
	kmcf_stats(rec, &s);
	printk(KERN_INFO "overflow: handler saw %d writes; stats: %lu writes, %lu foreign\n",
	       writes, s.writes, s.foreign);
	kmcf_unregister();
	kfree(rec);
	return 0;
}
