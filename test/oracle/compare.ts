/**
 * Differential comparison of kmemsim's decoder with iced-x86 (see
 * test/decoder-iced.test.ts). Pure bookkeeping: it never decides by itself
 * what is a bug beyond the rules written down here.
 *
 * Rules (each violated rule is a "mismatch" and fails the test):
 *  1. iced says invalid  -> kmemsim must say invalid (not valid, not unsupported).
 *  2. kmemsim valid and supported -> iced valid, same length, same
 *     memory-access size (iced's size mapped by `expectedMemSize`).
 *  3. kmemsim unsupported -> iced valid, and the instruction is not a core
 *     integer instruction: it belongs to x87/MMX/SSE/3DNow!/AVX or another
 *     CPUID-gated extension, or it is a system instruction (SYSTEM below),
 *     or a register form of 0F 0D / 0F 18 (see rule 4).
 *  4. iced valid and core (8086..486, CMOV, CX8, CPUID, multi-byte NOP,
 *     and the "hint" encodings every IA-32 CPU executes: ENDBR32 (a NOP
 *     without CET), PAUSE (REP NOP), TZCNT/LZCNT (REP BSF/BSR)) -> kmemsim
 *     must not call it invalid, except the always-#UD opcodes UD0/UD1/UD2,
 *     the undocumented SALC / INT1 (ICEBP) / TEST F6,F7 /1 / SAL /6, and
 *     the register forms of 0F 0D and 0F 18.
 *  5. Both valid, kmemsim supported, same length, core instruction ->
 *     mnemonics agree after `canonicalMnemonic` and ACCEPTED_PAIRS.
 *  Also: kmemsim's decodeOne must never throw.
 */

/** kmemsim's own verdict on one encoding. */
export type KmDecode = DecodeInfo;
import type { DecodeInfo } from '../../src/cpu/decoder.js';

import type { IcedVerdict } from './iced.js';

// ---------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------

/** iced CPUID features of the integer IA-32 base the kmemsim CPU models. */
export const CORE_FEATURES = new Set([
  'INTEL8086',
  'INTEL8086_ONLY',
  'INTEL186',
  'INTEL286',
  'INTEL286_ONLY',
  'INTEL386',
  'INTEL386_ONLY',
  'INTEL386_A0_ONLY',
  'INTEL486',
  'INTEL486_A_ONLY',
  'CMOV',
  'CX8',
  'CPUID',
  'MULTIBYTENOP',
  // the x87 FPU (8087 to 387 and the P6's FCMOVcc/FCOMI, which iced files under CMOV)
  'FPU',
  'FPU287',
  'FPU387',
]);

/**
 * Encodings that iced names after a newer extension but that every IA-32
 * CPU executes (as what they were before the extension existed). gcc emits
 * all four: endbr32 with -fcf-protection (Ubuntu's default), `rep nop` in
 * spin loops, `rep bsf` for __builtin_ctz under generic tuning.
 */
const CORE_HINT_MNEMONICS = new Set(['endbr32', 'pause', 'tzcnt', 'lzcnt']);

/** Valid on hardware but raising #UD (or undocumented): kmemsim may call them invalid. */
const MAY_BE_INVALID = new Set(['ud0', 'ud1', 'ud2', 'salc', 'int1']);

/**
 * Undocumented ModRM aliases that hardware executes and iced decodes:
 * TEST F6 /1 and F7 /1 (alias of /0), SAL D0-D3/C0-C1 /6 (alias of SHL /4).
 * kmemsim may reject them; if it accepts them they are compared normally.
 */
function isUndocumentedAlias(code: string): boolean {
  return code.endsWith('_F6r1') || code.endsWith('_F7r1') || code.startsWith('Sal_');
}

/**
 * System (or x87-family) instructions that kmemsim may leave unmodelled
 * even though iced files them under the 8086..486 base. Privileged ones
 * (iced `isPrivileged`) are accepted too.
 */
