/**
 * Random x87 test programs for the differential test (kmemsim vs the host
 * CPU), a sibling of generator.ts for the FPU.
 *
 * Each program is GNU assembler source (AT&T syntax) for a static i386 ELF
 * executable. Its data section holds an operand pool of random and special
 * values (test/fpu/values.ts: zeros, infinities, QNaN/SNaN/indefinite,
 * denormals, pseudo-denormals, unnormals, pseudo-NaNs, boundary
 * significands, integers near 2^15/2^31/2^63) in every memory format the
 * x87 reads: m16/m32/m64 integers, m32/m64/m80 reals. `_start` runs FNINIT
 * and then random *steps*: loads, the arithmetic operand forms (memory,
 * ST(0),ST(i), ST(i),ST(0), the popping forms), FCHS/FABS/FXCH/FFREE/
 * FINCSTP/FDECSTP, compares into C3/C2/C0 and EFLAGS (FCOMI/FUCOMI, then
 * PUSHF recorded), FCMOVcc, FTST/FXAM, stores of every format into a
 * scratch buffer, FNSTSW AX/FNSTCW, FLDCW with random rounding and
 * precision control, and an "unmasked" construct: FLDCW clearing some
 * exception masks, one instruction, then the non-waiting FNSTENV (which
 * masks everything again) and FNCLEX — so unmasked responses (destination
 * unchanged, nothing stored, ES set) are compared without a #MF.
 *
 * After some steps and after the last, `dump` stores the FPU state with
 * FNSAVE (108 bytes: environment with TOP, tags and C0–C3, and the eight
 * registers), restores it with FRSTOR, and writes the image and the
 * scratch buffer to stdout. The host and kmemsim must print the same bytes,
 * except the FCS and FDS selector fields (the host's 64-bit kernel runs
 * i386 code with selectors 0x23/0x2b, Linux i386 and kmemsim with
 * 0x73/0x7b).
 *
 * Not generated: the transcendental instructions (FSIN, FCOS, FSINCOS,
 * FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1), whose last-bit results differ
 * between x87 implementations; they have their own comparison.
 */
import { Rng } from './rng.js';
import { randomF80 } from '../fpu/values.js';
import { f80ToBytes } from '../../src/cpu/fpu/floatx80.js';

/** Bytes per dump record: the FNSAVE image and the scratch buffer. */
export const SAVE_SIZE = 108;
export const SCRATCH_SIZE = 256;
export const RECORD_SIZE = SAVE_SIZE + SCRATCH_SIZE;

/** Pool layout: slots of each format. */
const N_SLOTS = 24;
const POOL = {
  m80: 0, // 24 × 16 bytes (10 used)
  m64: 24 * 16, // 24 × 8
  m32: 24 * 16 + 24 * 8, // 24 × 4
  i64: 24 * 16 + 24 * 12, // 24 × 8
  i32: 24 * 16 + 24 * 20, // 24 × 4
  i16: 24 * 16 + 24 * 24, // 24 × 2
  bcd: 24 * 16 + 24 * 26, // 24 × 16 (10 used)
};
const POOL_SIZE = 24 * 16 + 24 * 26 + 24 * 16;

export interface X87Step {
  group: string;
  asm: string;
}

export interface X87Program {
  seed: number;
  source: string;
  steps: X87Step[];
  /** Index of the step after which each dump was taken. */
  dumps: number[];
  /**
   * Per dump: whether a non-control x87 instruction (one with a memory
   * operand) ran since the previous dump, so that FIP/FOP (FDP) are its
   * pointers. Otherwise they are the ones the previous dump's FRSTOR
   * loaded, which the host's AMD x87 does not restore (it leaves them 0,
   * where the SDM has FRSTOR load them): not compared then.
   */
  fresh: { ip: boolean; dp: boolean }[];
}

/** Control instructions (SDM Vol. 1 §8.1.8): they leave the last-instruction pointers alone. */
const CONTROL = new Set(['fldcw', 'fnstsw', 'fnstcw', 'fnstenv', 'fnclex', 'fninit']);

