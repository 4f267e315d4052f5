/**
 * The x87 environment and state images in memory (Intel SDM Vol. 1 §8.1.10,
 * Figures 8-9 to 8-12): FSTENV/FNSTENV and FLDENV (14 or 28 bytes),
 * FSAVE/FNSAVE and FRSTOR (the environment followed by ST(0)..ST(7), 80 bits
 * each: 94 or 108 bytes). The operand-size attribute picks the layout: the
 * 32-bit protected-mode format by default, the 16-bit one with a 66 prefix.
 *
 * The real-mode and virtual-8086 layouts (FIP/FDP as 20-bit linear
 * addresses) are not modelled: kmemsim stores the protected-mode layout in
 * every mode.
 *
 * Stores probe the whole destination for writability first and loads read
 * the whole image before changing any state, so a #PF or #GP on any byte
 * leaves the FPU as it was (the instruction restarts cleanly).
 */
import type { CPU } from '../cpu.js';
import type { X87State } from './x87-state.js';

/** Bytes of the environment image for an operand size of 2 or 4. */
export function envSize(opsize: number): number {
  return opsize === 2 ? 14 : 28;
}
/** Bytes of the FSAVE image. */
export function saveSize(opsize: number): number {
  return envSize(opsize) + 80;
}

/** The environment as the words of its image, in image order (SDM Vol. 1 Figures 8-9, 8-10). */
function envWords(f: X87State, opsize: number): number[] {
  const cw = f.cw, sw = f.statusWord(), tw = f.tagWord();
  if (opsize === 2) return [cw, sw, tw, f.fip & 0xffff, f.fcs, f.fdp & 0xffff, f.fds];
  // 32-bit protected mode: each 16-bit field in a dword whose upper half reads as all ones
  // (what P6-family and later processors store); the opcode shares the FCS dword.
  return [cw | 0xffff0000, sw | 0xffff0000, tw | 0xffff0000, f.fip, f.fcs | ((f.fop & 0x7ff) << 16), f.fdp, f.fds | 0xffff0000];
}

function writeEnvWords(cpu: CPU, lin: number, words: number[], opsize: number): void {
  for (let i = 0; i < words.length; i++) {
    if (opsize === 2) cpu.write16((lin + 2 * i) | 0, words[i] & 0xffff);
    else cpu.write32((lin + 4 * i) | 0, words[i] | 0);
  }
}

function readEnvWords(cpu: CPU, lin: number, opsize: number): number[] {
  const w: number[] = [];
  for (let i = 0; i < 7; i++) w.push(opsize === 2 ? cpu.read16((lin + 2 * i) | 0) : cpu.read32((lin + 4 * i) | 0));
  return w;
}

function applyEnvWords(f: X87State, w: number[], opsize: number): void {
  // FLDENV/FRSTOR load the control word before the status word; ES follows the new masks.
  f.cw = (w[0] & 0x1f3f) | 0x40;
  f.setStatusWord(w[1] & 0xffff);
  f.setTagWord(w[2] & 0xffff);
  if (opsize === 2) {
    f.fip = w[3] & 0xffff;
    f.fcs = w[4] & 0xffff;
    f.fop = 0;
    f.fdp = w[5] & 0xffff;
    f.fds = w[6] & 0xffff;
  } else {
    f.fip = w[3];
    f.fcs = w[4] & 0xffff;
    f.fop = (w[4] >>> 16) & 0x7ff;
    f.fdp = w[5];
    f.fds = w[6] & 0xffff;
  }
}

/** FNSTENV: store the environment, then mask every exception (SDM Vol. 2 FSTENV/FNSTENV). */
export function storeEnv(cpu: CPU, lin: number, opsize: number): void {
  const f = cpu.fpu;
  cpu.probeWrite(lin, envSize(opsize));
  writeEnvWords(cpu, lin, envWords(f, opsize), opsize);
  f.setControlWord(f.cw | 0x3f);
}

/** FLDENV. */
export function loadEnv(cpu: CPU, lin: number, opsize: number): void {
  applyEnvWords(cpu.fpu, readEnvWords(cpu, lin, opsize), opsize);
}

/** FNSAVE: environment and registers, then the FPU is initialized as by FNINIT (SDM Vol. 2 FSAVE/FNSAVE). */
export function storeState(cpu: CPU, lin: number, opsize: number): void {
  const f = cpu.fpu;
  cpu.probeWrite(lin, saveSize(opsize));
  writeEnvWords(cpu, lin, envWords(f, opsize), opsize);
  let a = (lin + envSize(opsize)) | 0;
  for (let i = 0; i < 8; i++, a = (a + 10) | 0) {
    const p = f.phys(i);
    writeM80(cpu, a, f.se[p], f.sig[p]);
  }
  f.init();
}

/** FRSTOR. */
export function loadState(cpu: CPU, lin: number, opsize: number): void {
  const f = cpu.fpu;
  const w = readEnvWords(cpu, lin, opsize);
  const regs: [number, bigint][] = [];
  let a = (lin + envSize(opsize)) | 0;
  for (let i = 0; i < 8; i++, a = (a + 10) | 0) regs.push(readM80(cpu, a));
  applyEnvWords(f, w, opsize);
  const empty = f.empty;
  for (let i = 0; i < 8; i++) {
    const p = f.phys(i);
    f.se[p] = regs[i][0];
    f.sig[p] = regs[i][1];
  }
  f.empty = empty;
}

/** An 80-bit value at `lin`: [sign/exponent, significand]. */
export function readM80(cpu: CPU, lin: number): [number, bigint] {
  const lo = cpu.read32(lin) >>> 0;
  const hi = cpu.read32((lin + 4) | 0) >>> 0;
  const se = cpu.read16((lin + 8) | 0);
  return [se, (BigInt(hi) << 32n) | BigInt(lo)];
}

/** Store an 80-bit value (the caller has probed the destination when it must not be partly written). */
export function writeM80(cpu: CPU, lin: number, se: number, sig: bigint): void {
  cpu.write32(lin, Number(sig & 0xffffffffn) | 0);
  cpu.write32((lin + 4) | 0, Number(sig >> 32n) | 0);
  cpu.write16((lin + 8) | 0, se);
}

/** A 64-bit value at `lin`, as an unsigned bigint. */
export function readM64(cpu: CPU, lin: number): bigint {
  const lo = cpu.read32(lin) >>> 0;
  const hi = cpu.read32((lin + 4) | 0) >>> 0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Store 64 bits, both pages checked first (no partial store on #PF). */
export function writeM64(cpu: CPU, lin: number, v: bigint): void {
  cpu.probeWrite(lin, 8);
  cpu.write32(lin, Number(v & 0xffffffffn) | 0);
  cpu.write32((lin + 4) | 0, Number((v >> 32n) & 0xffffffffn) | 0);
}
