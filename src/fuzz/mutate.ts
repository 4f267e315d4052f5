/**
 * Havoc and splicing, after afl-fuzz's fuzz_one() havoc stage: a stack of
 * 2^(1..7) random operations (shallower for short inputs) on a copy of the input — bit flips, random
 * bytes, AFL's interesting values (8/16/32-bit, either byte order),
 * arithmetic ±1..35, block deletion, cloning and insertion, overwriting
 * with another part of the input, dictionary tokens inserted or written
 * over — and splicing (the head of this input, the tail of another corpus
 * entry, then havoc). Every choice comes from the seeded Rng.
 */
import type { Rng } from './random.js';

/** afl-fuzz's interesting_8/16/32 (config.h INTERESTING_8/16/32). */
export const INTERESTING_8 = [-128, -1, 0, 1, 16, 32, 64, 100, 127];
export const INTERESTING_16 = [...INTERESTING_8, -32768, -129, 128, 255, 256, 512, 1000, 1024, 4096, 32767];
export const INTERESTING_32 = [...INTERESTING_16, -2147483648, -100663046, -32769, 32768, 65535, 65536, 100663045, 2147483647];

/** config.h ARITH_MAX. */
export const ARITH_MAX = 35;
/** config.h HAVOC_STACK_POW2. */
const HAVOC_STACK_POW2 = 7;
/** config.h HAVOC_BLK_SMALL/MEDIUM/LARGE. */
const HAVOC_BLK_SMALL = 32;
const HAVOC_BLK_MEDIUM = 128;
const HAVOC_BLK_LARGE = 1500;

export interface MutationContext {
  rng: Rng;
  /** Dictionary tokens (-x). */
  tokens: readonly Uint8Array[];
  /** Inputs never grow beyond this many bytes. */
  maxLength: number;
}

/** afl-fuzz's choose_block_len(). */
function blockLength(rng: Rng, limit: number): number {
  let lo: number, hi: number;
  switch (rng.below(3)) {
    case 0: lo = 1; hi = HAVOC_BLK_SMALL; break;
    case 1: lo = HAVOC_BLK_SMALL; hi = HAVOC_BLK_MEDIUM; break;
    default: lo = rng.oneIn(10) ? HAVOC_BLK_LARGE : HAVOC_BLK_MEDIUM; hi = rng.oneIn(10) ? HAVOC_BLK_LARGE * 2 : HAVOC_BLK_LARGE;
  }
  if (lo >= limit) lo = 1;
  return lo + rng.below(Math.min(hi, limit) - lo + 1);
}

function put(buf: Uint8Array, at: number, value: number, size: number, bigEndian: boolean): void {
  for (let i = 0; i < size; i++) buf[at + i] = (value >>> (8 * (bigEndian ? size - 1 - i : i))) & 0xff;
}

function get(buf: Uint8Array, at: number, size: number, bigEndian: boolean): number {
  let v = 0;
  for (let i = 0; i < size; i++) v |= buf[at + i]! << (8 * (bigEndian ? size - 1 - i : i));
  return v >>> 0;
}

function splice(buf: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(buf.length - remove + insert.length);
  out.set(buf.subarray(0, at), 0);
  out.set(insert, at);
  out.set(buf.subarray(at + remove), at + insert.length);
  return out;
}

