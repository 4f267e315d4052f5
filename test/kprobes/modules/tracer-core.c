/*
 * The heart of the SO2 kprobe-based tracer (seed 002) without its device
 * and proc file: kretprobes on __kmalloc, kfree, schedule, up,
 * down_interruptible, mutex_lock_nested and mutex_unlock count calls per
 * traced pid, and kmalloc'd / kfree'd bytes; 32 kernel threads make known
 * numbers of those calls (hundreds of up/down pairs), sleeping and
 * contending, while the probes fire on every task.
 */
#include <linux/kprobes.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/semaphore.h>
#include <linux/mutex.h>
#include <linux/delay.h>
#include <linux/completion.h>

void *__kmalloc(size_t size, gfp_t flags);

#define NTHREADS 32
#define PAIRS 20

struct stats {
	pid_t pid;
	int kmalloc, kfree, sched, up, down, lock, unlock;
	long kmalloc_mem, kfree_mem;
};
static struct stats table[NTHREADS];
static int ntraced;

struct alloc { void *addr; size_t size; };
static struct alloc allocs[256];

static struct stats *find(pid_t pid)
{
	int i;
	for (i = 0; i < ntraced; i++)
		if (table[i].pid == pid)
			return &table[i];
	return NULL;
}

struct kmalloc_data { size_t size; };

static int kmalloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	((struct kmalloc_data *)ri->data)->size = regs->ax;
	return find(current->pid) ? 0 : 1;	/* untraced: do not hook the return */
}

static int kmalloc_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct stats *s = find(current->pid);
	size_t size = ((struct kmalloc_data *)ri->data)->size;
	void *addr = (void *)regs_return_value(regs);
	int i;
	if (!s || !addr)
		return 0;
	s->kmalloc++;
	s->kmalloc_mem += size;
	for (i = 0; i < 256; i++)
		if (!allocs[i].addr) {
			allocs[i].addr = addr;
			allocs[i].size = size;
			break;
		}
	return 0;
}

static int kfree_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct stats *s = find(current->pid);
	void *addr = (void *)regs->ax;
	int i;
	if (!s || !addr)
		return 1;
	s->kfree++;
	for (i = 0; i < 256; i++)
		if (allocs[i].addr == addr) {
			s->kfree_mem += allocs[i].size;
			allocs[i].addr = NULL;
			break;
		}
	return 1;
}

#define COUNTER(name, field) \
	static int name##_entry(struct kretprobe_instance *ri, struct pt_regs *regs) \
	{ \
		struct stats *s = find(current->pid); \
		if (s) \
			s->field++; \
		return 1; \
	}
COUNTER(sched, sched)
COUNTER(up, up)
COUNTER(down, down)
COUNTER(lock, lock)
COUNTER(unlock, unlock)

static int dummy_ret(struct kretprobe_instance *ri, struct pt_regs *regs) { return 0; }

static struct kretprobe probes[] = {
	{ .kp.symbol_name = "__kmalloc", .entry_handler = kmalloc_entry, .handler = kmalloc_ret, .data_size = sizeof(struct kmalloc_data), .maxactive = 64 },
	{ .kp.symbol_name = "kfree", .entry_handler = kfree_entry, .handler = dummy_ret, .maxactive = 64 },
	{ .kp.symbol_name = "schedule", .entry_handler = sched_entry, .handler = dummy_ret, .maxactive = 64 },
	{ .kp.symbol_name = "up", .entry_handler = up_entry, .handler = dummy_ret, .maxactive = 64 },
	{ .kp.symbol_name = "down_interruptible", .entry_handler = down_entry, .handler = dummy_ret, .maxactive = 64 },
	{ .kp.symbol_name = "mutex_lock_nested", .entry_handler = lock_entry, .handler = dummy_ret, .maxactive = 64 },
	{ .kp.symbol_name = "mutex_unlock", .entry_handler = unlock_entry, .handler = dummy_ret, .maxactive = 64 },
};

static struct semaphore sem;
static DEFINE_MUTEX(mtx);
static DECLARE_COMPLETION(finished);
static int sleeps[NTHREADS];
/* Worker i's sizes: (i + 1) allocations of 16 * (j + 1) bytes. */
static int worker(void *data)
{
	int id = (int)(long)data, j;
	for (j = 0; j <= id; j++) {
		void *p = __kmalloc(16 * (j + 1), GFP_KERNEL);
		kfree(p);
	}
	for (j = 0; j < PAIRS; j++) {
		if (down_interruptible(&sem))
			return -1;
		if (j % 5 == 0) {
			msleep(1);
			sleeps[id]++;
		}
		up(&sem);
	}
	for (j = 0; j < 5; j++) {
		mutex_lock(&mtx);
		msleep(1);
		sleeps[id]++;
		mutex_unlock(&mtx);
	}
	complete(&finished);
	return 0;
}

int init_module(void)
{
	struct task_struct *t[NTHREADS];
	int i, r, good = 0;
	long mem = 0;

	sema_init(&sem, 2);
	r = register_kretprobes((struct kretprobe **)(struct kretprobe *[]){ &probes[0], &probes[1], &probes[2], &probes[3], &probes[4], &probes[5], &probes[6] }, 7);
	printk("register_kretprobes: %d\n", r);
	if (r)
		return r;
	for (i = 0; i < NTHREADS; i++) {
		t[i] = kthread_create(worker, (void *)(long)i, "worker%d", i);
		table[ntraced++].pid = t[i]->pid;
	}
	for (i = 0; i < NTHREADS; i++)
		wake_up_process(t[i]);
	for (i = 0; i < NTHREADS; i++)
		wait_for_completion(&finished);
	msleep(10);	/* let the last ones exit */

	for (i = 0; i < NTHREADS; i++) {
		struct stats *s = &table[i];
		long expect_mem = 16L * (i + 1) * (i + 2) / 2;
		mem += s->kmalloc_mem;
		if (s->kmalloc == i + 1 && s->kfree == i + 1 && s->kmalloc_mem == expect_mem && s->kfree_mem == expect_mem &&
		    s->up == PAIRS && s->down == PAIRS && s->lock == 5 && s->unlock == 5 && s->sched >= sleeps[i])
			good++;
		else
			printk("pid %d: kmalloc %d kfree %d mem %ld/%ld sched %d (>= %d) up %d down %d lock %d unlock %d\n", s->pid, s->kmalloc,
			       s->kfree, s->kmalloc_mem, s->kfree_mem, s->sched, sleeps[i], s->up, s->down, s->lock, s->unlock);
	}
	printk("%d of %d threads counted right; kmalloc'd %ld bytes; worker0: sched %d\n", good, NTHREADS, mem, table[0].sched);
	for (i = 0; i < 7; i++)
		if (probes[i].nmissed)
			printk("%s missed %d\n", probes[i].kp.symbol_name, probes[i].nmissed);
	unregister_kretprobes((struct kretprobe **)(struct kretprobe *[]){ &probes[0], &probes[1], &probes[2], &probes[3], &probes[4], &probes[5], &probes[6] }, 7);
	return 0;
}
