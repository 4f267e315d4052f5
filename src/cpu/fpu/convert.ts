/**
 * Conversions between floatx80 and the x87's memory formats: 16/32/64-bit integers
 * (FILD/FIST/FISTP), single and double precision (FLD/FST m32fp/m64fp) and 18-digit packed BCD
 * (FBLD/FBSTP). SDM Vol. 1, 4.2 and 8.2; Vol. 2 FILD, FIST, FLD, FST, FBLD, FBSTP.
 *
 * Integer and float results come back as raw bit patterns (integers as signed bigints, float32
 * as a uint32 number, float64 and BCD as bigints) for the caller to store.
 */
import {
  BIAS, EXP_MAX, FE_DENORMAL, FE_INEXACT, FE_INVALID, FE_OVERFLOW, FE_UNDERFLOW, FMT_F32, FMT_F64, Kind, NEG_ZERO, POS_ZERO, RC_DOWN,
  RC_NEAREST, RC_UP, SIG_INT, SIG_QUIET, bitLength, effExp, f80, invalid, kindOf, roundPack,
} from './floatx80.js';
import type { Float80, FpEnv, FpStatus, Format } from './floatx80.js';

// ---------------------------------------------------------------------------------------------
// Integers
// ---------------------------------------------------------------------------------------------

/** FILD: any integer (|n| < 2^64) to floatx80, exactly. */
export function f80FromInt(n: bigint): Float80 {
  if (n === 0n) return POS_ZERO;
  const sign = n < 0n ? 1 : 0;
  const mag = sign ? -n : n;
  const len = bitLength(mag);
  return f80(sign, BIAS + len - 1, mag << BigInt(64 - len));
}

/**
 * Round a finite operand to an integer magnitude per `rc` (the rounding FIST and FRNDINT share).
 * Returns the magnitude, whether bits were lost, and whether the magnitude was rounded up.
 */
export function roundToIntegerMag(a: Float80, rc: number): { mag: bigint; inexact: boolean; up: boolean } {
  if (a.sig === 0n) return { mag: 0n, inexact: false, up: false };
  const k = BIAS + 63 - effExp(a); // bits below the binary point
  if (k <= 0) return { mag: a.sig << BigInt(-k), inexact: false, up: false };
  if (k > 65) {
    // |a| < 2^-1: only rounding direction matters.
    const up = rc === RC_UP ? a.sign === 0 : rc === RC_DOWN ? a.sign === 1 : false;
    return { mag: up ? 1n : 0n, inexact: true, up };
  }
  const kb = BigInt(k);
  let mag = a.sig >> kb;
  const rem = a.sig & ((1n << kb) - 1n);
  if (rem === 0n) return { mag, inexact: false, up: false };
  const half = 1n << (kb - 1n);
  let up: boolean;
  switch (rc) {
    case RC_NEAREST:
      up = rem > half || (rem === half && (mag & 1n) === 1n);
      break;
    case RC_DOWN:
      up = a.sign === 1;
      break;
    case RC_UP:
      up = a.sign === 0;
      break;
    default:
      up = false;
  }
  if (up) mag += 1n;
  return { mag, inexact: true, up };
}

/**
 * FIST/FISTP: floatx80 to a `bits`-wide signed integer, rounded per `env.rc`. NaNs, infinities,
 * unsupported operands and out-of-range values give IE and the integer indefinite
 * (−2^(bits−1), i.e. 0x8000…); C1 reports rounding up.
 */
export function f80ToInt(a: Float80, bits: 16 | 32 | 64, env: FpEnv, st: FpStatus): bigint {
  st.c1 = 0;
  const indefinite = -(1n << BigInt(bits - 1));
  const k = kindOf(a);
  if (k === Kind.Unsupported || k === Kind.QNaN || k === Kind.SNaN || k === Kind.Infinity) {
    st.flags |= FE_INVALID;
    return indefinite;
  }
  // FIST does not report denormal operands (they just round to 0 or ±1).
  const r = roundToIntegerMag(a, env.rc);
  const limit = 1n << BigInt(bits - 1);
  if (r.mag > limit || (r.mag === limit && a.sign === 0)) {
    st.flags |= FE_INVALID;
    return indefinite;
  }
  if (r.inexact) st.flags |= FE_INEXACT;
  if (r.up) st.c1 = 1;
  return a.sign ? -r.mag : r.mag;
}

// ---------------------------------------------------------------------------------------------
// Binary floating point (float32, float64)
// ---------------------------------------------------------------------------------------------

interface IeeeFormat extends Format {
  /** Fraction bits (without the hidden bit). */
  fracBits: number;
}
const F32: IeeeFormat = { ...FMT_F32, fracBits: 23 };
const F64: IeeeFormat = { ...FMT_F64, fracBits: 52 };

function fromIeee(bits: bigint, f: IeeeFormat, st: FpStatus): Float80 {
  const fb = BigInt(f.fracBits);
  const frac = bits & ((1n << fb) - 1n);
  const e = Number((bits >> fb) & BigInt(f.expMax));
  const sign = Number(bits >> (fb + BigInt(bitLength(BigInt(f.expMax))))) & 1;
  const up = BigInt(63 - f.fracBits);
  if (e === f.expMax) {
    if (frac === 0n) return f80(sign, EXP_MAX, SIG_INT);
    let sig = SIG_INT | (frac << up);
    if ((sig & SIG_QUIET) === 0n) {
      st.flags |= FE_INVALID;
      sig |= SIG_QUIET;
    }
    return f80(sign, EXP_MAX, sig);
  }
  if (e === 0) {
    if (frac === 0n) return sign ? NEG_ZERO : POS_ZERO;
    st.flags |= FE_DENORMAL;
    const len = bitLength(frac);
    // value = frac × 2^(1 − bias − fracBits)
    return f80(sign, 1 - f.bias - f.fracBits + len - 1 + BIAS, frac << BigInt(64 - len));
  }
  return f80(sign, e - f.bias + BIAS, SIG_INT | (frac << up));
}

