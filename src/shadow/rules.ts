/**
 * kmemcheck's shadow rules, shared by the fault-driven engine (kmemcheck.ts,
 * run from the #PF handler) and the precise inline checker (inline.ts, run
 * before every instruction): one place for what a read, a write and a copy
 * do to the shadow and when they are an error (Linux's kmemcheck_access(),
 * kmemcheck_read(), kmemcheck_write(), kmemcheck_copy()).
 */
import { ACCESS_PROBE, ACCESS_READ, ACCESS_WRITE, HiddenFault, type PageHidingService } from '../kernel/page-hiding.js';
import type { CPU } from '../cpu/cpu.js';
import { memSizeOf } from '../cpu/decoder.js';
import { ErrorQueue, QUEUE_SIZE, type AccessKind, type KmemcheckError } from './errors.js';
import { formatLost, formatReport, toFinding, type Finding, type FindingOrigin, type SourceLocator, type Symbolizer } from './report.js';
import { CheckedInstruction } from './instrument.js';
import { SHADOW_FREED, SHADOW_INITIALIZED, SHADOW_UNALLOCATED, SHADOW_UNINITIALIZED, Shadow, UNTRACKED, type ShadowState } from './shadow.js';

/** Options both checkers take. */
export interface ShadowRuleOptions {
  /** A read passes when any of its bytes is initialized (default true, Linux's CONFIG_KMEMCHECK_PARTIAL_OK). */
  partialOk?: boolean;
  /** Check the read half of read-modify-write instructions (default false: Linux treated them as writes). */
  checkReadModifyWrite?: boolean;
  /** Switch off after the first report (kmemcheck=2). Default false. */
  oneShot?: boolean;
  /**
   * Also report writes into unallocated and freed memory (`--kmemcheck-writes`,
   * default false): beyond Linux's kmemcheck, which checked reads only; KASAN
   * reports such writes. The write still initializes the bytes, as a
   * reported read does, so one bad access reports once.
   */
  checkWrites?: boolean;
  /** Start enabled (default true). */
  enabled?: boolean;
  /** Error queue size (default 64, CONFIG_KMEMCHECK_QUEUE_SIZE). */
  queueSize?: number;
}

/** The counters the rules keep. */
export interface RuleStats {
  /** Reads checked (accesses that touched tracked bytes). */
  reads: number;
  writes: number;
  copies: number;
  /** Invalid reads found (reported, suppressed or lost). */
  errors: number;
}

const MAX_COPY = 16;

export abstract class ShadowRules {
  /** Who this checker is in findings and reports (checker name, heap or stack). */
  abstract readonly origin: Required<FindingOrigin>;
  readonly shadow = new Shadow();
  readonly errors: ErrorQueue;
  partialOk: boolean;
  checkReadModifyWrite: boolean;
  oneShot: boolean;
  checkWrites: boolean;
  abstract readonly stats: RuleStats;
  protected on = true;
  private readonly copyStates = new Int8Array(MAX_COPY);
  /** The "fault" a host-side read for guest code is reported with (one object, reused). */
  private readonly hostFault = new HiddenFault();

  constructor(opts: ShadowRuleOptions) {
    this.partialOk = opts.partialOk ?? true;
    this.checkReadModifyWrite = opts.checkReadModifyWrite ?? false;
    this.oneShot = opts.oneShot ?? false;
    this.checkWrites = opts.checkWrites ?? false;
    this.errors = new ErrorQueue(opts.queueSize ?? QUEUE_SIZE);
  }

  get enabled(): boolean {
    return this.on;
  }
  /** After the run: the shadow goes to the next checker made in this process (Shadow.release). Nothing may use this checker afterwards. */
  release(): void {
    this.shadow.release();
  }
  /** Run-time on/off. */
  abstract setEnabled(on: boolean): void;
  /** Start tracking [virt, virt + bytes) in state `initial` (kmemcheck also hides the pages). */
  abstract track(virt: number, bytes: number, initial?: ShadowState): void;
  /** Stop tracking the pages [virt, virt + bytes) touches. */
  abstract untrack(virt: number, bytes: number): void;

  /** Set the states of n bytes (the allocator hooks and the guest's kmemcheck_mark_initialized()). */
  markUnallocated(virt: number, n: number): void {
    this.shadow.markUnallocated(virt, n);
  }
  markUninitialized(virt: number, n: number): void {
    this.shadow.markUninitialized(virt, n);
  }
  markInitialized(virt: number, n: number): void {
    this.shadow.markInitialized(virt, n);
  }
  markFreed(virt: number, n: number): void {
    this.shadow.markFreed(virt, n);
  }
  /** Where an error's memory dump and stack are read from. */
  protected abstract memorySource(): PageHidingService;

