/**
 * Who allocated and who freed each slab object, for heap findings that say
 * where the memory came from — KASAN's "Allocated by task N:" / "Freed by
 * task N:" and "The buggy address belongs to the object at ... which
 * belongs to the cache kmalloc-32 of size 32", Valgrind's "Address 0x... is
 * 8 bytes inside a block of size 32 free'd" (mm/kasan/report.c,
 * describe_object(); kasan_save_alloc_info()/kasan_save_free_info() keep
 * the stacks, as this does).
 *
 * An MmHooks client of the memory manager (src/kernel/mm/hooks.ts): on
 * every objectAllocated/objectFreed it saves the guest stack of the call —
 * the return address the allocator's caller left at ESP, the frame-pointer
 * chain, and the raw words above ESP for a symbolizing scan, as the error
 * queue saves a report's stack — and the instruction count, then forgets
 * nothing until the object is allocated again (a freed object keeps its
 * free stack, as KASAN's quarantine keeps it). Stacks are symbolized only
 * when a report asks. kmemsim's module runs have no tasks (module code
 * runs in the simulated kernel between insmod and rmmod), so the events
 * are told apart by their instruction count instead of a pid.
 */
import type { Kernel } from '../kernel/kernel.js';
import type { MmHooks, SlabCacheInfo } from '../kernel/mm/hooks.js';
import { PageHidingService } from '../kernel/page-hiding.js';
import { TRACE_DEPTH, backtrace, formatTrace, walkFramePointers } from '../kernel/dumpstack.js';
import { findingFrame, type FindingFrame, type SourceLocator, type Symbolizer } from './report.js';

/** Stack words saved per event (as the error queue's STACK_WORDS). */
const STACK_WORDS = 64;

/** A saved call stack: the frame-pointer trace and the raw words from ESP up (`n` words at `at` in the owner's WordArena). */
interface SavedStack {
  icount: number;
  trace: number[];
  at: number;
  n: number;
}

/** What backtrace() and formatTrace() read. */
type StackDump = { icount: number; trace: number[]; stack: number[] };

const CHUNK_BITS = 16;
const CHUNK_WORDS = 1 << CHUNK_BITS;

/** Chunks of released arenas (WordArena.release), for the next run's: a fresh chunk's pages fault in as it fills. */
const pooledChunks: Int32Array[] = [];
/** Chunks kept (16 MiB): the benchmark's module saves about 5 MiB of words a run. */
const POOL_CHUNKS = 64;

/**
 * The saved stacks' words, written straight into chunks of CHUNK_WORDS: a typed array of its own per
 * save (two per kmalloc/kfree pair) cost more than reading the stack — a backing store each, for the
 * garbage collector.
 */
class WordArena {
  private readonly chunks: Int32Array[] = [];
  /** The chunk being filled, and the first free word in it. */
  chunk: Int32Array = new Int32Array(0);
  used = 0;

  /** Room for `n` (≤ CHUNK_WORDS) more words in `chunk` from `used` on. */
  reserve(n: number): void {
    if (this.used + n <= this.chunk.length) return;
    // A pooled chunk's old words are never read: only committed words are.
    this.chunk = pooledChunks.pop() ?? new Int32Array(CHUNK_WORDS);
    this.chunks.push(this.chunk);
    this.used = 0;
  }

  /** Give the chunks to the next arena (nothing may read this one afterwards). */
  release(): void {
    while (this.chunks.length > 0 && pooledChunks.length < POOL_CHUNKS) pooledChunks.push(this.chunks.pop()!);
    this.chunks.length = 0;
    this.chunk = new Int32Array(0);
    this.used = 0;
  }

  /** The `n` words just written at `used` are kept; returns where they are. */
  commit(n: number): number {
    const at = ((this.chunks.length - 1) << CHUNK_BITS) | this.used;
    this.used += n;
    return at;
  }

  /** The `n` words kept at `at`, as unsigned numbers. */
  words(at: number, n: number): number[] {
    const c = this.chunks[at >>> CHUNK_BITS]!;
    const o = at & (CHUNK_WORDS - 1);
    return Array.from(c.subarray(o, o + n), (v) => v >>> 0);
  }
}

