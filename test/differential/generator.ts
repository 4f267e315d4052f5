/**
 * Random IA-32 test programs for the differential test (kmemsim vs the host CPU).
 *
 * Each program is GNU assembler source (AT&T syntax) for a static i386 ELF
 * executable. `_start` loads every GPR and EFLAGS with seeded random values,
 * then runs a sequence of random *steps* (one instruction, or a small
 * construct such as "jcc over an instruction" or a bounded loop, together
 * with the flag-free `mov`/`lea` set-up that keeps its memory operands inside
 * the test buffers). After some steps, and always after the last one, it
 * dumps the architectural state with write(1, …): the GPRs, EFLAGS with the
 * undefined flags masked out, the 256-byte data buffer and the 512-byte stack
 * area. Both the host CPU and kmemsim must then print exactly the same bytes.
 *
 * The generator never lets a result depend on something the SDM leaves
 * undefined: it tracks which arithmetic flags are currently defined, masks
 * the others out of every dump, and puts a flag-defining `cmp` (or a
 * `push imm; popf`) in front of any instruction that would read an undefined
 * flag. Register results the SDM leaves undefined (BSF/BSR of zero, 16-bit
 * SHLD/SHRD by more than 16) are avoided by construction.
 *
 * The buffer straddles a page boundary at buf+128 (where EBP points) and the
 * stack area has one 16 bytes below the initial ESP, so unaligned and string
 * accesses cross pages. Self-modifying code (patch, jump, re-execute, as SDM
 * Vol. 3 §8.1.3 prescribes) runs from a writable+executable `.smc` section.
 *
 * 16-bit *addressing* (0x67) of data memory is only generated when `addr16`
 * is set, because it needs a buffer below 64 KiB, which the program places in
 * a `.lowbuf` section linked at LOW_BUF_ADDR (hosts with vm.mmap_min_addr =
 * 65536 cannot run those). LEA, LOOP and JCXZ use the 0x67 prefix in every
 * program (they touch no memory). Not generated: anything that faults or
 * traps (#DE, #UD, INT, signals), x87/MMX/SSE, far transfers, segment loads
 * other than POP of the selector just pushed, CPUID/RDTSC (host-specific).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from './rng.js';

// ---------------------------------------------------------------------------
// Flags and registers

export const CF = 0x1;
export const PF = 0x4;
export const AF = 0x10;
export const ZF = 0x40;
export const SF = 0x80;
export const OF = 0x800;
export const DF = 0x400;
/** The six status flags whose definedness the generator tracks. */
export const STATUS = CF | PF | AF | ZF | SF | OF;

/**
 * EFLAGS bits that are always compared: bit 1 (always 1), TF, IF, DF, IOPL,
 * NT and AC. A user program sees them as 0x202 | DF on Linux and must see the
 * same in kmemsim. (RF, VM, VIF, VIP are never visible to PUSHF at CPL 3;
 * ID is left out because it is CPU-model dependent.)
 */
export const ALWAYS_COMPARED = 0x2 | 0x100 | 0x200 | DF | 0x3000 | 0x4000 | 0x40000;

export const FLAG_NAMES: [number, string][] = [
  [CF, 'CF'], [0x2, 'bit1'], [PF, 'PF'], [AF, 'AF'], [ZF, 'ZF'], [SF, 'SF'], [0x100, 'TF'],
  [0x200, 'IF'], [DF, 'DF'], [OF, 'OF'], [0x3000, 'IOPL'], [0x4000, 'NT'], [0x40000, 'AC'],
];

export function flagNames(mask: number): string {
  return FLAG_NAMES.filter(([b]) => (mask & b) !== 0).map(([, n]) => n).join(' ');
}

const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;
const R32 = ['%eax', '%ecx', '%edx', '%ebx', '%esp', '%ebp', '%esi', '%edi'];
const R16 = ['%ax', '%cx', '%dx', '%bx', '%sp', '%bp', '%si', '%di'];
const R8 = ['%al', '%cl', '%dl', '%bl', '%ah', '%ch', '%dh', '%bh'];
export const REG_NAMES = ['EAX', 'ECX', 'EDX', 'EBX', 'ESP', 'EBP', 'ESI', 'EDI'];
type Size = 1 | 2 | 4;
const SUF: Record<Size, string> = { 1: 'b', 2: 'w', 4: 'l' };
const ACC: Record<Size, string> = { 1: '%al', 2: '%ax', 4: '%eax' };
/** Registers the random instructions may write (ESP is the stack, EBP the buffer base). */
const WRITABLE = [EAX, ECX, EDX, EBX, ESI, EDI];

function regName(size: Size, r: number): string {
  return size === 4 ? R32[r]! : size === 2 ? R16[r]! : R8[r]!;
}
/** The 32-bit register a register operand of `size` lives in (AH..BH are in EAX..EBX). */
function base32(size: Size, r: number): number {
  return size === 1 ? r & 3 : r;
}
function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16);
}
/** `buf+off` / `buf-off` (GAS does not like `buf+-5`). */
function bufAt(off: number): string {
  return off < 0 ? `buf-${-off}` : `buf+${off}`;
}
function imm(v: number, size: Size = 4): string {
  const mask = size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  return '$' + hex((v & mask) >>> 0);
}

// ---------------------------------------------------------------------------
// Memory layout shared by the generator, the dump parser and the diagnosis

export const BUF_SIZE = 256;
export const STACK_SIZE = 512;
/** Offset of the initial ESP inside the stack area. */
export const ESP0 = 384;
/** A page boundary lies this far below the initial ESP. */
const STACK_PAGE_BELOW_ESP0 = 16;
/** Deepest the random code may push (keeps room below for the dump's CALL and PUSHF). */
const MAX_DEPTH = ESP0 - 64;
/** Highest the random code may pop above the initial ESP. */
const MIN_DEPTH = -(STACK_SIZE - ESP0 - 32);
/** Where the `.lowbuf` section is linked when 16-bit addressing is enabled (must be < 64 KiB). */
export const LOW_BUF_ADDR = 0x8000;
export const LOW_BUF_SIZE = 256;

/**
 * One dump record: [dump id][EAX ECX EDX EBX ESP EBP ESI EDI][EFLAGS & mask][mask]
 * [buf: 256 bytes][stack area: 512 bytes] and, with `addr16`, [lowbuf: 256 bytes]
 * (written with two or three write calls).
 */
export interface DumpLayout {
  recordSize: number;
  idOffset: 0;
  regsOffset: 4;
  eflagsOffset: 36;
  maskOffset: 40;
  bufOffset: 44;
  stackOffset: number;
  lowOffset: number | null;
}

export function dumpLayout(addr16: boolean): DumpLayout {
  const stackOffset = 44 + BUF_SIZE;
  const base = stackOffset + STACK_SIZE;
  return {
    recordSize: base + (addr16 ? LOW_BUF_SIZE : 0),
    idOffset: 0, regsOffset: 4, eflagsOffset: 36, maskOffset: 40, bufOffset: 44,
    stackOffset,
    lowOffset: addr16 ? base : null,
  };
}

// ---------------------------------------------------------------------------
// The emitter: collects lines and tracks what the generator knows

/** Thrown by a template that cannot be generated under the current constraints. */
class Retry extends Error {}

interface Ctx {
  /** 32-bit registers that must not be written (always ESP and EBP; ECX inside loops). */
  forbid: number;
  /** EBP holds buf+128 (false inside ENTER/LEAVE). */
  ebpBuf: boolean;
  /** Memory operands may be ESP-relative (false where the stack holds a saved frame). */
  espMem: boolean;
  /** Inside a compound construct: no nested constructs. */
  inner: boolean;
}

interface FlagOp { r: number; w: number; u: number }

interface Checkpoint { lines: number; ops: number; tags: number; D: number; depth: number; pinned: number }

class Emitter {
  lines: string[] = [];
  ops: FlagOp[] = [];
  tags: string[] = [];
  /** Registers set up for the instruction being generated; set-up code must not reuse them. */
  pinned = 0;

  constructor(
    readonly g: GenState,
    /** Status flags currently defined. */
    public D: number,
    /** Bytes pushed below the initial ESP (negative: popped above it). */
    public depth: number,
    readonly ctx: Ctx,
  ) {}

  get rng(): Rng {
    return this.g.rng;
  }

  checkpoint(): Checkpoint {
    return { lines: this.lines.length, ops: this.ops.length, tags: this.tags.length, D: this.D, depth: this.depth, pinned: this.pinned };
  }

  rollback(c: Checkpoint): void {
    this.lines.length = c.lines;
    this.ops.length = c.ops;
    this.tags.length = c.tags;
    this.D = c.D;
    this.depth = c.depth;
    this.pinned = c.pinned;
  }

  /** A child emitter for the body of a compound construct, starting from this state. */
  child(ctx: Partial<Ctx>): Emitter {
    return new Emitter(this.g, this.D, this.depth, { ...this.ctx, inner: true, ...ctx });
  }

  absorb(c: Emitter): void {
    this.lines.push(...c.lines);
    this.ops.push(...c.ops);
    this.tags.push(...c.tags);
    this.D = c.D;
    this.depth = c.depth;
  }

  tag(...t: string[]): void {
    this.tags.push(...t);
  }

  label(): string {
    return `.L${this.g.labels++}`;
  }

  place(label: string): void {
    this.lines.push(`${label}:`);
  }

  /**
   * Emit one instruction. `r` are the flags it reads (a fixer is emitted
   * first if any is undefined), `w` the flags it leaves defined, `u` those
   * it leaves undefined.
   */
  emit(line: string, f: { r?: number; w?: number; u?: number } = {}): void {
    const r = f.r ?? 0, w = f.w ?? 0, u = f.u ?? 0;
    if ((this.D & r) !== r) this.fixFlags();
    this.lines.push('\t' + line);
    this.ops.push({ r, w, u });
    this.D = (this.D | w) & ~u;
  }

