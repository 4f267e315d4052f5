import { PhysicalMemory } from './memory.js';
import { ARITH, CF, PF, AF, ZF, SF, OF, TF, IF, DF, FIXED_ONE, PARITY, Lazy } from './flags.js';
import { Instr, CS, SS, DS, FS, GS } from './instr.js';
import type { StopReason } from './stop.js';
import { Vec, vectorName, FAULT } from './stop.js';
import { Block, decodeBlock, memSizeOf, writesMemoryOperand } from './decoder.js';
import { deliverException, deliverThroughKnownGate } from './exceptions.js';
import { CheckedDescriptors } from './checked-descriptors.js';
import { inSegmentCache } from './segments.js';
import { WasmTier } from './wasm/tier.js';
import * as WS from './wasm/state.js';
import type { JitTier } from './wasm/state.js';
import { compileBlock, JIT_THRESHOLD, type CompiledBlock, type JitInstrumentation } from './jit.js';
import { DR6_BS, DR6_FIXED, DR6_WRITABLE, DR7_FIXED, DR7_WRITABLE, enabledBreakpoints, dataBreakpointHits, instructionBreakpointHits } from './debug-registers.js';
import { X87State } from './fpu/x87-state.js';
import { notePageFault, PREFLIGHT_AFTER } from './fault-preflight.js';
import { NativeDelivery } from './native-delivery.js';
import { serviceAttention, type InterruptController, type TimedDevice } from './attention.js';
import { lookupPhys, pageWalk } from './paging.js';

export type { InterruptController, TimedDevice };

/** Register numbers in ModRM order (SDM Vol. 2 Table 2-1). */
export const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;
export const REG32_NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];

export { FAULT } from './stop.js';

/** A native routine bound to a guest address: runs on the CPU state and returns architecturally. */
export type NativeRoutine = (cpu: CPU) => void;

/** I/O port handler; `size` is 1, 2 or 4. */
export interface PortHandler {
  read?(port: number, size: number): number;
  write?(port: number, value: number, size: number): void;
}

/**
 * Observer for tracing. Off by default; when no observer is set the CPU
 * pays one null check per delivered event, nothing per instruction.
 */
export interface CpuObserver {
  onException?(ev: ExceptionEvent): void;
}

export interface ExceptionEvent {
  vector: number;
  errorCode: number | null;
  eip: number;
  cplBefore: number;
  cplAfter: number;
  oldStack: [number, number];
  newStack: [number, number];
  cr2: number;
  software: boolean;
  /** An external interrupt (from the interrupt controller), not an exception or INT n. */
  external: boolean;
}

export interface CpuOptions {
  memory?: PhysicalMemory;
  memorySize?: number;
}

const PAGE = 4096;
const TLB_ENTRIES = 1 << 20;
const TLB_TRACK = 4096;
const RF_BIT = 1 << 16;
/**
 * Faults out of a block's compiled form (thrown, or page faults an executor delivered itself:
 * fault-preflight.ts) after which it is interpreted for good — or, when the instruction that
 * faulted last is not the block's first, cut short before it (CPU.jitFaulted).
 */
export const JIT_FAULT_LIMIT = 16;

/**
 * REP iterations per execution outside single-step: a longer string
 * instruction leaves EIP on itself and resumes, like an interrupted REP on
 * hardware, so the budget and pending interrupts are checked in between.
 */
export const REP_CHUNK = 0x10000;

/**
 * The most `room`/`left` a compiled block is called with: the largest small integer V8 keeps unboxed
 * (2^30 − 1). A block returns to the run loop after at most that many instructions, which goes on.
 */
const MAX_ROOM = 0x3fffffff;

/**
 * An IA-32 processor (Intel SDM Vol. 1–3). Knows nothing of kernels or
 * checkers: its outward surfaces are physical memory, I/O ports, native
 * address bindings and the observer.
 */
export class CPU {
  readonly mem: PhysicalMemory;
  readonly mem32: Int32Array;
  readonly mem8: Uint8Array;

  // ---- architectural state -------------------------------------------------
  /** EAX..EDI; a view on the WebAssembly tier's state area when this CPU has one (wasm/state.ts). */
  readonly regs: Int32Array;
  eip = 0;
  /** EFLAGS except the arithmetic bits that are pending in the lazy state. */
  flags = FIXED_ONE;
  lazyMask = 0;
  lfKind: Lazy = Lazy.Logic;
  lfDst = 0;
  lfSrc = 0;
  lfRes = 0;
  lfSize = 4;
  lfCin = 0;

  /** Segment selectors and descriptor caches (base, limit, access rights). */
  readonly segSel = new Uint16Array(6);
  readonly segBase = new Int32Array(6);
  readonly segLimit = new Int32Array(6).fill(-1);
  readonly segAttr = new Uint16Array(6);
  cpl = 0;

  cr0 = 0x00000011; // PE off until a loader enables it; ET set
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  readonly dr = new Int32Array(8);
  gdtrBase = 0;
  gdtrLimit = 0;
  idtrBase = 0;
  idtrLimit = 0;
  ldtr = 0;
  ldtBase = 0;
  ldtLimit = 0;
  tr = 0;
  trBase = 0;
  trLimit = 0;
  /** The x87 FPU (SDM Vol. 1 ch. 8): registers, control/status/tag words, last-instruction pointers. */
  readonly fpu = new X87State();
  /**
   * FERR# (SDM Vol. 3 §6.15 "Interrupt 16", Vol. 1 §8.7): with CR0.NE = 0 a
   * pending unmasked x87 exception is signalled on this line instead of as
   * #MF (a PC routes it to IRQ13). Null: not wired, the error is ignored as
   * if IGNNE# were asserted.
   */
  fpuError: (() => void) | null = null;
  /** CS.D: the default operand and address size of the code being fetched. */
  codeSize32 = true;
  /**
   * LIDT has run. Until then an IDT limit of 0 means "no IDT installed" and
   * an exception stops the machine with a message (bare snippets, a kernel
   * before its own LIDT); after an explicit LIDT with limit 0 the hardware
   * rules apply (#GP, #DF, triple fault).
   */
  idtLoaded = false;
  /**
   * Set while a fault raised by an instruction is delivered: the EFLAGS image
   * pushed has RF set, so the restarted instruction does not hit its own
   * instruction breakpoint again (SDM Vol. 3 §17.3.1.1; not for the
   * instruction-breakpoint #DB itself).
   */
  deliveringFault = false;
  /** Gates and IRET code segments whose checks passed before (checked-descriptors.ts). */
  readonly checkedDescriptors = new CheckedDescriptors();
  /**
   * The current instruction called a handler (INT n, INT3, INTO, INT1) or switched tasks: no single-step
   * trap follows it (SDM Vol. 3 §17.3.1.4); the handler runs with TF clear, or the new task with its own TF.
   */
  stepTrapSuppressed = false;
  /**
   * A fault raised after a task switch's commit point: it is delivered in the new task, at the new task's
   * EIP (SDM Vol. 3 §7.3 step 13), so EIP is not wound back to the instruction or event that switched.
   */
  faultInNewTask = false;
  /** Set while an external interrupt from the interrupt controller is being delivered (for observers). */
  deliveringExternal = false;
  /** Some segment is not flat: accesses are checked and execution takes the per-instruction path (segmentsChanged). */
  segChecks = false;
  /** Any debug-register breakpoint enabled in DR7: execution takes the per-instruction path. */
  debugActive = false;
  /** A data breakpoint is enabled; its pages are never cached in the TLB. */
  dataBpActive = false;
  private watchedPages: Set<number> | null = null;
  /** DR6 B0–B3 bits of data breakpoints hit by the current instruction. */
  private dataBpHits = 0;
  /** MOV SS / POP SS shadow: no single-step trap or interrupt after this instruction (SDM Vol. 3 §6.8.3). */
  shadow = false;
  /** STI shadow: no maskable interrupt before the next instruction completes (SDM STI). */
  stiShadow = false;
  /** HLT executed with interrupts enabled: waiting for one. */
  halted = false;
  interruptController: InterruptController | null = null;
  readonly timedDevices: TimedDevice[] = [];
  /** The run loop looks at devices and interrupts once icount reaches this. */
  attentionAt = Infinity;
  /** Executions before a block is compiled to JavaScript (jit.ts); 0 compiles at once, Infinity never. */
  jitThreshold = JIT_THRESHOLD;
  /**
   * What a client compiles into every block (jit/instrumentation.ts): set
   * with setJitInstrumentation, which drops the blocks compiled without it.
   */
  jitInstrumentation: JitInstrumentation | null = null;
  /**
   * Compile regions (jit.ts formRegion: a block with the decoded blocks its
   * direct branches reach on its page) instead of single blocks. Off by
   * default: on the benchmark it divides run-loop dispatches by about six
   * but costs more in V8 compile time than it saves (measured slower both
   * cold and warm on a 2-core machine); kept for workloads with large loops.
   */
  jitRegions = false;
  /** Index of the faulting instruction inside a compiled block, and instructions it retired before (loops). */
  jitIndex = -1;
  jitDone = 0;
  /** The instructions of the block (of a region) that `jitIndex` indexes. */
  jitInstrs: readonly Instr[] | null = null;
  /** REP iterations per execution of a string instruction (1 while single-stepping). */
  repChunk: number = REP_CHUNK;
  /**
   * The most REP iterations per execution at any time (1 while a run client needs every iteration:
   * one iteration per step, as with TF; see src/cpu/run-driver.ts).
   */
  repLimit: number = REP_CHUNK;
  /**
   * Who drives run(): null for the CPU's own loop; the precise checkers
   * (src/shadow/instrument.ts) and the gdb stub's step loop
   * (src/gdb/step-loop.ts) install themselves here and call runDirect(). A field, not a replaced method, so every CPU keeps one
   * shape and its call sites stay monomorphic.
   */
  runDriver: ((budget: number, single: boolean) => StopReason | null) | null = null;

