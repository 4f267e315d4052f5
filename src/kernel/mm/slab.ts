/**
 * The slab allocator, modelled on Linux's SLUB (mm/slub.c) as of the
 * kmemcheck era (2.6.31): object caches (`kmem_cache_create()`,
 * `kmem_cache_alloc()`, `kmem_cache_free()`, `kmem_cache_destroy()`), the
 * kmalloc caches `kmalloc-8` … `kmalloc-8192` behind `kmalloc()`,
 * `kzalloc()`, `kfree()` and `ksize()`, and large kmallocs straight from
 * the page allocator (`kmalloc_large()`).
 *
 * Layout, as SLUB lays it out: a slab is 2^order pages from the buddy
 * allocator; objects of `size` bytes (the object size rounded up to the
 * alignment) follow each other from the slab's first byte. The order per
 * cache follows SLUB's `calculate_order()`: the smallest order up to
 * PAGE_ALLOC_COSTLY_ORDER (3) that holds at least 8 objects (SLUB's
 * minimum for one CPU) wasting at most 1/16 of the slab, relaxing the
 * waste to 1/8 and 1/4 and then the object count, down to one object.
 *
 * Unlike SLUB, **all metadata is host-side**: the free list is a TypeScript
 * array per slab (not a pointer stored inside each free object), the
 * page → slab map a JavaScript Map. Guest memory holds only objects, so
 * kmemcheck never sees the allocator read its own metadata out of a freed
 * object (the reason Linux had to annotate SLUB for kmemcheck). Free
 * objects are handed out again last-freed-first (SLUB's LIFO freelist);
 * a fresh slab hands out its objects in address order. When a slab
 * becomes empty it is kept if it is the cache's only empty slab, and
 * otherwise given back to the page allocator (SLUB's `min_partial` idea,
 * with a minimum of one).
 *
 * Every `struct kmem_cache *` guest code sees is the address of a real,
 * zeroed 64-byte object from the `kmem_cache` cache (created with
 * SLAB_NOTRACK), so it is a valid kernel pointer; its contents are opaque.
 *
 * Misuse throws `KernelBug` (double free, a pointer that is not the start
 * of an allocated object, an object freed to the wrong cache, a destroyed
 * cache used). `kmem_cache_destroy()` of a cache with live objects is
 * refused with SLUB's message ("SLUB <name>: kmem_cache_destroy called for
 * cache that still has objects.") sent to the `warn` callback; the cache
 * stays usable.
 */
import type { GuestMemory } from '../guest-memory.js';
import { PAGE_SIZE } from '../layout.js';
import {
  BuddyAllocator, KernelBug, MAX_ORDER, __GFP_NOTRACK, __GFP_ZERO, getOrder, hex, type PageOwner,
} from './buddy.js';
import type { MmHookRegistry, SlabCacheInfo } from './hooks.js';

// SLAB_* flags (include/linux/slab.h).
export const SLAB_HWCACHE_ALIGN = 0x00002000;
export const SLAB_CACHE_DMA = 0x00004000;
export const SLAB_PANIC = 0x00040000;
export const SLAB_DESTROY_BY_RCU = 0x00080000;
export const SLAB_NOTRACK = 0x01000000;

/** What kmalloc(0) returns (include/linux/slab.h): not NULL, but faults when dereferenced. */
export const ZERO_SIZE_PTR = 0x10;
/** The kmalloc size classes (SLUB's kmalloc_caches, with the 96 and 192 byte caches). */
export const KMALLOC_SIZES: readonly number[] = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];
/** Larger kmalloc()s go to the page allocator (SLUB: 2 × PAGE_SIZE). */
export const KMALLOC_MAX_CACHE_SIZE = 8192;
/** The largest kmalloc(): one block of the highest order (4 MiB). */
export const KMALLOC_MAX_SIZE = PAGE_SIZE * 2 ** (MAX_ORDER - 1);
/** __alignof__(unsigned long long) on i386. */
export const ARCH_SLAB_MINALIGN = 8;
/** The i686's cache line (X86_L1_CACHE_SHIFT = 5 for M686), used by SLAB_HWCACHE_ALIGN. */
export const L1_CACHE_BYTES = 32;
/** PAGE_ALLOC_COSTLY_ORDER: SLUB's largest preferred slab order. */
export const SLUB_MAX_ORDER = 3;
/** Bytes of the guest-visible `struct kmem_cache` object. */
export const KMEM_CACHE_OBJECT_SIZE = 64;

