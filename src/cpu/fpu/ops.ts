/**
 * The remaining one- and two-operand arithmetic instructions: FSQRT, FRNDINT, FSCALE, FXTRACT,
 * FPREM and FPREM1 (SDM Vol. 2, under each mnemonic). Same conventions as floatx80.ts.
 */
import {
  BIAS, FE_DENORMAL, FE_INEXACT, FE_ZERODIVIDE, INDEFINITE, Kind, NEG_INF, NEG_ZERO, POS_INF, POS_ZERO,
  bitLength, checkOperands2, denormalOperand, f80, invalid, kindOf, normalized, propagateNaN, propagateNaN1, roundPackX80,
} from './floatx80.js';
import type { Float80, FpEnv, FpStatus } from './floatx80.js';
import { f80FromInt, roundToIntegerMag } from './convert.js';

/**
 * The common start of one-operand operations: unsupported → IE and the indefinite, NaN →
 * quietened (IE for an SNaN), denormal → DE (unmasked: stop). Null to go on.
 */
export function checkOperand1(a: Float80, k: Kind, masks: number, st: FpStatus): Float80 | null {
  if (k === Kind.Unsupported) return invalid(st);
  if (k === Kind.QNaN || k === Kind.SNaN) return propagateNaN1(a, st);
  if (k === Kind.Denormal || k === Kind.PseudoDenormal) return denormalOperand(a, masks, st);
  return null;
}