/** The pointer state after `asm`: FLDENV/FRSTOR load pointers the host does not restore (see `X87Program.fresh`). */
function pointerEffect(asm: string, before: { ip: boolean; dp: boolean }): { ip: boolean; dp: boolean } {
  let { ip, dp } = before;
  for (const raw of asm.split('\n')) {
    const line = raw.trim().replace(/^data16 /, '');
    if (!/^(f|\.byte)/.test(line)) continue;
    const name = line.split(/\s/)[0]!;
    if (name === 'fldenv' || name === 'frstor') {
      ip = dp = false;
      continue;
    }
    if (CONTROL.has(name)) continue;
    ip = true;
    if (/pool\+|scratch\+/.test(line)) dp = true;
  }
  return { ip, dp };
}

/** Templates: each returns assembler lines for one step. `depth` is the generator's estimate of the stack depth. */
interface Template {
  group: string;
  weight: number;
  gen: (rng: Rng, depth: number) => string;
  /** Estimated change of the stack depth. */
  delta: number;
}

const sti = (rng: Rng): string => `%st(${rng.int(0, 7)})`;
const near = (rng: Rng): string => `%st(${rng.int(1, 3)})`;
const slot = (rng: Rng, kind: keyof typeof POOL, size: number): string => `pool+${POOL[kind] + size * rng.int(0, N_SLOTS - 1)}`;
const scratch = (rng: Rng, align: number): string => `scratch+${align * rng.int(0, (SCRATCH_SIZE - 16) / align)}`;
const ARITH = ['fadd', 'fmul', 'fsub', 'fsubr', 'fdiv', 'fdivr'];
/** rc in bits 10–11, pc in 8–9; all exceptions masked. */
const controlWord = (rng: Rng, masks = 0x3f): number => (rng.int(0, 3) << 10) | (rng.pick([0, 2, 3, 3, 1]) << 8) | masks | 0x40;

function memArith(rng: Rng): string {
  const op = rng.pick(ARITH);
  switch (rng.int(0, 3)) {
    case 0: return `${op}s ${slot(rng, 'm32', 4)}`;
    case 1: return `${op}l ${slot(rng, 'm64', 8)}`;
    case 2: return `fi${op.slice(1)}l ${slot(rng, 'i32', 4)}`;
    default: return `fi${op.slice(1)}s ${slot(rng, 'i16', 2)}`;
  }
}
/**
 * Register forms, written as raw bytes so the Intel meaning is unambiguous
 * (gas swaps FSUB/FSUBR and FDIV/FDIVR in the ST(i),ST(0) forms, binutils'
 * SYSV386_COMPAT): D8 C0+8*op+i, DC/DE C0+8*op+i.
 */
function regArith(rng: Rng): string {
  const esc = rng.pick([0xd8, 0xdc, 0xde]);
  const op = rng.pick([0, 1, 4, 5, 6, 7]);
  const i = rng.int(0, 7);
  return `.byte 0x${esc.toString(16)}, 0x${(0xc0 + 8 * op + i).toString(16)}`;
}

const C1_RESET = 'fld1\nfstp %st(0)';