/** A constructor: a host callback, or the guest address of `void ctor(void *)` (run by the kernel API). */
export type SlabCtor = number | ((obj: number) => void);

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;
const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** One slab: 2^order pages of objects. */
export class Slab {
  /** Free object indexes; the last one is handed out next. */
  readonly free: number[] = [];
  readonly allocated: Uint8Array;
  inuse = 0;
  constructor(readonly cache: SlabCache, readonly phys: number, readonly virt: number) {
    const n = cache.objectsPerSlab;
    this.allocated = new Uint8Array(n);
    for (let i = n - 1; i >= 0; i--) this.free.push(i);
  }
  get bytes(): number {
    return PAGE_SIZE * 2 ** this.cache.order;
  }
  objectAddress(i: number): number {
    return (this.virt + i * this.cache.size) >>> 0;
  }
  /** Every object's address, in address order. */
  objectAddresses(): number[] {
    return Array.from({ length: this.cache.objectsPerSlab }, (_, i) => this.objectAddress(i));
  }
}

export class SlabCache implements SlabCacheInfo {
  readonly size: number;
  readonly align: number;
  readonly order: number;
  readonly objectsPerSlab: number;
  handle = 0;
  destroyed = false;
  /** Slabs with at least one free object, in the order they are used. */
  readonly partial = new Set<Slab>();
  readonly slabs = new Set<Slab>();
  /** Slabs with no object allocated. */
  emptySlabs = 0;
  activeObjects = 0;

  constructor(
    readonly name: string,
    readonly objectSize: number,
    align: number,
    readonly flags: number,
    readonly ctor: SlabCtor | null,
    /** One of the kmalloc caches (never destroyed). */
    readonly isKmalloc = false,
  ) {
    this.align = calculateAlignment(flags, align, objectSize);
    this.size = alignUp(alignUp(objectSize, 4), this.align);
    this.order = calculateOrder(this.size);
    this.objectsPerSlab = Math.floor((PAGE_SIZE * 2 ** this.order) / this.size);
  }

  get hasCtor(): boolean {
    return this.ctor !== null;
  }
  get notrack(): boolean {
    return (this.flags & SLAB_NOTRACK) !== 0;
  }
  get totalObjects(): number {
    return this.slabs.size * this.objectsPerSlab;
  }
  get owner(): PageOwner {
    return `slab ${this.name}`;
  }
}

/** SLUB's calculate_alignment(). */
export function calculateAlignment(flags: number, align: number, size: number): number {
  if (flags & SLAB_HWCACHE_ALIGN) {
    let ralign = L1_CACHE_BYTES;
    while (size <= ralign / 2) ralign /= 2;
    align = Math.max(align, ralign);
  }
  if (align < ARCH_SLAB_MINALIGN) align = ARCH_SLAB_MINALIGN;
  return alignUp(align, 4);
}

/** SLUB's slab_order(): the first order from the minimum that fits `minObjects` wasting ≤ slab/fract. */
function slabOrder(size: number, minObjects: number, maxOrder: number, fract: number): number {
  const need = minObjects * size;
  let order = Math.max(0, Math.ceil(Math.log2(need / PAGE_SIZE)));
  for (; order <= maxOrder; order++) {
    const slabSize = PAGE_SIZE * 2 ** order;
    if (slabSize < need) continue;
    if (slabSize % size <= slabSize / fract) break;
  }
  return order;
}

/** SLUB's calculate_order() for one CPU (min_objects = 4 × (fls(1) + 1) = 8). */
export function calculateOrder(size: number): number {
  for (let minObjects = 8; minObjects > 1; minObjects--) {
    for (let fract = 16; fract >= 4; fract /= 2) {
      const order = slabOrder(size, minObjects, SLUB_MAX_ORDER, fract);
      if (order <= SLUB_MAX_ORDER) return order;
    }
  }
  const order = slabOrder(size, 1, SLUB_MAX_ORDER, 1);
  if (order <= SLUB_MAX_ORDER) return order;
  return Math.min(getOrder(size), MAX_ORDER - 1);
}

