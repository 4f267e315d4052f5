/**
 * The code being generated for one block: its lines, the values bound into
 * it, the lazy-flag state pending in its locals (./flags.ts) and the
 * client's instrumentation (./instrumentation.ts). Templates (./templates.ts)
 * and the memory emitters (./memory.ts) append to it; the driver (../jit.ts)
 * turns it into a function.
 *
 * Locals of the generated function: `R` (cpu.regs), `r0`..`r7` (the registers),
 * `m8`/`m16`/`m32` (RAM views), `tR`/`tW` (the current privilege's TLB
 * arrays), `done` (instructions retired by earlier trips round a self-loop), `fd`,
 * `fs`, `fr` (pending flags), `l`, `e` (address temporaries), `brk` (a slow
 * write set breakLoop), `at` (the fault site while a call that may throw runs,
 * else -1), `fk` (the pending flags' kind, size and mask packed, or -1), `nx`
 * and `n` (the exit's EIP and count).
 *
 * One epilogue and one exception handler per function (../jit.ts): an exit
 * only sets `fk`, `nx` and `n` (constants, or a local) and leaves the
 * labelled block `out`, and a slow path only sets `at` and `fk` around its
 * call of the CPU's accessor, so no path that has not run yet holds an
 * operation V8 has no type feedback for (its optimized code would
 * deoptimize the first time the path runs) and the code is small.
 */
import type { Instr } from '../instr.js';
import type { JitInstrumentation, JitSite } from './instrumentation.js';
import { carryExpr, condExpr, writeBack, type PendingFlags, CF, Lazy } from './flags.js';

const ESP = 4;

/**
 * Guest registers live in locals `r0`..`r7` inside the generated code
 * (templates write `r[n]`, which the driver turns into them): `SPILL`
 * stores the ones the block writes back to cpu.regs (before every return,
 * executor call and slow path that may fault), `RELOAD` reads them again after an
 * executor ran. The driver expands both once it knows the registers used.
 */
export const SPILL = '/*spill*/';
export const RELOAD = '/*reload*/';

/** `at` of a call whose state is the CPU's already (an executor's): the handler records only where. */
export const AT_SYNCED = 1 << 16;
/** `at` = index | block << AT_BLOCK (| AT_SYNCED): the instruction and the region's block it is in. */
export const AT_BLOCK = 8;

/** The pending flags packed into `fk` (kind, size, status mask), -1 for none (../jit.ts unpacks them). */
function packFlags(p: PendingFlags | null): number {
  return p === null ? -1 : p.kind | (p.size << 4) | (p.mask << 8);
}
/** The handler's and the epilogue's write-back of `fk` (packFlags) and the flag locals. */
export const WRITE_BACK_FK = 'if (fk !== -1) { cpu.lfKind = fk & 15; cpu.lfSize = (fk >> 4) & 15; cpu.lazyMask = fk >> 8; cpu.lfDst = fd; cpu.lfSrc = fs; cpu.lfRes = fr; }';

export class BlockEmitter {
  readonly lines: string[] = [];
  readonly names: string[] = [];
  readonly values: unknown[] = [];
  pending: PendingFlags | null = null;
  /** Index and instruction being emitted. */
  k = 0;
  ins!: Instr;
  /** The current instruction may have written memory through a slow path (then `brk` is tested after it). */
  wrote = false;
  /** Some branch continues inside the function (`continue loop`): the driver emits the loop frame only then. */
  loops = false;
  /** A unique suffix for temporaries. */
  private tmp = 0;

  /** The block being emitted: the name of its instruction array, its first address and length. */
  private blockName = '';
  /** The names of the region's blocks' instruction arrays, in order (`at` holds the index). */
  readonly blockNames: string[] = [];
  start = 0;
  count = 0;

  constructor(
    /** The entry block's address. */
    readonly entry: number,
    readonly instr: JitInstrumentation | null,
    /** Count block-entry edges at internal branches (CPU.edgeCounts). */
    readonly edges: boolean,
    /** The region's blocks: first address → length. */
    readonly region: ReadonlyMap<number, number>,
  ) {}

  /** Start a block of the region: it is entered with the flags in the CPU's fields. */
  beginBlock(instrs: readonly Instr[]): void {
    this.blockName = this.bind(instrs);
    this.blockNames.push(this.blockName);
    this.start = instrs[0].addr | 0;
    this.count = instrs.length;
    this.pending = null;
  }

