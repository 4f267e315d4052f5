/**
 * The mathematical constants of the x87 (FLDPI, FLDL2E, FLDL2T, FLDLG2, FLDLN2, FLD1, FLDZ) and
 * the high-precision fixed-point values transcendental.ts works with. The constants are computed
 * here from series with bigints (no tables to get wrong): π by Machin's formula, ln 2 and ln 10
 * by atanh series.
 */
import { BIAS, POS_ZERO, ONE, newStatus, roundPackX80 } from './floatx80.js';
import type { Float80, FpStatus } from './floatx80.js';

/** Fraction bits of the fixed-point constants below. */
export const FIX = 320;
const GUARD = 32;

/** atan(1/n) or atanh(1/n) in fixed point with `bits` fraction bits (alternating or not). */
function arcInv(n: bigint, bits: number, hyperbolic: boolean): bigint {
  const one = 1n << BigInt(bits);
  const n2 = n * n;
  let term = one / n; // 1/n^(2k+1)
  let sum = 0n;
  for (let k = 0n; term !== 0n; k++) {
    const t = term / (2n * k + 1n);
    sum += hyperbolic || (k & 1n) === 0n ? t : -t;
    term /= n2;
  }
  return sum;
}

function compute(): { pi: bigint; ln2: bigint; ln10: bigint } {
  const b = FIX + GUARD;
  const g = BigInt(GUARD);
  const pi = (16n * arcInv(5n, b, false) - 4n * arcInv(239n, b, false)) >> g;
  const ln2w = 2n * arcInv(3n, b, true);
  const ln2 = ln2w >> g;
  const ln10 = (3n * ln2w + 2n * arcInv(9n, b, true)) >> g;
  return { pi, ln2, ln10 };
}

const C = compute();
const ONE_FIX = 1n << BigInt(FIX);
/** π, ln 2, ln 10, log2 e, log2 10, log10 2 with {@link FIX} fraction bits (truncated). */
export const PI_FIX = C.pi;
export const LN2_FIX = C.ln2;
export const LN10_FIX = C.ln10;
export const LOG2E_FIX = (ONE_FIX << BigInt(FIX)) / C.ln2;
export const LOG2T_FIX = (C.ln10 << BigInt(FIX)) / C.ln2;
export const LOG10_2_FIX = (C.ln2 << BigInt(FIX)) / C.ln10;

/**
 * A positive fixed-point value (`fracBits` fraction bits, exact or with a sticky low bit) rounded
 * to floatx80 at 64 bits per `rc`.
 */
export function fixedToF80(sign: 0 | 1, fix: bigint, fracBits: number, rc: number, st: FpStatus, masks = 0x3f): Float80 {
  if (fix === 0n) return sign ? { sign: 1, exp: 0, sig: 0n } : POS_ZERO;
  return roundPackX80(sign, BIAS, fix, fracBits - 63, { rc, pc: 3, masks }, st);
}

export type ConstantName = 'pi' | 'l2e' | 'l2t' | 'lg2' | 'ln2' | '1' | 'z';

/**
 * FLDPI/FLDL2E/FLDL2T/FLDLG2/FLDLN2/FLD1/FLDZ. The constant is rounded per RC (SDM Vol. 1, 8.3.8),
 * as the exact value would be: the host's FLDLG2 in round-to-nearest gives …F799, which a 66-bit
 * internal constant rounded again would not. No exception, C1 cleared.
 */
export function loadConstant(name: ConstantName, rc: number): Float80 {
  if (name === '1') return ONE;
  if (name === 'z') return POS_ZERO;
  const fix = { pi: PI_FIX, l2e: LOG2E_FIX, l2t: LOG2T_FIX, lg2: LOG10_2_FIX, ln2: LN2_FIX }[name];
  // The fixed-point values are truncated irrational numbers: the sticky bit keeps them inexact.
  return fixedToF80(0, fix | 1n, FIX, rc, newStatus());
}
