/**
 * The embedding API's hooks (./machine.ts), Unicorn-style: code hooks on an
 * address range, memory hooks on reads or writes of a range, interrupt
 * hooks on every exception or interrupt the CPU delivers.
 *
 * Code and memory hooks are compiled into the blocks through the block
 * compiler's instrumentation interface (src/cpu/jit/instrumentation.ts), as
 * a client only, the way the precise checkers are:
 *  - a code hook emits a call at the start of each instruction in its range
 *    and nothing anywhere else, so blocks outside every range compile to
 *    the same code as without hooks;
 *  - a memory hook emits one range test in front of each access the
 *    compiled code makes itself (the test is against the union of the
 *    ranges, folded at compile time), with the value stored for a write and
 *    the value about to be read for a read;
 *  - the accesses of instructions the compiler leaves to their executors
 *    (string instructions, x87, far transfers, ...) and of interpreted code
 *    (blocks not compiled yet, single steps) are decoded from the
 *    instruction (src/shadow/access.ts, the decoder kmemcheck uses): reads
 *    are reported before the instruction, writes right after it (before the
 *    next instruction), with the value memory then holds.
 * Interrupt hooks are a CPU observer (the `onException` of every delivery:
 * SDM Vol. 3 §6.12), chained to whatever observer was there.
 *
 * A hook stops the machine with `stop()` (Machine.stop): a code hook's stop
 * is exact, before its instruction (EIP = that instruction; resuming runs it
 * without calling code hooks for it again); a memory hook's stop takes
 * effect once the accessing instruction has completed (EIP = the next one);
 * an interrupt hook's once the delivery is done (EIP = the handler). The
 * compiled code leaves a block early for a stop by throwing after syncing
 * its state, which the CPU's run loop takes as it takes a fault: the
 * instruction has not run, the retired count is exact.
 */
import type { CPU, CpuObserver, ExceptionEvent } from '../cpu/cpu.js';
import type { Instr } from '../cpu/instr.js';
import type { JitAccess, JitInstructionSite, JitInstrumentation, JitSite } from '../cpu/jit.js';
import { ACCESS_READ, ACCESS_RMW, ACCESS_WRITE, AccessList, decodeAccesses } from '../shadow/access.js';

/** A range of linear addresses, `end` excluded; omitted: every address. */
export interface AddressRange {
  start: number;
  end: number;
}

/** What a code hook gets: the instruction's address and length (Unicorn's UC_HOOK_CODE: an instruction is in a range when its first byte is). */
export type CodeHook = (address: number, size: number) => void;
/** What a memory hook gets: the access (Unicorn's UC_HOOK_MEM_READ/WRITE), with the instruction making it. */
export type MemoryHook = (access: { address: number; size: number; value: number; eip: number; type: 'read' | 'write' }) => void;
/** What an interrupt hook gets: the vector, the error code (null when the vector has none), where, and the kind. */
export type InterruptHook = (event: InterruptEvent) => void;

export interface InterruptEvent {
  vector: number;
  errorCode: number | null;
  /** The EIP the frame saves: the faulting instruction for a fault, the next one for a trap or INT n. */
  eip: number;
  /** CR2 at the delivery (the faulting linear address of a #PF). */
  cr2: number;
  /** INT n / INT3 / INTO. */
  software: boolean;
  /** From the interrupt controller. */
  external: boolean;
  cplBefore: number;
  cplAfter: number;
}

/** Removes the hook it was returned for (Unicorn's uc_hook_del). */
export interface HookHandle {
  remove(): void;
}

interface RangeHook<F> {
  lo: number;
  /** Bytes in the range (up to 2^32). */
  span: number;
  fn: F;
}

/** Thrown by compiled or interpreted hook code to leave the block for a stop (the CPU's stopReason is set first). */
const STOP = { hookStop: true } as const;

const u32 = (v: number): number => v >>> 0;

function toRange(r: AddressRange | undefined): { lo: number; span: number } {
  if (r === undefined) return { lo: 0, span: 2 ** 32 };
  const lo = u32(r.start);
  const span = r.end - r.start;
  if (!Number.isInteger(r.start) || !Number.isInteger(r.end) || span <= 0 || r.start < 0 || r.end > 2 ** 32) {
    throw new RangeError(`hook range 0x${r.start.toString(16)}..0x${r.end.toString(16)} is not a non-empty range of 32-bit addresses (end excluded)`);
  }
  return { lo, span };
}

/** Does [a, a + n) overlap the hook's range? */
function overlaps(h: { lo: number; span: number }, a: number, n: number): boolean {
  return u32(a + n - 1 - h.lo) < h.span + n - 1;
}

