/**
 * The watch framework (seed 000, HeChuan's kernel_module_check_framework):
 * user-chosen buffers are watched through the page-hiding service, the
 * way kmemcheck watches the heap.
 *
 * - add(buf, len) hides every page the buffer touches (the service keeps
 *   a page hidden while any client — this one, kmemcheck, the CPL-1 stack
 *   tracker — hides it);
 * - a fault on such a page: the service decodes the instruction and calls
 *   onFault() with its accesses. Each access, cut at buffer boundaries, is
 *   either *watched* (its bytes in a buffer: counted in that buffer's
 *   reads/writes, passed to the handler before the access, post = 0) or
 *   *foreign* (bytes on a watched page outside every buffer: the neighbour
 *   of a buffer, an overflow; not passed to the handler, counted in the
 *   `foreign` statistic of every buffer on the page, and with
 *   setOverflowReport(true) reported kmemcheck-style). Then the service
 *   shows the pages and single-steps the instruction;
 * - the #DB after the step: onStepDone() reads the value each watched
 *   access wrote or read and calls the handler again (post = 1); then the
 *   service hides the pages again.
 *
 * Order on a page several clients hide: the watch framework first
 * (PageHidingClient.order -10), then kmemcheck, then the stack tracker
 * (registration order): the handler sees the access before kmemcheck
 * checks it, and its post call comes after the instruction ran.
 *
 * A handler is TypeScript (setHandler) or guest code (a module's
 * kmcf_handler_t, through src/watch/guest-api.ts). A guest handler runs
 * at CPL 0 with interrupts off on the trap's stack, as Linux's fault path
 * would call it: for the pre call the #PF handler diverts its return into
 * the handler (src/watch/trap-call.ts) and the instruction, resumed
 * afterwards, faults again — this second fault is the one that shows and
 * steps (the pages stay hidden while the handler runs). For the post call
 * the #DB handler diverts its return the same way, after the pages are
 * hidden again.
 *
 * No recursion: an access to a watched buffer made while a handler runs
 * (the handler reading the buffer it watches) is counted in the buffer's
 * statistics (and `nested`) but not passed to the handler again.
 *
 * Write overlays (src/watch/overlay.ts) ride on the same step: see there.
 */
import type { Kernel } from '../kernel/kernel.js';
import type { AddressSpace } from '../kernel/paging.js';
import {
  ACCESS_PROBE, ACCESS_READ, ACCESS_WRITE, PageHidingService, type HiddenFault, type PageHidingClient,
} from '../kernel/page-hiding.js';
import { decodeAccesses } from '../shadow/access.js';
import { PTE_P } from '../kernel/paging.js';
import { ErrorQueue, type KmemcheckError } from '../shadow/errors.js';
import { formatDump, formatRegisters, formatTrace, type SourceLocator, type Symbolizer } from '../shadow/report.js';
import { SHADOW_INITIALIZED, SHADOW_UNALLOCATED, Shadow } from '../shadow/shadow.js';
import { Overlay } from './overlay.js';

export const EINVAL = 22, ENOENT = 2, EEXIST = 17, EBUSY = 16;

/** One watched access, as the handler sees it (struct kmcf_access). Addresses unsigned. */
export interface WatchAccess {
  /** Linear address of the first byte of the access inside the buffer. */
  addr: number;
  /** EIP of the instruction. */
  ip: number;
  /** Bytes of the access inside the buffer (an access crossing a buffer's end is cut there). */
  size: number;
  write: boolean;
  /** The buffer's start (as given to add()). */
  buf: number;
  /** addr - buf. */
  offset: number;
  /** The value written or read (little-endian, its first 4 bytes): valid in the post call only, 0 before. */
  value: number;
  /** The current task's pid (0: the kernel's own context, as in module runs). */
  pid: number;
}

/** Per-buffer statistics (struct kmcf_stats, plus `nested`). */
export interface WatchStats {
  reads: number;
  writes: number;
  /** Page faults on the buffer's pages by instructions that accessed the buffer or its page (a guest handler's extra fault not counted). */
  faults: number;
  /** Accesses to the buffer's pages outside every watched buffer. */
  foreign: number;
  /** Accesses made while a handler was running (not passed to it). */
  nested: number;
}