  emit(code: string): void {
    this.lines.push(code);
  }
  /** A fresh local name. */
  temp(prefix = 't'): string {
    return `_${prefix}${this.tmp++}`;
  }
  bind(value: unknown): string {
    const name = `x${this.names.length}`;
    this.names.push(name);
    this.values.push(value);
    return name;
  }
  /**
   * Code making the CPU's state exact for the current instruction before
   * something that may fault or look at it: the fault index (cpu.jitIndex,
   * cpu.jitDone), the registers (cpu.regs) and the flags as they were before
   * the instruction. Templates change nothing before their last access that
   * can fault, so the locals still hold that state there. For
   * instrumentation (JitSite.sync), whose calls may look at the CPU without
   * throwing; the compiler's own slow paths leave this to the exception
   * handler (slowSite).
   */
  sync(): string {
    return `${this.faultPoint()} ${SPILL} ${this.flushCode()}`;
  }
  /** Where a fault from here is delivered: the block's instructions, the index, the retired count before. */
  faultPoint(): string {
    return `cpu.jitInstrs = ${this.blockName}; cpu.jitIndex = ${this.k}; cpu.jitDone = done;`;
  }
  /**
   * Code before a call that may throw while the registers and flags are
   * still in locals (an access's slow path): the exception handler then
   * stores them as they are, with the site (see AT_BLOCK). `after()` ends it.
   */
  slowSite(): string {
    return `at = ${this.k | ((this.blockNames.length - 1) << AT_BLOCK)}; fk = ${packFlags(this.pending)};`;
  }
  /** Code before an executor call (the CPU holds the state already): the handler records only the site. */
  executorSite(): string {
    return `at = ${this.k | ((this.blockNames.length - 1) << AT_BLOCK) | AT_SYNCED};`;
  }
  /** Code after a call bracketed by slowSite or executorSite. */
  after(): string {
    return 'at = -1;';
  }
  /** The site handed to instrumentation emitters for the current instruction. */
  site(): JitSite {
    return { ins: this.ins, index: this.k, bind: (v) => this.bind(v), reg: (n) => `r[${n}]`, sync: this.sync() };
  }

  // ---- lazy flags ---------------------------------------------------------

  /** Store the pending flags into the CPU's fields (before anything outside may read them). */
  flush(): string {
    if (this.pending === null) return '';
    const code = writeBack(this.pending);
    this.pending = null;
    return code;
  }
  /** The write-back as code, leaving the state pending (for an exit on one path only). */
  flushCode(): string {
    return this.pending === null ? '' : writeBack(this.pending);
  }
  /**
   * Record `fd op fs = fr` (the code assigning the locals is `assign`, emitted
   * after the instruction's last access that can fault).
   */
  setFlags(kind: Lazy, size: 1 | 2 | 4, mask: number, assign: string): void {
    this.emit(assign);
    this.pending = { kind, size, mask };
  }
  /** INC/DEC keep CF: move the current CF into cpu.flags before the new state replaces it. */
  keepCarry(): void {
    const p = this.pending;
    if (p === null) this.emit(`if (cpu.lazyMask & ${CF}) cpu.flags = (cpu.flags & ~${CF}) | cpu.getCF();`);
    else if (p.mask & CF) this.emit(`cpu.flags = (cpu.flags & ~${CF}) | ${carryExpr(p)};`);
  }
  /** Condition `cc` as an expression (writes the flags back first when it must ask CPU.cond). */
  cond(cc: number): string {
    const e = this.pending !== null ? condExpr(this.pending, cc) : null;
    if (e !== null) return e;
    this.emit(this.flush());
    return `cpu.cond(${cc})`;
  }

  // ---- exits --------------------------------------------------------------

  /**
   * Leave the block with EIP = `eip` (a constant or a local) after `retired`
   * instructions of this trip: the epilogue writes the flags and registers back.
   */
  exit(eip: string | number, retired: number): string {
    return `fk = ${packFlags(this.pending)}; nx = ${eip}; n = ${retired}; break out;`;
  }

  /**
   * A direct branch to `target` after `retired` instructions of this block:
   * to a block of the region, go on inside the function when a whole pass
   * through it still fits in `room` (and nothing asked the run loop to look:
   * breakLoop); otherwise leave.
   */
  goto(target: number, retired: number): string {
    const len = this.region.get(target | 0);
    if (len === undefined) return this.exit(target, retired);
    this.loops = true;
    const edge = this.edges ? `{ const ec = cpu.edgeCounts; if (ec !== null) cpu.countEdge(ec, ${target | 0}); }` : '';
    return `done += ${retired}; ${this.flushCode()} if (done + ${len} > room || cpu.breakLoop) { fk = -1; nx = ${target | 0}; n = 0; break out; } ${edge} pc = ${target | 0}; continue loop;`;
  }

  // ---- registers ----------------------------------------------------------

  /** A general register of `size` bytes as an expression (SDM register encoding; 8-bit 4–7 are AH..BH). */
  reg(size: number, n: number): string {
    if (size === 4) return `r[${n}]`;
    if (size === 2) return `(r[${n}] & 0xffff)`;
    return n < 4 ? `(r[${n}] & 0xff)` : `((r[${n - 4}] >> 8) & 0xff)`;
  }
  /** Code writing `v` (an expression, evaluated once) to a general register of `size` bytes. */
  setReg(size: number, n: number, v: string): string {
    let code: string;
    if (size === 4) code = `r[${n}] = ${v};`;
    else if (size === 2) code = `r[${n}] = (r[${n}] & -65536) | ((${v}) & 0xffff);`;
    else if (n < 4) code = `r[${n}] = (r[${n}] & -256) | ((${v}) & 0xff);`;
    else code = `r[${n - 4}] = (r[${n - 4}] & -65281) | (((${v}) & 0xff) << 8);`;
    if (size !== 1 && n === ESP) code += this.espChanged();
    return code;
  }
  /** Instrumentation after an inline ESP change. */
  espChanged(): string {
    return this.instr?.stackPointer?.(this.site()) ?? '';
  }

  markInstruction(k: number, ins: Instr): void {
    this.k = k;
    this.ins = ins;
    this.wrote = false;
  }
}
