/*
 * <linux/slab.h>: the slab allocator of kmemsim's kernel (src/kernel/mm),
 * which kmemcheck watches. kmalloc() is inline as in Linux: a size known to
 * be 0 gives ZERO_SIZE_PTR at compile time; every other call goes through
 * the out-of-line __kmalloc(), so a probe on __kmalloc sees every kmalloc()
 * of a module (Linux sends constant sizes to kmalloc_trace() instead).
 */
#ifndef _LINUX_SLAB_H
#define _LINUX_SLAB_H
#include <linux/types.h>
#include <linux/gfp.h>
#include <linux/limits.h>

#define ZERO_SIZE_PTR ((void *)16)
#define ZERO_OR_NULL_PTR(x) ((unsigned long)(x) <= (unsigned long)ZERO_SIZE_PTR)
#define KMALLOC_MAX_SIZE (1UL << 22)
#define KMALLOC_MAX_CACHE_SIZE 8192
#define ARCH_KMALLOC_MINALIGN 8
#define SLAB_RECLAIM_ACCOUNT 0x00020000UL
#define SLAB_ACCOUNT 0UL
#define SLAB_TYPESAFE_BY_RCU 0x00080000UL
#define SLAB_DESTROY_BY_RCU SLAB_TYPESAFE_BY_RCU

void *__kmalloc(size_t size, gfp_t flags);
void *krealloc(const void *p, size_t new_size, gfp_t flags);
void kfree_sensitive(const void *p);
void *kmemdup(const void *src, size_t len, gfp_t gfp);
char *kstrdup(const char *s, gfp_t gfp);
char *kstrndup(const char *s, size_t max, gfp_t gfp);
const char *kstrdup_const(const char *s, gfp_t gfp);
void kfree_const(const void *x);
void *kmemdup_nul(const char *s, size_t len, gfp_t gfp);

static __always_inline void *kmalloc(size_t size, gfp_t flags)
{
	if (__builtin_constant_p(size) && size == 0)
		return ZERO_SIZE_PTR;
	return __kmalloc(size, flags);
}

static inline void *kzalloc(size_t size, gfp_t flags)
{
	return kmalloc(size, flags | __GFP_ZERO);
}

static inline void *kmalloc_array(size_t n, size_t size, gfp_t flags)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	return kmalloc(n * size, flags);
}

static inline void *kcalloc(size_t n, size_t size, gfp_t flags)
{
	return kmalloc_array(n, size, flags | __GFP_ZERO);
}

#define kmalloc_node(size, flags, node) kmalloc(size, flags)
#define kzalloc_node(size, flags, node) kzalloc(size, flags)
/* kvmalloc(): kmalloc() serves every size up to KMALLOC_MAX_SIZE here, so there is no vmalloc fallback. */
#define kvmalloc(size, flags) kmalloc(size, flags)
#define kvzalloc(size, flags) kzalloc(size, flags)
#define kvcalloc(n, size, flags) kcalloc(n, size, flags)
#define kvmalloc_array(n, size, flags) kmalloc_array(n, size, flags)
#define kvfree(p) kfree(p)

#define KMEM_CACHE(__struct, __flags) \
	kmem_cache_create(#__struct, sizeof(struct __struct), __alignof__(struct __struct), (__flags), NULL)

#endif
