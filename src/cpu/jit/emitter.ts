/**
 * The code being generated for one block: its lines, the values bound into
 * it, the lazy-flag state pending in its locals (./flags.ts) and the
 * client's instrumentation (./instrumentation.ts). Templates (./templates.ts)
 * and the memory emitters (./memory.ts) append to it; the driver (../jit.ts)
 * turns it into a function.
 *
 * Locals of the generated function: `r` (cpu.regs), `sb` (segment bases),
 * `m8`/`m16`/`m32` (RAM views), `tR`/`tW` (the current privilege's TLB
 * arrays), `k` (index of the instruction running, for the fault path),
 * `done` (instructions retired by earlier trips round a self-loop), `fd`,
 * `fs`, `fr` (pending flags), `l`, `e` (address temporaries), `brk` (a slow
 * write set breakLoop).
 */
import type { Instr } from '../instr.js';
import type { JitInstrumentation, JitSite } from './instrumentation.js';
import { carryExpr, condExpr, encodePending, writeBack, type PendingFlags, CF, Lazy } from './flags.js';

const ESP = 4;

export class BlockEmitter {
  readonly lines: string[] = [];
  readonly names: string[] = [];
  readonly values: unknown[] = [];
  /** Pending flags at the start of each instruction (the catch restores them). */
  readonly pendingAt: number[] = [];
  pending: PendingFlags | null = null;
  /** Index and instruction being emitted. */
  k = 0;
  ins!: Instr;
  /** The current instruction may have written memory through a slow path (then `brk` is tested after it). */
  wrote = false;
  /** A unique suffix for temporaries. */
  private tmp = 0;

  constructor(
    readonly start: number,
    readonly count: number,
    readonly instr: JitInstrumentation | null,
  ) {}

  emit(code: string): void {
    this.lines.push(code);
  }
  /** A fresh local name. */
  temp(prefix = 't'): string {
    return `${prefix}${this.tmp++}`;
  }
  bind(value: unknown): string {
    // `$` keeps bound names apart from the temporaries (`b` + a number is also a temp name).
    const name = `b${this.names.length}$`;
    this.names.push(name);
    this.values.push(value);
    return name;
  }
  /** The site handed to instrumentation emitters for the current instruction. */
  site(): JitSite {
    return { ins: this.ins, index: this.k, bind: (v) => this.bind(v) };
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

  /** Leave the block with EIP = `eip` after `retired` instructions of this trip (flags written back). */
  exit(eip: string | number, retired: number): string {
    return `${this.flushCode()} cpu.eip = ${eip}; return done + ${retired};`;
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

  /** The pending state at the start of the current instruction, for the fault table. */
  markInstruction(k: number, ins: Instr): void {
    this.k = k;
    this.ins = ins;
    this.wrote = false;
    this.pendingAt[k] = encodePending(this.pending);
  }
}