export type WatchHandler = (acc: WatchAccess, post: boolean) => void;

/** How a guest handler is called (src/watch/guest-api.ts). */
export interface GuestHandlerCaller {
  /** Arrange the calls from the trap frame of `f` (#PF before, #DB after); nothing runs now. */
  divert(f: HiddenFault, calls: WatchAccess[], post: boolean): void;
  /** A handler call sequence is under way. */
  readonly busy: boolean;
}

/** A process's address space, for a buffer in its user memory (the Linux personality's task). */
export interface UserSpace {
  as: AddressSpace;
  pid: number;
}

/** Settings for a kernel's framework (a run's `--overlay-save`; the Linux personality's processes). */
export interface WatchConfig {
  overlaySink?: (text: string) => void;
  /** The current task's pid (WatchAccess.pid). */
  pidOf?: () => number;
  /** The current process's address space: kmcf_add() of a user address watches it there; null outside a process. */
  userSpace?: () => UserSpace | null;
}

export class WatchedBuffer {
  readonly stats: WatchStats = { reads: 0, writes: 0, faults: 0, foreign: 0, nested: 0 };
  overlay: Overlay | null = null;
  constructor(readonly start: number, readonly len: number, readonly space: UserSpace | null = null) {}
  get end(): number {
    return this.start + this.len;
  }
}

/** A watched piece of one access, remembered from the fault to the step's end. */
interface Piece {
  buffer: WatchedBuffer;
  addr: number;
  size: number;
  kind: number;
  /** Original bytes under an overlay, put back after the step. */
  saved: Uint8Array | null;
}

const frameworks = new WeakMap<Kernel, WatchFramework>();
const configs = new WeakMap<Kernel, WatchConfig>();
/** Where user space ends (TASK_SIZE): addresses below are a process's. */
const USER_END = 0xc0000000;

export class WatchFramework implements PageHidingClient {
  readonly name = 'watch';
  readonly order = -10;

  /** A guest handler's pre call and overlays need the access before it runs (see PageHidingClient.early). */
  get early(): boolean {
    return this.guest !== null || this.buffers.some((b) => b.overlay !== null);
  }
  readonly hiding: PageHidingService;
  /** Whole-framework counters. */
  readonly counters = { faults: 0, watched: 0, foreign: 0, nested: 0, handlerCalls: 0, deferred: 0 };
  /** Overflow reports (setOverflowReport(true)), drained by the runner. */
  readonly errors = new ErrorQueue();
  /** The current task's pid for WatchAccess.pid. */
  pidOf: () => number = () => 0;
  /** The current process (WatchConfig.userSpace). */
  userSpace: () => UserSpace | null = () => null;
  /** Called with an overlay's text (Overlay.format) when it is committed, discarded or dropped (`--overlay-save`). */
  overlaySink: ((text: string) => void) | null = null;

  private readonly buffers: WatchedBuffer[] = [];
  private readonly byPage = new Map<number, WatchedBuffer[]>();
  private tsHandler: WatchHandler | null = null;
  private guest: GuestHandlerCaller | null = null;
  private inTsHandler = false;
  private overflowReport = false;
  private pieces: Piece[] = [];
  /** The instruction whose guest pre call ran: its next fault goes ahead. */
  private preDone: { eip: number; cr2: number } | null = null;

  private constructor(readonly kernel: Kernel) {
    this.hiding = PageHidingService.of(kernel);
    this.hiding.register(this);
    this.hiding.setAccessDecoder(decodeAccesses);
  }

  /** The kernel's watch framework, attached to its page-hiding service on first use. */
  static of(kernel: Kernel): WatchFramework {
    let w = frameworks.get(kernel);
    if (w === undefined) {
      w = new WatchFramework(kernel);
      const c = configs.get(kernel);
      if (c) w.apply(c);
      frameworks.set(kernel, w);
    }
    return w;
  }

