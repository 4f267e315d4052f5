/**
 * String instructions MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS with REP,
 * REPE and REPNE (SDM Vol. 2 "REP/REPE/REPZ/REPNE/REPNZ").
 *
 * A repeated instruction runs iteration by iteration, updating ECX, ESI and
 * EDI after each one, so a fault in iteration k leaves the first k-1 done
 * and EIP at the instruction: the restart continues where it stopped, as on
 * hardware. At most `cpu.repChunk` iterations run per execution; if more
 * remain, EIP stays on the instruction (this is how single-step traps after
 * each iteration and how interrupts and the budget get in).
 */
import type { CPU } from '../cpu.js';
import type { Instr } from '../instr.js';
import { ES, REP_E, REP_NE, REP_NONE } from '../instr.js';
import { alu, CMP } from './alu.js';

const ECX = 1, ESI = 6, EDI = 7;

function getIdx(cpu: CPU, ins: Instr, r: number): number {
  return ins.asize === 4 ? cpu.regs[r] : cpu.regs[r] & 0xffff;
}
function advance(cpu: CPU, ins: Instr, r: number, delta: number): void {
  if (ins.asize === 4) cpu.regs[r] = (cpu.regs[r] + delta) | 0;
  else cpu.regs[r] = (cpu.regs[r] & ~0xffff) | ((cpu.regs[r] + delta) & 0xffff);
}
function count(cpu: CPU, ins: Instr): number {
  return ins.asize === 4 ? cpu.regs[ECX] >>> 0 : cpu.regs[ECX] & 0xffff;
}
function setCount(cpu: CPU, ins: Instr, c: number): void {
  if (ins.asize === 4) cpu.regs[ECX] = c;
  else cpu.regs[ECX] = (cpu.regs[ECX] & ~0xffff) | (c & 0xffff);
}

type Iteration = (cpu: CPU, ins: Instr, delta: number) => void;

const movsIt: Iteration = (cpu, ins, d) => {
  const size = ins.size;
  const v = cpu.read(size, cpu.segLin(ins.seg, getIdx(cpu, ins, ESI), ins.size, false));
  cpu.write(size, cpu.segLin(ES, getIdx(cpu, ins, EDI), ins.size, true), v);
  advance(cpu, ins, ESI, d);
  advance(cpu, ins, EDI, d);
};
const stosIt: Iteration = (cpu, ins, d) => {
  cpu.write(ins.size, cpu.segLin(ES, getIdx(cpu, ins, EDI), ins.size, true), cpu.getReg(ins.size, 0));
  advance(cpu, ins, EDI, d);
};
const lodsIt: Iteration = (cpu, ins, d) => {
  cpu.setReg(ins.size, 0, cpu.read(ins.size, cpu.segLin(ins.seg, getIdx(cpu, ins, ESI), ins.size, false)));
  advance(cpu, ins, ESI, d);
};
const cmpsIt: Iteration = (cpu, ins, d) => {
  const size = ins.size;
  const a = cpu.read(size, cpu.segLin(ins.seg, getIdx(cpu, ins, ESI), ins.size, false));
  const b = cpu.read(size, cpu.segLin(ES, getIdx(cpu, ins, EDI), ins.size, false));
  alu(cpu, CMP, a, b, size);
  advance(cpu, ins, ESI, d);
  advance(cpu, ins, EDI, d);
};
const scasIt: Iteration = (cpu, ins, d) => {
  const size = ins.size;
  const b = cpu.read(size, cpu.segLin(ES, getIdx(cpu, ins, EDI), ins.size, false));
  alu(cpu, CMP, cpu.getReg(size, 0), b, size);
  advance(cpu, ins, EDI, d);
};
const insIt: Iteration = (cpu, ins, d) => {
  const lin = cpu.segLin(ES, getIdx(cpu, ins, EDI), ins.size, true);
  cpu.probeWrite(lin, ins.size);
  cpu.write(ins.size, lin, cpu.portIn(cpu.regs[2] & 0xffff, ins.size));
  advance(cpu, ins, EDI, d);
};
const outsIt: Iteration = (cpu, ins, d) => {
  const v = cpu.read(ins.size, cpu.segLin(ins.seg, getIdx(cpu, ins, ESI), ins.size, false));
  cpu.portOut(cpu.regs[2] & 0xffff, v, ins.size);
  advance(cpu, ins, ESI, d);
};