/** Integer square root (floor) of a nonnegative bigint, by Newton's method. */
export function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt((bitLength(n) >> 1) + 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** FSQRT (precision control applies). −0 gives −0; other negative operands are invalid. */
export function sqrt(a: Float80, env: FpEnv, st: FpStatus): Float80 {
  st.c1 = 0;
  const k = kindOf(a);
  if (k === Kind.Unsupported || k === Kind.QNaN || k === Kind.SNaN) return checkOperand1(a, k, env.masks, st)!;
  if (k === Kind.Zero) return a;
  if (a.sign) return invalid(st);
  if (k === Kind.Infinity) return a;
  const early = checkOperand1(a, k, env.masks, st);
  if (early) return early;
  const n = normalized(a);
  let u = n.exp - BIAS;
  let m = n.sig;
  if (u & 1) {
    m <<= 1n;
    u -= 1;
  }
  // value = m·2^(u−63) = (m·2^129)·2^(u−192); sqrt = isqrt(m·2^129)·2^(u/2 − 96).
  const M = m << 129n;
  let r = isqrt(M);
  if (r * r !== M) r |= 1n;
  return roundPackX80(0, u / 2 + BIAS, r, 33, env, st);
}

/** FRNDINT: round to an integer per `env.rc` (always at 64-bit precision). */
export function roundToInt(a: Float80, env: FpEnv, st: FpStatus): Float80 {
  st.c1 = 0;
  const k = kindOf(a);
  const early = checkOperand1(a, k, env.masks, st);
  if (early) return early;
  if (k === Kind.Zero || k === Kind.Infinity) return a;
  const r = roundToIntegerMag(a, env.rc);
  if (!r.inexact) return a.exp === 0 ? f80FromSignedMag(a.sign, r.mag) : a;
  st.flags |= FE_INEXACT;
  if (r.up) st.c1 = 1;
  return f80FromSignedMag(a.sign, r.mag);
}

function f80FromSignedMag(sign: 0 | 1, mag: bigint): Float80 {
  if (mag === 0n) return sign ? NEG_ZERO : POS_ZERO;
  const v = f80FromInt(mag);
  return sign ? { sign: 1, exp: v.exp, sig: v.sig } : v;
}

/** FSCALE: a·2^trunc(b) (rounded at 64 bits; overflow/underflow as for any result). */
export function scale(a: Float80, b: Float80, env: FpEnv, st: FpStatus): Float80 {
  st.c1 = 0;
  const ka = kindOf(a);
  const kb = kindOf(b);
  const early = checkOperands2(a, b, ka, kb, env.masks, st);
  if (early) return early;
  if (kb === Kind.Infinity) {
    if (b.sign === 0) {
      if (ka === Kind.Zero) return invalid(st);
      return a.sign ? NEG_INF : POS_INF;
    }
    if (ka === Kind.Infinity) return invalid(st);
    return a.sign ? NEG_ZERO : POS_ZERO;
  }
  if (ka === Kind.Zero || ka === Kind.Infinity) return a;
  // trunc(b), clamped: anything beyond ±2^17 over- or underflows whatever a is.
  let n = 0;
  if (kb !== Kind.Zero) {
    const t = roundToIntegerMag(b, 3).mag;
    n = t > 0x20000n ? 0x20000 : Number(t);
    if (b.sign) n = -n;
  }
  const na = normalized(a);
  return roundPackX80(a.sign, na.exp + n, na.sig, 0, env, st, 3);
}

/**
 * FXTRACT: split a into its exponent (unbiased, as a floatx80 integer) and its significand (the
 * same sign and significand with exponent 0, i.e. 1 ≤ |s| < 2). The x87 leaves the exponent in
 * ST(1) and the significand in ST(0). Zero: ZE, exponent −∞, significand the zero.
 */
export function xtract(a: Float80, env: FpEnv, st: FpStatus): { exponent: Float80; significand: Float80 } {
  st.c1 = 0;
  const k = kindOf(a);
  if (k === Kind.Unsupported) {
    invalid(st);
    return { exponent: INDEFINITE, significand: INDEFINITE };
  }
  if (k === Kind.QNaN || k === Kind.SNaN) {
    const q = propagateNaN1(a, st);
    return { exponent: q, significand: q };
  }
  if (k === Kind.Infinity) return { exponent: POS_INF, significand: a };
  if (k === Kind.Zero) {
    st.flags |= FE_ZERODIVIDE;
    return { exponent: NEG_INF, significand: a };
  }
  if (k === Kind.Denormal || k === Kind.PseudoDenormal) {
    st.flags |= FE_DENORMAL;
    if ((env.masks & FE_DENORMAL) === 0) return { exponent: a, significand: a };
  }
  const n = normalized(a);
  return { exponent: f80FromInt(BigInt(n.exp - BIAS)), significand: f80(a.sign, BIAS, n.sig) };
}

/** The FPREM/FPREM1 result: the (partial) remainder and the condition codes. */
export interface Remainder {
  value: Float80;
  /** 1: the reduction is incomplete (run the instruction again). */
  c2: 0 | 1;
  /** The three low quotient bits: C0 = Q2, C3 = Q1, C1 = Q0 (all 0 when incomplete). */
  q: number;
}

/**
 * FPREM (`ieee` false: quotient truncated toward zero, the 8087's remainder) and FPREM1 (`ieee`
 * true: quotient rounded to nearest-even, the IEEE remainder) of a by b. When the exponent
 * difference D is 64 or more the x87 reduces partially, by b·2^(D−N) with N = 32 + D mod 32 (the
 * N this host's x87 uses; the SDM says "between 32 and 63"), and sets C2.
 */
export function rem(a: Float80, b: Float80, ieee: boolean, env: FpEnv, st: FpStatus): Remainder {
  st.c1 = 0;
  const ka = kindOf(a);
  const kb = kindOf(b);
  const done = (value: Float80): Remainder => ({ value, c2: 0, q: 0 });
  if (ka === Kind.Unsupported || kb === Kind.Unsupported) return done(invalid(st));
  if (ka === Kind.SNaN || ka === Kind.QNaN || kb === Kind.SNaN || kb === Kind.QNaN) return done(propagateNaN(a, b, st));
  // ∞ rem y and x rem 0 are invalid before any denormal is looked at.
  if (ka === Kind.Infinity || kb === Kind.Zero) return done(invalid(st));
  const early = checkOperands2(a, b, ka, kb, env.masks, st);
  if (early) return done(early);
  if (ka === Kind.Zero) return done(a);
  const na = normalized(a);
  // x rem ±∞ is x, delivered like any result (a pseudo-denormal comes back normalized, a tiny x
  // with UE unmasked bias-adjusted).
  if (kb === Kind.Infinity) return done(roundPackX80(a.sign, na.exp, na.sig, 0, env, st, 3));
  const nb = normalized(b);
  const d = na.exp - nb.exp;
  let eb = nb.exp;
  let incomplete = false;
  if (d >= 64) {
    eb += d - (32 + (d % 32));
    incomplete = true;
  }
  const base = Math.min(na.exp, eb);
  if (eb - base > 66) return done(roundPackX80(a.sign, na.exp, na.sig, 0, env, st, 3));
  const X = na.sig << BigInt(na.exp - base);
  const Y = nb.sig << BigInt(eb - base);
  let q = X / Y;
  let r = X - q * Y;
  let sign = a.sign;
  if (ieee && !incomplete && r !== 0n && (2n * r > Y || (2n * r === Y && (q & 1n) === 1n))) {
    q += 1n;
    r = Y - r;
    sign = (sign ^ 1) as 0 | 1;
  }
  const value = r === 0n ? (a.sign ? NEG_ZERO : POS_ZERO) : roundPackX80(sign, base, r, 0, env, st, 3);
  if (incomplete) return { value, c2: 1, q: 0 };
  return { value, c2: 0, q: Number(q & 7n) };
}