export const SYSTEM_MNEMONICS = new Set([
  // descriptor/segment checks and table stores (usable at CPL 3 but pure system)
  'lar', 'lsl', 'verr', 'verw', 'arpl', 'sldt', 'str', 'smsw', 'sgdt', 'sidt',
  'lldt', 'ltr', 'lgdt', 'lidt', 'lmsw', 'clts', 'invd', 'wbinvd', 'invlpg', 'rsm',
  // identification, MSRs, counters, fast system calls
  'cpuid', 'rdtsc', 'rdtscp', 'rdpmc', 'rdmsr', 'wrmsr', 'sysenter', 'sysexit', 'syscall', 'sysret',
  // I/O and interrupt flag (IOPL-sensitive), halt, task return
  'in', 'out', 'insb', 'insw', 'insd', 'outsb', 'outsw', 'outsd', 'cli', 'sti', 'hlt', 'iret', 'iretd',
  // always-#UD and debug
  'ud0', 'ud1', 'ud2', 'int1',
  // x87 family member that iced files under INTEL8086
  'wait',
]);

export function isCoreFeatureSet(features: string[]): boolean {
  return features.length > 0 && features.every((f) => CORE_FEATURES.has(f));
}

/** iced instruction belongs to the integer base kmemsim must model (rule 4/5). */
export function isCore(iced: IcedVerdict): boolean {
  if (iced.invalid) return false;
  if (CORE_HINT_MNEMONICS.has(iced.mnemonic)) return true;
  return isCoreFeatureSet(iced.features);
}

/** Rule 3: may kmemsim call this iced-valid instruction "unsupported"? */
export function unsupportedIsPlausible(iced: IcedVerdict): boolean {
  if (iced.invalid) return false;
  if (!isCore(iced)) return true; // x87, MMX, SSE*, AVX, 3DNow!, other extensions
  if (iced.privileged) return true;
  return SYSTEM_MNEMONICS.has(iced.mnemonic);
}

/** Rule 3 with the byte-level exceptions (register forms of 0F 0D / 0F 18). */
/** The 0F map except its core integer opcodes: #UD on kmemsim either way. (The x87 escapes D8–DF are modelled.) */
export function inExtensionSpace(bytes: Uint8Array): boolean {
  const k = opcodeKey(bytes);
  return k.map !== '';
}

export function unsupportedIsPlausibleAt(bytes: Uint8Array, iced: IcedVerdict): boolean {
  return unsupportedIsPlausible(iced) || isHintNopOutsideCore(bytes, iced);
}

// ---------------------------------------------------------------------------
// Opcode key (for grouping reports)
// ---------------------------------------------------------------------------

const LEGACY_PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

export interface OpcodeKey {
  prefixes: number[];
  /** e.g. '01', '0F AF', '0F 38 F0'. */
  opcode: string;
  /** ModRM byte following the opcode (whether or not the opcode has one), or -1 at end of input. */
  modrm: number;
  /** Last opcode byte, and the map it belongs to. */
  map: '' | '0F' | '0F38' | '0F3A';
  op: number;
}

export function opcodeKey(bytes: Uint8Array): OpcodeKey {
  let i = 0;
  const prefixes: number[] = [];
  while (i < bytes.length && i < 15 && LEGACY_PREFIXES.has(bytes[i])) prefixes.push(bytes[i++]);
  const at = (k: number) => (k < bytes.length ? bytes[k] : -1);
  let map: OpcodeKey['map'] = '';
  let op = at(i);
  let opcode = hex2(op);
  if (op === 0x0f) {
    const b1 = at(i + 1);
    if (b1 === 0x38 || b1 === 0x3a) {
      map = b1 === 0x38 ? '0F38' : '0F3A';
      op = at(i + 2);
      opcode = `0F ${hex2(b1)} ${hex2(op)}`;
      i += 3;
    } else {
      map = '0F';
      op = b1;
      opcode = `0F ${hex2(b1)}`;
      i += 2;
    }
  } else {
    i += 1;
  }
  return { prefixes, opcode, modrm: at(i), map, op };
}

/** Opcodes whose ModRM reg field selects the instruction (SDM "opcode extensions"). */
const GROUP_OPCODES = new Set([
  0x80, 0x81, 0x82, 0x83, 0x8f, 0xc0, 0xc1, 0xc6, 0xc7, 0xd0, 0xd1, 0xd2, 0xd3, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xf6, 0xf7, 0xfe, 0xff,
  0x100, 0x101, 0x10d, 0x118, 0x11e, 0x171, 0x172, 0x173, 0x1ae, 0x1ba, 0x1c7,
]);