  /**
   * Apply every predicted access of one instruction. With `simulateCr2`
   * (the inline checker, which takes no fault) each access sets the CR2 an
   * error records to its own address, as the fault would have.
   */
  protected applyAccesses(f: HiddenFault, simulateCr2: boolean): void {
    const a = f.accesses;
    for (let i = 0; i < a.count; i++) {
      const kind = a.kind[i];
      if (kind & ACCESS_PROBE) continue;
      if (simulateCr2) f.cr2 = a.addr[i];
      const src = a.copyOf[i];
      if (src >= 0) {
        this.copy(a.addr[src], a.addr[i], a.size[i], f, simulateCr2);
        continue;
      }
      if (kind === ACCESS_READ) {
        if (!isCopySource(f, i)) this.read(a.addr[i], a.size[i], f);
      } else if (kind === ACCESS_WRITE) {
        this.write(a.addr[i], a.size[i], f);
      } else {
        // Read-modify-write.
        if (this.checkReadModifyWrite) this.read(a.addr[i], a.size[i], f);
        this.write(a.addr[i], a.size[i], f);
      }
    }
  }

  /**
   * kmemcheck_access() for an instruction that faulted on a hidden page:
   * its decoded accesses, plus Linux's CR2 fallback (fallback_address /
   * fallback_method) for an access the decoder did not predict — a repeat
   * fault during the step, no decoded access, or CR2 outside all of them —
   * with the instruction's operand size.
   */
  protected applyFault(f: HiddenFault): void {
    const a = f.accesses;
    if (f.repeat || a.count === 0) {
      this.fallback(f);
      return;
    }
    this.applyAccesses(f, false);
    if (a.find(f.cr2) < 0 && ((f.cr2 - f.eip) >>> 0) >= Math.max(f.ins.len, 1)) this.fallback(f);
  }

  private fallback(f: HiddenFault): void {
    if (((f.cr2 - f.eip) >>> 0) < Math.max(f.ins.len, 1)) return; // fetching code from a tracked page is not a data access
    const size = memSizeOf(f.ins) || f.ins.size || 1;
    if (f.errorCode & 2) this.write(f.cr2, size, f);
    else this.read(f.cr2, size, f);
  }

  // ---- draining (kmemcheck_error_recall()) ----------------------------------------

  /** Everything queued, oldest first. */
  recall(): KmemcheckError[] {
    return this.errors.drain();
  }

  /** The queue as printed text: every report, then the "Lost N error reports" line if it overflowed. */
  recallText(symbolize?: Symbolizer, locate?: SourceLocator): string {
    const parts = this.errors.drain().map((e) => formatReport(e, { symbolize, locate, region: this.origin.region }));
    const lost = this.errors.takeLost();
    if (lost > 0) parts.push(formatLost(lost));
    return parts.join('\n\n');
  }

  /** The queue as JSON findings, tagged with this checker's origin. */
  recallFindings(symbolize?: Symbolizer, locate?: SourceLocator): Finding[] {
    return this.errors.drain().map((e) => toFinding(e, symbolize, locate, this.origin));
  }

  /**
   * A read the host makes on behalf of guest code — a native routine's
   * stack argument, a string it consumes, an emulated instruction's memory
   * operand — checked as a guest read of n bytes at `eip`, with the CPU's
   * registers (ESP replaced by `esp` unless it is -1) for the report.
   */
  protected checkedHostRead(cpu: CPU, lin: number, n: number, eip: number, esp = -1): void {
    const f = this.hostFault;
    f.eip = eip;
    f.cr2 = lin | 0;
    f.errorCode = 0;
    f.accesses.clear();
    f.context.fromCpu(cpu);
    f.context.eip = eip;
    if (esp !== -1) f.context.regs[4] = esp;
    this.read(lin | 0, n, f);
  }

  /**
   * A native kernel routine consumed [lin, lin + n) (GuestAccessor.used):
   * checked as the C code it stands for would be — vsnprintf's string()
   * reads a `%s` argument one byte at a time, so each byte is a 1-byte
   * read at the routine's address (cpu.eip while a native runs), and a
   * string with uninitialized bytes reports once (same-EIP suppression).
   */
  nativeUse(cpu: CPU, lin: number, n: number): void {
    if (!this.on || n <= 0 || !this.touchesTracked(lin, n)) return;
    for (let i = 0; i < n; i++) this.checkedHostRead(cpu, (lin + i) | 0, 1, cpu.eip);
  }

