/**
 * The opcode table: one entry per opcode of the one-byte and 0F maps
 * (Intel SDM Vol. 2 Appendix A, "Opcode Map"), naming the mnemonic, the
 * operands in the SDM's notation and the executor. The decoder derives
 * ModRM and immediate layout from the operand list, the disassembler prints
 * from it, and the tests enumerate it — one table, three clients.
 *
 * Operand notation (Appendix A.2): E = ModRM r/m, G = ModRM reg, M = memory
 * only, S = segment register in reg, C/D = control/debug register in reg,
 * R = register in r/m; I = immediate (Ibs: sign-extended byte), J = relative
 * offset, A = far pointer, O = moffs, Z = register in the opcode's low bits;
 * size suffix b = byte, w = word, d = dword, v = 16/32 by operand size,
 * z = like v for immediates, p = far pointer, q = qword, a = BOUND pair.
 */
import type { ExecFn, Instr } from './instr.js';
import * as alu from './exec/alu.js';
import * as shift from './exec/shift.js';
import * as bits from './exec/bits.js';
import * as md from './exec/muldiv.js';
import * as data from './exec/data.js';
import * as stack from './exec/stack.js';
import * as ctl from './exec/control.js';
import * as str from './exec/string.js';
import * as sys from './exec/system.js';
import * as bcd from './exec/bcd.js';
import * as fpu from './fpu/x87-exec.js';
import * as fmath from './fpu/x87-math.js';

export type Operand =
  | 'Eb' | 'Ew' | 'Ed' | 'Ev' | 'Gb' | 'Gw' | 'Gd' | 'Gv' | 'M' | 'Mp' | 'Mq' | 'Ma' | 'Ms' | 'Mb' | 'Mx' | 'Ex'
  | 'Sw' | 'Cd' | 'Dd' | 'Rd'
  | 'Ib' | 'Ibs' | 'Iw' | 'Iz' | 'Iv' | 'Jb' | 'Jz' | 'Ap' | 'Ob' | 'Ov'
  | 'AL' | 'CL' | 'DX' | 'eAX' | 'Zb' | 'Zv' | '1' | 'ES' | 'CS' | 'SS' | 'DS' | 'FS' | 'GS'
  | 'Xb' | 'Xv' | 'Yb' | 'Yv'
  // x87 (SDM Vol. 2 Appendix A.4): ST(0), ST(ModRM.rm), AX of FNSTSW AX; memory m16/m32/m64/m80,
  // the environment (14/28 bytes) and the FSAVE image (94/108 bytes).
  | 'ST' | 'STi' | 'AX' | 'Mw' | 'Md' | 'Mt' | 'Menv' | 'Msave';

export interface OpDef {
  name: string;
  ops: Operand[];
  exec: ExecFn;
  modrm: boolean;
  imms: Operand[];
  /** Operand size class: b/w/d fixed, v from the operand-size attribute. */
  osz: 'b' | 'w' | 'd' | 'v';
  /**
   * Bytes accessed through the memory operand ('v' = operand size, 'p' = far pointer, 'a' = BOUND
   * pair, 'env'/'save' = the x87 environment/FSAVE image of the operand size).
   */
  memSize?: number | 'v' | 'p' | 'a' | 'env' | 'save';
  /** How the memory operand is accessed, where the operand list does not say (x87: the first operand is the only one). */
  memAccess?: 'r' | 'w';
  /** ModRM.reg selects the instruction (opcode extension). */
  group?: (OpDef | undefined)[];
  /** Group used instead when ModRM.mod = 3, if it differs. */
  groupReg?: (OpDef | undefined)[];
  /** With mod = 3, ModRM.rm selects the instruction (0F 01 C0.. forms). */
  regForms?: (OpDef | undefined)[];
  /** Variants selected by a mandatory prefix. */
  prefixed?: { f3?: OpDef; f2?: OpDef; p66?: OpDef };
  memOnly?: boolean;
  lockable?: boolean;
  /** A valid instruction kmemsim does not model: why, for the #UD message (its name is `name`). */
  unsupported?: string;
  /** For an unmodelled opcode whose ModRM.reg selects the instruction without changing its decoding: the names by reg. */
  groupName?: string[];
  /** Unconditional control transfer or mode change: the decoded block ends here. */
  endsBlock?: boolean;
  /** Must be the first instruction of a block: it, or a device or observer it reaches (I/O, INT n), reads the exact retired-instruction count. */
  startsBlock?: boolean;
  /** The immediate is a relative branch offset. */
  rel?: boolean;
  /** String instruction; with `repe`, F3/F2 mean REPE/REPNE. */
  string?: boolean;
  repe?: boolean;
  /** Mnemonic per operand size [byte, word, dword] (cbw/cwde, movsb/movsw/movsd, ...). */
  sizedName?: [string, string, string];
  /** MOV to/from CRn/DRn: ModRM.mod is ignored and the operand is always a register. */
  forceReg?: boolean;
  /** 0F 38 / 0F 3A: one more opcode byte precedes the ModRM byte. */
  threeByte?: boolean;
  /** Encodings the table cannot express as invalid (a ModRM.reg value that names no register): the #UD reason. */
  invalidWhen?: (ins: Instr) => string | undefined;
  /** Pick a faster executor for common operand forms. */
  specialize?: (ins: Instr) => ExecFn | undefined;
}

const IMM_OPS = new Set<Operand>(['Ib', 'Ibs', 'Iw', 'Iz', 'Iv', 'Jb', 'Jz', 'Ap', 'Ob', 'Ov']);
const MODRM_OPERAND = /^(E[bwdvx]|G[bwdv]|M(|[pqasbxwdt]|env|save)|Sw|Cd|Dd|Rd|STi)$/;

function sizeClass(o: Operand): 'b' | 'w' | 'd' | 'v' | null {
  if (o === 'AL' || o === 'CL' || o === 'Zb' || o === 'Xb' || o === 'Yb' || o === 'Ob') return 'b';
  if (o === 'eAX' || o === 'Zv' || o === 'Xv' || o === 'Yv' || o === 'Ov') return 'v';
  if (o === 'Ib' || o === 'Ibs' || o === 'Iw' || o === 'Jb' || o === 'Jz' || o === 'DX' || o === '1' || o === 'Ap') return null;
  if (/^[ES]|^G|^C|^D|^R/.test(o)) {
    const c = o[1];
    if (c === 'b') return 'b';
    if (c === 'w') return 'w';
    if (c === 'd') return 'd';
    if (c === 'v' || c === 'z') return 'v';
  }
  if (o === 'Iz' || o === 'Iv') return 'v';
  return null;
}