/**
 * Grouping signature for reports: the opcode, the ModRM reg field for
 * group opcodes, and whether the operand is a register or memory. Prefixes
 * are left out (the first example of each group shows them), so one root
 * cause tends to make one group.
 */
export function groupSignature(bytes: Uint8Array): string {
  const k = opcodeKey(bytes);
  const head = k.opcode;
  if (k.modrm < 0) return head;
  const mod = k.modrm >> 6;
  const reg = (k.modrm >> 3) & 7;
  const grp = k.map === '' ? GROUP_OPCODES.has(k.op) : k.map === '0F' ? GROUP_OPCODES.has(0x100 | k.op) : false;
  return `${head}${grp ? ` /${reg}` : ''} ${mod === 3 ? 'reg' : 'mem'}`;
}

// ---------------------------------------------------------------------------
// Mnemonics
// ---------------------------------------------------------------------------

/** Condition-code synonyms (SDM Vol. 1 Appendix B): canonical form is iced's. */
const CC_SYNONYMS: Record<string, string> = {
  z: 'e', nz: 'ne', c: 'b', nae: 'b', nb: 'ae', nc: 'ae', na: 'be', nbe: 'a',
  nge: 'l', nl: 'ge', ng: 'le', nle: 'g', pe: 'p', po: 'np',
};

/** Whole-mnemonic synonyms, applied to both sides. */
export const MNEMONIC_ALIASES: Record<string, string> = {
  sal: 'shl', // D0-D3/C0-C1 /4 and the undocumented /6 alias are the same operation
  xlat: 'xlatb',
  'int 3': 'int3',
  icebp: 'int1',
  fwait: 'wait',
  retn: 'ret',
  'ret far': 'retf',
  lret: 'retf',
  retfd: 'retf',
  'call far': 'call',
  lcall: 'call',
  'jmp far': 'jmp',
  ljmp: 'jmp',
  nopw: 'nop',
  nopl: 'nop',
  nopd: 'nop',
  reservednop: 'nop', // iced's name for the hint-NOP space 0F 19..0F 1E
  loopz: 'loope',
  loopnz: 'loopne',
  // assemblers disagree on the size suffix of these in 32-bit code
  pushad: 'pusha', pushaw: 'pusha', pushal: 'pusha',
  popad: 'popa', popaw: 'popa', popal: 'popa',
  pushfd: 'pushf', pushfw: 'pushf', pushfl: 'pushf',
  popfd: 'popf', popfw: 'popf', popfl: 'popf',
  iretd: 'iret', iretw: 'iret', iretl: 'iret',
};

/** Pairs (kmemsim|iced, canonical) that name the same execution of the same bytes. */
export const ACCEPTED_PAIRS = new Set([
  'xchg|nop', // 90 / 66 90: XCHG (E)AX,(E)AX is NOP
  'nop|pause', // F3 90 is PAUSE, REP NOP before SSE2
  'nop|endbr32', // F3 0F 1E FB is a reserved NOP without CET
  'bsf|tzcnt', // F3 0F BC is REP BSF before BMI1
  'bsr|lzcnt', // F3 0F BD is REP BSR before LZCNT/ABM
  'fstp|fstpnce', // D9 D8+i: the undocumented FSTP alias (iced's name); kmemsim calls it FSTP
  'prefetch|nop', // 0F 18 hint group: /4-/7 and register forms are reserved NOPs (iced), kmemsim names the group PREFETCH; both do nothing
]);

const PREFIX_WORDS = new Set(['rep', 'repe', 'repz', 'repne', 'repnz', 'lock', 'data16', 'addr16', 'bnd', 'notrack', 'xacquire', 'xrelease']);

export function canonicalMnemonic(m: string): string {
  let s = m.trim().toLowerCase().replace(/\s+/g, ' ');
  const words = s.split(' ');
  while (words.length > 1 && PREFIX_WORDS.has(words[0])) words.shift();
  s = words.join(' ');
  s = MNEMONIC_ALIASES[s] ?? s;
  const cc = /^(j|set|cmov)([a-z]+)$/.exec(s);
  if (cc && CC_SYNONYMS[cc[2]]) s = cc[1] + CC_SYNONYMS[cc[2]];
  return s;
}

export function mnemonicsAgree(km: string, iced: string): boolean {
  const a = canonicalMnemonic(km);
  const b = canonicalMnemonic(iced);
  return a === b || ACCEPTED_PAIRS.has(`${a}|${b}`);
}

