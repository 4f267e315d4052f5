/*
 * A module using the kernel API for real: kmalloc/kfree, a slab cache,
 * snprintf, and %pS of one of its own functions (printk symbolizes module
 * addresses). Run by the CLI end-to-end test with the kernel's exports.
 */
#include <kmemsim/kernel.h>

struct item {
	int id;
	char name[12];
};

static struct kmem_cache *cache;
static struct item *items[3];

static int __init kapi_init(void)
{
	char line[32];
	char *copy;
	int i;

	cache = kmem_cache_create("kapi_items", sizeof(struct item), 0, 0, NULL);
	if (!cache)
		return -ENOMEM;
	for (i = 0; i < 3; i++) {
		items[i] = kmem_cache_alloc(cache, GFP_KERNEL);
		if (!items[i])
			return -ENOMEM;
		items[i]->id = i * 10;
		snprintf(items[i]->name, sizeof(items[i]->name), "item-%d", i);
	}
	copy = kmalloc(16, GFP_KERNEL);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, items[2]->name, strlen(items[2]->name) + 1);
	snprintf(line, sizeof(line), "%s/%d", copy, items[1]->id);
	kfree(copy);
	printk(KERN_INFO "kapi: %s from %pS\n", line, kapi_init);
	return 0;
}

static void __exit kapi_exit(void)
{
	int i;

	for (i = 0; i < 3; i++)
		kmem_cache_free(cache, items[i]);
	kmem_cache_destroy(cache);
	printk(KERN_INFO "kapi: bye\n");
}

module_init(kapi_init);
module_exit(kapi_exit);