const TEMPLATES: Template[] = [
  { group: 'fld-mem', weight: 8, delta: 1, gen: (r) => r.pick([`flds ${slot(r, 'm32', 4)}`, `fldl ${slot(r, 'm64', 8)}`, `fldt ${slot(r, 'm80', 16)}`]) },
  { group: 'fild', weight: 4, delta: 1, gen: (r) => r.pick([`filds ${slot(r, 'i16', 2)}`, `fildl ${slot(r, 'i32', 4)}`, `fildll ${slot(r, 'i64', 8)}`]) },
  { group: 'fld-reg', weight: 2, delta: 1, gen: (r) => `fld ${sti(r)}` },
  { group: 'fld-const', weight: 2, delta: 1, gen: (r) => r.pick(['fld1', 'fldz', 'fldpi', 'fldl2t', 'fldl2e', 'fldlg2', 'fldln2']) },
  { group: 'arith-mem', weight: 8, delta: 0, gen: memArith },
  { group: 'arith-reg', weight: 8, delta: -0.3, gen: regArith },
  { group: 'fsqrt/frndint', weight: 3, delta: 0, gen: (r) => r.pick(['fsqrt', 'frndint', 'fabs\nfsqrt']) },
  { group: 'fscale/fxtract', weight: 2, delta: 0.3, gen: (r) => r.pick(['fscale', 'fxtract']) },
  { group: 'fprem', weight: 3, delta: 0, gen: (r) => `${r.pick(['fprem', 'fprem1'])}\nfnstsw %ax\nmovw %ax, ${scratch(r, 2)}` },
  { group: 'bcd', weight: 2, delta: 0, gen: (r) => r.pick([`fbld ${slot(r, 'bcd', 16)}`, `fbstp ${scratch(r, 2)}`]) },
  { group: 'fchs/fabs', weight: 2, delta: 0, gen: (r) => r.pick(['fchs', 'fabs']) },
  { group: 'fxch', weight: 2, delta: 0, gen: (r) => `fxch ${near(r)}` },
  { group: 'stack', weight: 1, delta: 0, gen: (r) => r.pick(['fincstp', 'fdecstp', `ffree ${sti(r)}`, 'fnop']) },
  { group: 'fcom', weight: 4, delta: -0.5, gen: (r) => r.pick([
    `fcom ${near(r)}`, `fcomp ${near(r)}`, 'fcompp', `fucom ${near(r)}`, `fucomp ${near(r)}`, 'fucompp',
    `fcoms ${slot(r, 'm32', 4)}`, `fcompl ${slot(r, 'm64', 8)}`, `ficoml ${slot(r, 'i32', 4)}`, `ficomps ${slot(r, 'i16', 2)}`,
  ]) + `\nfnstsw %ax\nmovw %ax, ${scratch(r, 2)}` },
  { group: 'ftst/fxam', weight: 2, delta: 0, gen: (r) => `${r.pick(['ftst', 'fxam'])}\nfnstsw %ax\nmovw %ax, ${scratch(r, 2)}` },
  // FCOMI/FUCOMI: the host's AMD x87 leaves C1 as it was where the SDM clears it (see the README); `fld1; fstp %st(0)`
  // after them sets C1 = 0 on both, so the rest of the status word is still compared.
  { group: 'fcomi', weight: 3, delta: -0.3, gen: (r) => `${r.pick(['fcomi', 'fucomi', 'fcomip', 'fucomip'])} ${near(r)}, %st\npushfl\npopl %eax\nandl $0x8d5, %eax\nmovl %eax, ${scratch(r, 4)}\n${C1_RESET}` },
  { group: 'fcmov', weight: 2, delta: 0, gen: (r) => `fucomi ${near(r)}, %st\n${C1_RESET}\n${r.pick(['fcmovb', 'fcmove', 'fcmovbe', 'fcmovu', 'fcmovnb', 'fcmovne', 'fcmovnbe', 'fcmovnu'])} ${near(r)}, %st` },
  { group: 'fst-mem', weight: 6, delta: -0.6, gen: (r) => r.pick([
    `fsts ${scratch(r, 4)}`, `fstps ${scratch(r, 4)}`, `fstl ${scratch(r, 8)}`, `fstpl ${scratch(r, 8)}`, `fstpt ${scratch(r, 2)}`,
  ]) },
  { group: 'fist', weight: 5, delta: -0.6, gen: (r) => r.pick([
    `fists ${scratch(r, 2)}`, `fistps ${scratch(r, 2)}`, `fistl ${scratch(r, 4)}`, `fistpl ${scratch(r, 4)}`, `fistpll ${scratch(r, 8)}`,
  ]) },
  { group: 'fst-reg', weight: 2, delta: -0.5, gen: (r) => r.pick([`fst ${sti(r)}`, `fstp ${sti(r)}`]) },
  // The 16-bit environment (66 prefix): stored with its selectors and pointers cleared, and loaded back.
  { group: 'env16', weight: 1, delta: 0, gen: (r) => {
    const o = 2 * r.int(0, (SCRATCH_SIZE - 14) / 2);
    return r.chance(0.5)
      ? `data16 fnstenv scratch+${o}\nmovw $0, scratch+${o + 6}\nmovl $0, scratch+${o + 8}\nmovw $0, scratch+${o + 12}`
      : 'data16 fnstenv envtmp\ndata16 fldenv envtmp';
  } },
  { group: 'fstsw/fstcw', weight: 1, delta: 0, gen: (r) => r.pick([`fnstsw ${scratch(r, 2)}`, `fnstcw ${scratch(r, 2)}`]) },
  { group: 'fldcw', weight: 2, delta: 0, gen: (r) => `movw $0x${controlWord(r).toString(16)}, ctlword\nfldcw ctlword` },
  { group: 'unmasked', weight: 3, delta: 0, gen: (r) => {
    let masks = r.int(0, 0x3f) & r.int(0, 0x3f);
    const body = r.pick([memArith, regArith, (q: Rng) => `fsts ${scratch(q, 4)}`, (q: Rng) => `fistpl ${scratch(q, 4)}`, (q: Rng) => `fldl ${slot(q, 'm64', 8)}`, (q: Rng) => `fstpl ${scratch(q, 8)}`])(r);
    // FLD m64 of a denormal with DE unmasked: the SDM leaves TOP unchanged, the host's AMD x87 loads the
    // value anyway (see the README); kmemsim follows the SDM, so that case keeps DE masked.
    if (body.startsWith('fldl')) masks |= 0x02;
    // The image's selectors and FDP are cleared (FDP may be the one the last dump's FRSTOR loaded).
    const o = 4 * r.int(0, (SCRATCH_SIZE - 28) / 4);
    // FNCLEX first: FLDCW unmasking a flag still set from earlier would make the next instruction #MF.
    return `fnclex\nmovw $0x${controlWord(r, masks).toString(16)}, ctlword\nfldcw ctlword\n${body}\nfnstenv scratch+${o}\nfnclex\nmovw $0, scratch+${o + 16}\nmovl $0, scratch+${o + 20}\nmovl $0, scratch+${o + 24}`;
  } },
];

