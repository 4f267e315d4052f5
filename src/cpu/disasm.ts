/**
 * Intel-syntax disassembly from the decoder's own output and the opcode
 * table's operand lists (so what is printed is what kmemsim executes).
 */
import type { Instr } from './instr.js';
import { REP_NONE, REP_E, SEG_NAMES } from './instr.js';
import type { Operand } from './x86_table.js';
import type { StopReason } from './stop.js';

const R32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const R16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const R8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16);
}
function reg(size: number, r: number): string {
  return size === 4 ? R32[r] : size === 2 ? R16[r] : R8[r];
}
function ptrName(n: number): string {
  switch (n) {
    case 1: return 'byte ptr ';
    case 2: return 'word ptr ';
    case 4: return 'dword ptr ';
    case 6: return 'fword ptr ';
    case 8: return 'qword ptr ';
    case 10: return 'tbyte ptr ';
    default: return '';
  }
}

function memText(ins: Instr, size: number): string {
  const regs = ins.asize === 4 ? R32 : R16;
  const parts: string[] = [];
  if (ins.base >= 0) parts.push(regs[ins.base]);
  if (ins.index >= 0) parts.push(regs[ins.index] + (ins.scale ? '*' + (1 << ins.scale) : ''));
  let s = parts.join('+');
  const d = ins.disp | 0;
  if (s === '') s = hex(ins.asize === 4 ? d : d & 0xffff);
  else if (d !== 0) s += d < 0 && ins.asize === 4 ? '-' + hex(-d) : '+' + hex(ins.asize === 4 ? d : d & 0xffff);
  const seg = ins.segOverride >= 0 ? SEG_NAMES[ins.segOverride] + ':' : '';
  return `${ptrName(size)}${seg}[${s}]`;
}

function operandText(ins: Instr, o: Operand, immIndex: { i: number }): string {
  const size = ins.size;
  const rmSize = (c: string): number => (c === 'b' ? 1 : c === 'w' ? 2 : c === 'd' ? 4 : size);
  switch (o) {
    case 'Eb': case 'Ew': case 'Ed': case 'Ev': {
      const s = rmSize(o[1]);
      return ins.mod === 3 ? reg(s, ins.rm) : memText(ins, s);
    }
    case 'Ex': return ins.mod === 3 ? reg(4, ins.rm) : memText(ins, 0);
    case 'M': case 'Mx': case 'Mb': return memText(ins, 0);
    case 'Mp': return memText(ins, size + 2);
    case 'Mq': return memText(ins, 8);
    case 'Ma': return memText(ins, size * 2);
    case 'Ms': return memText(ins, 6);
    case 'Gb': case 'Gw': case 'Gd': case 'Gv': return reg(rmSize(o[1]), ins.reg);
    case 'Sw': return SEG_NAMES[ins.reg] ?? '?';
    case 'Cd': return 'cr' + ins.reg;
    case 'Dd': return 'dr' + ins.reg;
    case 'Rd': return R32[ins.rm];
    case 'Ib': case 'Iw': case 'Iz': case 'Iv': case 'Ibs': {
      const v = immIndex.i++ === 0 ? ins.imm : ins.imm2;
      const m = o === 'Ib' ? v & 0xff : o === 'Iw' ? v & 0xffff : size === 2 ? v & 0xffff : size === 1 ? v & 0xff : v;
      return hex(m);
    }
    case 'Jb': case 'Jz': return hex(ins.imm);
    case 'Ap': return `${hex(ins.imm2 & 0xffff)}:${hex(ins.imm)}`;
    case 'Ob': return memText(ins, 1);
    case 'Ov': return memText(ins, size);
    case 'AL': return 'al';
    case 'CL': return 'cl';
    case 'DX': return 'dx';
    case 'eAX': return reg(size, 0);
    case 'Zb': return R8[ins.op & 7];
    case 'Zv': return reg(size, ins.op & 7);
    case '1': return '1';
    case 'ES': case 'CS': case 'SS': case 'DS': case 'FS': case 'GS': return o.toLowerCase();
    case 'Xb': case 'Xv': case 'Yb': case 'Yv': return '';
    case 'ST': return 'st';
    case 'STi': return `st(${ins.rm})`;
    case 'AX': return 'ax';
    case 'Mw': return memText(ins, 2);
    case 'Md': return memText(ins, 4);
    case 'Mt': return memText(ins, 10);
    case 'Menv': case 'Msave': return memText(ins, 0);
  }
}

/** The mnemonic with its REP prefix, sized by operand (movsd) or address size (jcxz). */
export function mnemonicOf(ins: Instr): string {
  const def = ins.def;
  if (!def) return '(bad)';
  let name = def.groupName?.[ins.reg] ?? def.name;
  if (def.sizedName) name = def.sizedName[ins.size === 1 ? 0 : ins.size === 2 ? 1 : 2];
  if (name === 'jecxz' && ins.asize === 2) name = 'jcxz'; // 67 E3 tests CX
  if (def.string && ins.rep !== REP_NONE) name = (def.repe ? (ins.rep === REP_E ? 'repe ' : 'repne ') : 'rep ') + name;
  return name;
}

/** One instruction as Intel syntax, e.g. `add dword ptr [eax+ecx*4+0x10], 0x5`. */
export function formatInstr(ins: Instr): string {
  const def = ins.def;
  if (!def || ins.invalidReason && !def.unsupported) return '(bad)';
  let name = mnemonicOf(ins);
  if (ins.lock) name = 'lock ' + name;
  if (def.string) return name;
  const idx = { i: 0 };
  const ops = def.ops.map((o) => operandText(ins, o, idx)).filter((s) => s !== '');
  return ops.length ? `${name} ${ops.join(', ')}` : name;
}

/** Raw bytes as "0F A6". */
export function hexBytes(bytes: number[]): string {
  return bytes.map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');
}

/**
 * The stop for an instruction kmemsim does not model (#UD with a reason
 * that nothing handled): one line naming the instruction, its bytes, where
 * it is (`where`: " in func+0x12" when the caller can symbolize) and why:
 * "unsupported instruction ADDPS (0F 58 C1) at 0x08049020: an MMX/SSE
 * instruction; kmemsim models an i686 without MMX/SSE". Every layer that
 * stops on one (user programs, modules, `boot`) builds it here.
 */
export function unsupportedStop(ins: Instr, eip: number, where = ''): Extract<StopReason, { kind: 'unsupported' }> {
  const name = ins.def ? mnemonicOf(ins).toUpperCase() : '';
  const bytes = hexBytes(ins.bytes);
  const what = name ? `${name} (${bytes})` : bytes;
  return {
    kind: 'unsupported',
    eip,
    bytes: ins.bytes,
    mnemonic: name.toLowerCase() || '?',
    message: `unsupported instruction ${what} at 0x${(eip >>> 0).toString(16).padStart(8, '0')}${where}: ${ins.invalidReason}`,
  };
}
