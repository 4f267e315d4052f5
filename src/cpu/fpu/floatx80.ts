/**
 * floatx80: the x87's 80-bit double-extended-precision format, in software, exactly
 * (Intel SDM Vol. 1, ch. 4.2.2 and ch. 8).
 *
 * API contract (stable — the x87 instruction layer builds on it; add, don't rename):
 *
 * - A value is a {@link Float80} `{ sign: 0|1, exp, sig }`: `exp` the 15-bit biased exponent field
 *   (0..0x7fff), `sig` the 64-bit significand as a bigint *including* the explicit integer bit
 *   (bit 63). Every bit pattern is representable, including the ones a 387+ calls unsupported
 *   (unnormals, pseudo-NaNs, pseudo-infinities) and pseudo-denormals. Values are immutable: no
 *   operation modifies its operands. {@link f80FromBytes}/{@link f80ToBytes} convert to and from
 *   the 10-byte little-endian memory image.
 * - Each operation takes an {@link FpEnv} `{ rc, pc, masks }`: rounding control (0 nearest, 1 down,
 *   2 up, 3 toward zero), precision control (0 = 24 bits, 2 = 53, 3 = 64; the reserved 1 is
 *   treated as 64, see {@link precisionBits}), and the exception mask bits of the control word
 *   (low 6 bits, a set bit masks). {@link envFromControlWord} builds one from FLDCW's word.
 * - Each operation ORs its exceptions into an {@link FpStatus} `{ flags, c1 }` that the caller
 *   supplies (x87 status-word positions: IE 0x01, DE 0x02, ZE 0x04, OE 0x08, UE 0x10, PE 0x20) and
 *   sets `c1` (1 = the result was rounded up in magnitude, SDM 8.1.3.3).
 * - Unmasked exceptions (SDM Vol. 1, 8.5): the operation still returns a value, and the caller
 *   decides what to store:
 *     * IE, DE, ZE unmasked: the destination must be left unchanged (the returned value is the
 *       masked response and must be discarded). An unmasked DE stops the operation before it
 *       computes anything: DE is then the only flag and C1 is clear, as on the hardware;
 *     * OE, UE unmasked, register destination: the returned value is the x87's bias-adjusted
 *       result (exponent −24576 for overflow, +24576 for underflow, SDM 8.5.4/8.5.5); UE is then
 *       reported for every tiny result, exact or not. A result out of range even after the
 *       adjustment (only FSCALE can make one) is ±∞ (OE, PE, C1) or ±0 (UE, PE).
 * - Tininess is detected after rounding (measured on the host; see roundPack).
 *     * OE, UE unmasked on a store to memory (f80ToF32/F64, integer/BCD stores): nothing is stored.
 * - Precision control applies only where the SDM says (FADD/FSUB/FMUL/FDIV/FSQRT); the other
 *   operations round to 64 bits whatever `pc` says.
 *
 * Operand classes follow the 387+ (SDM Vol. 1, 8.2.2 and Table 8-3): unsupported encodings give IE
 * and the real indefinite; denormals and pseudo-denormals give DE and take part with exponent 1;
 * NaNs propagate as in SDM Vol. 1, Table 4-7 ({@link propagateNaN}).
 *
 * Related files: convert.ts (integers, float32/64, BCD), compare.ts (FCOM/FUCOM/FCOMI/FXAM),
 * ops.ts (FSQRT/FPREM/FPREM1/FRNDINT/FSCALE/FXTRACT), constants.ts (FLDPI…), transcendental.ts
 * (F2XM1/FYL2X/FYL2XP1/FPATAN/FSIN/FCOS/FSINCOS/FPTAN) on bigfloat.ts. Choices the SDM leaves
 * open follow the host x87 the differential tests run on; README "x87 arithmetic" lists them.
 * Operand order: two-operand functions take (ST(0)-side operand, other operand) as the
 * mnemonic reads — sub(a, b) = a − b; FSUBR/FDIVR swap. FPATAN/FYL2X/FYL2XP1/FSCALE/FPREM take
 * (ST(0), ST(1)).
 */

