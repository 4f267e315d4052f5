/**
 * The floatx80 API's plumbing, independent of the host: the memory image, the control-word
 * environment, operand classes, and the result contract (flags accumulate, C1 is set per op).
 */
import { describe, expect, it } from 'vitest';
import {
  BIAS, bitLength, FE_DENORMAL, FE_INEXACT, FE_INVALID, INDEFINITE, Kind, NEG_ZERO, ONE, POS_INF, add, div, envFromControlWord,
  f80, f80FromBytes, f80ToBytes, kindOf, mul, newStatus, sub,
} from '../../src/cpu/fpu/floatx80.js';
import { f80FromInt, f80ToInt } from '../../src/cpu/fpu/convert.js';
import { loadConstant } from '../../src/cpu/fpu/constants.js';

describe('floatx80 API', () => {
  it('reads and writes the 10-byte little-endian memory image', () => {
    const bytes = Uint8Array.from([0x35, 0xc2, 0x68, 0x21, 0xa2, 0xda, 0x0f, 0xc9, 0x00, 0xc0]);
    const v = f80FromBytes(bytes);
    expect(v).toEqual({ sign: 1, exp: 0x4000, sig: 0xc90fdaa22168c235n });
    expect([...f80ToBytes(v)]).toEqual([...bytes]);
    const out = new Uint8Array(14).fill(0xaa);
    f80ToBytes(INDEFINITE, out, 2);
    expect([...out]).toEqual([0xaa, 0xaa, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff, 0xaa, 0xaa]);
  });

  it('decodes the control word into rounding, precision and masks', () => {
    expect(envFromControlWord(0x037f)).toEqual({ rc: 0, pc: 3, masks: 0x3f });
    expect(envFromControlWord(0x0e72)).toEqual({ rc: 3, pc: 2, masks: 0x32 });
  });

  it('classifies every encoding as a 387 does', () => {
    expect(kindOf(f80(0, 0, 0n))).toBe(Kind.Zero);
    expect(kindOf(f80(0, 0, 1n))).toBe(Kind.Denormal);
    expect(kindOf(f80(1, 0, 1n << 63n))).toBe(Kind.PseudoDenormal);
    expect(kindOf(ONE)).toBe(Kind.Normal);
    expect(kindOf(f80(0, BIAS, 1n << 62n))).toBe(Kind.Unsupported); // unnormal
    expect(kindOf(POS_INF)).toBe(Kind.Infinity);
    expect(kindOf(f80(0, 0x7fff, 0n))).toBe(Kind.Unsupported); // pseudo-infinity
    expect(kindOf(f80(0, 0x7fff, (1n << 63n) | 1n))).toBe(Kind.SNaN);
    expect(kindOf(INDEFINITE)).toBe(Kind.QNaN);
  });

  it('accumulates flags and sets C1 per operation', () => {
    const env = envFromControlWord(0x037f);
    const st = newStatus();
    const third = div(ONE, f80FromInt(3n), env, st);
    expect(st.flags).toBe(FE_INEXACT);
    expect(st.c1).toBe(1); // 0xAAAA…AAAB: rounded up
    mul(third, f80(0, 0, 5n), env, st);
    expect(st.flags).toBe(FE_INEXACT | FE_DENORMAL | 0x10);
    expect(sub(ONE, ONE, envFromControlWord(0x077f), newStatus())).toEqual(NEG_ZERO);
    const inv = newStatus();
    expect(add(POS_INF, { ...POS_INF, sign: 1 }, env, inv)).toEqual(INDEFINITE);
    expect(inv.flags).toBe(FE_INVALID);
  });

  it('converts integers exactly and stores the integer indefinite on overflow', () => {
    const env = envFromControlWord(0x037f);
    expect(f80ToInt(f80FromInt(-(1n << 63n)), 64, env, newStatus())).toBe(-(1n << 63n));
    const st = newStatus();
    expect(f80ToInt(f80FromInt(40000n), 16, env, st)).toBe(-32768n);
    expect(st.flags).toBe(FE_INVALID);
  });

  it('rounds the constants per RC (FLDPI: …C235 to nearest, …C234 down)', () => {
    expect(loadConstant('pi', 0).sig).toBe(0xc90fdaa22168c235n);
    expect(loadConstant('pi', 1).sig).toBe(0xc90fdaa22168c234n);
  });
});

describe('bitLength', () => {
  it('is exact at and around every power of two up to 2^1100', () => {
    for (let k = 0; k <= 1100; k++) {
      const p = 1n << BigInt(k);
      expect(bitLength(p)).toBe(k + 1);
      if (k > 0) expect(bitLength(p - 1n)).toBe(k);
      expect(bitLength(p + 1n)).toBe(k === 0 ? 2 : k + 1);
    }
    expect(bitLength(0n)).toBe(0);
  });
});