/** FLD m32fp: float32 bits to floatx80 (exact; DE for denormals, SNaN → QNaN with IE). */
export function f80FromF32(bits: number, st: FpStatus): Float80 {
  return fromIeee(BigInt(bits >>> 0), F32, st);
}

/** FLD m64fp: float64 bits to floatx80. */
export function f80FromF64(bits: bigint, st: FpStatus): Float80 {
  return fromIeee(BigInt.asUintN(64, bits), F64, st);
}

function toIeee(a: Float80, f: IeeeFormat, env: FpEnv, st: FpStatus): bigint {
  st.c1 = 0;
  const fb = BigInt(f.fracBits);
  const expShift = fb;
  const signBit = BigInt(a.sign) << (fb + BigInt(bitLength(BigInt(f.expMax))));
  const expAll = BigInt(f.expMax) << expShift;
  const k = kindOf(a);
  switch (k) {
    case Kind.Unsupported:
      invalid(st);
      // The real indefinite in the destination format: sign 1, QNaN with only the quiet bit.
      return (1n << (fb + BigInt(bitLength(BigInt(f.expMax))))) | expAll | (1n << (fb - 1n));
    case Kind.SNaN:
    case Kind.QNaN: {
      if (k === Kind.SNaN) st.flags |= FE_INVALID;
      const frac = ((a.sig | SIG_QUIET) >> BigInt(63 - f.fracBits)) & ((1n << fb) - 1n);
      return signBit | expAll | frac;
    }
    case Kind.Infinity:
      return signBit | expAll;
    case Kind.Zero:
      return signBit;
    default:
      break;
  }
  // FST does not report denormal operands. An unmasked overflow/underflow on a store to memory
  // stores nothing and reports only OE/UE (no PE, C1 clear).
  const before = st.flags;
  const r = roundPack(a.sign, effExp(a) - BIAS + f.bias, a.sig, 0, f, env.rc, env.masks, st);
  const ou = st.flags & ~env.masks & (FE_OVERFLOW | FE_UNDERFLOW);
  if (ou) {
    st.flags = before | ou;
    st.c1 = 0;
  }
  const frac = r.q & ((1n << fb) - 1n);
  return signBit | (BigInt(r.exp) << expShift) | frac;
}

/** FST m32fp: floatx80 to float32 bits, rounded per `env.rc` (precision control does not apply). */
export function f80ToF32(a: Float80, env: FpEnv, st: FpStatus): number {
  return Number(toIeee(a, F32, env, st));
}

/** FST m64fp: floatx80 to float64 bits. */
export function f80ToF64(a: Float80, env: FpEnv, st: FpStatus): bigint {
  return toIeee(a, F64, env, st);
}

// ---------------------------------------------------------------------------------------------
// Packed BCD (SDM Vol. 1, 4.7; Vol. 2 FBLD, FBSTP)
// ---------------------------------------------------------------------------------------------

/** 10^18: packed BCD holds 18 digits. */
const BCD_LIMIT = 10n ** 18n;

/**
 * FBLD: the 10-byte packed BCD image (bytes 0–8: 18 digits, two per byte, least significant first;
 * byte 9 bit 7: sign) to floatx80, exactly. Digits above 9 are "undefined" in the SDM; like the
 * hardware, each nibble simply counts with its weight (0xA at position i adds 10·10^i).
 */
export function f80FromBcd(b: Uint8Array, off = 0): Float80 {
  let v = 0n;
  for (let i = 8; i >= 0; i--) {
    const byte = b[off + i]!;
    v = v * 100n + BigInt((byte >> 4) * 10 + (byte & 15));
  }
  const neg = (b[off + 9]! & 0x80) !== 0;
  if (v === 0n) return neg ? NEG_ZERO : POS_ZERO;
  return f80FromInt(neg ? -v : v);
}

/** The packed BCD indefinite FBSTP stores on an invalid operation: FFFF C000000000000000. */
export const BCD_INDEFINITE: readonly number[] = [0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff];

/**
 * FBSTP: round per `env.rc` to an integer and encode as packed BCD into `out` (10 bytes). NaNs,
 * infinities, unsupported encodings and values of 18+ digits give IE and the BCD indefinite.
 */
export function f80ToBcd(a: Float80, env: FpEnv, st: FpStatus, out: Uint8Array = new Uint8Array(10), off = 0): Uint8Array {
  st.c1 = 0;
  const k = kindOf(a);
  let mag = 0n;
  let ok = k !== Kind.Unsupported && k !== Kind.QNaN && k !== Kind.SNaN && k !== Kind.Infinity;
  if (ok) {
    const r = roundToIntegerMag(a, env.rc);
    mag = r.mag;
    if (mag >= BCD_LIMIT) ok = false;
    else {
      if (r.inexact) st.flags |= FE_INEXACT;
      if (r.up) st.c1 = 1;
    }
  }
  if (!ok) {
    st.flags |= FE_INVALID;
    for (let i = 0; i < 10; i++) out[off + i] = BCD_INDEFINITE[i]!;
    return out;
  }
  for (let i = 0; i < 9; i++) {
    const two = Number(mag % 100n);
    mag /= 100n;
    out[off + i] = ((Math.floor(two / 10) << 4) | (two % 10)) & 0xff;
  }
  out[off + 9] = a.sign ? 0x80 : 0;
  return out;
}