export interface Float80 {
  readonly sign: 0 | 1;
  /** 15-bit biased exponent field, 0..0x7fff. */
  readonly exp: number;
  /** 64-bit significand including the explicit integer bit (bit 63). */
  readonly sig: bigint;
}

/** Rounding control (FPU control word bits 10–11). */
export const RC_NEAREST = 0;
export const RC_DOWN = 1;
export const RC_UP = 2;
export const RC_ZERO = 3;

export interface FpEnv {
  /** Rounding control: 0 nearest-even, 1 down (toward −∞), 2 up (toward +∞), 3 toward zero. */
  rc: number;
  /** Precision control: 0 = 24-bit, 2 = 53-bit, 3 = 64-bit significand (1 is reserved: 64). */
  pc: number;
  /** Exception masks, control-word bits 0–5 (IM DM ZM OM UM PM); a set bit masks. */
  masks: number;
}

export interface FpStatus {
  /** Exception flags raised, status-word positions (FE_*). */
  flags: number;
  /** C1 after an arithmetic instruction: 1 when the result was rounded up in magnitude. */
  c1: 0 | 1;
}

/** Status-word exception flags (SDM Vol. 1, 8.1.3). */
export const FE_INVALID = 0x01;
export const FE_DENORMAL = 0x02;
export const FE_ZERODIVIDE = 0x04;
export const FE_OVERFLOW = 0x08;
export const FE_UNDERFLOW = 0x10;
export const FE_INEXACT = 0x20;
/** All six masked: the control word FINIT loads (0x037f) has these. */
export const ALL_MASKED = 0x3f;

export const BIAS = 16383;
export const EXP_MAX = 0x7fff;
/** The exponent adjustment of an unmasked overflow/underflow response (SDM Vol. 1, 8.5.4/8.5.5). */
export const BIAS_ADJUST = 24576;

export const SIG_INT = 1n << 63n;
export const SIG_QUIET = 1n << 62n;
export const SIG_MASK = (1n << 64n) - 1n;
const FRAC_MASK = SIG_INT - 1n;

export function f80(sign: number, exp: number, sig: bigint): Float80 {
  return { sign: (sign & 1) as 0 | 1, exp: exp & 0x7fff, sig: sig & SIG_MASK };
}

export const POS_ZERO: Float80 = f80(0, 0, 0n);
export const NEG_ZERO: Float80 = f80(1, 0, 0n);
export const POS_INF: Float80 = f80(0, EXP_MAX, SIG_INT);
export const NEG_INF: Float80 = f80(1, EXP_MAX, SIG_INT);
export const ONE: Float80 = f80(0, BIAS, SIG_INT);
/** The real indefinite: negative QNaN 0xFFFF C000000000000000 (SDM Vol. 1, 4.8.3.7). */
export const INDEFINITE: Float80 = f80(1, EXP_MAX, 0xc000000000000000n);

export function envFromControlWord(cw: number): FpEnv {
  return { rc: (cw >> 10) & 3, pc: (cw >> 8) & 3, masks: cw & 0x3f };
}

export function newStatus(): FpStatus {
  return { flags: 0, c1: 0 };
}

/** Significand width selected by precision control. PC=1 is reserved; the hardware rounds to 64. */
export function precisionBits(pc: number): number {
  return pc === 0 ? 24 : pc === 2 ? 53 : 64;
}

// ---------------------------------------------------------------------------------------------
// Memory image
// ---------------------------------------------------------------------------------------------

/** Decode the 10-byte little-endian memory image at `off`. */
export function f80FromBytes(b: Uint8Array, off = 0): Float80 {
  let sig = 0n;
  for (let i = 7; i >= 0; i--) sig = (sig << 8n) | BigInt(b[off + i]!);
  const se = b[off + 8]! | (b[off + 9]! << 8);
  return { sign: (se >> 15) as 0 | 1, exp: se & 0x7fff, sig };
}

/** Write the 10-byte little-endian memory image at `off` (into `out`, or a new array). */
export function f80ToBytes(v: Float80, out: Uint8Array = new Uint8Array(10), off = 0): Uint8Array {
  let s = v.sig;
  for (let i = 0; i < 8; i++) {
    out[off + i] = Number(s & 0xffn);
    s >>= 8n;
  }
  const se = (v.sign << 15) | v.exp;
  out[off + 8] = se & 0xff;
  out[off + 9] = se >> 8;
  return out;
}