  /**
   * Block-entry edge counters (a coverage map; AFL's edge scheme): when set,
   * every block the fast path enters bumps `edgeCounts[(cur ^ prevBlockId) &
   * (length - 1)]`, where `cur` hashes the block's linear address and
   * `prevBlockId` is the previous block's hash shifted right by one (so A→B
   * and B→A, A→A and B→B count apart). The length must be a power of two.
   * Null (the default) costs one test per block. Run one instruction at a
   * time (TF, a precise checker's single-step loop), an instruction counts
   * as a block entry when the one before did not fall through to it. A
   * block may run on past a conditional jump not taken (blocks are
   * superblocks), so edges are between the entries of taken jumps, calls,
   * returns and block boundaries; a compiled block looping onto itself
   * counts each time round (jit.ts).
   */
  edgeCounts: Uint8Array | null = null;
  prevBlockId = 0;
  /** Where the last single-stepped instruction falls through to (for `edgeCounts`). */
  private stepCont = -1;

  // ---- execution bookkeeping ------------------------------------------------
  /** Retired guest instructions (native routines excluded). Drives RDTSC and the timer. */
  icount = 0;
  stopReason: StopReason | null = null;
  /** Set by anything that must end the current block early (stop, code write, TF, IRQ). */
  breakLoop = false;
  /** Bumped whenever an EIP may map to different code: invalidates block successor links. */
  codeEpoch = 0;
  /** The instruction being executed (for faults). */
  cur: Instr | null = null;
  /** Exception being raised by the current instruction. */
  excVector = 0;
  excError = 0;
  excHasError = false;
  /** Set when #UD comes from a valid but unmodelled instruction (x87, SSE, ...). */
  unsupported: Instr | null = null;
  /** Exceptions being delivered, for the double/triple fault rules. */
  deliveryChain: { vector: number; errorCode: number | null; eip: number }[] = [];

  // ---- memory management ----------------------------------------------------
  /** Software TLB: virtual page → (physical page base | 1), 0 for a miss. One pair per privilege class. */
  private readonly tlbRSup: Int32Array;
  private readonly tlbWSup: Int32Array;
  private readonly tlbRUsr: Int32Array;
  private readonly tlbWUsr: Int32Array;
  tlbR: Int32Array;
  tlbW: Int32Array;
  /** The WebAssembly block tier (wasm/tier.ts), or null: this CPU compiles to JavaScript only. */
  readonly wasm: WasmTier | null = null;
  /** Which tier compiles blocks (jit.ts compileBlock): 'wasm' needs `wasm`; settable, e.g. by tests. */
  jitTier: JitTier;
  /** Byte offset of `tlbR` in the WebAssembly memory (its write twin follows at TLB_W), for the WebAssembly tier. */
  tlbOffset = 0;
  private tlbUsed = new Int32Array(TLB_TRACK);
  /** Virtual pages whose cached translation came from a global (G=1) entry: kept across CR3 writes. */
  private tlbGlobal = new Uint8Array(TLB_ENTRIES);
  private tlbUsedCount = 0;

  private codeCached = false;
  /** Decoded blocks per physical page; `codePage[p]` is set while page p has cached code. */
  private blocks: (Block[] | undefined)[];
  private readonly codePage: Uint8Array;

  private natives = new Map<number, NativeRoutine>();
  private ports = new Map<number, PortHandler>();
  observer: CpuObserver | null = null;

  /** Hook for the #UD message of unmodelled instructions. */
  constructor(opts: CpuOptions = {}) {
    this.mem = opts.memory ?? new PhysicalMemory(opts.memorySize);
    this.mem32 = this.mem.u32;
    this.mem8 = this.mem.u8;
    const state = this.mem.claimState(() => this.clearStateArea());
    if (state >= 0) {
      // Registers and TLBs in the WebAssembly memory, where the generated code reaches them (wasm/state.ts).
      const buf = this.mem.wasm!.buffer;
      this.regs = new Int32Array(buf, state + WS.REGS, 8);
      this.tlbRSup = new Int32Array(buf, state + WS.TLB_R_SUP, TLB_ENTRIES);
      this.tlbWSup = new Int32Array(buf, state + WS.TLB_R_SUP + WS.TLB_W, TLB_ENTRIES);
      this.tlbRUsr = new Int32Array(buf, state + WS.TLB_R_USR, TLB_ENTRIES);
      this.tlbWUsr = new Int32Array(buf, state + WS.TLB_R_USR + WS.TLB_W, TLB_ENTRIES);
      this.tlbOffset = state + WS.TLB_R_SUP;
      this.wasm = new WasmTier(this, this.mem.wasm!, state);
    } else {
      this.regs = new Int32Array(8);
      this.tlbRSup = new Int32Array(TLB_ENTRIES);
      this.tlbWSup = new Int32Array(TLB_ENTRIES);
      this.tlbRUsr = new Int32Array(TLB_ENTRIES);
      this.tlbWUsr = new Int32Array(TLB_ENTRIES);
    }
    this.tlbR = this.tlbRSup;
    this.tlbW = this.tlbWSup;
    this.jitTier = this.wasm !== null ? 'wasm' : 'js';
    const pages = this.mem.size / PAGE;
    this.blocks = new Array(pages);
    this.codePage = new Uint8Array(pages);
    this.segAttr.fill(0x93);
    this.segAttr[CS] = 0x9b;
    this.cr0 = 0x11;
    this.dr[6] = DR6_FIXED;
    this.dr[7] = DR7_FIXED;
  }

  // =========================================================================
  // Flags
  // =========================================================================

  /** Record an arithmetic result; the six status flags are derived on demand. */
  setLazy(kind: Lazy, dst: number, src: number, res: number, size: number): void {
    this.lfKind = kind;
    this.lfDst = dst;
    this.lfSrc = src;
    this.lfRes = res;
    this.lfSize = size;
    this.lazyMask = ARITH;
  }
  /** Operand mask and sign bit of the recorded operation. */
  get lfMask(): number {
    return this.lfSize === 4 ? -1 : this.lfSize === 2 ? 0xffff : 0xff;
  }
  get lfSign(): number {
    return this.lfSize === 4 ? 0x80000000 | 0 : this.lfSize === 2 ? 0x8000 : 0x80;
  }

  /** INC/DEC: like ADD/SUB of 1 but CF is kept (SDM: "CF flag is not affected"). */
  setLazyKeepCF(kind: Lazy, dst: number, res: number, size: number): void {
    if (this.lazyMask & CF) this.flags = (this.flags & ~CF) | this.getCF();
    this.setLazy(kind, dst, 1, res, size);
    this.lazyMask = ARITH & ~CF;
  }

  /** Shifts and others: ZF/SF/PF from the result, the rest set explicitly in `flags`. */
  setLazyResult(res: number, size: number, explicit: number, explicitMask: number): void {
    this.setLazy(Lazy.Logic, 0, 0, res, size);
    this.lazyMask = ZF | SF | PF;
    this.flags = (this.flags & ~explicitMask) | (explicit & explicitMask);
  }

  getCF(): number {
    if (!(this.lazyMask & CF)) return this.flags & CF;
    const m = this.lfMask;
    switch (this.lfKind) {
      case Lazy.Add: return (this.lfRes & m) >>> 0 < (this.lfDst & m) >>> 0 ? CF : 0;
      case Lazy.Adc:
        return this.lfCin
          ? ((this.lfRes & m) >>> 0 <= (this.lfDst & m) >>> 0 ? CF : 0)
          : ((this.lfRes & m) >>> 0 < (this.lfDst & m) >>> 0 ? CF : 0);
      case Lazy.Sub: return (this.lfDst & m) >>> 0 < (this.lfSrc & m) >>> 0 ? CF : 0;
      case Lazy.Sbb:
        return this.lfCin
          ? ((this.lfDst & m) >>> 0 <= (this.lfSrc & m) >>> 0 ? CF : 0)
          : ((this.lfDst & m) >>> 0 < (this.lfSrc & m) >>> 0 ? CF : 0);
      default: return 0;
    }
  }
  getZF(): number {
    if (!(this.lazyMask & ZF)) return this.flags & ZF;
    return (this.lfRes & this.lfMask) === 0 ? ZF : 0;
  }
  getSF(): number {
    if (!(this.lazyMask & SF)) return this.flags & SF;
    return this.lfRes & this.lfSign ? SF : 0;
  }
  getPF(): number {
    if (!(this.lazyMask & PF)) return this.flags & PF;
    return PARITY[this.lfRes & 0xff];
  }
  getAF(): number {
    if (!(this.lazyMask & AF)) return this.flags & AF;
    return this.lfKind === Lazy.Logic ? 0 : (this.lfDst ^ this.lfSrc ^ this.lfRes) & 0x10;
  }
  getOF(): number {
    if (!(this.lazyMask & OF)) return this.flags & OF;
    const s = this.lfSign;
    switch (this.lfKind) {
      case Lazy.Add: case Lazy.Adc: case Lazy.Inc:
        return (this.lfDst ^ this.lfRes) & (this.lfSrc ^ this.lfRes) & s ? OF : 0;
      case Lazy.Sub: case Lazy.Sbb: case Lazy.Dec:
        return (this.lfDst ^ this.lfSrc) & (this.lfDst ^ this.lfRes) & s ? OF : 0;
      default: return 0;
    }
  }

