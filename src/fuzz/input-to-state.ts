/**
 * Input-to-state replacement (RedQueen, AFL++'s cmplog stage "its";
 * Aschermann et al., NDSS 2019): an operand of a logged compare that is
 * found in the input, as bytes, is probably the input's own value reaching
 * the compare unchanged; replacing it by the other operand makes the
 * compare come out the other way. For every logged pair, in both
 * directions, the operand is looked for as:
 *
 * - its `size` bytes little-endian, and byte-swapped (big-endian fields,
 *   ntohl());
 * - a narrower field (1 or 2 bytes) when the value is that field zero- or
 *   sign-extended (MOVZX/MOVSX before a 32-bit compare), when the other
 *   operand fits the same field;
 *
 * and replaced by the other operand, and by it plus and minus one (a `<`
 * or `>` compare, which equality alone does not pass: the compare's
 * condition is not logged, so all three are tried). Byte strings from
 * memcmp-likes and REPE CMPS are looked for whole, or as a prefix that
 * reaches the input's end (the routine read past a short input), and
 * replaced by the other string, growing the input when needed.
 * Colourization (AFL++'s step that randomizes the input first, to tell
 * input bytes from constants) is not done: every match is tried.
 */
import type { CompareLog } from './cmplog.js';

/** One input to try, and the op: field of its file name. */
export interface Replacement {
  data: Uint8Array;
  /** Where the replaced bytes start. */
  pos: number;
}

export interface InputToStateOptions {
  maxLength: number;
  /** The most candidates for one input (AFL++ bounds its stage by time; kmemsim by count). Default 1024. */
  limit?: number;
}

/** `v` as `width` bytes, little- or big-endian. */
export function encode(v: number, width: number, bigEndian: boolean): Uint8Array {
  const out = new Uint8Array(width);
  for (let i = 0; i < width; i++) {
    const b = Math.floor((v >>> 0) / 2 ** (8 * i)) & 0xff;
    out[bigEndian ? width - 1 - i : i] = b;
  }
  return out;
}

const mask = (width: number): number => (width === 4 ? 0xffffffff : (1 << (8 * width)) - 1);

/** `v` (a `size`-byte value) as a `width`-byte field that was zero- or sign-extended to it; null when it is not one. */
export function narrowed(v: number, size: number, width: number): number | null {
  if (width >= size) return v >>> 0;
  const low = v & mask(width);
  if (low === v) return low; // zero-extended
  const sign = 2 ** (8 * width - 1);
  const sext = low >= sign ? (low + (mask(size) - mask(width))) >>> 0 : low;
  return (size === 4 ? sext >>> 0 : sext & mask(size)) === (v >>> 0) ? low : null;
}

/** One pattern → replacement move, and its rank (lower first: see inputToState). */
export interface Encoding {
  pattern: Uint8Array;
  replacement: Uint8Array;
  rank: number;
}

/** The (pattern, replacement) byte encodings of `from` → `to` for one integer compare, each listed once. */
export function integerEncodings(from: number, to: number, size: 1 | 2 | 4): Encoding[] {
  const out: Encoding[] = [];
  const seen = new Set<string>();
  for (const width of [...new Set([size, 2, 1])].filter((w) => w <= size)) {
    const p = narrowed(from, size, width);
    if (p === null) continue;
    for (const delta of [0, 1, -1]) {
      const t = ((to + delta) >>> 0) & mask(size);
      const r = narrowed(t, size, width);
      if (r === null) continue;
      for (const be of width > 1 ? [false, true] : [false]) {
        const e = { pattern: encode(p, width, be), replacement: encode(r, width, be), rank: (delta === 0 ? 1 : 3) + (width === 1 ? 1 : 0) };
        // A value whose narrow and wide forms coincide (0x41 → 0x5a as one byte) is listed once.
        const k = Buffer.from(e.pattern).toString('hex') + '/' + Buffer.from(e.replacement).toString('hex');
        if (seen.has(k)) continue;
        seen.add(k);
        out.push(e);
      }
    }
  }
  return out;
}

/** Positions where `pattern` occurs in `input`. */
function occurrences(input: Uint8Array, pattern: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + pattern.length <= input.length; i++) {
    let j = 0;
    while (j < pattern.length && input[i + j] === pattern[j]) j++;
    if (j === pattern.length) out.push(i);
  }
  return out;
}

/** Positions where `pattern` occurs whole, or a prefix of it ends the input. */
function prefixOccurrences(input: Uint8Array, pattern: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < input.length; i++) {
    let j = 0;
    while (j < pattern.length && i + j < input.length && input[i + j] === pattern[j]) j++;
    if (j === pattern.length || (j > 0 && i + j === input.length)) out.push(i);
  }
  return out;
}

/** `input` with `bytes` written at `pos` (grown when they run past its end; null past maxLength). */
function replaced(input: Uint8Array, pos: number, bytes: Uint8Array, maxLength: number): Uint8Array | null {
  const len = Math.max(input.length, pos + bytes.length);
  if (len > maxLength) return null;
  const out = new Uint8Array(len);
  out.set(input);
  out.set(bytes, pos);
  return out;
}

/**
 * The inputs input-to-state replacement makes of `input` from the pairs
 * of its cmplog run, deterministically, most promising first: byte
 * strings, then exact replacements of 2- and 4-byte operands, of 1-byte
 * ones, then the ±1 variants (2–4 bytes, then 1); within a rank, pairs in
 * log order and positions ascending. Duplicates and the input itself are
 * left out; at most `limit`.
 */
export function inputToState(input: Uint8Array, log: Pick<CompareLog, 'integers' | 'strings'>, opts: InputToStateOptions): Replacement[] {
  const limit = opts.limit ?? 1024;
  const moves: Encoding[] = [];
  for (const p of log.strings) {
    moves.push({ pattern: p.left, replacement: p.right, rank: 0 }, { pattern: p.right, replacement: p.left, rank: 0 });
  }
  for (const p of log.integers) moves.push(...integerEncodings(p.left, p.right, p.size), ...integerEncodings(p.right, p.left, p.size));
  moves.sort((a, b) => a.rank - b.rank); // stable: log order within a rank
  const seen = new Set<string>([Buffer.from(input).toString('latin1')]);
  const out: Replacement[] = [];
  for (const m of moves) {
    // A string may stand at the input's end cut short (the routine read past it); an integer is whole.
    const at = m.rank === 0 ? prefixOccurrences(input, m.pattern) : occurrences(input, m.pattern);
    for (const pos of at) {
      const data = replaced(input, pos, m.replacement, opts.maxLength);
      if (data === null) continue;
      const k = Buffer.from(data).toString('latin1');
      if (seen.has(k)) continue;
      seen.add(k);
      out.push({ data, pos });
      if (out.length >= limit) return out;
    }
  }
  return out;
}