/** Words as the x87 keeps them: hi = sign/exponent (16 bits), lo = significand. */
export function f80FromParts(signExp: number, sig: bigint): Float80 {
  return f80(signExp >> 15, signExp & 0x7fff, sig);
}

// ---------------------------------------------------------------------------------------------
// Classes (SDM Vol. 1, 8.2.2, Table 8-3)
// ---------------------------------------------------------------------------------------------

export const enum Kind {
  Zero,
  Denormal,
  PseudoDenormal,
  Normal,
  Infinity,
  QNaN,
  SNaN,
  /** Unnormal, pseudo-NaN, pseudo-infinity: invalid operands on a 387 and later. */
  Unsupported,
}

export function kindOf(a: Float80): Kind {
  const intBit = (a.sig & SIG_INT) !== 0n;
  if (a.exp === EXP_MAX) {
    if (!intBit) return Kind.Unsupported;
    if ((a.sig & FRAC_MASK) === 0n) return Kind.Infinity;
    return (a.sig & SIG_QUIET) !== 0n ? Kind.QNaN : Kind.SNaN;
  }
  if (a.exp === 0) {
    if (a.sig === 0n) return Kind.Zero;
    return intBit ? Kind.PseudoDenormal : Kind.Denormal;
  }
  return intBit ? Kind.Normal : Kind.Unsupported;
}

export function isNaN80(a: Float80): boolean {
  const k = kindOf(a);
  return k === Kind.QNaN || k === Kind.SNaN;
}

export function isSignalingNaN(a: Float80): boolean {
  return kindOf(a) === Kind.SNaN;
}

/** The quiet version of a NaN (sets significand bit 62). */
export function quiet(a: Float80): Float80 {
  return { sign: a.sign, exp: a.exp, sig: a.sig | SIG_QUIET };
}

export function negate(a: Float80): Float80 {
  return { sign: (a.sign ^ 1) as 0 | 1, exp: a.exp, sig: a.sig };
}

export function abs(a: Float80): Float80 {
  return a.sign ? { sign: 0, exp: a.exp, sig: a.sig } : a;
}

/** The exponent an operand takes part with: denormals and pseudo-denormals use 1 (SDM 4.8.3.2). */
export function effExp(a: Float80): number {
  return a.exp === 0 ? 1 : a.exp;
}

/**
 * A finite nonzero operand with its significand shifted so that bit 63 is set; `exp` is then an
 * unbounded biased exponent (below 1 for denormals). Value = sig × 2^(exp − BIAS − 63).
 */
export function normalized(a: Float80): { exp: number; sig: bigint } {
  let sig = a.sig;
  let exp = effExp(a);
  if (sig >= SIG_INT) return { exp, sig };
  const sh = 64 - bitLength(sig);
  sig <<= BigInt(sh);
  exp -= sh;
  return { exp, sig };
}

/**
 * The NaN result of a two-operand operation with at least one NaN operand (SDM Vol. 1,
 * Table 4-7): an SNaN is quietened (and IE raised); of two NaNs of the same kind the one with the
 * larger significand wins; a QNaN wins over an SNaN.
 */
export function propagateNaN(a: Float80, b: Float80, st: FpStatus): Float80 {
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka === Kind.SNaN || kb === Kind.SNaN) st.flags |= FE_INVALID;
  const aNaN = ka === Kind.QNaN || ka === Kind.SNaN;
  const bNaN = kb === Kind.QNaN || kb === Kind.SNaN;
  if (aNaN && bNaN) {
    if (ka === Kind.QNaN && kb === Kind.SNaN) return quiet(a);
    if (kb === Kind.QNaN && ka === Kind.SNaN) return quiet(b);
    const sa = a.sig & FRAC_MASK;
    const sb = b.sig & FRAC_MASK;
    if (sa > sb) return quiet(a);
    if (sb > sa) return quiet(b);
    return quiet(a.sign < b.sign ? a : b);
  }
  return quiet(aNaN ? a : b);
}

