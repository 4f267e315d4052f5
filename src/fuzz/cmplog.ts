/**
 * Compare logging for input-to-state matching (AFL++'s cmplog, RedQueen;
 * libFuzzer's -use_cmp/trace-cmp): one run of an input with the operands
 * of its compares recorded per compare site, for ./input-to-state.ts to
 * look for in the input.
 *
 * A separate instrumentation variant of the block compiler
 * (src/cpu/jit/instrumentation.ts), installed only around a cmplog run, so
 * normal executions compile and run without it (AFL++ builds a second
 * binary with `-c`; kmemsim compiles a second variant of the blocks):
 *
 * - compiled code: the compiler's `compare` site (every inline CMP and
 *   SUB: sizes 1, 2, 4), and its `executor` site for CMPS and SCAS
 *   (memcmp/strcmp loops the compiler leaves to their executors);
 * - interpreted code (blocks not compiled yet, and every instruction
 *   kmemcheck single-steps after its page faults): `interpreted`, which
 *   reads the same operands from the instruction and the registers before
 *   it runs, memory through a page walk that has no side effects (hidden
 *   pages included: kmemcheck's buffer is what the compares read);
 * - routines (AFL++'s "rtn" cmplog, `-l 2`): at the first instruction of
 *   memcmp, strcmp, strncmp, strcasecmp, strncasecmp and bcmp the two
 *   buffers are logged as byte strings of up to 32 bytes, arguments taken
 *   by the target's convention (a module's regparm(3): EAX, EDX, ECX; a
 *   user program's cdecl: the stack).
 *
 * TEST is not logged: its operands are a value and a mask, never two
 * values meant to be equal. A site keeps its first 32 distinct operand
 * pairs (AFL++'s CMP_MAP_H), which are what one run can tell.
 */
import type { CPU } from '../cpu/cpu.js';
import type { Instr } from '../cpu/instr.js';
import { REP_NONE } from '../cpu/instr.js';
import type { JitCompare, JitInstructionSite, JitInstrumentation, JitSite } from '../cpu/jit.js';
import { composeInstrumentation } from '../cpu/jit.js';
import { operandAddress } from '../shadow/access.js';
import { PTE_HIDDEN, PTE_P } from '../kernel/paging.js';

/** Pairs kept per compare site (AFL++'s CMP_MAP_H). */
export const PAIRS_PER_SITE = 32;
/** Bytes of a routine's operands logged (AFL++'s rtn entries hold 32). */
export const ROUTINE_BYTES = 32;

/** Two integer operands of one compare. */
export interface IntegerPair {
  site: number;
  size: 1 | 2 | 4;
  left: number;
  right: number;
}

/** Two byte strings a memcmp-like routine (or REPE CMPS) compared. */
export interface BytesPair {
  site: number;
  left: Uint8Array;
  right: Uint8Array;
}

/** The routines whose arguments are logged, and how many of them are pointers to compare plus an optional length. */
export const COMPARE_ROUTINES: Readonly<Record<string, { length: boolean; string: boolean }>> = {
  memcmp: { length: true, string: false },
  bcmp: { length: true, string: false },
  strcmp: { length: false, string: true },
  strncmp: { length: true, string: true },
  strcasecmp: { length: false, string: true },
  strncasecmp: { length: true, string: true },
};

/** How a routine's arguments are passed: regparm(3) (Linux i386 kernel code) or cdecl (user programs). */
export type CallingConvention = 'regparm' | 'cdecl';

/** A pair's identity: its site and operands (the fuzzer tries each pair on the first entry that shows it). */
export function pairKey(p: IntegerPair | BytesPair): string {
  if ('size' in p) return `${p.site}:${p.size}:${p.left}:${p.right}`;
  return `${p.site}:${Buffer.from(p.left).toString('hex')}:${Buffer.from(p.right).toString('hex')}`;
}

/** The operand pairs of one run, per site, in the order first seen. */
export class CompareLog {
  readonly integers: IntegerPair[] = [];
  readonly strings: BytesPair[] = [];
  /** Compares seen (logged or not). */
  seen = 0;
  private readonly perSite = new Map<number, Set<string>>();