  /** The full EFLAGS value, lazy bits materialized. */
  getEflags(): number {
    let f = this.flags | FIXED_ONE;
    const lm = this.lazyMask;
    if (lm) {
      f &= ~lm;
      if (lm & CF) f |= this.getCF();
      if (lm & PF) f |= this.getPF();
      if (lm & AF) f |= this.getAF();
      if (lm & ZF) f |= this.getZF();
      if (lm & SF) f |= this.getSF();
      if (lm & OF) f |= this.getOF();
    }
    return f;
  }

  /** Replace the bits of EFLAGS selected by `mask`. */
  setEflags(value: number, mask: number): void {
    if (this.lazyMask & ~mask) {
      // Keep pending lazy flags that are not being replaced.
      const keep = this.getEflags();
      this.flags = keep;
      this.lazyMask = 0;
    }
    this.lazyMask &= ~mask;
    const old = this.flags;
    this.flags = ((this.flags & ~mask) | (value & mask) | FIXED_ONE) & ~((1 << 3) | (1 << 5) | (1 << 15));
    if ((old ^ this.flags) & (TF | IF)) {
      this.breakLoop = true;
      // IF just set with a request waiting: take it after this instruction.
      if (this.flags & IF && this.interruptController !== null) this.attentionAt = 0;
    }
  }

  /**
   * setEflags(0, clear) when `image` is getEflags() as it is now (exception delivery computed it for
   * the frame): the pending arithmetic flags are taken from it instead of computed a second time.
   * `clear` holds no arithmetic flag and cannot set IF.
   */
  clearEflagsOf(image: number, clear: number): void {
    const old = this.flags;
    this.lazyMask = 0;
    this.flags = image & ~clear;
    if ((old ^ this.flags) & (TF | IF)) this.breakLoop = true;
  }

  /** Condition codes (SDM Vol. 1 Appendix B): cc is the low nibble of Jcc/SETcc/CMOVcc. */
  cond(cc: number): boolean {
    // Fast path: every status flag pending from a SUB/CMP or a logic op, the usual case before Jcc.
    if (this.lazyMask === ARITH && (this.lfKind === Lazy.Sub || this.lfKind === Lazy.Logic)) {
      const size = this.lfSize;
      const sub = this.lfKind === Lazy.Sub;
      const sh = 32 - size * 8;
      let r: boolean;
      switch (cc >> 1) {
        case 2: r = (this.lfRes << sh) === 0; break;
        case 1: r = sub && (this.lfDst << sh) >>> 0 < (this.lfSrc << sh) >>> 0; break;
        case 3: r = (this.lfRes << sh) === 0 || (sub && (this.lfDst << sh) >>> 0 < (this.lfSrc << sh) >>> 0); break;
        case 6: r = sub ? this.lfDst << sh < this.lfSrc << sh : this.lfRes << sh < 0; break;
        case 7: r = sub ? this.lfDst << sh <= this.lfSrc << sh : this.lfRes << sh <= 0; break;
        case 4: r = this.lfRes << sh < 0; break;
        default: return this.condSlow(cc);
      }
      return cc & 1 ? !r : r;
    }
    return this.condSlow(cc);
  }
  private condSlow(cc: number): boolean {
    let r: boolean;
    switch (cc >> 1) {
      case 0: r = this.getOF() !== 0; break;
      case 1: r = this.getCF() !== 0; break;
      case 2: r = this.getZF() !== 0; break;
      case 3: r = (this.getCF() | this.getZF()) !== 0; break;
      case 4: r = this.getSF() !== 0; break;
      case 5: r = this.getPF() !== 0; break;
      case 6: r = (this.getSF() !== 0) !== (this.getOF() !== 0); break;
      default: r = this.getZF() !== 0 || (this.getSF() !== 0) !== (this.getOF() !== 0); break;
    }
    return cc & 1 ? !r : r;
  }

  get df(): boolean {
    return (this.flags & DF) !== 0;
  }

  // =========================================================================
  // Registers
  // =========================================================================

  getReg8(r: number): number {
    return r < 4 ? this.regs[r] & 0xff : (this.regs[r - 4] >> 8) & 0xff;
  }
  setReg8(r: number, v: number): void {
    if (r < 4) this.regs[r] = (this.regs[r] & ~0xff) | (v & 0xff);
    else this.regs[r - 4] = (this.regs[r - 4] & ~0xff00) | ((v & 0xff) << 8);
  }
  getReg(size: number, r: number): number {
    if (size === 4) return this.regs[r];
    if (size === 2) return this.regs[r] & 0xffff;
    return this.getReg8(r);
  }
  setReg(size: number, r: number, v: number): void {
    if (size === 4) this.regs[r] = v;
    else if (size === 2) this.regs[r] = (this.regs[r] & ~0xffff) | (v & 0xffff);
    else this.setReg8(r, v);
  }

  // =========================================================================
  // Memory: linear addresses through segmentation and the software TLB
  // =========================================================================

  /** Effective address of a ModRM memory operand (offset within its segment). */
  ea(ins: Instr): number {
    let a = ins.disp;
    if (ins.base >= 0) a += this.regs[ins.base];
    if (ins.index >= 0) a += this.regs[ins.index] << ins.scale;
    return ins.asize === 4 ? a | 0 : a & 0xffff;
  }
  /** Linear address of a ModRM memory operand. */
  lin(ins: Instr): number {
    const off = this.ea(ins);
    // FS and GS are often null (user programs): their accesses are always checked; the rest only when not flat.
    if (this.segChecks || ins.seg >= 4) this.checkSegment(ins.seg, off, memSizeOf(ins) || ins.size, writesMemoryOperand(ins));
    return (this.segBase[ins.seg] + off) | 0;
  }
  /** seg:offset → linear for implicit operands (string instructions, XLAT), with the segment checks. */
  segLin(seg: number, off: number, size: number, write: boolean): number {
    if (this.segChecks || seg >= 4) this.checkSegment(seg, off, size, write);
    return (this.segBase[seg] + off) | 0;
  }

  /**
   * Protection checks on a segment access (SDM Vol. 3 §5.3–5.4): a null
   * selector, a write to a read-only or code segment, a read of an
   * execute-only code segment, or an offset range outside the limit
   * (expand-down aware) is #GP(0) — #SS(0) through SS.
   */
  checkSegment(seg: number, off: number, size: number, write: boolean): void {
    const a = this.segAttr[seg];
    const vec = seg === SS ? Vec.SS : Vec.GP;
    if (a === 0) this.fault(Vec.GP, 0);
    if (write ? (a & 0xa) !== 0x2 : (a & 0xa) === 0x8) this.fault(vec, 0);
    if (!inSegmentCache(this, seg, off, size)) this.fault(vec, 0);
  }

  /**
   * Recompute whether segment checks are needed: CS, DS, ES or SS is not
   * flat (base 0, limit 4 GiB, writable expand-up data or readable code)
   * or DS/ES/SS is null. With those flat the checks could never fail, so
   * the fast paths skip them; otherwise the CPU runs instruction by
   * instruction through the checked paths. FS and GS do not count: every
   * access through them is checked (lin, segLin), and compiled code and
   * the bulk string copy leave them to the executors — so a thread
   * pointer in GS (every static glibc program's TLS, set_thread_area)
   * leaves the rest of the program on the fast path.
   */
  segmentsChanged(): void {
    let checks = false;
    for (let s = 0; s < 4; s++) {
      const a = this.segAttr[s];
      if (a === 0) checks = true;
      else if (this.segBase[s] !== 0 || this.segLimit[s] !== -1) checks = true;
      else if (s === CS ? (a & 0x1a) !== 0x1a : (a & 0x1e) !== 0x12) checks = true;
    }
    if (checks !== this.segChecks) {
      this.segChecks = checks;
      this.breakLoop = true;
      this.codeEpoch++;
    }
  }

  read8(lin: number): number {
    const e = this.tlbR[lin >>> 12];
    if (e !== 0) return this.mem8[(e & ~0xfff) | (lin & 0xfff)];
    const v = this.mem.read8(this.translate(lin, false));
    if (this.dataBpActive) this.checkDataBreakpoints(lin, 1, false);
    return v;
  }
  read16(lin: number): number {
    const e = this.tlbR[lin >>> 12];
    if (e !== 0 && (lin & 0xfff) !== 0xfff) {
      const p = (e & ~0xfff) | (lin & 0xfff);
      return this.mem8[p] | (this.mem8[p + 1] << 8);
    }
    return this.read16Slow(lin);
  }
  read32(lin: number): number {
    const e = this.tlbR[lin >>> 12];
    if (e !== 0 && (lin & 0xfff) <= 0xffc) {
      const p = (e & ~0xfff) | (lin & 0xfff);
      return (p & 3) === 0 ? this.mem32[p >> 2] : this.mem8[p] | (this.mem8[p + 1] << 8) | (this.mem8[p + 2] << 16) | (this.mem8[p + 3] << 24);
    }
    return this.read32Slow(lin);
  }
  write8(lin: number, v: number): void {
    const e = this.tlbW[lin >>> 12];
    if (e !== 0) this.mem8[(e & ~0xfff) | (lin & 0xfff)] = v;
    else {
      this.mem.write8(this.translate(lin, true), v);
      if (this.dataBpActive) this.checkDataBreakpoints(lin, 1, true);
    }
  }
  write16(lin: number, v: number): void {
    const e = this.tlbW[lin >>> 12];
    if (e !== 0 && (lin & 0xfff) !== 0xfff) {
      const p = (e & ~0xfff) | (lin & 0xfff);
      this.mem8[p] = v;
      this.mem8[p + 1] = v >> 8;
      return;
    }
    this.write16Slow(lin, v);
  }
  write32(lin: number, v: number): void {
    const e = this.tlbW[lin >>> 12];
    if (e !== 0 && (lin & 0xfff) <= 0xffc) {
      const p = (e & ~0xfff) | (lin & 0xfff);
      if ((p & 3) === 0) this.mem32[p >> 2] = v;
      else {
        this.mem8[p] = v;
        this.mem8[p + 1] = v >> 8;
        this.mem8[p + 2] = v >> 16;
        this.mem8[p + 3] = v >> 24;
      }
      return;
    }
    this.write32Slow(lin, v);
  }

