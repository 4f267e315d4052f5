/* Allocates pages of orders 0 to 3 (and frees half) when loaded: something for page_order.ko to count. */
#include <linux/module.h>
#include <linux/gfp.h>
#include <linux/mm.h>

MODULE_LICENSE("GPL");

static struct page *pages[8];

static int __init alloc_init(void)
{
	int i;
	for (i = 0; i < 8; i++)
		pages[i] = alloc_pages(GFP_KERNEL, i % 4);
	for (i = 0; i < 8; i += 2)
		__free_pages(pages[i], i % 4);
	return 0;
}

static void __exit alloc_exit(void)
{
	int i;
	for (i = 1; i < 8; i += 2)
		__free_pages(pages[i], i % 4);
}

module_init(alloc_init);
module_exit(alloc_exit);
