/**
 * AFL's deterministic stages (afl-fuzz's fuzz_one(), the part before
 * havoc; off by default as in AFL++, `-D` turns them on): walking bit
 * flips (1, 2 and 4 bits), byte flips (8, 16 and 32 bits), arithmetic
 * (±1..ARITH_MAX on 8-, 16- and 32-bit values, little- and big-endian),
 * interesting values (interesting_8/16/32, both byte orders), then the
 * dictionary's tokens written over (ext_UO) and inserted at (ext_UI)
 * every position. As in AFL, a later stage skips a value an earlier one
 * already produced (could_be_bitflip(), could_be_arith(),
 * could_be_interest()), so no input runs twice for nothing. AFL's effector
 * map (skipping bytes whose flips change nothing) is not implemented:
 * every byte goes through every stage.
 *
 * Each candidate comes with its operation in AFL's naming, for the queue
 * file name: `flip1,pos:N`, `arith16,pos:N,val:be:-3`, `int32,pos:N,val:+100`,
 * `ext_UO,pos:N`.
 */
import { ARITH_MAX, INTERESTING_8, INTERESTING_16, INTERESTING_32 } from './mutate.js';

export interface Candidate {
  data: Uint8Array;
  /** AFL's op field and what follows it ("flip1,pos:3"). */
  op: string;
}

const swap16 = (v: number): number => ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
const swap32 = (v: number): number => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | ((v >>> 24) & 0xff)) >>> 0;

/** Could `xor` (old ^ new) come from a walking bit flip or a byte flip? (afl-fuzz could_be_bitflip()) */
export function couldBeBitflip(xor: number): boolean {
  let x = xor >>> 0;
  if (x === 0) return true;
  let sh = 0;
  while ((x & 1) === 0) {
    sh++;
    x >>>= 1;
  }
  if (x === 1 || x === 3 || x === 15) return true;
  if (sh & 7) return false;
  return x === 0xff || x === 0xffff || x === 0xffffffff;
}

/** Could `nv` come from `ov` by the arithmetic stages on a `blen`-byte value? (afl-fuzz could_be_arith()) */
export function couldBeArith(ov: number, nv: number, blen: number): boolean {
  ov >>>= 0;
  nv >>>= 0;
  if (ov === nv) return true;
  let diffs = 0, o = 0, n = 0;
  for (let i = 0; i < blen; i++) {
    const a = (ov >>> (8 * i)) & 0xff, b = (nv >>> (8 * i)) & 0xff;
    if (a !== b) {
      diffs++;
      o = a;
      n = b;
    }
  }
  if (diffs === 1 && (((o - n) & 0xff) <= ARITH_MAX || ((n - o) & 0xff) <= ARITH_MAX)) return true;
  if (blen === 1) return false;
  diffs = 0;
  for (let i = 0; i < blen / 2; i++) {
    const a = (ov >>> (16 * i)) & 0xffff, b = (nv >>> (16 * i)) & 0xffff;
    if (a !== b) {
      diffs++;
      o = a;
      n = b;
    }
  }
  if (diffs === 1) {
    if (((o - n) & 0xffff) <= ARITH_MAX || ((n - o) & 0xffff) <= ARITH_MAX) return true;
    o = swap16(o);
    n = swap16(n);
    if (((o - n) & 0xffff) <= ARITH_MAX || ((n - o) & 0xffff) <= ARITH_MAX) return true;
  }
  if (blen === 4) {
    if (((ov - nv) >>> 0) <= ARITH_MAX || ((nv - ov) >>> 0) <= ARITH_MAX) return true;
    const so = swap32(ov), sn = swap32(nv);
    if (((so - sn) >>> 0) <= ARITH_MAX || ((sn - so) >>> 0) <= ARITH_MAX) return true;
  }
  return false;
}

/** Could `nv` come from `ov` by the interesting-value stages before this one? (afl-fuzz could_be_interest()) */
export function couldBeInterest(ov: number, nv: number, blen: number, checkLe: boolean): boolean {
  ov >>>= 0;
  nv >>>= 0;
  if (ov === nv) return true;
  for (let i = 0; i < blen; i++) {
    for (const v of INTERESTING_8) {
      const t = ((ov & ~(0xff << (i * 8))) | ((v & 0xff) << (i * 8))) >>> 0;
      if (nv === t) return true;
    }
  }
  if (blen === 2 && !checkLe) return false;
  for (let i = 0; i < blen - 1; i++) {
    for (const v of INTERESTING_16) {
      let t = ((ov & ~(0xffff << (i * 8))) | ((v & 0xffff) << (i * 8))) >>> 0;
      if (nv === t) return true;
      if (blen > 2) {
        t = ((ov & ~(0xffff << (i * 8))) | (swap16(v & 0xffff) << (i * 8))) >>> 0;
        if (nv === t) return true;
      }
    }
  }
  if (blen === 4 && checkLe) for (const v of INTERESTING_32) if (nv === v >>> 0) return true;
  return false;
}

const get = (b: Uint8Array, i: number, n: number): number => {
  let v = 0;
  for (let k = n - 1; k >= 0; k--) v = (v * 256) + b[i + k]!;
  return v >>> 0;
};
function put(b: Uint8Array, i: number, n: number, v: number): Uint8Array {
  const out = b.slice();
  for (let k = 0; k < n; k++) out[i + k] = (v >>> (8 * k)) & 0xff;
  return out;
}
const sign = (d: number): string => (d < 0 ? `-${-d}` : `+${d}`);