/** The groups the generator must cover (checked by the test). */
export const X87_GROUPS = TEMPLATES.map((t) => t.group);

function poolBytes(rng: Rng): Uint8Array {
  const b = new Uint8Array(POOL_SIZE);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < N_SLOTS; i++) {
    f80ToBytes(randomF80(rng), b, POOL.m80 + 16 * i);
    // m64/m32: an extended value's bits reinterpreted would be a poor mix; draw IEEE patterns directly.
    dv.setBigUint64(POOL.m64 + 8 * i, ieee64(rng), true);
    dv.setUint32(POOL.m32 + 4 * i, ieee32(rng), true);
    dv.setBigInt64(POOL.i64 + 8 * i, int64(rng), true);
    dv.setInt32(POOL.i32 + 4 * i, rng.interesting32() | 0, true);
    dv.setInt16(POOL.i16 + 2 * i, rng.interesting32() & 0xffff, true);
    b.set(bcd(rng), POOL.bcd + 16 * i);
  }
  return b;
}

function ieee64(rng: Rng): bigint {
  const s = BigInt(rng.int(0, 1)) << 63n;
  const frac = ((BigInt(rng.u32()) << 32n) | BigInt(rng.u32())) & ((1n << 52n) - 1n);
  switch (rng.int(0, 9)) {
    case 0: return s; // zero
    case 1: return s | (0x7ffn << 52n); // infinity
    case 2: return s | (0x7ffn << 52n) | (frac | 1n); // NaN (quiet or signalling)
    case 3: return s | (frac >> BigInt(rng.int(0, 51))) || 1n; // denormal
    case 4: return s | (BigInt(rng.pick([1, 2, 0x7fe, 0x7fd, 1023, 1023 + 31, 1023 + 63, 1023 + 15])) << 52n) | frac;
    default: return s | (BigInt(rng.int(1023 - 40, 1023 + 40)) << 52n) | frac;
  }
}
function ieee32(rng: Rng): number {
  const s = rng.int(0, 1) << 31;
  const frac = rng.u32() & 0x7fffff;
  switch (rng.int(0, 9)) {
    case 0: return s >>> 0;
    case 1: return (s | 0x7f800000) >>> 0;
    case 2: return (s | 0x7f800000 | frac | 1) >>> 0;
    case 3: return (s | (frac >>> rng.int(0, 22)) | 1) >>> 0;
    case 4: return (s | (rng.pick([1, 2, 0xfe, 0xfd, 127 + 15, 127 + 31]) << 23) | frac) >>> 0;
    default: return (s | (rng.int(127 - 20, 127 + 20) << 23) | frac) >>> 0;
  }
}
/** Packed BCD: mostly valid digits, sometimes a nibble above 9, any sign byte. */
function bcd(rng: Rng): Uint8Array {
  const b = new Uint8Array(10);
  const digits = rng.int(0, 18);
  for (let i = 0; i < 9; i++) {
    const lo = 2 * i < digits ? rng.int(0, 9) : 0, hi = 2 * i + 1 < digits ? rng.int(0, 9) : 0;
    b[i] = (hi << 4) | lo;
  }
  if (rng.chance(0.05)) b[rng.int(0, 8)] = rng.int(0, 255);
  b[9] = rng.chance(0.5) ? 0x80 : 0;
  if (rng.chance(0.05)) b[9] = rng.int(0, 255);
  return b;
}

