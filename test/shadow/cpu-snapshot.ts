/**
 * Save and restore the CPU's architectural state between runs of one
 * instruction (the access-decoding tests run every form from the same state).
 */
import type { CPU } from '../../src/cpu/cpu.js';

export interface CpuSnapshot {
  regs: Int32Array;
  eflags: number;
  segSel: Uint16Array;
  segBase: Int32Array;
  segLimit: Int32Array;
  segAttr: Uint16Array;
  cpl: number;
  codeSize32: boolean;
  gdtr: [number, number];
  idtr: [number, number];
  idtLoaded: boolean;
  ldt: [number, number, number];
  tr: [number, number, number];
  cr: [number, number, number];
}
export function snapshot(cpu: CPU): CpuSnapshot {
  return {
    regs: cpu.regs.slice(),
    eflags: cpu.getEflags(),
    segSel: cpu.segSel.slice(),
    segBase: cpu.segBase.slice(),
    segLimit: cpu.segLimit.slice(),
    segAttr: cpu.segAttr.slice(),
    cpl: cpu.cpl,
    codeSize32: cpu.codeSize32,
    gdtr: [cpu.gdtrBase, cpu.gdtrLimit],
    idtr: [cpu.idtrBase, cpu.idtrLimit],
    idtLoaded: cpu.idtLoaded,
    ldt: [cpu.ldtr, cpu.ldtBase, cpu.ldtLimit],
    tr: [cpu.tr, cpu.trBase, cpu.trLimit],
    cr: [cpu.cr0, cpu.cr3, cpu.cr4],
  };
}
export function restore(cpu: CPU, s: CpuSnapshot): void {
  cpu.regs.set(s.regs);
  cpu.lazyMask = 0;
  cpu.flags = s.eflags;
  cpu.segSel.set(s.segSel);
  cpu.segBase.set(s.segBase);
  cpu.segLimit.set(s.segLimit);
  cpu.segAttr.set(s.segAttr);
  cpu.setCpl(s.cpl);
  cpu.codeSize32 = s.codeSize32;
  cpu.segmentsChanged();
  [cpu.gdtrBase, cpu.gdtrLimit] = s.gdtr;
  [cpu.idtrBase, cpu.idtrLimit] = s.idtr;
  cpu.idtLoaded = s.idtLoaded;
  [cpu.ldtr, cpu.ldtBase, cpu.ldtLimit] = s.ldt;
  [cpu.tr, cpu.trBase, cpu.trLimit] = s.tr;
  [cpu.cr0, cpu.cr3, cpu.cr4] = s.cr;
  cpu.shadow = false;
  cpu.stiShadow = false;
  cpu.halted = false;
  cpu.stopReason = null;
  cpu.deliveryChain = [];
  cpu.unsupported = null;
  cpu.flushTlb();
}

