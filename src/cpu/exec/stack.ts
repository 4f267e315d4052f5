/**
 * Stack instructions: PUSH/POP (registers, immediates, memory), PUSHA/POPA,
 * PUSHF/POPF, ENTER/LEAVE (SDM Vol. 2).
 *
 * Every multi-step stack operation computes all addresses first and moves
 * ESP last, so a fault part-way leaves ESP as it was (invariant 1).
 */
import type { CPU } from '../cpu.js';
import type { Instr } from '../instr.js';
import { SS } from '../instr.js';
import { AC, AF, CF, DF, ID, IF, IOPL, NT, OF, PF, RF, SF, TF, VIF, VIP, VM, ZF } from '../flags.js';
import { FAULT } from '../cpu.js';

const ESP = 4;

/** 50+r: PUSH r. PUSH ESP pushes the value before the push. */
export function pushReg(cpu: CPU, ins: Instr): void {
  cpu.push(ins.size, cpu.getReg(ins.size, ins.op & 7));
}
export function pushReg32(cpu: CPU, ins: Instr): void {
  cpu.push32(cpu.regs[ins.op & 7]);
}
/** 58+r: POP r. */
export function popReg(cpu: CPU, ins: Instr): void {
  const v = cpu.pop(ins.size);
  cpu.setReg(ins.size, ins.op & 7, v);
}
export function popReg32(cpu: CPU, ins: Instr): void {
  const v = cpu.pop32();
  cpu.regs[ins.op & 7] = v;
}
/** 68/6A: PUSH imm (6A sign-extends its byte). */
export function pushImm(cpu: CPU, ins: Instr): void {
  cpu.push(ins.size, ins.imm);
}
/** FF /6: PUSH Ev. */
export function pushE(cpu: CPU, ins: Instr): void {
  cpu.push(ins.size, cpu.readE(ins));
}
/** 8F /0: POP Ev. ESP is incremented before the destination address is computed. */
export function popE(cpu: CPU, ins: Instr): void {
  const size = ins.size;
  const v = cpu.read(size, (cpu.segBase[SS] + cpu.regs[ESP]) | 0);
  const old = cpu.regs[ESP];
  cpu.regs[ESP] = (old + size) | 0;
  try {
    cpu.writeE(ins, v);
  } catch (e) {
    if (e === FAULT) cpu.regs[ESP] = old;
    throw e;
  }
}

/** 60: PUSHA/PUSHAD. */
export function pusha(cpu: CPU, ins: Instr): void {
  const size = ins.size;
  const r = cpu.regs;
  const sp = r[ESP];
  const order = [0, 1, 2, 3, 4, 5, 6, 7];
  const ss = cpu.segBase[SS];
  for (const i of order) {
    const v = i === ESP ? sp : r[i];
    cpu.write(size, (ss + sp - size * (i + 1)) | 0, v);
  }
  r[ESP] = (sp - 8 * size) | 0;
}
/** 61: POPA/POPAD. The stored ESP is skipped. */
export function popa(cpu: CPU, ins: Instr): void {
  const size = ins.size;
  const r = cpu.regs;
  const sp = r[ESP];
  const ss = cpu.segBase[SS];
  const vals = [0, 0, 0, 0, 0, 0, 0, 0];
  // The stored ESP slot is skipped, not read (SDM "POPA/POPAD": ESP ← ESP + 4 (* skip next 4 bytes *)).
  for (let i = 0; i < 8; i++) if (7 - i !== ESP) vals[7 - i] = cpu.read(size, (ss + sp + size * i) | 0);
  for (let i = 0; i < 8; i++) if (i !== ESP) cpu.setReg(size, i, vals[i]);
  r[ESP] = (sp + 8 * size) | 0;
}

/** 9C: PUSHF/PUSHFD. VM and RF are cleared in the pushed image. */
export function pushf(cpu: CPU, ins: Instr): void {
  const f = cpu.getEflags() & ~(VM | RF);
  cpu.push(ins.size, ins.size === 2 ? f & 0xffff : f);
}

/**
 * 9D: POPF/POPFD (SDM "POPF/POPFD", protected mode): IOPL changes only at
 * CPL 0, IF only when CPL <= IOPL; VM, VIP, VIF are unaffected; RF is cleared.
 * A TF set here traps after the instruction that follows POPF, the first one
 * that begins with TF set (SDM Vol. 3 §17.3.1.4).
 */
export function popf(cpu: CPU, ins: Instr): void {
  const v = cpu.pop(ins.size);
  let mask = CF | PF | AF | ZF | SF | TF | DF | OF | NT;
  if (ins.size === 4) mask |= AC | ID | RF;
  const iopl = (cpu.flags & IOPL) >> 12;
  if (cpu.cpl === 0) mask |= IOPL;
  if (cpu.cpl <= iopl) mask |= IF;
  mask &= ~(VM | VIP | VIF);
  cpu.setEflags(v & ~RF, mask);
}

/** C8: ENTER imm16, imm8 (nesting level mod 32), SDM "ENTER" operation. */
export function enter(cpu: CPU, ins: Instr): void {
  const size = ins.size;
  const allocSize = ins.imm & 0xffff;
  const level = ins.imm2 & 0x1f;
  const r = cpu.regs;
  const ss = cpu.segBase[SS];
  let sp = r[ESP];
  let bp = r[5];
  sp = (sp - size) | 0;
  cpu.write(size, (ss + sp) | 0, cpu.getReg(size, 5));
  const frameTemp = sp;
  if (level > 0) {
    for (let i = 1; i < level; i++) {
      bp = (bp - size) | 0;
      const v = cpu.read(size, (ss + bp) | 0);
      sp = (sp - size) | 0;
      cpu.write(size, (ss + sp) | 0, v);
    }
    sp = (sp - size) | 0;
    cpu.write(size, (ss + sp) | 0, frameTemp);
  }
  // The final ESP must be addressable: a touch of the lowest byte faults as hardware does.
  const newSp = (sp - allocSize) | 0;
  if (allocSize > 0) cpu.probeWrite((ss + newSp) | 0, 1);
  cpu.setReg(size, 5, frameTemp);
  r[ESP] = newSp;
}

/** C9: LEAVE — ESP = EBP, then pop EBP. */
export function leave(cpu: CPU, ins: Instr): void {
  const r = cpu.regs;
  const size = ins.size;
  const v = cpu.read(size, (cpu.segBase[SS] + r[5]) | 0);
  r[ESP] = (r[5] + size) | 0;
  cpu.setReg(size, 5, v);
}
