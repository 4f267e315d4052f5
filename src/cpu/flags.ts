/**
 * EFLAGS bits (Intel SDM Vol. 1 §3.4.3) and the lazy-flag kinds.
 *
 * Arithmetic instructions do not compute CF/PF/AF/ZF/SF/OF when they run;
 * they record the operation, its operands and result, and the flags are
 * derived only when something reads them (Jcc, SETcc, PUSHF, ADC, ...).
 * Most results are overwritten before anyone looks, so this is the single
 * biggest saving in an x86 interpreter.
 */
export const CF = 1 << 0;
export const PF = 1 << 2;
export const AF = 1 << 4;
export const ZF = 1 << 6;
export const SF = 1 << 7;
export const TF = 1 << 8;
export const IF = 1 << 9;
export const DF = 1 << 10;
export const OF = 1 << 11;
export const IOPL = 3 << 12;
export const NT = 1 << 14;
export const RF = 1 << 16;
export const VM = 1 << 17;
export const AC = 1 << 18;
export const VIF = 1 << 19;
export const VIP = 1 << 20;
export const ID = 1 << 21;

/** The six status flags (Vol. 1 §3.4.3.1). */
export const ARITH = CF | PF | AF | ZF | SF | OF;
/** Bit 1 always reads as 1. */
export const FIXED_ONE = 1 << 1;

/** How CF, OF and AF are derived from the recorded operation. */
export const enum Lazy {
  Add = 0,
  Adc = 1,
  Sub = 2,
  Sbb = 3,
  /** AND/OR/XOR/TEST: CF = OF = 0, AF = 0 (AF is undefined in the SDM; hardware clears it). */
  Logic = 4,
  /** INC and DEC keep CF; the recorded operation is an add/sub of 1. */
  Inc = 5,
  Dec = 6,
  Neg = 7,
}

/** Parity of the low byte of every value 0..255: PF set when the count of 1 bits is even. */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i;
  b ^= b >> 4;
  b ^= b >> 2;
  b ^= b >> 1;
  PARITY[i] = b & 1 ? 0 : PF;
}

export function flagsToString(f: number): string {
  const names: [number, string][] = [[OF, 'OF'], [DF, 'DF'], [IF, 'IF'], [TF, 'TF'], [SF, 'SF'], [ZF, 'ZF'], [AF, 'AF'], [PF, 'PF'], [CF, 'CF']];
  return names.filter(([b]) => f & b).map(([, n]) => n).join(' ');
}
