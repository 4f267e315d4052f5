/**
 * The instructions the WebAssembly tier generates inline, each following the
 * same rules as its executor (src/cpu/exec/*, SDM Vol. 2) and as its
 * JavaScript template (../jit/templates.ts): the result, the flags (lazy,
 * in locals), and the order of the memory accesses, so the same access
 * faults. Every access that can fault comes before the instruction changes
 * anything; ESP changes only after its stack access. A generator returns
 * false, having emitted nothing, for a form it does not cover; the
 * instruction then calls its executor from the generated code.
 */
import type { Instr, ExecFn } from '../instr.js';
import { REP_NONE } from '../instr.js';
import * as shift from '../exec/shift.js';
import * as data from '../exec/data.js';
import * as alu from '../exec/alu.js';
import * as stack from '../exec/stack.js';
import * as ctl from '../exec/control.js';
import * as md from '../exec/muldiv.js';
import * as bits from '../exec/bits.js';
import * as str from '../exec/string.js';
import { ADD, OR, ADC, SBB, AND, SUB, XOR, CMP } from '../exec/alu.js';
import { ARITH, AF, CF, DF, OF, PF, SF, ZF, Lazy } from '../flags.js';
import { Op } from './encoder.js';
import * as S from './state.js';
import { type BlockGen, type Ex, type Size, BRK, CIN, R0, add, and, bin, get, k32, mask, or, set, shl, shrS, shrU, sub, xor } from './codegen.js';

/** True: emitted; 'transfer': emitted and the block ends (EIP stored, returned); false: not covered. */
export type Outcome = boolean | 'transfer';
export type Generator = (g: BlockGen, ins: Instr) => Outcome;

const ESP = 4;
const sizeOf = (ins: Instr): Size => ins.size as Size;
const immOf = (ins: Instr): Ex => k32(ins.size === 4 ? ins.imm | 0 : ins.imm & mask(ins.size));
const wrap = (size: Size, e: Ex): Ex => (size === 4 ? e : and(e, k32(mask(size))));

/** Effective address of a ModRM memory operand (32-bit addressing, flat ES/CS/SS/DS), or null. */
function addressOf(ins: Instr): Ex | null {
  if (ins.asize !== 4 || ins.seg >= 4) return null;
  let e: Ex = k32(ins.disp | 0);
  if (ins.base >= 0) e = add(e, get(R0 + ins.base));
  if (ins.index >= 0) e = add(e, ins.scale ? shl(get(R0 + ins.index), ins.scale) : get(R0 + ins.index));
  return e;
}
const inlinableE = (ins: Instr) => ins.mod === 3 || addressOf(ins) !== null;

/** The E operand read into a temporary (register or memory). */
function readE(g: BlockGen, ins: Instr, size: Size): number {
  if (ins.mod === 3) return g.let(g.reg(size, ins.rm));
  return g.read(size, addressOf(ins)!);
}

/** Result of an ALU op on masked operands (ADC/SBB with the carry-in temporary), and its lazy kind. */
function aluResult(op: number, size: Size, d: Ex, s: Ex, cin: number): [Ex, Lazy] | null {
  switch (op) {
    case ADD: return [wrap(size, add(d, s)), Lazy.Add];
    case ADC: return [wrap(size, add(add(d, s), get(cin))), Lazy.Adc];
    case SBB: return [wrap(size, sub(sub(d, s), get(cin))), Lazy.Sbb];
    case OR: return [or(d, s), Lazy.Logic];
    case AND: return [and(d, s), Lazy.Logic];
    case XOR: return [xor(d, s), Lazy.Logic];
    case SUB: case CMP: return [wrap(size, sub(d, s)), Lazy.Sub];
    default: return null;
  }
}

/** ADC/SBB: the carry in as a temporary; -1 for the other ops. */
function carryIn(g: BlockGen, op: number): number {
  if (op !== ADC && op !== SBB) return -1;
  return g.let(g.carry());
}

