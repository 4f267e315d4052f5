/*
 * RCU-protected list: readers under rcu_read_lock(), removal with
 * list_del_rcu() + call_rcu() freeing the element after a grace period
 * (the next context switch, or rcu_barrier()), kfree_rcu() alongside.
 * Built with -DUSE_AFTER_FREE it keeps a pointer to a removed element and
 * reads it after its callback freed it: kmemcheck's finding.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/rculist.h>
#include <linux/rcupdate.h>
#include <linux/kthread.h>
#include <linux/delay.h>
#include <linux/completion.h>

struct item {
	int key;
	int value;
	struct list_head node;
	struct rcu_head rcu;
};

static LIST_HEAD(items);
static int freed;
static int freed_in_softirq;
static DECLARE_COMPLETION(done);

static void item_free(struct rcu_head *head)
{
	struct item *it = container_of(head, struct item, rcu);

	freed++;
	if (preempt_count() & 0x100)
		freed_in_softirq++;
	kfree(it);
}

static int sum(void)
{
	struct item *it;
	int s = 0;

	rcu_read_lock();
	list_for_each_entry_rcu(it, &items, node)
		s += it->value;
	rcu_read_unlock();
	return s;
}

static int remove_key(int key, int by_kfree_rcu)
{
	struct item *it, *tmp;

	list_for_each_entry_safe(it, tmp, &items, node) {
		if (it->key != key)
			continue;
		list_del_rcu(&it->node);
		if (by_kfree_rcu)
			kfree_rcu(it, rcu);
		else
			call_rcu(&it->rcu, item_free);
		return 0;
	}
	return -ENOENT;
}

static int sleeper(void *data)
{
	msleep(10); /* the switches to and from this thread are quiescent states */
	complete(&done);
	return 0;
}

int init_module(void)
{
	struct item *kept = NULL;
	int i;

	for (i = 0; i < 8; i++) {
		struct item *it = kmalloc(sizeof(*it), GFP_KERNEL);

		if (!it)
			return -ENOMEM;
		it->key = i;
		it->value = i * 10;
		list_add_tail_rcu(&it->node, &items);
		if (i == 3)
			kept = it;
	}
	printk("sum %d\n", sum());
	remove_key(3, 0);
	remove_key(5, 0);
	remove_key(6, 1);
	/* No grace period has passed: the callbacks have not run, readers still see the old element. */
	printk("after removal: sum %d, freed %d, kept->value %d\n", sum(), freed, kept->value);
	kthread_run(sleeper, NULL, "sleeper");
	wait_for_completion(&done);
	printk("after a context switch: freed %d (%d in softirq context)\n", freed, freed_in_softirq);
#ifdef USE_AFTER_FREE
	printk("kept->value %d\n", kept->value);
#endif
	remove_key(7, 0);
	rcu_barrier();
	printk("after rcu_barrier: freed %d, sum %d\n", freed, sum());
	return 0;
}

void cleanup_module(void)
{
	while (!list_empty(&items))
		remove_key(list_first_entry(&items, struct item, node)->key, 0);
	rcu_barrier();
	printk("cleanup: freed %d\n", freed);
}