  /** Define all six status flags without touching any register. */
  fixFlags(): void {
    const rng = this.rng;
    if (rng.chance(0.25) && this.depth + 4 <= MAX_DEPTH) {
      this.lines.push(`\tpushl ${imm(0x202 | (rng.u32() & (STATUS | DF)))}`, '\tpopfl');
    } else {
      const size = rng.pick<Size>([1, 2, 4]);
      this.lines.push(`\tcmp${SUF[size]} ${imm(rng.interesting32(), size)}, ${regName(size, rng.int(0, 7))}`);
    }
    this.ops.push({ r: 0, w: STATUS, u: 0 });
    this.D = STATUS;
  }

  /** Record that the step writes 32-bit register `r`. */
  wr(r: number): void {
    if (this.ctx.forbid & (1 << r)) throw new Retry();
  }

  push(n: number): void {
    this.depth += n;
    if (this.depth > MAX_DEPTH) throw new Retry();
  }

  pop(n: number): void {
    this.depth -= n;
    if (this.depth < MIN_DEPTH) throw new Retry();
  }

  size(sizes: readonly Size[] = [1, 2, 4]): Size {
    const s = this.rng.pick(sizes);
    this.tag(`o${s * 8}`);
    return s;
  }

  /** A writable register of `size` (as index 0..7), avoiding `avoid` (32-bit register mask). */
  regW(size: Size, avoid = 0): number {
    const bad = this.ctx.forbid | avoid;
    const cands = size === 1
      ? [0, 1, 2, 3, 4, 5, 6, 7].filter((r) => !(bad & (1 << (r & 3))))
      : WRITABLE.filter((r) => !(bad & (1 << r)));
    if (cands.length === 0) throw new Retry();
    const r = this.rng.pick(cands);
    this.wr(base32(size, r));
    return r;
  }

  /** A register the step loads with a chosen value first (never one already pinned). */
  regSetup(avoid = 0): number {
    const r = this.regW(4, avoid | this.pinned);
    this.pinned |= 1 << r;
    return r;
  }

  /** Any register as a source operand (ESP and EBP included: their values are deterministic). */
  regR(size: Size): number {
    return this.rng.int(0, 7);
  }

  /**
   * A memory operand of `size` bytes that lies inside `buf` (or the stack
   * area, or the low buffer). The flag-free set-up of base/index registers
   * is emitted immediately; those registers are pinned.
   */
  mem(size: number, o: { avoid?: number; lo?: number; hi?: number; noLow?: boolean; noEsp?: boolean; noSeg?: boolean } = {}): string {
    const rng = this.rng;
    const avoid = o.avoid ?? 0;
    const forms: string[] = ['abs', 'base', 'sib', 'index'];
    if (this.ctx.ebpBuf) forms.push('ebp', 'ebp', 'ebpsib');
    if (this.ctx.espMem && !o.noEsp) forms.push('esp');
    if (this.g.addr16 && !o.noLow) forms.push('low16', 'low16');
    const form = rng.pick(forms);
    this.tag('mem');
    let seg = '';
    if (!o.noSeg && rng.chance(0.08)) {
      seg = rng.pick(['%ds:', '%ss:', '%es:']);
      this.tag('segoverride');
    }
    const lo = o.lo ?? 0, hi = o.hi ?? BUF_SIZE - size;
    let t = rng.int(lo, hi);
    if (o.lo === undefined && rng.chance(0.15)) t = rng.pick([lo, hi]);
    const disp = (): number => rng.pick([0, rng.int(-128, 127), rng.int(-128, 127), rng.int(-0x12345, 0x12345)]);
    const scaleIdx = (): [number, number] => [rng.pick([1, 2, 4, 8]), rng.int(-12, 12)];
    const d0 = (d: number): string => (d === 0 ? '' : String(d));
    switch (form) {
      case 'abs':
        return `${seg}buf+${t}`;
      case 'ebp':
        return `${seg}${t - 128}(%ebp)`;
      case 'base': {
        const b = this.regSetup(avoid);
        let d = disp();
        if (rng.chance(0.1)) {
          // base + disp wraps around 2^32 (disp32 = -2^31, base above 2^31).
          d = -0x80000000;
          this.tag('addrwrap');
        }
        this.emit(`movl $${bufAt(t - d)}, ${R32[b]}`);
        return `${seg}${d0(d)}(${R32[b]})`;
      }
      case 'sib': {
        const b = this.regSetup(avoid);
        const i = this.regSetup(avoid);
        const [s, iv] = scaleIdx();
        const d = disp();
        if (s > 1 && rng.chance(0.12)) {
          // index*scale wraps around 2^32: index = 2^32/scale + iv.
          this.tag('addrwrap');
          this.emit(`movl ${imm((0x100000000 / s + iv) >>> 0)}, ${R32[i]}`);
        } else {
          this.emit(`movl ${imm(iv)}, ${R32[i]}`);
        }
        this.emit(`movl $${bufAt(t - d - iv * s)}, ${R32[b]}`);
        this.tag('sib');
        return `${seg}${d0(d)}(${R32[b]},${R32[i]},${s})`;
      }
      case 'ebpsib': {
        const i = this.regSetup(avoid);
        const [s, iv] = scaleIdx();
        this.emit(`movl ${imm(iv)}, ${R32[i]}`);
        this.tag('sib');
        return `${seg}${t - 128 - iv * s}(%ebp,${R32[i]},${s})`;
      }
      case 'index': {
        const i = this.regSetup(avoid);
        const [s, iv] = scaleIdx();
        this.emit(`movl ${imm(iv)}, ${R32[i]}`);
        this.tag('sib');
        return `${seg}${bufAt(t - iv * s)}(,${R32[i]},${s})`;
      }
      case 'esp': {
        // An address in the stack area, relative to the current ESP.
        const espOff = ESP0 - this.depth;
        const a = Math.max(0, espOff - 40), b = Math.min(STACK_SIZE - size, espOff + 40);
        const off = rng.int(a, b);
        this.tag('espmem');
        if (rng.chance(0.5)) return `${seg}${d0(off - espOff)}(%esp)`;
        const i = this.regSetup(avoid);
        const [s, iv] = scaleIdx();
        this.emit(`movl ${imm(iv)}, ${R32[i]}`);
        return `${seg}${off - espOff - iv * s}(%esp,${R32[i]},${s})`;
      }
      case 'low16': {
        // 16-bit addressing (0x67): the 16-bit sum wraps modulo 64 KiB, the
        // upper halves of BX/SI/DI are ignored. BP-based forms are left out
        // because EBP is the buffer base.
        this.tag('addr16');
        const target = LOW_BUF_ADDR + rng.int(0, LOW_BUF_SIZE - size);
        const combo = rng.pick([[EBX, ESI], [EBX, EDI], [ESI], [EDI], [EBX]]);
        const d = rng.pick([0, rng.int(-128, 127), rng.int(-0x8000, 0x7fff)]);
        let rest = (target - d) & 0xffff;
        const regs: number[] = [];
        for (let k = 0; k < combo.length; k++) {
          const r = combo[k]!;
          if (avoid & (1 << r) || this.pinned & (1 << r)) throw new Retry();
          this.wr(r);
          this.pinned |= 1 << r;
          const v16 = k === combo.length - 1 ? rest : rng.int(0, 0xffff);
          rest = (rest - v16) & 0xffff;
          this.emit(`movl ${imm(((rng.u32() & 0xffff0000) | v16) >>> 0)}, ${R32[r]}`);
          regs.push(r);
        }
        return `${seg}${d0(d)}(${regs.map((r) => R16[r]).join(',')})`;
      }
    }
    throw new Error(`unknown memory form ${form}`);
  }

  /** A writable r/m operand: a register or a memory operand. */
  rmW(size: Size, pMem = 0.45, memOpts: Parameters<Emitter['mem']>[1] = {}): { text: string; isMem: boolean; reg: number } {
    if (this.rng.chance(pMem)) return { text: this.mem(size, memOpts), isMem: true, reg: -1 };
    const r = this.regW(size);
    this.tag('reg');
    return { text: regName(size, r), isMem: false, reg: r };
  }

  /** A readable r/m operand. */
  rmR(size: Size, pMem = 0.45, memOpts: Parameters<Emitter['mem']>[1] = {}): { text: string; isMem: boolean; reg: number } {
    if (this.rng.chance(pMem)) return { text: this.mem(size, memOpts), isMem: true, reg: -1 };
    const r = this.regR(size);
    this.tag('reg');
    return { text: regName(size, r), isMem: false, reg: r };
  }

  /**
   * Sometimes put a redundant segment prefix in front of an instruction: a
   * no-op (or a branch hint / CET notrack on jumps) that the decoder must
   * skip. CS is only used when the instruction has no memory operand.
   */
  pfx(line: string, hasMem: boolean): string {
    if (/%[cdes]s:/.test(line) || !this.rng.chance(0.06)) return line;
    const p = this.rng.pick(hasMem ? [0x3e, 0x26, 0x36] : [0x2e, 0x3e, 0x26, 0x36]);
    this.tag('redundant-prefix');
    return `.byte ${hex(p)}; ${line}`;
  }

  lock(isMem: boolean): string {
    if (isMem && this.rng.chance(0.15)) {
      this.tag('lock');
      return 'lock ';
    }
    return '';
  }
}

interface GenState {
  rng: Rng;
  labels: number;
  addr16: boolean;
  /** Templates to pick from (all, or all but the excluded groups). */
  all: Template[];
  simple: Template[];
}

// ---------------------------------------------------------------------------
// Templates

export interface Template {
  /** Instruction group (the coverage test checks that every group is generated). */
  group: string;
  weight: number;
  /** A compound construct (jumps, loops, frames): its body is one simple template. */
  compound?: boolean;
  gen(e: Emitter): void;
}

/** Condition codes and the flags each one reads. */
const CC: { n: string[]; r: number }[] = [
  { n: ['o'], r: OF }, { n: ['no'], r: OF },
  { n: ['b', 'c', 'nae'], r: CF }, { n: ['ae', 'nc', 'nb'], r: CF },
  { n: ['e', 'z'], r: ZF }, { n: ['ne', 'nz'], r: ZF },
  { n: ['be', 'na'], r: CF | ZF }, { n: ['a', 'nbe'], r: CF | ZF },
  { n: ['s'], r: SF }, { n: ['ns'], r: SF },
  { n: ['p', 'pe'], r: PF }, { n: ['np', 'po'], r: PF },
  { n: ['l', 'nge'], r: SF | OF }, { n: ['ge', 'nl'], r: SF | OF },
  { n: ['le', 'ng'], r: ZF | SF | OF }, { n: ['g', 'nle'], r: ZF | SF | OF },
];

