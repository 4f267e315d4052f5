/**
 * The x87 FPU's architectural state (Intel SDM Vol. 1 §8.1): eight 80-bit
 * physical data registers R0–R7 addressed as a stack through TOP, the
 * control word, the status word, the tag word and the last-instruction
 * pointers that FSTENV/FSAVE store (§8.1.8–8.1.10).
 *
 * Registers are kept as their 80-bit encoding: `se[i]` holds the sign (bit
 * 15) and the biased exponent, `sig[i]` the 64-bit significand with its
 * explicit integer bit. Only "empty or not" is kept per register; the
 * two-bit tags FSTENV/FSAVE store are computed from the contents, as the
 * processor does (§8.1.7).
 */

/** Status word bits (SDM Vol. 1 Figure 8-4). */
export const SW_IE = 1 << 0, SW_DE = 1 << 1, SW_ZE = 1 << 2, SW_OE = 1 << 3, SW_UE = 1 << 4, SW_PE = 1 << 5;
export const SW_SF = 1 << 6, SW_ES = 1 << 7, SW_C0 = 1 << 8, SW_C1 = 1 << 9, SW_C2 = 1 << 10, SW_C3 = 1 << 14, SW_B = 1 << 15;
/** The six exception flags (and, in the control word, their masks). */
export const EXC_MASK = 0x3f;
export const SW_CC = SW_C0 | SW_C1 | SW_C2 | SW_C3;

/** Tag values as FSTENV/FSAVE store them (SDM Vol. 1 Figure 8-7). */
export const TAG_VALID = 0, TAG_ZERO = 1, TAG_SPECIAL = 2, TAG_EMPTY = 3;

/** Control word after FINIT/FNINIT (SDM Vol. 1 §8.1.5, Table 8-1 "FINIT"): all masked, 64-bit precision, nearest. */
export const CW_INIT = 0x037f;

export class X87State {
  /** Sign (bit 15) and biased exponent of R0–R7. */
  readonly se = new Uint16Array(8);
  /** 64-bit significands of R0–R7, integer bit explicit. */
  readonly sig = new BigUint64Array(8);
  /** Bit i set: physical register Ri is empty. */
  empty = 0;
  /** Stack top (physical register number of ST(0)). */
  top = 0;
  /** Control word (bit 6 reads as 1, bits 13–15 as 0). */
  cw = 0x0040;
  /** Status word without TOP (bits 11–13 kept 0 here; see `statusWord`). */
  sw = 0;
  /** Last non-control instruction: offset, CS selector, opcode (11 bits); its memory operand: offset, selector. */
  fip = 0;
  fcs = 0;
  fop = 0;
  fdp = 0;
  fds = 0;

  constructor() {
    this.powerOn();
  }

  /** RESET state (SDM Vol. 3 Table 9-1): CW 0040H, SW 0, tag word 5555H (every register +0.0, tagged zero). */
  powerOn(): void {
    this.se.fill(0);
    this.sig.fill(0n);
    this.empty = 0;
    this.top = 0;
    this.cw = 0x0040;
    this.sw = 0;
    this.fip = this.fcs = this.fop = this.fdp = this.fds = 0;
  }

  /** FNINIT (SDM Vol. 2 FINIT/FNINIT): CW 037FH, SW 0, all registers empty, pointers cleared. */
  init(): void {
    this.cw = CW_INIT;
    this.sw = 0;
    this.top = 0;
    this.empty = 0xff;
    this.fip = this.fcs = this.fop = this.fdp = this.fds = 0;
  }

  /**
   * Copy another FPU's whole state into this one: what a kernel's context
   * switch does with FNSAVE/FRSTOR (or FXSAVE), and fork() with the parent's
   * state. `new X87State().copyFrom(cpu.fpu)` keeps a task's state aside.
   */
  copyFrom(o: X87State): this {
    this.se.set(o.se);
    this.sig.set(o.sig);
    this.empty = o.empty;
    this.top = o.top;
    this.cw = o.cw;
    this.sw = o.sw;
    this.fip = o.fip;
    this.fcs = o.fcs;
    this.fop = o.fop;
    this.fdp = o.fdp;
    this.fds = o.fds;
    return this;
  }