function int64(rng: Rng): bigint {
  switch (rng.int(0, 4)) {
    case 0: return BigInt(rng.interesting32() | 0);
    case 1: return BigInt.asIntN(64, rng.pick([1n << 63n, (1n << 63n) - 1n, (1n << 53n) + 1n, -(1n << 62n) - 1n, 0n, -1n]));
    default: return BigInt.asIntN(64, (BigInt(rng.u32()) << 32n) | BigInt(rng.u32())) >> BigInt(rng.int(0, 40));
  }
}

/** One program: `steps` random steps, a dump with probability `dumpProbability` after each, and one at the end. */
export function generateX87Program(seed: number, opts: { steps?: number; dumpProbability?: number } = {}): X87Program {
  const rng = new Rng(seed);
  const nSteps = opts.steps ?? 60;
  const pDump = opts.dumpProbability ?? 0.1;
  const pool = poolBytes(rng);
  const steps: X87Step[] = [];
  const dumps: number[] = [];
  const fresh: { ip: boolean; dp: boolean }[] = [];
  let ip = false, dp = false;
  const lines: string[] = ['.globl _start', '.text', '_start:', 'fninit'];
  if (rng.chance(0.7)) lines.push(`movw $0x${controlWord(rng).toString(16)}, ctlword`, 'fldcw ctlword');
  let depth = 0;
  for (let i = 0; i < nSteps; i++) {
    // Keep the stack mostly between 2 and 6 deep; over- and underflow still happen (masked).
    const weights = TEMPLATES.map((t) => t.weight * (depth < 2 && t.delta < 0 ? 0.2 : depth > 6 && t.delta > 0 ? 0.2 : 1));
    const t = rng.weighted(TEMPLATES, weights);
    const asm = t.gen(rng, depth);
    depth = Math.max(0, Math.min(8, depth + t.delta));
    steps.push({ group: t.group, asm });
    lines.push(`# step ${i}: ${t.group}`, asm);
    ({ ip, dp } = pointerEffect(asm, { ip, dp }));
    // The decision consumes the PRNG the same way whatever pDump is, so a denser variant has the same steps.
    const d = rng.chance(pDump);
    if (d || pDump >= 1 || i === nSteps - 1) {
      lines.push('call dump');
      dumps.push(i);
      fresh.push({ ip, dp });
      ip = dp = false;
    }
  }
  lines.push('movl $1, %eax', 'xorl %ebx, %ebx', 'int $0x80');
  lines.push(
    'dump:',
    'fnsave save',
    'frstor save',
    'movl $4, %eax',
    'movl $1, %ebx',
    'movl $save, %ecx',
    `movl $${RECORD_SIZE}, %edx`,
    'int $0x80',
    'ret',
  );
  lines.push('.data', '.align 16', 'pool:');
  for (let i = 0; i < pool.length; i += 16) lines.push(`.byte ${Array.from(pool.subarray(i, i + 16)).join(',')}`);
  lines.push('.align 16', `save: .space ${SAVE_SIZE}`, `scratch: .space ${SCRATCH_SIZE}`, 'ctlword: .word 0x37f', 'envtmp: .space 28', '');
  return { seed, source: lines.join('\n'), steps, dumps, fresh };
}