// ---------------------------------------------------------------------------
// Collector
// ---------------------------------------------------------------------------

export type MismatchKind =
  | 'kmemsim-threw'
  | 'iced-invalid-kmemsim-valid'
  | 'iced-invalid-kmemsim-unsupported'
  | 'length'
  | 'memsize'
  | 'unsupported-core'
  | 'rejects-core'
  | 'mnemonic';

export interface Mismatch {
  kind: MismatchKind;
  source: string;
  bytes: Uint8Array;
  km: KmDecode | null;
  kmError: string;
  iced: IcedVerdict;
  detail: string;
}

export function hex2(b: number): string {
  return b < 0 ? '--' : b.toString(16).toUpperCase().padStart(2, '0');
}

export function hexBytes(bytes: ArrayLike<number>, n = bytes.length): string {
  const out: string[] = [];
  for (let i = 0; i < Math.min(n, bytes.length); i++) out.push(hex2(bytes[i]));
  return out.join(' ');
}

function shownBytes(m: { bytes: Uint8Array; km: KmDecode | null; iced: IcedVerdict }): string {
  const n = Math.min(m.bytes.length, Math.max(m.iced.length || 0, m.km && !m.km.invalid ? m.km.length : 0, 1));
  const rest = m.bytes.length > n ? ` | ${hexBytes(m.bytes.subarray(n))}` : '';
  return `${hexBytes(m.bytes, n)}${rest}`;
}

export function describeMismatch(m: Mismatch): string {
  const k = m.km;
  const kmv = m.kmError
    ? `THREW ${m.kmError}`
    : k
      ? `${k.invalid ? 'invalid' : k.unsupported ? 'unsupported' : 'valid'} len=${k.length} mnem=${JSON.stringify(k.mnemonic)} memSize=${k.memSize} text=${JSON.stringify(k.text)}`
      : '?';
  const i = m.iced;
  const icv = i.invalid
    ? `invalid (${i.error}) len=${i.length}`
    : `valid len=${i.length} mnem=${JSON.stringify(i.mnemonic)} code=${i.code} mem=${i.hasMem ? `${i.icedMemSizeName}(${i.icedMemSize})` : 'none'}` +
      `${i.memSizeNote ? ` expected memSize=${i.memSize} [${i.memSizeNote}]` : ''} text=${JSON.stringify(i.text)} features=${i.features.join(',')}${i.privileged ? ' privileged' : ''}`;
  return `[${m.kind}] bytes: ${shownBytes(m)}   (${m.source})\n    kmemsim: ${kmv}\n    iced:    ${icv}${m.detail ? `\n    ${m.detail}` : ''}`;
}

export interface Counts {
  compared: number;
  bothValid: number;
  bothInvalid: number;
  unsupportedWhereIcedInvalid: number;
  kmUnsupported: number;
  kmUnsupportedLengthDiffers: number;
  kmInvalidIcedValid: number;
  mnemonicCompared: number;
  mnemonicAgree: number;
  coreMnemonicCompared: number;
  coreMnemonicAgree: number;
  memCompared: number;
}

export class DiffCollector {
  readonly counts: Counts = {
    compared: 0,
    bothValid: 0,
    bothInvalid: 0,
    unsupportedWhereIcedInvalid: 0,
    kmUnsupported: 0,
    kmUnsupportedLengthDiffers: 0,
    kmInvalidIcedValid: 0,
    mnemonicCompared: 0,
    mnemonicAgree: 0,
    coreMnemonicCompared: 0,
    coreMnemonicAgree: 0,
    memCompared: 0,
  };
  readonly mismatchCount = new Map<MismatchKind, number>();
  /** First example per (kind, signature). */
  readonly groups = new Map<string, { first: Mismatch; count: number }>();
  /** kmemsim-invalid / iced-valid (allowed when not core), by iced feature, for the report. */
  readonly kmStricter = new Map<string, { count: number; example: string }>();
  readonly unsupportedIcedInvalid = new Map<string, { count: number; example: string }>();
  /** kmemsim-unsupported, by iced feature, for the report. */
  readonly unsupportedByFeature = new Map<string, { count: number; example: string }>();
  /** Non-core mnemonic disagreements (reported, not failed). */
  readonly softMnemonic = new Map<string, { count: number; example: string }>();
  readonly unsupportedLength = new Map<string, { count: number; example: string }>();

