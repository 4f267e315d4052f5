/**
 * The buddy page allocator, modelled on Linux's mm/page_alloc.c
 * (`__alloc_pages()` → `__rmqueue_smallest()` + `expand()` to split,
 * `__free_one_page()` to coalesce with `__find_buddy_index()`), for one
 * zone of orders 0 – 10 (MAX_ORDER = 11: blocks of 1 page to 4 MiB).
 *
 * The zone is one contiguous run of physical frames taken from the boot
 * page-frame allocator (`PageFrameAllocator`) when the memory manager
 * starts: by default **half of the frames that pool has free at that
 * moment** (so the user-program loader and page tables keep the other
 * half), preceded by its `mem_map`. Blocks are aligned on absolute page
 * frame numbers, as in Linux: the block of order n containing PFN p starts
 * at p & ~(2^n − 1), and a block's buddy is at PFN ^ 2^n. A zone that does
 * not start or end on a 4 MiB boundary simply has smaller blocks at its
 * edges (a buddy outside the zone is never free, as with Linux's holes).
 *
 * All bookkeeping is host-side: per-page typed arrays standing in for
 * `struct page` (`PageBuddy` + `page_private()` for free blocks, the
 * allocation order and owner for allocated ones) and intrusive free lists
 * per order (`free_area[order].free_list`). A freed block goes to the head
 * of its list and allocation takes the head (LIFO, like Linux); the
 * initial lists are in address order. Nothing is written into guest memory
 * except `__GFP_ZERO` zeroing, so a checker never sees allocator metadata
 * accesses. Zeroing goes through the kernel's `GuestMemory` by physical
 * address (`writePhys`, the direct map's view), so it works on pages a
 * checker has hidden; the hooks tell checkers the pages were zeroed.
 *
 * `struct page *`: the zone has a real `mem_map` array in guest memory,
 * 32 bytes per page (sizeof(struct page) on i386), placed just below the
 * zone. alloc_pages() returns the address of the first page's entry;
 * page_address() maps it back. The entries' contents are zero and opaque:
 * kmemsim keeps page state host-side. A pointer that is not a mem_map
 * entry is refused with a clear error instead of being misread.
 *
 * Misuse (double free, freeing an address that is not the start of an
 * allocated block, the wrong order, pages that belong to the slab
 * allocator) throws `KernelBug`, which the native bindings turn into a
 * stop of the machine.
 */
import type { Kernel } from '../kernel.js';
import type { GuestMemory } from '../guest-memory.js';
import { OutOfMemory, type PageFrameAllocator } from '../pages.js';
import { PAGE_OFFSET, PAGE_SIZE, PHYS_POOL_START } from '../layout.js';
import { MmHookRegistry } from './hooks.js';

/** Orders 0 .. MAX_ORDER − 1 (Linux's MAX_ORDER, default 11). */
export const MAX_ORDER = 11;
export const PAGE_SHIFT = 12;
/** sizeof(struct page) on i386: the stride of `mem_map`. */
export const STRUCT_PAGE_SIZE = 32;

// GFP flags, as i386 Linux 2.6.3x defines them (include/linux/gfp.h).
export const __GFP_WAIT = 0x10;
export const __GFP_HIGH = 0x20;
export const __GFP_IO = 0x40;
export const __GFP_FS = 0x80;
export const __GFP_NOWARN = 0x200;
export const __GFP_COMP = 0x4000;
export const __GFP_ZERO = 0x8000;
export const __GFP_NOTRACK = 0x200000;
/** __GFP_WAIT | __GFP_IO | __GFP_FS. */
export const GFP_KERNEL = 0xd0;
/** __GFP_HIGH. */
export const GFP_ATOMIC = 0x20;
export const GFP_NOWAIT = 0;

/**
 * A guest's misuse of a kernel API — what Linux reports with BUG() or a
 * "BUG: ..." splat: double free, a pointer that was never allocated, the
 * wrong order. `fn` names the API function, `address` the offending
 * pointer when there is one.
 */
export class KernelBug extends Error {
  override readonly name = 'KernelBug';
  constructor(readonly fn: string, readonly address: number | null, detail: string) {
    super(`${fn}: ${detail}`);
  }
}

export const hex = (v: number): string => '0x' + (v >>> 0).toString(16).padStart(8, '0');

/** Who holds an allocated block (checked on free, shown in errors). */
export type PageOwner = 'alloc_pages' | 'kmalloc' | `slab ${string}`;

export interface BuddyOptions {
  /** Physical address of the zone's first page (page aligned). */
  base: number;
  /** Number of pages in the zone. */
  pages: number;
  /** Kernel virtual address of the zone's `mem_map` (pages × STRUCT_PAGE_SIZE bytes). */
  memMap: number;
  hooks?: MmHookRegistry;
}