function pickCC(e: Emitter): { name: string; r: number } {
  const c = e.rng.pick(CC);
  return { name: e.rng.pick(c.n), r: c.r };
}

function randImm(e: Emitter, size: Size): number {
  // Half of the immediates fit in a sign-extended imm8 (opcode 83, 6B, 6A…).
  if (e.rng.chance(0.4)) return e.rng.int(-128, 127) >>> 0;
  return e.rng.interesting32();
}

function alu(op: string): Template {
  const reads = op === 'adc' || op === 'sbb' ? CF : 0;
  const logic = op === 'and' || op === 'or' || op === 'xor' || op === 'test';
  const noWrite = op === 'cmp' || op === 'test';
  const w = logic ? STATUS & ~AF : STATUS;
  const u = logic ? AF : 0;
  return {
    group: op, weight: 1,
    gen(e) {
      const size = e.size();
      const s = SUF[size];
      const rng = e.rng;
      const f = { r: reads, w, u };
      const form = rng.pick(op === 'test' ? ['rr', 'mr', 'ir', 'im', 'ia'] : ['rr', 'rm', 'mr', 'ir', 'im', 'ia', 'rr']);
      const dst = (): number => (noWrite ? e.regR(size) : e.regW(size));
      switch (form) {
        case 'rr': {
          const src = e.regR(size), d = dst();
          const pre = op !== 'test' && rng.chance(0.3) ? rng.pick(['{load} ', '{store} ']) : '';
          e.tag('reg');
          e.emit(e.pfx(`${pre}${op}${s} ${regName(size, src)}, ${regName(size, d)}`, false), f);
          break;
        }
        case 'rm': { // register ← register op memory
          const m = e.mem(size);
          const d = dst();
          e.emit(e.pfx(`${op}${s} ${m}, ${regName(size, d)}`, true), f);
          break;
        }
        case 'mr': { // memory ← memory op register
          const m = e.mem(size);
          const src = e.regR(size);
          e.emit(e.pfx(`${noWrite ? '' : e.lock(true)}${op}${s} ${regName(size, src)}, ${m}`, true), f);
          break;
        }
        case 'ir': {
          const d = dst();
          e.tag('reg', 'imm');
          e.emit(e.pfx(`${op}${s} ${imm(randImm(e, size), size)}, ${regName(size, d)}`, false), f);
          break;
        }
        case 'im': {
          const m = e.mem(size);
          e.tag('imm');
          e.emit(`${noWrite ? '' : e.lock(true)}${op}${s} ${imm(randImm(e, size), size)}, ${m}`, f);
          break;
        }
        case 'ia': { // accumulator short forms (04/05, 0C/0D, …, A8/A9)
          if (!noWrite) e.wr(EAX);
          e.tag('acc', 'imm');
          e.emit(`${op}${s} ${imm(rng.interesting32(), size)}, ${ACC[size]}`, f);
          break;
        }
      }
    },
  };
}

function unary(op: 'inc' | 'dec' | 'neg' | 'not'): Template {
  const f = op === 'not' ? {} : op === 'neg' ? { w: STATUS } : { w: STATUS & ~CF };
  return {
    group: op, weight: 1,
    gen(e) {
      const size = e.size();
      const d = e.rmW(size);
      e.emit(e.pfx(`${e.lock(d.isMem)}${op}${SUF[size]} ${d.text}`, d.isMem), f);
    },
  };
}

/** Flag effects of SHL/SHR/SAR/ROL/ROR/RCL/RCR with masked count `c` (SDM Vol. 2B). */
function shiftFlags(op: string, size: Size, c: number): { r: number; w: number; u: number } {
  const rotThroughCarry = op === 'rcl' || op === 'rcr';
  const r = rotThroughCarry ? CF : 0;
  if (c === 0) return { r, w: 0, u: 0 };
  if (op === 'rol' || op === 'ror' || rotThroughCarry) {
    return c === 1 ? { r, w: CF | OF, u: 0 } : { r, w: CF, u: OF };
  }
  // SHL/SAL/SHR/SAR: CF is undefined for SHL/SHR when the count is not less
  // than the operand size; OF only defined for 1-bit shifts; AF undefined.
  let w = SF | ZF | PF | CF, u = AF;
  if ((op === 'shl' || op === 'sal' || op === 'shr') && c >= size * 8) {
    w &= ~CF;
    u |= CF;
  }
  if (c === 1) w |= OF;
  else u |= OF;
  return { r, w, u };
}

/** A shift count: masked count `c` in 0..31 biased to the interesting ones, and the raw value. */
function shiftCount(e: Emitter, size: Size, max = 31): { raw: number; c: number } {
  const rng = e.rng;
  const bits = size * 8;
  const c = rng.weighted(
    [0, 1, rng.int(2, Math.min(bits - 1, max)), Math.min(bits, max), rng.int(Math.min(bits, max), max)],
    [1, 4, 6, 1, 2],
  );
  // The CPU masks the count to 5 bits: sometimes set the upper bits of the raw count.
  const raw = rng.chance(0.15) ? c | (rng.int(1, 7) << 5) : c;
  return { raw, c };
}

const SHIFT_EXT: Record<string, number> = { rol: 0, ror: 1, rcl: 2, rcr: 3, shl: 4, sal: 4, shr: 5, sar: 7 };

function shift(ops: string[], group: string): Template {
  return {
    group, weight: ops.length / 2,
    gen(e) {
      const rng = e.rng;
      const op = rng.pick(ops);
      const size = e.size();
      const s = SUF[size];
      const kind = rng.pick(['1', 'imm', 'cl']);
      if (kind === '1') {
        const d = e.rmW(size);
        e.tag('count1');
        e.emit(e.pfx(`${op}${s} ${d.text}`, d.isMem), shiftFlags(op, size, 1));
      } else if (kind === 'imm') {
        const { raw, c } = shiftCount(e, size);
        const d = e.rmW(size);
        e.tag('countimm');
        if (raw === 1 && !d.isMem) {
          // GAS encodes "shl $1" as D1; write C1 /ext ib with ib = 1 by hand.
          const modrm = 0xc0 | (SHIFT_EXT[op]! << 3) | d.reg;
          const bytes = [...(size === 2 ? [0x66] : []), size === 1 ? 0xc0 : 0xc1, modrm, 1];
          e.tag('c1-count1');
          e.emit(`.byte ${bytes.map(hex).join(', ')}   # ${op}${s} $1, ${d.text} (C1 form)`, shiftFlags(op, size, 1));
        } else {
          e.emit(e.pfx(`${op}${s} ${imm(raw, 1)}, ${d.text}`, d.isMem), shiftFlags(op, size, c));
        }
      } else {
        const { raw, c } = shiftCount(e, size);
        e.wr(ECX);
        e.pinned |= 1 << ECX;
        if (rng.chance(0.5)) e.emit(`movb ${imm(raw, 1)}, %cl`);
        else e.emit(`movl ${imm(((rng.u32() & 0xffffff00) | raw) >>> 0)}, %ecx`);
        const d = e.rmW(size);
        e.tag('countcl');
        e.emit(e.pfx(`${op}${s} %cl, ${d.text}`, d.isMem), shiftFlags(op, size, c));
      }
    },
  };
}

const shld: Template = {
  group: 'shld/shrd', weight: 1,
  gen(e) {
    const rng = e.rng;
    const op = rng.pick(['shld', 'shrd']);
    const size = e.size([2, 4]);
    // A 16-bit count above 16 leaves the result undefined: stay at or below 16.
    const { raw, c } = shiftCount(e, size, size === 2 ? 16 : 31);
    const f = c === 0 ? {} : { w: CF | SF | ZF | PF | (c === 1 ? OF : 0), u: AF | (c === 1 ? 0 : OF) };
    if (rng.chance(0.5)) {
      const d = e.rmW(size);
      const src = e.regR(size);
      e.tag('countimm');
      e.emit(`${op}${SUF[size]} ${imm(raw, 1)}, ${regName(size, src)}, ${d.text}`, f);
    } else {
      e.wr(ECX);
      e.pinned |= 1 << ECX;
      e.emit(`movl ${imm(((rng.u32() & 0xffffff00) | raw) >>> 0)}, %ecx`);
      const d = e.rmW(size);
      const src = e.regR(size);
      e.tag('countcl');
      e.emit(`${op}${SUF[size]} %cl, ${regName(size, src)}, ${d.text}`, f);
    }
  },
};

const MULF = { w: CF | OF, u: SF | ZF | AF | PF };

const mul1: Template = {
  group: 'mul', weight: 1,
  gen(e) {
    const size = e.size();
    const op = e.rng.pick(['mul', 'imul']);
    e.wr(EAX);
    if (size > 1) e.wr(EDX);
    const src = e.rmR(size);
    e.tag(op === 'imul' ? 'imul1' : 'mul1');
    e.emit(e.pfx(`${op}${SUF[size]} ${src.text}`, src.isMem), MULF);
  },
};

const imul2: Template = {
  group: 'imul2', weight: 0.7,
  gen(e) {
    const size = e.size([2, 4]);
    const src = e.rmR(size);
    const d = e.regW(size);
    e.emit(`imul${SUF[size]} ${src.text}, ${regName(size, d)}`, MULF);
  },
};

const imul3: Template = {
  group: 'imul3', weight: 0.7,
  gen(e) {
    const size = e.size([2, 4]);
    const src = e.rmR(size);
    const d = e.regW(size);
    const v = randImm(e, size);
    if (!src.isMem && src.reg === d && e.rng.chance(0.5)) {
      e.emit(`imul${SUF[size]} ${imm(v, size)}, ${regName(size, d)}`, MULF); // 2-operand alias
    } else {
      e.emit(`imul${SUF[size]} ${imm(v, size)}, ${src.text}, ${regName(size, d)}`, MULF);
    }
  },
};