/** Record the flags of `d op s = r` in the locals (ADC/SBB with their carry in, in CIN: the conditions read it, codegen.ts flagBit). */
function record(g: BlockGen, kind: Lazy, size: Size, d: number, s: number, r: number, cin: number): void {
  if (cin >= 0) g.emit(set(CIN, get(cin)));
  g.setFlags(kind, size, ARITH, get(d), get(s), get(r));
}

/** op E, src (register or memory destination; memory: probed for write, read, written). */
function aluToE(g: BlockGen, ins: Instr, op: number, src: Ex): boolean {
  const size = sizeOf(ins);
  if (op !== ADC && op !== SBB && aluResult(op, size, [], [], -1) === null) return false;
  if (ins.mod !== 3 && addressOf(ins) === null) return false;
  if (ins.mod === 3) {
    const s = g.let(src);
    const d = g.let(g.reg(size, ins.rm));
    const cin = carryIn(g, op);
    const [e, kind] = aluResult(op, size, get(d), get(s), cin)!;
    const r = g.let(e);
    record(g, kind, size, d, s, r, cin);
    if (op !== CMP) g.emit(g.setReg(size, ins.rm, get(r)));
    return true;
  }
  const lin = addressOf(ins)!;
  const cin = carryIn(g, op);
  const s = g.let(src);
  if (op === CMP) {
    const d = g.read(size, lin);
    const r = g.let(aluResult(op, size, get(d), get(s), -1)![0]);
    g.setFlags(Lazy.Sub, size, ARITH, get(d), get(s), get(r));
    return true;
  }
  let dName = 0, rName = 0, kind = Lazy.Add;
  g.modify(size, lin, (d) => {
    dName = d;
    const [e, kd] = aluResult(op, size, get(d), get(s), cin)!;
    kind = kd;
    rName = g.let(e);
    return rName;
  });
  record(g, kind, size, dName, s, rName, cin);
  return true;
}

/** op G, E (the register is the destination). */
function aluToG(g: BlockGen, ins: Instr, op: number): boolean {
  const size = sizeOf(ins);
  if (!inlinableE(ins)) return false;
  const s = readE(g, ins, size);
  const d = g.let(g.reg(size, ins.reg));
  const cin = carryIn(g, op);
  const [e, kind] = aluResult(op, size, get(d), get(s), cin)!;
  const r = g.let(e);
  record(g, kind, size, d, s, r, cin);
  if (op !== CMP) g.emit(g.setReg(size, ins.reg, get(r)));
  return true;
}

function test(g: BlockGen, ins: Instr, src: () => Ex): boolean {
  if (!inlinableE(ins)) return false;
  const size = sizeOf(ins);
  const d = readE(g, ins, size);
  const s = g.let(src());
  g.setFlags(Lazy.Logic, size, ARITH, get(d), get(s), and(get(d), get(s)));
  return true;
}

/** Read-modify-write of E by `f` (old → new), then `after(old, new)` (flags). */
function modifyE(g: BlockGen, ins: Instr, f: (d: number) => Ex, after: (d: number, r: number) => void): boolean {
  if (!inlinableE(ins)) return false;
  const size = sizeOf(ins);
  if (ins.mod === 3) {
    const d = g.let(g.reg(size, ins.rm));
    const r = g.let(f(d));
    after(d, r);
    g.emit(g.setReg(size, ins.rm, get(r)));
    return true;
  }
  let dName = 0, rName = 0;
  g.modify(size, addressOf(ins)!, (d) => {
    dName = d;
    rName = g.let(f(d));
    return rName;
  });
  after(dName, rName);
  return true;
}

function incDec(g: BlockGen, ins: Instr, dec: boolean): boolean {
  const size = sizeOf(ins);
  return modifyE(g, ins, (d) => wrap(size, bin(dec ? Op.i32_sub : Op.i32_add, get(d), k32(1))), (d, r) => {
    g.keepCarry();
    g.setFlags(dec ? Lazy.Dec : Lazy.Inc, size, ARITH & ~CF, get(d), k32(1), get(r));
  });
}