  /** Settings for the framework `of(kernel)` creates later (a run's `--overlay-save`), or applies now if it exists. */
  static configure(kernel: Kernel, c: WatchConfig): void {
    const all = { ...configs.get(kernel), ...c };
    configs.set(kernel, all);
    frameworks.get(kernel)?.apply(all);
  }

  private apply(c: WatchConfig): void {
    if (c.overlaySink) this.overlaySink = c.overlaySink;
    if (c.pidOf) this.pidOf = c.pidOf;
    if (c.userSpace) this.userSpace = c.userSpace;
  }

  static existsOn(kernel: Kernel): boolean {
    return frameworks.has(kernel);
  }

  // ---- the API (kmcf_*) ---------------------------------------------------------------------------

  /** A handler is registered (TypeScript or guest). */
  get registered(): boolean {
    return this.tsHandler !== null || this.guest !== null;
  }

  /** kmcf_register() for TypeScript: 0, or -EBUSY when a handler is registered. */
  setHandler(h: WatchHandler): number {
    if (this.registered) return -EBUSY;
    this.tsHandler = h;
    return 0;
  }

  /** kmcf_register() for guest code (src/watch/guest-api.ts). */
  setGuestHandler(g: GuestHandlerCaller): number {
    if (this.registered) return -EBUSY;
    this.guest = g;
    return 0;
  }

  /**
   * kmcf_unregister(): every buffer is deleted (its pages shown unless
   * another client hides them) and the handler forgotten. Returns the
   * buffers' final statistics, or -EINVAL when no handler was registered.
   */
  unregister(): { start: number; len: number; stats: WatchStats }[] | number {
    if (!this.registered) return -EINVAL;
    const out = this.buffers.map((b) => ({ start: b.start >>> 0, len: b.len, stats: { ...b.stats } }));
    for (const b of [...this.buffers]) this.delete(b.start);
    this.tsHandler = null;
    this.guest = null;
    this.preDone = null;
    return out;
  }

  /**
   * kmcf_add(): 0, -EINVAL for len 0 (or a range wrapping past 4 GiB, or a page not present), -EEXIST when it
   * overlaps a watched buffer. A user address (below 0xc0000000) is watched in `space` — by default the current
   * process's (userSpace()), as a module's kmcf_add() in a system call means — and only there: its pages are hidden
   * in that page table, the process's own accesses (CPL 3 too) and the kernel's in its context fault, other
   * processes are unaffected; the buffer is deleted when the process exits or execs (dropSpace). A process's page
   * another buffer's pages share must be that process's (-EEXIST otherwise).
   */
  add(buf: number, len: number, space: UserSpace | null = (buf >>> 0) < USER_END ? this.userSpace() : null): number {
    const start = buf >>> 0;
    if (len <= 0 || start + len > 0x1_0000_0000) return -EINVAL;
    if (space !== null && start + len > USER_END) return -EINVAL;
    if (this.buffers.some((b) => start < b.end && b.start < start + len)) return -EEXIST;
    // Every page must be mapped before anything is hidden.
    for (let p = start >>> 12; p <= (start + len - 1) >>> 12; p++) {
      if (space === null ? this.hiding.physOf((p * 4096) | 0) < 0 : !(space.as.readPte((p * 4096) | 0) & PTE_P)) return -EINVAL;
      if (space !== null && this.hiding.isHidden((p * 4096) | 0) && !this.byPage.get(p)?.every((o) => o.space?.as === space.as)) return -EEXIST;
    }
    const b = new WatchedBuffer(start, len, space);
    this.buffers.push(b);
    this.buffers.sort((x, y) => x.start - y.start);
    for (let p = start >>> 12; p <= (start + len - 1) >>> 12; p++) {
      const list = this.byPage.get(p);
      if (list) list.push(b);
      else this.byPage.set(p, [b]);
      this.hiding.hidePage((p * 4096) | 0, this, space?.as);
    }
    return 0;
  }