  /** A site's new pair? (false once it holds PAIRS_PER_SITE, or when it holds this one) */
  private admit(site: number, key: string): boolean {
    let s = this.perSite.get(site);
    if (s === undefined) this.perSite.set(site, (s = new Set()));
    if (s.size >= PAIRS_PER_SITE || s.has(key)) return false;
    s.add(key);
    return true;
  }

  /** An integer compare at `site` (operands masked to `size`). */
  integer(site: number, size: 1 | 2 | 4, left: number, right: number): void {
    this.seen++;
    const l = size === 4 ? left >>> 0 : left & ((1 << (8 * size)) - 1);
    const r = size === 4 ? right >>> 0 : right & ((1 << (8 * size)) - 1);
    if (l === r || !this.admit(site, `${size}:${l}:${r}`)) return;
    this.integers.push({ site, size, left: l, right: r });
  }

  /** Two byte strings compared at `site`. */
  bytes(site: number, left: Uint8Array, right: Uint8Array): void {
    this.seen++;
    if (left.length === 0 || right.length === 0 || Buffer.from(left).equals(Buffer.from(right))) return;
    if (!this.admit(site, `b:${Buffer.from(left).toString('hex')}:${Buffer.from(right).toString('hex')}`)) return;
    this.strings.push({ site, left, right });
  }

  /** Drop the pairs `tried` has, and add the others to it. */
  keepNew(tried: Set<string>): void {
    const fresh = <T extends IntegerPair | BytesPair>(list: T[]): T[] => list.filter((p) => {
      const k = pairKey(p);
      if (tried.has(k)) return false;
      tried.add(k);
      return true;
    });
    const ints = fresh(this.integers);
    const strs = fresh(this.strings);
    this.integers.splice(0, this.integers.length, ...ints);
    this.strings.splice(0, this.strings.length, ...strs);
  }

  clear(): void {
    this.integers.length = 0;
    this.strings.length = 0;
    this.perSite.clear();
    this.seen = 0;
  }
}

/**
 * One byte of guest memory at linear address `lin` through the current
 * page tables, without side effects (no accessed/dirty bits, no fault):
 * pages kmemcheck hides (PTE_HIDDEN) read as mapped. -1 when unmapped.
 */
export function peekLinear(cpu: CPU, lin: number): number {
  let p = lin >>> 0;
  if (cpu.cr0 & 0x80000000) {
    const pde = cpu.mem.read32(((cpu.cr3 & ~0xfff) + ((p >>> 22) << 2)) >>> 0);
    if (!(pde & PTE_P)) return -1;
    if (pde & 0x80 && cpu.cr4 & 0x10) p = ((pde & 0xffc00000) | (p & 0x3fffff)) >>> 0;
    else {
      const pte = cpu.mem.read32(((pde & ~0xfff) + (((p >>> 12) & 0x3ff) << 2)) >>> 0);
      if (!(pte & (PTE_P | PTE_HIDDEN))) return -1;
      p = ((pte & ~0xfff) | (p & 0xfff)) >>> 0;
    }
  }
  return p < cpu.mem.size ? cpu.mem.read8(p) : -1;
}

/** `n` bytes at `lin` (fewer when memory ends); with `string`, up to and including a NUL. */
function peekBytes(cpu: CPU, lin: number, n: number, string: boolean): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = peekLinear(cpu, (lin + i) | 0);
    if (b < 0) break;
    out.push(b);
    if (string && b === 0) break;
  }
  return Uint8Array.from(out);
}

/** A little-endian value of `size` bytes at `lin`, or null where memory is unmapped. */
function peekValue(cpu: CPU, lin: number, size: number): number | null {
  let v = 0;
  for (let i = 0; i < size; i++) {
    const b = peekLinear(cpu, (lin + i) | 0);
    if (b < 0) return null;
    v += b * 2 ** (8 * i);
  }
  return v;
}

/** The E operand of `ins` (register or memory), or null when memory cannot be read. */
function operandE(cpu: CPU, ins: Instr): number | null {
  if (ins.mod === 3) return cpu.getReg(ins.size, ins.rm);
  return peekValue(cpu, operandAddress(ins, cpu), ins.size);
}