const ENV_FIELDS = ['FCW', 'FSW', 'FTW', 'FIP', 'FCS/FOP', 'FDP', 'FDS'];

/** Mask the fields the host cannot reproduce (see the header and `X87Program.fresh`). */
export function maskRecord(record: Uint8Array, fresh: { ip: boolean; dp: boolean }): Uint8Array {
  const r = Uint8Array.from(record);
  r[16] = r[17] = 0; // FCS (FOP is in bytes 18–19)
  r[24] = r[25] = 0; // FDS
  if (!fresh.ip) r.fill(0, 12, 16).fill(0, 18, 20); // FIP, FOP
  if (!fresh.dp) r.fill(0, 20, 24); // FDP
  return r;
}

/**
 * Programs for the transcendental instructions: independent groups of
 * FNINIT, FLDCW (random RC/PC), one or two operands from the pool, one of
 * FSIN/FCOS/FSINCOS/FPTAN/FPATAN/F2XM1/FYL2X/FYL2XP1, and a dump. Their
 * results are compared within one unit in the last place (see
 * `compareTranscendental`): floatx80 rounds the exact value once, the
 * host's microcode is not always correctly rounded (README "x87 arithmetic").
 */
export const TRANSCENDENTAL = ['fsin', 'fcos', 'fsincos', 'fptan', 'fpatan', 'f2xm1', 'fyl2x', 'fyl2xp1'];

export function generateX87TranscendentalProgram(seed: number, groups = 40): X87Program {
  const rng = new Rng(seed ^ 0x7a5c3);
  const pool = poolBytes(rng);
  const steps: X87Step[] = [];
  const dumps: number[] = [];
  const fresh: { ip: boolean; dp: boolean }[] = [];
  const lines: string[] = ['.globl _start', '.text', '_start:'];
  const operand = (): string => rng.pick([`fldt ${slot(rng, 'm80', 16)}`, `fldl ${slot(rng, 'm64', 8)}`, `filds ${slot(rng, 'i16', 2)}`, 'fldpi', 'fld1\nfchs']);
  for (let i = 0; i < groups; i++) {
    const op = rng.pick(TRANSCENDENTAL);
    const two = op === 'fpatan' || op === 'fyl2x' || op === 'fyl2xp1';
    // Mostly small arguments, where the instructions are defined; the pool's specials for the rest.
    const scaleDown = rng.chance(0.5) ? `\nfld1\nfxch\nfscale\nfstp %st(1)` : '';
    const asm = [
      'fninit',
      `movw $0x${controlWord(rng).toString(16)}, ctlword`,
      'fldcw ctlword',
      ...(two ? [operand()] : []),
      operand() + (op === 'f2xm1' && rng.chance(0.8) ? '\nfld1\nfchs\nfxch\nfprem\nfstp %st(1)' : '') + (op === 'fsin' || op === 'fcos' ? scaleDown : '') +
        // FYL2XP1 is defined for |x| < 1 − √2/2 only (SDM Vol. 2 FYL2XP1; outside, the host's results are its own): x rem 0.25.
        (op === 'fyl2xp1' ? '\nflds quarter\nfxch\nfprem\nfstp %st(1)' : ''),
      op,
    ].join('\n');
    steps.push({ group: op, asm });
    lines.push(`# group ${i}: ${op}`, asm, 'call dump');
    dumps.push(i);
    fresh.push({ ip: true, dp: false });
  }
  lines.push('movl $1, %eax', 'xorl %ebx, %ebx', 'int $0x80');
  lines.push('dump:', 'fnsave save', 'frstor save', 'movl $4, %eax', 'movl $1, %ebx', 'movl $save, %ecx', `movl $${RECORD_SIZE}, %edx`, 'int $0x80', 'ret');
  lines.push('.data', '.align 16', 'pool:');
  for (let i = 0; i < pool.length; i += 16) lines.push(`.byte ${Array.from(pool.subarray(i, i + 16)).join(',')}`);
  lines.push('.align 16', `save: .space ${SAVE_SIZE}`, `scratch: .space ${SCRATCH_SIZE}`, 'ctlword: .word 0x37f', 'quarter: .float 0.25', '');
  return { seed, source: lines.join('\n'), steps, dumps, fresh };
}