function incDecReg(g: BlockGen, ins: Instr, dec: boolean): boolean {
  if (ins.size !== 4) return false;
  const n = ins.op & 7;
  const d = g.let(get(R0 + n));
  const r = g.let(bin(dec ? Op.i32_sub : Op.i32_add, get(d), k32(1)));
  g.keepCarry();
  g.setFlags(dec ? Lazy.Dec : Lazy.Inc, 4, ARITH & ~CF, get(d), k32(1), get(r));
  g.emit(set(R0 + n, get(r)));
  return true;
}

/** SHL/SAL, SHR, SAR by a constant, as jit/templates.ts shiftBy (and exec/shift.ts). */
function shiftBy(g: BlockGen, ins: Instr, count: number): boolean {
  const size = sizeOf(ins);
  const n = count & 0x1f;
  const width = size * 8;
  if (n === 0 || n >= width || !inlinableE(ins)) return false;
  const op = ins.reg;
  if (op !== 4 && op !== 5 && op !== 6 && op !== 7) return false;
  const top = width - 1;
  const sext = (d: Ex) => (size === 4 ? d : shrS(shl(d, 32 - width), 32 - width));
  let cf = 0, of = 0;
  const f = (d: number): Ex => {
    if (op === 5) {
      cf = g.let(and(shrU(get(d), n - 1), k32(1)));
      of = g.let(and(shrU(get(d), top), k32(1)));
      return shrU(get(d), n);
    }
    if (op === 7) {
      cf = g.let(and(shrS(sext(get(d)), n - 1), k32(1)));
      of = g.let(k32(0));
      return size === 4 ? shrS(get(d), n) : and(shrS(sext(get(d)), n), k32(mask(size)));
    }
    const r = wrap(size, shl(get(d), n));
    cf = g.let(and(shrU(get(d), width - n), k32(1)));
    of = g.let(xor(and(shrU(r, top), k32(1)), get(cf)));
    return r;
  };
  return modifyE(g, ins, f, (_d, r) => {
    g.setEflagsBits(CF | OF | AF, or(get(cf), shl(get(of), 11)));
    g.setFlags(Lazy.Logic, size, ZF | SF | PF, k32(0), k32(0), get(r));
  });
}

/** IMUL r32, r/m32[, imm]: CF = OF = the 64-bit product differs from the sign-extended low half. */
function imul(g: BlockGen, ins: Instr, three: boolean): boolean {
  if (ins.size !== 4 || !inlinableE(ins)) return false;
  const a = readE(g, ins, 4);
  const b = g.let(three ? k32(ins.imm | 0) : get(R0 + ins.reg));
  const lo = g.let(bin(Op.i32_mul, get(a), get(b)));
  const wide: Ex = [...get(a), Op.i64_extend_i32_s, ...get(b), Op.i64_extend_i32_s, Op.i64_mul];
  const over: Ex = [...wide, ...get(lo), Op.i64_extend_i32_s, Op.i64_ne];
  g.setEflagsBits(CF | OF | AF, bin(Op.i32_mul, over, k32(CF | OF)));
  g.setFlags(Lazy.Logic, 4, ZF | SF | PF, k32(0), k32(0), get(lo));
  g.emit(set(R0 + ins.reg, get(lo)));
  return true;
}

const u64 = (e: Ex): Ex => [...e, Op.i64_extend_i32_u];

/**
 * SHL/SAL, SHR, SAR of a 32-bit register by CL, as shiftBy with the count
 * known only at run time (exec/shift.ts doShift): a masked count of 0
 * changes nothing, flags included, so the pending flags are stored first
 * and the new ones go straight into the state area.
 */
