import { defaultJitTier, STATE_BYTES, WASM_PAGE, wasmTierSupported } from './wasm/state.js';

/**
 * Released RAM waiting for the next PhysicalMemory of its size and kind
 * (PhysicalMemory.release), zeroed. A process that runs machine after
 * machine (`kmemsim compare`, the benchmark, a fuzzer without snapshots)
 * then reuses one buffer instead of allocating 64 MiB or more per run. A
 * fresh buffer costs more than the allocation: V8 accounts a new
 * ArrayBuffer's bytes to the young generation, and the next backing store
 * allocated while young ones hold more than twice the semi-space size
 * forces a scavenge ("external memory pressure"), then another to promote
 * it, then an old-space collection — about a tenth of a checked run of the
 * benchmark's module. The pooled buffer is the same ArrayBuffer object
 * (long promoted), so nothing is accounted again. At most POOL_LIMIT
 * buffers are kept; a release beyond that leaves its buffer to the
 * garbage collector.
 */
interface PooledBuffer {
  size: number;
  wasm: WebAssembly.Memory | null;
  buffer: ArrayBuffer;
  written: Uint8Array;
}
const pool: PooledBuffer[] = [];
export const POOL_LIMIT = 2;

/** Buffers waiting in the pool (tests). */
export function pooledMemories(): number {
  return pool.length;
}

/**
 * Physical memory: one flat byte array plus 16- and 32-bit views over it.
 *
 * This is the only place in kmemsim that touches the RAM array. Everything
 * else reaches guest memory through the CPU's linear-address accessors (which
 * translate and fault like hardware) or through the host-side accessor built
 * on them, so that paging, hidden pages and shadow memory always apply.
 */
export class PhysicalMemory {
  readonly size: number;
  /**
   * The WebAssembly memory holding RAM at offset 0 and, past it, the
   * processor state area of wasm/state.ts (the WebAssembly block tier), or
   * null for a plain ArrayBuffer. Fixed size, never grown, so the views stay valid.
   */
  readonly wasm: WebAssembly.Memory | null;
  readonly u8: Uint8Array;
  /** Aligned 32-bit view; index = physical address >> 2. */
  readonly u32: Int32Array;
  readonly u16: Uint16Array;
  /**
   * The dirty page log (as KVM's KVM_GET_DIRTY_LOG): while it is on, a
   * flag per 4 KiB frame written since the log was last taken, and the
   * list of those frames. Writes through these methods mark their frame;
   * the CPU marks a frame when it fills a write TLB entry for it (its
   * fast path stores to `u8`/`u32` directly, always through such an
   * entry) and when it copies bytes in (`CPU.writePhys`). Null: off.
   */
  private dirtyFlags: Uint8Array | null = null;
  private dirtyList: Int32Array | null = null;
  private dirtyCount = 0;
  /**
   * Every frame written since this memory was made (one flag per 4 KiB
   * frame, set wherever the dirty log is marked): what release() zeroes,
   * so that RAM never touched stays untouched (zeroing it would fault in
   * every page of it).
   */
  private readonly written: Uint8Array;
  private released = false;

  constructor(size = 64 * 1024 * 1024, wasmState = defaultJitTier() === 'wasm') {
    if (size <= 0 || size % 4096 !== 0 || size > 1024 * 1024 * 1024) {
      throw new RangeError(`physical memory size must be a positive multiple of 4096 up to 1 GiB (got ${size})`);
    }
    this.size = size;
    let buf: ArrayBuffer;
    // An engine that cannot run the tier's code (no WebAssembly tail calls) gets a plain memory: the JavaScript tier.
    const wasm = wasmState && wasmTierSupported();
    const i = pool.findIndex((b) => b.size === size && (b.wasm !== null) === wasm);
    if (i >= 0) {
      const b = pool.splice(i, 1)[0]!;
      this.wasm = b.wasm;
      buf = b.buffer;
      this.written = b.written;
    } else if (wasm) {
      const pages = (size + STATE_BYTES) / WASM_PAGE;
      this.wasm = new WebAssembly.Memory({ initial: Math.ceil(pages), maximum: Math.ceil(pages) });
      buf = this.wasm.buffer;
      this.written = new Uint8Array(size >>> 12);
    } else {
      this.wasm = null;
      buf = new ArrayBuffer(size);
      this.written = new Uint8Array(size >>> 12);
    }
    this.u8 = new Uint8Array(buf, 0, size);
    this.u32 = new Int32Array(buf, 0, size >>> 2);
    this.u16 = new Uint16Array(buf, 0, size >>> 1);
  }