/**
 * The hooks of one machine and the instrumentation that calls them. Set on
 * the CPU while any code or memory hook exists (composed with a precise
 * checker's instrumentation when one is attached); the CPU recompiles its
 * blocks each time the set changes (the compile-time key names the ranges).
 */
export class HookSet implements JitInstrumentation {
  key = '';
  readonly bindings: Readonly<Record<string, unknown>>;
  private readonly code: RangeHook<CodeHook>[] = [];
  private readonly reads: RangeHook<MemoryHook>[] = [];
  private readonly writes: RangeHook<MemoryHook>[] = [];
  private readonly interrupts: InterruptHook[] = [];
  /** Writes of decoded instructions, reported before the next instruction (`pend` tells the compiled code). */
  private readonly pendingWrites = new AccessList();
  private pendingEip = 0;
  /** Something to do at the next instruction boundary: pending writes or a stop a memory hook asked for. */
  pend = false;
  private stopAsked = false;
  private readonly decoded = new AccessList();
  /** The instruction a code hook stopped before: not hooked again when the run resumes there. */
  private skipCodeAt: number | null = null;
  /** The CPU's observer before ours (a tracer, a checker's). */
  private inner: CpuObserver | null = null;
  private readonly observer: CpuObserver;
  /** Set while a hook runs (the machine refuses register writes then: compiled code keeps registers in locals). */
  inHook = false;
  /** A hook asked for a stop during the last run. */
  stopped = false;

  private cpuOrNull: CPU | null = null;
  /** Installs `inst` (this set, maybe composed with a checker's) on the CPU, or removes it (null). */
  private install: (inst: JitInstrumentation | null) => void = () => {};
  private savedRepLimit = 0;

  constructor() {
    this.bindings = { $kmHooks: this };
    this.observer = { onException: (ev) => this.exception(ev) };
  }

  /** Hooks added before the machine existed take effect now (a module's machine boots on the first run). */
  attach(cpu: CPU, install: (inst: JitInstrumentation | null) => void): void {
    this.cpuOrNull = cpu;
    this.install = install;
    this.savedRepLimit = cpu.repLimit;
    this.changed();
    this.chainObserver();
  }

  private get cpu(): CPU {
    if (this.cpuOrNull === null) throw new Error('kmemsim: the machine has not started');
    return this.cpuOrNull;
  }

  // ---- adding and removing --------------------------------------------------------

  addCode(range: AddressRange | undefined, fn: CodeHook): HookHandle {
    return this.add(this.code, { ...toRange(range), fn });
  }

  addMemory(type: 'read' | 'write', range: AddressRange | undefined, fn: MemoryHook): HookHandle {
    return this.add(type === 'read' ? this.reads : this.writes, { ...toRange(range), fn });
  }

  addInterrupt(fn: InterruptHook): HookHandle {
    this.interrupts.push(fn);
    return {
      remove: () => {
        const i = this.interrupts.indexOf(fn);
        if (i >= 0) this.interrupts.splice(i, 1);
      },
    };
  }

  private add<F>(list: RangeHook<F>[], h: RangeHook<F>): HookHandle {
    list.push(h);
    this.changed();
    return {
      remove: () => {
        const i = list.indexOf(h);
        if (i < 0) return;
        list.splice(i, 1);
        this.changed();
      },
    };
  }

  /** The hooks changed: a new compile-time key, and the CPU drops the blocks compiled for the old one. */
  private changed(): void {
    const ranges = (l: RangeHook<unknown>[]): string => l.map((h) => `${h.lo}+${h.span}`).join(',');
    this.key = `kmemsim-api-hooks code:${ranges(this.code)} read:${ranges(this.reads)} write:${ranges(this.writes)}`;
    const cpu = this.cpuOrNull;
    if (cpu === null) return;
    // REP string instructions one iteration per execution while memory hooks watch them (each iteration's accesses decoded).
    cpu.repLimit = this.memoryHooked() ? 1 : this.savedRepLimit;
    cpu.repChunk = Math.min(cpu.repChunk, cpu.repLimit);
    this.install(this.active() ? this : null);
  }

  private memoryHooked(): boolean {
    return this.reads.length + this.writes.length > 0;
  }

  /** Any hook compiled into the code? */
  active(): boolean {
    return this.code.length + this.reads.length + this.writes.length > 0;
  }

  /**
   * Our observer becomes the CPU's, chained to the one set before (a tracer's), once, when the machine
   * starts: a precise checker chains its own in front of it when it runs (src/shadow/instrument.ts).
   */
  private chainObserver(): void {
    const cpu = this.cpu;
    this.inner = cpu.observer;
    cpu.observer = this.observer;
  }