/** Signed value of `v` as a `bits`-wide two's complement number. */
function sext(v: bigint, bits: number): bigint {
  return BigInt.asIntN(bits, v);
}

/**
 * DIV/IDIV with operands chosen so that the quotient fits (no #DE): the
 * dividend is built from a chosen quotient, divisor and remainder.
 */
function div(op: 'div' | 'idiv'): Template {
  return {
    group: op, weight: 1,
    gen(e) {
      const rng = e.rng;
      const size = e.size();
      const bits = size * 8;
      e.wr(EAX);
      if (size > 1) e.wr(EDX);
      const avoid = (1 << EAX) | (1 << EDX);
      let d: bigint, q: bigint, r: bigint;
      const big = (n: number): bigint => BigInt.asUintN(32, BigInt(n));
      if (op === 'div') {
        d = big(rng.interesting32()) & ((1n << BigInt(bits)) - 1n);
        if (d === 0n) d = 1n;
        q = big(rng.interesting32()) & ((1n << BigInt(bits)) - 1n);
        r = d === 1n ? 0n : big(rng.u32()) % d;
      } else {
        d = sext(big(rng.interesting32()), bits);
        if (d === 0n) d = -1n;
        const qmax = (1n << BigInt(bits - 1)) - 1n;
        q = sext(big(rng.interesting32()), bits);
        if (q < -qmax) q = rng.chance(0.3) ? -qmax - 1n : -qmax; // -2^(n-1) is a legal quotient
        const ad = d < 0n ? -d : d;
        r = ad === 1n ? 0n : big(rng.u32()) % ad;
        if (q * d < 0n || (q === 0n && rng.chance(0.5))) r = -r;
      }
      const dividend = BigInt.asUintN(bits * 2, q * d + r);
      const dv = Number(BigInt.asUintN(bits, d));
      // The divisor: a register (never the accumulator halves) or memory.
      let src: string;
      if (rng.chance(0.4)) {
        src = e.mem(size, { avoid });
        e.emit(`mov${SUF[size]} ${imm(dv, size)}, ${src}`);
      } else {
        const cands = (size === 1 ? [1, 2, 3, 5, 6, 7] : [ECX, EBX, ESI, EDI])
          .filter((x) => !(e.ctx.forbid & (1 << base32(size, x))));
        if (cands.length === 0) throw new Retry();
        const reg = rng.pick(cands);
        e.wr(base32(size, reg));
        e.emit(`mov${SUF[size]} ${imm(dv, size)}, ${regName(size, reg)}`);
        src = regName(size, reg);
        e.tag('reg');
      }
      if (size === 1) {
        e.emit(`movw ${imm(Number(dividend), 2)}, %ax`);
      } else if (size === 2) {
        e.emit(`movw ${imm(Number(dividend & 0xffffn), 2)}, %ax`);
        e.emit(`movw ${imm(Number(dividend >> 16n), 2)}, %dx`);
      } else {
        e.emit(`movl ${imm(Number(dividend & 0xffffffffn))}, %eax`);
        e.emit(`movl ${imm(Number(dividend >> 32n))}, %edx`);
      }
      e.emit(`${op}${SUF[size]} ${src}`, { u: STATUS });
    },
  };
}

/**
 * BT/BTS/BTR/BTC. CF is the selected bit; OF, SF, AF, PF are undefined, and
 * ZF is treated as undefined too (Intel documents it as unaffected, AMD as
 * undefined).
 */
function bt(op: 'bt' | 'bts' | 'btr' | 'btc'): Template {
  return {
    group: op, weight: 1,
    gen(e) {
      const rng = e.rng;
      const size = e.size([2, 4]);
      const bits = size * 8;
      const f = { w: CF, u: OF | SF | AF | PF | ZF };
      const write = op !== 'bt';
      if (rng.chance(0.5)) {
        // Immediate bit offset: the CPU uses it modulo the operand size.
        const d = write ? e.rmW(size) : e.rmR(size);
        const off = rng.chance(0.8) ? rng.int(0, bits - 1) : rng.int(0, 255);
        e.tag('btimm');
        e.emit(`${write ? e.lock(d.isMem) : ''}${op}${SUF[size]} ${imm(off, 1)}, ${d.text}`, f);
      } else if (rng.chance(0.5)) {
        // Register offset, register base: modulo the operand size.
        const d = write ? e.regW(size) : e.regR(size);
        const o = e.regR(size);
        e.tag('btreg', 'reg');
        e.emit(`${op}${SUF[size]} ${regName(size, o)}, ${regName(size, d)}`, f);
      } else {
        // Register offset, memory base: the offset is signed and selects a
        // word/dword anywhere around the operand; keep it inside buf.
        const m = e.mem(size, { lo: 64, hi: 188, noLow: true, noEsp: true });
        const o = e.regSetup();
        const off = rng.int(-400, 400);
        const v = size === 2 ? ((rng.u32() & 0xffff0000) | (off & 0xffff)) >>> 0 : off >>> 0;
        e.emit(`movl ${imm(v)}, ${R32[o]}`);
        e.tag('btregmem');
        e.emit(`${write ? e.lock(true) : ''}${op}${SUF[size]} ${regName(size, o)}, ${m}`, f);
      }
    },
  };
}

function bsf(op: 'bsf' | 'bsr'): Template {
  return {
    group: op, weight: 1,
    gen(e) {
      const rng = e.rng;
      const size = e.size([2, 4]);
      // A zero source leaves the destination undefined (only ZF = 1 is
      // defined): load a nonzero one, except in the "zero" variant, where
      // the destination is overwritten right after.
      const zero = rng.chance(0.1);
      let v = zero ? (size === 2 ? rng.u32() & 0xffff0000 : 0) : rng.interesting32();
      if (!zero && (size === 2 ? v & 0xffff : v) === 0) v |= 1 << rng.int(0, size * 8 - 1);
      let src: string;
      if (rng.chance(0.4)) {
        src = e.mem(size);
        e.emit(`mov${SUF[size]} ${imm(v, size)}, ${src}`);
      } else {
        const r = e.regSetup();
        e.emit(`movl ${imm(v)}, ${R32[r]}`);
        src = regName(size, r);
      }
      const d = e.regW(size);
      e.emit(`${op}${SUF[size]} ${src}, ${regName(size, d)}`, { w: ZF, u: CF | OF | SF | AF | PF });
      if (zero) {
        e.tag('bsf-zero');
        e.emit(`movl ${imm(rng.interesting32())}, ${R32[d]}`);
      }
    },
  };
}

const mov: Template = {
  group: 'mov', weight: 2,
  gen(e) {
    const rng = e.rng;
    const size = e.size();
    const s = SUF[size];
    switch (rng.int(0, 6)) {
      case 0: { e.tag('reg'); const src = e.regR(size); e.emit(`mov${s} ${regName(size, src)}, ${regName(size, e.regW(size))}`); break; }
      case 1: { const m = e.mem(size); e.emit(`mov${s} ${m}, ${regName(size, e.regW(size))}`); break; }
      case 2: { const m = e.mem(size); e.emit(`mov${s} ${regName(size, e.regR(size))}, ${m}`); break; }
      case 3: { e.tag('imm', 'reg'); e.emit(`mov${s} ${imm(rng.interesting32(), size)}, ${regName(size, e.regW(size))}`); break; }
      case 4: { const m = e.mem(size); e.tag('imm'); e.emit(`mov${s} ${imm(rng.interesting32(), size)}, ${m}`); break; }
      case 5: { // moffs forms (A0–A3)
        e.wr(EAX);
        e.tag('moffs');
        const m = `buf+${rng.int(0, BUF_SIZE - size)}`;
        e.emit(rng.chance(0.5) ? `mov${s} ${m}, ${ACC[size]}` : `mov${s} ${ACC[size]}, ${m}`);
        break;
      }
      default: { // from ESP/EBP (as 16-bit SP/BP, or as 32-bit for the 8-bit case)
        const sz: Size = size === 2 ? 2 : 4;
        const r = rng.pick([ESP, EBP]);
        e.emit(`mov${SUF[sz]} ${regName(sz, r)}, ${regName(sz, e.regW(sz))}`);
      }
    }
  },
};

function movx(op: 'movz' | 'movs'): Template {
  return {
    group: op === 'movz' ? 'movzx' : 'movsx', weight: 1,
    gen(e) {
      const [from, to] = e.rng.pick<[Size, Size]>([[1, 2], [1, 4], [2, 4]]);
      e.tag(`o${to * 8}`);
      const src = e.rmR(from);
      e.emit(e.pfx(`${op}${SUF[from]}${SUF[to]} ${src.text}, ${regName(to, e.regW(to))}`, src.isMem));
    },
  };
}

const lea: Template = {
  group: 'lea', weight: 1.5,
  gen(e) {
    const rng = e.rng;
    const size = e.size([2, 4]);
    const d = regName(size, e.regW(size));
    if (rng.chance(0.25)) {
      // 16-bit addressing: LEA computes the address without touching memory,
      // so the 0x67 forms are safe with any register values.
      const combo = rng.pick(['%bx,%si', '%bx,%di', '%bp,%si', '%bp,%di', '%si', '%di', '%bp', '%bx']);
      const disp = rng.pick([0, rng.int(-128, 127), rng.int(-0x8000, 0x7fff)]);
      e.tag('addr16', 'lea16');
      e.emit(`lea${SUF[size]} ${disp === 0 && combo !== '%bp' ? '' : disp}(${combo}), ${d}`);
      return;
    }
    const hasBase = rng.chance(0.85), hasIndex = rng.chance(0.6);
    const disp = rng.pick([0, rng.int(-128, 127), rng.u32() | 0]);
    const b = hasBase ? R32[rng.int(0, 7)] : '';
    const i = hasIndex ? R32[rng.pick([0, 1, 2, 3, 5, 6, 7])] : '';
    const sc = rng.pick([1, 2, 4, 8]);
    const ea = hasIndex ? `(${b},${i},${sc})` : hasBase ? `(${b})` : '';
    e.emit(`lea${SUF[size]} ${disp === 0 && ea ? '' : disp}${ea}, ${d}`);
  },
};

