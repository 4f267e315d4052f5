/**
 * Bit instructions: BT/BTS/BTR/BTC (register and immediate offsets),
 * BSF/BSR, BSWAP, SETcc, CMOVcc (SDM Vol. 2).
 */
import type { CPU } from '../cpu.js';
import type { Instr } from '../instr.js';
import { CF, ZF } from '../flags.js';

/** op: 0 BT, 1 BTS, 2 BTR, 3 BTC. */
function bitOp(cpu: CPU, ins: Instr, offset: number, op: number, fromReg: boolean): void {
  const size = ins.size;
  const bits = size * 8;
  if (ins.mod === 3) {
    const bit = offset & (bits - 1);
    const v = cpu.getReg(size, ins.rm);
    cpu.setEflags((v >>> bit) & 1 ? CF : 0, CF);
    if (op !== 0) cpu.setReg(size, ins.rm, apply(v, bit, op));
    return;
  }
  // Memory form with a register offset addresses a bit string: the offset is signed and
  // may reach outside the operand (SDM "BT—Bit Test", Table 3-2).
  let lin = cpu.lin(ins);
  let bit: number;
  if (fromReg) {
    const off = size === 2 ? (offset << 16) >> 16 : offset | 0;
    lin = (lin + ((off >> (size === 2 ? 4 : 5)) * size)) | 0;
    bit = off & (bits - 1);
  } else {
    bit = offset & (bits - 1);
  }
  if (op !== 0) cpu.probeWrite(lin, size);
  const v = cpu.read(size, lin);
  cpu.setEflags((v >>> bit) & 1 ? CF : 0, CF);
  if (op !== 0) cpu.write(size, lin, apply(v, bit, op));
}

function apply(v: number, bit: number, op: number): number {
  return op === 1 ? v | (1 << bit) : op === 2 ? v & ~(1 << bit) : v ^ (1 << bit);
}

/** 0F A3/AB/B3/BB: BT/BTS/BTR/BTC Ev,Gv. */
export function btEG(cpu: CPU, ins: Instr): void {
  const op = ins.op === 0x1a3 ? 0 : ins.op === 0x1ab ? 1 : ins.op === 0x1b3 ? 2 : 3;
  bitOp(cpu, ins, cpu.getReg(ins.size, ins.reg), op, true);
}
/** 0F BA /4../7: BT/BTS/BTR/BTC Ev,Ib. */
export function btEI(cpu: CPU, ins: Instr): void {
  bitOp(cpu, ins, ins.imm, ins.reg - 4, false);
}

/** BSF/BSR: ZF=1 and the destination unchanged when the source is 0. */
export function bsf(cpu: CPU, ins: Instr): void {
  const v = cpu.readE(ins);
  if (v === 0) {
    cpu.setEflags(ZF, ZF);
    return;
  }
  cpu.setEflags(0, ZF);
  cpu.setReg(ins.size, ins.reg, 31 - Math.clz32(v & -v));
}
export function bsr(cpu: CPU, ins: Instr): void {
  const v = cpu.readE(ins);
  if (v === 0) {
    cpu.setEflags(ZF, ZF);
    return;
  }
  cpu.setEflags(0, ZF);
  cpu.setReg(ins.size, ins.reg, 31 - Math.clz32(v));
}

/** 0F C8+r. With a 0x66 prefix the result is undefined in the SDM; hardware clears the low word. */
export function bswap(cpu: CPU, ins: Instr): void {
  const r = ins.op & 7;
  const v = cpu.regs[r];
  if (ins.size === 2) {
    cpu.regs[r] = v & ~0xffff;
    return;
  }
  cpu.regs[r] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}

/** 0F 90+cc: SETcc Eb. */
export function setcc(cpu: CPU, ins: Instr): void {
  cpu.writeE(ins, cpu.cond(ins.op & 0xf) ? 1 : 0);
}

/** 0F 40+cc: CMOVcc Gv,Ev. The source is read (and may fault) even when the condition is false. */
export function cmovcc(cpu: CPU, ins: Instr): void {
  const v = cpu.readE(ins);
  if (cpu.cond(ins.op & 0xf)) cpu.setReg(ins.size, ins.reg, v);
}