/** One havoc operation on `buf`; returns the (possibly new) buffer. */
function havocOp(buf: Uint8Array, ctx: MutationContext): Uint8Array {
  const { rng, tokens } = ctx;
  const ops = tokens.length ? 17 : 15;
  if (buf.length === 0) return new Uint8Array([rng.below(256)]);
  const op = rng.below(ops);
  const len = buf.length;
  switch (op) {
    case 0: { // flip a bit
      const bit = rng.below(len * 8);
      buf[bit >> 3] ^= 0x80 >> (bit & 7);
      return buf;
    }
    case 1: // interesting byte
      buf[rng.below(len)] = INTERESTING_8[rng.below(INTERESTING_8.length)]! & 0xff;
      return buf;
    case 2: case 3: { // interesting word / dword, either byte order
      const size = op === 2 ? 2 : 4;
      if (len < size) return buf;
      const table = size === 2 ? INTERESTING_16 : INTERESTING_32;
      put(buf, rng.below(len - size + 1), table[rng.below(table.length)]!, size, rng.oneIn(2));
      return buf;
    }
    case 4: case 5: { // arithmetic on a byte
      const at = rng.below(len);
      const d = 1 + rng.below(ARITH_MAX);
      buf[at] = (buf[at]! + (op === 4 ? -d : d)) & 0xff;
      return buf;
    }
    case 6: case 7: { // arithmetic on a word or dword, either byte order
      const size = op === 6 ? 2 : 4;
      if (len < size) return buf;
      const at = rng.below(len - size + 1);
      const be = rng.oneIn(2);
      const d = (1 + rng.below(ARITH_MAX)) * (rng.oneIn(2) ? -1 : 1);
      put(buf, at, get(buf, at, size, be) + d, size, be);
      return buf;
    }
    case 8: // a random byte (never the same: XOR with 1..255)
      buf[rng.below(len)] ^= 1 + rng.below(255);
      return buf;
    case 9: case 10: { // delete a block (twice as likely as cloning, as in AFL)
      if (len < 2) return buf;
      const n = blockLength(rng, len - 1);
      return splice(buf, rng.below(len - n + 1), n, new Uint8Array(0));
    }
    case 11: { // clone a block, or insert a block of one byte value
      const n = rng.oneIn(4) ? blockLength(rng, HAVOC_BLK_LARGE) : blockLength(rng, len);
      if (len + n > ctx.maxLength) return buf;
      const block = n <= len && !rng.oneIn(4) ? buf.slice(rng.below(len - n + 1)).subarray(0, n) : new Uint8Array(n).fill(rng.oneIn(2) ? rng.below(256) : buf[rng.below(len)]!);
      return splice(buf, rng.below(len + 1), 0, block);
    }
    case 12: case 13: { // overwrite a block with another part of the input, or with one byte value
      if (len < 2) return buf;
      const n = blockLength(rng, len - 1);
      const from = rng.below(len - n + 1);
      const to = rng.below(len - n + 1);
      if (op === 12) buf.copyWithin(to, from, from + n);
      else buf.fill(rng.oneIn(2) ? rng.below(256) : buf[rng.below(len)]!, to, to + n);
      return buf;
    }
    case 14: { // nudge a byte by ±1 (a cheap step towards a value a compare wants)
      const at = rng.below(len);
      buf[at] = (buf[at]! + (rng.oneIn(2) ? 1 : -1)) & 0xff;
      return buf;
    }
    case 15: { // overwrite with a dictionary token
      const t = tokens[rng.below(tokens.length)]!;
      if (t.length > len) return buf;
      buf.set(t, rng.below(len - t.length + 1));
      return buf;
    }
    default: { // insert a dictionary token
      const t = tokens[rng.below(tokens.length)]!;
      if (len + t.length > ctx.maxLength) return buf;
      return splice(buf, rng.below(len + 1), 0, t);
    }
  }
}

/** Havoc: a copy of `input` with 2^(1..7) stacked random operations (their number in `rep.stacked`, AFL's "rep:"). */
export function havoc(input: Uint8Array, ctx: MutationContext, rep?: { stacked: number }): Uint8Array {
  let buf: Uint8Array = input.slice();
  // AFL stacks 2^(1..7) operations whatever the length; kmemsim's executions are slower, so short inputs
  // (where 128 stacked operations leave nothing of the original) get shallower stacks: 2^(1..log2(len)+1).
  const pow = Math.min(HAVOC_STACK_POW2, 1 + Math.floor(Math.log2(input.length + 1)));
  const stack = 1 << (1 + ctx.rng.below(pow));
  if (rep) rep.stacked = stack;
  for (let i = 0; i < stack; i++) buf = havocOp(buf, ctx);
  return buf.length > ctx.maxLength ? buf.slice(0, ctx.maxLength) : buf;
}

/**
 * Splicing (afl-fuzz's splicing stage): the head of `a` up to a split
 * point, the tail of `b` from it, when both are long enough; else null.
 */
export function spliceInputs(a: Uint8Array, b: Uint8Array, rng: Rng): Uint8Array | null {
  const n = Math.min(a.length, b.length);
  if (n < 2) return null;
  // afl-fuzz splits between the first and last differing bytes.
  let first = 0;
  while (first < n && a[first] === b[first]) first++;
  let last = n - 1;
  while (last > first && a[last] === b[last]) last--;
  if (first >= last) return null;
  const at = first + rng.below(last - first);
  const out = new Uint8Array(at + (b.length - at));
  out.set(a.subarray(0, at), 0);
  out.set(b.subarray(at), at);
  return out;
}