/** The result of one-operand operations on a NaN: SNaN → QNaN with IE. */
export function propagateNaN1(a: Float80, st: FpStatus): Float80 {
  if (kindOf(a) === Kind.SNaN) st.flags |= FE_INVALID;
  return quiet(a);
}

export function invalid(st: FpStatus): Float80 {
  st.flags |= FE_INVALID;
  return INDEFINITE;
}

// ---------------------------------------------------------------------------------------------
// Rounding (SDM Vol. 1, 4.8.4, 8.1.5.2, 8.5.4–8.5.6)
// ---------------------------------------------------------------------------------------------

export function bitLength(m: bigint): number {
  if (m <= 0xffffffffn) {
    const n = Number(m);
    return n === 0 ? 0 : 32 - Math.clz32(n);
  }
  const f = Number(m);
  if (f !== Infinity) {
    // Number(m) is m rounded, so its exponent may be one too high just below a power of two;
    // and do not trust log2 to the last bit either way.
    let len = Math.floor(Math.log2(f)) + 1;
    if (m >> BigInt(len - 1) === 0n) len--;
    else if (m >> BigInt(len) !== 0n) len++;
    return len;
  }
  let len = m.toString(16).length * 4;
  const top = Number(m >> BigInt(len - 4));
  len -= Math.clz32(top) - 28;
  return len;
}

/** A target format for {@link roundPack}. */
export interface Format {
  /** Exponent bias. */
  bias: number;
  /** The all-ones exponent (infinity/NaN). */
  expMax: number;
  /** Significand bits kept, including the integer bit. */
  p: number;
}

/** A Format with the bigint constants roundPack needs, computed once. */
interface FormatConstants {
  /** Bits dropped from the W-bit working significand: W − p. */
  drop: bigint;
  dropMask: bigint;
  half: bigint;
  /** 2^p (carry out), 2^(p−1) (integer bit), 2^p − 1 (all ones). */
  carry: bigint;
  intBit: bigint;
  allOnes: bigint;
}

const formatConstants = new WeakMap<Format, FormatConstants>();
function constantsOf(fmt: Format): FormatConstants {
  let c = formatConstants.get(fmt);
  if (!c) {
    const drop = BigInt(W - fmt.p);
    const carry = 1n << BigInt(fmt.p);
    c = { drop, dropMask: (1n << drop) - 1n, half: 1n << (drop - 1n), carry, intBit: carry >> 1n, allOnes: carry - 1n };
    formatConstants.set(fmt, c);
  }
  return c;
}

export const FMT_F32: Format = { bias: 127, expMax: 0xff, p: 24 };
export const FMT_F64: Format = { bias: 1023, expMax: 0x7ff, p: 53 };
const FMT_X80: Format[] = [
  { bias: BIAS, expMax: EXP_MAX, p: 24 },
  { bias: BIAS, expMax: EXP_MAX, p: 64 },
  { bias: BIAS, expMax: EXP_MAX, p: 53 },
  { bias: BIAS, expMax: EXP_MAX, p: 64 },
];
export function formatX80(pc: number): Format {
  return FMT_X80[pc & 3]!;
}

/** Working width of the normalized significand inside roundPack. */
const W = 128;
const WB = BigInt(W);

/**
 * Tininess (SDM Vol. 1, 4.9.1.5) is detected after rounding, as measured on the host: a result is
 * tiny when, rounded to the target precision with an unbounded exponent, it is still below the
 * smallest normal. Only a value just below 2^(1−bias) that rounds up to it differs from "before
 * rounding"; rounding it as a denormal gives that same smallest normal, so only the UE flag (and
 * the unmasked bias-adjusted response) depend on the choice.
 */
function carriesOut(sign: number, m: bigint, fmt: Format, rc: number): boolean {
  const c = constantsOf(fmt);
  const q = m >> c.drop;
  if (q !== c.allOnes) return false;
  return roundsUp(sign, q, m & c.dropMask, c.half, rc);
}

/** Round the exact value and pack it: the raw result of roundPack. */
export interface Rounded {
  sign: 0 | 1;
  /** Biased exponent field in the target format (0 for denormals/zero, expMax for infinity). */
  exp: number;
  /** The p-bit significand, integer bit included (for denormals it is below 2^(p−1)). */
  q: bigint;
}