function shiftByCL(g: BlockGen, ins: Instr): boolean {
  const op = ins.reg;
  if (ins.size !== 4 || ins.mod !== 3 || (op !== 4 && op !== 5 && op !== 6 && op !== 7)) return false;
  g.flush();
  const n = g.let(and(get(R0 + 1), k32(31)));
  g.if(get(n), () => {
    const d = g.let(get(R0 + ins.rm));
    const n1 = sub(get(n), k32(1));
    let r: number, cf: number, of: Ex;
    if (op === 5) {
      cf = g.let(and(bin(Op.i32_shr_u, get(d), n1), k32(1)));
      of = shrU(get(d), 31);
      r = g.let(bin(Op.i32_shr_u, get(d), get(n)));
    } else if (op === 7) {
      cf = g.let(and(bin(Op.i32_shr_s, get(d), n1), k32(1)));
      of = k32(0);
      r = g.let(bin(Op.i32_shr_s, get(d), get(n)));
    } else {
      cf = g.let(and(bin(Op.i32_shr_u, get(d), sub(k32(32), get(n))), k32(1)));
      r = g.let(bin(Op.i32_shl, get(d), get(n)));
      of = xor(shrU(get(r), 31), get(cf));
    }
    g.setEflagsBits(CF | OF | AF, or(get(cf), shl(of, 11)));
    g.setFlags(Lazy.Logic, 4, ZF | SF | PF, k32(0), k32(0), get(r));
    g.flush();
    g.emit(set(R0 + ins.rm, get(r)));
  });
  return true;
}

/** BSR r32, r/m32: ZF = source is 0 (the destination then unchanged); else the index of its highest set bit (exec/bits.ts bsr). */
function bsr32(g: BlockGen, ins: Instr): boolean {
  if (ins.size !== 4 || !inlinableE(ins)) return false;
  const v = readE(g, ins, 4);
  // The other flags keep their values: ZF leaves the lazy set (CPU.setEflags).
  g.flush();
  g.emit(g.setSlot(S.LAZY_MASK, and(g.slot(S.LAZY_MASK), k32(~ZF))));
  g.setEflagsBits(ZF, bin(Op.i32_mul, [...get(v), Op.i32_eqz], k32(ZF)));
  g.if(get(v), () => g.emit(set(R0 + ins.reg, sub(k32(31), [...get(v), Op.i32_clz]))));
  return true;
}

/** MUL r/m32: EDX:EAX = EAX × src, unsigned; CF = OF = EDX ≠ 0; SF/ZF/PF from EAX (exec/muldiv.ts mul). */
function mul32(g: BlockGen, ins: Instr): boolean {
  if (ins.size !== 4 || !inlinableE(ins)) return false;
  const s = readE(g, ins, 4);
  const p: Ex = [...u64(get(R0)), ...u64(get(s)), Op.i64_mul];
  const lo = g.let([...p, Op.i32_wrap_i64]);
  const hi = g.let([...p, Op.i64_const, 32, Op.i64_shr_u, Op.i32_wrap_i64]);
  g.emit(set(R0, get(lo)));
  g.emit(set(R0 + 2, get(hi)));
  g.setEflagsBits(CF | OF | AF, bin(Op.i32_mul, bin(Op.i32_ne, get(hi), k32(0)), k32(CF | OF)));
  g.setFlags(Lazy.Logic, 4, ZF | SF | PF, k32(0), k32(0), get(lo));
  return true;
}

/**
 * DIV r/m32: EDX:EAX ÷ src, unsigned; flags unchanged. A zero divisor or a
 * quotient that does not fit (EDX ≥ src) is the executor's, which raises
 * the #DE (exec/muldiv.ts div).
 */
function div32(g: BlockGen, ins: Instr): boolean {
  if (ins.size !== 4 || !inlinableE(ins)) return false;
  const s = readE(g, ins, 4);
  g.if(bin(Op.i32_or, [...get(s), Op.i32_eqz], bin(Op.i32_ge_u, get(R0 + 2), get(s))), () => g.executorExit());
  const n: Ex = [...u64(get(R0 + 2)), Op.i64_const, 32, Op.i64_shl, ...u64(get(R0)), Op.i64_or];
  const q = g.let([...n, ...u64(get(s)), Op.i64_div_u, Op.i32_wrap_i64]);
  g.emit(set(R0 + 2, [...n, ...u64(get(s)), Op.i64_rem_u, Op.i32_wrap_i64]));
  g.emit(set(R0, get(q)));
  return true;
}

