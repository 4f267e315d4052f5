/**
 * Group 2 shifts and rotates (ROL ROR RCL RCR SHL SHR SAL SAR) and the
 * double shifts SHLD/SHRD (SDM Vol. 2 "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR").
 *
 * The count is masked to 5 bits; a masked count of 0 changes nothing, not
 * even the flags. Rotates touch only CF and OF. OF is defined only for
 * 1-bit shifts; for larger counts kmemsim computes it with the 1-bit rule.
 */
import type { CPU } from '../cpu.js';
import type { Instr } from '../instr.js';
import { CF, OF, AF } from '../flags.js';
import { rmwE } from './alu.js';

let shiftCount = 0;

function msb(v: number, size: number): number {
  return (v >>> (size * 8 - 1)) & 1;
}

function shiftOp(cpu: CPU, op: number, d: number, size: number): number {
  const c = shiftCount;
  const bits = size * 8;
  const m = size === 4 ? -1 : size === 2 ? 0xffff : 0xff;
  d &= m;
  let r: number;
  let cf: number;
  switch (op) {
    case 0: { // ROL
      const n = c & (bits - 1);
      r = n === 0 ? d : ((d << n) | (d >>> (bits - n))) & m;
      cf = r & 1;
      setRotFlags(cpu, cf, (msb(r, size) ^ cf) !== 0);
      return r;
    }
    case 1: { // ROR
      const n = c & (bits - 1);
      r = n === 0 ? d : ((d >>> n) | (d << (bits - n))) & m;
      cf = msb(r, size);
      setRotFlags(cpu, cf, (msb(r, size) ^ ((r >>> (bits - 2)) & 1)) !== 0);
      return r;
    }
    case 2: { // RCL: rotate through CF, a (bits+1)-bit rotation
      const n = size === 4 ? c : c % (bits + 1);
      let carry = cpu.getCF();
      r = d;
      for (let i = 0; i < n; i++) {
        const out = msb(r, size);
        r = ((r << 1) | carry) & m;
        carry = out;
      }
      setRotFlags(cpu, carry, (msb(r, size) ^ carry) !== 0);
      return r;
    }
    case 3: { // RCR
      const n = size === 4 ? c : c % (bits + 1);
      let carry = cpu.getCF();
      const of = (msb(d, size) ^ carry) !== 0;
      r = d;
      for (let i = 0; i < n; i++) {
        const out = r & 1;
        r = ((r >>> 1) | (carry << (bits - 1))) & m;
        carry = out;
      }
      setRotFlags(cpu, carry, of);
      return r;
    }
    case 4: case 6: { // SHL/SAL
      r = c >= 32 ? 0 : (d << c) & m;
      cf = c <= bits ? (d >>> (bits - c)) & 1 : 0;
      const of = (msb(r, size) ^ cf) !== 0;
      cpu.setLazyResult(r, size, (cf ? CF : 0) | (of ? OF : 0), CF | OF | AF);
      return r;
    }
    case 5: { // SHR
      r = c >= 32 ? 0 : (d >>> c) & m;
      cf = c <= bits ? (d >>> (c - 1)) & 1 : 0;
      cpu.setLazyResult(r, size, (cf ? CF : 0) | (msb(d, size) ? OF : 0), CF | OF | AF);
      return r;
    }
    default: { // SAR
      const sd = size === 4 ? d | 0 : size === 2 ? (d << 16) >> 16 : (d << 24) >> 24;
      r = (sd >> (c > 31 ? 31 : c)) & m;
      cf = (sd >> (c - 1 > 31 ? 31 : c - 1)) & 1;
      cpu.setLazyResult(r, size, cf ? CF : 0, CF | OF | AF);
      return r;
    }
  }
}

function setRotFlags(cpu: CPU, cf: number, of: boolean): void {
  cpu.setEflags((cf ? CF : 0) | (of ? OF : 0), CF | OF);
}

const fShift = (cpu: CPU, d: number, size: number): number => shiftOp(cpu, shiftOpSel, d, size);
let shiftOpSel = 0;

/** Group-2 operation `op` (ModRM.reg) of `d` by `count` (masked here): the result, flags recorded; a masked count of 0 returns `d` and changes no flag. */
export function shiftValue(cpu: CPU, op: number, d: number, size: number, count: number): number {
  count &= 0x1f;
  if (count === 0) return d;
  shiftCount = count;
  return shiftOp(cpu, op, d, size);
}

function doShift(cpu: CPU, ins: Instr, count: number): void {
  count &= 0x1f;
  if (count === 0) return;
  shiftCount = count;
  shiftOpSel = ins.reg;
  rmwE(cpu, ins, fShift);
}

/** C0/C1: by imm8; D0/D1: by 1; D2/D3: by CL. */
export function shiftEI(cpu: CPU, ins: Instr): void {
  doShift(cpu, ins, ins.imm);
}
export function shiftE1(cpu: CPU, ins: Instr): void {
  doShift(cpu, ins, 1);
}
export function shiftECL(cpu: CPU, ins: Instr): void {
  doShift(cpu, ins, cpu.regs[1] & 0xff);
}

/** SHLD/SHRD (0F A4/A5, AC/AD): shift E, filling from G. */
function doubleShift(cpu: CPU, ins: Instr, count: number, left: boolean): void {
  const c = count & 0x1f;
  if (c === 0) return;
  const size = ins.size;
  const s = cpu.getReg(size, ins.reg);
  shiftCount = c;
  dsLeft = left;
  dsSrc = s;
  rmwE(cpu, ins, fDouble);
}
let dsLeft = true;
let dsSrc = 0;
const fDouble = (cpu: CPU, d: number, size: number): number => {
  const c = shiftCount;
  const s = dsSrc;
  let r: number;
  let cf: number;
  if (size === 4) {
    if (dsLeft) {
      r = (d << c) | (s >>> (32 - c));
      cf = (d >>> (32 - c)) & 1;
    } else {
      r = (d >>> c) | (s << (32 - c));
      cf = (d >>> (c - 1)) & 1;
    }
  } else {
    // 16-bit: counts above 16 are undefined in the SDM; the 32-bit concatenation below is what hardware does for c <= 16.
    if (dsLeft) {
      const v = ((d << 16) | s) >>> 0;
      const w = c <= 16 ? (v << c) >>> 16 : ((s << (c - 16)) | 0) & 0xffff;
      r = w & 0xffff;
      cf = c <= 16 ? (d >>> (16 - c)) & 1 : (s >>> (32 - c)) & 1;
    } else {
      const v = ((s << 16) | d) >>> 0;
      r = c <= 16 ? (v >>> c) & 0xffff : (s >>> (c - 16)) & 0xffff;
      cf = c <= 16 ? (d >>> (c - 1)) & 1 : (s >>> (c - 17)) & 1;
    }
  }
  const m = size === 4 ? -1 : 0xffff;
  r &= m;
  const of = msb(r, size) !== msb(d, size);
  cpu.setLazyResult(r, size, (cf ? CF : 0) | (of ? OF : 0), CF | OF | AF);
  return r;
};

export function shldI(cpu: CPU, ins: Instr): void {
  doubleShift(cpu, ins, ins.imm, true);
}
export function shldCL(cpu: CPU, ins: Instr): void {
  doubleShift(cpu, ins, cpu.regs[1], true);
}
export function shrdI(cpu: CPU, ins: Instr): void {
  doubleShift(cpu, ins, ins.imm, false);
}
export function shrdCL(cpu: CPU, ins: Instr): void {
  doubleShift(cpu, ins, cpu.regs[1], false);
}