export interface BuddyStats {
  totalPages: number;
  freePages: number;
  /** Free blocks per order (`free_area[order].nr_free`), index = order. */
  freeBlocks: number[];
}

/** The smallest order whose block holds `bytes` (Linux's get_order()). */
export function getOrder(bytes: number): number {
  let order = 0;
  while (PAGE_SIZE * 2 ** order < bytes) order++;
  return order;
}

export class BuddyAllocator {
  readonly base: number;
  readonly pages: number;
  readonly memMap: number;
  readonly hooks: MmHookRegistry;
  private readonly basePfn: number;
  private readonly endPfn: number;
  /** Free block heads: their order (PageBuddy + page_private), −1 elsewhere. */
  private readonly freeOrder: Int8Array;
  /** Allocated block heads: their order, −1 elsewhere. */
  private readonly allocOrder: Int8Array;
  private readonly owner: (PageOwner | undefined)[];
  /** Intrusive doubly linked free lists (page index; −1 = none). */
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly head = new Int32Array(MAX_ORDER).fill(-1);
  private readonly nrFree = new Array<number>(MAX_ORDER).fill(0);
  private freeCount = 0;

  constructor(private readonly mem: GuestMemory, opts: BuddyOptions) {
    if (opts.base % PAGE_SIZE || opts.pages < 1 || !Number.isInteger(opts.pages)) {
      throw new RangeError(`buddy zone must be page aligned and non-empty (base ${hex(opts.base)}, ${opts.pages} pages)`);
    }
    this.base = opts.base;
    this.pages = opts.pages;
    this.memMap = opts.memMap >>> 0;
    this.hooks = opts.hooks ?? new MmHookRegistry();
    this.basePfn = opts.base / PAGE_SIZE;
    this.endPfn = this.basePfn + opts.pages;
    this.freeOrder = new Int8Array(opts.pages).fill(-1);
    this.allocOrder = new Int8Array(opts.pages).fill(-1);
    this.owner = new Array(opts.pages);
    this.next = new Int32Array(opts.pages).fill(-1);
    this.prev = new Int32Array(opts.pages).fill(-1);
    // Carve the zone into the largest aligned blocks, in address order (each appended at the tail).
    const tails = new Int32Array(MAX_ORDER).fill(-1);
    for (let pfn = this.basePfn; pfn < this.endPfn; ) {
      let order = MAX_ORDER - 1;
      while (order > 0 && (pfn % 2 ** order !== 0 || pfn + 2 ** order > this.endPfn)) order--;
      const idx = pfn - this.basePfn;
      this.freeOrder[idx] = order;
      if (tails[order] < 0) this.head[order] = idx;
      else this.next[tails[order]] = idx;
      this.prev[idx] = tails[order];
      tails[order] = idx;
      this.nrFree[order]++;
      this.freeCount += 2 ** order;
      pfn += 2 ** order;
    }
  }

  /**
   * Take the zone from the kernel's boot frame allocator: `pages` frames
   * (default: half of the pool's free frames) plus its mem_map just below,
   * as one contiguous run. Frames the pool hands out that do not continue
   * the run (its recycled free list) are given back.
   */
  static fromKernel(k: Kernel, opts: { pages?: number; hooks?: MmHookRegistry } = {}): BuddyAllocator {
    const poolPages = Math.floor((k.cpu.mem.size - PHYS_POOL_START) / PAGE_SIZE);
    const freeFrames = poolPages - k.frames.allocated;
    const pages = opts.pages ?? Math.floor(freeFrames / 2);
    if (!Number.isInteger(pages) || pages < 1) throw new RangeError(`buddy zone of ${pages} pages: need at least one page`);
    const mapPages = Math.ceil((pages * STRUCT_PAGE_SIZE) / PAGE_SIZE);
    const start = takeContiguous(k.frames, pages + mapPages);
    const memMapPhys = start;
    const memMap = (memMapPhys + PAGE_OFFSET) >>> 0;
    k.mem.writePhys(memMapPhys, new Uint8Array(mapPages * PAGE_SIZE));
    return new BuddyAllocator(k.mem, { base: start + mapPages * PAGE_SIZE, pages, memMap, hooks: opts.hooks });
  }

  // ---- allocation -------------------------------------------------------------------------

  /**
   * alloc_pages(): a block of 2^order pages, its physical address, or 0 when
   * no block is free (or order ≥ MAX_ORDER, where Linux warns and fails).
   * `__GFP_ZERO` zeroes it. Reported to `pagesAllocated`.
   */
  allocPages(order: number, gfp: number): number {
    return this.allocate(order, gfp, 'alloc_pages', true);
  }

