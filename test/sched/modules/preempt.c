/*
 * Two busy kernel threads: without cond_resched() one runs to the end
 * before the other starts; with it they take turns at each timer tick.
 */
#include <linux/kthread.h>
#include <linux/completion.h>

static DECLARE_COMPLETION(done);
static int turns[64], nturns, last = -1;
static volatile int sink;

static int busy(void *data)
{
	int id = (int)(long)data, i, j;
	for (i = 0; i < 40; i++) {
		for (j = 0; j < 20000; j++)
			sink += j;
		if (last != id && nturns < 64)
			turns[nturns++] = id;
		last = id;
		if (id >= 2)
			cond_resched();
	}
	complete(&done);
	return 0;
}

int init_module(void)
{
	int i, k;
	for (k = 0; k < 2; k++) {
		nturns = 0;
		last = -1;
		kthread_run(busy, (void *)(long)(2 * k), "busy%d", 2 * k);
		kthread_run(busy, (void *)(long)(2 * k + 1), "busy%d", 2 * k + 1);
		wait_for_completion(&done);
		wait_for_completion(&done);
		printk("%s: %d turns:", k ? "cond_resched" : "no cond_resched", nturns);
		for (i = 0; i < nturns && i < 8; i++)
			printk("\001c %d", turns[i]);
		printk("\001c\n");
	}
	return 0;
}
