/**
 * The x87 transcendental instructions — F2XM1, FYL2X, FYL2XP1, FPATAN, FSIN, FCOS, FSINCOS,
 * FPTAN — computed with {@link BigFloat} (256-bit) series and rounded once to 64 bits per RC, so
 * results are correctly rounded up to the rare case where the exact value lies within 2^-250 of a
 * rounding boundary. Precision control does not apply (SDM Vol. 1, 8.1.5.2).
 *
 * FSIN/FCOS/FSINCOS/FPTAN reduce their argument modulo π/2 with the x87's 66-bit π
 * (round(π·2^64)/2^64, as the hardware does, SDM Vol. 1, 8.3.10), exactly; for |x| ≥ 2^63 they set
 * C2 and leave the operand alone. Operand checks follow floatx80.ts (unsupported → IE and the
 * indefinite, NaN propagation, DE for denormals).
 */
import {
  BIAS, FE_INEXACT, FE_INVALID, FE_ZERODIVIDE, INDEFINITE, Kind, NEG_INF, NEG_ZERO, ONE, POS_INF, POS_ZERO, checkOperands2,
  f80, kindOf,
} from './floatx80.js';
import type { Float80, FpEnv, FpStatus } from './floatx80.js';
import { checkOperand1 } from './ops.js';
import { FIX, LN2_FIX, LOG2E_FIX, PI_FIX } from './constants.js';
import {
  BF_ONE, PREC, bf, bfAbs, bfAdd, bfCmpAbs, bfDiv, bfFromF80, bfFromFixed, bfMul, bfNeg, bfSqrt, bfSub, bfToF80,
} from './bigfloat.js';
import type { BigFloat } from './bigfloat.js';

/** Fraction bits of the fixed-point series. */
const F = PREC + 16;
const FB = BigInt(F);
const ONE_F = 1n << FB;

/** A BigFloat of magnitude below 2 as a fixed-point bigint with F fraction bits. */
function toFixed(a: BigFloat): bigint {
  const sh = a.e + F;
  return sh >= 0 ? a.m << BigInt(sh) : a.m >> BigInt(-sh);
}

const LN2 = bfFromFixed(LN2_FIX, FIX);
const LOG2E = bfFromFixed(LOG2E_FIX, FIX);
const PI = bfFromFixed(PI_FIX, FIX);
const PI_2 = { ...PI, e: PI.e - 1 };
const PI_4 = { ...PI, e: PI.e - 2 };

// ---------------------------------------------------------------------------------------------
// Series (argument already reduced; all keep relative precision for tiny arguments)
// ---------------------------------------------------------------------------------------------

/**
 * Σ c_k·z^k (z a fixed-point value, |z| < 1) with c_k = sign^k / denom(k), in fixed point: the
 * slowly varying factor of each series below. `denom` gives the k-th denominator.
 */
function series(z: bigint, alternate: boolean, denom: (k: bigint) => bigint): bigint {
  let pow = ONE_F;
  let sum = 0n;
  for (let k = 0n; pow !== 0n; k++) {
    const t = pow / denom(k);
    sum += alternate && (k & 1n) === 1n ? -t : t;
    pow = pow * z >> FB;
  }
  return sum;
}

/** 1 + s·z·T as a BigFloat, z·T kept with its own relative precision (so 1 − tiny ≠ 1). */
function onePlus(z: BigFloat, T: bigint, negative: boolean): BigFloat {
  const zt = bfMul(z, bfFromFixed(T, F));
  return bfAdd(BF_ONE, negative ? bfNeg(zt) : zt);
}

/** e^y − 1 for |y| < 1: y·(1 + y·Σ y^k/(k+2)!). */
function expm1Core(y: BigFloat): BigFloat {
  let fact = 2n;
  const T = series(toFixed(y), false, (k) => (k === 0n ? (fact = 2n) : (fact *= k + 2n)));
  return bfMul(y, onePlus(y, T, false));
}