/** Every deterministic candidate of `input`, stage by stage (lazily: the fuzzer stops when its limits are reached). */
export function* deterministicStages(input: Uint8Array, tokens: readonly Uint8Array[], maxLength: number): Generator<Candidate> {
  const len = input.length;
  // Walking bit flips.
  for (const width of [1, 2, 4]) {
    for (let bit = 0; bit + width <= len * 8; bit++) {
      const out = input.slice();
      for (let k = 0; k < width; k++) out[(bit + k) >> 3]! ^= 128 >> ((bit + k) & 7);
      yield { data: out, op: `flip${width},pos:${bit >> 3}` };
    }
  }
  // Byte flips.
  for (const n of [1, 2, 4]) {
    for (let i = 0; i + n <= len; i++) {
      const out = input.slice();
      for (let k = 0; k < n; k++) out[i + k]! ^= 0xff;
      yield { data: out, op: `flip${n * 8},pos:${i}` };
    }
  }
  // Arithmetic: 8-bit, then 16 and 32 bits in both byte orders, skipping what a flip already made.
  for (let i = 0; i < len; i++) {
    const o = input[i]!;
    for (let j = 1; j <= ARITH_MAX; j++) {
      for (const d of [j, -j]) {
        const v = (o + d) & 0xff;
        if (!couldBeBitflip(o ^ v)) yield { data: put(input, i, 1, v), op: `arith8,pos:${i},val:${sign(d)}` };
      }
    }
  }
  for (const n of [2, 4]) {
    const mask = n === 2 ? 0xffff : 0xffffffff;
    const sw = n === 2 ? swap16 : swap32;
    const lowMask = n === 2 ? 0xff : 0xffff;
    for (let i = 0; i + n <= len; i++) {
      const o = get(input, i, n);
      for (let j = 1; j <= ARITH_MAX; j++) {
        // Little-endian: only when the carry or borrow crosses into the next byte(s) (else arith8 did it).
        if ((o & lowMask) + j > lowMask) {
          const v = ((o + j) & mask) >>> 0;
          if (!couldBeBitflip(o ^ v)) yield { data: put(input, i, n, v), op: `arith${n * 8},pos:${i},val:${sign(j)}` };
        }
        if ((o & lowMask) < j) {
          const v = ((o - j) & mask) >>> 0;
          if (!couldBeBitflip(o ^ v)) yield { data: put(input, i, n, v), op: `arith${n * 8},pos:${i},val:${sign(-j)}` };
        }
        const b = sw(o);
        if ((b & lowMask) + j > lowMask) {
          const v = sw(((b + j) & mask) >>> 0);
          if (!couldBeBitflip(o ^ v)) yield { data: put(input, i, n, v), op: `arith${n * 8},pos:${i},val:be:${sign(j)}` };
        }
        if ((b & lowMask) < j) {
          const v = sw(((b - j) & mask) >>> 0);
          if (!couldBeBitflip(o ^ v)) yield { data: put(input, i, n, v), op: `arith${n * 8},pos:${i},val:be:${sign(-j)}` };
        }
      }
    }
  }
  // Interesting values.
  for (let i = 0; i < len; i++) {
    const o = input[i]!;
    for (const iv of INTERESTING_8) {
      const v = iv & 0xff;
      if (couldBeBitflip(o ^ v) || couldBeArith(o, v, 1)) continue;
      yield { data: put(input, i, 1, v), op: `int8,pos:${i},val:${sign(iv)}` };
    }
  }
  for (const n of [2, 4]) {
    const table = n === 2 ? INTERESTING_16 : INTERESTING_32;
    const mask = n === 2 ? 0xffff : 0xffffffff;
    const sw = n === 2 ? swap16 : swap32;
    for (let i = 0; i + n <= len; i++) {
      const o = get(input, i, n);
      for (const iv of table) {
        const v = (iv & mask) >>> 0;
        if (!couldBeBitflip(o ^ v) && !couldBeArith(o, v, n) && !couldBeInterest(o, v, n, false)) {
          yield { data: put(input, i, n, v), op: `int${n * 8},pos:${i},val:${sign(iv)}` };
        }
        const b = sw(v);
        if (b !== v && !couldBeBitflip(o ^ b) && !couldBeArith(o, b, n) && !couldBeInterest(o, b, n, true)) {
          yield { data: put(input, i, n, b), op: `int${n * 8},pos:${i},val:be:${sign(iv)}` };
        }
      }
    }
  }
  // Dictionary tokens, shortest first: over the bytes at every position (when they differ), then inserted.
  const sorted = [...tokens].filter((t) => t.length > 0).sort((a, b) => a.length - b.length);
  for (let i = 0; i < len; i++) {
    for (const t of sorted) {
      if (t.length > len - i) continue;
      let same = true;
      for (let k = 0; k < t.length && same; k++) same = input[i + k] === t[k];
      if (same) continue;
      const out = input.slice();
      out.set(t, i);
      yield { data: out, op: `ext_UO,pos:${i}` };
    }
  }
  for (let i = 0; i <= len; i++) {
    for (const t of sorted) {
      if (len + t.length > maxLength) continue;
      const out = new Uint8Array(len + t.length);
      out.set(input.subarray(0, i));
      out.set(t, i);
      out.set(input.subarray(i), i + t.length);
      yield { data: out, op: `ext_UI,pos:${i}` };
    }
  }
}