  /** Physical register number of ST(i). */
  phys(i: number): number {
    return (this.top + i) & 7;
  }
  isEmpty(i: number): boolean {
    return ((this.empty >> ((this.top + i) & 7)) & 1) !== 0;
  }

  /** The status word as FNSTSW stores it: TOP in bits 11–13, B a copy of ES (SDM Vol. 1 §8.1.3). */
  statusWord(): number {
    const sw = this.sw & ~(7 << 11) & ~SW_B;
    return sw | (this.top << 11) | (sw & SW_ES ? SW_B : 0);
  }
  /** Load a status word image (FLDENV/FRSTOR): TOP from bits 11–13. */
  setStatusWord(v: number): void {
    this.top = (v >> 11) & 7;
    this.sw = v & ~(7 << 11) & 0xffff;
    this.updateES();
  }

  /**
   * ES (and B) summarize the exception flags not masked in the control word
   * (SDM Vol. 1 §8.1.3.6): recomputed whenever flags or masks change, so
   * FLDCW unmasking a pending flag makes the next waiting instruction fault.
   */
  updateES(): void {
    if (this.sw & ~this.cw & EXC_MASK) this.sw |= SW_ES | SW_B;
    else this.sw &= ~(SW_ES | SW_B);
  }

  setControlWord(v: number): void {
    // Bit 6 is reserved and reads as 1, bits 13–15 are reserved and read as 0 on the P6 family.
    this.cw = (v & 0x1f3f) | 0x40;
    this.updateES();
  }

  /** Precision control (bits 8–9: 0 = 24, 2 = 53, 3 = 64 bits) and rounding control (bits 10–11). */
  get pc(): number {
    return (this.cw >> 8) & 3;
  }
  get rc(): number {
    return (this.cw >> 10) & 3;
  }

  /** The tag of physical register `p` from its contents (SDM Vol. 1 §8.1.7). */
  tagOf(p: number): number {
    if ((this.empty >> p) & 1) return TAG_EMPTY;
    const e = this.se[p] & 0x7fff;
    const s = this.sig[p];
    if (e === 0x7fff) return TAG_SPECIAL;
    if (e === 0) return s === 0n ? TAG_ZERO : TAG_SPECIAL;
    return s >> 63n ? TAG_VALID : TAG_SPECIAL; // an unnormal (integer bit clear) is special
  }

  /** The full tag word (FSTENV/FSAVE), two bits per physical register. */
  tagWord(): number {
    let t = 0;
    for (let p = 0; p < 8; p++) t |= this.tagOf(p) << (2 * p);
    return t;
  }
  /** FLDENV/FRSTOR: only "empty" (11) is taken from the image; other tags follow the contents. */
  setTagWord(t: number): void {
    let e = 0;
    for (let p = 0; p < 8; p++) if (((t >> (2 * p)) & 3) === TAG_EMPTY) e |= 1 << p;
    this.empty = e;
  }

  /** Write ST(i) (marks it non-empty). */
  setST(i: number, se: number, sig: bigint): void {
    const p = (this.top + i) & 7;
    this.se[p] = se;
    this.sig[p] = sig;
    this.empty &= ~(1 << p);
  }
  /** Mark ST(i) empty (FFREE). */
  free(i: number): void {
    this.empty |= 1 << ((this.top + i) & 7);
  }
  /** Pop: ST(0) becomes empty, TOP + 1. */
  pop(): void {
    this.empty |= 1 << this.top;
    this.top = (this.top + 1) & 7;
  }
  /** Push `se:sig` (TOP − 1, then ST(0) = value). */
  push(se: number, sig: bigint): void {
    this.top = (this.top - 1) & 7;
    this.setST(0, se, sig);
  }
}
