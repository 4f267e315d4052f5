/*
 * <linux/gfp.h>: allocation flags (kmemsim keeps the 2.6-era values of
 * <kmemsim/kernel.h>: GFP_KERNEL 0xD0, GFP_ATOMIC 0x20) and the page
 * allocator.
 */
#ifndef _LINUX_GFP_H
#define _LINUX_GFP_H
#include <linux/types.h>

#define __GFP_DMA	((gfp_t)0x01u)
#define __GFP_HIGHMEM	((gfp_t)0x02u)
#define __GFP_NOWARN	((gfp_t)0x200u)
#define __GFP_RETRY_MAYFAIL ((gfp_t)0x400u)
#define __GFP_NOFAIL	((gfp_t)0x800u)
#define __GFP_NORETRY	((gfp_t)0x1000u)
#define __GFP_COMP	((gfp_t)0x4000u)
#define __GFP_ACCOUNT	((gfp_t)0)
#define __GFP_DIRECT_RECLAIM __GFP_WAIT
#define __GFP_RECLAIM	__GFP_WAIT

#define GFP_NOWAIT	((gfp_t)0)
#define GFP_NOIO	(__GFP_WAIT)
#define GFP_NOFS	(__GFP_WAIT | __GFP_IO)
#define GFP_USER	(__GFP_WAIT | __GFP_IO | __GFP_FS)
#define GFP_HIGHUSER	(GFP_USER | __GFP_HIGHMEM)
#define GFP_DMA		__GFP_DMA
#define GFP_KERNEL_ACCOUNT (GFP_KERNEL | __GFP_ACCOUNT)

static inline bool gfpflags_allow_blocking(const gfp_t gfp_flags)
{
	return !!(gfp_flags & __GFP_WAIT);
}

#endif
