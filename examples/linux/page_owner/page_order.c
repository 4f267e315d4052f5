/*
 * page_order.ko — seed 003's page_owner interception: a kprobe on
 * __set_page_owner whose pre_handler reads the allocation's order (on
 * i386, regparm(3): the page in ax, the order in dx, the gfp mask in cx;
 * the original x86-64 module read si) and counts it against a list of
 * orders; /proc/page_order shows "Order\tParticipation" rows.
 * Needs the kernel booted with page_owner=on (--kernel-param page_owner=on).
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kmemsim, after iliyami/page_owner_interception");
MODULE_DESCRIPTION("Page order filtering through a kprobe on __set_page_owner");

struct page_order {
	unsigned int order;
	unsigned long participation;
};

static struct page_order page_orders[] = { { 0 }, { 1 }, { 2 }, { 3 }, { 4 } };

static int page_order_show(struct seq_file *m, void *v)
{
	int i;
	seq_puts(m, "Order\tParticipation\n");
	for (i = 0; i < ARRAY_SIZE(page_orders); i++)
		seq_printf(m, "%u\t%lu\n", page_orders[i].order, page_orders[i].participation);
	return 0;
}

static int page_order_open(struct inode *inode, struct file *file)
{
	return single_open(file, page_order_show, NULL);
}

static const struct proc_ops page_order_ops = {
	.proc_open = page_order_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

static int set_page_owner_pre(struct kprobe *p, struct pt_regs *regs)
{
	unsigned int order = regs->dx;
	int i;
	for (i = 0; i < ARRAY_SIZE(page_orders); i++)
		if (page_orders[i].order == order) {
			page_orders[i].participation++;
			pr_info("page_order: order %u, participation %lu\n", order, page_orders[i].participation);
		}
	return 0;
}

static struct kprobe kp = {
	.symbol_name = "__set_page_owner",
	.pre_handler = set_page_owner_pre,
};

static struct proc_dir_entry *entry;

static int __init page_owner_module_init(void)
{
	int ret;
	entry = proc_create("page_order", 0444, NULL, &page_order_ops);
	if (!entry) {
		pr_err("page_order: cannot create /proc/page_order\n");
		return -ENOMEM;
	}
	ret = register_kprobe(&kp);
	if (ret < 0) {
		pr_err("page_order: register_kprobe failed, returned %d\n", ret);
		proc_remove(entry);
		return ret;
	}
	pr_info("page_order: kprobe at %p\n", kp.addr);
	return 0;
}

static void __exit page_owner_module_exit(void)
{
	unregister_kprobe(&kp);
	proc_remove(entry);
}

module_init(page_owner_module_init);
module_exit(page_owner_module_exit);