function memSizeOfOperand(o: Operand): OpDef['memSize'] {
  switch (o) {
    case 'Eb': case 'Ob': case 'Mb': return 1;
    case 'Ew': case 'Mw': return 2;
    case 'Ed': case 'Md': return 4;
    case 'Mt': return 10;
    case 'Menv': return 'env';
    case 'Msave': return 'save';
    case 'Ev': case 'Ov': return 'v';
    case 'Mp': return 'p';
    case 'Mq': return 8;
    case 'Ma': return 'a';
    case 'Ms': return 6;
    case 'M': case 'Mx': case 'Ex': return 0;
    default: return undefined;
  }
}

export function op(name: string, ops: string, exec: ExecFn, extra: Partial<OpDef> = {}): OpDef {
  const list = (ops ? ops.split(',') : []) as Operand[];
  let osz: OpDef['osz'] = 'v';
  for (const o of list) {
    const c = sizeClass(o);
    if (c) {
      osz = c;
      break;
    }
  }
  let memSize: OpDef['memSize'];
  for (const o of list) {
    const m = memSizeOfOperand(o);
    if (m !== undefined) {
      memSize = m;
      break;
    }
  }
  const def: OpDef = {
    name,
    ops: list,
    exec,
    modrm: list.some((o) => MODRM_OPERAND.test(o)),
    imms: list.filter((o) => IMM_OPS.has(o)),
    osz,
    memSize,
    rel: list.includes('Jb') || list.includes('Jz'),
    memOnly: list.some((o) => o[0] === 'M'),
    ...extra,
  };
  return def;
}

function group(ops: string, entries: (OpDef | undefined)[], extra: Partial<OpDef> = {}): OpDef {
  return op('(group)', ops, ud, { group: entries, ...extra });
}
function ud(): void {}

/** Placeholder executor for unsupported entries: never called (the decoder routes them to #UD). */
const none: ExecFn = () => {};
function unsupportedOp(name: string, ops: string, why: string): OpDef {
  return op(name, ops, none, { unsupported: why, memOnly: false });
}

/**
 * MMX/SSE/SSE2/SSE3 mnemonics of the 0F map (SDM Vol. 2 Table A-3), per
 * mandatory prefix: [none, 66, F3, F2] ('' where that prefix gives nothing
 * of its own). kmemsim's i686 runs none of them; the names are for the #UD
 * message ("unsupported instruction ADDPS (0F 58 C1) ...") and the
 * disassembler. 0F 71..73 are named per ModRM.reg.
 */
const SIMD_NAMES: Record<number, string[]> = {
  0x10: ['movups', 'movupd', 'movss', 'movsd'], 0x11: ['movups', 'movupd', 'movss', 'movsd'],
  0x12: ['movlps', 'movlpd', 'movsldup', 'movddup'], 0x13: ['movlps', 'movlpd'],
  0x14: ['unpcklps', 'unpcklpd'], 0x15: ['unpckhps', 'unpckhpd'],
  0x16: ['movhps', 'movhpd', 'movshdup'], 0x17: ['movhps', 'movhpd'],
  0x28: ['movaps', 'movapd'], 0x29: ['movaps', 'movapd'],
  0x2a: ['cvtpi2ps', 'cvtpi2pd', 'cvtsi2ss', 'cvtsi2sd'], 0x2b: ['movntps', 'movntpd'],
  0x2c: ['cvttps2pi', 'cvttpd2pi', 'cvttss2si', 'cvttsd2si'], 0x2d: ['cvtps2pi', 'cvtpd2pi', 'cvtss2si', 'cvtsd2si'],
  0x2e: ['ucomiss', 'ucomisd'], 0x2f: ['comiss', 'comisd'],
  0x50: ['movmskps', 'movmskpd'], 0x51: ['sqrtps', 'sqrtpd', 'sqrtss', 'sqrtsd'],
  0x52: ['rsqrtps', '', 'rsqrtss'], 0x53: ['rcpps', '', 'rcpss'],
  0x54: ['andps', 'andpd'], 0x55: ['andnps', 'andnpd'], 0x56: ['orps', 'orpd'], 0x57: ['xorps', 'xorpd'],
  0x58: ['addps', 'addpd', 'addss', 'addsd'], 0x59: ['mulps', 'mulpd', 'mulss', 'mulsd'],
  0x5a: ['cvtps2pd', 'cvtpd2ps', 'cvtss2sd', 'cvtsd2ss'], 0x5b: ['cvtdq2ps', 'cvtps2dq', 'cvttps2dq'],
  0x5c: ['subps', 'subpd', 'subss', 'subsd'], 0x5d: ['minps', 'minpd', 'minss', 'minsd'],
  0x5e: ['divps', 'divpd', 'divss', 'divsd'], 0x5f: ['maxps', 'maxpd', 'maxss', 'maxsd'],
  0x60: ['punpcklbw'], 0x61: ['punpcklwd'], 0x62: ['punpckldq'], 0x63: ['packsswb'],
  0x64: ['pcmpgtb'], 0x65: ['pcmpgtw'], 0x66: ['pcmpgtd'], 0x67: ['packuswb'],
  0x68: ['punpckhbw'], 0x69: ['punpckhwd'], 0x6a: ['punpckhdq'], 0x6b: ['packssdw'],
  0x6c: ['', 'punpcklqdq'], 0x6d: ['', 'punpckhqdq'], 0x6e: ['movd'], 0x6f: ['movq', 'movdqa', 'movdqu'],
  0x70: ['pshufw', 'pshufd', 'pshufhw', 'pshuflw'],
  0x74: ['pcmpeqb'], 0x75: ['pcmpeqw'], 0x76: ['pcmpeqd'],
  0x7c: ['', 'haddpd', '', 'haddps'], 0x7d: ['', 'hsubpd', '', 'hsubps'],
  0x7e: ['movd', 'movd', 'movq'], 0x7f: ['movq', 'movdqa', 'movdqu'],
  0xc2: ['cmpps', 'cmppd', 'cmpss', 'cmpsd'], 0xc3: ['movnti'], 0xc4: ['pinsrw'], 0xc5: ['pextrw'], 0xc6: ['shufps', 'shufpd'],
  0xd0: ['', 'addsubpd', '', 'addsubps'], 0xd1: ['psrlw'], 0xd2: ['psrld'], 0xd3: ['psrlq'], 0xd4: ['paddq'],
  0xd5: ['pmullw'], 0xd6: ['', 'movq', 'movq2dq', 'movdq2q'], 0xd7: ['pmovmskb'],
  0xd8: ['psubusb'], 0xd9: ['psubusw'], 0xda: ['pminub'], 0xdb: ['pand'], 0xdc: ['paddusb'], 0xdd: ['paddusw'], 0xde: ['pmaxub'], 0xdf: ['pandn'],
  0xe0: ['pavgb'], 0xe1: ['psraw'], 0xe2: ['psrad'], 0xe3: ['pavgw'], 0xe4: ['pmulhuw'], 0xe5: ['pmulhw'],
  0xe6: ['', 'cvttpd2dq', 'cvtdq2pd', 'cvtpd2dq'], 0xe7: ['movntq', 'movntdq'],
  0xe8: ['psubsb'], 0xe9: ['psubsw'], 0xea: ['pminsw'], 0xeb: ['por'], 0xec: ['paddsb'], 0xed: ['paddsw'], 0xee: ['pmaxsw'], 0xef: ['pxor'],
  0xf0: ['', '', '', 'lddqu'], 0xf1: ['psllw'], 0xf2: ['pslld'], 0xf3: ['psllq'], 0xf4: ['pmuludq'], 0xf5: ['pmaddwd'], 0xf6: ['psadbw'],
  0xf7: ['maskmovq', 'maskmovdqu'], 0xf8: ['psubb'], 0xf9: ['psubw'], 0xfa: ['psubd'], 0xfb: ['psubq'], 0xfc: ['paddb'], 0xfd: ['paddw'], 0xfe: ['paddd'],
};
/** 0F 71/72/73 shift groups by ModRM.reg (66-prefixed forms use the same names on XMM registers). */
const SIMD_SHIFT_NAMES: Record<number, string[]> = {
  0x71: ['', '', 'psrlw', '', 'psraw', '', 'psllw', ''],
  0x72: ['', '', 'psrld', '', 'psrad', '', 'pslld', ''],
  0x73: ['', '', 'psrlq', 'psrldq', '', '', 'psllq', 'pslldq'],
};
const SIMD_REASON = 'an MMX/SSE instruction; kmemsim models an i686 without MMX/SSE';
/** An unmodelled 0F-map MMX/SSE opcode with its names per mandatory prefix (decoding unchanged: ModRM, same operands). */
function simdOp(b: number, ops: string): OpDef {
  const names = SIMD_NAMES[b] ?? [];
  const fallback = `${names[0] || names[1] || 'mmx/sse'}`;
  const d = unsupportedOp(names[0] || fallback, ops, SIMD_REASON);
  const shifts = SIMD_SHIFT_NAMES[b];
  if (shifts) d.groupName = shifts.map((n) => n || fallback);
  const variant = (n: string | undefined): OpDef | undefined => (n ? unsupportedOp(n, ops, SIMD_REASON) : undefined);
  const p66 = variant(names[1]), f3 = variant(names[2]), f2 = variant(names[3]);
  if (p66 || f3 || f2) d.prefixed = { p66, f3, f2 };
  return d;
}

