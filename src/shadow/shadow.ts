/**
 * Shadow memory: one state byte per byte of tracked memory, with
 * kmemcheck's four states (arch/x86/mm/kmemcheck/shadow.h):
 *
 *   unallocated   — the allocator owns the memory, nobody was given it yet
 *   uninitialized — allocated, never written
 *   initialized   — written (or allocated zeroed)
 *   freed         — given back to the allocator
 *
 * Memory is tracked a page at a time (a Uint8Array of 4096 states per
 * tracked virtual page, created when the page is tracked); bytes on pages
 * that are not tracked have no shadow (`get` returns UNTRACKED).
 */
export const SHADOW_UNALLOCATED = 0;
export const SHADOW_UNINITIALIZED = 1;
export const SHADOW_INITIALIZED = 2;
export const SHADOW_FREED = 3;
/** What `get` returns for an address on a page that is not tracked. */
export const UNTRACKED = -1;

export type ShadowState = typeof SHADOW_UNALLOCATED | typeof SHADOW_UNINITIALIZED | typeof SHADOW_INITIALIZED | typeof SHADOW_FREED;

export const SHADOW_NAMES = ['unallocated', 'uninitialized', 'initialized', 'freed'] as const;
/** The letters of kmemcheck's shadow dump. */
export const SHADOW_LETTERS = ['a', 'u', 'i', 'f'] as const;

const PAGE = 4096;

/** Virtual pages in the 32-bit address space. */
const PAGES = 1 << 20;

/**
 * Released shadows' page maps and slot buffers (Shadow.release), for the
 * next Shadow in this process: a checked run's fresh 4 MiB page map cost
 * about a tenth of an inline-checker run of the benchmark's module — the
 * zero-fill, and the garbage collections V8 forces for new backing stores
 * (as the RAM pool, src/cpu/memory.ts). The map comes back all zero; the
 * slot buffers are filled again when a page takes them.
 */
interface PooledShadow {
  tracked: Int32Array;
  bytes: Uint8Array[];
  words: Int32Array[];
}
const pool: PooledShadow[] = [];
/** Shadows kept: one per checker of a run, a run or two at a time. */
const POOL_LIMIT = 4;

/** Shadows waiting in the pool (tests). */
export function pooledShadows(): number {
  return pool.length;
}

export class Shadow {
  /**
   * One entry per virtual page: 0 when the page is not tracked, else its
   * slot in `bytes`/`words`. The test every checked access makes first, so
   * an access to an untracked page costs one load (the compiled checks,
   * ./instrument.ts, emit it inline).
   */
  readonly tracked: Int32Array;
  /** The states of each slot's page, as bytes and as dwords (one buffer); slot 0 is never used. */
  readonly bytes: Uint8Array[];
  readonly words: Int32Array[];
  /** The virtual page number of each slot (-1: free). */
  private readonly pageOf: number[];
  private readonly free: number[] = [];
  private count = 0;
  private released = false;

  constructor() {
    const p = pool.pop();
    this.tracked = p?.tracked ?? new Int32Array(PAGES);
    this.bytes = p?.bytes ?? [new Uint8Array(0)];
    this.words = p?.words ?? [new Int32Array(0)];
    this.pageOf = this.bytes.map(() => -1);
    // Pooled slots are free; the lowest first, as a fresh shadow numbers them.
    for (let s = this.bytes.length - 1; s >= 1; s--) this.free.push(s);
  }

  /**
   * Give the page map and slot buffers to the next Shadow made in this
   * process (see `pool`): the map's entries are zeroed. Nothing may use
   * this shadow afterwards (code compiled against its arrays included):
   * they belong to the next one. A second call does nothing.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (let s = 1; s < this.pageOf.length; s++) {
      const p = this.pageOf[s]!;
      if (p >= 0) this.tracked[p] = 0;
    }
    if (pool.length < POOL_LIMIT) pool.push({ tracked: this.tracked, bytes: this.bytes, words: this.words });
  }

  /** Number of tracked pages. */
  get trackedPages(): number {
    return this.count;
  }

  /**
   * Start tracking every page that [virt, virt + n) touches. Bytes of the
   * range get `state`; the other bytes of a page tracked anew are
   * initialized (they never report). Pages already tracked keep the shadow
   * of bytes outside the range.
   */
  track(virt: number, n: number, state: ShadowState): void {
    if (n <= 0) return;
    for (let p = virt >>> 12, last = ((virt + n - 1) | 0) >>> 12; ; p = (p + 1) >>> 0) {
      if (this.tracked[p] === 0) this.addPage(p);
      if (p === last) break;
    }
    this.mark(virt, n, state);
  }

