/**
 * The memory manager's notification hooks: how checkers (kmemcheck in
 * `src/shadow`, the watch framework, page_owner) learn what the allocators
 * do, without the allocators knowing about them.
 *
 * They are the calls Linux's allocators make into kmemcheck
 * (mm/kmemcheck.c, arch/x86/mm/kmemcheck/):
 *
 * | hook | Linux call site |
 * | --- | --- |
 * | `newSlabPages` | `allocate_slab()` → `kmemcheck_alloc_shadow()` + `kmemcheck_mark_unallocated_pages()` (or `_uninitialized_pages()` when the cache has a constructor) |
 * | `slabPagesFreed` | `__free_slab()` → `kmemcheck_free_shadow()` |
 * | `objectAllocated` | `slab_alloc()` → `kmemcheck_slab_alloc()` |
 * | `objectFreed` | `slab_free()` → `kmemcheck_slab_free()` |
 * | `pagesAllocated` | `__alloc_pages()` → `kmemcheck_pagealloc_alloc()` |
 * | `pagesFreed` | `__free_pages()` → `kmemcheck_free_shadow()` |
 *
 * The allocators only report; the policy (which states to set, whether
 * `__GFP_NOTRACK`/`SLAB_NOTRACK` means "ignore") is the hook's, exactly as
 * the tests in `kmemcheck_slab_alloc()` live in kmemcheck, not in SLUB.
 *
 * Conventions: every address is a kernel virtual address as an unsigned
 * 32-bit number (`>>> 0`, e.g. 0xc1234000), every size is in bytes. Hooks
 * run synchronously inside the allocator call, after the allocator's own
 * bookkeeping (and after `__GFP_ZERO` zeroing) for allocations and before
 * the memory is reused for frees. Pages used by slabs are reported only
 * through the slab hooks, never through `pagesAllocated`/`pagesFreed`
 * (as Linux's slab allocates its pages with `__GFP_NOTRACK`).
 *
 * Hooks passed to `createMemoryManager()`/`installKernelApi()` see
 * everything, including the first slab of the `kmem_cache` cache made at
 * start-up for the boot caches' descriptors; a hook registered later with
 * `hooks.register()` sees only what happens after (the existing objects are
 * listed by `SlabAllocator.liveObjects()`).
 */

/** What a hook learns about a slab cache (a read-only view of `SlabCache`). */
export interface SlabCacheInfo {
  /** "kmalloc-64", or the name given to kmem_cache_create(). */
  readonly name: string;
  /** The size asked for at kmem_cache_create() (`s->objsize`). */
  readonly objectSize: number;
  /** Bytes from one object to the next: objectSize rounded up to the alignment (`s->size`). */
  readonly size: number;
  readonly align: number;
  /** SLAB_* flags as given to kmem_cache_create(). */
  readonly flags: number;
  /**
   * The constructor, or null: a guest function address or a host callback.
   * Objects of a cache with one are constructed when their slab is created,
   * not on allocation, and keep their state across free and allocation
   * (kmemcheck_slab_alloc()/_free() leave their shadow alone).
   */
  readonly ctor: number | ((obj: number) => void) | null;
  /** `ctor !== null`. */
  readonly hasCtor: boolean;
  /** `flags & SLAB_NOTRACK`: kmemcheck must not track this cache. */
  readonly notrack: boolean;
  /** The `struct kmem_cache *` guest code holds for this cache. */
  readonly handle: number;
}

export interface ObjectAllocationInfo {
  /** The object was zeroed (`__GFP_ZERO`, kzalloc()): every byte is initialized. */
  zeroed: boolean;
  /** `__GFP_NOTRACK` was passed: kmemcheck marks the object initialized instead of tracking it. */
  notrack: boolean;
  /** The cache the object came from. */
  cache: SlabCacheInfo;
  /** The GFP flags of the call. */
  gfp: number;
  /**
   * For kmalloc(): the size the caller asked for (≤ `size`); otherwise the
   * cache's object size. Linux's kmemcheck tracks the whole object
   * (`s->objsize`); a more precise checker may use this.
   */
  requested: number;
}

export interface PageAllocationInfo {
  /** The GFP flags of the call. */
  gfp: number;
  /** `gfp & __GFP_ZERO`: the pages were zeroed. */
  zeroed: boolean;
  /** `gfp & __GFP_NOTRACK`: kmemcheck must not track these pages. */
  notrack: boolean;
}

/**
 * Implemented by checkers; every member is optional. All are called with
 * the allocator's state already consistent, and must not call back into
 * the allocator.
 */
export interface MmHooks {
  /** A new slab's pages, fresh from the page allocator: no object is allocated yet. */
  newSlabPages?(virt: number, bytes: number, cache: SlabCacheInfo): void;
  /** A slab's pages go back to the page allocator (every object in it is free). */
  slabPagesFreed?(virt: number, bytes: number, cache: SlabCacheInfo): void;
  /** An object was handed out; `size` is the cache's object size (`s->objsize`). */
  objectAllocated?(virt: number, size: number, info: ObjectAllocationInfo): void;
  /** An object was given back (kfree(), kmem_cache_free()). */
  objectFreed?(virt: number, size: number, cache: SlabCacheInfo): void;
  /** Pages from the page allocator for anyone but the slab allocator (alloc_pages(), large kmalloc()). */
  pagesAllocated?(virt: number, bytes: number, info: PageAllocationInfo): void;
  /** Those pages given back. */
  pagesFreed?(virt: number, bytes: number): void;
}

/**
 * The registered hooks, called in registration order. The allocators hold
 * one registry; `register` returns the function that unregisters.
 */
export class MmHookRegistry implements Required<MmHooks> {
  private list: MmHooks[] = [];

  register(h: MmHooks): () => void {
    this.list = [...this.list, h];
    return () => {
      this.list = this.list.filter((x) => x !== h);
    };
  }

  get size(): number {
    return this.list.length;
  }

  newSlabPages(virt: number, bytes: number, cache: SlabCacheInfo): void {
    for (const h of this.list) h.newSlabPages?.(virt, bytes, cache);
  }
  slabPagesFreed(virt: number, bytes: number, cache: SlabCacheInfo): void {
    for (const h of this.list) h.slabPagesFreed?.(virt, bytes, cache);
  }
  objectAllocated(virt: number, size: number, info: ObjectAllocationInfo): void {
    for (const h of this.list) h.objectAllocated?.(virt, size, info);
  }
  objectFreed(virt: number, size: number, cache: SlabCacheInfo): void {
    for (const h of this.list) h.objectFreed?.(virt, size, cache);
  }
  pagesAllocated(virt: number, bytes: number, info: PageAllocationInfo): void {
    for (const h of this.list) h.pagesAllocated?.(virt, bytes, info);
  }
  pagesFreed(virt: number, bytes: number): void {
    for (const h of this.list) h.pagesFreed?.(virt, bytes);
  }
}