const xchg: Template = {
  group: 'xchg', weight: 1,
  gen(e) {
    const size = e.size();
    const a = e.regW(size);
    if (size > 1 && e.rng.chance(0.3)) {
      e.wr(EAX);
      e.tag('xchg-acc');
      e.emit(`xchg${SUF[size]} ${regName(size, a)}, ${ACC[size]}`);
      return;
    }
    const b = e.rmW(size);
    e.emit(`xchg${SUF[size]} ${regName(size, a)}, ${b.text}`);
  },
};

const cmpxchg: Template = {
  group: 'cmpxchg', weight: 1,
  gen(e) {
    const size = e.size();
    e.wr(EAX);
    const d = e.rmW(size, 0.6, { avoid: 1 << EAX });
    const src = e.regR(size);
    // Half the time make the accumulator equal to the destination first, so
    // the "equal: store source" path runs as often as the "not equal" one.
    if (e.rng.chance(0.5) && !(d.reg >= 0 && base32(size, d.reg) === EAX)) {
      e.tag('cmpxchg-equal');
      e.emit(`mov${SUF[size]} ${d.text}, ${ACC[size]}`);
    }
    e.emit(`${e.lock(d.isMem)}cmpxchg${SUF[size]} ${regName(size, src)}, ${d.text}`, { w: STATUS });
  },
};

const cmpxchg8b: Template = {
  group: 'cmpxchg8b', weight: 1,
  gen(e) {
    e.wr(EAX);
    e.wr(EDX);
    const m = e.mem(8, { avoid: (1 << EAX) | (1 << EDX) });
    const lock = e.lock(true);
    e.emit(`${lock}cmpxchg8b ${m}`, { w: ZF });
    // A failed compare loads EDX:EAX from memory, so a second one succeeds.
    if (e.rng.chance(0.5)) e.emit(`cmpxchg8b ${m}`, { w: ZF });
  },
};

const xadd: Template = {
  group: 'xadd', weight: 1,
  gen(e) {
    const size = e.size();
    const r = e.regW(size);
    const d = e.rmW(size);
    e.emit(`${e.lock(d.isMem)}xadd${SUF[size]} ${regName(size, r)}, ${d.text}`, { w: STATUS });
  },
};

const bswap: Template = {
  group: 'bswap', weight: 0.5,
  gen(e) {
    e.tag('o32');
    e.emit(`bswap ${R32[e.regW(4)]}`);
  },
};

const setcc: Template = {
  group: 'setcc', weight: 1,
  gen(e) {
    const cc = pickCC(e);
    const d = e.rmW(1);
    e.emit(e.pfx(`set${cc.name} ${d.text}`, d.isMem), { r: cc.r });
  },
};

const cmovcc: Template = {
  group: 'cmovcc', weight: 1,
  gen(e) {
    const cc = pickCC(e);
    const size = e.size([2, 4]);
    const src = e.rmR(size);
    e.emit(e.pfx(`cmov${cc.name} ${src.text}, ${regName(size, e.regW(size))}`, src.isMem), { r: cc.r });
  },
};

const conv: Template = {
  group: 'cbw/cwde/cwd/cdq', weight: 1,
  gen(e) {
    const op = e.rng.pick(['cbtw', 'cwtl', 'cwtd', 'cltd']);
    e.wr(EAX);
    if (op === 'cwtd' || op === 'cltd') e.wr(EDX);
    e.tag(op);
    e.emit(op);
  },
};

const flagops: Template = {
  group: 'clc/stc/cmc/cld/std', weight: 1,
  gen(e) {
    const op = e.rng.pick(['clc', 'stc', 'cmc', 'cld', 'std']);
    e.tag(op);
    e.emit(op, op === 'cmc' ? { r: CF, w: CF } : op === 'clc' || op === 'stc' ? { w: CF } : {});
  },
};

const lahfsahf: Template = {
  group: 'lahf/sahf', weight: 1,
  gen(e) {
    const op = e.rng.pick(['lahf', 'sahf']);
    e.tag(op);
    if (op === 'lahf') {
      e.wr(EAX);
      e.emit('lahf', { r: SF | ZF | AF | PF | CF });
    } else {
      e.emit('sahf', { w: SF | ZF | AF | PF | CF });
    }
  },
};

const bcd: Template = {
  group: 'bcd', weight: 1,
  gen(e) {
    const rng = e.rng;
    const op = rng.pick(['daa', 'das', 'aaa', 'aas', 'aam', 'aad']);
    e.wr(EAX);
    e.tag(op);
    // BCD-looking inputs make the adjustments meaningful.
    if (rng.chance(0.6)) e.emit(`movw ${imm(rng.pick([rng.int(0, 0xffff), rng.int(0, 0x0909), 0x0099, 0x00ff, 0x009a, 0x00f9]), 2)}, %ax`);
    switch (op) {
      case 'daa': case 'das': e.emit(op, { r: CF | AF, w: CF | AF | SF | ZF | PF, u: OF }); break;
      case 'aaa': case 'aas': e.emit(op, { r: AF, w: CF | AF, u: OF | SF | ZF | PF }); break;
      default: {
        const base = rng.chance(0.5) ? 10 : rng.int(1, 255); // AAM 0 would raise #DE
        e.emit(base === 10 && rng.chance(0.5) ? op : `${op} $${base}`, { w: SF | ZF | PF, u: OF | AF | CF });
      }
    }
  },
};

const NOPS: string[] = [
  'nop', 'xchgl %eax, %eax', '.byte 0x66, 0x90', 'pause',
  '.byte 0x0f, 0x1f, 0x00', '.byte 0x0f, 0x1f, 0x40, 0x00', '.byte 0x0f, 0x1f, 0x44, 0x00, 0x00',
  '.byte 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00', '.byte 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00',
  '.byte 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00', '.byte 0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00',
  '.byte 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00', '.byte 0x0f, 0x1f, 0xc0', 'nopw %cs:0x12345(%eax,%ecx,4)',
];

const nop: Template = {
  group: 'nop', weight: 0.7,
  gen(e) {
    const n = e.rng.pick(NOPS);
    if (n.includes('0x0f, 0x1f') || n.startsWith('nopw')) e.tag('nop0f1f');
    e.emit(n);
  },
};

const xlat: Template = {
  group: 'xlat', weight: 0.4,
  gen(e) {
    e.wr(EAX);
    e.wr(EBX);
    e.emit(e.ctx.ebpBuf && e.rng.chance(0.5) ? 'leal -128(%ebp), %ebx' : 'movl $buf, %ebx');
    e.emit(e.rng.chance(0.2) ? 'xlat %ss:(%ebx)' : 'xlat');
  },
};

const pushT: Template = {
  group: 'push', weight: 1,
  gen(e) {
    const rng = e.rng;
    const size = e.size([2, 4, 4]);
    const s = SUF[size];
    switch (rng.int(0, 4)) {
      case 0: e.tag('reg'); e.push(size); e.emit(`push${s} ${regName(size, e.regR(size))}`); break;
      case 1: e.tag('imm'); e.push(size); e.emit(`push${s} ${imm(randImm(e, size), size)}`); break;
      case 2: {
        // The address of PUSH m is computed before ESP is decremented.
        const m = e.mem(size);
        e.push(size);
        e.emit(`push${s} ${m}`);
        break;
      }
      case 3: e.tag('push-esp'); e.push(size); e.emit(size === 4 ? 'pushl %esp' : 'pushw %sp'); break;
      default: {
        // PUSH sreg; POP sreg. The selector values are the kernel's business
        // (Linux and kmemsim may differ), so the stack slot is scrubbed.
        const sr = rng.pick(['%ds', '%es', '%ss', '%fs', '%gs']);
        e.tag('segreg');
        e.push(size);
        e.emit(`push${s} ${sr}`);
        e.pop(size);
        e.emit(`pop${s} ${sr}`);
        e.emit(`mov${s} $0, -${size}(%esp)`);
      }
    }
  },
};

const popT: Template = {
  group: 'pop', weight: 1,
  gen(e) {
    const rng = e.rng;
    const size = e.size([2, 4, 4]);
    if (rng.chance(0.6)) {
      e.tag('reg');
      e.pop(size);
      e.emit(`pop${SUF[size]} ${regName(size, e.regW(size))}`);
    } else {
      // POP m computes the address after incrementing ESP (matters for ESP-based operands).
      e.pop(size);
      const m = e.mem(size);
      e.emit(`pop${SUF[size]} ${m}`);
    }
  },
};

const pushaT: Template = {
  group: 'pusha/popa', weight: 1, compound: true,
  gen(e) {
    const rng = e.rng;
    const w16 = rng.chance(0.3);
    const n = w16 ? 16 : 32;
    const sfx = w16 ? 'w' : 'l';
    e.tag(w16 ? 'o16' : 'o32');
    e.push(n);
    e.emit(`pusha${sfx}`);
    switch (rng.int(0, 2)) {
      case 0: { // drop the frame: the stack dump shows what PUSHA stored
        e.pop(n);
        e.emit(`leal ${n}(%esp), %esp`);
        break;
      }
      case 1: { // change one saved register (never EBP; the saved ESP is ignored by POPA)
        const slots = w16 ? [[0, EDI], [2, ESI], [6, ESP], [8, EBX], [10, EDX], [12, ECX], [14, EAX]]
          : [[0, EDI], [4, ESI], [12, ESP], [16, EBX], [20, EDX], [24, ECX], [28, EAX]];
        const [off, reg] = rng.pick(slots) as [number, number];
        if (reg !== ESP) e.wr(reg);
        e.emit(`mov${sfx} ${imm(rng.interesting32(), w16 ? 2 : 4)}, ${off}(%esp)`);
        e.pop(n);
        e.emit(`popa${sfx}`);
        break;
      }
      default: { // an instruction in between; POPA restores the registers
        const c = e.child({ espMem: false });
        genSimple(c, (x) => x.depth === e.depth);
        e.absorb(c);
        e.pop(n);
        e.emit(`popa${sfx}`);
      }
    }
  },
};

