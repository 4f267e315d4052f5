/* Page and slab allocations for the bpftrace tests (kmemsim's own header only). */
#include <kmemsim/kernel.h>

void *__kmalloc(size_t size, gfp_t flags);

int init_module(void)
{
	struct page *p[4];
	void *k[3];
	int i;
	for (i = 0; i < 4; i++)
		p[i] = alloc_pages(GFP_KERNEL, i);
	for (i = 0; i < 3; i++)
		k[i] = __kmalloc(100 * (i + 1), GFP_KERNEL);
	for (i = 0; i < 3; i++)
		kfree(k[i]);
	for (i = 0; i < 4; i += 2)
		__free_pages(p[i], i);
	printk("pages done\n");
	return 0;
}

void cleanup_module(void)
{
}