const ALU_CMP = 7, ALU_SUB = 5;

/**
 * The operands of an interpreted CMP or SUB, before it runs (SDM Vol. 2
 * CMP, SUB: forms 28–2D, 38–3D, and group 1, 80/81/83 /5 and /7), or null
 * for any other instruction.
 */
export function compareOperands(cpu: CPU, ins: Instr): [number, number] | null {
  const op = ins.op;
  if (op >= 0x28 && op <= 0x3d && (op >>> 3 === ALU_CMP || op >>> 3 === ALU_SUB)) {
    const form = op & 7;
    const m = ins.size === 4 ? -1 : (1 << (8 * ins.size)) - 1;
    switch (form) {
      case 0: case 1: { // E, G
        const e = operandE(cpu, ins);
        return e === null ? null : [e, cpu.getReg(ins.size, ins.reg)];
      }
      case 2: case 3: { // G, E
        const e = operandE(cpu, ins);
        return e === null ? null : [cpu.getReg(ins.size, ins.reg), e];
      }
      case 4: case 5: // AL/eAX, imm
        return [cpu.getReg(ins.size, 0), ins.imm & m];
    }
    return null;
  }
  if ((op === 0x80 || op === 0x81 || op === 0x83) && (ins.reg === ALU_CMP || ins.reg === ALU_SUB)) {
    const e = operandE(cpu, ins);
    const m = ins.size === 4 ? -1 : (1 << (8 * ins.size)) - 1;
    return e === null ? null : [e, ins.imm & m];
  }
  return null;
}

const isCmps = (op: number): boolean => op === 0xa6 || op === 0xa7;
const isScas = (op: number): boolean => op === 0xae || op === 0xaf;

/** A routine whose arguments are logged at its first instruction. */
export interface CompareRoutine {
  name: string;
  address: number;
}

/**
 * The compare-logging instrumentation. withCompareLog composes it after the
 * instrumentation the CPU had (a precise checker's), so the checkers see
 * the cmplog run as any other.
 */
export class CompareLogInstrumentation implements JitInstrumentation {
  readonly key: string;
  private readonly routines: Map<number, string>;

  constructor(
    readonly log: CompareLog,
    routines: readonly CompareRoutine[],
    readonly convention: CallingConvention,
  ) {
    this.routines = new Map(routines.map((r) => [r.address | 0, r.name]));
    // The routines' addresses decide the code emitted: they are part of the key.
    this.key = `cmplog[${[...this.routines.keys()].sort((a, b) => a - b).join(',')}]`;
  }

  compare(c: JitCompare): string {
    if (c.op === 'test') return '';
    return `${c.bind(this.log)}.integer(${c.ins.addr | 0}, ${c.size}, ${c.left}, ${c.right});`;
  }

  executor(s: JitSite): string {
    if (!isCmps(s.ins.op) && !isScas(s.ins.op)) return '';
    return `${s.sync} ${s.bind(this)}.stringInstruction(cpu, ${s.bind(s.ins)});`;
  }

  instruction(s: JitInstructionSite): string {
    if (!this.routines.has(s.ins.addr | 0)) return '';
    return `${s.sync} ${s.bind(this)}.routineEntry(cpu, ${s.ins.addr | 0});`;
  }

  interpreted(cpu: CPU, ins: Instr): void {
    if (this.routines.has(ins.addr | 0)) this.routineEntry(cpu, ins.addr | 0);
    if (ins.native !== null || ins.def === null) return;
    if (isCmps(ins.op) || isScas(ins.op)) {
      this.stringInstruction(cpu, ins);
      return;
    }
    const ops = compareOperands(cpu, ins);
    if (ops !== null) this.log.integer(ins.addr | 0, ins.size as 1 | 2 | 4, ops[0], ops[1]);
  }