/** ln((1 + t)/(1 − t)) = 2·atanh(t) for |t| < 0.2: 2t·(1 + t²·Σ t^2k/(2k+3)). */
function atanh2Core(t: BigFloat): BigFloat {
  if (t.m === 0n) return t;
  const t2 = bfMul(t, t);
  const T = series(toFixed(t2), false, (k) => 2n * k + 3n);
  const r = bfMul(t, onePlus(t2, T, false));
  return { ...r, e: r.e + 1 };
}

/** atan(r) for |r| ≤ 1, halving the argument (atan r = 2·atan(r/(1+√(1+r²)))) below 0.2. */
function atanCore(r: BigFloat): BigFloat {
  if (r.m === 0n) return r;
  let doublings = 0;
  const limit = bf(1n, 0);
  const fifth = bfDiv(limit, bf(5n, 0));
  while (bfCmpAbs(r, fifth) > 0) {
    r = bfDiv(r, bfAdd(BF_ONE, bfSqrt(bfAdd(BF_ONE, bfMul(r, r)))));
    doublings++;
  }
  // atan r = r·(1 − r²·Σ (−r²)^k/(2k+3)).
  const r2 = bfMul(r, r);
  const T = series(toFixed(r2), true, (k) => 2n * k + 3n);
  const a = bfMul(r, onePlus(r2, T, true));
  return { ...a, e: a.e + doublings };
}

/** sin r for |r| ≤ π/4: r·(1 − r²·Σ (−r²)^k/(2k+3)!). */
function sinCore(r: BigFloat): BigFloat {
  if (r.m === 0n) return r;
  const r2 = bfMul(r, r);
  return bfMul(r, onePlus(r2, sinSeries(toFixed(r2)), true));
}

/** Σ (−z)^k/(2k+2)!, the factor of cos r = 1 − r²·T. */
function cosSeries(z: bigint): bigint {
  let f = 1n;
  return series(z, true, (k) => (f = k === 0n ? 2n : f * (2n * k + 1n) * (2n * k + 2n)));
}

/** Σ (−z)^k/(2k+3)!, the factor of sin r = r·(1 − r²·T). */
function sinSeries(z: bigint): bigint {
  let f = 1n;
  return series(z, true, (k) => (f = k === 0n ? 6n : f * (2n * k + 2n) * (2n * k + 3n)));
}

/** cos r for |r| ≤ π/4: 1 − r²·Σ (−r²)^k/(2k+2)!. */
function cosCore(r: BigFloat): BigFloat {
  if (r.m === 0n) return BF_ONE;
  const r2 = bfMul(r, r);
  return onePlus(r2, cosSeries(toFixed(r2)), true);
}

/**
 * tan r for |r| ≤ π/4 as r·(1 + r²·(Tc − Ts)/(1 − r²·Tc)) (sin/cos with their common factor
 * taken out), so that for a tiny r the correction keeps its sign and relative precision.
 */
function tanCore(r: BigFloat): BigFloat {
  if (r.m === 0n) return r;
  const r2 = bfMul(r, r);
  const z = toFixed(r2);
  const tc = cosSeries(z);
  const ts = sinSeries(z);
  const num = bfMul(r2, bfFromFixed(tc - ts, F));
  const den = bfSub(BF_ONE, bfMul(r2, bfFromFixed(tc, F)));
  return bfMul(r, bfAdd(BF_ONE, bfDiv(num, den)));
}

// ---------------------------------------------------------------------------------------------
// F2XM1, FYL2X, FYL2XP1
// ---------------------------------------------------------------------------------------------

/**
 * F2XM1: 2^x − 1, defined by the SDM for −1 ≤ x ≤ +1. Outside that range the result is undefined;
 * this follows the host's x87: a finite |x| > 1 comes back unchanged with PE, −∞ gives −1 and +∞
 * gives +∞. At x = ±1 the host reports its (exact) 1 and −0.5 as rounded results: PE, with C1 = 1
 * for +1.
 */