const pushfT: Template = {
  group: 'pushf/popf', weight: 1, compound: true,
  gen(e) {
    const rng = e.rng;
    const w16 = rng.chance(0.3);
    const sfx = w16 ? 'w' : 'l';
    const n = w16 ? 2 : 4;
    e.tag(w16 ? 'o16' : 'o32');
    switch (rng.int(0, 3)) {
      case 0: { // PUSHF; POP reg
        e.push(n);
        e.emit(`pushf${sfx}`, { r: STATUS });
        e.pop(n);
        e.emit(`pop${sfx} ${regName(w16 ? 2 : 4, e.regW(w16 ? 2 : 4))}`);
        e.tag('pushf');
        break;
      }
      case 1: case 2: { // PUSH imm; POPF: only status flags and DF change (IOPL/IF bits are ignored at CPL 3)
        let v = 0x202 | (rng.u32() & (STATUS | DF));
        if (rng.chance(0.15)) {
          v = (v & ~0x200) | (rng.u32() & 0x3200);
          e.tag('popf-privileged-bits');
        }
        e.push(n);
        e.emit(`push${sfx} ${imm(v, w16 ? 2 : 4)}`);
        e.pop(n);
        e.emit(`popf${sfx}`, { w: STATUS });
        e.tag('popf');
        break;
      }
      default: { // PUSHF; instruction; POPF
        e.push(n);
        e.emit(`pushf${sfx}`, { r: STATUS });
        const c = e.child({ espMem: false });
        genSimple(c, (x) => x.depth === e.depth);
        e.absorb(c);
        e.pop(n);
        e.emit(`popf${sfx}`, { w: STATUS });
        e.tag('pushf', 'popf');
      }
    }
  },
};

/** The body of a compound construct: one simple (non-compound) template, retried until `ok`. */
function genSimple(c: Emitter, ok: (c: Emitter) => boolean): void {
  for (let attempt = 0; attempt < 40; attempt++) {
    const cp = c.checkpoint();
    const t = pickTemplate(c.g, true);
    try {
      c.tag(`inner:${t.group}`);
      t.gen(c);
      if (ok(c)) return;
    } catch (err) {
      if (!(err instanceof Retry)) throw err;
    }
    c.rollback(cp);
  }
  throw new Retry();
}

/** Definedness after running the body again, or -1 if the body would read an undefined flag. */
function resimulate(ops: FlagOp[], D: number): number {
  for (const op of ops) {
    if ((D & op.r) !== op.r) return -1;
    D = (D | op.w) & ~op.u;
  }
  return D;
}

const jccT: Template = {
  group: 'jcc', weight: 1.5, compound: true,
  gen(e) {
    const rng = e.rng;
    const cc = pickCC(e);
    const L = e.label();
    const near = rng.chance(0.3);
    e.tag(near ? 'jcc-near' : 'jcc-short');
    e.emit(e.pfx(`${near ? '{disp32} ' : ''}j${cc.name} ${L}`, false), { r: cc.r });
    const D0 = e.D, depth0 = e.depth;
    const c = e.child({});
    genSimple(c, (x) => x.depth === depth0);
    e.absorb(c);
    e.D = D0 & c.D; // defined only if defined on both paths
    e.place(L);
  },
};

const jmpT: Template = {
  group: 'jmp', weight: 0.7, compound: true,
  gen(e) {
    const rng = e.rng;
    const L = e.label();
    switch (rng.int(0, 3)) {
      case 0: e.emit(`jmp ${L}`); e.tag('jmp-short'); break;
      case 1: e.emit(`{disp32} jmp ${L}`); e.tag('jmp-near'); break;
      case 2: { const r = e.regSetup(); e.emit(`movl $${L}, ${R32[r]}`); e.emit(e.pfx(`jmp *${R32[r]}`, false)); e.tag('jmp-indirect'); break; }
      default: { const m = e.mem(4); e.emit(`movl $${L}, ${m}`); e.emit(`jmp *${m}`); e.tag('jmp-indirect'); }
    }
    // Never executed: its effects on the generator's knowledge are discarded.
    if (rng.chance(0.3)) {
      e.lines.push('\tud2');
    } else {
      const c = e.child({});
      genSimple(c, () => true);
      e.lines.push(...c.lines);
    }
    e.place(L);
  },
};

const loopT: Template = {
  group: 'loop', weight: 1.5, compound: true,
  gen(e) {
    const rng = e.rng;
    const kind = rng.pick(['loop', 'loope', 'loopne', 'decjnz', 'loopfwd']);
    const a16 = kind !== 'decjnz' && rng.chance(0.2);
    const n = rng.int(1, 5);
    e.wr(ECX);
    e.tag(kind === 'loopfwd' ? 'loop' : kind);
    // With 0x67 the counter is CX; junk in the upper half must survive.
    e.emit(`movl ${imm(a16 ? ((rng.u32() & 0xffff0000) | n) >>> 0 : n)}, %ecx`);
    const pre = a16 ? 'addr16 ' : '';
    if (a16) e.tag('addr16', 'loop-addr16');
    if (kind === 'loopfwd') { // LOOP as a forward conditional jump
      const L = e.label();
      e.emit(`${pre}loop ${L}`);
      const D0 = e.D, depth0 = e.depth;
      const c = e.child({ forbid: e.ctx.forbid | (1 << ECX) });
      genSimple(c, (x) => x.depth === depth0);
      e.absorb(c);
      e.D = D0 & c.D;
      e.place(L);
      return;
    }
    const L = e.label();
    e.place(L);
    const depth0 = e.depth;
    const c = e.child({ forbid: e.ctx.forbid | (1 << ECX) });
    genSimple(c, (x) => x.depth === depth0);
    if (kind === 'loope' || kind === 'loopne') {
      if (!(c.D & ZF)) c.fixFlags();
    }
    e.absorb(c);
    const bodyOps = c.ops;
    if (kind === 'decjnz') {
      e.emit('decl %ecx', { w: STATUS & ~CF });
      e.emit(`jnz ${L}`, { r: ZF });
      bodyOps.push({ r: 0, w: STATUS & ~CF, u: 0 }, { r: ZF, w: 0, u: 0 });
    } else {
      e.emit(`${pre}${kind} ${L}`, { r: kind === 'loop' ? 0 : ZF });
    }
    // The body runs again with the flags it left behind: it must not read an undefined one.
    if (resimulate(bodyOps, e.D) < 0) throw new Retry();
  },
};

const jecxzT: Template = {
  group: 'jecxz', weight: 0.7, compound: true,
  gen(e) {
    const rng = e.rng;
    const a16 = rng.chance(0.3);
    if (rng.chance(0.5)) {
      e.wr(ECX);
      e.emit(`movl ${imm(a16 ? (rng.u32() & 0xffff0000) >>> 0 : 0)}, %ecx`);
    }
    const L = e.label();
    e.tag(a16 ? 'jcxz' : 'jecxz');
    if (a16) e.tag('addr16');
    e.emit(`${a16 ? 'jcxz' : 'jecxz'} ${L}`);
    const D0 = e.D, depth0 = e.depth;
    const c = e.child({});
    genSimple(c, (x) => x.depth === depth0);
    e.absorb(c);
    e.D = D0 & c.D;
    e.place(L);
  },
};

const callT: Template = {
  group: 'call/ret', weight: 1.2, compound: true,
  gen(e) {
    const rng = e.rng;
    const F = e.label(), E = e.label();
    // RET imm16 pops the arguments pushed before the call.
    let args = 0;
    if (rng.chance(0.4)) {
      const k = rng.int(1, 3);
      for (let i = 0; i < k; i++) {
        const sz = rng.pick<Size>([2, 4, 4]);
        e.push(sz);
        e.emit(`push${SUF[sz]} ${imm(rng.interesting32(), sz)}`);
        args += sz;
      }
      e.tag('ret-imm16');
    }
    const how = rng.int(0, 3);
    if (how === 2) {
      const r = e.regSetup();
      e.emit(`movl $${F}, ${R32[r]}`);
      e.push(4);
      e.emit(e.pfx(`call *${R32[r]}`, false));
      e.tag('call-indirect');
    } else if (how === 3) {
      const m = e.mem(4);
      e.emit(`movl $${F}, ${m}`);
      e.push(4);
      e.emit(`call *${m}`);
      e.tag('call-indirect');
    } else {
      e.push(4);
      e.emit(`call ${F}`);
    }
    e.emit(`jmp ${E}`);
    e.place(F);
    const depth0 = e.depth;
    const c = e.child({ espMem: false });
    genSimple(c, (x) => x.depth === depth0);
    e.absorb(c);
    e.pop(4 + args);
    if (!args && rng.chance(0.15)) {
      e.tag('rep-ret');
      e.emit('repz ret'); // F3 C3, as GCC emits for AMD's branch predictor
    } else {
      e.emit(args || rng.chance(0.2) ? `ret $${args}` : 'ret');
    }
    e.place(E);
  },
};

const enterT: Template = {
  group: 'enter/leave', weight: 1, compound: true,
  gen(e) {
    const rng = e.rng;
    if (!e.ctx.ebpBuf) throw new Retry();
    const level = rng.weighted([0, 1, 2, 3, 4], [3, 2, 2, 1, 1]);
    const size = rng.pick([0, 4, 8, 12, 16, 32, 3, 6]);
    const frame = 4 + 4 * level + size;
    e.push(frame);
    e.tag(`enter-level${Math.min(level, 2)}`);
    // With level > 1 ENTER copies frame pointers from [EBP-4], [EBP-8], …: inside buf.
    e.emit(`enter $${size}, $${level}`);
    const c = e.child({ ebpBuf: false, espMem: false });
    if (4 * level + size >= 4 && rng.chance(0.5)) {
      // Touch the new frame through EBP.
      const off = -rng.int(4, 4 * level + size);
      const r = c.rng.int(0, 7);
      if (rng.chance(0.5)) c.emit(`movl ${R32[r]}, ${off}(%ebp)`);
      else c.emit(`movl ${off}(%ebp), ${R32[c.regW(4)]}`);
    }
    genSimple(c, (x) => x.depth === e.depth);
    e.absorb(c);
    e.pop(frame);
    e.emit('leave');
  },
};

