/**
 * kmemcheck's error queue (arch/x86/mm/kmemcheck/error.c): errors are
 * saved in the trap path into a fixed ring of 64 preallocated records
 * (kmemcheck_error_save()) and printed later, outside it
 * (kmemcheck_error_recall(), run by a tasklet in Linux; here by whoever
 * drains the queue after the guest ran). Like Linux:
 *
 * - an error from the same EIP as the previous one is dropped ("don't
 *   report several adjacent errors from the same EIP": a loop reading an
 *   uninitialized buffer reports once);
 * - when the ring is full the error is counted, not saved, and the drain
 *   reports "kmemcheck: Lost N error reports because the queue was too
 *   small";
 * - each record keeps the registers, a 32-byte copy of the memory and of
 *   the shadow around the address (aligned down to 32 bytes), and the
 *   kernel stack for a backtrace.
 *
 * Saving allocates nothing.
 */
import type { HiddenFault, PageHidingService } from '../kernel/page-hiding.js';
import { SHADOW_NAMES, UNTRACKED, type Shadow } from './shadow.js';
import { TRACE_DEPTH, walkFramePointers, type RegisterDump } from '../kernel/dumpstack.js';

export const QUEUE_SIZE = 64;
/** Bytes of memory and shadow copied around the address (1 << CONFIG_KMEMCHECK_SHADOW_COPY_SHIFT). */
export const SHADOW_COPY_SIZE = 32;
/** Return addresses kept from the frame-pointer chain (Linux kept 32 trace entries). */
export { TRACE_DEPTH };
/** Raw stack words kept from the interrupted ESP up. */
export const STACK_WORDS = 64;

export type AccessKind = 'read' | 'write';

/** One saved error, preallocated and reused. Addresses are unsigned. */
export class ErrorRecord {
  state = 0;
  address = 0;
  size = 0;
  access: AccessKind = 'read';
  eip = 0;
  eflags = 0;
  /** EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI of the interrupted code (ESP as it was there). */
  readonly regs = new Int32Array(8);
  /** Selectors ES, CS, SS, DS, FS, GS of the interrupted code. */
  readonly sregs = new Uint16Array(6);
  cr0 = 0;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  readonly dr = new Int32Array(8);
  /** Retired-instruction count when the error was caught. */
  icount = 0;
  /** Memory at (address & ~31); memoryValid[i] is 0 where the byte could not be read. */
  readonly memory = new Uint8Array(SHADOW_COPY_SIZE);
  readonly memoryValid = new Uint8Array(SHADOW_COPY_SIZE);
  /** Shadow states there (UNTRACKED = -1 where the page is not tracked). */
  readonly shadow = new Int8Array(SHADOW_COPY_SIZE);
  /** Return addresses found by following EBP (frame pointers). */
  readonly trace = new Int32Array(TRACE_DEPTH);
  traceCount = 0;
  /** Raw dwords from the interrupted ESP up (for a symbolizer to scan when frame pointers are missing). */
  readonly stack = new Int32Array(STACK_WORDS);
  stackCount = 0;
}

/** A drained error: a plain snapshot, safe to keep; its registers are a RegisterDump, as the oops report prints them. */
export interface KmemcheckError extends RegisterDump {
  state: number;
  /** unallocated | uninitialized | initialized | freed */
  stateName: string;
  address: number;
  size: number;
  access: AccessKind;
  icount: number;
  /** Address of the first byte of `memory` / `shadow` (address & ~31). */
  dumpBase: number;
  /** 32 bytes, null where unreadable. */
  memory: (number | null)[];
  /** 32 shadow states, -1 where untracked. */
  shadow: number[];
  /** Return addresses from the frame-pointer chain, innermost first. */
  trace: number[];
  /** Raw stack dwords from ESP up. */
  stack: number[];
}

export class ErrorQueue {
  private readonly ring: ErrorRecord[];
  private rd = 0;
  private wr = 0;
  private count = 0;
  private missed = 0;
  private prevEip: number | null = null;
  /** Errors saved since creation (not counting dropped or lost ones). */
  saved = 0;
  /** Errors dropped because they came from the same EIP as the previous one. */
  suppressed = 0;

  constructor(readonly capacity = QUEUE_SIZE) {
    // Records are made when first needed (begin): most runs queue none, and each holds seven typed arrays.
    this.ring = [];
  }

  get length(): number {
    return this.count;
  }
  /** Errors lost to a full queue since the last drain. */
  get lost(): number {
    return this.missed;
  }

  /**
   * The record to fill for an error at `eip`, or null when it is dropped
   * (same EIP as the previous error) or lost (queue full).
   */
  begin(eip: number): ErrorRecord | null {
    const ip = eip >>> 0;
    if (ip === this.prevEip) {
      this.suppressed++;
      return null;
    }
    this.prevEip = ip;
    if (this.count === this.capacity) {
      this.missed++;
      return null;
    }
    const e = this.ring[this.wr] ?? (this.ring[this.wr] = new ErrorRecord());
    this.wr = (this.wr + 1) % this.capacity;
    this.count++;
    this.saved++;
    return e;
  }