export function f2xm1(a: Float80, env: FpEnv, st: FpStatus): Float80 {
  st.c1 = 0;
  const k = kindOf(a);
  const early = checkOperand1(a, k, env.masks, st);
  if (early) return early;
  if (k === Kind.Zero) return a;
  if (k === Kind.Infinity) return a.sign ? f80(1, BIAS, 1n << 63n) : a;
  if (a.exp > BIAS || (a.exp === BIAS && a.sig !== 1n << 63n)) {
    st.flags |= FE_INEXACT;
    return a;
  }
  if (a.exp === BIAS) {
    st.flags |= FE_INEXACT;
    if (a.sign) return f80(1, BIAS - 1, 1n << 63n);
    st.c1 = 1;
    return ONE;
  }
  return bfToF80(expm1Core(bfMul(bfFromF80(a), LN2)), env, st);
}

/** log2 of a positive finite value, keeping relative precision near 1. */
function log2Pos(x: BigFloat): BigFloat {
  // x = u·2^E with u in [√2/2, √2): log2 x = E + 2·atanh((u−1)/(u+1))·log2 e.
  const len = x.m.toString(2).length;
  let E = x.e + len - 1;
  // u = x.m·2^(1−len) ∈ [1, 2); above √2 use u/2.
  const top = Number(x.m >> BigInt(Math.max(0, len - 32))) / 2 ** (Math.min(len, 32) - 1);
  if (top > Math.SQRT2) E += 1;
  const u = { m: x.m, e: x.e - E, inexact: x.inexact };
  const t = bfDiv(bfSub(u, BF_ONE), bfAdd(u, BF_ONE));
  const l = bfMul(atanh2Core(t), LOG2E);
  return t.m === 0n ? bf(BigInt(E), 0, x.inexact) : bfAdd(bf(BigInt(E), 0), l);
}

/** y·log2(x) with the x87's special cases: x = ST(0), y = ST(1) (SDM Vol. 2, FYL2X). */
export function fyl2x(x: Float80, y: Float80, env: FpEnv, st: FpStatus): Float80 {
  st.c1 = 0;
  const kx = kindOf(x);
  const ky = kindOf(y);
  // A negative x is invalid before a denormal y (or x) is looked at.
  const xNaN = kx === Kind.QNaN || kx === Kind.SNaN;
  const yNaN = ky === Kind.QNaN || ky === Kind.SNaN;
  if (x.sign === 1 && kx !== Kind.Zero && !xNaN && !yNaN && ky !== Kind.Unsupported) return invalid(st);
  if (kx === Kind.Zero && (ky === Kind.Denormal || ky === Kind.PseudoDenormal)) {
    // log2(±0)·y: the division by zero is reported before the denormal y.
    st.flags |= FE_ZERODIVIDE;
    return y.sign ? POS_INF : NEG_INF;
  }
  const early = checkOperands2(x, y, kx, ky, env.masks, st);
  if (early) return early;
  const yInf = ky === Kind.Infinity;
  const yZero = ky === Kind.Zero;
  if (kx === Kind.Zero) {
    // log2(0) = −∞: ZE when y is finite nonzero; 0·∞ is invalid.
    if (yZero) return invalid(st);
    if (!yInf) st.flags |= FE_ZERODIVIDE;
    return y.sign ? POS_INF : NEG_INF;
  }
  if (kx === Kind.Infinity) {
    if (yZero) return invalid(st);
    return y.sign ? NEG_INF : POS_INF;
  }
  const lx = log2Pos(bfFromF80(x));
  const ls = Math.sign(Number(lx.m === 0n ? 0n : lx.m > 0n ? 1n : -1n));
  if (yInf) {
    if (ls === 0) return invalid(st);
    return (ls < 0) !== (y.sign === 1) ? NEG_INF : POS_INF;
  }
  if (yZero || ls === 0) return ((y.sign === 1) !== (ls < 0) ? NEG_ZERO : POS_ZERO);
  return bfToF80(bfMul(bfFromF80(y), lx), env, st);
}

/**
 * y·log2(x + 1): x = ST(0), y = ST(1). The SDM defines it for |x| < 1 − √2/2; like the host's
 * x87 this computes the mathematical value for any x > −1, and returns x itself (with PE) for a
 * finite x ≤ −1.
 */
