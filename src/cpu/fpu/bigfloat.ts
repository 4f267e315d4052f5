/**
 * A small arbitrary-precision binary float for the transcendental instructions: value = m·2^e
 * with a signed bigint m kept to {@link PREC} significant bits, and a flag recording whether any
 * step rounded (so exact results, like log2(8) = 3, come out exact and raise no PE).
 * Truncation errors are about 2^-PREC relative per step — far below the 2^-64 of the result.
 */
import { BIAS, FE_INEXACT, FE_UNDERFLOW, bitLength, normalized, roundPackX80 } from './floatx80.js';
import type { Float80, FpEnv, FpStatus } from './floatx80.js';

export const PREC = 192;

export interface BigFloat {
  m: bigint;
  e: number;
  /** True when the value is an approximation (some step dropped nonzero bits). */
  inexact: boolean;
}

export const BF_ZERO: BigFloat = { m: 0n, e: 0, inexact: false };
export const BF_ONE: BigFloat = { m: 1n, e: 0, inexact: false };

/** Keep the top PREC bits of m (truncating toward zero). */
export function bf(m: bigint, e: number, inexact = false): BigFloat {
  if (m === 0n) return { m: 0n, e: 0, inexact };
  const neg = m < 0n;
  let mag = neg ? -m : m;
  const len = bitLength(mag);
  if (len > PREC) {
    const sh = BigInt(len - PREC);
    if (!inexact && (mag & ((1n << sh) - 1n)) !== 0n) inexact = true;
    mag >>= sh;
    e += len - PREC;
  }
  return { m: neg ? -mag : mag, e, inexact };
}

/** A finite floatx80 (not NaN/∞) exactly. */
export function bfFromF80(a: Float80): BigFloat {
  if (a.sig === 0n) return BF_ZERO;
  const n = normalized(a);
  return bf(a.sign ? -n.sig : n.sig, n.exp - BIAS - 63);
}

/** A fixed-point value with `fracBits` fraction bits (inexact when it came from a series). */
export function bfFromFixed(fix: bigint, fracBits: number, inexact = true): BigFloat {
  return bf(fix, -fracBits, inexact);
}

export function bfNeg(a: BigFloat): BigFloat {
  return { m: -a.m, e: a.e, inexact: a.inexact };
}

export function bfAbs(a: BigFloat): BigFloat {
  return a.m < 0n ? bfNeg(a) : a;
}

export function bfSign(a: BigFloat): number {
  return a.m < 0n ? -1 : a.m > 0n ? 1 : 0;
}

export function bfMul(a: BigFloat, b: BigFloat): BigFloat {
  return bf(a.m * b.m, a.e + b.e, a.inexact || b.inexact);
}

export function bfDiv(a: BigFloat, b: BigFloat): BigFloat {
  if (b.m === 0n) throw new Error('bfDiv: division by zero');
  if (a.m === 0n) return { m: 0n, e: 0, inexact: a.inexact || b.inexact };
  const la = bitLength(a.m < 0n ? -a.m : a.m);
  const lb = bitLength(b.m < 0n ? -b.m : b.m);
  const sh = PREC + 2 + lb - la;
  const num = sh >= 0 ? a.m << BigInt(sh) : a.m >> BigInt(-sh);
  const q = num / b.m;
  const exact = q * b.m === num && sh >= 0;
  return bf(q, a.e - b.e - sh, a.inexact || b.inexact || !exact);
}

export function bfAdd(a: BigFloat, b: BigFloat): BigFloat {
  if (a.m === 0n) return { ...b, inexact: a.inexact || b.inexact };
  if (b.m === 0n) return { ...a, inexact: a.inexact || b.inexact };
  const inexact = a.inexact || b.inexact;
  // Align to the smaller exponent, but never shift more than PREC + 64 bits: beyond that the
  // smaller addend only matters as a sticky contribution.
  const topA = a.e + bitLength(a.m < 0n ? -a.m : a.m);
  const topB = b.e + bitLength(b.m < 0n ? -b.m : b.m);
  const [hi, lo] = topA >= topB ? [a, b] : [b, a];
  const topHi = Math.max(topA, topB);
  const topLo = Math.min(topA, topB);
  // A negligible addend still decides on which side of `hi` the sum lies: keep it as a nudge
  // below hi's PREC-th bit, so rounding sees the right direction.
  if (topHi - topLo > PREC + 64) {
    const sh = PREC + 2 - bitLength(hi.m < 0n ? -hi.m : hi.m);
    return bf((hi.m << BigInt(sh)) + (lo.m < 0n ? -1n : 1n), hi.e - sh, true);
  }
  if (hi.e >= lo.e) return bf((hi.m << BigInt(hi.e - lo.e)) + lo.m, lo.e, inexact);
  return bf(hi.m + (lo.m << BigInt(lo.e - hi.e)), hi.e, inexact);
}

export function bfSub(a: BigFloat, b: BigFloat): BigFloat {
  return bfAdd(a, bfNeg(b));
}

/** Square root of a positive value, to PREC bits. */
export function bfSqrt(a: BigFloat): BigFloat {
  if (a.m <= 0n) return BF_ZERO;
  let m = a.m << BigInt(2 * PREC);
  let e = a.e - 2 * PREC;
  if (e & 1) {
    m <<= 1n;
    e -= 1;
  }
  let x = 1n << BigInt((bitLength(m) >> 1) + 1);
  for (;;) {
    const y = (x + m / x) >> 1n;
    if (y >= x) break;
    x = y;
  }
  return bf(x, e / 2, a.inexact || x * x !== m);
}

/** Compare magnitudes: −1, 0, 1. */
export function bfCmpAbs(a: BigFloat, b: BigFloat): number {
  const d = bfSub(bfAbs(a), bfAbs(b));
  return bfSign(d);
}

/**
 * Round to floatx80 at 64 bits under `env.rc`, raising PE/UE/OE as for any result. An inexact
 * value carries a sticky bit below its PREC bits, so it is never mistaken for a tie or an exact
 * result. The x87 transcendental instructions report PE for every result they compute, even an
 * exact one (FYL2X of y and 2.0 gives y with PE on the host), so this does too (C1 stays as the
 * rounding made it).
 */
export function bfToF80(a: BigFloat, env: FpEnv, st: FpStatus): Float80 {
  st.flags |= FE_INEXACT;
  const sign = a.m < 0n ? 1 : 0;
  let mag = sign ? -a.m : a.m;
  let e = a.e;
  if (a.inexact) {
    mag = (mag << 2n) | 1n;
    e -= 2;
  }
  // value = mag·2^e = mag·2^(E − BIAS − 63) with E = e + BIAS + 63.
  const r = roundPackX80(sign, e + BIAS + 63, mag, 0, env, st, 3);
  // Every result counts as inexact, so a tiny one is an underflow even when exact.
  if (r.exp === 0 && r.sig !== 0n) st.flags |= FE_UNDERFLOW;
  return r;
}