  /**
   * kmemcheck_error_save(): queue an invalid access caught in the trap
   * path, with the context of `fault`. Returns false when it was dropped or
   * lost.
   */
  save(state: number, address: number, size: number, access: AccessKind, fault: HiddenFault, hiding: PageHidingService, shadow: Shadow): boolean {
    const e = this.begin(fault.eip);
    if (e === null) return false;
    const ctx = fault.context;
    const cpu = hiding.kernel.cpu;
    e.state = state;
    e.address = address >>> 0;
    e.size = size;
    e.access = access;
    e.eip = fault.eip >>> 0;
    e.eflags = ctx.eflags;
    e.regs.set(ctx.regs);
    for (let s = 0; s < 6; s++) e.sregs[s] = cpu.segSel[s];
    e.sregs[1] = ctx.cs;
    e.sregs[2] = ctx.ss;
    e.cr0 = cpu.cr0;
    e.cr2 = fault.cr2;
    e.cr3 = cpu.cr3;
    e.cr4 = cpu.cr4;
    e.dr.set(cpu.dr);
    e.icount = cpu.icount;
    const base = (address & ~(SHADOW_COPY_SIZE - 1)) | 0;
    for (let i = 0; i < SHADOW_COPY_SIZE; i++) {
      const a = (base + i) | 0;
      const b = hiding.peek8(a);
      e.memory[i] = b < 0 ? 0 : b;
      e.memoryValid[i] = b < 0 ? 0 : 1;
      e.shadow[i] = shadow.get(a);
    }
    // Backtrace: follow saved EBPs (kmemcheck selected FRAME_POINTER), and the raw words for a scan.
    const esp = ctx.regs[4] >>> 0;
    const ssBase = ctx.segBase[2];
    e.traceCount = walkFramePointers(hiding.peek32Fn, ctx.regs[5], esp, ssBase, e.trace);
    e.stackCount = hiding.peekWords((ssBase + esp) | 0, e.stack, 0, e.stack.length);
    return true;
  }

  /** kmemcheck_error_recall(): the oldest queued error as a snapshot, or null. */
  recall(): KmemcheckError | null {
    if (this.count === 0) return null;
    const e = this.ring[this.rd]!;
    this.rd = (this.rd + 1) % this.capacity;
    this.count--;
    return snapshot(e);
  }

  /**
   * The most recently saved error as a snapshot, still queued (a debugger
   * stopping at it: src/gdb); null when nothing is queued.
   */
  last(): KmemcheckError | null {
    if (this.count === 0) return null;
    return snapshot(this.ring[(this.wr + this.capacity - 1) % this.capacity]!);
  }

  /** Every queued error, oldest first; the queue is empty afterwards (the lost count stays until takeLost). */
  drain(): KmemcheckError[] {
    const out: KmemcheckError[] = [];
    for (let e = this.recall(); e !== null; e = this.recall()) out.push(e);
    return out;
  }

  /** The number of lost reports since the last call, reset to 0. */
  takeLost(): number {
    const n = this.missed;
    this.missed = 0;
    return n;
  }

  /** Forget everything, including the previous EIP. */
  reset(): void {
    this.rd = this.wr = this.count = this.missed = 0;
    this.prevEip = null;
  }
}

function snapshot(e: ErrorRecord): KmemcheckError {
  const r = e.regs;
  const u = (v: number): number => v >>> 0;
  return {
    state: e.state,
    stateName: SHADOW_NAMES[e.state] ?? '(invalid shadow state)',
    address: e.address,
    size: e.size,
    access: e.access,
    eip: e.eip,
    eflags: u(e.eflags),
    regs: { eax: u(r[0]), ecx: u(r[1]), edx: u(r[2]), ebx: u(r[3]), esp: u(r[4]), ebp: u(r[5]), esi: u(r[6]), edi: u(r[7]) },
    sregs: { es: e.sregs[0], cs: e.sregs[1], ss: e.sregs[2], ds: e.sregs[3], fs: e.sregs[4], gs: e.sregs[5] },
    cr: { cr0: u(e.cr0), cr2: u(e.cr2), cr3: u(e.cr3), cr4: u(e.cr4) },
    dr: Array.from(e.dr, u),
    icount: e.icount,
    dumpBase: (e.address & ~(SHADOW_COPY_SIZE - 1)) >>> 0,
    memory: Array.from(e.memory, (b, i) => (e.memoryValid[i] ? b : null)),
    shadow: Array.from(e.shadow, (s) => (s === UNTRACKED ? UNTRACKED : s)),
    trace: Array.from(e.trace.subarray(0, e.traceCount), u),
    stack: Array.from(e.stack.subarray(0, e.stackCount), u),
  };
}