export const ONE_BYTE: (OpDef | undefined)[] = new Array(256);
export const TWO_BYTE: (OpDef | undefined)[] = new Array(256);

// ---- 00–3F: the eight ALU operations, segment pushes/pops, BCD adjusts ------------------
const ALU_NAMES = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
for (let i = 0; i < 8; i++) {
  const b = i << 3;
  const lockable = i !== 7;
  const name = ALU_NAMES[i];
  ONE_BYTE[b] = op(name, 'Eb,Gb', alu.aluEG, { lockable });
  ONE_BYTE[b + 1] = op(name, 'Ev,Gv', alu.aluEG, { lockable, specialize: (ins) => (ins.size === 4 && ins.mod === 3 ? alu.aluEG32reg : undefined) });
  ONE_BYTE[b + 2] = op(name, 'Gb,Eb', alu.aluGE);
  ONE_BYTE[b + 3] = op(name, 'Gv,Ev', alu.aluGE);
  ONE_BYTE[b + 4] = op(name, 'AL,Ib', alu.aluAI);
  ONE_BYTE[b + 5] = op(name, 'eAX,Iz', alu.aluAI);
}
ONE_BYTE[0x06] = op('push', 'ES', sys.pushSreg);
ONE_BYTE[0x07] = op('pop', 'ES', sys.popSreg);
ONE_BYTE[0x0e] = op('push', 'CS', sys.pushSreg);
ONE_BYTE[0x16] = op('push', 'SS', sys.pushSreg);
ONE_BYTE[0x17] = op('pop', 'SS', sys.popSreg);
ONE_BYTE[0x1e] = op('push', 'DS', sys.pushSreg);
ONE_BYTE[0x1f] = op('pop', 'DS', sys.popSreg);
ONE_BYTE[0x27] = op('daa', '', bcd.daa);
ONE_BYTE[0x2f] = op('das', '', bcd.das);
ONE_BYTE[0x37] = op('aaa', '', bcd.aaa);
ONE_BYTE[0x3f] = op('aas', '', bcd.aas);

// ---- 40–6F ----------------------------------------------------------------------
for (let r = 0; r < 8; r++) {
  ONE_BYTE[0x40 + r] = op('inc', 'Zv', alu.incReg);
  ONE_BYTE[0x48 + r] = op('dec', 'Zv', alu.decReg);
  ONE_BYTE[0x50 + r] = op('push', 'Zv', stack.pushReg, { specialize: (ins) => (ins.size === 4 ? stack.pushReg32 : undefined) });
  ONE_BYTE[0x58 + r] = op('pop', 'Zv', stack.popReg, { specialize: (ins) => (ins.size === 4 ? stack.popReg32 : undefined) });
}
ONE_BYTE[0x60] = op('pusha', '', stack.pusha, { sizedName: ['pusha', 'pusha', 'pushad'] });
ONE_BYTE[0x61] = op('popa', '', stack.popa, { sizedName: ['popa', 'popa', 'popad'] });
ONE_BYTE[0x62] = op('bound', 'Gv,Ma', sys.bound);
ONE_BYTE[0x63] = op('arpl', 'Ew,Gw', sys.arpl);
ONE_BYTE[0x68] = op('push', 'Iz', stack.pushImm);
ONE_BYTE[0x69] = op('imul', 'Gv,Ev,Iz', md.imul3);
ONE_BYTE[0x6a] = op('push', 'Ibs', stack.pushImm);
ONE_BYTE[0x6b] = op('imul', 'Gv,Ev,Ibs', md.imul3);
ONE_BYTE[0x6c] = op('insb', 'Yb,DX', str.insString, { startsBlock: true, string: true, osz: 'b' });
ONE_BYTE[0x6d] = op('ins', 'Yv,DX', str.insString, { startsBlock: true, string: true, sizedName: ['insb', 'insw', 'insd'] });
ONE_BYTE[0x6e] = op('outsb', 'DX,Xb', str.outsString, { startsBlock: true, string: true, osz: 'b' });
ONE_BYTE[0x6f] = op('outs', 'DX,Xv', str.outsString, { startsBlock: true, string: true, sizedName: ['outsb', 'outsw', 'outsd'] });

