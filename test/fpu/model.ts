/**
 * What each oracle op computes, in terms of the floatx80 API — the same steps the x87 instruction
 * layer takes (run the operation, then store or not according to the unmasked exceptions).
 */
import {
  FE_DENORMAL, FE_INVALID, FE_OVERFLOW, FE_UNDERFLOW, FE_ZERODIVIDE, add, div, envFromControlWord, f80FromBytes,
  f80ToBytes, mul, newStatus, sub,
} from '../../src/cpu/fpu/floatx80.js';
import type { Float80, FpEnv, FpStatus } from '../../src/cpu/fpu/floatx80.js';
import {
  f80FromBcd, f80ToBcd, f80FromF32, f80FromF64, f80FromInt, f80ToF32, f80ToF64, f80ToInt,
} from '../../src/cpu/fpu/convert.js';
import { rem, roundToInt, scale, sqrt, xtract } from '../../src/cpu/fpu/ops.js';
import { f2xm1, fcos, fpatan, fptan, fsin, fsincos, fyl2x, fyl2xp1 } from '../../src/cpu/fpu/transcendental.js';
import { loadConstant } from '../../src/cpu/fpu/constants.js';
import type { ConstantName } from '../../src/cpu/fpu/constants.js';
import { SW_C0, SW_C2, SW_C3, SW_C1, compare, conditionCodes, examine } from '../../src/cpu/fpu/compare.js';
import { ONE, POS_ZERO } from '../../src/cpu/fpu/floatx80.js';
import type { OracleResult } from './oracle.js';

export const SW_FLAGS = 0x3f;
export const SW_CC = 0x4700;

export interface ModelResult extends OracleResult {
  /** The status-word bits this op defines (the rest are compared as don't-care). */
  swMask: number;
  /** Compare r2 too. */
  cmpR2: boolean;
  /** Compare r1 too (false when the op leaves no defined result). */
  cmpR1: boolean;
}

type Bin = (a: Float80, b: Float80, env: FpEnv, st: FpStatus) => Float80;
const BIN: Record<string, Bin> = { add, sub, mul, div };

const NO_STORE_REG = FE_INVALID | FE_DENORMAL | FE_ZERODIVIDE;
const NO_STORE_MEM = FE_INVALID | FE_DENORMAL | FE_ZERODIVIDE | FE_OVERFLOW | FE_UNDERFLOW;