  read(size: number, lin: number): number {
    return size === 4 ? this.read32(lin) : size === 2 ? this.read16(lin) : this.read8(lin);
  }
  write(size: number, lin: number, v: number): void {
    if (size === 4) this.write32(lin, v);
    else if (size === 2) this.write16(lin, v);
    else this.write8(lin, v);
  }

  private read16Slow(lin: number): number {
    if (this.dataBpActive) this.checkDataBreakpoints(lin, 2, false);
    const p0 = this.translate(lin, false);
    if ((lin & 0xfff) !== 0xfff) return this.mem.read16(p0);
    const p1 = this.translate(lin + 1, false);
    return this.mem.read8(p0) | (this.mem.read8(p1) << 8);
  }
  private read32Slow(lin: number): number {
    if (this.dataBpActive) this.checkDataBreakpoints(lin, 4, false);
    const p0 = this.translate(lin, false);
    if ((lin & 0xfff) <= 0xffc) return this.mem.read32(p0);
    const p1 = this.translate((lin | 0xfff) + 1, false);
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const a = ((lin + i) & 0xfff) >= (lin & 0xfff) ? p0 + i : p1 + (((lin + i) & 0xfff));
      v |= this.mem.read8(a) << (8 * i);
    }
    return v;
  }
  private write16Slow(lin: number, v: number): void {
    if (this.dataBpActive) this.checkDataBreakpoints(lin, 2, true);
    const p0 = this.translate(lin, true);
    if ((lin & 0xfff) !== 0xfff) return this.mem.write16(p0, v);
    const p1 = this.translate(lin + 1, true);
    this.mem.write8(p0, v);
    this.mem.write8(p1, v >> 8);
  }
  private write32Slow(lin: number, v: number): void {
    if (this.dataBpActive) this.checkDataBreakpoints(lin, 4, true);
    const p0 = this.translate(lin, true);
    if ((lin & 0xfff) <= 0xffc) return this.mem.write32(p0, v);
    // Both pages are checked before either is written (no partial store on #PF).
    const p1 = this.translate((lin | 0xfff) + 1, true);
    for (let i = 0; i < 4; i++) {
      const a = ((lin + i) & 0xfff) >= (lin & 0xfff) ? p0 + i : p1 + ((lin + i) & 0xfff);
      this.mem.write8(a, v >> (8 * i));
    }
  }

  /**
   * Check that a read-modify-write destination is writable before it is
   * read, so the #PF error code says "write" as on hardware.
   */
  probeWrite(lin: number, size: number): void {
    const e = this.tlbW[lin >>> 12];
    if (e !== 0 && (lin & 0xfff) <= 0x1000 - size) return;
    this.translate(lin, true);
    if ((lin & 0xfff) > 0x1000 - size) this.translate((lin | 0xfff) + 1, true);
  }

  /**
   * Linear → physical, filling the TLB. With paging off the mapping is the
   * identity; with it on, the page walk is paging.ts's.
   */
  translate(lin: number, write: boolean): number {
    let phys: number;
    if (!(this.cr0 & 0x80000000)) {
      phys = lin >>> 0;
      this.tlbWritable = true;
      this.lastGlobal = false;
    } else {
      phys = this.walk(lin, write);
    }
    return this.fillTlb(lin, write, phys);
  }

  /**
   * The TLB entry for `lin` from the page walk that just succeeded with `phys` (walkTry, or translate's
   * own walk: its tlbWritable and lastGlobal are this walk's); returns `phys`.
   */
  fillTlb(lin: number, write: boolean, phys: number): number {
    lin |= 0;
    const vpage = lin >>> 12;
    // Pages holding a data breakpoint stay out of the TLB so every access reaches checkDataBreakpoints.
    if (this.dataBpActive && this.watchedPages!.has(vpage)) return phys;
    const ppage = Math.floor(phys / PAGE);
    if (ppage < this.codePage.length) {
      if (write && this.codePage[ppage]) this.invalidateCode(ppage);
      const entry = (ppage * PAGE) | 1;
      // The processor's own accesses (descriptor tables, TSS) are supervisor accesses at any CPL: their
      // translations go to the supervisor TLB, flushed with it (MOV CR3, INVLPG, CR0/CR4 paging bits).
      const tlbR = this.systemAccess ? this.tlbRSup : this.tlbR;
      if (write) {
        // The fast path stores through this entry without the memory unit seeing it: log the frame now.
        this.mem.markDirty(ppage);
        if (this.tlbWritable && !this.codePage[ppage]) (this.systemAccess ? this.tlbWSup : this.tlbW)[vpage] = entry;
      }
      tlbR[vpage] = entry;
      this.trackTlb(vpage);
      if (this.lastGlobal) this.tlbGlobal[vpage] = 1;
    }
    return phys;
  }
  /** Set false by the page walk when a write must keep taking the slow path. @internal */
  tlbWritable = true;

  /**
   * 32-bit paging walk (SDM Vol. 3 §4.3): PDE then PTE, or a 4 MiB page
   * when CR4.PSE and PDE.PS are set. Checks P, R/W (with CR0.WP for
   * supervisor writes) and U/S at CPL 3, sets the accessed and dirty bits,
   * and raises #PF with CR2 and the error code on failure.
   */
  walk(lin: number, write: boolean): number {
    const r = this.walkTry(lin, write);
    if (r < 0) this.pageFault(lin, ~r);
    return r;
  }

  /** The page walk's verdict without raising: the physical address, or ~error code (paging.ts pageWalk). */
  walkTry(lin: number, write: boolean): number {
    return pageWalk(this, lin, write);
  }
  /** Set while the CPU itself reads descriptor tables or the TSS: those are supervisor accesses at any CPL. @internal */
  systemAccess = false;
  /** The page walk's translation came from a global (G = 1) entry. @internal */
  lastGlobal = false;

  pageFault(lin: number, errorCode: number): never {
    this.cr2 = lin | 0;
    return this.fault(Vec.PF, errorCode);
  }

  private trackTlb(vpage: number): void {
    if (this.tlbUsedCount < TLB_TRACK) this.tlbUsed[this.tlbUsedCount] = vpage;
    this.tlbUsedCount++;
  }

  /**
   * Drop cached translations: all of them (CR0/CR4 paging changes), or all
   * but global ones (MOV CR3 with CR4.PGE, SDM Vol. 3 §4.10.4.1).
   */
  flushTlb(keepGlobal = false): void {
    const n = this.tlbUsedCount;
    const kept: number[] = [];
    const drop = (v: number): void => {
      if (keepGlobal && this.tlbGlobal[v]) {
        kept.push(v);
        return;
      }
      this.tlbRSup[v] = 0; this.tlbWSup[v] = 0; this.tlbRUsr[v] = 0; this.tlbWUsr[v] = 0;
      this.tlbGlobal[v] = 0;
    };
    if (n > TLB_TRACK) {
      for (let v = 0; v < TLB_ENTRIES; v++) if (this.tlbRSup[v] | this.tlbWSup[v] | this.tlbRUsr[v] | this.tlbWUsr[v]) drop(v);
    } else {
      for (let i = 0; i < n; i++) drop(this.tlbUsed[i]);
    }
    this.tlbUsedCount = 0;
    for (const v of kept) this.trackTlb(v);
    this.breakLoop = true;
    this.codeEpoch++;
  }
  /**
   * INVLPG. The run loop's block links (keyed by linear EIP) are dropped only
   * when the page's cached translation led to a page with decoded code: a
   * linked block was found through its page's TLB entry (getBlock), which
   * stays until a flush or an INVLPG of that page, so a page whose entries
   * are empty or lead to data holds no linked block. Page-hiding clients
   * INVLPG data pages twice per tracked access; the links survive that.
   */
  invalidatePage(lin: number): void {
    const v = lin >>> 12;
    const sup = this.tlbRSup[v], usr = this.tlbRUsr[v];
    const code = (sup !== 0 && this.codePage[sup >>> 12] === 1) || (usr !== 0 && this.codePage[usr >>> 12] === 1);
    this.tlbRSup[v] = 0; this.tlbWSup[v] = 0; this.tlbRUsr[v] = 0; this.tlbWUsr[v] = 0;
    this.tlbGlobal[v] = 0;
    this.breakLoop = true;
    if (code) this.codeEpoch++;
  }

  /**
   * Supervisor-privilege accesses the processor makes itself (GDT, LDT, IDT,
   * TSS), at any CPL (SDM Vol. 3 §4.6.1 "implicit supervisor-mode accesses"):
   * one translation per dword (two when it straddles a page), through the
   * supervisor TLB like any supervisor access, so gate and descriptor reads
   * cost a lookup once their pages are cached. No data breakpoint fires on
   * them.
   */
  readSystem32(lin: number): number {
    if ((lin & 0xfff) <= 0xffc) return this.mem.read32(this.translateSystem(lin, false));
    // Straddling a page boundary: both pages are translated (the first first) before anything is read.
    const p0 = this.translateSystem(lin, false);
    const p1 = this.translateSystem((lin | 0xfff) + 1, false);
    let v = 0;
    for (let i = 0; i < 4; i++) v |= this.mem.read8(((lin + i) & 0xfff) >= (lin & 0xfff) ? p0 + i : p1 + ((lin + i) & 0xfff)) << (8 * i);
    return v;
  }
  writeSystem32(lin: number, v: number): void {
    if ((lin & 0xfff) <= 0xffc) {
      this.mem.write32(this.translateSystem(lin, true), v);
      return;
    }
    // Both pages are checked before either is written (no partial store on #PF).
    const p0 = this.translateSystem(lin, true);
    const p1 = this.translateSystem((lin | 0xfff) + 1, true);
    for (let i = 0; i < 4; i++) this.mem.write8(((lin + i) & 0xfff) >= (lin & 0xfff) ? p0 + i : p1 + ((lin + i) & 0xfff), v >> (8 * i));
  }
  /**
   * Linear → physical for a system access: a supervisor-TLB hit, else the
   * page walk at supervisor privilege, filling the supervisor TLB (a page
   * with decoded code is never in the write TLB: translate() drops its code
   * first, so a descriptor write over code invalidates it).
   */
  private translateSystem(lin: number, write: boolean): number {
    const e = (write ? this.tlbWSup : this.tlbRSup)[lin >>> 12];
    if (e !== 0) return (e & ~0xfff) | (lin & 0xfff);
    this.systemAccess = true;
    try {
      return this.translate(lin, write);
    } finally {
      this.systemAccess = false;
    }
  }

  /** The supervisor TLB's entry for the page of `lin` (physical page base | 1), 0 when none: no walk, no side effect. */
  supervisorTlbEntry(lin: number): number {
    return this.tlbRSup[lin >>> 12];
  }
  /**
   * Let a store to physical page `ppage` bump the code epoch, as a store to decoded code does: the
   * page joins the code pages (kept out of the write TLB, so every store reaches translate() or
   * writePhys and invalidates) until the next such store. For the descriptor-table pages whose
   * entries checked-descriptors.ts knows without reading them.
   */
  watchWrites(ppage: number): void {
    if (ppage >= this.codePage.length || this.codePage[ppage]) return;
    this.codePage[ppage] = 1;
    this.codeCached = true;
    this.flushWriteTlb();
  }

  /** MOV CRn, reg (SDM Vol. 3 §2.5). Paging-mode changes flush the TLB; CR3 keeps global entries. */
  writeControlRegister(n: number, v: number): void {
    if (n === 0) {
      if ((v & 0x80000000) && !(v & 1)) this.fault(Vec.GP, 0);
      const changed = this.cr0 ^ v;
      this.cr0 = v | 0x10;
      if (changed & (0x80010001 | 0)) this.flushTlb();
    } else if (n === 2) {
      this.cr2 = v;
    } else if (n === 3) {
      this.cr3 = v;
      this.flushTlb((this.cr4 & 0x80) !== 0);
    } else if (n === 4) {
      if (v & ~0x1ff) this.fault(Vec.GP, 0);
      const changed = this.cr4 ^ v;
      this.cr4 = v;
      if (changed & 0xb0) this.flushTlb();
    } else {
      this.fault(Vec.UD);
    }
    this.breakLoop = true;
  }

  /**
   * MOV DRn, reg (SDM Vol. 3 §17.2). DR7 enables DR0–DR3 as instruction
   * breakpoints (R/W = 00, faults before the instruction) or data
   * breakpoints (R/W = 01 write, 11 read/write; LEN 1, 2 or 4 bytes; traps
   * after the access). While any is enabled the CPU runs instruction by
   * instruction (stepSlow), and pages with a data breakpoint are kept out of
   * the TLB so that their accesses take the checked slow path.
   */
  writeDebugRegister(n: number, v: number): void {
    this.dr[n] = n === 6 ? (v & DR6_WRITABLE) | DR6_FIXED : n === 7 ? (v & DR7_WRITABLE) | DR7_FIXED : v;
    const { exec, watched } = enabledBreakpoints(this.dr);
    this.debugActive = exec || watched.size > 0;
    this.dataBpActive = watched.size > 0;
    this.watchedPages = watched;
    this.flushTlb();
    this.breakLoop = true;
  }

  /** A slow-path access overlapping an enabled data breakpoint: remember it for the #DB after the instruction. */
  private checkDataBreakpoints(lin: number, size: number, write: boolean): void {
    if (!this.systemAccess) this.dataBpHits |= dataBreakpointHits(this.dr, lin, size, write);
  }

  /** An enabled instruction breakpoint at this EIP (RF clear): its DR6 B-bit mask, else 0. */
  private instructionBreakpoint(eip: number): number {
    return this.flags & RF_BIT ? 0 : instructionBreakpointHits(this.dr, eip);
  }

  /**
   * I/O permission (SDM Vol. 1 §19.5): allowed when CPL <= IOPL, else every
   * bit for the accessed ports in the TSS I/O bitmap must be clear.
   */
  ioAllowed(port: number, size: number): boolean {
    if (this.cpl <= ((this.flags & 0x3000) >> 12)) return true;
    if (this.trLimit < 0x67) this.fault(Vec.GP, 0);
    const base = this.readSystem32((this.trBase + 0x64) | 0) >>> 16;
    const byte = base + (port >> 3);
    if (byte + 1 > this.trLimit) this.fault(Vec.GP, 0);
    const w = this.readSystem32((this.trBase + byte) | 0) & 0xffff;
    const mask = ((1 << size) - 1) << (port & 7);
    if (w & mask) this.fault(Vec.GP, 0);
    return true;
  }

  /** INT n / INT3 / INTO: a trap delivered with the gate-DPL check; EIP already points past it. */
  softwareInterrupt(vector: number): void {
    this.stepTrapSuppressed = true;
    this.deliver(vector, -1, true);
  }
  /** INT1: delivered like a hardware event (no gate-DPL check). */
  hardwareTrap(vector: number): void {
    this.stepTrapSuppressed = true;
    this.deliver(vector, -1, false);
  }
  /** MOV SS, POP SS: hold off interrupts and single-step traps for one instruction. */
  inhibitInterrupts(): void {
    this.shadow = true;
    this.breakLoop = true;
  }
  /** STI: hold off maskable interrupts until after the next instruction. */
  inhibitInterruptsAfterSti(): void {
    this.stiShadow = true;
    this.requestAttention();
  }
  /**
   * HLT. With IF=1 and a device that can raise an interrupt the processor
   * waits (time skips to the next timer event); with IF=0, or nothing that
   * could ever wake it, the machine stops with 'halted'.
   */
  halt(): void {
    const canWake = (this.flags & IF) !== 0 && this.interruptController !== null && (this.interruptController.intr() || this.timedDevices.some((d) => d.nextEventAt !== Infinity));
    if (!canWake) {
      this.stop({ kind: 'halted' });
      return;
    }
    this.halted = true;
    this.requestAttention();
  }
  /** A device changed state (IRQ raised, timer reprogrammed): look at it before the next block. */
  requestAttention(): void {
    this.attentionAt = 0;
    this.breakLoop = true;
  }
  addTimedDevice(d: TimedDevice): void {
    this.timedDevices.push(d);
    this.requestAttention();
  }

  /** Select the TLB for the current privilege (CPL 3 is "user" for the U/S checks). */
  setCpl(cpl: number): void {
    if (cpl !== this.cpl) this.codeEpoch++;
    this.cpl = cpl;
    const user = cpl === 3;
    this.tlbR = user ? this.tlbRUsr : this.tlbRSup;
    this.tlbW = user ? this.tlbWUsr : this.tlbWSup;
    if (this.wasm !== null) this.tlbOffset = this.wasm.state + (user ? WS.TLB_R_USR : WS.TLB_R_SUP);
  }

  // =========================================================================
  // Host-side access to guest memory (loaders, kernel routines, tests)
  // =========================================================================

  /** Translate without side effects as a given privilege would (paging.ts lookupPhys); -1 when it would fault. */
  lookupPhys(lin: number, write: boolean, user: boolean): number {
    return lookupPhys(this, lin, write, user);
  }


  /**
   * The physical address of `lin` from the TLB of the current privilege, or -1 when it holds no
   * translation for the page: what the processor's next access there would use, no page walk and no
   * side effect. The host-side kernel reads the frame an exception just pushed through it.
   */
  cachedPhys(lin: number): number {
    const e = this.tlbR[lin >>> 12];
    return e === 0 ? -1 : (e & ~0xfff) | (lin & 0xfff);
  }

  /** Physical bytes, bypassing translation: only loaders and the memory unit use this. */
  writePhys(addr: number, data: Uint8Array): void {
    if (addr < 0 || addr + data.length > this.mem.size) throw new RangeError(`physical range 0x${addr.toString(16)}+${data.length} is outside memory`);
    this.mem8.set(data, addr);
    for (let p = Math.floor(addr / PAGE); p <= Math.floor((addr + data.length - 1) / PAGE); p++) {
      this.mem.markDirty(p);
      if (this.codePage[p]) this.invalidateCode(p);
    }
  }

  /** One physical dword (a host-side store into a frame or page table: no allocation). */
  writePhys32(addr: number, v: number): void {
    if (addr < 0 || addr + 4 > this.mem.size) throw new RangeError(`physical range 0x${addr.toString(16)}+4 is outside memory`);
    this.mem.write32(addr, v);
    // In range (checked above), so below 1 GiB: the shifts are the page numbers.
    const p = addr >>> 12;
    if (this.codePage[p]) this.invalidateCode(p);
    const q = (addr + 3) >>> 12;
    if (q !== p && this.codePage[q]) this.invalidateCode(q);
  }

  // =========================================================================
  // Stack
  // =========================================================================

  /** SS.B selects ESP (32-bit) or SP (16-bit); flat kernels always use ESP. */
  push32(v: number): void {
    const sp = (this.regs[ESP] - 4) | 0;
    if (this.segChecks) this.checkSegment(SS, sp, 4, true);
    this.write32((this.segBase[SS] + sp) | 0, v);
    this.regs[ESP] = sp;
  }
  push16(v: number): void {
    const sp = (this.regs[ESP] - 2) | 0;
    if (this.segChecks) this.checkSegment(SS, sp, 2, true);
    this.write16((this.segBase[SS] + sp) | 0, v);
    this.regs[ESP] = sp;
  }
  push(size: number, v: number): void {
    if (size === 2) this.push16(v);
    else this.push32(v);
  }
  pop32(): number {
    if (this.segChecks) this.checkSegment(SS, this.regs[ESP], 4, false);
    const v = this.read32((this.segBase[SS] + this.regs[ESP]) | 0);
    this.regs[ESP] = (this.regs[ESP] + 4) | 0;
    return v;
  }
  pop16(): number {
    if (this.segChecks) this.checkSegment(SS, this.regs[ESP], 2, false);
    const v = this.read16((this.segBase[SS] + this.regs[ESP]) | 0);
    this.regs[ESP] = (this.regs[ESP] + 2) | 0;
    return v;
  }
  pop(size: number): number {
    return size === 2 ? this.pop16() : this.pop32();
  }

  // =========================================================================
  // Operands
  // =========================================================================

  readE(ins: Instr): number {
    if (ins.mod === 3) return this.getReg(ins.size, ins.rm);
    return this.read(ins.size, this.lin(ins));
  }
  writeE(ins: Instr, v: number): void {
    if (ins.mod === 3) this.setReg(ins.size, ins.rm, v);
    else this.write(ins.size, this.lin(ins), v);
  }

  // =========================================================================
  // Exceptions
  // =========================================================================

  /** Raise a fault from inside an instruction: unwinds to the run loop. */
  fault(vector: number, errorCode?: number): never {
    this.excVector = vector;
    this.excHasError = errorCode !== undefined;
    this.excError = errorCode ?? 0;
    throw FAULT;
  }

  /** Stop the machine (exit, halt, fatal fault). */
  stop(reason: StopReason): void {
    if (!this.stopReason) this.stopReason = reason;
    this.breakLoop = true;
  }

  // =========================================================================
  // Natives and ports
  // =========================================================================

  /** Bind a host routine to a guest linear address (kernel routines, handlers). */
  bindNative(addr: number, fn: NativeRoutine): void {
    this.natives.set(addr | 0, fn);
    this.flushCode();
  }
  nativeAt(addr: number): NativeRoutine | undefined {
    return this.natives.get(addr | 0);
  }
  registerPort(port: number, h: PortHandler): void {
    this.ports.set(port, h);
  }
  portIn(port: number, size: number): number {
    const h = this.ports.get(port);
    if (h?.read) return h.read(port, size);
    return size === 4 ? -1 : size === 2 ? 0xffff : 0xff;
  }
  portOut(port: number, v: number, size: number): void {
    this.ports.get(port)?.write?.(port, v, size);
  }

  // =========================================================================
  // Code cache
  // =========================================================================

  /** A write hit a page with decoded code: drop it (and the page before, whose last block may straddle). */
  invalidateCode(ppage: number): void {
    for (const p of [ppage, ppage - 1]) {
      if (p >= 0 && this.codePage[p]) {
        this.blocks[p] = undefined;
        this.codePage[p] = 0;
      }
    }
    this.breakLoop = true;
    this.codeEpoch++;
  }
  flushCode(): void {
    this.breakLoop = true;
    this.codeEpoch++;
    if (!this.codeCached) return; // nothing decoded yet (kernel boot binding its natives)
    this.codeCached = false;
    this.blocks.fill(undefined);
    this.codePage.fill(0);
    this.breakLoop = true;
    this.codeEpoch++;
  }

  /** Compile every block from now on with `instrumentation` (null: none), dropping the code compiled before. */
  setJitInstrumentation(instrumentation: JitInstrumentation | null): void {
    if (instrumentation === this.jitInstrumentation) return;
    this.jitInstrumentation = instrumentation;
    this.flushCode();
  }

  /** Count the edge from the previous block entry to the one at `eip` (see `edgeCounts`; compiled self-loops call it too). */
  countEdge(edges: Uint8Array, eip: number): void {
    const cur = Math.imul(eip, 0x9e3779b1) >>> 16;
    const at = (cur ^ this.prevBlockId) & (edges.length - 1);
    edges[at] = edges[at]! + 1;
    this.prevBlockId = cur >>> 1;
  }

  /**
   * The decoded blocks on the page of `eip` (for the block compiler's
   * regions): only blocks already in the code cache, cacheable and not
   * straddling into the next page — looking them up has no effect on the
   * machine. With `minHits`, only blocks run at least that often.
   */
  cachedSuccessors(eip: number, minHits = 0): (target: number) => readonly Instr[] | null {
    const e = this.tlbR[eip >>> 12];
    const page = e === 0 ? undefined : this.blocks[e >>> 12];
    return (target) => {
      if (page === undefined || target >>> 12 !== eip >>> 12) return null;
      const b = page[target & 0xfff];
      return b !== undefined && b.cacheable && !b.straddles && b.hits >= minHits ? b.instrs : null;
    };
  }

  /** Find or decode the block starting at linear address `eip`. @internal */
  getBlock(eip: number): Block {
    let e = this.tlbR[eip >>> 12];
    if (e === 0) {
      try {
        this.translate(eip, false);
      } catch (err) {
        if (err !== FAULT) throw err;
        // The fetch faults: decoding again yields a block that raises the #PF when executed.
        return decodeBlock(this, eip, -1);
      }
      e = this.tlbR[eip >>> 12];
      if (e === 0) return decodeBlock(this, eip, -1); // outside RAM: decodes to a fault
    }
    const ppage = e >>> 12;
    const off = eip & 0xfff;
    let page = this.blocks[ppage];
    if (page !== undefined) {
      const b = page[off];
      if (b !== undefined) return b;
    } else {
      // Sized up front: blocks start at any of the 4096 offsets, and a sparse array would fall back to a dictionary.
      page = this.blocks[ppage] = new Array<Block>(PAGE);
    }
    const b = decodeBlock(this, eip, ppage);
    if (b.cacheable) {
      this.codeCached = true;
      if (!this.codePage[ppage]) {
        this.codePage[ppage] = 1;
        // Writes to this page must now take the slow path to invalidate.
        this.flushWriteTlb();
      }
      if (b.straddles && ppage + 1 < this.codePage.length && !this.codePage[ppage + 1]) {
        this.codePage[ppage + 1] = 1;
        this.blocks[ppage + 1] ??= new Array<Block>(PAGE);
        this.flushWriteTlb();
      }
      page[off] = b;
      if (this.wasm !== null) this.wasm.decoded(b, ppage, off);
    }
    return b;
  }
  /** The block the code cache holds at physical page `ppage`, offset `off` (the WebAssembly tier's batches check theirs are current). */
  cachedBlock(ppage: number, off: number): Block | undefined {
    return this.blocks[ppage]?.[off];
  }
  private flushWriteTlb(): void {
    const n = this.tlbUsedCount;
    if (n > TLB_TRACK) {
      this.tlbWSup.fill(0);
      this.tlbWUsr.fill(0);
    } else {
      for (let i = 0; i < n; i++) {
        const v = this.tlbUsed[i];
        this.tlbWSup[v] = 0;
        this.tlbWUsr[v] = 0;
      }
    }
  }

  // =========================================================================
  // Execution
  // =========================================================================

  /** Execute one instruction (or deliver one pending event). */
  step(): StopReason | null {
    return this.run(1, true);
  }

  /**
   * Run until the machine stops or `budget` more instructions have retired.
   * Returns the stop reason; `{kind:'budget'}` when the budget ran out.
   */
  run(budget: number, single = false): StopReason | null {
    if (this.mem.isReleased) throw new Error('this machine was released (CPU.release): its memory belongs to the next machine');
    const d = this.runDriver;
    return d === null ? this.runDirect(budget, single) : d(budget, single);
  }

  /** run() without the driver: the CPU's own loop. */
  runDirect(budget: number, single = false): StopReason | null {
    let limit = this.icount + budget;
    // An exception delivered before any instruction retired since the previous one (a handler that
    // faults again, a fault storm) consumes one unit of budget, so run() always returns.
    let lastFaultAt = -1;
    this.breakLoop = false;
    let prev: Block | null = null;
    while (this.stopReason === null) {
      if (this.icount >= this.attentionAt) {
        serviceAttention(this, limit);
        prev = null;
        if (this.stopReason !== null) break;
        if (this.halted) {
          if (this.icount >= limit) return single ? null : { kind: 'budget', executed: this.icount };
          continue;
        }
      }
      if (this.icount >= limit) {
        return single ? null : { kind: 'budget', executed: this.icount };
      }
      // RF (set by an IRET from a fault handler) lasts one instruction: the per-instruction path clears it.
      if (this.flags & (TF | RF_BIT) || single || this.shadow || this.stiShadow || this.debugActive || this.segChecks) {
        const before = this.icount;
        this.stepSlow();
        if (this.icount === before) {
          if (lastFaultAt === before) limit--;
          lastFaultAt = before;
        }
        prev = null;
        if (single) break;
        if (this.delivered) {
          limit = this.nativeChain.run(limit, lastFaultAt);
          lastFaultAt = this.nativeChain.lastFaultAt;
        }
        continue;
      }
      // The fast path: block after block until something needs the loop above (a stop, TF, a mode
      // change, a code write: all set breakLoop), the budget ends or a device wants attention.
      const stopAt = limit < this.attentionAt ? limit : this.attentionAt;
      this.repChunk = this.repLimit;
      let block: Block | null = null;
      let compiled: CompiledBlock | null = null;
      let ins: Instr | null = null;
      let i = 0;
      try {
        for (;;) {
          compiled = null;
          const eip = this.eip;
          // linkEip is -1 when empty, and -1 is also a real EIP (0xFFFFFFFF): that one never links.
          if (prev !== null && prev.epoch === this.codeEpoch && prev.linkEip1 === eip && eip !== -1) block = prev.link1!;
          else if (prev !== null && prev.epoch === this.codeEpoch && prev.linkEip2 === eip && eip !== -1) block = prev.link2!;
          else {
            block = this.getBlock(eip);
            if (prev === null) block.unlinked++;
            if (prev !== null && block.cacheable && eip !== -1) {
              if (prev.epoch !== this.codeEpoch) {
                prev.epoch = this.codeEpoch;
                prev.linkEip1 = prev.linkEip2 = -1;
              }
              if (prev.linkEip1 === -1) {
                prev.linkEip1 = eip;
                prev.link1 = block;
              } else {
                prev.linkEip2 = eip;
                prev.link2 = block;
              }
            }
          }
          const edges = this.edgeCounts;
          if (edges !== null) this.countEdge(edges, eip);
          const instrs = block.instrs;
          let n = instrs.length;
          const left = limit - this.icount;
          if (n > left) n = left;
          // A REP instruction near the end of the budget runs no more iterations than the budget has left;
          // set per block, so a chunk a run client lowered for one instruction (src/cpu/run-driver.ts) ends with its block.
          this.repChunk = left < this.repLimit ? left : this.repLimit;
          i = 0;
          ins = null;
          // While coverage is on, the variant that counts self-loop edges (a compile-time choice: off costs nothing).
          compiled = edges === null ? block.compiled : block.compiledCov;
          if (compiled === null && block.cacheable && ++block.hits > this.jitThreshold) {
            compiled = compileBlock(instrs, { owner: this, edges: edges !== null, instrumentation: this.jitInstrumentation, successor: this.jitRegions ? this.cachedSuccessors(eip) : undefined, wasm: this.jitTier === 'wasm' && !block.prefersJs ? this.wasm : null });
            if (compiled === null) block.hits = -Infinity; // not compilable (a native routine): stay interpreted
            else if (edges === null) block.compiled = compiled;
            else block.compiledCov = compiled;
          }
          if (compiled !== null && n === instrs.length) {
            const pageFaults = this.preflightFaults;
            // Both as small integers: with a budget of 10^10 or no device event pending (attentionAt is
            // Infinity) they are beyond V8's small-integer range, and each call boxed them in new heap numbers.
            const room = stopAt - this.icount;
            i = compiled(this, room < MAX_ROOM ? room : MAX_ROOM, left < MAX_ROOM ? left : MAX_ROOM);
            // A block whose accesses keep faulting on hidden pages (kmemcheck's, the CPL-1 stack's) is
            // interpreted from the faulting instruction on (jitFaulted).
            if (this.preflightFaults !== pageFaults) this.jitFaulted(block, this.faultingInstr);
          } else {
            compiled = null;
            // The retired count is kept in a local inside the block and written back at its end; an
            // instruction that reads icount (RDTSC) always starts a block, so it sees the exact value.
            const inst = this.jitInstrumentation;
            const hooked = inst !== null && inst.interpreted !== undefined;
            while (i < n) {
              ins = instrs[i++];
              if (hooked) inst!.interpreted!(this, ins);
              this.eip = ins.next;
              ins.exec(this, ins);
              if (this.eip !== ins.cont || this.breakLoop) break;
            }
          }
          this.icount += i;
          if (this.breakLoop || !block.cacheable) {
            prev = null;
            break;
          }
          prev = block;
          if (this.icount >= stopAt) break;
        }
      } catch (e) {
        // Compiled code records where before anything that can throw (jit.ts: the access's slow path, an executor call).
        if (compiled !== null) {
          i = this.jitDone + this.jitIndex + 1;
          ins = (this.jitInstrs ?? block!.instrs)[this.jitIndex] ?? null;
          // A block that keeps faulting (its data sits on pages kmemcheck hides, a watched buffer) is
          // cheaper interpreted from the faulting instruction on (jitFaulted): every throw unwinds through
          // the compiled function and makes V8 deoptimize it — and compiled functions are shared between blocks of the same code.
          this.jitFaulted(block!, ins);
        }
        this.icount += i - 1;
        this.handleThrow(e, ins ?? block!.instrs[0]);
        if (lastFaultAt === this.icount) limit--;
        lastFaultAt = this.icount;
        prev = null;
      }
      this.breakLoop = false;
      if (this.delivered && !single) {
        limit = this.nativeChain.run(limit, lastFaultAt);
        lastFaultAt = this.nativeChain.lastFaultAt;
      }
    }
    return this.stopReason;
  }

  /**
   * A fault left the compiled code the run loop entered at `block` (`ins`, the instruction it was
   * delivered for; null: not known). It counts against the block whose instructions faulted — the
   * code records them (cpu.jitInstrs/jitIndex) — which is `block`'s or, on the WebAssembly tier, a
   * block its chain went on to. Past JIT_FAULT_LIMIT that block is interpreted for good: each fault
   * leaves compiled code, which costs more than interpreting a few instructions. When the faulting
   * instruction is not its first, the block is also cut short before it (splitBlock): the
   * instructions before a kmemcheck-tracked access — often a loop's path that leaves before reaching
   * it — stay compiled, and the faulting one starts its own block (after its single step the CPU
   * resumes past it, at another block anyway). What the guest sees does not depend on where blocks end.
   */
  private jitFaulted(block: Block, ins: Instr | null): void {
    const instrs = this.jitInstrs ?? block.instrs;
    const k = this.jitIndex;
    let at = block;
    if (ins === null || instrs[k] !== ins) ins = null; // not where the code said: counted against the entry, as a whole
    else if (instrs !== block.instrs) {
      // A block the chain went on to, unless it was interpreted already (a region holds its code too).
      const other = this.cachedBlockAt(instrs[0]!.addr);
      if (other !== undefined && other.instrs === instrs && other.hits !== -Infinity) at = other;
      else ins = null;
    }
    if (++at.jitFaults <= JIT_FAULT_LIMIT) return;
    at.compiled = null;
    at.compiledCov = null;
    at.hits = -Infinity;
    // Chains of the WebAssembly tier (and the run loop's links) lead to it compiled no more.
    this.codeEpoch++;
    if (ins !== null && k > 0) this.splitBlock(at, k);
  }

  /** The code cache's block at linear `eip` under the current mapping, if it holds one (no decoding, no walk). */
  private cachedBlockAt(eip: number): Block | undefined {
    const e = this.tlbR[eip >>> 12];
    return e === 0 ? undefined : this.blocks[e >>> 12]?.[eip & 0xfff];
  }

  /**
   * Put a block of `block`'s first `k` instructions in its place in the code cache, ready to compile
   * (its instructions were run hot as part of `block`; jitFaulted has moved the code epoch on, so no
   * link or chain leads to `block` any more).
   */
  private splitBlock(block: Block, k: number): void {
    const eip = block.instrs[0]!.addr;
    if (this.cachedBlockAt(eip) !== block) return;
    // The last instruction that can straddle into the next page is the block's last: the head's does not.
    const head = new Block(block.instrs.slice(0, k), true, false);
    head.hits = this.jitThreshold;
    head.split = true;
    this.blocks[this.tlbR[eip >>> 12]! >>> 12]![eip & 0xfff] = head;
    this.blocksSplit++;
  }
  /** Blocks cut short before an instruction that kept faulting (splitBlock; tests and benchmarks read it). */
  blocksSplit = 0;

  /**
   * Give the machine's RAM back for the next machine made in this process
   * (PhysicalMemory.release: zeroed and pooled). Nothing may use this CPU
   * or its memory afterwards (run() refuses); a second call does nothing.
   */
  release(): void {
    this.mem.release();
  }

  /** The state area back to zeroes for the memory's next CPU (PhysicalMemory.claimState): empty TLBs, slots and chaining cache. */
  private clearStateArea(): void {
    this.flushTlb(false);
    const buf = this.mem.wasm!.buffer;
    const base = this.mem.size;
    new Uint8Array(buf, base, WS.TLB_R_SUP).fill(0);
    new Uint8Array(buf, base + WS.CACHE, WS.STATE_BYTES - WS.CACHE).fill(0);
  }

  /** An exception or interrupt was delivered since the run loop last looked (native-delivery.ts). @internal */
  delivered = false;
  /** Native handlers run straight from delivery (native-delivery.ts). */
  readonly nativeChain: NativeDelivery = new NativeDelivery(this);
  /**
   * Run native handlers straight from delivery (native-delivery.ts); off, each is one pass of the run
   * loop. The same architectural result either way.
   */
  get nativeDelivery(): boolean {
    return this.nativeChain.enabled;
  }
  set nativeDelivery(on: boolean) {
    this.nativeChain.enabled = on;
  }
  /** Native routines run from delivery (tests). */
  get nativeDeliveryRuns(): number {
    return this.nativeChain.runs;
  }

  /** One instruction with the full per-instruction checks (TF single-step). @internal */
  stepSlow(): void {
    const tfBefore = (this.flags & TF) !== 0;
    this.shadow = false;
    this.stiShadow = false;
    if (this.debugActive) {
      // Instruction breakpoints are faults: #DB before the instruction runs, unless RF is set (SDM §17.3.1.1).
      const hits = this.instructionBreakpoint(this.eip);
      if (hits) {
        this.dr[6] = (this.dr[6] & ~0xf) | hits | DR6_FIXED;
        this.deliver(Vec.DB, -1, false);
        return;
      }
    }
    // The step after a page fault's handler returned (page hiding's) is the faulted instruction, already decoded.
    const ins = this.segChecks ? this.fetchChecked() : (this.faultedInstrAt(this.eip) ?? this.getBlock(this.eip).instrs[0]);
    if (ins === null) return;
    const edges = this.edgeCounts;
    if (edges !== null) {
      // One instruction at a time, a block entry is an EIP the previous instruction did not fall through to.
      if (this.eip !== this.stepCont) this.countEdge(edges, this.eip);
      this.stepCont = ins.cont;
    }
    // While single-stepping (or watching data), a REP string instruction runs one iteration per step (SDM Vol. 3 §17.3.1.4).
    this.repChunk = tfBefore || this.dataBpActive ? 1 : this.repLimit;
    this.dataBpHits = 0;
    const rfBefore = (this.flags & RF_BIT) !== 0;
    this.stepTrapSuppressed = false;
    try {
      this.jitInstrumentation?.interpreted?.(this, ins);
      this.eip = ins.next;
      ins.exec(this, ins);
      this.icount++;
      // RF is cleared once an instruction that began with it set completes (SDM §17.3.1.1); an IRET or
      // POPF loads it (a native routine returns with IRET).
      if (rfBefore && ins.native === null && ins.def?.name !== 'popf' && ins.def?.name !== 'iret') this.flags &= ~RF_BIT;
      // Data breakpoints and the single-step trap are reported together, after the instruction.
      // A single-step trap follows an instruction that began with TF set, unless it loaded SS.
      // An instruction that entered a handler (INT n, INT3, INTO, INT1) or switched tasks has no trap of its
      // own: TF is cleared for the handler, or is the new task's (SDM Vol. 3 §17.3.1.4).
      const step = tfBefore && !this.shadow && !this.stepTrapSuppressed;
      if ((step || this.dataBpHits) && !this.stopReason) {
        this.dr[6] = (this.dr[6] & ~0xf) | this.dataBpHits | (step ? DR6_BS : 0) | DR6_FIXED;
        this.dataBpHits = 0;
        this.deliver(Vec.DB, -1, false);
      }
    } catch (e) {
      this.dataBpHits = 0;
      this.handleThrow(e, ins);
    }
    this.repChunk = this.repLimit;
  }

  /**
   * Instruction fetch through CS (SDM Vol. 3 §3.4.3): at CS.base + EIP, and
   * #GP(0) when the instruction runs past the CS limit. Code in a segment
   * with a non-zero base is decoded afresh each time and its addresses
   * turned back into EIP values (blocks are cached by linear address only
   * for flat code).
   */
  private fetchChecked(): Instr | null {
    const base = this.segBase[CS];
    const eip = this.eip;
    let ins: Instr;
    if (base === 0) ins = this.getBlock(eip).instrs[0];
    else {
      ins = decodeBlock(this, (base + eip) | 0, -1).instrs[0];
      ins.addr = (ins.addr - base) | 0;
      ins.next = (ins.next - base) | 0;
      if (ins.def?.rel) ins.imm = (ins.imm - base) | 0;
    }
    const last = ins.len > 0 ? ins.len - 1 : 0;
    if ((eip >>> 0) + last > this.segLimit[CS] >>> 0) {
      this.eip = eip;
      this.deliver(Vec.GP, 0, false);
      return null;
    }
    return ins;
  }

  /** A throw out of an executor: a fault delivered at `ins`, anything else a stop. @internal */
  handleThrow(e: unknown, ins: Instr): void {
    this.cur = ins;
    if (e === FAULT) {
      if (this.excVector === Vec.PF) notePageFault(this, ins);
      this.deliverFaultOf(ins, this.excVector, this.excHasError ? this.excError : -1);
    } else {
      const msg = e instanceof Error ? e.message : String(e);
      this.stop({ kind: 'internal-error', eip: ins.addr, message: `internal error while executing at 0x${(ins.addr >>> 0).toString(16)}: ${msg}` });
    }
  }

  /** Deliver a fault `ins` raised: reported at the instruction (SDM Vol. 3 §6.5), RF set in the EFLAGS image. */
  private deliverFaultOf(ins: Instr, vector: number, errorCode: number): void {
    this.cur = ins;
    const eip = this.faultInNewTask ? this.eip : ins.addr;
    this.eip = eip;
    this.faultInNewTask = false;
    this.deliveringFault = true;
    this.deliver(vector, errorCode, false);
    this.deliveringFault = false;
    // Flat 32-bit code: the instruction's linear address is its EIP, decoded as a handler would decode it.
    if (ins.addr === eip && ins.def !== null && ins.native === null && !this.segChecks && this.codeSize32 && this.stopReason === null) {
      this.faultingInstr = ins;
      this.faultingEpoch = this.codeEpoch;
    }
  }
  /** The instruction whose fault the last delivery delivered (see faultedInstrAt), or null. */
  private faultingInstr: Instr | null = null;
  private faultingEpoch = -1;
  /**
   * The decoded instruction at linear `eip` whose fault the last delivery delivered, while no code
   * may have changed since (the code epoch, as for block links): its bytes are the ones the processor
   * executed, so a handler entered by that delivery (the page-hiding service's #PF handler) need not
   * decode them again. Null when the last delivery was anything else (an interrupt, a trap, INT n, a
   * fault in code that is not flat 32-bit) or was for another EIP. The Instr is the CPU's: read only.
   */
  faultedInstrAt(eip: number): Instr | null {
    const ins = this.faultingInstr;
    return ins !== null && ins.addr === (eip | 0) && this.faultingEpoch === this.codeEpoch ? ins : null;
  }

  /**
   * #PF at `lin` from an executor that found out before touching anything
   * (fault-preflight.ts) and returns normally instead of throwing: the same
   * delivery as a thrown fault's, and since the run loop and the single-step
   * path count the executor's return as a retired instruction, the count is
   * taken back and no single-step trap follows (a faulting instruction
   * retires nothing, SDM Vol. 3 §17.3.1.4). `preflightFaultAt` keeps the
   * thrown path — and its guard against fault storms — for a second fault
   * before any instruction retired.
   */
  deliverPageFaultOf(ins: Instr, lin: number, errorCode: number): void {
    this.cr2 = lin | 0;
    this.preflightFaultAt = this.icount;
    this.preflightFaults++;
    this.deliverFaultOf(ins, Vec.PF, errorCode);
    this.icount--;
    this.stepTrapSuppressed = true;
    this.breakLoop = true;
  }
  /** icount at the last deliverPageFaultOf (-1: none). */
  preflightFaultAt = -1;
  /** deliverPageFaultOf calls (the run loop counts them per compiled block: JIT_FAULT_LIMIT). */
  preflightFaults = 0;
  /** Page faults after which an instruction's executor checks its page first (fault-preflight.ts); Infinity: never. */
  preflightAfter = PREFLIGHT_AFTER;

  /** Deliver through the single exception path, converting a nested throw into the SDM's rules. */
  deliver(vector: number, errorCode: number, software: boolean): void {
    this.delivered = true;
    this.faultingInstr = null;
    if (!software && deliverThroughKnownGate(this, vector, errorCode)) return;
    try {
      deliverException(this, vector, errorCode, software);
    } catch (e) {
      if (e !== FAULT) {
        const msg = e instanceof Error ? e.message : String(e);
        this.stop({ kind: 'internal-error', eip: this.eip, message: `internal error delivering ${vectorName(vector)}: ${msg}` });
      } else {
        this.stop({ kind: 'internal-error', eip: this.eip, message: `unexpected nested fault delivering ${vectorName(vector)}` });
      }
    }
  }

  // =========================================================================
  // Debug helpers
  // =========================================================================

  dumpRegisters(): string {
    const h = (v: number) => (v >>> 0).toString(16).padStart(8, '0');
    const r = this.regs;
    return (
      `EAX=${h(r[0])} EBX=${h(r[3])} ECX=${h(r[1])} EDX=${h(r[2])}\n` +
      `ESI=${h(r[6])} EDI=${h(r[7])} EBP=${h(r[5])} ESP=${h(r[4])}\n` +
      `EIP=${h(this.eip)} EFLAGS=${h(this.getEflags())} CPL=${this.cpl} CS=${this.segSel[CS].toString(16).padStart(4, '0')} SS=${this.segSel[SS].toString(16).padStart(4, '0')} DS=${this.segSel[DS].toString(16).padStart(4, '0')}\n` +
      `CR0=${h(this.cr0)} CR2=${h(this.cr2)} CR3=${h(this.cr3)} CR4=${h(this.cr4)}`
    );
  }
}

export { IF, DF, TF };