const stringT: Template = {
  group: 'string', weight: 2.5,
  gen(e) {
    const rng = e.rng;
    const op = rng.pick(['movs', 'stos', 'lods', 'cmps', 'scas']);
    const size = e.size();
    const s = SUF[size];
    const usesSrc = op === 'movs' || op === 'lods' || op === 'cmps';
    const usesDst = op !== 'lods';
    const prefix = rng.chance(0.25) ? ''
      : op === 'cmps' || op === 'scas' ? rng.pick(['repe', 'repz', 'repne', 'repnz', 'rep']) : 'rep';
    const n = prefix ? rng.weighted([0, 1, rng.int(2, 8), rng.int(9, BUF_SIZE / size / 2)], [1, 2, 6, 2]) : 1;
    const down = rng.chance(0.35);
    const cmpLike = op === 'cmps' || op === 'scas';
    const kind = prefix === '' ? 'norep'
      : prefix === 'repe' || prefix === 'repz' || (prefix === 'rep' && cmpLike) ? 'repe'
      : prefix === 'repne' || prefix === 'repnz' ? 'repne' : 'rep';
    e.tag(op, kind, down ? 'df1' : 'df0');
    if (prefix) { e.wr(ECX); e.pinned |= 1 << ECX; }
    if (usesSrc) { e.wr(ESI); e.pinned |= 1 << ESI; }
    if (usesDst) { e.wr(EDI); e.pinned |= 1 << EDI; }
    if (op === 'lods') e.wr(EAX);
    // A start offset such that all n elements stay inside buf in the chosen direction.
    const span = Math.max(n, 1) * size;
    const start = (): number => (down ? rng.int(span - size, BUF_SIZE - size) : rng.int(0, BUF_SIZE - span));
    const ptr = (reg: string, off: number): void => {
      if (e.ctx.ebpBuf && rng.chance(0.5)) e.emit(`leal ${off - 128}(%ebp), ${reg}`);
      else e.emit(`movl $buf+${off}, ${reg}`);
    };
    const srcOff = start();
    let dstOff = start();
    if (op === 'cmps' && rng.chance(0.35)) dstOff = srcOff; // equal strings: REPE runs to the end
    if (op === 'movs' && rng.chance(0.2)) dstOff = Math.max(0, Math.min(BUF_SIZE - span, srcOff + (down ? -size : size)));
    if (usesSrc) ptr('%esi', srcOff);
    if (usesDst) ptr('%edi', dstOff);
    if (op === 'scas' && rng.chance(0.6)) {
      // Look for an element that is really there (REPNE stops on it).
      const k = rng.int(0, Math.max(n, 1) - 1);
      const at = dstOff + (down ? -k : k) * size;
      e.wr(EAX);
      e.emit(`mov${s} buf+${at}, ${ACC[size]}`);
    }
    if (prefix) e.emit(`movl ${imm(n)}, %ecx`);
    e.emit(down ? 'std' : 'cld');
    let operands = '';
    if (usesSrc && rng.chance(0.15)) {
      const seg = rng.pick(['%ss:', '%es:', '%ds:']);
      e.tag('segoverride');
      operands = op === 'movs' ? ` ${seg}(%esi), %es:(%edi)` : op === 'lods' ? ` ${seg}(%esi)` : ` %es:(%edi), ${seg}(%esi)`;
    }
    const f = (op === 'cmps' || op === 'scas') && n > 0 ? { w: STATUS } : {};
    e.emit(`${prefix ? prefix + ' ' : ''}${op}${s}${operands}`, f);
  },
};

/** BOUND (never out of range), ARPL, INTO (with OF known to be 0). */
const misc: Template = {
  group: 'bound/arpl/into', weight: 0.6,
  gen(e) {
    const rng = e.rng;
    switch (rng.int(0, 2)) {
      case 0: {
        // Bounds [min, max] of the signed range: any index is inside.
        const size = e.size([2, 4]);
        const t = rng.int(0, BUF_SIZE - 2 * size);
        const at = (o: number): string => (e.ctx.ebpBuf && rng.chance(0.5) ? `${o - 128}(%ebp)` : `buf+${o}`);
        e.emit(`mov${SUF[size]} ${imm(size === 2 ? 0x8000 : 0x80000000, size)}, ${at(t)}`);
        e.emit(`mov${SUF[size]} ${imm(size === 2 ? 0x7fff : 0x7fffffff, size)}, ${at(t + size)}`);
        e.tag('bound', 'mem');
        e.emit(`bound${SUF[size]} ${regName(size, e.regR(size))}, ${at(t)}`);
        break;
      }
      case 1: {
        e.tag('arpl', 'o16');
        const d = e.rmW(2);
        e.emit(`arpl ${regName(2, e.regR(2))}, ${d.text}`, { w: ZF });
        break;
      }
      default: {
        const size = e.size();
        e.tag('into');
        e.emit(`test${SUF[size]} ${regName(size, e.regR(size))}, ${regName(size, e.regR(size))}`, { w: STATUS & ~AF, u: AF });
        e.emit('into', { r: OF }); // OF = 0 after TEST: no #OF
      }
    }
  },
};

/** The opcodes an SMC step may patch `addl %src, %dst` (01 /r) into, with their flag effects. */
const SMC_OPS: { byte: number; name: string; w: number; u: number }[] = [
  { byte: 0x29, name: 'sub', w: STATUS, u: 0 },
  { byte: 0x31, name: 'xor', w: STATUS & ~AF, u: AF },
  { byte: 0x09, name: 'or', w: STATUS & ~AF, u: AF },
  { byte: 0x21, name: 'and', w: STATUS & ~AF, u: AF },
  { byte: 0x89, name: 'mov', w: 0, u: 0 },
  { byte: 0x11, name: 'adc', w: STATUS, u: 0 },
];

/**
 * Self-modifying code, the way SDM Vol. 3 §8.1.3 allows it: run a snippet
 * (so a decoded copy may be cached), store new code bytes over it, jump to
 * it again. The snippet lives in a writable+executable `.smc` section.
 */
const smcT: Template = {
  group: 'smc', weight: 0.6, compound: true,
  gen(e) {
    const rng = e.rng;
    const F = e.label();
    const r1 = e.regW(4), r2 = e.regW(4, 1 << r1);
    const patchImm = rng.chance(0.5);
    const old = rng.interesting32();
    const lines = patchImm
      ? [`${F}:`, `	movl ${imm(old)}, ${R32[r1]}`, '	ret']
      : [`${F}:`, `	addl ${R32[r2]}, ${R32[r1]}`, '	ret'];
    e.lines.push('	.pushsection .smc, "awx"', ...lines, '	.popsection');
    e.push(4);
    e.emit(`call ${F}`, patchImm ? {} : { w: STATUS });
    e.pop(4);
    let f: { r?: number; w?: number; u?: number } = {};
    if (patchImm) {
      e.emit(`movl ${R32[r1]}, ${R32[r2]}`);
      const how = rng.int(0, 2);
      const v = rng.interesting32();
      if (how === 0) e.emit(`movl ${imm(v)}, ${F}+1`);
      else if (how === 1) e.emit(`movw ${imm(v, 2)}, ${F}+${rng.int(1, 3)}`);
      else {
        const p = e.regSetup(1 << r1 | 1 << r2);
        e.emit(`movl $${F}, ${R32[p]}`);
        e.emit(`movb ${imm(v, 1)}, ${rng.int(1, 4)}(${R32[p]})`);
      }
      e.tag('smc-imm');
    } else {
      const op = rng.pick(SMC_OPS);
      e.emit(`movb ${imm(op.byte, 1)}, ${F}`);
      f = { r: op.byte === 0x11 ? CF : 0, w: op.w, u: op.u };
      e.tag('smc-opcode');
    }
    const J = e.label();
    e.emit(`jmp ${J}`); // the jump the SDM asks for between the store and the new code
    e.place(J);
    e.push(4);
    e.emit(`call ${F}`, f);
    e.pop(4);
  },
};

export const TEMPLATES: Template[] = [
  mov, movx('movz'), movx('movs'), lea, xchg, cmpxchg, cmpxchg8b, xadd, bswap,
  ...['add', 'adc', 'sub', 'sbb', 'and', 'or', 'xor', 'cmp', 'test'].map(alu),
  unary('inc'), unary('dec'), unary('neg'), unary('not'),
  shift(['shl', 'sal', 'shr', 'sar'], 'shift'), shift(['rol', 'ror'], 'rotate'), shift(['rcl', 'rcr'], 'rcl/rcr'), shld,
  mul1, imul2, imul3, div('div'), div('idiv'),
  bt('bt'), bt('bts'), bt('btr'), bt('btc'), bsf('bsf'), bsf('bsr'),
  setcc, cmovcc, jccT, jmpT, loopT, jecxzT,
  pushT, popT, pushaT, pushfT, enterT, callT,
  stringT, conv, lahfsahf, flagops, bcd, nop, xlat, misc, smcT,
];

/** Every group the generator must produce (checked by the coverage test). */
export const REQUIRED_GROUPS: string[] = [...new Set(TEMPLATES.map((t) => t.group))];

/** Forms and variants that must also show up (operand sizes, prefixes, counts, directions…). */
export const REQUIRED_TAGS: string[] = [
  'o8', 'o16', 'o32', 'reg', 'mem', 'imm', 'acc', 'sib', 'espmem', 'moffs', 'segoverride', 'lock',
  'count1', 'countimm', 'countcl', 'c1-count1', 'btimm', 'btreg', 'btregmem', 'mul1', 'imul1',
  'movs', 'stos', 'lods', 'cmps', 'scas', 'rep', 'repe', 'repne', 'norep', 'df0', 'df1',
  'jcc-short', 'jcc-near', 'jmp-short', 'jmp-near', 'jmp-indirect', 'call-indirect', 'ret-imm16',
  'loop', 'loope', 'loopne', 'decjnz', 'jecxz', 'jcxz', 'loop-addr16', 'addr16', 'lea16',
  'enter-level0', 'enter-level1', 'enter-level2', 'pushf', 'popf', 'popf-privileged-bits', 'push-esp',
  'cbtw', 'cwtl', 'cwtd', 'cltd', 'lahf', 'sahf', 'clc', 'stc', 'cmc', 'cld', 'std',
  'daa', 'das', 'aaa', 'aas', 'aam', 'aad', 'nop0f1f', 'cmpxchg-equal', 'xchg-acc', 'redundant-prefix', 'rep-ret',
  'addrwrap', 'segreg', 'bsf-zero', 'bound', 'arpl', 'into', 'smc-imm', 'smc-opcode',
];