interface ObjectRecord {
  start: number;
  /** The cache's object size (what kmemcheck tracks). */
  size: number;
  /** kmalloc()'s requested size (the cache's object size for kmem_cache_alloc()). */
  requested: number;
  cache: string;
  allocated: SavedStack;
  freed: SavedStack | null;
}

/** A stack event of a finding: the instruction count and the frames. */
export interface StackEvent {
  icount: number;
  stack: FindingFrame[];
}

/** What a heap finding says about the object it hit. */
export interface FindingObject {
  /** The object's address, its cache's name and its object size. */
  address: number;
  cache: string;
  size: number;
  /** kmalloc()'s requested size. */
  requested: number;
  /** From the object's start to the accessed byte (at or past `size`: past the end). */
  offset: number;
  /** Allocation's stack (for an uninitialized read: where the memory became uninitialized, the origin). */
  allocated: StackEvent;
  /** Free's stack, when the object was freed. */
  freed: StackEvent | null;
}

export class ObjectOwners implements MmHooks {
  /** Every allocation, in order (an object allocated again is a new record: a report describes the object as it was when the error was caught). */
  private readonly records: ObjectRecord[] = [];
  private readonly peek: PageHidingService;
  private readonly live = new Map<number, ObjectRecord>();
  private readonly scratchTrace = new Int32Array(TRACE_DEPTH);
  private readonly arena = new WordArena();
  private unregister: (() => void) | null = null;

  constructor(readonly kernel: Kernel) {
    this.peek = new PageHidingService(kernel);
  }

  /** Follow the memory manager's slab objects from now on. */
  static attach(kernel: Kernel, hooks: { register(h: MmHooks): () => void }): ObjectOwners {
    const o = new ObjectOwners(kernel);
    o.unregister = hooks.register(o);
    return o;
  }

  detach(): void {
    this.unregister?.();
    this.unregister = null;
  }

  /** After the run: the saved stacks' memory goes to the next run's owners; describe() may not be called afterwards. */
  release(): void {
    this.detach();
    this.arena.release();
    this.records.length = 0;
    this.live.clear();
  }

  /** The page peekStack translated last and its physical address (-1: unmapped), for one save() only. */
  private peekPage = -1;
  private peekPhys = -1;
  /**
   * PageHidingService.peek32 with one translation per page: a save reads the frame chain (two dwords
   * a frame) of one or two stack pages, at every kmalloc and kfree. The page tables cannot change
   * within a save (the cache is forgotten at its start).
   */
  private readonly peekStack = (lin: number): number | null => {
    if ((lin & 3) !== 0) return this.peek.peek32(lin);
    const page = lin >>> 12;
    if (page !== this.peekPage) {
      this.peekPage = page;
      this.peekPhys = this.peek.physOf((lin & ~0xfff) | 0);
    }
    return this.peekPhys < 0 ? null : this.kernel.cpu.mem32[(this.peekPhys | (lin & 0xfff)) >>> 2]!;
  };

  /** The guest stack now: inside an allocator routine, [ESP] is its caller's return address. */
  private save(): SavedStack {
    const cpu = this.kernel.cpu;
    const esp = cpu.regs[4]! >>> 0;
    const ssBase = cpu.segBase[2]!;
    this.peekPage = -1;
    const peek = this.peekStack;
    const ret = peek((ssBase + esp) | 0);
    const n = walkFramePointers(peek, cpu.regs[5]!, esp, ssBase, this.scratchTrace);
    const trace: number[] = [];
    if (n > 0 && ret !== null) {
      trace.push(ret >>> 0);
      for (let i = 0; i < n && i < TRACE_DEPTH - 1; i++) trace.push(this.scratchTrace[i]! >>> 0);
    }
    // Every kmalloc and kfree saves one: copied as they are, the conversion only for the few a report describes.
    const arena = this.arena;
    arena.reserve(STACK_WORDS);
    const words = this.peek.peekWords((ssBase + esp) | 0, arena.chunk, arena.used, STACK_WORDS);
    return { icount: cpu.icount, trace, at: arena.commit(words), n: words };
  }

