/**
 * The transcendental instructions against the host x87: F2XM1, FYL2X, FYL2XP1, FPATAN, FSIN,
 * FCOS, FSINCOS, FPTAN, for random operands in each instruction's defined range plus the special
 * operands (zeros, infinities, NaNs, denormals, unsupported encodings, |x| ≥ 2^63 for the
 * trigonometric ones), under every rounding control and some unmasked exceptions.
 *
 * Special cases (a NaN, an infinity, a zero, an exact result, C2 = 1, an invalid operand) must match
 * bit for bit. A finite inexact result may differ from the host's by at most MAX_ULPS units in the
 * last place: floatx80 rounds the (256-bit) exact value, the host's microcode is not always
 * correctly rounded (README "x87 arithmetic" has the measured figures). When the results differ,
 * the rounding-dependent status bits (PE, C1) may too; the other flags must match.
 *
 *   KMEMSIM_X87_RUNS=100000   cases per instruction (default 3000)
 *   KMEMSIM_X87_SEED=7        PRNG seed
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../differential/rng.js';
import { BIAS, EXP_MAX, f80, f80FromBytes, f80ToBytes } from '../../src/cpu/fpu/floatx80.js';
import type { Float80 } from '../../src/cpu/fpu/floatx80.js';
import { hex, oracleAvailable, runOracle } from './oracle.js';
import type { OracleCase } from './oracle.js';
import { model } from './model.js';
import { randomF80, randomSig, specialF80 } from './values.js';

const RUNS = Number(process.env.KMEMSIM_X87_RUNS ?? 3000);
const SEED = Number(process.env.KMEMSIM_X87_SEED ?? 1);
const probe = oracleAvailable();
if (!probe.ok) console.warn(`[x87] transcendental-vs-host tests skipped: ${probe.why}`);

/** The largest difference tolerated, in units in the last place, for each instruction. */
const MAX_ULPS: Record<string, number> = {
  sin: 1, cos: 1, sincos: 1, ptan: 1, patan: 1, f2xm1: 1, yl2x: 1, yl2xp1: 1,
};

/** Position of a finite value on the line of floatx80 values (ulps from zero, signed). */
function ordinal(v: Float80): bigint | null {
  if (v.exp === EXP_MAX) return null;
  const mag = v.exp === 0 ? v.sig : (BigInt(v.exp) << 63n) + (v.sig - (1n << 63n));
  return v.sign ? -mag : mag;
}

function ulps(a: Uint8Array, b: Uint8Array): number {
  const x = ordinal(f80FromBytes(a));
  const y = ordinal(f80FromBytes(b));
  if (x === null || y === null) return hex(a) === hex(b) ? 0 : Infinity;
  const d = x > y ? x - y : y - x;
  return d > 1000n ? Infinity : Number(d);
}

function controlWord(rng: Rng): number {
  const rc = rng.int(0, 3);
  const masks = rng.weighted([0x3f, 0x27, 0x20, 0x3e, 0x1f, 0x00], [14, 2, 2, 2, 1, 1]);
  return 0x1340 | (rc << 10) | masks;
}

const small = (rng: Rng, lo: number, hi: number): Float80 => f80(rng.int(0, 1), BIAS + rng.int(lo, hi), randomSig(rng));
const trigArg = (rng: Rng): Float80 => {
  const r = rng.int(0, 9);
  if (r < 2) return specialF80(rng);
  if (r < 5) return small(rng, -70, 4);
  if (r < 7) return small(rng, 5, 64);
  // near a multiple of π/2
  const k = BigInt(rng.int(1, 1 << 20));
  const halfPi = 0xc90fdaa22168c235n; // π/2 = this·2^-63
  const m = halfPi * k;
  const len = m.toString(2).length;
  const sig = (m >> BigInt(len - 64)) + BigInt(rng.int(-2, 2));
  return f80(rng.int(0, 1), BIAS + len - 64, sig | (1n << 63n));
};

