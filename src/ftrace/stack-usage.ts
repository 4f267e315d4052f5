/**
 * How big a function's stack frame is, for the poisoner (./poison.ts):
 * Ingo Molnar's 2008 idea needs "a stack frame size parameter so it would
 * only involve the stack frame that is entered/exited".
 *
 * Two sources, best first:
 *  1. gcc's `-fstack-usage` output (`.su`), one line per function:
 *     `file.c:LINE:COL:name<TAB>bytes<TAB>qualifiers` where the qualifiers
 *     are `static`, `dynamic` or `dynamic,bounded`. On i386 the bytes
 *     include the return address (a frameless leaf says 4). A "dynamic"
 *     frame (alloca, VLAs, pushes for outgoing arguments) is bigger at
 *     times; the static part is what is known.
 *  2. Prologue analysis of the code itself, for objects without `.su`
 *     data: after the (NOPed) `call __fentry__`, count `push %reg`, add a
 *     `sub $N,%esp` / `lea -N(%esp),%esp` / `enter $N,$0`, and the return
 *     address; stop at the first other instruction. `and $-A,%esp`
 *     (realignment) adds its worst case A−4.
 */

/** One `.su` line. */
export interface StackUsageEntry {
  file: string;
  line: number;
  column: number;
  function: string;
  /** Frame size in bytes (including the return address on i386). */
  bytes: number;
  /** `static`, `dynamic`, `bounded`. */
  qualifiers: string[];
}

/** Parse `.su` text; lines that do not match are skipped. Keyed by function name (the first entry of a name wins). */
export function parseStackUsage(text: string): Map<string, StackUsageEntry> {
  const out = new Map<string, StackUsageEntry>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line) continue;
    const fields = line.split('\t');
    if (fields.length < 2) continue;
    const loc = fields[0]!;
    const bytes = Number(fields[1]);
    if (!Number.isInteger(bytes) || bytes < 0) continue;
    // file:line:col:name — the file name may itself contain ':'; the name (C) does not.
    const m = /^(.*):(\d+):(\d+):([^:]+)$/.exec(loc);
    if (!m) continue;
    const name = m[4]!;
    if (out.has(name)) continue;
    out.set(name, {
      file: m[1]!, line: Number(m[2]), column: Number(m[3]), function: name, bytes,
      qualifiers: (fields[2] ?? '').split(',').filter(Boolean),
    });
  }
  return out;
}

/** The result of prologue analysis. */
export interface PrologueFrame {
  /** Frame bytes including the return address. */
  bytes: number;
  /** Bytes of code the prologue spans (from the function's first byte). */
  length: number;
  /** The prologue was understood up to a non-prologue instruction (false: it ran out of bytes). */
  complete: boolean;
}

const FENTRY_CALL = 0xe8;
const NOP5 = [0x0f, 0x1f, 0x44, 0x00, 0x00];

/**
 * Frame size from the code at a function's entry (`code[0]` is its first
 * byte). Understands what gcc -m32 prologues are made of: `call __fentry__`
 * or its NOP, `push %reg` (50–57), `mov %esp,%ebp` (89 E5 / 8B EC),
 * `sub $imm,%esp` (83 EC ib / 81 EC id), `lea -N(%esp),%esp`
 * (8D 64 24 disp8 / 8D A4 24 disp32), `enter $N,$0` (C8 iw 00),
 * `and $-A,%esp` (83 E4 ib), and register saves into the new frame
 * (`mov %reg,disp(%esp)`, 89 /r with SIB base ESP) which do not change it.
 */
export function analyzePrologue(code: Uint8Array): PrologueFrame {
  let i = 0;
  let bytes = 4; // the return address
  const at = (k: number): number => (k < code.length ? code[k]! : -1);
  const s8 = (v: number): number => (v >= 0x80 ? v - 0x100 : v);
  const s32 = (k: number): number => (at(k) | (at(k + 1) << 8) | (at(k + 2) << 16) | (at(k + 3) << 24));
  // The fentry site: a call (tracing on) or the 5-byte NOP (off).
  if (at(0) === FENTRY_CALL) i = 5;
  else if (NOP5.every((b, k) => at(k) === b)) i = 5;
  for (let n = 0; n < 32; n++) {
    const b = at(i);
    if (b < 0) return { bytes, length: i, complete: false };
    if (b >= 0x50 && b <= 0x57) {
      bytes += 4; // push %reg
      i += 1;
    } else if ((b === 0x89 && at(i + 1) === 0xe5) || (b === 0x8b && at(i + 1) === 0xec)) {
      i += 2; // mov %esp,%ebp
    } else if (b === 0x83 && at(i + 1) === 0xec) {
      bytes += at(i + 2); // sub $imm8,%esp (imm8 sign-extended; frames are positive)
      i += 3;
    } else if (b === 0x81 && at(i + 1) === 0xec) {
      bytes += s32(i + 2) >>> 0;
      i += 6;
    } else if (b === 0x8d && at(i + 1) === 0x64 && at(i + 2) === 0x24) {
      bytes += Math.max(0, -s8(at(i + 3))); // lea disp8(%esp),%esp
      i += 4;
    } else if (b === 0x8d && at(i + 1) === 0xa4 && at(i + 2) === 0x24) {
      bytes += Math.max(0, -s32(i + 3)); // lea disp32(%esp),%esp
      i += 7;
    } else if (b === 0xc8) {
      bytes += 4 + (at(i + 1) | (at(i + 2) << 8)) + 4 * (at(i + 3) & 0x1f); // enter: push %ebp, the frame, the display
      i += 4;
    } else if (b === 0x83 && at(i + 1) === 0xe4) {
      const a = -s8(at(i + 2)); // and $-A,%esp
      if (a > 4) bytes += a - 4;
      i += 3;
    } else if (b === 0x89 && (at(i + 1) & 0x07) === 4 && (at(i + 1) >> 6) !== 3 && (at(i + 2) & 0x07) === 4) {
      // mov %reg,disp(%esp): a callee-saved register stored into the frame just made
      const mod = at(i + 1) >> 6;
      i += 3 + (mod === 1 ? 1 : mod === 2 ? 4 : 0);
    } else {
      return { bytes, length: i, complete: true };
    }
  }
  return { bytes, length: i, complete: true };
}