  objectAllocated(virt: number, size: number, info: { cache: SlabCacheInfo; requested: number }): void {
    const start = virt >>> 0;
    const r: ObjectRecord = { start, size, requested: info.requested, cache: info.cache.name, allocated: this.save(), freed: null };
    this.records.push(r);
    this.live.set(start, r);
  }

  objectFreed(virt: number): void {
    const r = this.live.get(virt >>> 0);
    if (!r) return;
    r.freed = this.save();
    this.live.delete(virt >>> 0);
  }

  /** A saved stack as the stack walkers' StackDump (unsigned words). */
  private dumpOf(s: SavedStack): StackDump {
    return { icount: s.icount, trace: s.trace, stack: this.arena.words(s.at, s.n) };
  }

  /**
   * The object an address belongs to — the one containing it, or the
   * nearest one below it in the same page (an access past its end) — with
   * the report lines about it; null when none is known. `icount`: when the
   * error was caught (its retired-instruction count): the object as it was
   * then — allocated by then, freed only if freed by then.
   */
  describe(address: number, icount: number, symbolize?: Symbolizer, locate?: SourceLocator): { object: FindingObject; lines: string[] } | null {
    const a = address >>> 0;
    let best: ObjectRecord | null = null;
    for (const r of this.records) {
      if (r.allocated.icount > icount) break; // allocated after the error
      if (r.start > a || (best !== null && r.start < best.start)) continue;
      // Containing it, or the nearest object below it in the same page; a later allocation at the same address wins.
      if (a < r.start + r.size || r.start >>> 12 === a >>> 12) best = r;
    }
    if (best === null) return null;
    const freed = best.freed !== null && best.freed.icount <= icount ? this.dumpOf(best.freed) : null;
    const allocated = this.dumpOf(best.allocated);
    const event = (s: StackDump): StackEvent => ({
      icount: s.icount,
      stack: backtrace(s, symbolize).map((t) => findingFrame(t.address, true, symbolize, locate)),
    });
    const object: FindingObject = {
      address: best.start,
      cache: best.cache,
      size: best.size,
      requested: best.requested,
      offset: a - best.start,
      allocated: event(allocated),
      freed: freed ? event(freed) : null,
    };
    return { object, lines: formatObject(object, allocated, freed, symbolize, locate) };
  }
}

/**
 * The lines a heap report ends with, KASAN's and Valgrind's way (the
 * stacks as the report's own trace lines, src/kernel/dumpstack.ts):
 *
 *   The buggy address belongs to the object at c20be000
 *    which belongs to the cache kmalloc-32 of size 32
 *   The buggy address is located 4 bytes inside of
 *    32-byte region [c20be000, c20be020), freed
 *   Allocated (instruction 12):
 *    [<c20c0020>] ? init_module+0x10/0x4b [uninit.c:21]
 *   Freed (instruction 40):
 *    [<c20c0050>] ? init_module+0x40/0x4b [uninit.c:24]
 */
function formatObject(o: FindingObject, allocated: StackDump, freed: StackDump | null, symbolize?: Symbolizer, locate?: SourceLocator): string[] {
  const hex = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
  const where = o.offset < o.size ? `${o.offset} bytes inside of` : `${o.offset - o.size} bytes to the right of`;
  const lines = [
    `The buggy address belongs to the object at ${hex(o.address)}`,
    ` which belongs to the cache ${o.cache} of size ${o.size}`,
    `The buggy address is located ${where}`,
    ` ${o.size}-byte region [${hex(o.address)}, ${hex(o.address + o.size)})${o.freed ? ', freed' : ''}${o.requested !== o.size ? ` (kmalloc(${o.requested}))` : ''}`,
    `Allocated (instruction ${allocated.icount}):`,
    ...formatTrace(allocated, symbolize, locate),
  ];
  if (freed) lines.push(`Freed (instruction ${freed.icount}):`, ...formatTrace(freed, symbolize, locate));
  return lines;
}
