/**
 * The memory manager (src/kernel/mm): the buddy page allocator (split,
 * coalesce, exhaustion, misuse), the slab allocator and kmalloc (size
 * classes, reuse, alignment, ksize, zeroing, destroy) and the hooks
 * checkers receive.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/kernel.js';
import { kva, PAGE_SIZE, PHYS_PGDIR } from '../../src/kernel/layout.js';
import {
  BuddyAllocator, KernelBug, MmHookRegistry, SlabAllocator, createMemoryManager, calculateOrder, calculateAlignment,
  GFP_KERNEL, GFP_ATOMIC, __GFP_ZERO, __GFP_NOTRACK, SLAB_NOTRACK, SLAB_HWCACHE_ALIGN, ZERO_SIZE_PTR, KMALLOC_SIZES,
  MAX_ORDER, type MmHooks, type ObjectAllocationInfo, type SlabCacheInfo,
} from '../../src/kernel/mm/index.js';

/** A zone of `pages` pages at physical 4 MiB (PFN 0x400: aligned for every order). */
function zone(pages = 64, hooks = new MmHookRegistry()): { k: Kernel; b: BuddyAllocator } {
  const k = new Kernel({ memorySize: 16 << 20 });
  const b = new BuddyAllocator(k.mem, { base: 0x400000, pages, memMap: kva(0x300000), hooks });
  return { k, b };
}

function bugOf(f: () => unknown): KernelBug {
  try {
    f();
  } catch (e) {
    if (e instanceof KernelBug) return e;
    throw e;
  }
  throw new Error('expected a KernelBug');
}

type Event = [string, ...unknown[]];
function recorder(): { hooks: MmHooks; events: Event[] } {
  const events: Event[] = [];
  return {
    events,
    hooks: {
      newSlabPages: (v, n, c) => events.push(['newSlabPages', v, n, c.name]),
      slabPagesFreed: (v, n, c) => events.push(['slabPagesFreed', v, n, c.name]),
      objectAllocated: (v, n, i: ObjectAllocationInfo) => events.push(['objectAllocated', v, n, { zeroed: i.zeroed, notrack: i.notrack, cache: i.cache.name, requested: i.requested }]),
      objectFreed: (v, n, c: SlabCacheInfo) => events.push(['objectFreed', v, n, c.name]),
      pagesAllocated: (v, n, i) => events.push(['pagesAllocated', v, n, i]),
      pagesFreed: (v, n) => events.push(['pagesFreed', v, n]),
    },
  };
}