/**
 * Compare two transcendental dump records: everything bit for bit except
 * registers within 1 ulp (same sign and exponent field, or adjacent across
 * a binade) and C1 (the rounding direction). Returns null when they agree,
 * else the differences; `ulps` counts the 1-ulp differences seen.
 */
export function compareTranscendental(a: Uint8Array, b: Uint8Array, stats: { ulps: number }): string | null {
  const ma = Uint8Array.from(a), mb = Uint8Array.from(b);
  ma[5] &= ~0x02;
  mb[5] &= ~0x02; // C1 (status word bit 9)
  let ulps = 0;
  for (let i = 0; i < 8; i++) {
    const o = 28 + 10 * i;
    if (oneUlp(ma, mb, o)) {
      ulps++;
      ma.set(mb.subarray(o, o + 10), o);
    }
  }
  if (Buffer.from(ma).equals(Buffer.from(mb))) {
    stats.ulps += ulps;
    return null;
  }
  return describeRecordDiff(ma, mb);
}

/** Whether two 80-bit register images are adjacent values of the same sign (one unit in the last place apart). */
function oneUlp(a: Uint8Array, b: Uint8Array, o: number): boolean {
  const se = (u: Uint8Array): number => u[o + 8]! | (u[o + 9]! << 8);
  const sig = (u: Uint8Array): bigint => {
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(u[o + i]!);
    return v;
  };
  const [ea, eb, sa, sb] = [se(a), se(b), sig(a), sig(b)];
  if (ea === eb) return sa - sb === 1n || sb - sa === 1n;
  const MAX = (1n << 64n) - 1n, MIN = 1n << 63n;
  // Across a binade: 1.11…1 × 2^e next to 1.00…0 × 2^(e+1).
  return (ea + 1 === eb && sa === MAX && sb === MIN) || (eb + 1 === ea && sb === MAX && sa === MIN);
}

/** Describe the first difference between two dump records. */
export function describeRecordDiff(a: Uint8Array, b: Uint8Array): string {
  const out: string[] = [];
  const hex = (u: Uint8Array, o: number, n: number): string => Array.from(u.subarray(o, o + n)).reverse().map((x) => x.toString(16).padStart(2, '0')).join('');
  for (let f = 0; f < 7; f++) {
    const o = 4 * f;
    if (hex(a, o, 4) !== hex(b, o, 4)) out.push(`${ENV_FIELDS[f]}: host ${hex(a, o, 4)} kmemsim ${hex(b, o, 4)}`);
  }
  for (let i = 0; i < 8; i++) {
    const o = 28 + 10 * i;
    if (hex(a, o, 10) !== hex(b, o, 10)) out.push(`ST(${i}): host ${hex(a, o, 10)} kmemsim ${hex(b, o, 10)}`);
  }
  for (let o = SAVE_SIZE; o < RECORD_SIZE; o += 4) {
    if (hex(a, o, 4) !== hex(b, o, 4)) out.push(`scratch+${o - SAVE_SIZE}: host ${hex(a, o, 4)} kmemsim ${hex(b, o, 4)}`);
  }
  return out.join('\n');
}
