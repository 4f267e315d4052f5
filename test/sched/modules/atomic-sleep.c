/* Sleeping where Linux forbids it: with preemption disabled, under a spinlock, in a kprobe handler. */
#include <linux/sched.h>
#include <linux/delay.h>
#include <linux/kprobes.h>
#include <linux/spinlock_types.h>

void _raw_spin_lock(raw_spinlock_t *lock);
void _raw_spin_unlock(raw_spinlock_t *lock);

static DEFINE_SPINLOCK(lock);

__attribute__((__noinline__)) int probed(int x) { return x + 1; }
int (*volatile call_probed)(int) = probed;

static int sleepy_pre(struct kprobe *p, struct pt_regs *regs)
{
	msleep(1);
	return 0;
}
static struct kprobe kp = { .symbol_name = "probed", .pre_handler = sleepy_pre };

int init_module(void)
{
	preempt_disable();
	might_sleep();
	preempt_enable();
	printk("--- under a spinlock\n");
	_raw_spin_lock(&lock);
	msleep(1);
	_raw_spin_unlock(&lock);
	printk("--- in a kprobe handler\n");
	register_kprobe(&kp);
	printk("probed(1) = %d\n", call_probed(1));
	unregister_kprobe(&kp);
	printk("--- preempt_count %d\n", preempt_count());
	msleep(1);
	return 0;
}