// ---- 70–7F: Jcc rel8 --------------------------------------------------------------
export const CC_NAMES = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
for (let cc = 0; cc < 16; cc++) {
  ONE_BYTE[0x70 + cc] = op('j' + CC_NAMES[cc], 'Jb', ctl.jcc);
  TWO_BYTE[0x80 + cc] = op('j' + CC_NAMES[cc], 'Jz', ctl.jcc);
  TWO_BYTE[0x90 + cc] = op('set' + CC_NAMES[cc], 'Eb', bits.setcc);
  TWO_BYTE[0x40 + cc] = op('cmov' + CC_NAMES[cc], 'Gv,Ev', bits.cmovcc);
}

// ---- 80–8F ------------------------------------------------------------------------
const grp1 = (ops: string): (OpDef | undefined)[] => ALU_NAMES.map((n, i) => op(n, ops, alu.aluEI, { lockable: i !== 7 }));
ONE_BYTE[0x80] = group('Eb,Ib', grp1('Eb,Ib'));
ONE_BYTE[0x81] = group('Ev,Iz', grp1('Ev,Iz'));
ONE_BYTE[0x82] = group('Eb,Ib', grp1('Eb,Ib'));
ONE_BYTE[0x83] = group('Ev,Ibs', grp1('Ev,Ibs'));
ONE_BYTE[0x84] = op('test', 'Eb,Gb', alu.testEG);
ONE_BYTE[0x85] = op('test', 'Ev,Gv', alu.testEG);
ONE_BYTE[0x86] = op('xchg', 'Eb,Gb', data.xchgEG, { lockable: true });
ONE_BYTE[0x87] = op('xchg', 'Ev,Gv', data.xchgEG, { lockable: true });
ONE_BYTE[0x88] = op('mov', 'Eb,Gb', data.movEG);
ONE_BYTE[0x89] = op('mov', 'Ev,Gv', data.movEG, { specialize: (ins) => (ins.size === 4 ? data.movEG32 : undefined) });
ONE_BYTE[0x8a] = op('mov', 'Gb,Eb', data.movGE);
ONE_BYTE[0x8b] = op('mov', 'Gv,Ev', data.movGE, { specialize: (ins) => (ins.size === 4 ? data.movGE32 : undefined) });
const noSreg = (ins: Instr) => (ins.reg > 5 ? 'there is no segment register 6 or 7' : undefined);
ONE_BYTE[0x8c] = op('mov', 'Ev,Sw', sys.movESreg, { memSize: 2, invalidWhen: noSreg });
ONE_BYTE[0x8d] = op('lea', 'Gv,M', data.lea);
// MOV to CS is #UD (SDM Vol. 2 MOV): CS changes only through far transfers.
ONE_BYTE[0x8e] = op('mov', 'Sw,Ew', sys.movSregE, { osz: 'w', invalidWhen: (ins) => (ins.reg === 1 ? 'MOV to CS is invalid' : noSreg(ins)) });
ONE_BYTE[0x8f] = group('Ev', [op('pop', 'Ev', stack.popE)]);

// ---- 90–9F ------------------------------------------------------------------------
ONE_BYTE[0x90] = op('nop', '', data.nop, { prefixed: { f3: op('pause', '', data.nop) } });
for (let r = 1; r < 8; r++) ONE_BYTE[0x90 + r] = op('xchg', 'Zv,eAX', data.xchgAR);
ONE_BYTE[0x98] = op('cwde', '', data.cbw, { sizedName: ['cbw', 'cbw', 'cwde'] });
ONE_BYTE[0x99] = op('cdq', '', data.cwd, { sizedName: ['cwd', 'cwd', 'cdq'] });
ONE_BYTE[0x9a] = op('call', 'Ap', sys.callFarImm, { endsBlock: true });
// WAIT/FWAIT: #NM with CR0.MP and TS set, then any pending unmasked x87 exception (#MF).
ONE_BYTE[0x9b] = op('wait', '', fpu.fwait);
ONE_BYTE[0x9c] = op('pushf', '', stack.pushf, { sizedName: ['pushf', 'pushf', 'pushfd'] });
ONE_BYTE[0x9d] = op('popf', '', stack.popf, { sizedName: ['popf', 'popf', 'popfd'] });
ONE_BYTE[0x9e] = op('sahf', '', data.sahf);
ONE_BYTE[0x9f] = op('lahf', '', data.lahf);

// ---- A0–AF: moffs moves and string instructions -------------------------------------
ONE_BYTE[0xa0] = op('mov', 'AL,Ob', data.movAO);
ONE_BYTE[0xa1] = op('mov', 'eAX,Ov', data.movAO);
ONE_BYTE[0xa2] = op('mov', 'Ob,AL', data.movOA);
ONE_BYTE[0xa3] = op('mov', 'Ov,eAX', data.movOA);
ONE_BYTE[0xa4] = op('movsb', 'Yb,Xb', str.movs, { string: true, memSize: 1 });
ONE_BYTE[0xa5] = op('movs', 'Yv,Xv', str.movs, { string: true, sizedName: ['movsb', 'movsw', 'movsd'], memSize: 'v' });
ONE_BYTE[0xa6] = op('cmpsb', 'Xb,Yb', str.cmps, { string: true, repe: true, memSize: 1 });
ONE_BYTE[0xa7] = op('cmps', 'Xv,Yv', str.cmps, { string: true, repe: true, sizedName: ['cmpsb', 'cmpsw', 'cmpsd'], memSize: 'v' });
ONE_BYTE[0xa8] = op('test', 'AL,Ib', alu.testAI);
ONE_BYTE[0xa9] = op('test', 'eAX,Iz', alu.testAI);
ONE_BYTE[0xaa] = op('stosb', 'Yb,AL', str.stos, { string: true, memSize: 1 });
ONE_BYTE[0xab] = op('stos', 'Yv,eAX', str.stos, { string: true, sizedName: ['stosb', 'stosw', 'stosd'], memSize: 'v' });
ONE_BYTE[0xac] = op('lodsb', 'AL,Xb', str.lods, { string: true, memSize: 1 });
ONE_BYTE[0xad] = op('lods', 'eAX,Xv', str.lods, { string: true, sizedName: ['lodsb', 'lodsw', 'lodsd'], memSize: 'v' });
ONE_BYTE[0xae] = op('scasb', 'AL,Yb', str.scas, { string: true, repe: true, memSize: 1 });
ONE_BYTE[0xaf] = op('scas', 'eAX,Yv', str.scas, { string: true, repe: true, sizedName: ['scasb', 'scasw', 'scasd'], memSize: 'v' });

