/**
 * The registers the stub shows gdb, in gdb's i386 numbering (gdb's
 * features/i386/32bit-core.xml: eax..edi, eip, eflags, cs..gs, st0..st7,
 * fctrl, fstat, ftag, fiseg, fioff, foseg, fooff, fop), then kmemsim's
 * control registers cr0, cr2, cr3, cr4 in a feature of its own
 * (`org.kmemsim.i386.control`: gdb shows them with `info registers cr2`).
 * `targetXml` is the target description gdb reads with
 * `qXfer:features:read:target.xml`; `g` sends every register in this
 * order, little-endian.
 *
 * The x87 registers are the CPU's own (src/cpu/fpu/x87-state.ts): st(i)
 * as its 80-bit encoding, the full status word with TOP, the 16-bit tag
 * word FSTENV stores (as gdb's i387 "ftag" expects), the last instruction
 * and operand pointers and the opcode.
 */
import type { CPU } from '../cpu/cpu.js';

interface Reg {
  name: string;
  bits: number;
  type: string;
  group?: string;
}

const GPR = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
/** Segment registers in gdb's order; their index in the CPU's segSel (ES, CS, SS, DS, FS, GS). */
const SEG_NAMES = ['cs', 'ss', 'ds', 'es', 'fs', 'gs'];
const SEG_INDEX = [1, 2, 3, 0, 4, 5];

export const REGISTERS: readonly Reg[] = [
  ...GPR.map((name) => ({ name, bits: 32, type: name === 'esp' || name === 'ebp' ? 'data_ptr' : 'int32' })),
  { name: 'eip', bits: 32, type: 'code_ptr' },
  { name: 'eflags', bits: 32, type: 'i386_eflags' },
  ...SEG_NAMES.map((name) => ({ name, bits: 32, type: 'int32' })),
  ...Array.from({ length: 8 }, (_, i) => ({ name: `st${i}`, bits: 80, type: 'i387_ext' })),
  ...['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'].map((name) => ({ name, bits: 32, type: 'int', group: 'float' })),
  ...['cr0', 'cr2', 'cr3', 'cr4'].map((name) => ({ name, bits: 32, type: 'int32', group: 'system' })),
];

export const REG_EIP = 8, REG_EFLAGS = 9, FIRST_ST = 16, FIRST_CR = 32;

const EFLAGS_FIELDS: [string, number][] = [
  ['CF', 0], ['', 1], ['PF', 2], ['AF', 4], ['ZF', 6], ['SF', 7], ['TF', 8], ['IF', 9], ['DF', 10], ['OF', 11],
  ['NT', 14], ['RF', 16], ['VM', 17], ['AC', 18], ['VIF', 19], ['VIP', 20], ['ID', 21],
];

function regXml(r: Reg, regnum: number): string {
  return `  <reg name="${r.name}" bitsize="${r.bits}" type="${r.type}" regnum="${regnum}"${r.group ? ` group="${r.group}"` : ''}/>`;
}

/** The target description (gdb's XML format, "Target Descriptions" in its manual). */
export function targetXml(): string {
  const core = REGISTERS.slice(0, FIRST_CR);
  const control = REGISTERS.slice(FIRST_CR);
  return [
    '<?xml version="1.0"?>',
    '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
    '<target version="1.0">',
    '<architecture>i386</architecture>',
    '<feature name="org.gnu.gdb.i386.core">',
    '  <flags id="i386_eflags" size="4">',
    ...EFLAGS_FIELDS.map(([n, b]) => `    <field name="${n}" start="${b}" end="${b}"/>`),
    '  </flags>',
    ...core.map((r, i) => regXml(r, i)),
    '</feature>',
    '<feature name="org.kmemsim.i386.control">',
    ...control.map((r, i) => regXml(r, FIRST_CR + i)),
    '</feature>',
    '</target>',
    '',
  ].join('\n');
}

/** Register `n`'s bytes (little-endian), or null for an unknown number. */
export function readRegister(cpu: CPU, n: number): Uint8Array | null {
  const r = REGISTERS[n];
  if (!r) return null;
  const out = new Uint8Array(r.bits / 8);
  const put32 = (v: number): Uint8Array => {
    new DataView(out.buffer).setUint32(0, v >>> 0, true);
    return out;
  };
  if (n < 8) return put32(cpu.regs[n]!);
  if (n === REG_EIP) return put32(cpu.eip);
  if (n === REG_EFLAGS) return put32(cpu.getEflags());
  if (n < FIRST_ST) return put32(cpu.segSel[SEG_INDEX[n - 10]!]!);
  const f = cpu.fpu;
  if (n < FIRST_ST + 8) {
    const p = f.phys(n - FIRST_ST);
    const dv = new DataView(out.buffer);
    dv.setBigUint64(0, f.sig[p]!, true);
    dv.setUint16(8, f.se[p]!, true);
    return out;
  }
  switch (r.name) {
    case 'fctrl': return put32(f.cw);
    case 'fstat': return put32(f.statusWord());
    case 'ftag': return put32(f.tagWord());
    case 'fiseg': return put32(f.fcs);
    case 'fioff': return put32(f.fip);
    case 'foseg': return put32(f.fds);
    case 'fooff': return put32(f.fdp);
    case 'fop': return put32(f.fop);
    case 'cr0': return put32(cpu.cr0);
    case 'cr2': return put32(cpu.cr2);
    case 'cr3': return put32(cpu.cr3);
    case 'cr4': return put32(cpu.cr4);
  }
  return null;
}

/**
 * Set register `n` from its bytes; false for an unknown number or a wrong
 * length. Segment and control registers are shown, not written: changing
 * them behind the CPU's back would leave its descriptor caches and TLB
 * stale (QEMU's gdbstub reloads them; kmemsim refuses with an error reply
 * rather than pretend). Writing the same value is accepted (gdb's `G`
 * sends every register back).
 */
export function writeRegister(cpu: CPU, n: number, bytes: Uint8Array): boolean {
  const r = REGISTERS[n];
  if (!r || bytes.length !== r.bits / 8) return false;
  const now = readRegister(cpu, n)!;
  if (now.every((b, i) => b === bytes[i])) return true;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (n < FIRST_ST + 8 && n >= FIRST_ST) {
    const f = cpu.fpu;
    f.setST(n - FIRST_ST, dv.getUint16(8, true), dv.getBigUint64(0, true));
    return true;
  }
  const v = dv.getUint32(0, true);
  if (n < 8) cpu.regs[n] = v | 0;
  else if (n === REG_EIP) cpu.eip = v | 0;
  else if (n === REG_EFLAGS) cpu.setEflags(v, 0x00254fd5); // the bits POPF at CPL 0 may change, and the arithmetic flags
  else if (r.name === 'fctrl') cpu.fpu.setControlWord(v);
  else if (r.name === 'fstat') cpu.fpu.setStatusWord(v);
  else if (r.name === 'ftag') cpu.fpu.setTagWord(v);
  else if (r.name === 'fop') cpu.fpu.fop = v & 0x7ff;
  else if (r.name === 'fioff') cpu.fpu.fip = v | 0;
  else if (r.name === 'fooff') cpu.fpu.fdp = v | 0;
  else return false;
  return true;
}