  /**
   * The allocation path every user shares. `track` = report to the page
   * hooks (false for slab pages, which the slab reports itself, as Linux's
   * slab allocates with `__GFP_NOTRACK`).
   */
  allocate(order: number, gfp: number, owner: PageOwner, track: boolean): number {
    if (!Number.isInteger(order) || order < 0 || order >= MAX_ORDER) return 0;
    // __rmqueue_smallest(): the first list with a block big enough.
    let o = order;
    while (o < MAX_ORDER && this.head[o] < 0) o++;
    if (o === MAX_ORDER) return 0;
    const idx = this.head[o];
    this.unlink(idx, o);
    // expand(): keep the lower half, give each upper half back one order down.
    while (o > order) {
      o--;
      this.pushFree(idx + 2 ** o, o);
    }
    this.allocOrder[idx] = order;
    this.owner[idx] = owner;
    this.freeCount -= 2 ** order;
    const phys = (this.basePfn + idx) * PAGE_SIZE;
    const virt = this.pageAddress(phys);
    const bytes = PAGE_SIZE * 2 ** order;
    // Zeroed through the direct map by physical address: a page a checker has hidden is still written.
    if (gfp & __GFP_ZERO) this.mem.writePhys(phys, new Uint8Array(bytes));
    if (track) this.hooks.pagesAllocated(virt, bytes, { gfp: gfp >>> 0, zeroed: (gfp & __GFP_ZERO) !== 0, notrack: (gfp & __GFP_NOTRACK) !== 0 });
    return phys;
  }

  // ---- freeing ----------------------------------------------------------------------------

  /** __free_pages() / free_pages(): give back a block allocated with the same order. */
  freePages(phys: number, order: number, fn = '__free_pages'): void {
    this.release(phys, order, 'alloc_pages', true, fn);
  }

  /**
   * The free path every user shares: checks that `phys` starts a block
   * allocated with `order` by `owner`, reports it (when `track`), then
   * merges it with free buddies (__free_one_page()).
   */
  release(phys: number, order: number, owner: PageOwner, track: boolean, fn: string): void {
    const idx = this.checkAllocated(phys, order, owner, fn);
    const bytes = PAGE_SIZE * 2 ** order;
    if (track) this.hooks.pagesFreed(this.pageAddress(phys), bytes);
    this.allocOrder[idx] = -1;
    this.owner[idx] = undefined;
    this.freeCount += 2 ** order;
    let pfn = this.basePfn + idx;
    let o = order;
    while (o < MAX_ORDER - 1) {
      const buddyPfn = pfn ^ (2 ** o);
      if (buddyPfn < this.basePfn || buddyPfn >= this.endPfn) break;
      const b = buddyPfn - this.basePfn;
      if (this.freeOrder[b] !== o) break;
      this.unlink(b, o);
      pfn = Math.min(pfn, buddyPfn);
      o++;
    }
    this.pushFree(pfn - this.basePfn, o);
  }

  /** Validate a free; the index of the block's first page. */
  private checkAllocated(phys: number, order: number, owner: PageOwner, fn: string): number {
    phys = phys >>> 0;
    const what = `${hex(phys)} (kernel address ${hex(this.pageAddress(phys))})`;
    if (phys % PAGE_SIZE) throw new KernelBug(fn, phys, `${what} is not page aligned`);
    const pfn = phys / PAGE_SIZE;
    if (pfn < this.basePfn || pfn >= this.endPfn) {
      throw new KernelBug(fn, phys, `${what} is outside the page allocator's memory ${hex(this.base)}-${hex(this.base + this.pages * PAGE_SIZE - 1)}`);
    }
    const idx = pfn - this.basePfn;
    const allocated = this.allocOrder[idx];
    if (allocated < 0) {
      const freeBlock = this.findBlock(idx, this.freeOrder);
      if (freeBlock) throw new KernelBug(fn, phys, `double free: the pages at ${what} are already free`);
      const inside = this.findBlock(idx, this.allocOrder);
      if (inside) {
        const headPhys = (this.basePfn + inside.idx) * PAGE_SIZE;
        throw new KernelBug(fn, phys, `${what} is page ${idx - inside.idx} of the order-${inside.order} block at ${hex(headPhys)} allocated by ${this.owner[inside.idx]}, not its first page`);
      }
      throw new KernelBug(fn, phys, `${what} was never allocated`);
    }
    if (this.owner[idx] !== owner) {
      throw new KernelBug(fn, phys, `the pages at ${what} belong to ${describeOwner(this.owner[idx]!)}, not to ${describeOwner(owner)}`);
    }
    if (allocated !== order) throw new KernelBug(fn, phys, `the pages at ${what} were allocated with order ${allocated}, freed with order ${order}`);
    return idx;
  }

  /** The block (of the given per-head order array) that contains page `idx`, if any. */
  private findBlock(idx: number, orders: Int8Array): { idx: number; order: number } | null {
    const pfn = this.basePfn + idx;
    for (let o = 0; o < MAX_ORDER; o++) {
      const h = pfn - (pfn % 2 ** o) - this.basePfn;
      if (h < 0) break;
      if (orders[h] === o) return { idx: h, order: o };
    }
    return null;
  }