// ---- B0–BF: MOV r,imm -----------------------------------------------------------------
for (let r = 0; r < 8; r++) {
  ONE_BYTE[0xb0 + r] = op('mov', 'Zb,Ib', data.movRI);
  ONE_BYTE[0xb8 + r] = op('mov', 'Zv,Iv', data.movRI);
}

// ---- C0–CF ------------------------------------------------------------------------
const SHIFT_NAMES = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];
const grp2 = (ops: string, exec: ExecFn): (OpDef | undefined)[] => SHIFT_NAMES.map((n) => op(n, ops, exec));
ONE_BYTE[0xc0] = group('Eb,Ib', grp2('Eb,Ib', shift.shiftEI));
ONE_BYTE[0xc1] = group('Ev,Ib', grp2('Ev,Ib', shift.shiftEI));
ONE_BYTE[0xc2] = op('ret', 'Iw', ctl.retImm, { endsBlock: true });
ONE_BYTE[0xc3] = op('ret', '', ctl.ret, { endsBlock: true });
ONE_BYTE[0xc4] = op('les', 'Gv,Mp', sys.loadFarPointer);
ONE_BYTE[0xc5] = op('lds', 'Gv,Mp', sys.loadFarPointer);
ONE_BYTE[0xc6] = group('Eb,Ib', [op('mov', 'Eb,Ib', data.movEI)]);
ONE_BYTE[0xc7] = group('Ev,Iz', [op('mov', 'Ev,Iz', data.movEI)]);
ONE_BYTE[0xc8] = op('enter', 'Iw,Ib', stack.enter);
ONE_BYTE[0xc9] = op('leave', '', stack.leave);
ONE_BYTE[0xca] = op('retf', 'Iw', sys.retFar, { endsBlock: true });
ONE_BYTE[0xcb] = op('retf', '', sys.retFar, { endsBlock: true });
ONE_BYTE[0xcc] = op('int3', '', sys.int3, { startsBlock: true, endsBlock: true });
ONE_BYTE[0xcd] = op('int', 'Ib', sys.intN, { startsBlock: true, endsBlock: true });
ONE_BYTE[0xce] = op('into', '', sys.into, { startsBlock: true, endsBlock: true });
ONE_BYTE[0xcf] = op('iret', '', sys.iret, { endsBlock: true, sizedName: ['iret', 'iret', 'iretd'] });

// ---- D0–DF ------------------------------------------------------------------------
ONE_BYTE[0xd0] = group('Eb,1', grp2('Eb,1', shift.shiftE1));
ONE_BYTE[0xd1] = group('Ev,1', grp2('Ev,1', shift.shiftE1));
ONE_BYTE[0xd2] = group('Eb,CL', grp2('Eb,CL', shift.shiftECL));
ONE_BYTE[0xd3] = group('Ev,CL', grp2('Ev,CL', shift.shiftECL));
ONE_BYTE[0xd4] = op('aam', 'Ib', bcd.aam);
ONE_BYTE[0xd5] = op('aad', 'Ib', bcd.aad);
ONE_BYTE[0xd6] = op('salc', '', bcd.salc);
ONE_BYTE[0xd7] = op('xlatb', '', data.xlat);

/**
 * x87 escapes D8–DF (SDM Vol. 2 Appendix A.4, Tables ): ModRM.reg
 * selects the memory forms; with mod = 3, ModRM.reg selects the register
 * forms and, for D9 E0.., DA E9, DB E0.., DE D9 and DF E0, ModRM.rm too.
 * The undocumented aliases every P6-family processor executes are decoded
 * as what they alias (FCOM2 DC D0+i, FCOMP3 DC D8+i, FCOMP5 DE D0+i, FXCH4
 * DD C8+i, FXCH7 DF C8+i, FSTP1 D9 D8+i, FSTP8 DF D0+i, FSTP9 DF D8+i,
 * FFREEP DF C0+i). FISTTP (DB/DD/DF /1) is SSE3: #UD on this i686.
 */
const X87_R = { memAccess: 'r' as const };
const X87_W = { memAccess: 'w' as const };
const fisttp = (m: string): OpDef => unsupportedOp('fisttp', m, 'FISTTP is an SSE3 instruction (kmemsim is an i686 without SSE3)');
const regForms = (forms: (OpDef | undefined)[]): OpDef => op('(x87)', '', none, { regForms: forms });
const X87_ARITH = ['fadd', 'fmul', 'fcom', 'fcomp', 'fsub', 'fsubr', 'fdiv', 'fdivr'];
/** D8/DC/DA/DE memory forms: arithmetic and compare with a real (m32/m64) or integer (m32/m16) operand. */
const x87ArithMem = (prefix: string, m: string): (OpDef | undefined)[] =>
  X87_ARITH.map((n, r) => {
    const name = prefix ? n.replace(/^f/, 'f' + prefix) : n;
    return r === 2 || r === 3 ? op(name, m, fpu.fcomMem, X87_R) : op(name, m, fpu.farithMem, X87_R);
  });
/** DC and DE register forms: ST(i) ← ST(i) op ST(0); /4../7 are FSUBR, FSUB, FDIVR, FDIV (Table A-10). */
const x87ArithToSTi = (pop: boolean): (OpDef | undefined)[] =>
  ['fadd', 'fmul', 'fcom', 'fcomp', 'fsubr', 'fsub', 'fdivr', 'fdiv'].map((n, r) =>
    r === 2 || r === 3 ? op(pop ? 'fcomp' : n, 'STi', fpu.fcomReg) : op(pop ? n + 'p' : n, 'STi,ST', fpu.farithReg));
const X87_CONST = ['fld1', 'fldl2t', 'fldl2e', 'fldpi', 'fldlg2', 'fldln2', 'fldz'];
const FCMOV = ['fcmovb', 'fcmove', 'fcmovbe', 'fcmovu', 'fcmovnb', 'fcmovne', 'fcmovnbe', 'fcmovnu'];