export function fyl2xp1(x: Float80, y: Float80, env: FpEnv, st: FpStatus): Float80 {
  st.c1 = 0;
  const kx = kindOf(x);
  const ky = kindOf(y);
  if (kx === Kind.Infinity && x.sign && ky !== Kind.QNaN && ky !== Kind.SNaN && ky !== Kind.Unsupported) {
    return invalid(st); // log2(1 − ∞), before a denormal y is looked at
  }
  const early = checkOperands2(x, y, kx, ky, env.masks, st);
  if (early) return early;
  const yInf = ky === Kind.Infinity;
  const yZero = ky === Kind.Zero;
  if (kx === Kind.Zero) {
    if (yInf) return invalid(st);
    return (x.sign === 1) !== (y.sign === 1) ? NEG_ZERO : POS_ZERO;
  }
  if (kx === Kind.Infinity) {
    if (x.sign || yZero) return invalid(st);
    return y.sign ? NEG_INF : POS_INF;
  }
  const bx = bfFromF80(x);
  const xPlus1 = bfAdd(BF_ONE, bx);
  if (yInf) return (x.sign === 1) !== (y.sign === 1) ? NEG_INF : POS_INF;
  if (yZero) return (x.sign === 1) !== (y.sign === 1) ? NEG_ZERO : POS_ZERO;
  if (xPlus1.m <= 0n) {
    // x ≤ −1: outside any sensible range; the host's x87 returns x with PE.
    st.flags |= FE_INEXACT;
    return x;
  }
  let l: BigFloat;
  if (bfCmpAbs(bx, bf(1n, -2)) <= 0) {
    // ln(1+x) = 2·atanh(x/(2+x)).
    l = bfMul(atanh2Core(bfDiv(bx, bfAdd(bf(2n, 0), bx))), LOG2E);
  } else {
    l = log2Pos(xPlus1);
  }
  return bfToF80(bfMul(bfFromF80(y), l), env, st);
}

function invalid(st: FpStatus): Float80 {
  st.flags |= FE_INVALID;
  return INDEFINITE;
}

// ---------------------------------------------------------------------------------------------
// FPATAN
// ---------------------------------------------------------------------------------------------

/** atan(y/x) in the quadrant of (x, y): x = ST(0), y = ST(1) (SDM Vol. 2, FPATAN table). */
export function fpatan(x: Float80, y: Float80, env: FpEnv, st: FpStatus): Float80 {
  st.c1 = 0;
  const kx = kindOf(x);
  const ky = kindOf(y);
  const early = checkOperands2(x, y, kx, ky, env.masks, st);
  if (early) return early;
  const ys = y.sign;
  const signed = (v: BigFloat): Float80 => bfToF80(ys ? bfNeg(v) : v, env, st);
  if (ky === Kind.Zero) {
    // ±0 for x ≥ +0, ±π for x ≤ −0.
    return x.sign ? signed(PI) : y;
  }
  if (ky === Kind.Infinity) {
    if (kx === Kind.Infinity) return signed(x.sign ? bfAdd(PI_2, PI_4) : PI_4);
    return signed(PI_2);
  }
  if (kx === Kind.Infinity) return x.sign ? signed(PI) : ys ? NEG_ZERO : POS_ZERO;
  if (kx === Kind.Zero) return signed(PI_2);
  const ay = bfAbs(bfFromF80(y));
  const ax = bfAbs(bfFromF80(x));
  let angle: BigFloat;
  if (bfCmpAbs(ay, ax) <= 0) angle = atanCore(bfDiv(ay, ax));
  else angle = bfSub(PI_2, atanCore(bfDiv(ax, ay)));
  if (x.sign) angle = bfSub(PI, angle);
  return signed(angle);
}

// ---------------------------------------------------------------------------------------------
// FSIN, FCOS, FSINCOS, FPTAN
// ---------------------------------------------------------------------------------------------

/** The x87's 66-bit π: round(π·2^64), in units of 2^-64. */
const PI66 = (PI_FIX + (1n << BigInt(FIX - 65))) >> BigInt(FIX - 64);

/** Result of a trigonometric instruction: C2 = 1 when |x| ≥ 2^63 (operand left unchanged). */
export interface TrigResult {
  value: Float80;
  c2: 0 | 1;
}

