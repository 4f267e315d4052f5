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
import type { BytesPair, CompareLog, IntegerPair } from './cmplog.js';

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

/** The (pattern, replacement) byte encodings of `from` → `to` for one integer compare. */
export function integerEncodings(from: number, to: number, size: 1 | 2 | 4): { pattern: Uint8Array; replacement: Uint8Array }[] {
  const out: { pattern: Uint8Array; replacement: Uint8Array }[] = [];
  for (const width of [...new Set([size, 2, 1])].filter((w) => w <= size)) {
    const p = narrowed(from, size, width);
    if (p === null) continue;
    for (const delta of [0, 1, -1]) {
      const t = ((to + delta) >>> 0) & mask(size);
      const r = narrowed(t, size, width);
      if (r === null) continue;
      for (const be of width > 1 ? [false, true] : [false]) out.push({ pattern: encode(p, width, be), replacement: encode(r, width, be) });
    }
  }
  // A value whose narrow and wide forms coincide (0x41 → 0x5a as one byte) is listed once.
  const seen = new Set<string>();
  return out.filter((e) => {
    const k = Buffer.from(e.pattern).toString('hex') + '/' + Buffer.from(e.replacement).toString('hex');
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
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
 * of its cmplog run (deterministic: pairs in log order, positions
 * ascending; duplicates and the input itself left out).
 */
export function inputToState(input: Uint8Array, log: Pick<CompareLog, 'integers' | 'strings'>, opts: InputToStateOptions): Replacement[] {
  const limit = opts.limit ?? 1024;
  const seen = new Set<string>([Buffer.from(input).toString('latin1')]);
  const out: Replacement[] = [];
  const add = (pos: number, bytes: Uint8Array): boolean => {
    const data = replaced(input, pos, bytes, opts.maxLength);
    if (data === null) return true;
    const k = Buffer.from(data).toString('latin1');
    if (seen.has(k)) return true;
    seen.add(k);
    out.push({ data, pos });
    return out.length < limit;
  };
  for (const p of log.integers) if (!integerPair(input, p, add)) return out;
  for (const p of log.strings) if (!bytesPair(input, p, add)) return out;
  return out;
}

function integerPair(input: Uint8Array, p: IntegerPair, add: (pos: number, bytes: Uint8Array) => boolean): boolean {
  for (const [from, to] of [[p.left, p.right], [p.right, p.left]] as const) {
    for (const e of integerEncodings(from, to, p.size)) {
      for (const pos of occurrences(input, e.pattern)) if (!add(pos, e.replacement)) return false;
    }
  }
  return true;
}

function bytesPair(input: Uint8Array, p: BytesPair, add: (pos: number, bytes: Uint8Array) => boolean): boolean {
  for (const [from, to] of [[p.left, p.right], [p.right, p.left]] as const) {
    for (const pos of prefixOccurrences(input, from)) if (!add(pos, to)) return false;
  }
  return true;
}
