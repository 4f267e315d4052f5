/**
 * MUL, IMUL (one-, two- and three-operand forms), DIV, IDIV (SDM Vol. 2).
 * 32×32→64 products are computed exactly in 16-bit halves; 64/32 division
 * falls back to BigInt only when EDX carries significant bits.
 */
import type { CPU } from '../cpu.js';
import type { Instr } from '../instr.js';
import { CF, OF, AF } from '../flags.js';
import { Vec } from '../stop.js';

let mulHi = 0;

/** Unsigned 32×32: returns the low word, leaves the high word in mulHi (both as int32). */
function umul32(a: number, b: number): number {
  const aL = a & 0xffff, aH = a >>> 16, bL = b & 0xffff, bH = b >>> 16;
  const ll = aL * bL, lh = aL * bH, hl = aH * bL, hh = aH * bH;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  mulHi = (hh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) | 0;
  return ((mid << 16) | (ll & 0xffff)) | 0;
}

/** Signed 32×32: low word returned, high word in mulHi. */
function smul32(a: number, b: number): number {
  const lo = umul32(a, b);
  let hi = mulHi;
  if (a < 0) hi = (hi - b) | 0;
  if (b < 0) hi = (hi - a) | 0;
  mulHi = hi;
  return lo;
}

function setMulFlags(cpu: CPU, overflow: boolean, lo: number, size: number): void {
  // CF and OF are defined; SF, ZF, AF and PF are undefined (kmemsim derives SF/ZF/PF from the low result).
  cpu.setLazyResult(lo, size, overflow ? CF | OF : 0, CF | OF | AF);
}

/** F6/F7 /4: MUL. */
export function mul(cpu: CPU, ins: Instr): void {
  const s = cpu.readE(ins);
  const r = cpu.regs;
  if (ins.size === 1) {
    const p = (r[0] & 0xff) * s;
    cpu.setReg(2, 0, p);
    setMulFlags(cpu, p > 0xff, p & 0xff, 1);
  } else if (ins.size === 2) {
    const p = (r[0] & 0xffff) * s;
    cpu.setReg(2, 0, p);
    cpu.setReg(2, 2, p >>> 16);
    setMulFlags(cpu, p > 0xffff, p & 0xffff, 2);
  } else {
    const lo = umul32(r[0], s);
    r[0] = lo;
    r[2] = mulHi;
    setMulFlags(cpu, mulHi !== 0, lo, 4);
  }
}

/** F6/F7 /5: one-operand IMUL. */
export function imul1(cpu: CPU, ins: Instr): void {
  const s = cpu.readE(ins);
  const r = cpu.regs;
  if (ins.size === 1) {
    const p = ((r[0] << 24) >> 24) * ((s << 24) >> 24);
    cpu.setReg(2, 0, p);
    setMulFlags(cpu, p !== (p << 24) >> 24, p & 0xff, 1);
  } else if (ins.size === 2) {
    const p = ((r[0] << 16) >> 16) * ((s << 16) >> 16);
    cpu.setReg(2, 0, p);
    cpu.setReg(2, 2, p >> 16);
    setMulFlags(cpu, p !== (p << 16) >> 16, p & 0xffff, 2);
  } else {
    const lo = smul32(r[0], s);
    r[0] = lo;
    r[2] = mulHi;
    setMulFlags(cpu, mulHi !== lo >> 31, lo, 4);
  }
}

function imulTrunc(cpu: CPU, a: number, b: number, size: number): number {
  if (size === 2) {
    const p = ((a << 16) >> 16) * ((b << 16) >> 16);
    setMulFlags(cpu, p !== (p << 16) >> 16, p & 0xffff, 2);
    return p & 0xffff;
  }
  const lo = smul32(a, b);
  setMulFlags(cpu, mulHi !== lo >> 31, lo, 4);
  return lo;
}

/** 0F AF: IMUL Gv,Ev. */
export function imul2(cpu: CPU, ins: Instr): void {
  cpu.setReg(ins.size, ins.reg, imulTrunc(cpu, cpu.getReg(ins.size, ins.reg), cpu.readE(ins), ins.size));
}
/** 69/6B: IMUL Gv,Ev,imm. */
export function imul3(cpu: CPU, ins: Instr): void {
  cpu.setReg(ins.size, ins.reg, imulTrunc(cpu, cpu.readE(ins), ins.imm, ins.size));
}

/** F6/F7 /6: DIV. #DE on a zero divisor or a quotient that does not fit. Flags are undefined; left as they were. */
export function div(cpu: CPU, ins: Instr): void {
  const s = cpu.readE(ins);
  const r = cpu.regs;
  if (ins.size === 1) {
    const n = r[0] & 0xffff;
    if (s === 0) cpu.fault(Vec.DE);
    const q = Math.floor(n / s);
    if (q > 0xff) cpu.fault(Vec.DE);
    cpu.setReg(2, 0, ((n % s) << 8) | q);
  } else if (ins.size === 2) {
    const n = ((r[2] & 0xffff) * 65536) + (r[0] & 0xffff);
    if (s === 0) cpu.fault(Vec.DE);
    const q = Math.floor(n / s);
    if (q > 0xffff) cpu.fault(Vec.DE);
    cpu.setReg(2, 0, q);
    cpu.setReg(2, 2, n % s);
  } else {
    const d = s >>> 0;
    if (d === 0) cpu.fault(Vec.DE);
    const hi = r[2] >>> 0, lo = r[0] >>> 0;
    if (hi === 0) {
      r[0] = Math.floor(lo / d);
      r[2] = lo % d;
      return;
    }
    if (hi >= d) cpu.fault(Vec.DE);
    const n = (BigInt(hi) << 32n) | BigInt(lo);
    const bd = BigInt(d);
    r[0] = Number(n / bd);
    r[2] = Number(n % bd);
  }
}

/** F6/F7 /7: IDIV, quotient truncated toward zero. */
export function idiv(cpu: CPU, ins: Instr): void {
  const s0 = cpu.readE(ins);
  const r = cpu.regs;
  if (ins.size === 1) {
    const s = (s0 << 24) >> 24;
    const n = (r[0] << 16) >> 16;
    if (s === 0) cpu.fault(Vec.DE);
    const q = Math.trunc(n / s);
    if (q > 127 || q < -128) cpu.fault(Vec.DE);
    cpu.setReg(2, 0, (((n % s) & 0xff) << 8) | (q & 0xff));
  } else if (ins.size === 2) {
    const s = (s0 << 16) >> 16;
    const n = (r[2] << 16) | (r[0] & 0xffff);
    if (s === 0) cpu.fault(Vec.DE);
    const q = Math.trunc(n / s);
    if (q > 32767 || q < -32768) cpu.fault(Vec.DE);
    cpu.setReg(2, 0, q);
    cpu.setReg(2, 2, n % s);
  } else {
    const s = s0 | 0;
    if (s === 0) cpu.fault(Vec.DE);
    const lo = r[0], hi = r[2];
    if (hi === lo >> 31) {
      // The dividend fits in 32 bits: plain arithmetic, except INT_MIN / -1 which overflows.
      const q = Math.trunc(lo / s);
      if (q > 0x7fffffff) cpu.fault(Vec.DE);
      r[0] = q;
      r[2] = lo % s;
      return;
    }
    const n = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
    const bs = BigInt(s);
    const q = n / bs;
    if (q > 0x7fffffffn || q < -0x80000000n) cpu.fault(Vec.DE);
    r[0] = Number(q);
    r[2] = Number(n % bs);
  }
}
