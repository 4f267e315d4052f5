/*
 * A kprobe on a module function and one on a kernel function: the
 * pre_handler sees regs->ip = address + 1 and the regparm(3) arguments,
 * the post_handler the address after the stepped instruction; the probed
 * function still computes its result. Then a pre_handler that returns 1
 * after pointing regs->ip at another function (the call is redirected).
 */
#include <linux/kprobes.h>
#include <linux/sched.h>

void *__kmalloc(size_t size, gfp_t flags);

static int pre_hits, post_hits, kmalloc_hits;
static unsigned long pre_ip, post_ip, args[4];

__attribute__((__noinline__)) int target(int a, int b, int c, int d)
{
	return a * 1000 + b * 100 + c * 10 + d;
}

__attribute__((__noinline__)) int replacement(int a, int b, int c, int d)
{
	return -(a + b + c + d);
}

static int target_pre(struct kprobe *p, struct pt_regs *regs)
{
	int i;
	pre_hits++;
	pre_ip = regs->ip;
	for (i = 0; i < 4; i++)
		args[i] = regs_get_kernel_argument(regs, i);
	return 0;
}

static void target_post(struct kprobe *p, struct pt_regs *regs, unsigned long flags)
{
	post_hits++;
	post_ip = regs->ip;
}

static int kmalloc_pre(struct kprobe *p, struct pt_regs *regs)
{
	kmalloc_hits++;
	printk(KERN_INFO "kmalloc(%lu, %#lx) by %s/%d, preempt_count %d\n", regs->ax, regs->dx, current->comm, current->pid, preempt_count());
	return 0;
}

static int redirect_pre(struct kprobe *p, struct pt_regs *regs)
{
	regs->ip = (unsigned long)replacement;
	return 1;
}

static struct kprobe kp_target = { .symbol_name = "target", .pre_handler = target_pre, .post_handler = target_post };
static struct kprobe kp_kmalloc = { .symbol_name = "__kmalloc", .pre_handler = kmalloc_pre };
static struct kprobe kp_redirect = { .symbol_name = "target", .pre_handler = redirect_pre };

int (*volatile call_target)(int, int, int, int) = target;

int init_module(void)
{
	int r, v;
	void *p;

	r = register_kprobe(&kp_target);
	printk(KERN_INFO "register_kprobe(target) = %d, addr %s\n", r, kp_target.addr == (kprobe_opcode_t *)target ? "== target" : "!= target");
	r = register_kprobe(&kp_kmalloc);
	printk(KERN_INFO "register_kprobe(__kmalloc) = %d\n", r);

	v = call_target(1, 2, 3, 4);
	printk(KERN_INFO "target(1, 2, 3, 4) = %d; pre %d post %d\n", v, pre_hits, post_hits);
	printk(KERN_INFO "pre: ip - addr = %ld, args %lu %lu %lu %lu\n", (long)(pre_ip - (unsigned long)target), args[0], args[1], args[2], args[3]);
	printk(KERN_INFO "post: ip > addr + 1: %d, ip - addr <= 15: %d\n", post_ip > (unsigned long)target + 1, post_ip - (unsigned long)target <= 15);

	p = __kmalloc(100, GFP_KERNEL);
	kfree(p);
	printk(KERN_INFO "kmalloc hits %d\n", kmalloc_hits);
	unregister_kprobe(&kp_kmalloc);
	p = __kmalloc(50, GFP_KERNEL);
	kfree(p);
	printk(KERN_INFO "after unregister: kmalloc hits %d\n", kmalloc_hits);

	unregister_kprobe(&kp_target);
	r = register_kprobe(&kp_redirect);
	v = call_target(1, 2, 3, 4);
	printk(KERN_INFO "redirected: register %d, target(1, 2, 3, 4) = %d\n", r, v);
	unregister_kprobe(&kp_redirect);
	v = call_target(1, 2, 3, 4);
	printk(KERN_INFO "restored: target(1, 2, 3, 4) = %d, nmissed %lu\n", v, kp_target.nmissed);
	return 0;
}

void cleanup_module(void)
{
}