  // ---- free lists ------------------------------------------------------------------------

  private pushFree(idx: number, order: number): void {
    this.freeOrder[idx] = order;
    const h = this.head[order];
    this.next[idx] = h;
    this.prev[idx] = -1;
    if (h >= 0) this.prev[h] = idx;
    this.head[order] = idx;
    this.nrFree[order]++;
  }

  private unlink(idx: number, order: number): void {
    const n = this.next[idx];
    const p = this.prev[idx];
    if (p >= 0) this.next[p] = n;
    else this.head[order] = n;
    if (n >= 0) this.prev[n] = p;
    this.next[idx] = this.prev[idx] = -1;
    this.freeOrder[idx] = -1;
    this.nrFree[order]--;
  }

  // ---- addresses ---------------------------------------------------------------------------

  /** page_address() for a physical address: its kernel direct-map address (lowmem_page_address()). */
  pageAddress(phys: number): number {
    return ((phys >>> 0) + PAGE_OFFSET) >>> 0;
  }

  /** __pa(): the physical address behind a direct-map address. */
  virtToPhys(virt: number): number {
    return ((virt >>> 0) - PAGE_OFFSET) >>> 0;
  }

  /** The zone holds this physical address. */
  contains(phys: number): boolean {
    const pfn = Math.floor((phys >>> 0) / PAGE_SIZE);
    return pfn >= this.basePfn && pfn < this.endPfn;
  }

  /** `struct page *` of a zone page: its mem_map entry (pfn_to_page()). */
  pageStruct(phys: number): number {
    if (!this.contains(phys)) throw new RangeError(`${hex(phys)} is outside the buddy zone`);
    return (this.memMap + (Math.floor((phys >>> 0) / PAGE_SIZE) - this.basePfn) * STRUCT_PAGE_SIZE) >>> 0;
  }

  /** The physical page a `struct page *` describes (page_to_pfn()), or a KernelBug naming `fn`. */
  pageFromStruct(page: number, fn: string): number {
    page = page >>> 0;
    const off = page - this.memMap;
    if (off < 0 || off >= this.pages * STRUCT_PAGE_SIZE || off % STRUCT_PAGE_SIZE) {
      const hint = this.contains(this.virtToPhys(page)) ? ' (it is a page\'s kernel address: use free_pages()/virt_to_page())' : '';
      throw new KernelBug(fn, page, `${hex(page)} is not a struct page${hint}`);
    }
    return (this.basePfn + off / STRUCT_PAGE_SIZE) * PAGE_SIZE;
  }

  /** The allocated block containing `phys`: its first page, order and owner; null when free or outside. */
  blockOf(phys: number): { phys: number; order: number; owner: PageOwner } | null {
    if (!this.contains(phys)) return null;
    const b = this.findBlock(Math.floor((phys >>> 0) / PAGE_SIZE) - this.basePfn, this.allocOrder);
    if (!b) return null;
    return { phys: (this.basePfn + b.idx) * PAGE_SIZE, order: b.order, owner: this.owner[b.idx]! };
  }

  // ---- statistics ----------------------------------------------------------------------------

  stats(): BuddyStats {
    return { totalPages: this.pages, freePages: this.freeCount, freeBlocks: [...this.nrFree] };
  }

  /** One line in the format of /proc/buddyinfo. */
  buddyinfo(): string {
    return 'Node 0, zone   Normal ' + this.nrFree.map((n) => String(n).padStart(6)).join(' ');
  }
}

function describeOwner(o: PageOwner): string {
  if (o === 'alloc_pages') return 'alloc_pages()/__get_free_pages()';
  if (o === 'kmalloc') return 'kmalloc() (a large allocation: free it with kfree())';
  return `the slab allocator (cache ${o.slice(5)})`;
}

/**
 * `count` physically contiguous frames from the boot allocator; frames that
 * do not continue the run are handed back at the end.
 */
function takeContiguous(frames: PageFrameAllocator, count: number): number {
  const aside: number[] = [];
  let start = -1;
  let n = 0;
  try {
    while (n < count) {
      const f = frames.alloc();
      if (n > 0 && f === start + n * PAGE_SIZE) n++;
      else {
        for (let i = 0; i < n; i++) aside.push(start + i * PAGE_SIZE);
        start = f;
        n = 1;
      }
    }
  } catch (e) {
    if (!(e instanceof OutOfMemory)) throw e;
    for (let i = 0; i < n; i++) aside.push(start + i * PAGE_SIZE);
    for (const f of aside) frames.release(f);
    throw new OutOfMemory();
  }
  for (const f of aside) frames.release(f);
  return start;
}
