/**
 * Near control transfers: JMP, Jcc, CALL, RET (incl. RET imm16), LOOP,
 * LOOPE/LOOPNE, JECXZ (SDM Vol. 2). Branch targets were resolved by the
 * decoder into `ins.imm`; a 16-bit operand size truncates EIP to 16 bits.
 */
import type { CPU } from '../cpu.js';
import type { Instr } from '../instr.js';

const ECX = 1, ESP = 4;

export function jmpRel(cpu: CPU, ins: Instr): void {
  cpu.eip = ins.imm;
}
export function jcc(cpu: CPU, ins: Instr): void {
  if (cpu.cond(ins.op & 0xf)) cpu.eip = ins.imm;
}
export function callRel(cpu: CPU, ins: Instr): void {
  cpu.push(ins.size, ins.next);
  cpu.eip = ins.imm;
}
/** FF /2: CALL Ev. The target is read before anything is pushed. */
export function callE(cpu: CPU, ins: Instr): void {
  let t = cpu.readE(ins);
  if (ins.size === 2) t &= 0xffff;
  cpu.push(ins.size, ins.next);
  cpu.eip = t;
}
/** FF /4: JMP Ev. */
export function jmpE(cpu: CPU, ins: Instr): void {
  let t = cpu.readE(ins);
  if (ins.size === 2) t &= 0xffff;
  cpu.eip = t;
}
/** C3: RET; C2: RET imm16 releases imm16 bytes of parameters after popping. */
export function ret(cpu: CPU, ins: Instr): void {
  cpu.eip = ins.size === 2 ? cpu.pop16() : cpu.pop32();
}
export function retImm(cpu: CPU, ins: Instr): void {
  const t = ins.size === 2 ? cpu.pop16() : cpu.pop32();
  cpu.regs[ESP] = (cpu.regs[ESP] + (ins.imm & 0xffff)) | 0;
  cpu.eip = t;
}

/** Decrement the count register selected by the address size; returns the new count. */
function decCount(cpu: CPU, ins: Instr): number {
  if (ins.asize === 4) return (cpu.regs[ECX] = (cpu.regs[ECX] - 1) | 0);
  const c = (cpu.regs[ECX] - 1) & 0xffff;
  cpu.regs[ECX] = (cpu.regs[ECX] & ~0xffff) | c;
  return c;
}
/** E2: LOOP; E1: LOOPE; E0: LOOPNE. */
export function loop(cpu: CPU, ins: Instr): void {
  if (decCount(cpu, ins) !== 0) cpu.eip = ins.imm;
}
export function loope(cpu: CPU, ins: Instr): void {
  if (decCount(cpu, ins) !== 0 && cpu.getZF()) cpu.eip = ins.imm;
}
export function loopne(cpu: CPU, ins: Instr): void {
  if (decCount(cpu, ins) !== 0 && !cpu.getZF()) cpu.eip = ins.imm;
}
/** E3: JECXZ (JCXZ with a 0x67 prefix). */
export function jecxz(cpu: CPU, ins: Instr): void {
  const c = ins.asize === 4 ? cpu.regs[ECX] : cpu.regs[ECX] & 0xffff;
  if (c === 0) cpu.eip = ins.imm;
}