  get totalMismatches(): number {
    let n = 0;
    for (const v of this.mismatchCount.values()) n += v;
    return n;
  }

  private fail(kind: MismatchKind, source: string, bytes: Uint8Array, km: KmDecode | null, kmError: string, iced: IcedVerdict, detail = ''): void {
    this.mismatchCount.set(kind, (this.mismatchCount.get(kind) ?? 0) + 1);
    const key = `${kind} ${groupSignature(bytes)}`;
    const g = this.groups.get(key);
    if (g) g.count++;
    else this.groups.set(key, { first: { kind, source, bytes: bytes.slice(), km, kmError, iced, detail }, count: 1 });
  }

  private note(map: Map<string, { count: number; example: string }>, key: string, example: () => string): void {
    const e = map.get(key);
    if (e) e.count++;
    else map.set(key, { count: 1, example: example() });
  }

  /**
   * Compare one decode. Returns true when both decoders agree on a valid,
   * supported instruction of the same length (the caller may continue
   * decoding after it).
   */
  compare(source: string, bytes: Uint8Array, km: KmDecode | null, kmError: string, iced: IcedVerdict): boolean {
    const c = this.counts;
    c.compared++;
    if (kmError || !km) {
      this.fail('kmemsim-threw', source, bytes, null, kmError || 'no result', iced);
      return false;
    }
    if (iced.invalid) {
      if (km.invalid) {
        c.bothInvalid++;
        return false;
      }
      // On kmemsim's i686 without MMX/SSE every encoding in the x87 escapes and the 0F map's
      // extension space raises #UD either way; kmemsim's message names the family ("MMX/SSE
      // instruction 0F 6C is not modelled") even where no CPU defines that exact form. Same
      // architectural outcome, so it is noted, not failed; in the core one-byte map it fails.
      if (km.unsupported && inExtensionSpace(bytes)) {
        c.unsupportedWhereIcedInvalid++;
        this.note(this.unsupportedIcedInvalid, opcodeKey(bytes).opcode, () => `${hexBytes(bytes, Math.max(1, km.length))} (kmemsim: ${km.mnemonic})`);
        return false;
      }
      this.fail(km.unsupported ? 'iced-invalid-kmemsim-unsupported' : 'iced-invalid-kmemsim-valid', source, bytes, km, '', iced);
      return false;
    }
    // iced valid
    if (km.invalid) {
      c.kmInvalidIcedValid++;
      if (isCore(iced) && !MAY_BE_INVALID.has(iced.mnemonic) && !isUndocumentedAlias(iced.code) && !isHintNopOutsideCore(bytes, iced)) {
        this.fail('rejects-core', source, bytes, km, '', iced, 'iced (and IA-32 hardware) execute this; kmemsim would raise #UD');
      } else {
        const f = iced.features.join(',') || '?';
        this.note(this.kmStricter, `${f} ${iced.mnemonic}`, () => `${hexBytes(bytes, iced.length)} (${iced.text})`);
      }
      return false;
    }
    if (km.unsupported) {
      c.kmUnsupported++;
      this.note(this.unsupportedByFeature, iced.features.join(',') || '?', () => `${hexBytes(bytes, iced.length)} (${iced.text}; kmemsim: ${km.mnemonic})`);
      if (km.length !== iced.length) {
        c.kmUnsupportedLengthDiffers++;
        this.note(this.unsupportedLength, groupSignature(bytes), () => `${hexBytes(bytes, Math.max(km.length, iced.length))}: kmemsim len ${km.length}, iced len ${iced.length} (${iced.text})`);
      }
      if (!unsupportedIsPlausibleAt(bytes, iced)) {
        this.fail('unsupported-core', source, bytes, km, '', iced, 'kmemsim calls a core integer instruction unsupported');
      }
      return false;
    }
    // both valid and kmemsim supports it
    c.bothValid++;
    if (km.length !== iced.length) {
      this.fail('length', source, bytes, km, '', iced, `length: kmemsim ${km.length}, iced ${iced.length}`);
      return false;
    }
    c.memCompared++;
    if (km.memSize !== iced.memSize) {
      this.fail('memsize', source, bytes, km, '', iced, `memSize: kmemsim ${km.memSize}, expected ${iced.memSize}`);
    }
    c.mnemonicCompared++;
    const agree = mnemonicsAgree(km.mnemonic, iced.mnemonic);
    if (agree) c.mnemonicAgree++;
    if (isCore(iced)) {
      c.coreMnemonicCompared++;
      if (agree) c.coreMnemonicAgree++;
      else this.fail('mnemonic', source, bytes, km, '', iced, `mnemonic: kmemsim ${JSON.stringify(km.mnemonic)} (${canonicalMnemonic(km.mnemonic)}), iced ${JSON.stringify(iced.mnemonic)} (${canonicalMnemonic(iced.mnemonic)})`);
    } else if (!agree) {
      this.note(this.softMnemonic, `${canonicalMnemonic(km.mnemonic)} vs ${iced.mnemonic}`, () => `${hexBytes(bytes, iced.length)} (${iced.text})`);
    }
    return true;
  }