  private addPage(p: number): void {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.bytes.length;
      const buf = new ArrayBuffer(PAGE);
      this.bytes.push(new Uint8Array(buf));
      this.words.push(new Int32Array(buf));
      this.pageOf.push(-1);
    }
    this.bytes[slot]!.fill(SHADOW_INITIALIZED);
    this.pageOf[slot] = p;
    this.tracked[p] = slot;
    this.count++;
  }

  /**
   * For a machine snapshot (src/boot/snapshot.ts, Snapshottable): the
   * tracked pages and their states, put back by the returned function
   * without copying the 4 MiB page map.
   */
  snapshotState(): () => void {
    const pageOf = this.pageOf.slice(), free = this.free.slice(), count = this.count, slots = this.bytes.length;
    const saved = this.bytes.map((b, i) => (pageOf[i]! >= 0 ? b.slice() : null));
    return () => {
      for (let s = 1; s < this.pageOf.length; s++) {
        const p = this.pageOf[s]!;
        if (p >= 0) this.tracked[p] = 0;
      }
      this.bytes.length = slots;
      this.words.length = slots;
      this.pageOf.length = 0;
      this.pageOf.push(...pageOf);
      this.free.length = 0;
      this.free.push(...free);
      this.count = count;
      for (let s = 1; s < slots; s++) {
        const p = pageOf[s]!;
        if (p < 0) continue;
        this.tracked[p] = s;
        this.bytes[s]!.set(saved[s]!);
      }
    };
  }

  /** Stop tracking the pages that [virt, virt + n) touches (whole pages). */
  untrack(virt: number, n: number): void {
    if (n <= 0) return;
    for (let p = virt >>> 12, last = ((virt + n - 1) | 0) >>> 12; ; p = (p + 1) >>> 0) {
      const slot = this.tracked[p]!;
      if (slot !== 0) {
        this.tracked[p] = 0;
        this.pageOf[slot] = -1;
        this.free.push(slot);
        this.count--;
      }
      if (p === last) break;
    }
  }

  /** The shadow page number `p` (virt >>> 12), or undefined. */
  private at(p: number): Uint8Array | undefined {
    const slot = this.tracked[p]!;
    return slot === 0 ? undefined : this.bytes[slot];
  }

  /** Virtual page numbers (virt >>> 12) that are tracked. */
  trackedPageNumbers(): number[] {
    return this.pageOf.filter((p) => p >= 0).sort((a, b) => a - b);
  }

  isTracked(virt: number): boolean {
    return this.tracked[virt >>> 12] !== 0;
  }

  /** The shadow page holding `virt`, or undefined (kmemcheck_shadow_lookup(), per page). */
  page(virt: number): Uint8Array | undefined {
    return this.at(virt >>> 12);
  }

  /** The state of one byte, or UNTRACKED. */
  get(virt: number): number {
    const s = this.at(virt >>> 12);
    return s === undefined ? UNTRACKED : s[virt & 0xfff];
  }

  /** Set one byte's state (no-op when untracked). */
  set(virt: number, state: ShadowState): void {
    const s = this.at(virt >>> 12);
    if (s !== undefined) s[virt & 0xfff] = state;
  }

  /** Set [virt, virt + n) to `state` where tracked (mark_shadow()); crosses pages. */
  mark(virt: number, n: number, state: ShadowState): void {
    const off0 = virt & 0xfff;
    if (off0 + n <= PAGE) {
      // Within one page (nearly every access): no chunking.
      const s = this.at(virt >>> 12);
      if (s !== undefined) {
        // Accesses are small: a loop beats TypedArray.fill's call.
        if (n <= 16) for (let i = off0, end = off0 + n; i < end; i++) s[i] = state;
        else s.fill(state, off0, off0 + n);
      }
      return;
    }
    let a = virt | 0;
    let left = n;
    while (left > 0) {
      const off = a & 0xfff;
      const chunk = Math.min(left, PAGE - off);
      const s = this.at(a >>> 12);
      if (s !== undefined) s.fill(state, off, off + chunk);
      a = (a + chunk) | 0;
      left -= chunk;
    }
  }

  markUnallocated(virt: number, n: number): void {
    this.mark(virt, n, SHADOW_UNALLOCATED);
  }
  markUninitialized(virt: number, n: number): void {
    this.mark(virt, n, SHADOW_UNINITIALIZED);
  }
  markInitialized(virt: number, n: number): void {
    this.mark(virt, n, SHADOW_INITIALIZED);
  }
  markFreed(virt: number, n: number): void {
    this.mark(virt, n, SHADOW_FREED);
  }

  /**
   * Shadow propagation for a memory-to-memory copy (MOVS, memcpy): each
   * tracked destination byte takes the state of its source byte (an
   * untracked source byte counts as initialized). Byte by byte in copy
   * order, so overlapping copies propagate as a forward MOVSB would.
   */
  copy(dst: number, src: number, n: number): void {
    for (let i = 0; i < n; i++) {
      const d = this.at(((dst + i) | 0) >>> 12);
      if (d === undefined) continue;
      const s = this.get((src + i) | 0);
      d[(dst + i) & 0xfff] = s === UNTRACKED ? SHADOW_INITIALIZED : s;
    }
  }

  /**
   * Test an access of n bytes at virt, kmemcheck_shadow_test(): with
   * `partialOk`, INITIALIZED when any tracked byte is initialized (gcc
   * often loads neighbouring bytes it then ignores); otherwise the first
   * state that is not initialized. With no tracked byte at all:
   * INITIALIZED. When no byte is initialized the result is the state of
   * the first tracked byte (in partial mode) — what the report names.
   */
  test(virt: number, n: number, partialOk: boolean): number {
    const off = virt & 0xfff;
    if (off + n <= PAGE) {
      // Within one page: one lookup.
      const s = this.at(virt >>> 12);
      if (s === undefined) return SHADOW_INITIALIZED;
      let firstBad = UNTRACKED;
      for (let i = off, end = off + n; i < end; i++) {
        const v = s[i];
        if (v === SHADOW_INITIALIZED) {
          if (partialOk) return SHADOW_INITIALIZED;
          continue;
        }
        if (!partialOk) return v;
        if (firstBad === UNTRACKED) firstBad = v;
      }
      return firstBad === UNTRACKED ? SHADOW_INITIALIZED : firstBad;
    }
    let firstBad = UNTRACKED;
    for (let i = 0; i < n; i++) {
      const s = this.get((virt + i) | 0);
      if (s === UNTRACKED) continue;
      if (s === SHADOW_INITIALIZED) {
        if (partialOk) return SHADOW_INITIALIZED;
        continue;
      }
      if (!partialOk) return s;
      if (firstBad === UNTRACKED) firstBad = s;
    }
    return firstBad === UNTRACKED ? SHADOW_INITIALIZED : firstBad;
  }
}
