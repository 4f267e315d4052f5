/**
 * Integer arithmetic and logic: ADD OR ADC SBB AND SUB XOR CMP (the eight
 * operations selected by opcode bits 5:3 or the ModRM reg field of group 1),
 * TEST, INC, DEC, NEG, NOT (SDM Vol. 2).
 */
import type { CPU } from '../cpu.js';
import type { Instr } from '../instr.js';
import { Lazy } from '../flags.js';

export const ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7;

function mask(size: number): number {
  return size === 4 ? -1 : size === 2 ? 0xffff : 0xff;
}

/** One of the eight group-1 operations; records lazy flags, returns the masked result. */
export function alu(cpu: CPU, op: number, d: number, s: number, size: number): number {
  const m = mask(size);
  let r: number;
  switch (op) {
    case ADD:
      r = (d + s) & m;
      cpu.setLazy(Lazy.Add, d, s, r, size);
      return r;
    case OR:
      r = (d | s) & m;
      cpu.setLazy(Lazy.Logic, d, s, r, size);
      return r;
    case ADC: {
      const c = cpu.getCF();
      r = (d + s + c) & m;
      cpu.setLazy(Lazy.Adc, d, s, r, size);
      cpu.lfCin = c;
      return r;
    }
    case SBB: {
      const c = cpu.getCF();
      r = (d - s - c) & m;
      cpu.setLazy(Lazy.Sbb, d, s, r, size);
      cpu.lfCin = c;
      return r;
    }
    case AND:
      r = d & s & m;
      cpu.setLazy(Lazy.Logic, d, s, r, size);
      return r;
    case XOR:
      r = (d ^ s) & m;
      cpu.setLazy(Lazy.Logic, d, s, r, size);
      return r;
    default: // SUB, CMP
      r = (d - s) & m;
      cpu.setLazy(Lazy.Sub, d, s, r, size);
      return r;
  }
}

/** E op= src; CMP writes nothing; a memory destination is probed for write first. */
function aluToE(cpu: CPU, ins: Instr, op: number, s: number): void {
  const size = ins.size;
  if (ins.mod === 3) {
    const r = alu(cpu, op, cpu.getReg(size, ins.rm), s, size);
    if (op !== CMP) cpu.setReg(size, ins.rm, r);
  } else {
    const lin = cpu.lin(ins);
    if (op !== CMP) cpu.probeWrite(lin, size);
    const r = alu(cpu, op, cpu.read(size, lin), s, size);
    if (op !== CMP) cpu.write(size, lin, r);
  }
}

/** 00/01, 08/09, ...: op Eb,Gb / Ev,Gv. */
export function aluEG(cpu: CPU, ins: Instr): void {
  aluToE(cpu, ins, (ins.op >> 3) & 7, cpu.getReg(ins.size, ins.reg));
}

/** 32-bit register-to-register form, the most common encoding (ADD/SUB/CMP/XOR r32, r32). */
export function aluEG32reg(cpu: CPU, ins: Instr): void {
  const op = (ins.op >> 3) & 7;
  const r = alu(cpu, op, cpu.regs[ins.rm], cpu.regs[ins.reg], 4);
  if (op !== CMP) cpu.regs[ins.rm] = r;
}

/** 02/03, 0A/0B, ...: op Gb,Eb / Gv,Ev. */
export function aluGE(cpu: CPU, ins: Instr): void {
  const op = (ins.op >> 3) & 7;
  const r = alu(cpu, op, cpu.getReg(ins.size, ins.reg), cpu.readE(ins), ins.size);
  if (op !== CMP) cpu.setReg(ins.size, ins.reg, r);
}

/** 04/05, 0C/0D, ...: op AL,Ib / eAX,Iz. */
export function aluAI(cpu: CPU, ins: Instr): void {
  const op = (ins.op >> 3) & 7;
  const r = alu(cpu, op, cpu.getReg(ins.size, 0), ins.imm & mask(ins.size), ins.size);
  if (op !== CMP) cpu.setReg(ins.size, 0, r);
}

/** Group 1 (80, 81, 83): op E,imm with the operation in ModRM.reg. */
export function aluEI(cpu: CPU, ins: Instr): void {
  aluToE(cpu, ins, ins.reg, ins.imm & mask(ins.size));
}

/** TEST E,G and TEST E,imm / A,imm: AND without writing the result. */
export function testEG(cpu: CPU, ins: Instr): void {
  alu(cpu, AND, cpu.readE(ins), cpu.getReg(ins.size, ins.reg), ins.size);
}
export function testEI(cpu: CPU, ins: Instr): void {
  alu(cpu, AND, cpu.readE(ins), ins.imm & mask(ins.size), ins.size);
}
export function testAI(cpu: CPU, ins: Instr): void {
  alu(cpu, AND, cpu.getReg(ins.size, 0), ins.imm & mask(ins.size), ins.size);
}

/** INC/DEC's result and flags (CF kept); also the #PF handler's emulator (src/watch/emulate.ts). */
export function incdec(cpu: CPU, d: number, size: number, dec: boolean): number {
  const r = (dec ? d - 1 : d + 1) & mask(size);
  cpu.setLazyKeepCF(dec ? Lazy.Dec : Lazy.Inc, d, r, size);
  return r;
}

/** 40+r / 48+r: INC/DEC r16/r32. */
export function incReg(cpu: CPU, ins: Instr): void {
  const r = ins.op & 7;
  cpu.setReg(ins.size, r, incdec(cpu, cpu.getReg(ins.size, r), ins.size, false));
}
export function decReg(cpu: CPU, ins: Instr): void {
  const r = ins.op & 7;
  cpu.setReg(ins.size, r, incdec(cpu, cpu.getReg(ins.size, r), ins.size, true));
}

/** Read-modify-write of the E operand with `f`; memory destinations are probed for write first. */
function rmwE(cpu: CPU, ins: Instr, f: (cpu: CPU, d: number, size: number) => number): void {
  const size = ins.size;
  if (ins.mod === 3) {
    cpu.setReg(size, ins.rm, f(cpu, cpu.getReg(size, ins.rm), size));
  } else {
    const lin = cpu.lin(ins);
    cpu.probeWrite(lin, size);
    cpu.write(size, lin, f(cpu, cpu.read(size, lin), size));
  }
}

const fInc = (cpu: CPU, d: number, size: number): number => incdec(cpu, d, size, false);
const fDec = (cpu: CPU, d: number, size: number): number => incdec(cpu, d, size, true);
export const fNot = (_cpu: CPU, d: number, size: number): number => ~d & mask(size);
export const fNeg = (cpu: CPU, d: number, size: number): number => {
  const r = -d & mask(size);
  cpu.setLazy(Lazy.Sub, 0, d, r, size);
  return r;
};

/** FE/FF /0, /1 and F6/F7 /2, /3. */
export function incE(cpu: CPU, ins: Instr): void {
  rmwE(cpu, ins, fInc);
}
export function decE(cpu: CPU, ins: Instr): void {
  rmwE(cpu, ins, fDec);
}
export function notE(cpu: CPU, ins: Instr): void {
  rmwE(cpu, ins, fNot);
}
export function negE(cpu: CPU, ins: Instr): void {
  rmwE(cpu, ins, fNeg);
}
export { rmwE };
