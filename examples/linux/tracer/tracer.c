/*
 * tracer.ko — the kprobe-based tracer of the SO2 course (seed 002), written
 * as for a Linux 5.x/6.x VM: kretprobes on __kmalloc, kfree, schedule, up,
 * down_interruptible, mutex_lock_nested and mutex_unlock count, per traced
 * PID, the calls and the kmalloc'd and kfree'd bytes; /dev/tracer (misc,
 * 10:42) adds and removes PIDs by ioctl; /proc/tracer shows the table;
 * a process that exits is removed (a kprobe on do_exit).
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/init.h>
#include <linux/slab.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/sched.h>
#include <linux/kprobes.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include "tracer.h"

MODULE_DESCRIPTION("Kprobe based tracer");
MODULE_LICENSE("GPL");

struct mem_block {
	unsigned long addr;
	unsigned long size;
	struct list_head list;
};

struct proc_info {
	pid_t pid;
	unsigned long kmalloc, kfree, kmalloc_mem, kfree_mem, sched, up, down, lock, unlock;
	struct list_head blocks;
	struct list_head list;
};

static LIST_HEAD(procs);
static DEFINE_SPINLOCK(lock);

static struct proc_info *find(pid_t pid)
{
	struct proc_info *p;
	list_for_each_entry(p, &procs, list)
		if (p->pid == pid)
			return p;
	return NULL;
}

/* ---- probes ------------------------------------------------------------- */

static int kmalloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	*(unsigned long *)ri->data = regs->ax;	/* size: the first regparm argument */
	return 0;
}

static int kmalloc_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct proc_info *p;
	struct mem_block *b;
	unsigned long flags, addr = regs_return_value(regs), size = *(unsigned long *)ri->data;

	spin_lock_irqsave(&lock, flags);
	p = find(current->pid);
	if (p && addr) {
		p->kmalloc++;
		p->kmalloc_mem += size;
		b = kmalloc(sizeof(*b), GFP_ATOMIC);
		if (b) {
			b->addr = addr;
			b->size = size;
			list_add(&b->list, &p->blocks);
		}
	}
	spin_unlock_irqrestore(&lock, flags);
	return 0;
}

static int kfree_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct proc_info *p;
	struct mem_block *b, *n;
	unsigned long flags, addr = regs->ax;

	spin_lock_irqsave(&lock, flags);
	p = find(current->pid);
	if (p && addr) {
		p->kfree++;
		list_for_each_entry_safe(b, n, &p->blocks, list)
			if (b->addr == addr) {
				p->kfree_mem += b->size;
				list_del(&b->list);
				kfree(b);
				break;
			}
	}
	spin_unlock_irqrestore(&lock, flags);
	return 1;
}

#define COUNT_ENTRY(fn, field) \
static int fn##_entry(struct kretprobe_instance *ri, struct pt_regs *regs) \
{ \
	struct proc_info *p; \
	unsigned long flags; \
	spin_lock_irqsave(&lock, flags); \
	p = find(current->pid); \
	if (p) \
		p->field++; \
	spin_unlock_irqrestore(&lock, flags); \
	return 1; \
}

COUNT_ENTRY(sched, sched)
COUNT_ENTRY(up, up)
COUNT_ENTRY(down, down)
COUNT_ENTRY(lock, lock)
COUNT_ENTRY(unlock, unlock)

static int nop_ret(struct kretprobe_instance *ri, struct pt_regs *regs) { return 0; }

static struct kretprobe probes[] = {
	{ .kp.symbol_name = "__kmalloc", .entry_handler = kmalloc_entry, .handler = kmalloc_ret, .data_size = sizeof(unsigned long), .maxactive = 32 },
	{ .kp.symbol_name = "kfree", .entry_handler = kfree_entry, .handler = nop_ret, .maxactive = 32 },
	{ .kp.symbol_name = "schedule", .entry_handler = sched_entry, .handler = nop_ret, .maxactive = 32 },
	{ .kp.symbol_name = "up", .entry_handler = up_entry, .handler = nop_ret, .maxactive = 32 },
	{ .kp.symbol_name = "down_interruptible", .entry_handler = down_entry, .handler = nop_ret, .maxactive = 32 },
	{ .kp.symbol_name = "mutex_lock_nested", .entry_handler = lock_entry, .handler = nop_ret, .maxactive = 32 },
	{ .kp.symbol_name = "mutex_unlock", .entry_handler = unlock_entry, .handler = nop_ret, .maxactive = 32 },
};
static struct kretprobe *probe_list[ARRAY_SIZE(probes)];