/**
 * Round `(−1)^sign × m × 2^(e − bias − 63 − frac)` (m ≥ 0 exact, any width; `e` is an unbounded
 * biased exponent relative to `fmt.bias`) to `fmt`, with rounding control `rc`, raising
 * OE/UE/PE into `st` and setting `st.c1`. `biasAdjust` asks for the x87's unmasked overflow/
 * underflow response (the exponent wrapped by ∓{@link BIAS_ADJUST}) when `masks` leaves OE/UE
 * unmasked; only results for the 80-bit registers get it.
 */
export function roundPack(
  sign: 0 | 1, e: number, m: bigint, frac: number, fmt: Format, rc: number, masks: number, st: FpStatus,
  biasAdjust = false,
): Rounded {
  st.c1 = 0;
  if (m === 0n) return { sign, exp: 0, q: 0n };
  const len = bitLength(m);
  // Normalize so that the top bit is bit W−1: value = m × 2^(e − bias − (W − 1)).
  const s = W - len;
  if (s >= 0) m <<= BigInt(s);
  else {
    const lost = m & ((1n << BigInt(-s)) - 1n);
    m >>= BigInt(-s);
    if (lost !== 0n) m |= 1n;
  }
  e = e + (W - 1) - 63 - frac - s;
  const p = fmt.p;
  const tiny = e < 1 && !(e === 0 && carriesOut(sign, m, fmt, rc));
  const unmaskedU = (masks & FE_UNDERFLOW) === 0;
  if (tiny && unmaskedU && biasAdjust) {
    e += BIAS_ADJUST;
    st.flags |= FE_UNDERFLOW;
    if (e < 1) {
      // Too small even for the bias-adjusted response (only FSCALE gets here): a signed zero.
      st.flags |= FE_INEXACT;
      return { sign, exp: 0, q: 0n };
    }
    return roundNormal(sign, e, m, fmt, rc, masks, st, biasAdjust);
  }
  if (!tiny) return roundNormal(sign, e, m, fmt, rc, masks, st, biasAdjust);
  // Denormal result: shift out (1 − e) more bits.
  const drop = W - p + (1 - e);
  let q: bigint;
  let rem: bigint;
  let half: bigint;
  if (drop > W + 1) {
    q = 0n;
    rem = 1n; // nonzero, below half
    half = 2n;
  } else {
    const d = BigInt(drop);
    q = m >> d;
    rem = m & ((1n << d) - 1n);
    half = 1n << (d - 1n);
  }
  const inexact = rem !== 0n;
  if (roundsUp(sign, q, rem, half, rc)) {
    q += 1n;
    st.c1 = 1;
  }
  if (inexact) st.flags |= FE_INEXACT | FE_UNDERFLOW;
  else if (unmaskedU) st.flags |= FE_UNDERFLOW;
  return { sign, exp: q >= constantsOf(fmt).intBit ? 1 : 0, q };
}

function roundsUp(sign: number, q: bigint, rem: bigint, half: bigint, rc: number): boolean {
  if (rem === 0n) return false;
  switch (rc) {
    case RC_NEAREST:
      return rem > half || (rem === half && (q & 1n) !== 0n);
    case RC_DOWN:
      return sign === 1;
    case RC_UP:
      return sign === 0;
    default:
      return false;
  }
}

function roundNormal(
  sign: 0 | 1, e: number, m: bigint, fmt: Format, rc: number, masks: number, st: FpStatus, biasAdjust: boolean,
): Rounded {
  const c = constantsOf(fmt);
  let q = m >> c.drop;
  const rem = m & c.dropMask;
  const inexact = rem !== 0n;
  if (roundsUp(sign, q, rem, c.half, rc)) {
    q += 1n;
    st.c1 = 1;
    if (q === c.carry) {
      q >>= 1n;
      e += 1;
    }
  }
  if (inexact) st.flags |= FE_INEXACT;
  if (e >= fmt.expMax) {
    st.flags |= FE_OVERFLOW;
    if ((masks & FE_OVERFLOW) === 0 && biasAdjust) {
      e -= BIAS_ADJUST;
      if (e < fmt.expMax) return { sign, exp: e, q };
      // Too large even for the bias-adjusted response (only FSCALE gets here): a signed infinity,
      // whatever the rounding control.
      st.flags |= FE_INEXACT;
      st.c1 = 1;
      return { sign, exp: fmt.expMax, q: c.intBit };
    }
    // Masked response (SDM Vol. 1, Table 4-10): ∞ or the largest finite number.
    st.flags |= FE_INEXACT;
    const toInf = rc === RC_NEAREST || (rc === RC_UP && sign === 0) || (rc === RC_DOWN && sign === 1);
    if (toInf) {
      st.c1 = 1;
      return { sign, exp: fmt.expMax, q: c.intBit };
    }
    st.c1 = 0;
    return { sign, exp: fmt.expMax - 1, q: c.allOnes };
  }
  return { sign, exp: e, q };
}