function bytesLE(v: bigint, n: number): Uint8Array {
  const out = new Uint8Array(10).fill(0xee);
  for (let i = 0; i < n; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

function readLE(b: Uint8Array, n: number): bigint {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

function sw(st: FpStatus, cc = 0): number {
  return st.flags | (st.c1 ? SW_C1 : 0) | cc;
}

export function model(op: string, cw: number, ab: Uint8Array, bb: Uint8Array): ModelResult {
  const env = envFromControlWord(cw);
  const a = f80FromBytes(ab);
  const b = f80FromBytes(bb);
  const st = newStatus();
  const unmasked = (f: number): boolean => (st.flags & ~env.masks & f) !== 0;
  const reg = (r: Float80, swMask = SW_FLAGS | SW_C1): ModelResult => ({
    r1: f80ToBytes(unmasked(NO_STORE_REG) ? a : r), r2: bb, sw: sw(st), swMask, cmpR1: true, cmpR2: false,
  });
  const bin = BIN[op];
  if (bin) return reg(bin(a, b, env, st));
  switch (op) {
    case 'com':
    case 'ucom':
    case 'tst': {
      const rel = compare(a, op === 'tst' ? POS_ZERO : b, op !== 'ucom', st);
      return { r1: ab, r2: bb, sw: sw(st, conditionCodes(rel)), swMask: SW_FLAGS | SW_CC, cmpR1: true, cmpR2: false };
    }
    case 'xam':
      return { r1: ab, r2: bb, sw: examine(a), swMask: SW_CC, cmpR1: true, cmpR2: false };
    case 'fild16':
    case 'fild32':
    case 'fild64': {
      const n = Number(op.slice(4)) / 8;
      return reg(f80FromInt(BigInt.asIntN(n * 8, readLE(ab, n))));
    }
    case 'fld32':
      return reg(f80FromF32(Number(readLE(ab, 4)), st));
    case 'fld64':
      return reg(f80FromF64(readLE(ab, 8), st));
    case 'fist16':
    case 'fist32':
    case 'fist64':
    case 'fst32':
    case 'fst64': {
      const bits = Number(op.slice(op.startsWith('fist') ? 4 : 3));
      let v: bigint;
      if (op.startsWith('fist')) v = BigInt.asUintN(bits, f80ToInt(a, bits as 16 | 32 | 64, env, st));
      else v = bits === 32 ? BigInt(f80ToF32(a, env, st)) : f80ToF64(a, env, st);
      const r1 = unmasked(NO_STORE_MEM) ? new Uint8Array(10).fill(0xee) : bytesLE(v, bits / 8);
      return { r1, r2: new Uint8Array(10), sw: sw(st), swMask: SW_FLAGS | SW_C1, cmpR1: true, cmpR2: false };
    }
    case 'sqrt':
      return reg(sqrt(a, env, st));
    case 'rndint':
      return reg(roundToInt(a, env, st));
    case 'scale':
      return { ...reg(scale(a, b, env, st)), cmpR2: true };
    case 'prem':
    case 'prem1': {
      const r = rem(a, b, op === 'prem1', env, st);
      const cc = (r.c2 ? SW_C2 : 0) | (r.q & 4 ? SW_C0 : 0) | (r.q & 2 ? SW_C3 : 0);
      if (r.q & 1) st.c1 = 1;
      return {
        r1: f80ToBytes(unmasked(NO_STORE_REG) ? a : r.value), r2: bb, sw: sw(st, cc), swMask: SW_FLAGS | SW_CC, cmpR1: true, cmpR2: true,
      };
    }
    case 'xtract': {
      const r = xtract(a, env, st);
      // ST(0) = significand, ST(1) = exponent; unmasked IE/ZE/DE: nothing pushed, ST(0) = a.
      if (unmasked(NO_STORE_REG)) return { r1: ab, r2: bb, sw: sw(st), swMask: SW_FLAGS, cmpR1: true, cmpR2: true };
      return { r1: f80ToBytes(r.significand), r2: f80ToBytes(r.exponent), sw: sw(st), swMask: SW_FLAGS, cmpR1: true, cmpR2: true };
    }
    case 'sin':
    case 'cos':
    case 'ptan':
    case 'sincos': {
      const fn = op === 'sin' ? fsin : op === 'cos' ? fcos : fptan;
      if (op === 'sincos') {
        const r = fsincos(a, env, st);
        const cc = r.c2 ? SW_C2 : 0;
        if (r.c2 || unmasked(NO_STORE_REG)) return { r1: ab, r2: bb, sw: sw(st, cc), swMask: SW_FLAGS | SW_C1 | SW_C2, cmpR1: true, cmpR2: false };
        return { r1: f80ToBytes(r.cos), r2: f80ToBytes(r.sin), sw: sw(st, cc), swMask: SW_FLAGS | SW_C1 | SW_C2, cmpR1: true, cmpR2: true };
      }
      const r = fn(a, env, st);
      const cc = r.c2 ? SW_C2 : 0;
      const keep = r.c2 || unmasked(NO_STORE_REG);
      if (op === 'ptan') {
        // ST(0) = 1.0 pushed over ST(1) = tan x.
        if (keep) return { r1: ab, r2: bb, sw: sw(st, cc), swMask: SW_FLAGS | SW_C1 | SW_C2, cmpR1: true, cmpR2: false };
        const push = (r as ReturnType<typeof fptan>).push;
        return { r1: f80ToBytes(push), r2: f80ToBytes(r.value), sw: sw(st, cc), swMask: SW_FLAGS | SW_C1 | SW_C2, cmpR1: true, cmpR2: true };
      }
      return { r1: keep ? ab : f80ToBytes(r.value), r2: bb, sw: sw(st, cc), swMask: SW_FLAGS | SW_C1 | SW_C2, cmpR1: true, cmpR2: false };
    }
    case 'f2xm1':
      return reg(f2xm1(a, env, st));
    case 'patan':
    case 'yl2x':
    case 'yl2xp1': {
      // ST(0) = a = x, ST(1) = b = y; the result replaces ST(1) and the stack pops.
      const fn = op === 'patan' ? fpatan : op === 'yl2x' ? fyl2x : fyl2xp1;
      const r = fn(a, b, env, st);
      return { r1: f80ToBytes(unmasked(NO_STORE_REG) ? a : r), r2: bb, sw: sw(st), swMask: SW_FLAGS | SW_C1, cmpR1: true, cmpR2: false };
    }
    case 'fbld':
      return reg(f80FromBcd(ab));
    case 'fbstp': {
      const out = f80ToBcd(a, env, st);
      const r1 = unmasked(NO_STORE_MEM) ? new Uint8Array(10).fill(0xee) : out;
      return { r1, r2: new Uint8Array(10), sw: sw(st), swMask: SW_FLAGS | SW_C1, cmpR1: true, cmpR2: false };
    }
    default:
      if (op.startsWith('ld')) {
        const c = loadConstant(op.slice(2) as ConstantName, env.rc);
        return { r1: f80ToBytes(c), r2: new Uint8Array(10), sw: 0, swMask: SW_FLAGS | SW_C1, cmpR1: true, cmpR2: false };
      }
      throw new Error(`model: unknown op ${op}`);
  }
}
