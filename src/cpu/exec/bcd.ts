/**
 * Decimal adjust instructions DAA, DAS, AAA, AAS, AAM, AAD, and the
 * undocumented SALC (SDM Vol. 2 operation sections; flags marked
 * "undefined" there are computed from the result the way current Intel
 * processors do for SF/ZF/PF, and cleared otherwise).
 */
import type { CPU } from '../cpu.js';
import type { Instr } from '../instr.js';
import { AF, CF, OF } from '../flags.js';
import { Vec } from '../stop.js';

/** Set AL and the flags DAA/DAS define: CF, AF explicit; SF, ZF, PF from AL; OF undefined (cleared). */
function setAL(cpu: CPU, al: number, cf: boolean, af: boolean): void {
  cpu.setReg8(0, al);
  cpu.setLazyResult(al, 1, (cf ? CF : 0) | (af ? AF : 0), CF | AF | OF);
}

export function daa(cpu: CPU): void {
  const oldAl = cpu.getReg8(0);
  const oldCf = cpu.getCF() !== 0;
  let al = oldAl;
  let cf = false;
  let af = false;
  if ((al & 0xf) > 9 || cpu.getAF()) {
    al = (al + 6) & 0xff;
    cf = oldCf || oldAl + 6 > 0xff;
    af = true;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al + 0x60) & 0xff;
    cf = true;
  }
  setAL(cpu, al, cf, af);
}

export function das(cpu: CPU): void {
  const oldAl = cpu.getReg8(0);
  const oldCf = cpu.getCF() !== 0;
  let al = oldAl;
  let cf = false;
  let af = false;
  if ((al & 0xf) > 9 || cpu.getAF()) {
    al = (al - 6) & 0xff;
    cf = oldCf || oldAl < 6;
    af = true;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al - 0x60) & 0xff;
    cf = true;
  }
  setAL(cpu, al, cf, af);
}

/** AAA/AAS: only AF and CF are defined; OF, SF, ZF, PF are undefined. */
export function aaa(cpu: CPU): void {
  let ax = cpu.regs[0] & 0xffff;
  const adjust = (ax & 0xf) > 9 || cpu.getAF() !== 0;
  if (adjust) ax = (ax + 0x106) & 0xffff;
  ax &= 0xff0f;
  cpu.setReg(2, 0, ax);
  cpu.setLazyResult(ax & 0xff, 1, adjust ? CF | AF : 0, CF | AF | OF);
}
export function aas(cpu: CPU): void {
  let ax = cpu.regs[0] & 0xffff;
  const adjust = (ax & 0xf) > 9 || cpu.getAF() !== 0;
  // SDM: AX ← AX − 6; AH ← AH − 1 (the borrow out of AL reaches AH too).
  if (adjust) ax = (((ax - 6) & 0xffff) - 0x100) & 0xffff;
  ax &= 0xff0f;
  cpu.setReg(2, 0, ax);
  cpu.setLazyResult(ax & 0xff, 1, adjust ? CF | AF : 0, CF | AF | OF);
}

/** AAM imm8: AH = AL / imm, AL = AL % imm; #DE when imm is 0. SF, ZF, PF from AL. */
export function aam(cpu: CPU, ins: Instr): void {
  const base = ins.imm & 0xff;
  if (base === 0) cpu.fault(Vec.DE);
  const al = cpu.getReg8(0);
  const r = al % base;
  cpu.setReg(2, 0, (Math.floor(al / base) << 8) | r);
  cpu.setLazyResult(r, 1, 0, CF | AF | OF);
}
/** AAD imm8: AL = AL + AH * imm, AH = 0. SF, ZF, PF from AL. */
export function aad(cpu: CPU, ins: Instr): void {
  const base = ins.imm & 0xff;
  const al = (cpu.getReg8(0) + cpu.getReg8(4) * base) & 0xff;
  cpu.setReg(2, 0, al);
  cpu.setLazyResult(al, 1, 0, CF | AF | OF);
}

/** D6: SALC — AL = CF ? 0xFF : 0 (undocumented, present on every IA-32 processor). */
export function salc(cpu: CPU): void {
  cpu.setReg8(0, cpu.getCF() ? 0xff : 0);
}