/** roundPack into the 80-bit register format under `env` (precision control applies). */
export function roundPackX80(sign: 0 | 1, e: number, m: bigint, frac: number, env: FpEnv, st: FpStatus, pc = env.pc): Float80 {
  const fmt = formatX80(pc);
  const r = roundPack(sign, e, m, frac, fmt, env.rc, env.masks, st, true);
  if (r.exp === EXP_MAX) return r.sign ? NEG_INF : POS_INF;
  return { sign: r.sign, exp: r.exp, sig: fmt.p === 64 ? r.q : r.q << BigInt(64 - fmt.p) };
}

// ---------------------------------------------------------------------------------------------
// Basic arithmetic (SDM Vol. 2 FADD/FSUB/FMUL/FDIV; Vol. 1, 4.8.3, 8.5)
// ---------------------------------------------------------------------------------------------

/**
 * Checks every two-operand operation starts with: unsupported operands → IE and the indefinite,
 * NaNs → {@link propagateNaN}, denormal operands → DE ({@link denormalOperand}). Returns the result when it is decided, or
 * null to go on.
 */
export function checkOperands2(
  a: Float80, b: Float80, ka: Kind, kb: Kind, masks: number, st: FpStatus,
): Float80 | null {
  if (ka === Kind.Unsupported || kb === Kind.Unsupported) return invalid(st);
  if (ka === Kind.SNaN || ka === Kind.QNaN || kb === Kind.SNaN || kb === Kind.QNaN) return propagateNaN(a, b, st);
  if (ka === Kind.Denormal || ka === Kind.PseudoDenormal || kb === Kind.Denormal || kb === Kind.PseudoDenormal) {
    return denormalOperand(a, masks, st);
  }
  return null;
}

/**
 * A denormal operand raises DE. Unmasked, DE is a pre-computation fault: the operation stops
 * there with no other flag and C1 clear (the caller leaves the destination alone); `a` is
 * returned as a placeholder. Masked, the operation goes on (null).
 */
export function denormalOperand(a: Float80, masks: number, st: FpStatus): Float80 | null {
  st.flags |= FE_DENORMAL;
  if ((masks & FE_DENORMAL) === 0) {
    st.c1 = 0;
    return a;
  }
  return null;
}

/** Guard bits added below the significand when aligning addends. */
const ADD_GUARD = 66;
const ADD_GUARD_B = BigInt(ADD_GUARD);