/** x mod π66/2: the reduced argument r (|r| ≤ ~π/4) and the quadrant k mod 4. */
function reduce(a: Float80): { r: BigFloat; q: number } {
  const x = bfFromF80(a);
  if (a.exp < BIAS - 1) return { r: x, q: 0 }; // |x| < 0.5
  // x = N·2^-65 exactly (|x| ≥ 0.5 so the shift is nonnegative); π66/2 = PI66·2^-65.
  const N = x.m << BigInt(x.e + 65);
  let k = N / PI66;
  let R = N - k * PI66;
  // Round the quotient to nearest so |r| ≤ π/4.
  const half = PI66 >> 1n;
  if (R > half) {
    k += 1n;
    R -= PI66;
  } else if (R < -half) {
    k -= 1n;
    R += PI66;
  }
  return { r: bf(R, -65), q: Number(BigInt.asUintN(2, k)) };
}

/** The common start: specials and the |x| ≥ 2^63 range check. Null to go on. */
function trigCheck(a: Float80, env: FpEnv, st: FpStatus): TrigResult | null {
  st.c1 = 0;
  const k = kindOf(a);
  if (k === Kind.Infinity) return { value: invalid(st), c2: 0 };
  const early = checkOperand1(a, k, env.masks, st);
  if (early) return { value: early, c2: 0 };
  if (k !== Kind.Zero && a.exp >= BIAS + 63) return { value: a, c2: 1 };
  return null;
}

/** sin x (`wantSin`) or cos x, through the quadrant: only the one series needed is summed. */
function trigOf(a: Float80, wantSin: boolean): BigFloat {
  const { r, q } = reduce(a);
  // sin(r + qπ/2) = sin r, cos r, −sin r, −cos r; cos(r + qπ/2) = sin(r + (q+1)π/2).
  const k = (q + (wantSin ? 0 : 1)) & 3;
  const v = k & 1 ? cosCore(r) : sinCore(r);
  return k & 2 ? bfNeg(v) : v;
}

/** FSIN. */
export function fsin(a: Float80, env: FpEnv, st: FpStatus): TrigResult {
  const early = trigCheck(a, env, st);
  if (early) return early;
  if (a.sig === 0n) return { value: a, c2: 0 };
  return { value: bfToF80(trigOf(a, true), env, st), c2: 0 };
}

/** FCOS. */
export function fcos(a: Float80, env: FpEnv, st: FpStatus): TrigResult {
  const early = trigCheck(a, env, st);
  if (early) return early;
  if (a.sig === 0n) return { value: ONE, c2: 0 };
  return { value: bfToF80(trigOf(a, false), env, st), c2: 0 };
}

/**
 * FSINCOS: the sine replaces ST(0), then the cosine is pushed. Flags accumulate over both
 * roundings; C1 is the cosine's (the value left in ST(0)).
 */
export function fsincos(a: Float80, env: FpEnv, st: FpStatus): { sin: Float80; cos: Float80; c2: 0 | 1 } {
  const early = trigCheck(a, env, st);
  if (early) return { sin: early.value, cos: early.value, c2: early.c2 };
  if (a.sig === 0n) return { sin: a, cos: ONE, c2: 0 };
  const cos = bfToF80(trigOf(a, false), env, st);
  const sin = bfToF80(trigOf(a, true), env, st);
  return { sin, cos, c2: 0 };
}

/**
 * FPTAN: tan x replaces ST(0), then `push` is pushed: 1.0, or — when the result is a NaN (NaN
 * operand, or the indefinite of an invalid operand) — that NaN again, as the host's x87 does.
 * Nothing is pushed when C2 = 1.
 */
export function fptan(a: Float80, env: FpEnv, st: FpStatus): TrigResult & { push: Float80 } {
  const early = trigCheck(a, env, st);
  if (early) return { ...early, push: early.value.exp === 0x7fff ? early.value : ONE };
  if (a.sig === 0n) return { value: a, c2: 0, push: ONE };
  // tan(r + qπ/2) = tan r for even q, −1/tan r for odd q.
  const { r, q } = reduce(a);
  const t = tanCore(r);
  return { value: bfToF80(q & 1 ? bfNeg(bfDiv(BF_ONE, t)) : t, env, st), c2: 0, push: ONE };
}