  summary(title: string, maxGroups = 80): string {
    const c = this.counts;
    const pct = (a: number, b: number) => (b === 0 ? 'n/a' : `${((100 * a) / b).toFixed(2)}%`);
    const lines: string[] = [];
    lines.push(`=== ${title} ===`);
    lines.push(
      `compared ${c.compared} decodes: both valid ${c.bothValid}, both invalid ${c.bothInvalid}, ` +
        `kmemsim unsupported ${c.kmUnsupported} (length differs from iced in ${c.kmUnsupportedLengthDiffers}), ` +
        `kmemsim invalid where iced valid ${c.kmInvalidIcedValid}`,
    );
    lines.push(
      `memory-operand sizes compared ${c.memCompared}; mnemonic agreement ${c.mnemonicAgree}/${c.mnemonicCompared} (${pct(c.mnemonicAgree, c.mnemonicCompared)}), ` +
        `core set ${c.coreMnemonicAgree}/${c.coreMnemonicCompared} (${pct(c.coreMnemonicAgree, c.coreMnemonicCompared)})`,
    );
    const mm = [...this.mismatchCount.entries()].map(([k, v]) => `${k}=${v}`).join(', ');
    lines.push(`MISMATCHES: ${this.totalMismatches}${mm ? ` (${mm})` : ''} in ${this.groups.size} groups`);
    const groups = [...this.groups.values()].sort((a, b) => b.count - a.count);
    for (const g of groups.slice(0, maxGroups)) lines.push(`  x${g.count} ${describeMismatch(g.first).replace(/\n/g, '\n  ')}`);
    if (groups.length > maxGroups) lines.push(`  ... and ${groups.length - maxGroups} more groups`);
    return lines.join('\n');
  }

  notes(maxEach = 40): string {
    const lines: string[] = [];
    const dump = (title: string, m: Map<string, { count: number; example: string }>) => {
      if (m.size === 0) return;
      lines.push(title);
      const es = [...m.entries()].sort((a, b) => b[1].count - a[1].count);
      for (const [k, v] of es.slice(0, maxEach)) lines.push(`  x${v.count} ${k}: e.g. ${v.example}`);
      if (es.length > maxEach) lines.push(`  ... and ${es.length - maxEach} more`);
    };
    dump('kmemsim unsupported, by iced CPUID feature (allowed):', this.unsupportedByFeature);
    dump('kmemsim invalid where iced decodes a non-core instruction (allowed: kmemsim models a CPU without it):', this.kmStricter);
    dump('kmemsim "not modelled" where iced says invalid (allowed: #UD either way on an i686 without MMX/SSE):', this.unsupportedIcedInvalid);
    dump('unsupported instructions whose length differs from iced (message bytes would be wrong; not failed):', this.unsupportedLength);
    dump('non-core mnemonic differences (not failed):', this.softMnemonic);
    return lines.join('\n');
  }
}

/**
 * 0F 0D and 0F 18 with a register operand: iced calls them reserved NOPs,
 * but the SDM only defines the memory forms (PREFETCHW / PREFETCHh), so
 * kmemsim may reject the register forms.
 */
function isHintNopOutsideCore(bytes: Uint8Array, iced: IcedVerdict): boolean {
  if (iced.mnemonic !== 'reservednop') return false;
  const k = opcodeKey(bytes);
  return k.map === '0F' && (k.op === 0x0d || k.op === 0x18);
}