function pickTemplate(g: GenState, simpleOnly: boolean): Template {
  const list = simpleOnly ? g.simple : g.all;
  return g.rng.weighted(list, list.map((t) => t.weight));
}

// ---------------------------------------------------------------------------
// Programs

export interface Step {
  index: number;
  /** Symbol at the first instruction of the step (for mapping an EIP back to a step). */
  label: string;
  group: string;
  lines: string[];
  tags: string[];
}

export interface Dump {
  /** Dump id (== index of the step it follows). */
  id: number;
  afterStep: number;
  /** EFLAGS bits compared in this dump. */
  mask: number;
}

export interface GeneratedProgram {
  seed: number;
  source: string;
  steps: Step[];
  dumps: Dump[];
  layout: DumpLayout;
  addr16: boolean;
  initialEflags: number;
}

export interface GenOptions {
  /** Number of steps (default: 20..60, from the seed). */
  steps?: number;
  /**
   * Probability of a dump after each step (the last step is always dumped).
   * Default: 0.15, 0.4 or 1, drawn from the seed. The instruction stream does
   * not depend on it, so a failing seed can be re-run with 1 to find the
   * exact instruction.
   */
  dumpProbability?: number;
  /** Generate data accesses with 16-bit addressing into a buffer at LOW_BUF_ADDR. */
  addr16?: boolean;
  /**
   * Template groups to leave out, e.g. ['bcd'] to look past a known bug.
   * (Changes the instruction stream of every seed.)
   */
  exclude?: string[];
}

function dataBytes(rng: Rng, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i += 16) {
    const row: string[] = [];
    for (let j = i; j < Math.min(n, i + 16); j++) {
      // Some zeros and 0xff/0x80 so that equal strings, zero sources and sign bits occur.
      const r = rng.int(0, 9);
      row.push(hex(r === 0 ? 0 : r === 1 ? rng.pick([0xff, 0x80, 0x7f, 0x01]) : rng.int(0, 255)));
    }
    out.push(`\t.byte ${row.join(',')}`);
  }
  return out.join('\n');
}

export function generateProgram(seed: number, opts: GenOptions = {}): GeneratedProgram {
  const rng = new Rng(seed);
  const addr16 = opts.addr16 ?? false;
  const all = TEMPLATES.filter((t) => !opts.exclude?.includes(t.group));
  const g: GenState = { rng, labels: 0, addr16, all, simple: all.filter((t) => !t.compound) };
  const nSteps = opts.steps ?? rng.int(20, 60);
  // Sparse dumps keep long instruction sequences intact (lazily computed
  // flags, partial-register writes…); dense ones catch a wrong value before a
  // later instruction overwrites it. Each program gets one of three densities.
  // (Drawn even when overridden, so overriding keeps the instruction stream.)
  const seededDensity = rng.pick([0.15, 0.4, 1]);
  const pDump = opts.dumpProbability ?? seededDensity;
  const layout = dumpLayout(addr16);

  const initialEflags = 0x202 | (rng.u32() & (STATUS | DF));
  const head: string[] = [
    `# kmemsim differential test program, seed ${seed}`,
    '\t.text',
    '\t.globl _start',
    '_start:',
    `\tmovl $stk+${ESP0}, %esp`,
    `\tpushl ${imm(initialEflags)}`,
    '\tpopfl',
  ];
  for (const r of WRITABLE) head.push(`\tmovl ${imm(rng.interesting32())}, ${R32[r]}`);
  head.push('\tmovl $buf+128, %ebp');

  const steps: Step[] = [];
  const dumps: Dump[] = [];
  const body: string[] = [];
  const e = new Emitter(g, STATUS, 0, { forbid: (1 << ESP) | (1 << EBP), ebpBuf: true, espMem: true, inner: false });
  for (let i = 0; i < nSteps; i++) {
    const start = e.checkpoint();
    let group = '';
    for (let attempt = 0; ; attempt++) {
      if (attempt > 200) throw new Error(`generator stuck at seed ${seed}, step ${i}`);
      const cp = e.checkpoint();
      e.pinned = 0;
      const t = pickTemplate(g, false);
      try {
        t.gen(e);
        group = t.group;
        break;
      } catch (err) {
        if (!(err instanceof Retry)) throw err;
        e.rollback(cp);
      }
    }
    const label = `S${i}`;
    const lines = e.lines.slice(start.lines);
    steps.push({ index: i, label, group, lines, tags: e.tags.slice(start.tags) });
    body.push(`${label}:`, ...lines);
    if (i === nSteps - 1 || rng.chance(pDump)) {
      const mask = (e.D & STATUS) | ALWAYS_COMPARED;
      dumps.push({ id: i, afterStep: i, mask });
      body.push(`\tmovl $${i}, rec`, `\tmovl ${imm(mask)}, rec+40`, '\tcall dump');
    }
  }

  const tail: string[] = [
    'done:',
    '\tmovl $1, %eax',
    '\txorl %ebx, %ebx',
    '\tint $0x80',
    '',
    '# Dump the state without changing it: registers, EFLAGS & mask, buf, stack',
    '# area (one write), then the low buffer; restore EFLAGS and registers.',
    'dump:',
    '\tmovl %eax, rec+4',
    '\tmovl %ecx, rec+8',
    '\tmovl %edx, rec+12',
    '\tmovl %ebx, rec+16',
    '\tleal 4(%esp), %eax',
    '\tmovl %eax, rec+20',
    '\tmovl %ebp, rec+24',
    '\tmovl %esi, rec+28',
    '\tmovl %edi, rec+32',
    '\tpushfl',
    '\tpopl %eax',
    '\tmovl $0, -4(%esp)        # scrub the raw EFLAGS (undefined bits) from the stack area',
    '\tmovl %eax, rawfl',
    '\tandl rec+40, %eax',
    '\tmovl %eax, rec+36',
    '\tmovl $4, %eax',
    '\tmovl $1, %ebx',
    '\tmovl $rec, %ecx',
    `\tmovl $${44 + BUF_SIZE}, %edx`,
    '\tint $0x80',
    '\tmovl $4, %eax',
    '\tmovl $1, %ebx',
    '\tmovl $stk, %ecx',
    `\tmovl $${STACK_SIZE}, %edx`,
    '\tint $0x80',
    ...(addr16 ? ['\tmovl $4, %eax', '\tmovl $1, %ebx', '\tmovl $lowbuf, %ecx', `\tmovl $${LOW_BUF_SIZE}, %edx`, '\tint $0x80'] : []),
    '\tpushl rawfl',
    '\tpopfl',
    '\tmovl $0, -4(%esp)',
    '\tmovl rec+4, %eax',
    '\tmovl rec+8, %ecx',
    '\tmovl rec+12, %edx',
    '\tmovl rec+16, %ebx',
    '\tmovl rec+24, %ebp',
    '\tmovl rec+28, %esi',
    '\tmovl rec+32, %edi',
    '\tret',
    '',
    '\t.data',
    '# buf+128 (where EBP points) is the start of a page, so that accesses around',
    '# EBP cross a page boundary.',
    '\t.balign 4096',
    `\t.skip ${4096 - 44 - 128}`,
    'rec:\t.fill 11, 4, 0',
    'buf:',
    dataBytes(rng, BUF_SIZE),
    'rawfl:\t.long 0',
    `# A page starts ${STACK_PAGE_BELOW_ESP0} bytes below the initial ESP: pushes cross it.`,
    '\t.balign 4096',
    `\t.skip ${4096 - (ESP0 - STACK_PAGE_BELOW_ESP0)}`,
    'stk:',
    dataBytes(rng, STACK_SIZE),
  ];
  if (addr16) tail.push('', '\t.section .lowbuf, "aw"', 'lowbuf:', dataBytes(rng, LOW_BUF_SIZE));
  const source = [...head, ...body, ...tail, ''].join('\n');
  return { seed, source, steps, dumps, layout, addr16, initialEflags };
}

// ---------------------------------------------------------------------------
// Assembling

function ldArgs(src: string, obj: string, exe: string): string[] {
  const args = ['-m', 'elf_i386', '-static', '-e', '_start', '-o', exe, obj];
  if (src.includes('.section .lowbuf')) args.push(`--section-start=.lowbuf=${hex(LOW_BUF_ADDR)}`);
  return args;
}

/**
 * Assemble and link `src` into a static i386 executable in `dir` (created if
 * needed); returns the executable's path. Throws with the assembler's
 * messages if the source does not assemble.
 */
export function assembleAndLink(src: string, dir: string, name = 'prog'): string {
  mkdirSync(dir, { recursive: true });
  const s = join(dir, `${name}.s`), o = join(dir, `${name}.o`), x = join(dir, name);
  writeFileSync(s, src);
  try {
    execFileSync('as', ['--32', '-o', o, s], { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync('ld', ldArgs(src, o, x), { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`assembling ${s} failed: ${e.stderr?.toString() || e.message}`);
  }
  return x;
}

function execFileP(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`));
      else resolve();
    });
  });
}

/** Like assembleAndLink, without blocking: lets a pool of `as`/`ld` processes run in parallel. */
export async function assembleAndLinkAsync(src: string, dir: string, name = 'prog'): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const s = join(dir, `${name}.s`), o = join(dir, `${name}.o`), x = join(dir, name);
  writeFileSync(s, src);
  await execFileP('as', ['--32', '-o', o, s]);
  await execFileP('ld', ldArgs(src, o, x));
  return x;
}