  /** kmcf_delete(): 0, or -ENOENT when `buf` is not the start of a watched buffer. Its overlay is dropped. */
  delete(buf: number): number {
    const i = this.buffers.findIndex((b) => b.start === buf >>> 0);
    if (i < 0) return -ENOENT;
    const b = this.buffers[i]!;
    if (b.overlay) this.endOverlay(b, 'dropped');
    this.buffers.splice(i, 1);
    for (let p = b.start >>> 12; p <= (b.end - 1) >>> 12; p++) {
      const list = this.byPage.get(p)!;
      list.splice(list.indexOf(b), 1);
      if (list.length === 0) {
        this.byPage.delete(p);
        this.hiding.showPage((p * 4096) | 0, this);
      }
    }
    return 0;
  }

  /** A process exits or execs: its buffers are deleted (their pages shown in its page table before it goes). */
  dropSpace(as: AddressSpace): void {
    for (const b of this.buffers.filter((x) => x.space?.as === as)) this.delete(b.start);
  }

  /** kmcf_stats(): the buffer's statistics, or null when it is not watched. */
  stats(buf: number): WatchStats | null {
    const b = this.find(buf);
    return b ? { ...b.stats } : null;
  }

  /** kmcf_set_overflow_report(): foreign accesses are reported (kmemcheck-style) as well as counted. */
  setOverflowReport(on: boolean): void {
    this.overflowReport = on;
  }

  /** The watched buffers, by address. */
  list(): readonly WatchedBuffer[] {
    return this.buffers;
  }

  private find(buf: number): WatchedBuffer | undefined {
    return this.buffers.find((b) => b.start === buf >>> 0);
  }

  // ---- overlays (src/watch/overlay.ts) -------------------------------------------------------------

  /**
   * kmcf_overlay(): watch [buf, buf + len) (if not watched yet) with a write
   * overlay. 0; -EEXIST when it overlaps another buffer or already has an
   * overlay; -EINVAL for len 0 or a buffer watched with another length.
   */
  overlay(buf: number, len: number): number {
    let b = this.find(buf);
    if (b === undefined) {
      const r = this.add(buf, len);
      if (r !== 0) return r;
      b = this.find(buf)!;
    } else if (b.len !== len) return -EINVAL;
    if (b.overlay) return -EEXIST;
    b.overlay = new Overlay(b.start, b.len);
    return 0;
  }

  /** kmcf_overlay_commit(): the overlay's bytes are written to the buffer; the overlay ends. 0 or -ENOENT. */
  overlayCommit(buf: number): number {
    const b = this.find(buf);
    if (!b?.overlay) return -ENOENT;
    const o = b.overlay;
    this.endOverlay(b, 'committed');
    for (const off of o.offsets()) this.hiding.poke((b.start + off) | 0, new Uint8Array([o.get(off)]));
    return 0;
  }

  /** kmcf_overlay_discard(): the overlay is dropped, the buffer keeps its original bytes. 0 or -ENOENT. */
  overlayDiscard(buf: number): number {
    const b = this.find(buf);
    if (!b?.overlay) return -ENOENT;
    this.endOverlay(b, 'discarded');
    return 0;
  }

  /** The buffer's overlay (TypeScript users read it), or null. */
  overlayOf(buf: number): Overlay | null {
    return this.find(buf)?.overlay ?? null;
  }

  /** Every live overlay to the sink (the end of a run: `--overlay-save`). */
  flushOverlays(why = 'live'): void {
    for (const b of this.buffers) if (b.overlay && this.overlaySink) this.overlaySink(b.overlay.format((i) => this.hiding.peek8((b.start + i) | 0), why));
  }

  private endOverlay(b: WatchedBuffer, why: string): void {
    const o = b.overlay!;
    this.overlaySink?.(o.format((i) => this.hiding.peek8((b.start + i) | 0), why));
    b.overlay = null;
  }

  // ---- the fault path -----------------------------------------------------------------------------