  /**
   * CMPS and SCAS (SDM Vol. 2): with a REP prefix the strings the repeat
   * compares (up to ECX elements, 32 bytes) as byte strings; one element
   * otherwise as an integer compare (SCAS: eAX with ES:[eDI]).
   */
  stringInstruction(cpu: CPU, ins: Instr): void {
    const a32 = ins.asize === 4;
    const esi = (cpu.segBase[ins.seg]! + (a32 ? cpu.regs[6]! : cpu.regs[6]! & 0xffff)) | 0;
    const edi = (cpu.segBase[0]! + (a32 ? cpu.regs[7]! : cpu.regs[7]! & 0xffff)) | 0;
    const size = ins.size as 1 | 2 | 4;
    if (ins.rep !== REP_NONE && isCmps(ins.op)) {
      const count = a32 ? cpu.regs[1]! >>> 0 : cpu.regs[1]! & 0xffff;
      const n = Math.min(ROUTINE_BYTES, count * size);
      if (n > 0) this.log.bytes(ins.addr | 0, peekBytes(cpu, esi, n, false), peekBytes(cpu, edi, n, false));
      return;
    }
    const mem = peekValue(cpu, edi, size);
    if (mem === null) return;
    if (isScas(ins.op)) this.log.integer(ins.addr | 0, size, cpu.getReg(size, 0), mem);
    else {
      const src = peekValue(cpu, esi, size);
      if (src !== null) this.log.integer(ins.addr | 0, size, src, mem);
    }
  }

  /** The first instruction of a memcmp-like routine: its two buffers, as the call passed them. */
  routineEntry(cpu: CPU, addr: number): void {
    const name = this.routines.get(addr);
    if (name === undefined) return;
    const kind = COMPARE_ROUTINES[name]!;
    let a: number, b: number, n: number;
    if (this.convention === 'regparm') {
      a = cpu.regs[0]!;
      b = cpu.regs[2]!;
      n = cpu.regs[1]!;
    } else {
      const esp = (cpu.segBase[2]! + cpu.regs[4]!) | 0;
      a = peekValue(cpu, esp + 4, 4) ?? 0;
      b = peekValue(cpu, esp + 8, 4) ?? 0;
      n = peekValue(cpu, esp + 12, 4) ?? 0;
    }
    const len = kind.length ? Math.min(ROUTINE_BYTES, n >>> 0) : ROUTINE_BYTES;
    if (len === 0) return;
    // The site: the routine's address would merge every caller; the return address tells them apart.
    const ret = peekValue(cpu, (cpu.segBase[2]! + cpu.regs[4]!) | 0, 4) ?? addr;
    let left = peekBytes(cpu, a, len, kind.string);
    let right = peekBytes(cpu, b, len, kind.string);
    if (kind.string) {
      // A string ends at its NUL: the terminator is compared too, but what the input must hold is the text.
      left = left[left.length - 1] === 0 ? left.subarray(0, left.length - 1) : left;
      right = right[right.length - 1] === 0 ? right.subarray(0, right.length - 1) : right;
    }
    this.log.bytes(ret | 0, left, right);
  }
}

/**
 * Run `body` with compare logging compiled into the CPU's blocks (and the
 * interpreter hooked), then put the CPU's own instrumentation back. The
 * code compiled before is dropped on the way in and out (the variants
 * differ), which is why a cmplog run is made once per queue entry.
 */
export function withCompareLog<T>(cpu: CPU, log: CompareLog, routines: readonly CompareRoutine[], convention: CallingConvention, body: () => T): T {
  const before = cpu.jitInstrumentation;
  const logging = new CompareLogInstrumentation(log, routines, convention);
  const mine = before === null ? logging : composeInstrumentation(before, logging);
  cpu.setJitInstrumentation(mine);
  try {
    return body();
  } finally {
    // A precise checker that (un)installed itself meanwhile owns the slot now: leave it.
    if (cpu.jitInstrumentation === mine) cpu.setJitInstrumentation(before);
  }
}

/** The compare routines `lookup` (name → address, as the target links them) finds. */
export function compareRoutines(lookup: (name: string) => number | undefined): CompareRoutine[] {
  const out: CompareRoutine[] = [];
  for (const name of Object.keys(COMPARE_ROUTINES)) {
    const address = lookup(name);
    if (address !== undefined) out.push({ name, address });
  }
  return out;
}