describe('buddy allocator', () => {
  it('starts as the largest aligned blocks and splits on allocation, keeping the lower half', () => {
    const { b } = zone(64);
    expect(b.stats()).toEqual({ totalPages: 64, freePages: 64, freeBlocks: [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0] });
    expect(b.allocPages(0, GFP_KERNEL)).toBe(0x400000);
    // 64 = 1 (allocated) + 1 + 2 + 4 + 8 + 16 + 32: one free block at each order below 6.
    expect(b.stats().freeBlocks).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
    expect(b.stats().freePages).toBe(63);
    expect(b.allocPages(0, GFP_KERNEL)).toBe(0x401000);
    expect(b.allocPages(1, GFP_KERNEL)).toBe(0x402000);
    expect(b.allocPages(2, GFP_KERNEL)).toBe(0x404000);
    expect(b.allocPages(0, GFP_KERNEL)).toBe(0x408000);
    expect(b.buddyinfo()).toMatch(/^Node 0, zone   Normal /);
  });

  it('coalesces buddies on free back into one block', () => {
    const { b } = zone(64);
    const pages = Array.from({ length: 64 }, () => b.allocPages(0, GFP_KERNEL));
    expect(new Set(pages).size).toBe(64);
    expect(pages[63]).toBe(0x400000 + 63 * PAGE_SIZE);
    expect(b.stats().freePages).toBe(0);
    // Free in an order that exercises merging on both sides.
    for (const p of [...pages.filter((_, i) => i % 2), ...pages.filter((_, i) => i % 2 === 0).reverse()]) b.freePages(p, 0);
    expect(b.stats().freeBlocks).toEqual([0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(b.allocPages(6, GFP_KERNEL)).toBe(0x400000);
  });

  it('does not merge with a buddy of a different order or an allocated buddy', () => {
    const { b } = zone(8);
    const a = b.allocPages(0, GFP_KERNEL); // 0x400000
    const c = b.allocPages(0, GFP_KERNEL); // 0x401000
    const d = b.allocPages(1, GFP_KERNEL); // 0x402000
    b.freePages(a, 0);
    expect(b.stats().freeBlocks.slice(0, 3)).toEqual([1, 0, 1]);
    b.freePages(d, 1);
    expect(b.stats().freeBlocks.slice(0, 3)).toEqual([1, 1, 1]);
    b.freePages(c, 0);
    expect(b.stats().freeBlocks.slice(0, 4)).toEqual([0, 0, 0, 1]);
  });

  it('returns 0 when exhausted or the order is too large, and reuses the last freed block first', () => {
    const { b } = zone(16);
    expect(b.allocPages(5, GFP_KERNEL)).toBe(0);
    expect(b.allocPages(MAX_ORDER, GFP_KERNEL)).toBe(0);
    expect(b.allocPages(-1, GFP_KERNEL)).toBe(0);
    const all = b.allocPages(4, GFP_KERNEL);
    expect(all).toBe(0x400000);
    expect(b.allocPages(0, GFP_ATOMIC)).toBe(0);
    b.freePages(all, 4);
    const x = b.allocPages(0, GFP_KERNEL);
    const y = b.allocPages(0, GFP_KERNEL);
    b.freePages(x, 0);
    expect(b.allocPages(0, GFP_KERNEL)).toBe(x);
    expect(y).toBe(x + PAGE_SIZE);
  });

  it('serves order 10 (4 MiB) blocks and handles a zone not aligned to them', () => {
    const k = new Kernel({ memorySize: 32 << 20 });
    // 1030 pages from PFN 0x3ff: one page below the 4 MiB boundary, 1024 above, 5 after.
    const b = new BuddyAllocator(k.mem, { base: 0x3ff000, pages: 1030, memMap: kva(0x200000) });
    expect(b.stats().freeBlocks).toEqual([2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(b.allocPages(10, GFP_KERNEL)).toBe(0x400000);
    expect(b.allocPages(10, GFP_KERNEL)).toBe(0);
    b.freePages(0x400000, 10);
    // The page at 0x3ff000 has its order-0 buddy at 0x3fe000, outside the zone: it never merges.
    const p = b.allocPages(0, GFP_KERNEL);
    b.freePages(p, 0);
    expect(b.stats().freePages).toBe(1030);
    expect(b.stats().freeBlocks[10]).toBe(1);
  });

  it('reports double frees, wrong orders, interior pages and foreign addresses', () => {
    const { b } = zone(64);
    const p = b.allocPages(2, GFP_KERNEL);
    expect(bugOf(() => b.freePages(p, 1)).message).toMatch(/allocated with order 2, freed with order 1/);
    expect(bugOf(() => b.freePages(p + PAGE_SIZE, 0)).message).toMatch(/page 1 of the order-2 block at 0x00400000 allocated by alloc_pages, not its first page/);
    expect(bugOf(() => b.freePages(p + 12, 2)).message).toMatch(/not page aligned/);
    expect(bugOf(() => b.freePages(0x100000, 0)).message).toMatch(/outside the page allocator's memory 0x00400000-0x0043ffff/);
    expect(bugOf(() => b.freePages(0x420000, 0)).message).toMatch(/double free: the pages at 0x00420000 .* are already free/);
    b.freePages(p, 2);
    const e = bugOf(() => b.freePages(p, 2));
    expect(e.fn).toBe('__free_pages');
    expect(e.address).toBe(0x400000);
    expect(e.message).toMatch(/^__free_pages: double free/);
    // Pages held by another owner.
    const s = b.allocate(0, GFP_KERNEL, 'slab kmalloc-64', false);
    expect(bugOf(() => b.freePages(s, 0)).message).toMatch(/belong to the slab allocator \(cache kmalloc-64\)/);
  });

  it('zeroes with __GFP_ZERO through guest memory, and leaves pages alone otherwise', () => {
    const { k, b } = zone(4);
    const p = b.allocPages(0, GFP_KERNEL);
    k.mem.write(b.pageAddress(p), new Uint8Array(PAGE_SIZE).fill(0xa5));
    b.freePages(p, 0);
    expect(b.allocPages(0, GFP_KERNEL)).toBe(p);
    expect(k.mem.read(b.pageAddress(p), 4)).toEqual(new Uint8Array([0xa5, 0xa5, 0xa5, 0xa5]));
    b.freePages(p, 0);
    expect(b.allocPages(0, GFP_KERNEL | __GFP_ZERO)).toBe(p);
    expect(k.mem.read(b.pageAddress(p), PAGE_SIZE).every((x) => x === 0)).toBe(true);
  });

  it('maps struct page handles to pages and back, refusing anything else', () => {
    const { b } = zone(64);
    expect(b.pageAddress(0x401000)).toBe(0xc0401000);
    expect(b.virtToPhys(0xc0401000)).toBe(0x401000);
    expect(b.pageStruct(0x400000)).toBe(0xc0300000);
    expect(b.pageStruct(0x403000)).toBe(0xc0300060);
    expect(b.pageFromStruct(0xc0300060, 'page_address')).toBe(0x403000);
    expect(bugOf(() => b.pageFromStruct(0xc0300061, 'page_address')).message).toMatch(/is not a struct page/);
    expect(bugOf(() => b.pageFromStruct(0xc0403000, '__free_pages')).message).toMatch(/not a struct page \(it is a page's kernel address/);
  });

  it('reports page allocations and frees to the hooks', () => {
    const r = recorder();
    const reg = new MmHookRegistry();
    const unregister = reg.register(r.hooks);
    const { b } = zone(64, reg);
    const p = b.allocPages(1, GFP_KERNEL | __GFP_NOTRACK);
    b.freePages(p, 1);
    expect(r.events).toEqual([
      ['pagesAllocated', 0xc0400000, 8192, { gfp: GFP_KERNEL | __GFP_NOTRACK, zeroed: false, notrack: true }],
      ['pagesFreed', 0xc0400000, 8192],
    ]);
    unregister();
    b.freePages(b.allocPages(0, GFP_KERNEL), 0);
    expect(r.events).toHaveLength(2);
  });

  it('takes half of the free boot frames by default, contiguous, and the frame pool keeps the rest', () => {
    const k = new Kernel({ memorySize: 16 << 20 });
    const free = (16 << 20) / PAGE_SIZE - 256 - k.frames.allocated;
    const mm = createMemoryManager(k);
    const b = mm.buddy;
    expect(b.pages).toBe(Math.floor(free / 2));
    expect(b.memMap).toBe(kva(0x100000) >>> 0);
    // The frame allocator hands out frames outside the zone and its mem_map.
    const f = k.frames.alloc();
    expect(f >= b.base + b.pages * PAGE_SIZE).toBe(true);
    // Every page of the zone can be allocated, one at a time (slab has taken a page for its caches).
    const got: number[] = [];
    for (;;) {
      const p = b.allocPages(0, GFP_KERNEL);
      if (!p) break;
      got.push(p);
    }
    expect(got.length + 1).toBe(b.pages);
    for (const p of got) b.freePages(p, 0);
    expect(b.stats().freePages).toBe(b.pages - 1);
  });

  it('takes an explicit zone size and refuses one the pool cannot give', () => {
    const k = new Kernel({ memorySize: 4 << 20 });
    const mm = createMemoryManager(k, { pages: 100 });
    expect(mm.buddy.pages).toBe(100);
    expect(() => createMemoryManager(new Kernel({ memorySize: 4 << 20 }), { pages: 10000 })).toThrow(/out of guest physical memory/);
  });
});

describe('slab allocator', () => {
  const setup = (hooks?: MmHooks) => {
    const k = new Kernel({ memorySize: 16 << 20 });
    const warnings: string[] = [];
    const mm = createMemoryManager(k, { hooks, warn: (m) => warnings.push(m) });
    return { k, mm, s: mm.slab, warnings };
  };

  it('has the kmalloc size classes and picks the smallest that fits', () => {
    const { s } = setup();
    expect(s.kmallocCaches.map((c) => c.name)).toEqual(KMALLOC_SIZES.map((n) => `kmalloc-${n}`));
    const cases: [number, number][] = [
      [1, 8], [8, 8], [9, 16], [16, 16], [17, 32], [33, 64], [64, 64], [65, 96], [96, 96], [97, 128], [128, 128],
      [129, 192], [192, 192], [193, 256], [257, 512], [513, 1024], [1025, 2048], [2049, 4096], [4097, 8192], [8192, 8192],
    ];
    for (const [size, cls] of cases) {
      const p = s.kmalloc(size, GFP_KERNEL);
      expect(p, `kmalloc(${size})`).not.toBe(0);
      expect(s.ksize(p), `ksize(kmalloc(${size}))`).toBe(cls);
      expect(s.findObject(p)?.cache?.name).toBe(`kmalloc-${cls}`);
      expect(p % Math.min(cls, 8)).toBe(0);
    }
  });

  it('chooses slab orders like SLUB for one CPU', () => {
    const { s } = setup();
    const orders = Object.fromEntries(s.kmallocCaches.map((c) => [c.name, [c.order, c.objectsPerSlab]]));
    expect(orders['kmalloc-8']).toEqual([0, 512]);
    expect(orders['kmalloc-96']).toEqual([0, 42]);
    expect(orders['kmalloc-512']).toEqual([0, 8]);
    expect(orders['kmalloc-1024']).toEqual([1, 8]);
    expect(orders['kmalloc-2048']).toEqual([2, 8]);
    expect(orders['kmalloc-4096']).toEqual([3, 8]);
    expect(orders['kmalloc-8192']).toEqual([3, 4]);
    expect(calculateOrder(3000)).toBe(3); // 8 × 3000 fits in 32 KiB wasting 2768 bytes: > 1/16, ≤ 1/8
    expect(calculateOrder(100000)).toBe(5);
  });

  it('handles kmalloc(0), NULL and large sizes like Linux', () => {
    const r = recorder();
    const { s, mm } = setup(r.hooks);
    expect(s.kmalloc(0, GFP_KERNEL)).toBe(ZERO_SIZE_PTR);
    expect(s.ksize(ZERO_SIZE_PTR)).toBe(0);
    expect(s.ksize(0)).toBe(0);
    s.kfree(ZERO_SIZE_PTR);
    s.kfree(0);
    expect(s.kmalloc(4 * 1024 * 1024 + 1, GFP_KERNEL)).toBe(0);
    const before = mm.buddy.stats().freePages;
    const big = s.kmalloc(8193, GFP_KERNEL);
    expect(big % PAGE_SIZE).toBe(0);
    expect(s.ksize(big)).toBe(16384);
    expect(mm.buddy.stats().freePages).toBe(before - 4);
    expect(s.findObject(big + 100)).toEqual({ start: big, size: 8193, cache: null, allocated: true });
    expect(bugOf(() => s.kfree(big + 4096)).message).toMatch(/inside the large kmalloc\(\) block/);
    s.kfree(big);
    expect(mm.buddy.stats().freePages).toBe(before);
    expect(r.events.filter((e) => e[0] !== 'newSlabPages' && e[0] !== 'objectAllocated')).toEqual([
      ['pagesAllocated', big, 16384, { gfp: GFP_KERNEL, zeroed: false, notrack: false }],
      ['pagesFreed', big, 16384],
    ]);
    expect(bugOf(() => s.kfree(big)).message).toMatch(/^kfree: .*not allocated by the slab allocator \(the memory is free\)/);
  });

  it('lays objects out in address order in a fresh slab and reuses the last freed object first', () => {
    const { s } = setup();
    const a = s.kmalloc(32, GFP_KERNEL);
    const b = s.kmalloc(32, GFP_KERNEL);
    const c = s.kmalloc(32, GFP_KERNEL);
    expect(a % PAGE_SIZE).toBe(0);
    expect([b - a, c - a]).toEqual([32, 64]);
    s.kfree(a);
    s.kfree(c);
    expect(s.kmalloc(20, GFP_KERNEL)).toBe(c);
    expect(s.kmalloc(32, GFP_KERNEL)).toBe(a);
    expect(s.kmalloc(32, GFP_KERNEL)).toBe(c + 32);
  });

  it('grows by new slabs when one is full and gives empty slabs back, keeping one', () => {
    const { s, mm } = setup();
    const cache = s.kmem_cache_create('obj512', 512, 0, 0)!;
    expect([cache.order, cache.objectsPerSlab]).toEqual([0, 8]);
    const before = mm.buddy.stats().freePages;
    const objs = Array.from({ length: 24 }, () => s.kmem_cache_alloc(cache, GFP_KERNEL));
    expect(cache.slabs.size).toBe(3);
    expect(cache.activeObjects).toBe(24);
    expect(mm.buddy.stats().freePages).toBe(before - 3);
    for (const o of objs) s.kmem_cache_free(cache, o);
    expect(cache.activeObjects).toBe(0);
    expect(cache.slabs.size).toBe(1);
    expect(mm.buddy.stats().freePages).toBe(before - 1);
    expect(s.kmem_cache_destroy(cache)).toBe(true);
    expect(mm.buddy.stats().freePages).toBe(before);
  });

  it('aligns objects as asked, and as SLAB_HWCACHE_ALIGN and the minimum alignment require', () => {
    const { s } = setup();
    const c64 = s.kmem_cache_create('a64', 20, 64, 0)!;
    expect([c64.align, c64.size]).toEqual([64, 64]);
    const x = s.kmem_cache_alloc(c64, GFP_KERNEL);
    const y = s.kmem_cache_alloc(c64, GFP_KERNEL);
    expect(x % 64).toBe(0);
    expect(y - x).toBe(64);
    expect(s.ksize(x)).toBe(64);
    const hw = s.kmem_cache_create('hw', 20, 0, SLAB_HWCACHE_ALIGN)!;
    expect([hw.align, hw.size]).toEqual([32, 32]);
    expect(calculateAlignment(SLAB_HWCACHE_ALIGN, 0, 10)).toBe(16);
    expect(calculateAlignment(SLAB_HWCACHE_ALIGN, 0, 4)).toBe(8);
    const small = s.kmem_cache_create('twelve', 12, 0, 0)!;
    expect([small.align, small.size, small.objectSize]).toEqual([8, 16, 12]);
    expect(s.kmem_cache_create('bad', 12, 12, 0)).toBeNull();
    expect(s.kmem_cache_create('empty', 0, 0, 0)).toBeNull();
    expect(s.warnings).toEqual([
      'kmem_cache_create(bad) failed: alignment 12 is not a power of two up to 4096',
      'kmem_cache_create(empty) failed: object size 0 is not in 1..4194304',
    ]);
  });

  it('kzalloc and __GFP_ZERO zero the whole object; plain kmalloc does not', () => {
    const { k, s } = setup();
    const p = s.kmalloc(50, GFP_KERNEL);
    k.mem.write(p, new Uint8Array(64).fill(0xcc));
    s.kfree(p);
    const q = s.kmalloc(64, GFP_KERNEL);
    expect(q).toBe(p);
    expect(k.mem.read(q, 64).every((b) => b === 0xcc)).toBe(true);
    s.kfree(q);
    const z = s.kzalloc(40, GFP_KERNEL);
    expect(z).toBe(p);
    expect(k.mem.read(z, 64).every((b) => b === 0)).toBe(true);
  });

  it('zeroes through the direct map by physical address, so a hidden (not-present) page is zeroed too', () => {
    const { k, s, mm } = setup();
    const p = s.kmalloc(64, GFP_KERNEL);
    k.mem.write(p, new Uint8Array(64).fill(0x5a));
    s.kfree(p);
    // Make the whole 4 MiB of the direct map around the object not present, as hiding does to its page.
    const pdeAddr = PHYS_PGDIR + (p >>> 22) * 4;
    const pde = k.mem.readPhys32(pdeAddr);
    k.mem.writePhys32(pdeAddr, 0);
    k.cpu.flushTlb();
    expect(() => k.mem.read(p, 1)).toThrow(/not readable/);
    expect(s.kzalloc(64, GFP_KERNEL)).toBe(p);
    const page = mm.buddy.allocPages(0, GFP_KERNEL | __GFP_ZERO);
    k.mem.writePhys32(pdeAddr, pde);
    k.cpu.flushTlb();
    expect(k.mem.read(p, 64).every((b) => b === 0)).toBe(true);
    expect(page).not.toBe(0);
  });

  it('calls the hooks with the right arguments', () => {
    const r = recorder();
    const { s } = setup(r.hooks);
    r.events.length = 0; // the boot caches' descriptors
    const c = s.kmem_cache_create('things', 100, 0, SLAB_NOTRACK)!;
    const o = s.kmem_cache_alloc(c, GFP_KERNEL | __GFP_NOTRACK);
    const z = s.kzalloc(10, GFP_ATOMIC);
    s.kmem_cache_free(c, o);
    s.kfree(z);
    const desc = r.events[0][1] as number;
    expect(r.events).toEqual([
      ['objectAllocated', desc, 64, { zeroed: true, notrack: false, cache: 'kmem_cache', requested: 64 }],
      ['newSlabPages', o, 4096, 'things'],
      ['objectAllocated', o, 100, { zeroed: false, notrack: true, cache: 'things', requested: 100 }],
      ['newSlabPages', z, 4096, 'kmalloc-16'],
      ['objectAllocated', z, 16, { zeroed: true, notrack: false, cache: 'kmalloc-16', requested: 10 }],
      ['objectFreed', o, 100, 'things'],
      ['objectFreed', z, 16, 'kmalloc-16'],
    ]);
    expect(c.notrack).toBe(true);
    expect(c.hasCtor).toBe(false);
    r.events.length = 0;
    expect(s.kmem_cache_destroy(c)).toBe(true);
    expect(r.events).toEqual([
      ['slabPagesFreed', o, 4096, 'things'],
      ['objectFreed', c.handle, 64, 'kmem_cache'],
    ]);
  });

  it('runs a host constructor on every object of a new slab, before any allocation is reported', () => {
    const r = recorder();
    const { s } = setup(r.hooks);
    const seen: number[] = [];
    const c = s.kmem_cache_create('ctor', 1024, 0, 0, (obj) => seen.push(obj))!;
    r.events.length = 0;
    const o = s.kmem_cache_alloc(c, GFP_KERNEL);
    expect(seen).toEqual(Array.from({ length: 8 }, (_, i) => o + i * 1024));
    expect(r.events.map((e) => e[0])).toEqual(['newSlabPages', 'objectAllocated']);
    expect(c.hasCtor).toBe(true);
    const g = s.kmem_cache_create('guest-ctor', 64, 0, 0, 0xc0001234)!;
    expect(() => s.kmem_cache_alloc(g, GFP_KERNEL)).toThrow(/guest constructor/);
  });

  it('refuses to destroy a cache with live objects, then destroys it once they are freed', () => {
    const { s, warnings } = setup();
    const c = s.kmem_cache_create('busy', 48, 0, 0)!;
    const a = s.kmem_cache_alloc(c, GFP_KERNEL);
    const b = s.kmem_cache_alloc(c, GFP_KERNEL);
    expect(s.kmem_cache_destroy(c)).toBe(false);
    expect(warnings).toEqual([`SLUB busy: kmem_cache_destroy called for cache that still has objects. (2 allocated: 0x${a.toString(16)} 0x${b.toString(16)})`]);
    expect(s.liveObjects(c)).toEqual([a, b]);
    s.kmem_cache_free(c, a);
    s.kmem_cache_free(c, b);
    expect(s.kmem_cache_destroy(c)).toBe(true);
    expect(bugOf(() => s.kmem_cache_alloc(c, GFP_KERNEL)).message).toBe('kmem_cache_alloc: cache busy was destroyed');
    expect(bugOf(() => s.cacheFromHandle(c.handle, 'kmem_cache_free')).message).toMatch(/is not a struct kmem_cache/);
    expect(bugOf(() => s.kmem_cache_destroy(s.kmallocCaches[0])).message).toMatch(/boot cache/);
  });

  it('reports double frees, interior pointers, foreign pointers and the wrong cache', () => {
    const { s, mm } = setup();
    const p = s.kmalloc(100, GFP_KERNEL);
    expect(bugOf(() => s.kfree(p + 4)).message).toBe(`kfree: 0x${(p + 4).toString(16)} is not the start of an object: it is offset 4 into the object at 0x${p.toString(16)} (cache kmalloc-128, object size 128)`);
    s.kfree(p);
    expect(bugOf(() => s.kfree(p)).message).toBe(`kfree: double free of 0x${p.toString(16)} (object of kmalloc-128, size 128, already free)`);
    expect(bugOf(() => s.ksize(p)).message).toMatch(/is a free object of kmalloc-128/);
    const page = mm.buddy.pageAddress(mm.buddy.allocPages(0, GFP_KERNEL));
    expect(bugOf(() => s.kfree(page)).message).toMatch(/pages from alloc_pages\(\)\/__get_free_pages\(\).*free them with free_pages\(\)/);
    expect(bugOf(() => s.kfree(0xc0001000)).message).toBe('kfree: 0xc0001000 was not allocated by the slab allocator');
    const c = s.kmem_cache_create('mine', 128, 0, 0)!;
    const q = s.kmalloc(128, GFP_KERNEL);
    expect(bugOf(() => s.kmem_cache_free(c, q)).message).toMatch(/is an object of cache kmalloc-128, not of mine/);
    // kfree() of a kmem_cache object is allowed (as SLUB's kfree finds the cache from the page).
    const o = s.kmem_cache_alloc(c, GFP_KERNEL);
    s.kfree(o);
    expect(c.activeObjects).toBe(0);
  });

  it('slab pages are not reported as page allocations, and everything goes back to the buddy allocator', () => {
    const r = recorder();
    const { s, mm } = setup(r.hooks);
    const free0 = mm.buddy.stats().freePages;
    const ptrs: number[] = [];
    for (let i = 0; i < 2000; i++) ptrs.push(s.kmalloc(1 + ((i * 37) % 3000), GFP_KERNEL));
    expect(new Set(ptrs).size).toBe(2000);
    expect(r.events.some((e) => e[0] === 'pagesAllocated')).toBe(false);
    for (const p of ptrs) s.kfree(p);
    // One empty slab stays per cache that was used.
    const kept = s.kmallocCaches.reduce((n, c) => n + c.slabs.size * 2 ** c.order, 0);
    expect(mm.buddy.stats().freePages).toBe(free0 - kept);
    expect(s.slabinfo().find((row) => row.name === 'kmalloc-2048')).toMatchObject({ activeObjects: 0, objectsPerSlab: 8, pagesPerSlab: 4 });
  });

  it('is deterministic', () => {
    const run = () => {
      const { s } = setup();
      const out: number[] = [];
      for (let i = 0; i < 300; i++) {
        out.push(s.kmalloc((i * 53) % 700, GFP_KERNEL));
        if (i % 3 === 0) s.kfree(out[i >> 1]);
      }
      return out;
    };
    expect(run()).toEqual(run());
  });

  it('works on a bare BuddyAllocator too', () => {
    const { k, b } = zone(64);
    const s = new SlabAllocator(b, k.mem);
    const p = s.kmalloc(10, GFP_KERNEL);
    expect(p >>> 0 >= 0xc0400000).toBe(true);
  });
});
