/* Two C files, a Kbuild Makefile, a parameter and an exported function: built by kmemsim cc DIR. */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include "pair.h"

static int extra = 2;
module_param(extra, int, 0444);
MODULE_PARM_DESC(extra, "added to PAIR_BASE");
static char *who = "nobody";
module_param(who, charp, 0444);
static bool loud;
module_param(loud, bool, 0444);

static int __init pair_init(void)
{
	pr_info("pair: %d for %s%s (module %s, %d call)\n", pair_sum(PAIR_BASE, extra), who, loud ? "!" : "", THIS_MODULE->name, pair_calls);
	return 0;
}

static void __exit pair_exit(void)
{
	pr_info("pair: bye %s\n", who);
}

module_init(pair_init);
module_exit(pair_exit);
MODULE_LICENSE("GPL");
