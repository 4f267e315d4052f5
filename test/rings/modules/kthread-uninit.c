/*
 * A kernel thread reads a local it never wrote (test/rings/ring1-tasks.test.ts):
 * under --stack cpl1 the thread runs at CPL 1 on its own kernel stack, which
 * the tracker follows at the switch to it. init_module() starts the thread,
 * waits for it to compute and stops it.
 */
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/err.h>

struct pair {
	int lo;
	int hi;
};

static DECLARE_COMPLETION(done);
static int result;

/* noipa: gcc -O2 would pass the two fields in registers (IPA-SRA), and the read would never touch the stack. */
static noinline __attribute__((noipa)) int span(const struct pair *p)
{
	return p->hi - p->lo;
}

static noinline __attribute__((noipa)) int measure(void)
{
	struct pair p;

	p.lo = 5;	/* hi forgotten */
	return span(&p);
}

static int thread_fn(void *data)
{
	result = measure();
	complete(&done);
	while (!kthread_should_stop())
		msleep(1);
	return 0;
}

static int __init kthread_uninit_init(void)
{
	struct task_struct *t = kthread_run(thread_fn, NULL, "uninit_thread");

	if (IS_ERR(t))
		return PTR_ERR(t);
	wait_for_completion(&done);
	kthread_stop(t);
	pr_info("kthread-uninit: measured\n");
	return 0;
}

static void __exit kthread_uninit_exit(void)
{
}

module_init(kthread_uninit_init);
module_exit(kthread_uninit_exit);
MODULE_LICENSE("GPL");