  private stateClaimed = false;
  private clearState: (() => void) | null = null;
  /**
   * The byte offset of the processor state area (wasm/state.ts) for the one
   * CPU that uses this memory's WebAssembly tier, or -1 (no WebAssembly
   * memory, or another CPU claimed it first). `clear` puts the area back
   * to zeroes when the memory is released (its owner knows which TLB
   * entries it filled; a pooled memory's next CPU expects an empty area).
   */
  claimState(clear: () => void): number {
    if (this.wasm === null || this.stateClaimed) return -1;
    this.stateClaimed = true;
    this.clearState = clear;
    return this.size;
  }

  /**
   * Give this memory back for the next PhysicalMemory of the same size
   * made in this process (see `pool`): the frames ever written and the
   * state area are zeroed and the buffer pooled. The buffer is not
   * detached (a new ArrayBuffer object is what the pool avoids), so this
   * memory, its CPU and every view of it must not be used afterwards: they
   * would see the next machine's RAM. A second call does nothing.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.clearState?.();
    const w = this.written;
    for (let f = 0; f < w.length; ) {
      if (w[f] === 0) {
        f++;
        continue;
      }
      let e = f + 1;
      while (e < w.length && w[e] !== 0) e++;
      this.u8.fill(0, f << 12, e << 12);
      w.fill(0, f, e);
      f = e;
    }
    this.dirtyFlags = this.dirtyList = null;
    if (pool.length < POOL_LIMIT) pool.push({ size: this.size, wasm: this.wasm, buffer: this.u8.buffer as ArrayBuffer, written: w });
  }
  /** release() was called: the memory belongs to the pool or the next machine. */
  get isReleased(): boolean {
    return this.released;
  }

  /** Start logging written frames (clears the log). The CPU's write TLB must be flushed after this, so that every write is seen. */
  startDirtyLog(): void {
    const frames = this.size >>> 12;
    this.dirtyFlags = new Uint8Array(frames);
    this.dirtyList = new Int32Array(frames);
    this.dirtyCount = 0;
  }
  get dirtyLogging(): boolean {
    return this.dirtyFlags !== null;
  }
  /** Mark frame `pfn` written: for release() always, for the dirty log while it is on. */
  markDirty(pfn: number): void {
    if (pfn < this.written.length) this.written[pfn] = 1;
    const f = this.dirtyFlags;
    if (f === null || pfn >= f.length || f[pfn]) return;
    f[pfn] = 1;
    this.dirtyList![this.dirtyCount++] = pfn;
  }
  /** The frames written since the last call (or startDirtyLog), each once; the log is cleared. */
  takeDirtyLog(): Int32Array {
    const n = this.dirtyCount;
    if (n === 0) return new Int32Array(0);
    const out = this.dirtyList!.slice(0, n);
    for (let i = 0; i < n; i++) this.dirtyFlags![out[i]!] = 0;
    this.dirtyCount = 0;
    return out;
  }

  /** Reads past the end of RAM return all ones, as an unpopulated bus does. */
  read8(p: number): number {
    return p < this.size ? this.u8[p] : 0xff;
  }
  read16(p: number): number {
    if ((p & 1) === 0 && p < this.size) return this.u16[p >>> 1];
    return this.read8(p) | (this.read8(p + 1) << 8);
  }
  read32(p: number): number {
    if ((p & 3) === 0 && p < this.size) return this.u32[p >>> 2];
    return this.read8(p) | (this.read8(p + 1) << 8) | (this.read8(p + 2) << 16) | (this.read8(p + 3) << 24);
  }
  /** Writes past the end of RAM are dropped. */
  write8(p: number, v: number): void {
    if (p < this.size) {
      this.u8[p] = v;
      this.written[p >>> 12] = 1;
      if (this.dirtyFlags !== null) this.markDirty(p >>> 12);
    }
  }
  write16(p: number, v: number): void {
    if ((p & 1) === 0 && p < this.size) {
      this.u16[p >>> 1] = v;
      this.written[p >>> 12] = 1;
      if (this.dirtyFlags !== null) this.markDirty(p >>> 12);
    } else {
      this.write8(p, v & 0xff);
      this.write8(p + 1, (v >>> 8) & 0xff);
    }
  }
  write32(p: number, v: number): void {
    if ((p & 3) === 0 && p < this.size) {
      this.u32[p >>> 2] = v;
      this.written[p >>> 12] = 1;
      if (this.dirtyFlags !== null) this.markDirty(p >>> 12);
    } else {
      this.write8(p, v & 0xff);
      this.write8(p + 1, (v >>> 8) & 0xff);
      this.write8(p + 2, (v >>> 16) & 0xff);
      this.write8(p + 3, (v >>> 24) & 0xff);
    }
  }
}