ONE_BYTE[0xd8] = op('(x87)', 'Ex', none, {
  group: x87ArithMem('', 'Md'),
  groupReg: X87_ARITH.map((n, r) => (r === 2 || r === 3 ? op(n, 'STi', fpu.fcomReg) : op(n, 'ST,STi', fpu.farithReg))),
});
ONE_BYTE[0xd9] = op('(x87)', 'Ex', none, {
  group: [
    op('fld', 'Md', fpu.fldMem, X87_R), undefined, op('fst', 'Md', fpu.fstMem, X87_W), op('fstp', 'Md', fpu.fstMem, X87_W),
    op('fldenv', 'Menv', fpu.fldenv, X87_R), op('fldcw', 'Mw', fpu.fldcw, X87_R), op('fnstenv', 'Menv', fpu.fnstenv, X87_W), op('fnstcw', 'Mw', fpu.fnstcw, X87_W),
  ],
  groupReg: [
    op('fld', 'STi', fpu.fldReg),
    op('fxch', 'STi', fpu.fxch),
    regForms([op('fnop', '', fpu.fnop)]),
    op('fstp', 'STi', fpu.fstReg),
    regForms([op('fchs', '', fpu.fchsAbs), op('fabs', '', fpu.fchsAbs), undefined, undefined, op('ftst', '', fpu.ftst), op('fxam', '', fpu.fxam)]),
    regForms(X87_CONST.map((n) => op(n, '', fpu.fldConst))),
    regForms([op('f2xm1', '', fmath.f2xm1), op('fyl2x', '', fmath.fyl2xAtan), op('fptan', '', fmath.fsincosTan), op('fpatan', '', fmath.fyl2xAtan), op('fxtract', '', fmath.fxtract), op('fprem1', '', fmath.fprem), op('fdecstp', '', fpu.fincdecstp), op('fincstp', '', fpu.fincdecstp)]),
    regForms([op('fprem', '', fmath.fprem), op('fyl2xp1', '', fmath.fyl2xAtan), op('fsqrt', '', fmath.fsqrt), op('fsincos', '', fmath.fsincosTan), op('frndint', '', fmath.frndint), op('fscale', '', fmath.fscale), op('fsin', '', fmath.fsinCos), op('fcos', '', fmath.fsinCos)]),
  ],
});
ONE_BYTE[0xda] = op('(x87)', 'Ex', none, {
  group: x87ArithMem('i', 'Md'),
  groupReg: [...FCMOV.slice(0, 4).map((n) => op(n, 'ST,STi', fpu.fcmov)), undefined, regForms([undefined, op('fucompp', '', fpu.fcomReg)]), undefined, undefined],
});
ONE_BYTE[0xdb] = op('(x87)', 'Ex', none, {
  group: [
    op('fild', 'Md', fpu.fild, X87_R), fisttp('Md'), op('fist', 'Md', fpu.fist, X87_W), op('fistp', 'Md', fpu.fist, X87_W),
    undefined, op('fld', 'Mt', fpu.fldMem, X87_R), undefined, op('fstp', 'Mt', fpu.fstMem, X87_W),
  ],
  groupReg: [
    ...FCMOV.slice(4).map((n) => op(n, 'ST,STi', fpu.fcmov)),
    regForms([op('fneni', '', fpu.fnopNoWait), op('fndisi', '', fpu.fnopNoWait), op('fnclex', '', fpu.fnclex), op('fninit', '', fpu.fninit), op('fnsetpm', '', fpu.fnopNoWait)]),
    op('fucomi', 'ST,STi', fpu.fcomi),
    op('fcomi', 'ST,STi', fpu.fcomi),
    undefined,
  ],
});
ONE_BYTE[0xdc] = op('(x87)', 'Ex', none, { group: x87ArithMem('', 'Mq'), groupReg: x87ArithToSTi(false) });
ONE_BYTE[0xdd] = op('(x87)', 'Ex', none, {
  group: [
    op('fld', 'Mq', fpu.fldMem, X87_R), fisttp('Mq'), op('fst', 'Mq', fpu.fstMem, X87_W), op('fstp', 'Mq', fpu.fstMem, X87_W),
    op('frstor', 'Msave', fpu.frstor, X87_R), undefined, op('fnsave', 'Msave', fpu.fnsave, X87_W), op('fnstsw', 'Mw', fpu.fnstsw, X87_W),
  ],
  groupReg: [
    op('ffree', 'STi', fpu.ffree), op('fxch', 'STi', fpu.fxch), op('fst', 'STi', fpu.fstReg), op('fstp', 'STi', fpu.fstReg),
    op('fucom', 'STi', fpu.fcomReg), op('fucomp', 'STi', fpu.fcomReg), undefined, undefined,
  ],
});
{
  const de = x87ArithToSTi(true);
  de[3] = regForms([undefined, op('fcompp', '', fpu.fcomReg)]);
  ONE_BYTE[0xde] = op('(x87)', 'Ex', none, { group: x87ArithMem('i', 'Mw'), groupReg: de });
}
ONE_BYTE[0xdf] = op('(x87)', 'Ex', none, {
  group: [
    op('fild', 'Mw', fpu.fild, X87_R), fisttp('Mw'), op('fist', 'Mw', fpu.fist, X87_W), op('fistp', 'Mw', fpu.fist, X87_W),
    op('fbld', 'Mt', fpu.fbld, X87_R), op('fild', 'Mq', fpu.fild, X87_R), op('fbstp', 'Mt', fpu.fbstp, X87_W), op('fistp', 'Mq', fpu.fist, X87_W),
  ],
  groupReg: [
    op('ffreep', 'STi', fpu.ffree), op('fxch', 'STi', fpu.fxch), op('fstp', 'STi', fpu.fstReg), op('fstp', 'STi', fpu.fstReg),
    regForms([op('fnstsw', 'AX', fpu.fnstsw)]),
    op('fucomip', 'ST,STi', fpu.fcomi),
    op('fcomip', 'ST,STi', fpu.fcomi),
    undefined,
  ],
});

