/* Uses pair_sum(), which the pair module exports: it cannot load without pair, and pair cannot go while it is loaded. */
#include <linux/module.h>
#include <linux/kernel.h>

int pair_sum(int a, int b);

static int __init user_init(void)
{
	pr_info("pair-user: %d\n", pair_sum(1, 2));
	return 0;
}

static void __exit user_exit(void)
{
}

module_init(user_init);
module_exit(user_exit);
MODULE_LICENSE("GPL");