  // ---- stops ---------------------------------------------------------------------

  /** Machine.stop() from a hook: take effect at the point the hook kind allows (see the file comment). */
  requestStop(): void {
    this.stopAsked = true;
  }

  /** Before a run: code hooks are skipped for the instruction a code hook stopped before (resuming runs it). */
  beginRun(): void {
    this.stopped = false;
    this.stopAsked = false;
    if (this.cpuOrNull === null) return;
    this.skipCodeAt = this.skipCodeAt !== null && this.skipCodeAt === (this.cpu.eip | 0) ? this.skipCodeAt : null;
  }

  /** After a run: writes still pending are reported (the run ended right after the instruction that made them). */
  endRun(): void {
    if (this.cpuOrNull !== null && this.pendingWrites.count > 0) this.flushWrites();
    this.pend = false;
    this.stopAsked = false;
  }

  private stopNow(at: number, skipCode: boolean): never {
    this.stopAsked = false;
    this.stopped = true;
    this.skipCodeAt = skipCode ? at : null;
    this.cpu.eip = at;
    this.cpu.stop({ kind: 'yield' });
    throw STOP;
  }

  /** A stop for something other than a hook (a checker's finding): the CPU stops at its next check. */
  stopAtNextCheck(): void {
    this.stopSoon();
  }

  /** A hook asked for a stop that takes effect after the hook's event: stop the CPU at its next check. */
  private stopSoon(): void {
    this.stopAsked = false;
    this.stopped = true;
    this.skipCodeAt = null;
    this.cpu.stop({ kind: 'yield' });
  }

  private call<A>(fn: (a: A) => void, arg: A): void {
    this.inHook = true;
    try {
      fn(arg);
    } finally {
      this.inHook = false;
    }
  }

  // ---- what the code calls ---------------------------------------------------------

  /** Instruction boundary with something pending: report the writes of the instruction before, then stop if asked. */
  boundary(cpu: CPU, ins: Instr): void {
    if (this.pendingWrites.count > 0) this.flushWrites();
    this.pend = false;
    if (this.stopAsked) this.stopNow(ins.addr | 0, false);
    void cpu;
  }

  /** The start of an instruction in a code hook's range. */
  codeAt(cpu: CPU, ins: Instr): void {
    const addr = ins.addr | 0;
    if (this.skipCodeAt === addr) {
      // Resuming at the instruction a code hook stopped before: it runs now, unhooked once.
      this.skipCodeAt = null;
      return;
    }
    this.skipCodeAt = null;
    const eip = cpu.eip;
    cpu.eip = addr; // compiled code keeps EIP at the block's start: the hook sees the instruction's
    for (const h of this.code) {
      if (overlaps(h, addr, 1)) this.call((a: number) => h.fn(u32(a), ins.len), addr);
    }
    if (this.stopAsked) this.stopNow(addr, true);
    cpu.eip = eip;
  }

  /** A read the compiled code makes (before it, so the value is the one about to be read). */
  readAt(cpu: CPU, lin: number, size: number, eip: number): void {
    for (const h of this.reads) {
      if (!overlaps(h, lin, size)) continue;
      const value = this.peek(cpu, lin, size);
      if (value !== null) this.call(h.fn, { address: u32(lin), size, value, eip: u32(eip), type: 'read' });
    }
    if (this.stopAsked) {
      this.pend = true;
    }
  }

  /** A write the compiled code makes, with the value stored. */
  writeAt(lin: number, size: number, value: number, eip: number): void {
    const v = size === 4 ? u32(value) : value & (size === 2 ? 0xffff : 0xff);
    for (const h of this.writes) {
      if (overlaps(h, lin, size)) this.call(h.fn, { address: u32(lin), size, value: v, eip: u32(eip), type: 'write' });
    }
    if (this.stopAsked) this.pend = true;
  }

  /**
   * An instruction whose accesses the compiled code does not make itself
   * (an executor's, or interpreted): decode them from the registers it runs
   * with; reads now, writes after it.
   */
  decodedAt(cpu: CPU, ins: Instr): void {
    if (!this.memoryHooked()) return;
    const list = this.decoded;
    decodeAccesses(ins, cpu, list);
    const eip = ins.addr | 0;
    for (let i = 0; i < list.count; i++) {
      const a = list.addr[i]!, n = list.size[i]!, kind = list.kind[i]!;
      if (kind === ACCESS_READ || kind === ACCESS_RMW) this.reportRead(cpu, a, n, eip);
      if (kind === ACCESS_WRITE || kind === ACCESS_RMW) {
        if (this.writes.some((h) => overlaps(h, a, n))) {
          this.pendingWrites.add(a, n, ACCESS_WRITE);
          this.pendingEip = eip;
          this.pend = true;
        }
      }
    }
    if (this.stopAsked) this.pend = true;
  }