export interface SlabOptions {
  /** Messages Linux prints with KERN_ERR (a refused kmem_cache_destroy(), a failed kmem_cache_create()). */
  warn?: (msg: string) => void;
}

/** An object slot: its slab and index in it. */
interface ObjectRef {
  slab: Slab;
  index: number;
}

export class SlabAllocator {
  /** The cache every `struct kmem_cache` object comes from. */
  readonly kmemCache: SlabCache;
  readonly kmallocCaches: readonly SlabCache[];
  readonly warnings: string[] = [];
  private readonly hooks: MmHookRegistry;
  private readonly slabByPage = new Map<number, Slab>();
  private readonly byHandle = new Map<number, SlabCache>();
  private readonly caches = new Set<SlabCache>();
  /** Large kmallocs: address → order and requested size. */
  private readonly large = new Map<number, { order: number; requested: number }>();
  private readonly warnFn?: (msg: string) => void;

  constructor(readonly buddy: BuddyAllocator, private readonly mem: GuestMemory, opts: SlabOptions = {}) {
    this.hooks = buddy.hooks;
    this.warnFn = opts.warn;
    // kmem_cache_init(): the cache of caches first, its own descriptor from itself.
    this.kmemCache = new SlabCache('kmem_cache', KMEM_CACHE_OBJECT_SIZE, 0, SLAB_NOTRACK | SLAB_PANIC, null);
    this.registerCache(this.kmemCache);
    this.kmallocCaches = KMALLOC_SIZES.map((n) => {
      const c = new SlabCache(`kmalloc-${n}`, n, 0, 0, null, true);
      this.registerCache(c);
      return c;
    });
  }

  private warn(msg: string): void {
    this.warnings.push(msg);
    this.warnFn?.(msg);
  }

  private registerCache(c: SlabCache): boolean {
    const h = this.allocObject(this.kmemCache, __GFP_ZERO, KMEM_CACHE_OBJECT_SIZE, 'kmem_cache_create');
    if (!h) return false;
    c.handle = h;
    this.byHandle.set(h, c);
    this.caches.add(c);
    return true;
  }

  // ---- caches -----------------------------------------------------------------------------

  /**
   * kmem_cache_create(): a cache of `size`-byte objects aligned to `align`
   * (0 = the minimum; SLAB_HWCACHE_ALIGN rounds up to the cache line).
   * Null (with a warning, as SLUB prints) when the parameters are unusable.
   */
  kmem_cache_create(name: string, size: number, align: number, flags: number, ctor?: SlabCtor | null): SlabCache | null {
    const fail = (why: string): null => {
      this.warn(`kmem_cache_create(${name}) failed: ${why}`);
      return null;
    };
    if (!Number.isInteger(size) || size < 1 || size > KMALLOC_MAX_SIZE) return fail(`object size ${size} is not in 1..${KMALLOC_MAX_SIZE}`);
    if (align !== 0 && (!isPow2(align) || align > PAGE_SIZE)) return fail(`alignment ${align} is not a power of two up to ${PAGE_SIZE}`);
    const c = new SlabCache(name, size, align, flags >>> 0, ctor ?? null);
    if (!this.registerCache(c)) return fail('out of memory for the cache descriptor');
    return c;
  }

  /**
   * kmem_cache_destroy(): frees every slab of an empty cache. A cache that
   * still has objects is refused (SLUB's message goes to `warn`) and
   * stays usable; returns whether it was destroyed.
   */
  kmem_cache_destroy(cache: SlabCache): boolean {
    const fn = 'kmem_cache_destroy';
    this.checkCache(cache, fn);
    if (cache.isKmalloc || cache === this.kmemCache) throw new KernelBug(fn, cache.handle, `${cache.name} is a boot cache of the slab allocator and cannot be destroyed`);
    if (cache.activeObjects > 0) {
      this.warn(`SLUB ${cache.name}: kmem_cache_destroy called for cache that still has objects. (${cache.activeObjects} allocated: ${this.liveObjects(cache).slice(0, 8).map(hex).join(' ')}${cache.activeObjects > 8 ? ' …' : ''})`);
      return false;
    }
    for (const s of [...cache.slabs]) this.discardSlab(s, true);
    cache.destroyed = true;
    this.caches.delete(cache);
    this.byHandle.delete(cache.handle);
    this.freeObject(this.kmemCache, cache.handle, 'kmem_cache_destroy');
    return true;
  }