/** Run a string instruction; `cond` is true for CMPS/SCAS, where REPE/REPNE test ZF. */
function runString(cpu: CPU, ins: Instr, it: Iteration, cond: boolean): void {
  const d = cpu.df ? -ins.size : ins.size;
  if (ins.rep === REP_NONE) {
    it(cpu, ins, d);
    return;
  }
  let c = count(cpu, ins);
  let budget = cpu.repChunk;
  while (c !== 0) {
    it(cpu, ins, d);
    c = (c - 1) >>> 0;
    setCount(cpu, ins, c);
    if (cond) {
      const zf = cpu.getZF() !== 0;
      if ((ins.rep === REP_E && !zf) || (ins.rep === REP_NE && zf)) return;
    }
    if (--budget === 0 && c !== 0) {
      // Leave EIP on the instruction: the rest runs when it is executed again.
      cpu.eip = ins.addr;
      return;
    }
  }
}

export function movs(cpu: CPU, ins: Instr): void {
  if (ins.rep !== REP_NONE && fastRep(cpu, ins, false)) return;
  runString(cpu, ins, movsIt, false);
}
export function stos(cpu: CPU, ins: Instr): void {
  if (ins.rep !== REP_NONE && fastRep(cpu, ins, true)) return;
  runString(cpu, ins, stosIt, false);
}
export function lods(cpu: CPU, ins: Instr): void {
  runString(cpu, ins, lodsIt, false);
}
export function cmps(cpu: CPU, ins: Instr): void {
  runString(cpu, ins, cmpsIt, true);
}
export function scas(cpu: CPU, ins: Instr): void {
  runString(cpu, ins, scasIt, true);
}
export function insString(cpu: CPU, ins: Instr): void {
  if (!cpu.ioAllowed(cpu.regs[2] & 0xffff, ins.size)) return;
  runString(cpu, ins, insIt, false);
}
export function outsString(cpu: CPU, ins: Instr): void {
  if (!cpu.ioAllowed(cpu.regs[2] & 0xffff, ins.size)) return;
  runString(cpu, ins, outsIt, false);
}

/**
 * REP MOVS / REP STOS forward, whole elements within one page on each
 * side: the loop above done on the physical arrays, chunk by chunk. Falls
 * back (returns false) whenever a translation is missing, segments need
 * checks (a source in FS or GS always does), or a forward
 * element-by-element copy would overlap its own output (that replicates,
 * which a block copy would not), so faults and
 * corner cases still come from the architectural path. A page that holds
 * decoded code is never in the write TLB, so code writes take the slow path too.
 */
function fastRep(cpu: CPU, ins: Instr, store: boolean): boolean {
  // FS and GS are always checked (CPU.segmentsChanged): a MOVS from them takes the architectural path.
  if (cpu.df || cpu.repChunk < 0x1000 || cpu.segChecks || ins.asize !== 4 || (!store && ins.seg >= 4)) return false;
  const size = ins.size;
  let c = cpu.regs[ECX] >>> 0;
  let chunk = cpu.repChunk;
  const fill = store ? cpu.getReg(size, 0) : 0;
  while (c !== 0) {
    if (chunk <= 0) {
      cpu.eip = ins.addr;
      return true;
    }
    const dst = (cpu.segBase[ES] + cpu.regs[EDI]) | 0;
    const ed = cpu.tlbW[dst >>> 12];
    if (ed === 0 || (dst & (size - 1)) !== 0) return false;
    const pd = (ed & ~0xfff) | (dst & 0xfff);
    let n = Math.min(c, chunk, (0x1000 - (dst & 0xfff)) / size);
    if (store) {
      if (size === 1) cpu.mem8.fill(fill, pd, pd + n);
      else if (size === 4) cpu.mem32.fill(fill, pd >> 2, (pd >> 2) + n);
      else return false;
    } else {
      const src = (cpu.segBase[ins.seg] + cpu.regs[ESI]) | 0;
      const es = cpu.tlbR[src >>> 12];
      if (es === 0 || (src & (size - 1)) !== 0) return false;
      n = Math.min(n, (0x1000 - (src & 0xfff)) / size);
      const ps = (es & ~0xfff) | (src & 0xfff);
      const bytes = n * size;
      if (pd > ps && pd < ps + bytes) return false;
      cpu.mem8.copyWithin(pd, ps, ps + bytes);
      cpu.regs[ESI] = (cpu.regs[ESI] + bytes) | 0;
    }
    c -= n;
    chunk -= n;
    cpu.regs[ECX] = c;
    cpu.regs[EDI] = (cpu.regs[EDI] + n * size) | 0;
  }
  return true;
}
