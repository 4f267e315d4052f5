/*
 * An object from a kmem_cache (no constructor) starts uninitialized like a
 * kmalloc one: reading a field nobody wrote is reported in inode_size().
 */
#include <kmemsim/kernel.h>

struct inode_info {
	unsigned int ino;
	unsigned int mode;
	unsigned int size;
	unsigned int nlink;
	unsigned int uid;
	unsigned int gid;
};

static struct kmem_cache *cache;

__attribute__((noipa)) unsigned int inode_size(const struct inode_info *i)
{
	return i->size;
}

int init_module(void)
{
	struct inode_info *i;

	cache = kmem_cache_create("inode_info", sizeof(struct inode_info), 0, 0, NULL);
	if (!cache)
		return -ENOMEM;
	i = kmem_cache_alloc(cache, GFP_KERNEL);
	if (!i) {
		kmem_cache_destroy(cache);
		return -ENOMEM;
	}
	i->ino = 42;
	i->mode = 0644;
	printk(KERN_INFO "cache-object: ino %u, size read %d\n", i->ino, inode_size(i) != 1);
	kmem_cache_free(cache, i);
	return 0;
}

void cleanup_module(void)
{
	kmem_cache_destroy(cache);
}