function addSub(a: Float80, b: Float80, negateB: 0 | 1, env: FpEnv, st: FpStatus): Float80 {
  st.c1 = 0;
  const ka = kindOf(a);
  const kb = kindOf(b);
  const early = checkOperands2(a, b, ka, kb, env.masks, st);
  if (early) return early;
  const sb = (b.sign ^ negateB) as 0 | 1;
  if (ka === Kind.Infinity) {
    if (kb === Kind.Infinity && a.sign !== sb) return invalid(st);
    return a;
  }
  if (kb === Kind.Infinity) return sb ? NEG_INF : POS_INF;
  if (ka === Kind.Zero && kb === Kind.Zero) {
    // SDM Vol. 1, 4.8.3.3: the sum of opposite zeros is +0, or −0 when rounding down.
    const sign = a.sign === sb ? a.sign : env.rc === RC_DOWN ? 1 : 0;
    return sign ? NEG_ZERO : POS_ZERO;
  }
  let ea = effExp(a);
  let eb = effExp(b);
  let ma = a.sig;
  let mb = b.sig;
  let sa = a.sign;
  let sgnb = sb;
  if (ka === Kind.Zero) ea = eb;
  if (kb === Kind.Zero) eb = ea;
  // Make |a| the one with the larger exponent.
  if (eb > ea || (eb === ea && mb > ma)) {
    const e = ea;
    ea = eb;
    eb = e;
    const m = ma;
    ma = mb;
    mb = m;
    const s = sa;
    sa = sgnb;
    sgnb = s;
  }
  const shift = ea - eb;
  ma <<= ADD_GUARD_B;
  if (shift <= ADD_GUARD) {
    mb <<= BigInt(ADD_GUARD - shift); // exact
  } else if (shift > ADD_GUARD + 1) {
    // Entirely below the guard bits: only its being nonzero (sticky) matters.
    mb = mb === 0n ? 0n : 1n;
  } else {
    mb = (mb >> 1n) | (mb & 1n);
  }
  const m = sa === sgnb ? ma + mb : ma - mb;
  if (m === 0n) return env.rc === RC_DOWN ? NEG_ZERO : POS_ZERO;
  return roundPackX80(sa, ea, m, ADD_GUARD, env, st);
}

/** FADD: a + b. */
export function add(a: Float80, b: Float80, env: FpEnv, st: FpStatus): Float80 {
  return addSub(a, b, 0, env, st);
}

/** FSUB: a − b. */
export function sub(a: Float80, b: Float80, env: FpEnv, st: FpStatus): Float80 {
  return addSub(a, b, 1, env, st);
}

/** FMUL: a × b. */
export function mul(a: Float80, b: Float80, env: FpEnv, st: FpStatus): Float80 {
  st.c1 = 0;
  const ka = kindOf(a);
  const kb = kindOf(b);
  const early = checkOperands2(a, b, ka, kb, env.masks, st);
  if (early) return early;
  const sign = (a.sign ^ b.sign) as 0 | 1;
  if (ka === Kind.Infinity || kb === Kind.Infinity) {
    if (ka === Kind.Zero || kb === Kind.Zero) return invalid(st);
    return sign ? NEG_INF : POS_INF;
  }
  if (ka === Kind.Zero || kb === Kind.Zero) return sign ? NEG_ZERO : POS_ZERO;
  return roundPackX80(sign, effExp(a) + effExp(b) - BIAS, a.sig * b.sig, 63, env, st);
}

/** FDIV: a ÷ b. */
export function div(a: Float80, b: Float80, env: FpEnv, st: FpStatus): Float80 {
  st.c1 = 0;
  const ka = kindOf(a);
  const kb = kindOf(b);
  const sign = (a.sign ^ b.sign) as 0 | 1;
  if (kb === Kind.Zero && (ka === Kind.Denormal || ka === Kind.PseudoDenormal)) {
    // Division by zero is decided before the denormal check: ZE alone.
    st.flags |= FE_ZERODIVIDE;
    return sign ? NEG_INF : POS_INF;
  }
  const early = checkOperands2(a, b, ka, kb, env.masks, st);
  if (early) return early;
  if (ka === Kind.Infinity) {
    if (kb === Kind.Infinity) return invalid(st);
    return sign ? NEG_INF : POS_INF;
  }
  if (kb === Kind.Infinity) return sign ? NEG_ZERO : POS_ZERO;
  if (kb === Kind.Zero) {
    if (ka === Kind.Zero) return invalid(st);
    st.flags |= FE_ZERODIVIDE;
    return sign ? NEG_INF : POS_INF;
  }
  if (ka === Kind.Zero) return sign ? NEG_ZERO : POS_ZERO;
  // With both significands normalized the quotient has at least 130 bits, so the sticky bit
  // stays below any rounding position: value = q × 2^(ea − eb − 130).
  const na = normalized(a);
  const nb = normalized(b);
  const num = na.sig << 130n;
  let q = num / nb.sig;
  if (q * nb.sig !== num) q |= 1n;
  return roundPackX80(sign, na.exp - nb.exp + BIAS, q, 130 - 63, env, st);
}