  /** Any byte of [addr, addr + n) tracked? */
  protected touchesTracked(addr: number, n: number): boolean {
    return this.shadow.isTracked(addr) || this.shadow.isTracked((addr + n - 1) | 0);
  }

  /**
   * The faulting instruction is a load whose value is never used (the
   * stack rules' dead-load rule, ./dead-load.ts): its read of bytes that
   * are not initialized is not an error, and the bytes keep their state.
   * The heap rules have no such rule (Linux's kmemcheck reported every read).
   */
  protected loadIsDead(_f: HiddenFault): boolean {
    return false;
  }

  // ---- the compiled checks' fast paths (./instrument.ts) ---------------------------------
  // For an instruction whose one access was planned at compile time, on a tracked page. Each
  // returns true when it applied the rule as applyAccesses() would, false when the full path must
  // run (a read that is an error or a dead load, a write checked with --kmemcheck-writes, a
  // read-modify-write with checkReadModifyWrite). They change nothing when they return false.

  /** A plain read: passes when its bytes test initialized. */
  fastRead(addr: number, n: number): boolean {
    if (!this.on) return true;
    if (this.shadow.test(addr, n, this.partialOk) !== SHADOW_INITIALIZED) return false;
    this.stats.reads++;
    return true;
  }

  /** A plain write: the bytes become initialized. */
  fastWrite(addr: number, n: number): boolean {
    if (!this.on) return true;
    if (this.checkWrites) return false;
    this.stats.writes++;
    this.shadow.markInitialized(addr, n);
    return true;
  }

  /** A read-modify-write: a write, as Linux counted it, unless its read is checked. */
  fastModify(addr: number, n: number): boolean {
    return this.checkReadModifyWrite ? false : this.fastWrite(addr, n);
  }

  /** kmemcheck_read(): the whole access, across pages. */
  protected read(addr: number, n: number, f: HiddenFault): void {
    if (!this.touchesTracked(addr, n)) return;
    this.stats.reads++;
    const state = this.shadow.test(addr, n, this.partialOk);
    if (state === SHADOW_INITIALIZED) return;
    if (this.loadIsDead(f)) return;
    this.error(state, addr, n, 'read', f);
    // Don't warn about it again.
    this.shadow.markInitialized(addr, n);
  }

  /**
   * kmemcheck_write(): the bytes become initialized. With `checkWrites`, a
   * write of `f`'s instruction touching unallocated or freed bytes is an
   * error first (access "write", the state of the first such byte).
   */
  protected write(addr: number, n: number, f?: HiddenFault): void {
    if (!this.touchesTracked(addr, n)) return;
    this.stats.writes++;
    if (this.checkWrites && f) this.checkWrite(addr, n, f);
    this.shadow.markInitialized(addr, n);
  }

  /** `--kmemcheck-writes`: report a write into unallocated or freed bytes. */
  private checkWrite(addr: number, n: number, f: HiddenFault): void {
    for (let i = 0; i < n; i++) {
      const s = this.shadow.get((addr + i) | 0);
      if (s === SHADOW_UNALLOCATED || s === SHADOW_FREED) {
        this.error(s, addr, n, 'write', f);
        return;
      }
    }
  }

  /**
   * kmemcheck_copy(): the destination's tracked bytes take the source's
   * states; bytes landing on untracked memory are what is checked (an
   * untracked source byte counts as initialized), and an error names the
   * source. With `checkWrites`, "freed" and "unallocated" must keep meaning
   * the allocator's state (what a write is checked against), so they are
   * not carried into allocated bytes: copied there, they arrive as
   * uninitialized (garbage), and a read of them reports that.
   */
  protected copy(src: number, dst: number, n: number, f: HiddenFault, simulateCr2: boolean): void {
    if (!this.touchesTracked(src, n) && !this.touchesTracked(dst, n)) return;
    this.stats.copies++;
    if (this.checkWrites) this.checkWrite(dst, n, f);
    const st = this.copyStates;
    const len = Math.min(n, MAX_COPY);
    for (let i = 0; i < len; i++) {
      const s = this.shadow.get((src + i) | 0);
      st[i] = s === UNTRACKED ? SHADOW_INITIALIZED : s;
    }
    for (let i = 0; i < len; i++) {
      const d = (dst + i) | 0;
      if (this.shadow.isTracked(d)) {
        let v = st[i] as ShadowState;
        if (this.checkWrites && (v === SHADOW_FREED || v === SHADOW_UNALLOCATED)) {
          const cur = this.shadow.get(d);
          if (cur !== SHADOW_FREED && cur !== SHADOW_UNALLOCATED) v = SHADOW_UNINITIALIZED;
        }
        this.shadow.set(d, v);
        st[i] = SHADOW_INITIALIZED;
      }
    }
    let bad: number = SHADOW_INITIALIZED;
    for (let i = 0; i < len; i++) {
      if (st[i] === SHADOW_INITIALIZED) {
        if (this.partialOk) return;
      } else if (bad === SHADOW_INITIALIZED) bad = st[i];
    }
    if (bad !== SHADOW_INITIALIZED) {
      if (simulateCr2) f.cr2 = src;
      this.error(bad, src, n, 'read', f);
    }
  }

