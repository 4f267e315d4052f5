/**
 * The simulated kernel's memory management: the buddy page allocator
 * (`buddy.ts`, Linux's mm/page_alloc.c), the slab allocator with the
 * kmalloc caches (`slab.ts`, Linux's mm/slub.c) and the hooks checkers
 * register to follow them (`hooks.ts`, Linux's kmemcheck call sites).
 *
 * ```ts
 * const mm = createMemoryManager(kernel, { hooks: myChecker });
 * const p = mm.slab.kmalloc(100, GFP_KERNEL);   // from kmalloc-128
 * mm.slab.kfree(p);
 * ```
 *
 * Guest code reaches the same routines through the natives bound by
 * `../kapi.ts`.
 */
import type { Kernel } from '../kernel.js';
import { BuddyAllocator } from './buddy.js';
import { MmHookRegistry, type MmHooks } from './hooks.js';
import { SlabAllocator } from './slab.js';

export * from './buddy.js';
export * from './hooks.js';
export * from './slab.js';

export interface MemoryManagerOptions {
  /** Pages in the buddy zone (default: half of the boot frame pool's free frames). */
  pages?: number;
  /** Hooks registered from the start (more can be added with `mm.hooks.register`). */
  hooks?: MmHooks | MmHooks[];
  /** KERN_ERR messages from the slab allocator. */
  warn?: (msg: string) => void;
}

export interface MemoryManager {
  readonly buddy: BuddyAllocator;
  readonly slab: SlabAllocator;
  readonly hooks: MmHookRegistry;
}

/**
 * Start the memory manager on a booted kernel (Linux's mem_init() +
 * kmem_cache_init()): take the buddy zone from the boot frame allocator
 * and create the kmalloc caches.
 */
export function createMemoryManager(kernel: Kernel, opts: MemoryManagerOptions = {}): MemoryManager {
  const hooks = new MmHookRegistry();
  for (const h of opts.hooks === undefined ? [] : Array.isArray(opts.hooks) ? opts.hooks : [opts.hooks]) hooks.register(h);
  const buddy = BuddyAllocator.fromKernel(kernel, { pages: opts.pages, hooks });
  const slab = new SlabAllocator(buddy, kernel.mem, { warn: opts.warn });
  return { buddy, slab, hooks };
}