  /** The cache a guest `struct kmem_cache *` stands for (a KernelBug naming `fn` otherwise). */
  cacheFromHandle(handle: number, fn: string): SlabCache {
    const c = this.byHandle.get(handle >>> 0);
    if (!c) throw new KernelBug(fn, handle >>> 0, `${hex(handle)} is not a struct kmem_cache (not returned by kmem_cache_create(), or destroyed)`);
    return c;
  }

  /** Every live cache, boot caches first. */
  allCaches(): SlabCache[] {
    return [...this.caches];
  }

  private checkCache(cache: SlabCache, fn: string): void {
    if (cache.destroyed) throw new KernelBug(fn, cache.handle, `cache ${cache.name} was destroyed`);
  }

  // ---- objects ----------------------------------------------------------------------------

  /**
   * kmem_cache_alloc(): an object, or 0 when the page allocator is out of
   * memory. A cache with a guest constructor cannot grow here (the
   * constructor is guest code): the kernel API grows it with newSlab(),
   * runs the constructor on every object, then addSlab().
   */
  kmem_cache_alloc(cache: SlabCache, gfp: number): number {
    return this.allocObject(cache, gfp, cache.objectSize, 'kmem_cache_alloc');
  }

  /** kmem_cache_free(): `obj` must be an allocated object of `cache`. */
  kmem_cache_free(cache: SlabCache, obj: number): void {
    this.freeObject(cache, obj, 'kmem_cache_free');
  }

  /** The cache has no free object: the next allocation needs a new slab. */
  needsNewSlab(cache: SlabCache): boolean {
    return cache.partial.size === 0;
  }

  /**
   * A new slab for `cache` (allocate_slab()): its pages, reported through
   * `newSlabPages`, not yet on the cache's lists; null when out of memory.
   * A host constructor runs on every object (SLUB's setup_object()).
   */
  newSlab(cache: SlabCache, gfp: number): Slab | null {
    this.checkCache(cache, 'kmem_cache_alloc');
    const phys = this.buddy.allocate(cache.order, (gfp & ~__GFP_ZERO) | __GFP_NOTRACK, cache.owner, false);
    if (!phys) return null;
    const slab = new Slab(cache, phys, this.buddy.pageAddress(phys));
    const pages = 2 ** cache.order;
    for (let i = 0; i < pages; i++) this.slabByPage.set((slab.virt >>> 12) + i, slab);
    this.hooks.newSlabPages(slab.virt, slab.bytes, cache);
    if (typeof cache.ctor === 'function') for (const o of slab.objectAddresses()) cache.ctor(o);
    return slab;
  }

  /** Put a slab made by newSlab() (and constructed) on its cache's lists. */
  addSlab(slab: Slab): void {
    const c = slab.cache;
    c.slabs.add(slab);
    c.partial.add(slab);
    c.emptySlabs++;
  }

  private allocObject(cache: SlabCache, gfp: number, requested: number, fn: string): number {
    this.checkCache(cache, fn);
    let slab: Slab | undefined = cache.partial.values().next().value;
    if (!slab) {
      if (typeof cache.ctor === 'number') {
        throw new Error(`${fn}: cache ${cache.name} has a guest constructor; grow it through the kernel API (newSlab/addSlab)`);
      }
      const s = this.newSlab(cache, gfp);
      if (!s) return 0;
      this.addSlab(s);
      slab = s;
    }
    const index = slab.free.pop()!;
    if (slab.inuse === 0) cache.emptySlabs--;
    slab.inuse++;
    slab.allocated[index] = 1;
    cache.activeObjects++;
    if (slab.free.length === 0) cache.partial.delete(slab);
    const obj = slab.objectAddress(index);
    // slab_alloc(): memset(object, 0, s->objsize) for __GFP_ZERO, then kmemcheck_slab_alloc().
    const zeroed = (gfp & __GFP_ZERO) !== 0;
    // By physical address (a slab is physically contiguous): the page may be hidden by kmemcheck.
    if (zeroed) this.mem.writePhys(slab.phys + (obj - slab.virt), new Uint8Array(cache.objectSize));
    this.hooks.objectAllocated(obj, cache.objectSize, { zeroed, notrack: (gfp & __GFP_NOTRACK) !== 0, cache, gfp: gfp >>> 0, requested });
    return obj;
  }