type Gen = (rng: Rng) => [Float80, Float80];
const GENS: Record<string, Gen> = {
  sin: (rng) => [trigArg(rng), f80(0, 0, 0n)],
  cos: (rng) => [trigArg(rng), f80(0, 0, 0n)],
  sincos: (rng) => [trigArg(rng), f80(0, 0, 0n)],
  ptan: (rng) => [trigArg(rng), f80(0, 0, 0n)],
  f2xm1: (rng) => [rng.chance(0.15) ? specialF80(rng) : rng.chance(0.05) ? f80(rng.int(0, 1), BIAS, 1n << 63n) : small(rng, -80, -1), f80(0, 0, 0n)],
  patan: (rng) => {
    if (rng.chance(0.2)) return [randomF80(rng), randomF80(rng)]; // any exponents: tiny and huge quotients
    return [rng.chance(0.2) ? specialF80(rng) : small(rng, -40, 40), rng.chance(0.2) ? specialF80(rng) : small(rng, -40, 40)];
  },
  yl2x: (rng) => {
    const x = rng.chance(0.15) ? specialF80(rng)
      : rng.chance(0.3) ? f80(0, BIAS + rng.int(-1, 0), rng.chance(0.5) ? (1n << 64n) - BigInt(rng.int(1, 1 << 20)) : (1n << 63n) + BigInt(rng.int(0, 1 << 20)))
        : f80(0, rng.int(1, EXP_MAX - 1), randomSig(rng));
    return [x, rng.chance(0.2) ? specialF80(rng) : randomF80(rng)];
  },
  yl2xp1: (rng) => {
    const r = rng.int(0, 9);
    // x in the SDM's range, near −1 (log2 of a tiny 1 + x), beyond it, or special.
    const x = r < 6 ? small(rng, -70, -3)
      : r < 7 ? f80(1, BIAS - 1, (1n << 64n) - BigInt(rng.int(1, 1 << 30)))
        : r < 8 ? small(rng, -2, 3) : specialF80(rng);
    return [x, rng.chance(0.2) ? specialF80(rng) : randomF80(rng)];
  },
};

describe.skipIf(!probe.ok)('x87 transcendentals against the host x87', () => {
  for (const op of Object.keys(GENS)) {
    it(`${op}: ${RUNS} cases, specials bit for bit, others within ${MAX_ULPS[op]} ulp`, () => {
      const rng = new Rng(SEED * 7919 + op.length * 31 + op.charCodeAt(0));
      const cases: OracleCase[] = [];
      for (let i = 0; i < RUNS; i++) {
        const [a, b] = GENS[op]!(rng);
        cases.push({ op, cw: controlWord(rng), a: f80ToBytes(a), b: f80ToBytes(b) });
      }
      const host = runOracle(cases);
      const bad: string[] = [];
      const hist = new Map<number, number>();
      let finite = 0;
      let c1Differs = 0;
      cases.forEach((c, i) => {
        const h = host[i]!;
        const m = model(c.op, c.cw, c.a, c.b);
        const d1 = ulps(h.r1, m.r1);
        const d2 = m.cmpR2 ? ulps(h.r2, m.r2) : 0;
        const d = Math.max(d1, d2);
        const exact = d === 0;
        const roundingBits = 0x20 | 0x200;
        // C1 (rounded up) may differ for an inexact result even when the values agree: the host
        // rounds its own approximation, which may lie on the other side of the result.
        const inexact = (h.sw & 0x20) !== 0 && (m.sw & 0x20) !== 0;
        const ignore = inexact ? 0x200 : exact ? 0 : roundingBits;
        const swOk = (h.sw & m.swMask & ~ignore) === (m.sw & m.swMask & ~ignore);
        if (inexact && (h.sw & 0x200) !== (m.sw & 0x200)) c1Differs++;
        const approxAllowed = d <= MAX_ULPS[op]! && (m.sw & 0x01) === 0;
        if (!exact && approxAllowed) {
          finite++;
        }
        hist.set(d, (hist.get(d) ?? 0) + 1);
        if ((!swOk || !(exact || approxAllowed)) && bad.length < 12) {
          bad.push(`${c.op} cw=${c.cw.toString(16)} a=${hex(c.a)} b=${hex(c.b)}: host ${hex(h.r1)} ${hex(h.r2)} sw=${(h.sw & m.swMask).toString(16)}, model ${hex(m.r1)} ${hex(m.r2)} sw=${(m.sw & m.swMask).toString(16)} (${d} ulp)`);
        }
      });
      const summary = [...hist.entries()].sort((x, y) => x[0] - y[0]).map(([k, v]) => `${k} ulp: ${v}`).join(', ');
      console.log(`[x87] ${op}: ${summary}; C1 differs in ${c1Differs}`);
      expect(bad, bad.join('\n')).toEqual([]);
    });
  }
});