// ---- E0–FF ------------------------------------------------------------------------
ONE_BYTE[0xe0] = op('loopne', 'Jb', ctl.loopne);
ONE_BYTE[0xe1] = op('loope', 'Jb', ctl.loope);
ONE_BYTE[0xe2] = op('loop', 'Jb', ctl.loop);
ONE_BYTE[0xe3] = op('jecxz', 'Jb', ctl.jecxz);
ONE_BYTE[0xe4] = op('in', 'AL,Ib', sys.inImm, { startsBlock: true });
ONE_BYTE[0xe5] = op('in', 'eAX,Ib', sys.inImm, { startsBlock: true });
ONE_BYTE[0xe6] = op('out', 'Ib,AL', sys.outImm, { startsBlock: true, osz: 'b' });
ONE_BYTE[0xe7] = op('out', 'Ib,eAX', sys.outImm, { startsBlock: true, osz: 'v' });
ONE_BYTE[0xe8] = op('call', 'Jz', ctl.callRel, { endsBlock: true });
ONE_BYTE[0xe9] = op('jmp', 'Jz', ctl.jmpRel, { endsBlock: true });
ONE_BYTE[0xea] = op('jmp', 'Ap', sys.jmpFarImm, { endsBlock: true });
ONE_BYTE[0xeb] = op('jmp', 'Jb', ctl.jmpRel, { endsBlock: true });
ONE_BYTE[0xec] = op('in', 'AL,DX', sys.inDX, { startsBlock: true });
ONE_BYTE[0xed] = op('in', 'eAX,DX', sys.inDX, { startsBlock: true });
ONE_BYTE[0xee] = op('out', 'DX,AL', sys.outDX, { startsBlock: true, osz: 'b' });
ONE_BYTE[0xef] = op('out', 'DX,eAX', sys.outDX, { startsBlock: true, osz: 'v' });
ONE_BYTE[0xf1] = op('int1', '', sys.int1, { startsBlock: true, endsBlock: true });
ONE_BYTE[0xf4] = op('hlt', '', sys.hlt, { endsBlock: true });
ONE_BYTE[0xf5] = op('cmc', '', data.cmc);
const grp3 = (s: 'b' | 'v'): (OpDef | undefined)[] => {
  const E = s === 'b' ? 'Eb' : 'Ev';
  const I = s === 'b' ? 'Ib' : 'Iz';
  return [
    op('test', `${E},${I}`, alu.testEI),
    op('test', `${E},${I}`, alu.testEI),
    op('not', E, alu.notE, { lockable: true }),
    op('neg', E, alu.negE, { lockable: true }),
    op('mul', E, md.mul),
    op('imul', E, md.imul1),
    op('div', E, md.div),
    op('idiv', E, md.idiv),
  ];
};
ONE_BYTE[0xf6] = group('Eb', grp3('b'));
ONE_BYTE[0xf7] = group('Ev', grp3('v'));
ONE_BYTE[0xf8] = op('clc', '', data.clc);
ONE_BYTE[0xf9] = op('stc', '', data.stc);
ONE_BYTE[0xfa] = op('cli', '', sys.cli);
ONE_BYTE[0xfb] = op('sti', '', sys.sti);
ONE_BYTE[0xfc] = op('cld', '', data.cld);
ONE_BYTE[0xfd] = op('std', '', data.std);
ONE_BYTE[0xfe] = group('Eb', [op('inc', 'Eb', alu.incE, { lockable: true }), op('dec', 'Eb', alu.decE, { lockable: true })]);
ONE_BYTE[0xff] = group('Ev', [
  op('inc', 'Ev', alu.incE, { lockable: true }),
  op('dec', 'Ev', alu.decE, { lockable: true }),
  op('call', 'Ev', ctl.callE, { endsBlock: true }),
  op('call far', 'Mp', sys.callFarMem, { endsBlock: true }),
  op('jmp', 'Ev', ctl.jmpE, { endsBlock: true }),
  op('jmp far', 'Mp', sys.jmpFarMem, { endsBlock: true }),
  op('push', 'Ev', stack.pushE),
  undefined,
]);

// ---- 0F map ---------------------------------------------------------------------------
TWO_BYTE[0x00] = group('Ew', [
  op('sldt', 'Ew', sys.sldt),
  op('str', 'Ew', sys.str),
  op('lldt', 'Ew', sys.lldt),
  op('ltr', 'Ew', sys.ltr),
  op('verr', 'Ew', sys.verrw),
  op('verw', 'Ew', sys.verrw),
  undefined,
  undefined,
]);
const sysRegForm = (name: string): OpDef => unsupportedOp(name, '', 'not modelled');
TWO_BYTE[0x01] = group('Ms', [
  op('sgdt', 'Ms', sys.sgdt, { regForms: [undefined, sysRegForm('vmcall'), sysRegForm('vmlaunch'), sysRegForm('vmresume'), sysRegForm('vmxoff'), undefined, undefined, undefined] }),
  op('sidt', 'Ms', sys.sgdt, { regForms: [sysRegForm('monitor'), sysRegForm('mwait'), sysRegForm('clac'), sysRegForm('stac'), undefined, undefined, undefined, sysRegForm('encls')] }),
  op('lgdt', 'Ms', sys.lgdt, { regForms: [sysRegForm('xgetbv'), sysRegForm('xsetbv'), undefined, undefined, sysRegForm('vmfunc'), sysRegForm('xend'), sysRegForm('xtest'), sysRegForm('enclu')] }),
  op('lidt', 'Ms', sys.lgdt),
  op('smsw', 'Ew', sys.smsw, { memOnly: false }),
  undefined,
  op('lmsw', 'Ew', sys.lmsw, { memOnly: false }),
  op('invlpg', 'Mb', sys.invlpg, { memSize: 0, regForms: [sysRegForm('swapgs'), sysRegForm('rdtscp'), undefined, undefined, undefined, undefined, undefined, undefined] }),
]);
TWO_BYTE[0x02] = op('lar', 'Gv,Ew', sys.larLsl);
TWO_BYTE[0x03] = op('lsl', 'Gv,Ew', sys.larLsl);
TWO_BYTE[0x05] = unsupportedOp('syscall', '', 'not modelled (use int $0x80)');
TWO_BYTE[0x06] = op('clts', '', sys.clts);
TWO_BYTE[0x07] = unsupportedOp('sysret', '', 'not modelled');
TWO_BYTE[0x08] = op('invd', '', sys.wbinvd);
TWO_BYTE[0x09] = op('wbinvd', '', sys.wbinvd);
TWO_BYTE[0x0b] = op('ud2', '', sys.ud2, { endsBlock: true });
TWO_BYTE[0x0d] = unsupportedOp('prefetch', 'Mx', 'a 3DNow! instruction, not modelled');
for (const b of [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f]) TWO_BYTE[b] = simdOp(b, 'Ex');
// 0F 18 prefetch hints and 0F 19–1F reserved hint NOPs (including the multi-byte NOP 0F 1F /0).
TWO_BYTE[0x18] = op('prefetch', 'Mx', data.nop, { memSize: 0, memOnly: false });
for (let b = 0x19; b <= 0x1f; b++) TWO_BYTE[b] = op('nop', 'Ev', data.nop, { memSize: 0 });
// CR1, CR5–CR7 are reserved: #UD (SDM Vol. 2 "MOV—Move to/from Control Registers").
const noCr = (ins: Instr) => (ins.reg === 1 || ins.reg > 4 ? `CR${ins.reg} is reserved` : undefined);
TWO_BYTE[0x20] = op('mov', 'Rd,Cd', sys.movRCr, { osz: 'd', forceReg: true, invalidWhen: noCr });
TWO_BYTE[0x21] = op('mov', 'Rd,Dd', sys.movRDr, { osz: 'd', forceReg: true });
TWO_BYTE[0x22] = op('mov', 'Cd,Rd', sys.movCrR, { osz: 'd', forceReg: true, endsBlock: true, invalidWhen: noCr });
TWO_BYTE[0x23] = op('mov', 'Dd,Rd', sys.movDrR, { osz: 'd', forceReg: true, endsBlock: true });
TWO_BYTE[0x30] = unsupportedOp('wrmsr', '', 'not modelled (no MSRs)');
TWO_BYTE[0x31] = op('rdtsc', '', sys.rdtsc, { startsBlock: true });
TWO_BYTE[0x32] = unsupportedOp('rdmsr', '', 'not modelled (no MSRs)');
TWO_BYTE[0x33] = unsupportedOp('rdpmc', '', 'not modelled');
TWO_BYTE[0x34] = unsupportedOp('sysenter', '', 'not modelled (use int $0x80)');
TWO_BYTE[0x35] = unsupportedOp('sysexit', '', 'not modelled');
TWO_BYTE[0x37] = unsupportedOp('getsec', '', 'not modelled');
for (let b = 0x50; b <= 0x7f; b++) {
  if (b === 0x77) TWO_BYTE[b] = unsupportedOp('emms', '', SIMD_REASON);
  else if (b >= 0x70 && b <= 0x73) TWO_BYTE[b] = simdOp(b, 'Ex,Ib');
  else if (b === 0x78 || b === 0x79) TWO_BYTE[b] = unsupportedOp(b === 0x78 ? 'vmread' : 'vmwrite', 'Ex', 'a VMX instruction, not modelled');
  else if (b === 0x7a || b === 0x7b) continue;
  else TWO_BYTE[b] = simdOp(b, 'Ex');
}
TWO_BYTE[0xa0] = op('push', 'FS', sys.pushSreg);
TWO_BYTE[0xa1] = op('pop', 'FS', sys.popSreg);
TWO_BYTE[0xa2] = op('cpuid', '', sys.cpuid);
TWO_BYTE[0xa3] = op('bt', 'Ev,Gv', bits.btEG);
TWO_BYTE[0xa4] = op('shld', 'Ev,Gv,Ib', shift.shldI);
TWO_BYTE[0xa5] = op('shld', 'Ev,Gv,CL', shift.shldCL);
TWO_BYTE[0xa8] = op('push', 'GS', sys.pushSreg);
TWO_BYTE[0xa9] = op('pop', 'GS', sys.popSreg);
TWO_BYTE[0xaa] = unsupportedOp('rsm', '', 'not modelled (no SMM)');
TWO_BYTE[0xab] = op('bts', 'Ev,Gv', bits.btEG, { lockable: true });
TWO_BYTE[0xac] = op('shrd', 'Ev,Gv,Ib', shift.shrdI);
TWO_BYTE[0xad] = op('shrd', 'Ev,Gv,CL', shift.shrdCL);
TWO_BYTE[0xae] = unsupportedOp('fxsave', 'Ex', '0F AE (FXSAVE/FXRSTOR/LDMXCSR/STMXCSR and the fences) is not modelled');
TWO_BYTE[0xaf] = op('imul', 'Gv,Ev', md.imul2);
TWO_BYTE[0xb0] = op('cmpxchg', 'Eb,Gb', data.cmpxchg, { lockable: true });
TWO_BYTE[0xb1] = op('cmpxchg', 'Ev,Gv', data.cmpxchg, { lockable: true });
TWO_BYTE[0xb2] = op('lss', 'Gv,Mp', sys.loadFarPointer);
TWO_BYTE[0xb3] = op('btr', 'Ev,Gv', bits.btEG, { lockable: true });
TWO_BYTE[0xb4] = op('lfs', 'Gv,Mp', sys.loadFarPointer);
TWO_BYTE[0xb5] = op('lgs', 'Gv,Mp', sys.loadFarPointer);
TWO_BYTE[0xb6] = op('movzx', 'Gv,Eb', data.movzxB);
TWO_BYTE[0xb7] = op('movzx', 'Gv,Ew', data.movzxW);
TWO_BYTE[0xb8] = unsupportedOp('jmpe', 'Ex', 'not modelled');
TWO_BYTE[0xb8]!.prefixed = { f3: unsupportedOp('popcnt', 'Ex', 'not modelled (kmemsim is an i686)') };
TWO_BYTE[0xb9] = op('ud1', 'Gv,Ev', sys.ud2, { endsBlock: true, memSize: 0 });
TWO_BYTE[0xba] = group('Ev,Ib', [undefined, undefined, undefined, undefined,
  op('bt', 'Ev,Ib', bits.btEI), op('bts', 'Ev,Ib', bits.btEI, { lockable: true }), op('btr', 'Ev,Ib', bits.btEI, { lockable: true }), op('btc', 'Ev,Ib', bits.btEI, { lockable: true })]);