  /** The object starting at `ptr`, or a KernelBug explaining why `ptr` is not one. */
  private objectAt(ptr: number, fn: string): ObjectRef {
    ptr = ptr >>> 0;
    const slab = this.slabByPage.get(ptr >>> 12);
    if (!slab) throw new KernelBug(fn, ptr, this.notASlabObject(ptr));
    const off = ptr - slab.virt;
    const index = Math.floor(off / slab.cache.size);
    if (off % slab.cache.size !== 0 || index >= slab.cache.objectsPerSlab) {
      const where = index < slab.cache.objectsPerSlab
        ? `offset ${off % slab.cache.size} into the object at ${hex(slab.objectAddress(index))}`
        : `in the unused tail of a slab`;
      throw new KernelBug(fn, ptr, `${hex(ptr)} is not the start of an object: it is ${where} (cache ${slab.cache.name}, object size ${slab.cache.objectSize})`);
    }
    return { slab, index };
  }

  private notASlabObject(ptr: number): string {
    const phys = this.buddy.virtToPhys(ptr);
    const b = this.buddy.blockOf(phys);
    if (b?.owner === 'kmalloc') {
      return `${hex(ptr)} is inside the large kmalloc() block at ${hex(this.buddy.pageAddress(b.phys))}, not its start`;
    }
    if (b?.owner === 'alloc_pages') {
      return `${hex(ptr)} is in pages from alloc_pages()/__get_free_pages() (block ${hex(this.buddy.pageAddress(b.phys))}, order ${b.order}): free them with free_pages()`;
    }
    if (this.buddy.contains(phys)) return `${hex(ptr)} was not allocated by the slab allocator (the memory is free)`;
    return `${hex(ptr)} was not allocated by the slab allocator`;
  }

  private freeObject(cache: SlabCache | null, ptr: number, fn: string): void {
    const { slab, index } = this.objectAt(ptr, fn);
    const c = slab.cache;
    if (cache) {
      this.checkCache(cache, fn);
      if (c !== cache) throw new KernelBug(fn, ptr >>> 0, `${hex(ptr)} is an object of cache ${c.name}, not of ${cache.name}`);
    }
    if (!slab.allocated[index]) throw new KernelBug(fn, ptr >>> 0, `double free of ${hex(ptr)} (object of ${c.name}, size ${c.objectSize}, already free)`);
    const obj = slab.objectAddress(index);
    this.hooks.objectFreed(obj, c.objectSize, c);
    slab.allocated[index] = 0;
    slab.free.push(index);
    c.activeObjects--;
    if (slab.inuse-- === c.objectsPerSlab) c.partial.add(slab);
    if (slab.inuse === 0) {
      if (c.emptySlabs >= 1) this.discardSlab(slab, false);
      else c.emptySlabs++;
    }
  }

  /**
   * __free_slab(): an empty slab's pages back to the page allocator.
   * `counted`: the slab is among the cache's emptySlabs (false for the one a free just emptied).
   */
  private discardSlab(slab: Slab, counted: boolean): void {
    const c = slab.cache;
    if (counted) c.emptySlabs--;
    c.slabs.delete(slab);
    c.partial.delete(slab);
    for (let i = 0; i < 2 ** c.order; i++) this.slabByPage.delete((slab.virt >>> 12) + i);
    this.hooks.slabPagesFreed(slab.virt, slab.bytes, c);
    this.buddy.release(slab.phys, c.order, c.owner, false, 'kmem_cache_free');
  }

  // ---- kmalloc ----------------------------------------------------------------------------

  /** The kmalloc cache for `size` (kmalloc_slab()), or null when it is 0 or larger than KMALLOC_MAX_CACHE_SIZE. */
  kmallocCacheFor(size: number): SlabCache | null {
    if (size <= 0 || size > KMALLOC_MAX_CACHE_SIZE) return null;
    const i = KMALLOC_SIZES.findIndex((n) => n >= size);
    return this.kmallocCaches[i];
  }