  /** kmemcheck_error_save(), unless switched off; one-shot switches off after the first. */
  protected error(state: number, addr: number, n: number, access: AccessKind, f: HiddenFault): void {
    this.stats.errors++;
    if (!this.on) return;
    // The compiled checks read the registers only now, for the report.
    if (f instanceof CheckedInstruction) f.fill();
    this.errors.save(state, addr, n, access, f, this.memorySource(), this.shadow);
    if (this.oneShot) this.setEnabled(false);
  }
}

function isCopySource(f: HiddenFault, i: number): boolean {
  const a = f.accesses;
  for (let j = 0; j < a.count; j++) if (a.copyOf[j] === i) return true;
  return false;
}

// ---- the allocator hooks ------------------------------------------------------

/** What kmemcheck needs to know about a slab cache. */
export interface SlabCacheInfo {
  name?: string;
  /** SLAB_NOTRACK: the cache's pages are never tracked. */
  notrack?: boolean;
  /** A constructor: objects keep the state the constructor gave them across free and allocation. */
  ctor?: unknown;
}

export interface ObjectAllocation {
  /** __GFP_ZERO: the object was zeroed. */
  zeroed?: boolean;
  /** __GFP_NOTRACK: initialized from the start, never reported. */
  notrack?: boolean;
  cache?: SlabCacheInfo;
}

export interface PageAllocation {
  zeroed?: boolean;
  notrack?: boolean;
}

/** The hooks the slab and page allocators call (mm/kmemcheck.c's kmemcheck_slab_alloc() and friends). */
export interface KmemcheckAllocatorHooks {
  /** A slab got fresh pages: tracked, unallocated, hidden. */
  newSlabPages(virt: number, bytes: number, cache?: SlabCacheInfo): void;
  /** An object was handed out: uninitialized (initialized if zeroed or notrack). */
  objectAllocated(virt: number, size: number, opts?: ObjectAllocation): void;
  /** An object was given back: freed. */
  objectFreed(virt: number, size: number, cache?: SlabCacheInfo): void;
  /** Pages from the page allocator (not for a slab): tracked uninitialized (initialized if zeroed) unless notrack. */
  pagesAllocated(virt: number, bytes: number, opts?: PageAllocation): void;
  /** Pages given back to the page allocator: no longer tracked. */
  pagesFreed(virt: number, bytes: number): void;
}

/**
 * The allocator hooks bound to a checker (mm/kmemcheck.c's kmemcheck_slab_alloc() and friends): the
 * one policy for kmemcheck, which hides the pages it tracks, and the inline checker, which does not.
 */
export function kmemcheckSlabHooks(engine: ShadowRules): KmemcheckAllocatorHooks {
  return {
    newSlabPages(virt, bytes, cache) {
      if (cache?.notrack) return;
      engine.track(virt, bytes, SHADOW_UNALLOCATED);
    },
    objectAllocated(virt, size, opts = {}) {
      if (!engine.shadow.isTracked(virt) || opts.cache?.notrack) return;
      if (opts.zeroed || opts.notrack || !engine.enabled) engine.markInitialized(virt, size);
      // An object from a cache with a constructor keeps what the constructor wrote.
      else if (!opts.cache?.ctor) engine.markUninitialized(virt, size);
    },
    objectFreed(virt, size, cache) {
      if (!engine.shadow.isTracked(virt) || cache?.notrack || cache?.ctor) return;
      engine.markFreed(virt, size);
    },
    pagesAllocated(virt, bytes, opts = {}) {
      if (opts.notrack) return;
      engine.track(virt, bytes, opts.zeroed ? SHADOW_INITIALIZED : SHADOW_UNINITIALIZED);
    },
    pagesFreed(virt, bytes) {
      engine.untrack(virt, bytes);
    },
  };
}