TWO_BYTE[0xbb] = op('btc', 'Ev,Gv', bits.btEG, { lockable: true });
// F3 0F BC/BD are TZCNT/LZCNT only on CPUs that report them; on an i686 the F3 is ignored and they run as BSF/BSR.
TWO_BYTE[0xbc] = op('bsf', 'Gv,Ev', bits.bsf);
TWO_BYTE[0xbd] = op('bsr', 'Gv,Ev', bits.bsr);
TWO_BYTE[0xbe] = op('movsx', 'Gv,Eb', data.movsxB);
TWO_BYTE[0xbf] = op('movsx', 'Gv,Ew', data.movsxW);
TWO_BYTE[0xc0] = op('xadd', 'Eb,Gb', data.xadd, { lockable: true });
TWO_BYTE[0xc1] = op('xadd', 'Ev,Gv', data.xadd, { lockable: true });
TWO_BYTE[0xc2] = simdOp(0xc2, 'Ex,Ib');
TWO_BYTE[0xc3] = simdOp(0xc3, 'Ex');
TWO_BYTE[0xc4] = simdOp(0xc4, 'Ex,Ib');
TWO_BYTE[0xc5] = simdOp(0xc5, 'Ex,Ib');
TWO_BYTE[0xc6] = simdOp(0xc6, 'Ex,Ib');
TWO_BYTE[0xc7] = group('Mq', [undefined, op('cmpxchg8b', 'Mq', data.cmpxchg8b, { lockable: true })], {
  groupReg: [undefined, undefined, undefined, undefined, undefined, undefined, sysRegForm('rdrand'), sysRegForm('rdseed')],
});
for (let r = 0; r < 8; r++) TWO_BYTE[0xc8 + r] = op('bswap', 'Zv', bits.bswap);
for (let b = 0xd0; b <= 0xff; b++) TWO_BYTE[b] = simdOp(b, 'Ex');
TWO_BYTE[0xff] = op('ud0', 'Gv,Ev', sys.ud2, { endsBlock: true, memSize: 0 });
// Three-byte maps 0F 38 and 0F 3A (SSSE3 and later): valid on newer processors, not modelled.
TWO_BYTE[0x38] = { ...unsupportedOp('0f38', 'Ex', 'a three-byte opcode 0F 38 (SSSE3/SSE4 and later), not modelled'), threeByte: true };
TWO_BYTE[0x3a] = { ...unsupportedOp('0f3a', 'Ex,Ib', 'a three-byte opcode 0F 3A (SSSE3/SSE4 and later), not modelled'), threeByte: true };
