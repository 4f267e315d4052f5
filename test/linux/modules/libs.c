/*
 * The library side of the Linux API in one module run on its own (kmemsim
 * run libs.c): lists, hash tables, kstrto*()/sscanf(), kmalloc(0), krealloc,
 * kstrdup, atomics, spinlocks, do_div, jiffies, WARN_ON, get_user without a
 * process (-EFAULT).
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/list.h>
#include <linux/hashtable.h>
#include <linux/atomic.h>
#include <linux/spinlock.h>
#include <linux/jiffies.h>
#include <linux/timekeeping.h>
#include <linux/random.h>
#include <linux/uaccess.h>

struct item {
	int key;
	struct list_head node;
	struct hlist_node hnode;
};

static LIST_HEAD(items);
static DEFINE_HASHTABLE(table, 3);
static DEFINE_SPINLOCK(lock);

static int __init libs_init(void)
{
	struct item *it, *tmp;
	atomic_t a = ATOMIC_INIT(5);
	unsigned long flags;
	int i, sum = 0, v, x, y;
	unsigned long ul;
	char word[8], *s;
	u64 big = 1000000000000ULL;
	u32 rem;
	void *p;

	for (i = 0; i < 6; i++) {
		it = kmalloc(sizeof(*it), GFP_KERNEL);
		it->key = i * 10;
		list_add_tail(&it->node, &items);
		hash_add(table, &it->hnode, it->key);
	}
	list_for_each_entry(it, &items, node)
		sum += it->key;
	hash_for_each_possible(table, it, hnode, 30)
		if (it->key == 30)
			pr_info("hash found %d\n", it->key);
	pr_info("list sum %d, count %zu, first %d, last %d\n", sum, list_count_nodes(&items),
		list_first_entry(&items, struct item, node)->key, list_last_entry(&items, struct item, node)->key);

	i = kstrtoint("-42\n", 10, &v);
	pr_info("kstrtoint %d %d\n", i, v);
	i = kstrtoint("12x", 10, &v);
	pr_info("kstrtoint bad %d, range %d\n", i, kstrtoint("99999999999", 10, &v));
	i = kstrtoul("0x1f", 0, &ul);
	pr_info("kstrtoul hex %d %lu\n", i, ul);
	i = sscanf("add 7 -3 word", "add %d %d %7s", &x, &y, word);
	pr_info("sscanf %d: %d %d %s\n", i, x, y, word);
	pr_info("kmalloc(0) %s\n", kmalloc(0, GFP_KERNEL) == ZERO_SIZE_PTR ? "ZERO_SIZE_PTR" : "?");
	s = kstrdup("duplicate", GFP_KERNEL);
	p = krealloc(s, 100, GFP_KERNEL);
	pr_info("krealloc kept %s, ksize %zu\n", (char *)p, ksize(p));
	kfree(p);
	pr_info("strlcpy %zu, strstr %s, strrchr %s\n", strlcpy(word, "truncated", sizeof(word)), strstr("haystack", "st"), strrchr("a/b/c", '/'));

	i = atomic_inc_return(&a);
	x = atomic_sub_and_test(6, &a);
	pr_info("atomic %d %d %d\n", i, x, atomic_read(&a));
	spin_lock_irqsave(&lock, flags);
	pr_info("irqs disabled %d, locked %d\n", irqs_disabled(), spin_is_locked(&lock));
	spin_unlock_irqrestore(&lock, flags);
	pr_info("flags restored %d, locked %d\n", arch_local_save_flags() == flags, spin_is_locked(&lock));
	rem = do_div(big, 7);
	pr_info("do_div %llu rem %u\n", big, rem);
	pr_info("jiffies after INITIAL_JIFFIES %d, ktime monotonic %d\n", time_after_eq(jiffies, INITIAL_JIFFIES), ktime_get_ns() < ktime_get_ns() + 1);
	v = 7;
	i = get_user(v, (int __user *)0x08048000);
	pr_info("get_user without a process %d, value %d\n", i, v);
	WARN_ON(sum != 150);
	WARN_ON(sum == 150);

	list_for_each_entry_safe(it, tmp, &items, node) {
		list_del(&it->node);
		hash_del(&it->hnode);
		kfree(it);
	}
	pr_info("empty %d %d\n", list_empty(&items), hash_empty(table));
	return 0;
}

static void __exit libs_exit(void)
{
}

module_init(libs_init);
module_exit(libs_exit);
MODULE_LICENSE("GPL");
