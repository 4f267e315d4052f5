/**
 * Random x87 operands biased toward the values where floating point goes wrong: zeros,
 * infinities, NaNs (quiet, signalling, the indefinite), denormals and pseudo-denormals, the
 * unsupported encodings, the largest and smallest normals, significands at rounding boundaries of
 * every precision, integers near 2^15, 2^31, 2^63.
 */
import { Rng } from '../differential/rng.js';
import { BIAS, EXP_MAX, f80 } from '../../src/cpu/fpu/floatx80.js';
import type { Float80 } from '../../src/cpu/fpu/floatx80.js';

export function u64(rng: Rng): bigint {
  return (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
}

/** A significand with the integer bit set and a low-bits pattern near a rounding boundary. */
function boundarySig(rng: Rng): bigint {
  const pos = rng.pick([0, 1, 11, 12, 39, 40, 41, 62]); // rounding bit positions for pc 64/53/24
  const base = (u64(rng) | (1n << 63n)) & ~((1n << BigInt(pos + 2)) - 1n);
  const tail = rng.pick([0n, 1n, 1n << BigInt(pos), (1n << BigInt(pos)) - 1n, (1n << BigInt(pos)) + 1n, (1n << BigInt(pos + 1)) - 1n]);
  return base | tail | (1n << 63n);
}

export function randomSig(rng: Rng): bigint {
  const r = rng.int(0, 9);
  if (r < 4) return u64(rng) | (1n << 63n);
  if (r < 7) return boundarySig(rng);
  if (r < 8) return (1n << 63n) | BigInt(rng.int(0, 255));
  if (r < 9) return (1n << 64n) - 1n - BigInt(rng.int(0, 255));
  return (1n << 63n) | (u64(rng) & (((1n << BigInt(rng.int(1, 63))) - 1n) << BigInt(rng.int(0, 63))));
}

export function specialF80(rng: Rng): Float80 {
  const s = rng.int(0, 1);
  switch (rng.int(0, 16)) {
    case 16: // near the float32/float64 range limits (FST m32fp/m64fp)
      return f80(s, BIAS + rng.pick([-126, -127, -128, -149, -150, -151, 127, 128, -1022, -1023, -1024, -1074, -1075, -1076, 1023, 1024]), rng.chance(0.5) ? (1n << 64n) - 1n - BigInt(rng.int(0, 3) << rng.int(0, 42)) : randomSig(rng));
    case 0: return f80(s, 0, 0n);
    case 1: return f80(s, EXP_MAX, 1n << 63n);
    case 2: return f80(s, EXP_MAX, (3n << 62n) | (rng.chance(0.5) ? 0n : u64(rng) >> BigInt(rng.int(2, 63)))); // QNaN
    case 3: return f80(s, EXP_MAX, (1n << 63n) | ((u64(rng) >> 2n) | 1n)); // SNaN
    case 4: return f80(1, EXP_MAX, 3n << 62n); // indefinite
    case 5: return f80(s, 0, (u64(rng) >> BigInt(rng.int(1, 63))) || 1n); // denormal
    case 6: return f80(s, 0, u64(rng) | (1n << 63n)); // pseudo-denormal
    case 7: return f80(s, rng.int(1, EXP_MAX - 1), u64(rng) >> 1n); // unnormal
    case 8: return f80(s, EXP_MAX, rng.chance(0.5) ? 0n : u64(rng) >> 1n); // pseudo-NaN/infinity
    case 9: return f80(s, EXP_MAX - 1, randomSig(rng)); // huge
    case 10: return f80(s, 1, randomSig(rng)); // smallest normals
    case 11: return f80(s, rng.int(1, 80), randomSig(rng)); // near the underflow threshold
    case 12: return f80(s, EXP_MAX - rng.int(1, 80), randomSig(rng));
    case 13: return f80(s, BIAS + rng.pick([14, 15, 30, 31, 62, 63, 64]), randomSig(rng)); // near integer limits
    case 14: return f80(s, BIAS + rng.int(-3, 3), randomSig(rng)); // near 1
    default: return f80(s, BIAS + rng.int(-64, 64), (BigInt(rng.int(1, 1 << 20)) << 43n)); // short significands
  }
}

/** Any 80-bit value: special (about 40 %) or a normal number of random exponent. */
export function randomF80(rng: Rng): Float80 {
  if (rng.chance(0.4)) return specialF80(rng);
  const s = rng.int(0, 1);
  const e = rng.chance(0.5) ? rng.int(1, EXP_MAX - 1) : BIAS + rng.int(-200, 200);
  return f80(s, e, randomSig(rng));
}

/** A second operand related to `a` (same or nearby exponent, nearly equal), or independent. */
export function relatedF80(rng: Rng, a: Float80): Float80 {
  const r = rng.int(0, 9);
  if (r < 4 || a.exp === 0 || a.exp === EXP_MAX) return randomF80(rng);
  const s = rng.int(0, 1);
  const clamp = (e: number): number => Math.min(EXP_MAX - 1, Math.max(1, e));
  if (r === 9 && rng.chance(0.7)) {
    // Products/quotients near the underflow and overflow thresholds.
    const target = rng.chance(0.7) ? 0 : EXP_MAX - 1;
    const e = rng.chance(0.5) ? BIAS + target - a.exp : a.exp - target + BIAS;
    return f80(s, clamp(e + rng.int(-1, 1)), rng.chance(0.5) ? (1n << 64n) - 1n - BigInt(rng.int(0, 3)) : randomSig(rng));
  }
  if (r < 6) return f80(s, a.exp, a.sig ^ BigInt(rng.int(0, 255)) | (1n << 63n));
  const e = Math.min(EXP_MAX - 1, Math.max(1, a.exp + rng.int(-70, 70)));
  return f80(s, e, randomSig(rng));
}