  /**
   * kmalloc(): 0 bytes → ZERO_SIZE_PTR; up to 8192 bytes → the smallest
   * kmalloc-N cache that fits; up to 4 MiB → whole pages from the page
   * allocator (kmalloc_large(): reported through `pagesAllocated`, like
   * Linux's __get_free_pages() path); more → 0.
   */
  kmalloc(size: number, gfp: number): number {
    size = size >>> 0;
    if (size === 0) return ZERO_SIZE_PTR;
    if (size > KMALLOC_MAX_CACHE_SIZE) {
      if (size > KMALLOC_MAX_SIZE) return 0;
      const order = getOrder(size);
      const phys = this.buddy.allocate(order, gfp, 'kmalloc', true);
      if (!phys) return 0;
      const virt = this.buddy.pageAddress(phys);
      this.large.set(virt, { order, requested: size });
      return virt;
    }
    return this.allocObject(this.kmallocCacheFor(size)!, gfp, size, 'kmalloc');
  }

  /** kzalloc(): kmalloc(size, gfp | __GFP_ZERO). */
  kzalloc(size: number, gfp: number): number {
    return this.kmalloc(size, gfp | __GFP_ZERO);
  }

  /** kfree(): NULL and ZERO_SIZE_PTR are ignored; anything else must be a live kmalloc()/slab object. */
  kfree(ptr: number): void {
    ptr = ptr >>> 0;
    if (ptr === 0 || ptr === ZERO_SIZE_PTR) return;
    const big = this.large.get(ptr);
    if (big) {
      this.buddy.release(this.buddy.virtToPhys(ptr), big.order, 'kmalloc', true, 'kfree');
      this.large.delete(ptr);
      return;
    }
    this.freeObject(null, ptr, 'kfree');
  }

  /** ksize(): the usable size of a live object (the cache's object stride, or the large block's size). */
  ksize(ptr: number): number {
    ptr = ptr >>> 0;
    if (ptr === 0 || ptr === ZERO_SIZE_PTR) return 0;
    const big = this.large.get(ptr);
    if (big) return PAGE_SIZE * 2 ** big.order;
    const { slab, index } = this.objectAt(ptr, 'ksize');
    if (!slab.allocated[index]) throw new KernelBug('ksize', ptr, `${hex(ptr)} is a free object of ${slab.cache.name}`);
    return slab.cache.size;
  }

  // ---- introspection ----------------------------------------------------------------------

  /** The live object containing `addr` (any byte of it), for reports: its start, size and cache. */
  findObject(addr: number): { start: number; size: number; cache: SlabCache | null; allocated: boolean } | null {
    addr = addr >>> 0;
    for (const [start, b] of this.large) {
      if (addr >= start && addr < start + PAGE_SIZE * 2 ** b.order) return { start, size: b.requested, cache: null, allocated: true };
    }
    const slab = this.slabByPage.get(addr >>> 12);
    if (!slab) return null;
    const index = Math.floor((addr - slab.virt) / slab.cache.size);
    if (index >= slab.cache.objectsPerSlab) return null;
    return { start: slab.objectAddress(index), size: slab.cache.objectSize, cache: slab.cache, allocated: slab.allocated[index] === 1 };
  }

  /** Addresses of the allocated objects of a cache (or of every cache), in address order. */
  liveObjects(cache?: SlabCache): number[] {
    const out: number[] = [];
    for (const c of cache ? [cache] : this.caches) {
      for (const s of c.slabs) s.allocated.forEach((a, i) => a && out.push(s.objectAddress(i)));
    }
    return out.sort((a, b) => a - b);
  }

  /** /proc/slabinfo-like rows: name, active objects, total objects, object size, objects per slab, pages per slab. */
  slabinfo(): { name: string; activeObjects: number; totalObjects: number; objectSize: number; size: number; objectsPerSlab: number; pagesPerSlab: number }[] {
    return [...this.caches].map((c) => ({
      name: c.name,
      activeObjects: c.activeObjects,
      totalObjects: c.totalObjects,
      objectSize: c.objectSize,
      size: c.size,
      objectsPerSlab: c.objectsPerSlab,
      pagesPerSlab: 2 ** c.order,
    }));
  }
}
