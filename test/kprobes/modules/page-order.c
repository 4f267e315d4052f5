/*
 * Seed 003's interception on its own: a kprobe on __set_page_owner whose
 * pre_handler reads the order from regs->dx (i386 regparm(3): page in ax,
 * order in dx, gfp in cx) and counts how often each order is allocated.
 */
#include <linux/kprobes.h>

struct page;
struct page *alloc_pages(gfp_t gfp, unsigned int order);
void __free_pages(struct page *page, unsigned int order);
unsigned long __get_free_pages(gfp_t gfp, unsigned int order);
void free_pages(unsigned long addr, unsigned int order);

static int page_orders[] = { 0, 1, 2, 3, 4 };
static int participation[5];

static int set_page_owner_pre(struct kprobe *p, struct pt_regs *regs)
{
	unsigned int order = regs->dx;
	int i;
	for (i = 0; i < 5; i++)
		if (page_orders[i] == (int)order)
			participation[i]++;
	return 0;
}

static struct kprobe kp = { .symbol_name = "__set_page_owner", .pre_handler = set_page_owner_pre };

int init_module(void)
{
	struct page *pages[8];
	unsigned long addr;
	int i, r;

	r = register_kprobe(&kp);
	if (r < 0) {
		printk(KERN_ERR "register_kprobe failed: %d\n", r);
		return r;
	}
	for (i = 0; i < 8; i++)
		pages[i] = alloc_pages(GFP_KERNEL, i % 4);
	addr = __get_free_pages(GFP_KERNEL | __GFP_ZERO, 2);
	printk("Order\tParticipation\n");
	for (i = 0; i < 5; i++)
		printk("%d\t%d\n", page_orders[i], participation[i]);
	free_pages(addr, 2);
	for (i = 0; i < 8; i += 2)
		__free_pages(pages[i], i % 4);
	unregister_kprobe(&kp);
	return 0;
}