function mov(g: BlockGen, ins: Instr, toE: boolean): boolean {
  const size = sizeOf(ins);
  if (ins.mod === 3) {
    g.emit(toE ? g.setReg(size, ins.rm, g.reg(size, ins.reg)) : g.setReg(size, ins.reg, g.reg(size, ins.rm)));
    return true;
  }
  const lin = addressOf(ins);
  if (lin === null) return false;
  if (toE) {
    const v = g.let(g.reg(size, ins.reg));
    g.write(size, lin, get(v));
  } else g.emit(g.setReg(size, ins.reg, get(g.read(size, lin))));
  return true;
}

function extend(g: BlockGen, ins: Instr, from: 1 | 2, signed: boolean): boolean {
  if (ins.size !== 4 || !inlinableE(ins)) return false;
  const v = readE(g, ins, from);
  const sh = 32 - from * 8;
  g.emit(set(R0 + ins.reg, signed ? shrS(shl(get(v), sh), sh) : get(v)));
  return true;
}

/** MOVS/STOS without REP: one element, then ESI/EDI step by the size (backwards with DF). */
function stringOp(g: BlockGen, ins: Instr, move: boolean): boolean {
  if (ins.rep !== REP_NONE || ins.asize !== 4 || (move && ins.seg >= 4)) return false;
  const size = sizeOf(ins);
  const step = g.let(bin(Op.i32_sub, k32(size), bin(Op.i32_mul, k32(2 * size), bin(Op.i32_ne, and(g.flags(), k32(DF)), k32(0)))));
  const v = move ? g.read(size, get(R0 + 6)) : g.let(g.reg(size, 0));
  g.write(size, get(R0 + 7), get(v));
  if (move) g.emit(set(R0 + 6, add(get(R0 + 6), get(step))));
  g.emit(set(R0 + 7, add(get(R0 + 7), get(step))));
  return true;
}

/** SHLD/SHRD r/m32, r32, imm8, as jit/templates.ts doubleShift (exec/shift.ts fDouble). */
function doubleShift(g: BlockGen, ins: Instr, left: boolean): boolean {
  const n = ins.imm & 0x1f;
  if (ins.size !== 4 || n === 0 || !inlinableE(ins)) return false;
  const src = g.let(get(R0 + ins.reg));
  let cf = 0;
  return modifyE(g, ins, (d) => {
    cf = g.let(and(shrU(get(d), left ? 32 - n : n - 1), k32(1)));
    return left ? or(shl(get(d), n), shrU(get(src), 32 - n)) : or(shrU(get(d), n), shl(get(src), 32 - n));
  }, (d, r) => {
    g.setEflagsBits(CF | OF | AF, or(get(cf), shl(shrU(xor(get(r), get(d)), 31), 11)));
    g.setFlags(Lazy.Logic, 4, ZF | SF | PF, k32(0), k32(0), get(r));
  });
}