  onFault(f: HiddenFault): void {
    this.counters.faults++;
    const nested = this.inTsHandler || (this.guest?.busy ?? false);
    const pieces: Piece[] = [];
    const foreign: Foreign[] = [];
    const a = f.accesses;
    if (f.repeat || a.count === 0) {
      // An access the decoder did not predict: what CR2 names (a byte; the error code says read or write).
      this.classify(f.cr2, 1, f.errorCode & 2 ? ACCESS_WRITE : ACCESS_READ, pieces, foreign);
    } else {
      for (let i = 0; i < a.count; i++) if (!(a.kind[i]! & ACCESS_PROBE)) this.classify(a.addr[i]!, a.size[i]!, a.kind[i]!, pieces, foreign);
    }
    // The guest handler's pre call: divert this fault into it; the instruction faults again afterwards
    // (that fault is the one counted).
    if (pieces.length > 0 && this.guest !== null && !nested && !f.repeat && !f.late) {
      const pd = this.preDone;
      if (pd === null || pd.eip !== f.eip || pd.cr2 !== f.cr2) {
        this.preDone = { eip: f.eip, cr2: f.cr2 };
        this.counters.deferred++;
        this.counters.handlerCalls += pieces.length;
        this.guest.divert(f, pieces.map((p) => this.accessOf(p, f, 0)), false);
        f.deferred = true;
        return;
      }
      this.preDone = null;
    }
    const touched = new Set<WatchedBuffer>();
    for (const p of pieces) touched.add(p.buffer);
    for (const x of foreign) {
      // Foreign: counted in every buffer on the pages it touched, reported when asked.
      this.counters.foreign++;
      for (const b of x.buffers) {
        b.stats.foreign++;
        touched.add(b);
      }
      if (this.overflowReport && !f.repeat) this.report(f, x.addr, x.size, x.kind & ACCESS_WRITE ? 'write' : 'read');
    }
    for (const b of touched) b.stats.faults++;
    if (pieces.length === 0) return;
    for (const p of pieces) {
      this.counters.watched++;
      if (p.kind & ACCESS_READ) p.buffer.stats.reads++;
      if (p.kind & ACCESS_WRITE) p.buffer.stats.writes++;
      if (nested) {
        p.buffer.stats.nested++;
        this.counters.nested++;
      }
    }
    if (this.tsHandler !== null && !nested) {
      for (const p of pieces) this.callTs(this.accessOf(p, f, 0), false);
    }
    for (const p of pieces) if (p.buffer.overlay) this.applyOverlay(p);
    this.pieces = nested ? pieces.map((p) => ({ ...p, kind: p.kind | NESTED })) : pieces;
  }

  onStepDone(f: HiddenFault): void {
    const pieces = this.pieces;
    this.pieces = [];
    if (pieces.length === 0) return;
    const post: WatchAccess[] = [];
    for (const p of pieces) {
      const acc = this.accessOf(p, f, this.valueAt(p.addr, p.size));
      if (p.saved) this.captureOverlay(p);
      if (!(p.kind & NESTED)) post.push(acc);
    }
    if (post.length === 0) return;
    if (this.tsHandler !== null) for (const acc of post) this.callTs(acc, true);
    else if (this.guest !== null) {
      this.counters.handlerCalls += post.length;
      this.guest.divert(f, post, true);
    }
  }

  /** Cut one access into watched pieces and foreign bytes. */
  private classify(addr: number, size: number, kind: number, pieces: Piece[], foreign: Foreign[]): void {
    const lo = addr >>> 0;
    const hi = lo + size;
    let onOurPages = 0;
    let covered = 0;
    let firstForeign = -1;
    const seen: WatchedBuffer[] = [];
    for (let p = lo >>> 12; p <= (hi - 1) >>> 12 && p <= 0xfffff; p++) {
      const list = this.byPage.get(p);
      if (list === undefined) continue;
      const pLo = Math.max(lo, p * 4096);
      const pHi = Math.min(hi, p * 4096 + 4096);
      onOurPages += pHi - pLo;
      const here: [number, number][] = [];
      for (const b of list) {
        if (!seen.includes(b)) seen.push(b);
        const s = Math.max(pLo, b.start);
        const e = Math.min(pHi, b.end);
        if (s >= e) continue;
        covered += e - s;
        here.push([s, e]);
        const prev = pieces.find((x) => x.buffer === b && x.kind === kind && x.addr + x.size === s);
        if (prev) prev.size += e - s;
        else pieces.push({ buffer: b, addr: s, size: e - s, kind, saved: null });
      }
      if (firstForeign < 0 && covered < onOurPages) {
        for (let x = pLo; x < pHi; x++) {
          if (!here.some(([s, e]) => x >= s && x < e)) {
            firstForeign = x;
            break;
          }
        }
      }
    }
    if (covered < onOurPages) foreign.push({ addr: firstForeign, size, kind, buffers: seen });
  }

