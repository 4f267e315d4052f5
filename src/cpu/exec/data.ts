/**
 * Data movement: MOV, MOVZX/MOVSX, LEA, XCHG, XADD, CMPXCHG, CMPXCHG8B,
 * CBW/CWDE/CWD/CDQ, LAHF/SAHF, flag bit instructions, XLAT, NOP (SDM Vol. 2).
 */
import type { CPU } from '../cpu.js';
import type { Instr } from '../instr.js';
import { CF, DF, ZF, SF, AF, PF, Lazy } from '../flags.js';
import { alu, CMP } from './alu.js';

/** 88/89: MOV Eb,Gb / Ev,Gv. */
export function movEG(cpu: CPU, ins: Instr): void {
  cpu.writeE(ins, cpu.getReg(ins.size, ins.reg));
}
/** 8A/8B: MOV Gb,Eb / Gv,Ev. */
export function movGE(cpu: CPU, ins: Instr): void {
  cpu.setReg(ins.size, ins.reg, cpu.readE(ins));
}
/** Specialized 32-bit forms, the hottest encodings in compiled code. */
export function movEG32(cpu: CPU, ins: Instr): void {
  if (ins.mod === 3) cpu.regs[ins.rm] = cpu.regs[ins.reg];
  else cpu.write32(cpu.lin(ins), cpu.regs[ins.reg]);
}
export function movGE32(cpu: CPU, ins: Instr): void {
  cpu.regs[ins.reg] = ins.mod === 3 ? cpu.regs[ins.rm] : cpu.read32(cpu.lin(ins));
}
/** C6/C7 /0: MOV E,imm. */
export function movEI(cpu: CPU, ins: Instr): void {
  cpu.writeE(ins, ins.imm);
}
/** B0+r / B8+r: MOV r,imm. */
export function movRI(cpu: CPU, ins: Instr): void {
  cpu.setReg(ins.size, ins.op & 7, ins.imm);
}
/** A0–A3: MOV AL/eAX <-> moffs. */
export function movAO(cpu: CPU, ins: Instr): void {
  cpu.setReg(ins.size, 0, cpu.read(ins.size, cpu.lin(ins)));
}
export function movOA(cpu: CPU, ins: Instr): void {
  cpu.write(ins.size, cpu.lin(ins), cpu.getReg(ins.size, 0));
}
/** 0F B6/B7/BE/BF. The source size is fixed by the opcode. */
export function movzxB(cpu: CPU, ins: Instr): void {
  const v = ins.mod === 3 ? cpu.getReg8(ins.rm) : cpu.read8(cpu.lin(ins));
  cpu.setReg(ins.size, ins.reg, v);
}
export function movzxW(cpu: CPU, ins: Instr): void {
  const v = ins.mod === 3 ? cpu.regs[ins.rm] & 0xffff : cpu.read16(cpu.lin(ins));
  cpu.setReg(ins.size, ins.reg, v);
}
export function movsxB(cpu: CPU, ins: Instr): void {
  const v = ins.mod === 3 ? cpu.getReg8(ins.rm) : cpu.read8(cpu.lin(ins));
  cpu.setReg(ins.size, ins.reg, (v << 24) >> 24);
}
export function movsxW(cpu: CPU, ins: Instr): void {
  const v = ins.mod === 3 ? cpu.regs[ins.rm] & 0xffff : cpu.read16(cpu.lin(ins));
  cpu.setReg(ins.size, ins.reg, (v << 16) >> 16);
}
/** 8D: LEA computes the offset only; no memory access, no segment base. */
export function lea(cpu: CPU, ins: Instr): void {
  cpu.setReg(ins.size, ins.reg, cpu.ea(ins));
}

/** 86/87: XCHG E,G (locked implicitly with a memory operand). */
export function xchgEG(cpu: CPU, ins: Instr): void {
  const size = ins.size;
  const g = cpu.getReg(size, ins.reg);
  if (ins.mod === 3) {
    cpu.setReg(size, ins.reg, cpu.getReg(size, ins.rm));
    cpu.setReg(size, ins.rm, g);
  } else {
    const lin = cpu.lin(ins);
    cpu.probeWrite(lin, size);
    const v = cpu.read(size, lin);
    cpu.write(size, lin, g);
    cpu.setReg(size, ins.reg, v);
  }
}
/** 91–97: XCHG eAX,r. (90 is NOP.) */
export function xchgAR(cpu: CPU, ins: Instr): void {
  const r = ins.op & 7;
  const a = cpu.getReg(ins.size, 0);
  cpu.setReg(ins.size, 0, cpu.getReg(ins.size, r));
  cpu.setReg(ins.size, r, a);
}