const LIST: [ExecFn, Generator][] = [
  [shift.shldI, (g, ins) => doubleShift(g, ins, true)],
  [shift.shrdI, (g, ins) => doubleShift(g, ins, false)],
  [str.movs, (g, ins) => stringOp(g, ins, true)],
  [str.stos, (g, ins) => stringOp(g, ins, false)],
  [data.movGE32, (g, ins) => mov(g, ins, false)],
  [data.movEG32, (g, ins) => mov(g, ins, true)],
  [data.movGE, (g, ins) => mov(g, ins, false)],
  [data.movEG, (g, ins) => mov(g, ins, true)],
  [data.movRI, (g, ins) => {
    g.emit(g.setReg(ins.size, ins.op & 7, immOf(ins)));
    return true;
  }],
  [data.movEI, (g, ins) => {
    if (ins.mod === 3) {
      g.emit(g.setReg(ins.size, ins.rm, immOf(ins)));
      return true;
    }
    const lin = addressOf(ins);
    if (lin === null) return false;
    g.write(sizeOf(ins), lin, immOf(ins));
    return true;
  }],
  [data.movAO, (g, ins) => {
    const lin = addressOf(ins);
    if (lin === null) return false;
    g.emit(g.setReg(ins.size, 0, get(g.read(sizeOf(ins), lin))));
    return true;
  }],
  [data.movOA, (g, ins) => {
    const lin = addressOf(ins);
    if (lin === null) return false;
    const v = g.let(g.reg(ins.size, 0));
    g.write(sizeOf(ins), lin, get(v));
    return true;
  }],
  [data.lea, (g, ins) => {
    if (ins.size !== 4 || ins.asize !== 4) return false;
    let e: Ex = k32(ins.disp | 0);
    if (ins.base >= 0) e = add(e, get(R0 + ins.base));
    if (ins.index >= 0) e = add(e, ins.scale ? shl(get(R0 + ins.index), ins.scale) : get(R0 + ins.index));
    g.emit(set(R0 + ins.reg, e));
    return true;
  }],
  [data.movzxB, (g, ins) => extend(g, ins, 1, false)],
  [data.movzxW, (g, ins) => extend(g, ins, 2, false)],
  [data.movsxB, (g, ins) => extend(g, ins, 1, true)],
  [data.movsxW, (g, ins) => extend(g, ins, 2, true)],
  [data.cwd, (g, ins) => {
    if (ins.size !== 4) return false;
    g.emit(set(R0 + 2, shrS(get(R0), 31)));
    return true;
  }],
  [data.cbw, (g, ins) => {
    if (ins.size !== 4) return false;
    g.emit(set(R0, shrS(shl(get(R0), 16), 16)));
    return true;
  }],
  [data.nop, () => true],
  [alu.aluEG32reg, (g, ins) => aluToE(g, ins, (ins.op >> 3) & 7, get(R0 + ins.reg))],
  [alu.aluEG, (g, ins) => aluToE(g, ins, (ins.op >> 3) & 7, g.reg(ins.size, ins.reg))],
  [alu.aluEI, (g, ins) => aluToE(g, ins, ins.reg, immOf(ins))],
  [alu.aluGE, (g, ins) => aluToG(g, ins, (ins.op >> 3) & 7)],
  [alu.aluAI, (g, ins) => {
    const op = (ins.op >> 3) & 7;
    const size = sizeOf(ins);
    const d = g.let(g.reg(size, 0));
    const s = g.let(immOf(ins));
    const cin = carryIn(g, op);
    const [e, kind] = aluResult(op, size, get(d), get(s), cin)!;
    const r = g.let(e);
    record(g, kind, size, d, s, r, cin);
    if (op !== CMP) g.emit(g.setReg(size, 0, get(r)));
    return true;
  }],
  [alu.testEG, (g, ins) => test(g, ins, () => g.reg(ins.size, ins.reg))],
  [alu.testEI, (g, ins) => test(g, ins, () => immOf(ins))],
  [alu.testAI, (g, ins) => {
    const size = sizeOf(ins);
    const d = g.let(g.reg(size, 0));
    g.setFlags(Lazy.Logic, size, ARITH, get(d), immOf(ins), and(get(d), immOf(ins)));
    return true;
  }],
  [alu.incReg, (g, ins) => incDecReg(g, ins, false)],
  [alu.decReg, (g, ins) => incDecReg(g, ins, true)],
  [alu.incE, (g, ins) => incDec(g, ins, false)],
  [alu.decE, (g, ins) => incDec(g, ins, true)],
  [alu.notE, (g, ins) => modifyE(g, ins, (d) => wrap(sizeOf(ins), xor(get(d), k32(-1))), () => {})],
  [alu.negE, (g, ins) => {
    const size = sizeOf(ins);
    return modifyE(g, ins, (d) => wrap(size, sub(k32(0), get(d))), (d, r) => {
      g.setFlags(Lazy.Sub, size, ARITH, k32(0), get(d), get(r));
    });
  }],
  [shift.shiftEI, (g, ins) => shiftBy(g, ins, ins.imm)],
  [shift.shiftE1, (g, ins) => shiftBy(g, ins, 1)],
  [md.mul, mul32],
  [bits.bsr, bsr32],
  [shift.shiftECL, shiftByCL],
  [md.div, div32],
  [md.imul2, (g, ins) => imul(g, ins, false)],
  [md.imul3, (g, ins) => imul(g, ins, true)],
  [bits.setcc, (g, ins) => {
    if (!inlinableE(ins)) return false;
    const v = g.let(g.cond(ins.op & 0xf));
    if (ins.mod === 3) g.emit(g.setReg(1, ins.rm, get(v)));
    else g.write(1, addressOf(ins)!, get(v));
    return true;
  }],
  [bits.cmovcc, (g, ins) => {
    // The source is read (and may fault) whatever the condition.
    if (ins.size !== 4 || !inlinableE(ins)) return false;
    const v = readE(g, ins, 4);
    g.if(g.cond(ins.op & 0xf), () => g.emit(set(R0 + ins.reg, get(v))));
    return true;
  }],
  [stack.pushReg32, (g, ins) => {
    g.push32(get(R0 + (ins.op & 7)));
    return true;
  }],
  [stack.popReg32, (g, ins) => {
    const v = g.pop32();
    g.emit(set(R0 + (ins.op & 7), get(v)));
    return true;
  }],
  [stack.pushImm, (g, ins) => {
    if (ins.size !== 4) return false;
    g.push32(k32(ins.imm | 0));
    return true;
  }],
  [stack.pushE, (g, ins) => {
    if (ins.size !== 4 || !inlinableE(ins)) return false;
    g.push32(get(readE(g, ins, 4)));
    return true;
  }],
  [stack.leave, (g, ins) => {
    // ESP = EBP, then POP EBP: the read comes first, so a fault leaves ESP as it was.
    if (ins.size !== 4) return false;
    const v = g.read(4, get(R0 + 5));
    g.emit(set(R0 + ESP, add(get(R0 + 5), k32(4))));
    g.emit(set(R0 + 5, get(v)));
    return true;
  }],
  [ctl.jmpRel, (g, ins) => {
    g.emit(g.goto(ins.imm | 0, g.k + 1));
    return 'transfer';
  }],
  [ctl.callRel, (g, ins) => {
    if (ins.size !== 4) return false;
    g.push32(k32(ins.next | 0));
    g.if(get(BRK), () => g.emit(g.exit(k32(ins.imm | 0), g.k + 1)));
    g.emit(g.goto(ins.imm | 0, g.k + 1));
    return 'transfer';
  }],
  [ctl.ret, (g, ins) => {
    if (ins.size !== 4) return false;
    const v = g.pop32();
    g.emit(g.exit(get(v), g.k + 1));
    return 'transfer';
  }],
  [ctl.retImm, (g, ins) => {
    if (ins.size !== 4) return false;
    const v = g.pop32();
    g.emit(set(R0 + ESP, add(get(R0 + ESP), k32(ins.imm & 0xffff))));
    g.emit(g.exit(get(v), g.k + 1));
    return 'transfer';
  }],
  [ctl.callE, (g, ins) => {
    // The target is read before anything is pushed.
    if (ins.size !== 4 || !inlinableE(ins)) return false;
    const t = readE(g, ins, 4);
    g.push32(k32(ins.next | 0));
    g.emit(g.exit(get(t), g.k + 1));
    return 'transfer';
  }],
  [ctl.jmpE, (g, ins) => {
    if (ins.size !== 4 || !inlinableE(ins)) return false;
    const t = readE(g, ins, 4);
    g.emit(g.exit(get(t), g.k + 1));
    return 'transfer';
  }],
];

export const GENERATORS = new Map<ExecFn, Generator>(LIST);