static void free_proc(struct proc_info *p)
{
	struct mem_block *b, *n;
	list_for_each_entry_safe(b, n, &p->blocks, list) {
		list_del(&b->list);
		kfree(b);
	}
	list_del(&p->list);
	kfree(p);
}

/* A traced task that exits leaves the table. */
static int exit_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct proc_info *p;
	unsigned long flags;
	spin_lock_irqsave(&lock, flags);
	p = find(current->pid);
	if (p)
		free_proc(p);
	spin_unlock_irqrestore(&lock, flags);
	return 0;
}
static struct kprobe exit_probe = { .symbol_name = "do_exit", .pre_handler = exit_pre };

/* ---- /dev/tracer ----------------------------------------------------------- */

static long tracer_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct proc_info *p, *n;
	unsigned long flags;
	pid_t pid = (pid_t)arg;

	switch (cmd) {
	case TRACER_ADD_PROCESS:
		n = kzalloc(sizeof(*n), GFP_KERNEL);
		if (!n)
			return -ENOMEM;
		n->pid = pid;
		INIT_LIST_HEAD(&n->blocks);
		spin_lock_irqsave(&lock, flags);
		if (find(pid)) {
			spin_unlock_irqrestore(&lock, flags);
			kfree(n);
			return -EEXIST;
		}
		list_add_tail(&n->list, &procs);
		spin_unlock_irqrestore(&lock, flags);
		return 0;
	case TRACER_REMOVE_PROCESS:
		spin_lock_irqsave(&lock, flags);
		p = find(pid);
		if (p)
			list_del(&p->list);
		spin_unlock_irqrestore(&lock, flags);
		if (!p)
			return -EINVAL;
		/* Freed outside the lock: kfree() is probed, and its handler takes the lock. */
		INIT_LIST_HEAD(&p->list);
		free_proc(p);
		return 0;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations tracer_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = tracer_ioctl,
};

static struct miscdevice tracer_dev = {
	.minor = TRACER_DEV_MINOR,
	.name = TRACER_DEV_NAME,
	.fops = &tracer_fops,
};

/* ---- /proc/tracer ---------------------------------------------------------- */

static int tracer_show(struct seq_file *m, void *v)
{
	struct proc_info *p;
	unsigned long flags;
	seq_puts(m, "PID   kmalloc kfree kmalloc_mem kfree_mem  sched   up     down  lock   unlock\n");
	spin_lock_irqsave(&lock, flags);
	list_for_each_entry(p, &procs, list)
		seq_printf(m, "%-5d %-7lu %-5lu %-11lu %-11lu %-7lu %-6lu %-5lu %-6lu %lu\n", p->pid, p->kmalloc, p->kfree,
			   p->kmalloc_mem, p->kfree_mem, p->sched, p->up, p->down, p->lock, p->unlock);
	spin_unlock_irqrestore(&lock, flags);
	return 0;
}

static int tracer_open(struct inode *inode, struct file *file)
{
	return single_open(file, tracer_show, NULL);
}

static const struct proc_ops tracer_proc_ops = {
	.proc_open = tracer_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

static struct proc_dir_entry *proc_entry;

static int __init tracer_init(void)
{
	int i, r;

	proc_entry = proc_create("tracer", 0444, NULL, &tracer_proc_ops);
	if (!proc_entry)
		return -ENOMEM;
	r = misc_register(&tracer_dev);
	if (r)
		goto out_proc;
	for (i = 0; i < ARRAY_SIZE(probes); i++)
		probe_list[i] = &probes[i];
	r = register_kretprobes(probe_list, ARRAY_SIZE(probes));
	if (r)
		goto out_misc;
	r = register_kprobe(&exit_probe);
	if (r)
		goto out_probes;
	return 0;
out_probes:
	unregister_kretprobes(probe_list, ARRAY_SIZE(probes));
out_misc:
	misc_deregister(&tracer_dev);
out_proc:
	proc_remove(proc_entry);
	return r;
}

static void __exit tracer_exit(void)
{
	struct proc_info *p, *n;
	unregister_kprobe(&exit_probe);
	unregister_kretprobes(probe_list, ARRAY_SIZE(probes));
	misc_deregister(&tracer_dev);
	proc_remove(proc_entry);
	list_for_each_entry_safe(p, n, &procs, list)
		free_proc(p);
}

module_init(tracer_init);
module_exit(tracer_exit);