/** 0F C0/C1: XADD E,G — the sum goes to E, the old E to G. */
export function xadd(cpu: CPU, ins: Instr): void {
  const size = ins.size;
  const g = cpu.getReg(size, ins.reg);
  if (ins.mod === 3) {
    const d = cpu.getReg(size, ins.rm);
    const r = alu(cpu, 0, d, g, size);
    cpu.setReg(size, ins.reg, d);
    cpu.setReg(size, ins.rm, r);
  } else {
    const lin = cpu.lin(ins);
    cpu.probeWrite(lin, size);
    const d = cpu.read(size, lin);
    const r = alu(cpu, 0, d, g, size);
    cpu.write(size, lin, r);
    cpu.setReg(size, ins.reg, d);
  }
}

/**
 * 0F B0/B1: CMPXCHG E,G. Compares the accumulator with E; equal: E = G,
 * else accumulator = E. The destination is written in both cases (the
 * processor writes back the old value when the comparison fails).
 */
export function cmpxchg(cpu: CPU, ins: Instr): void {
  const size = ins.size;
  const acc = cpu.getReg(size, 0);
  if (ins.mod === 3) {
    const d = cpu.getReg(size, ins.rm);
    alu(cpu, CMP, acc, d, size);
    if (cpu.getZF()) cpu.setReg(size, ins.rm, cpu.getReg(size, ins.reg));
    else cpu.setReg(size, 0, d);
  } else {
    const lin = cpu.lin(ins);
    cpu.probeWrite(lin, size);
    const d = cpu.read(size, lin);
    alu(cpu, CMP, acc, d, size);
    if (cpu.getZF()) cpu.write(size, lin, cpu.getReg(size, ins.reg));
    else {
      cpu.write(size, lin, d);
      cpu.setReg(size, 0, d);
    }
  }
}

/** 0F C7 /1: CMPXCHG8B m64 — compares EDX:EAX with m64; equal: m64 = ECX:EBX and ZF=1, else EDX:EAX = m64, ZF=0. */
export function cmpxchg8b(cpu: CPU, ins: Instr): void {
  const lin = cpu.lin(ins);
  cpu.probeWrite(lin, 4);
  cpu.probeWrite((lin + 4) | 0, 4);
  const lo = cpu.read32(lin);
  const hi = cpu.read32((lin + 4) | 0);
  const r = cpu.regs;
  if (lo === r[0] && hi === r[2]) {
    cpu.write32(lin, r[3]);
    cpu.write32((lin + 4) | 0, r[1]);
    cpu.setEflags(ZF, ZF);
  } else {
    cpu.write32(lin, lo);
    cpu.write32((lin + 4) | 0, hi);
    r[0] = lo;
    r[2] = hi;
    cpu.setEflags(0, ZF);
  }
}

/** 98: CBW/CWDE. 99: CWD/CDQ. */
export function cbw(cpu: CPU, ins: Instr): void {
  const r = cpu.regs;
  if (ins.size === 2) r[0] = (r[0] & ~0xffff) | (((r[0] << 24) >> 24) & 0xffff);
  else r[0] = (r[0] << 16) >> 16;
}
export function cwd(cpu: CPU, ins: Instr): void {
  const r = cpu.regs;
  if (ins.size === 2) r[2] = (r[2] & ~0xffff) | ((r[0] << 16) >> 31 & 0xffff);
  else r[2] = r[0] >> 31;
}

/** 9F: LAHF loads SF:ZF:0:AF:0:PF:1:CF into AH. 9E: SAHF stores them back. */
export function lahf(cpu: CPU): void {
  cpu.setReg8(4, (cpu.getEflags() & (SF | ZF | AF | PF | CF)) | 2);
}
export function sahf(cpu: CPU): void {
  cpu.setEflags(cpu.getReg8(4), SF | ZF | AF | PF | CF);
}
export function clc(cpu: CPU): void {
  cpu.setEflags(0, CF);
}
export function stc(cpu: CPU): void {
  cpu.setEflags(CF, CF);
}
export function cmc(cpu: CPU): void {
  cpu.setEflags(cpu.getCF() ^ CF, CF);
}
export function cld(cpu: CPU): void {
  cpu.flags &= ~DF;
}
export function std(cpu: CPU): void {
  cpu.flags |= DF;
}

/** D7: XLAT — AL = [seg:EBX + AL]. */
export function xlat(cpu: CPU, ins: Instr): void {
  const off = ins.asize === 4 ? (cpu.regs[3] + (cpu.regs[0] & 0xff)) | 0 : (cpu.regs[3] + (cpu.regs[0] & 0xff)) & 0xffff;
  cpu.setReg8(0, cpu.read8(cpu.segLin(ins.seg, off, 1, false)));
}

export function nop(): void {}

export { Lazy };