  /** A decoded read, in pieces of at most 4 bytes (a hook's value is one dword at most). */
  private reportRead(cpu: CPU, a: number, n: number, eip: number): void {
    for (let o = 0; o < n; o += 4) this.readAt(cpu, (a + o) | 0, Math.min(4, n - o), eip);
  }

  private flushWrites(): void {
    const l = this.pendingWrites;
    const count = l.count;
    l.clear();
    for (let i = 0; i < count; i++) {
      const a = l.addr[i]!, n = l.size[i]!;
      for (let o = 0; o < n; o += 4) {
        const lin = (a + o) | 0, size = Math.min(4, n - o);
        const value = this.peek(this.cpu, lin, size);
        // A write that faulted (the page was not present) did not happen: it is reported when it is retried.
        if (value === null) continue;
        for (const h of this.writes) {
          if (overlaps(h, lin, size)) this.call(h.fn, { address: u32(lin), size, value, eip: u32(this.pendingEip), type: 'write' });
        }
      }
    }
  }

  /** The bytes at `lin` as a little-endian value through the page tables, or null when not mapped. */
  private peek(cpu: CPU, lin: number, size: number): number | null {
    let v = 0;
    for (let i = 0; i < size; i++) {
      const p = cpu.lookupPhys((lin + i) | 0, false, false);
      if (p < 0 || p >= cpu.mem.size) return null;
      v |= cpu.mem.u8[p]! << (8 * i);
    }
    return size === 4 ? u32(v) : v;
  }

  private exception(ev: ExceptionEvent): void {
    this.inner?.onException?.(ev);
    if (this.interrupts.length === 0) return;
    const e: InterruptEvent = {
      vector: ev.vector, errorCode: ev.errorCode, eip: u32(ev.eip), cr2: u32(ev.cr2), software: ev.software,
      external: ev.external, cplBefore: ev.cplBefore, cplAfter: ev.cplAfter,
    };
    for (const fn of [...this.interrupts]) this.call(fn, e);
    if (this.stopAsked) this.stopSoon();
  }

  // ---- the instrumentation (src/cpu/jit/instrumentation.ts) --------------------------

  instruction(s: JitInstructionSite): string {
    let code = this.memoryHooked() ? `if ($kmHooks.pend) { ${s.sync} $kmHooks.boundary(cpu, ${s.bind(s.ins)}); }` : '';
    if (this.code.some((h) => overlaps(h, s.ins.addr, 1))) code += ` ${s.sync} $kmHooks.codeAt(cpu, ${s.bind(s.ins)});`;
    return code;
  }

  read(a: JitAccess): string {
    return this.accessCode(a, this.reads, (lin) => `$kmHooks.readAt(cpu, ${lin}, ${a.size}, ${a.ins.addr | 0});`);
  }

  write(a: JitAccess): string {
    return this.accessCode(a, this.writes, (lin) => `$kmHooks.writeAt(${lin}, ${a.size}, ${a.value}, ${a.ins.addr | 0});`);
  }

  executor(s: JitSite): string {
    return this.memoryHooked() ? `${s.sync} $kmHooks.decodedAt(cpu, ${s.bind(s.ins)});` : '';
  }

  /** Interpreted instructions: what the emitted code does, called by the interpreter. */
  interpreted(cpu: CPU, ins: Instr): void {
    if (ins.native !== null) return;
    if (this.pend) this.boundary(cpu, ins);
    const addr = ins.addr | 0;
    if (this.code.some((h) => overlaps(h, addr, 1))) this.codeAt(cpu, ins);
    this.decodedAt(cpu, ins);
  }

  /** One test against the union of the ranges (constants at compile time), then the exact ranges in the call. */
  private accessCode(a: JitAccess, list: RangeHook<MemoryHook>[], call: (lin: string) => string): string {
    if (list.length === 0) return '';
    let lo = Infinity, hi = -Infinity;
    for (const h of list) {
      lo = Math.min(lo, h.lo);
      hi = Math.max(hi, h.lo + h.span);
    }
    const span = hi - lo;
    const test = span >= 2 ** 32 ? 'true' : `((${a.lin}) - ${(lo - a.size + 1) | 0} >>> 0) < ${span + a.size - 1}`;
    return `if (${test}) { ${a.sync} ${call(a.lin)} }`;
  }
}

/** Is `e` the hooks' stop (thrown through the CPU's run loop)? */
export function isHookStop(e: unknown): boolean {
  return e === STOP;
}