  private report(f: HiddenFault, addr: number, size: number, access: 'read' | 'write'): void {
    // The dump's second line: i = a watched buffer's byte, a = outside every buffer, on watched pages.
    const sh = new Shadow();
    for (const p of this.byPage.keys()) sh.track(p * 4096, 4096, SHADOW_UNALLOCATED);
    for (const b of this.buffers) sh.mark(b.start | 0, b.len, SHADOW_INITIALIZED);
    this.errors.save(SHADOW_UNALLOCATED, addr, size, access, f, this.hiding, sh);
  }

  private accessOf(p: Piece, f: HiddenFault, value: number): WatchAccess {
    return {
      addr: p.addr >>> 0,
      ip: f.eip >>> 0,
      size: p.size,
      write: (p.kind & ACCESS_WRITE) !== 0,
      buf: p.buffer.start >>> 0,
      offset: p.addr - p.buffer.start,
      value,
      pid: this.pidOf(),
    };
  }

  private callTs(acc: WatchAccess, post: boolean): void {
    this.counters.handlerCalls++;
    this.inTsHandler = true;
    try {
      this.tsHandler!(acc, post);
    } finally {
      this.inTsHandler = false;
    }
  }

  /** Little-endian value of the first min(size, 4) bytes at `addr` (hidden pages included). */
  private valueAt(addr: number, size: number): number {
    let v = 0;
    for (let i = 0; i < Math.min(size, 4); i++) {
      const b = this.hiding.peek8((addr + i) | 0);
      v |= (b < 0 ? 0 : b) << (8 * i);
    }
    return v >>> 0;
  }

  /** Before the step: keep the original bytes; where the instruction reads, put the overlay's in place. */
  private applyOverlay(p: Piece): void {
    const o = p.buffer.overlay!;
    const saved = new Uint8Array(p.size);
    for (let i = 0; i < p.size; i++) saved[i] = this.hiding.peek8((p.addr + i) | 0);
    p.saved = saved;
    if (!(p.kind & ACCESS_READ)) return;
    const cur = saved.slice();
    for (let i = 0; i < p.size; i++) {
      const b = o.get(p.addr - o.start + i);
      if (b >= 0) cur[i] = b;
    }
    this.hiding.poke(p.addr, cur);
  }

  /** After the step: what it wrote goes into the overlay; the original bytes come back. */
  private captureOverlay(p: Piece): void {
    const o = p.buffer.overlay;
    if (o && p.kind & ACCESS_WRITE) {
      for (let i = 0; i < p.size; i++) o.set(p.addr - o.start + i, this.hiding.peek8((p.addr + i) | 0));
    }
    this.hiding.poke(p.addr, p.saved!);
  }
}

/** An access with bytes on watched pages outside every buffer: its first such byte, and the buffers on those pages. */
interface Foreign {
  addr: number;
  size: number;
  kind: number;
  buffers: WatchedBuffer[];
}

/** Piece kind bit: made while a handler ran (no post call). */
const NESTED = 0x80;

/** An overflow report's text: kmemcheck's layout with the watch framework's header. */
export function formatOverflowReport(e: KmemcheckError, symbolize?: Symbolizer, locate?: SourceLocator): string {
  const head = `WARNING: kmcf: Caught ${8 * e.size}-bit ${e.access} ${e.access === 'write' ? 'to' : 'from'} memory outside every watched buffer (${(e.address >>> 0).toString(16).padStart(8, '0')})`;
  return [head, ...formatDump(e), '', ...formatRegisters(e, { symbolize, locate }), ...formatTrace(e, symbolize, locate)].join('\n');
}
