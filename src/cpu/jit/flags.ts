/**
 * Lazy flags in the generated code's locals. An inline arithmetic
 * instruction does not store the CPU's six lazy-flag fields (CPU.setLazy);
 * it leaves its operands and result in the locals `fd`, `fs`, `fr`, and
 * the compiler remembers, at compile time, what they mean (the Lazy kind,
 * the operand size and which status flags are pending). The CPU's fields
 * are written only where something outside the generated code could look
 * at them: at every exit, before an executor call, before CPU.cond, and in
 * the catch of a fault (from a per-instruction table, so the handler sees
 * the flags as they were before the faulting instruction). A Jcc, SETcc or
 * CMOVcc after an inline instruction computes its condition from the
 * locals (SDM Vol. 1 Appendix B), as CPU.cond would from the fields.
 */
import { ARITH, CF, OF, SF, ZF, Lazy } from '../flags.js';

/** The flags pending in the locals: null when the CPU's own fields hold the state. */
export interface PendingFlags {
  readonly kind: Lazy;
  readonly size: 1 | 2 | 4;
  /** The status flags derived from the locals; the others are in cpu.flags. */
  readonly mask: number;
}

/** The pending state as one int (for the per-instruction fault table): kind | size << 4 | mask << 8, or -1. */
export function encodePending(p: PendingFlags | null): number {
  return p === null ? -1 : p.kind | (p.size << 4) | (p.mask << 8);
}

/** Code storing the pending state into the CPU's lazy-flag fields (what CPU.setLazy would have stored). */
export function writeBack(p: PendingFlags): string {
  return `cpu.lfKind = ${p.kind}; cpu.lfDst = fd; cpu.lfSrc = fs; cpu.lfRes = fr; cpu.lfSize = ${p.size}; cpu.lazyMask = ${p.mask};`;
}

/** The same from the fault table's code `p` (a local of the catch). */
export const WRITE_BACK_DYNAMIC = 'if (p >= 0) { cpu.lfKind = p & 15; cpu.lfSize = (p >> 4) & 15; cpu.lazyMask = p >> 8; cpu.lfDst = fd; cpu.lfSrc = fs; cpu.lfRes = fr; }';

const sign = (size: number) => (size === 4 ? '0x80000000' : size === 2 ? '0x8000' : '0x80');
const fromFlags = (bit: number) => `(cpu.flags & ${bit}) !== 0`;

/** ZF, SF, CF, OF of the pending state as boolean expressions (null: PF and what cannot be derived inline). */
function flagExpr(p: PendingFlags, bit: number): string {
  if (!(p.mask & bit)) return fromFlags(bit);
  const s = p.size;
  const m = s === 4 ? '' : s === 2 ? ' & 0xffff' : ' & 0xff';
  switch (bit) {
    case ZF: return s === 4 ? 'fr === 0' : `(fr${m}) === 0`;
    case SF: return s === 4 ? 'fr < 0' : `(fr & ${sign(s)}) !== 0`;
    case CF:
      // The locals of 8/16-bit forms are masked like the CPU's fields, so unsigned compares need no >>> 0.
      switch (p.kind) {
        case Lazy.Add: return s === 4 ? '(fr >>> 0) < (fd >>> 0)' : 'fr < fd';
        case Lazy.Sub: return s === 4 ? '(fd >>> 0) < (fs >>> 0)' : 'fd < fs';
        case Lazy.Logic: return 'false';
        default: throw new Error(`jit: CF of lazy kind ${p.kind} is not derived inline`);
      }
    default: // OF
      switch (p.kind) {
        case Lazy.Add: case Lazy.Inc: return s === 4 ? '((fd ^ fr) & (fs ^ fr)) < 0' : `((fd ^ fr) & (fs ^ fr) & ${sign(s)}) !== 0`;
        case Lazy.Sub: case Lazy.Dec: return s === 4 ? '((fd ^ fs) & (fd ^ fr)) < 0' : `((fd ^ fs) & (fd ^ fr) & ${sign(s)}) !== 0`;
        case Lazy.Logic: return 'false';
        default: throw new Error(`jit: OF of lazy kind ${p.kind} is not derived inline`);
      }
  }
}

/** Kinds whose flags the compiler keeps in locals (ADC/SBB and the rest go through the executors). */
export function inlineKind(kind: Lazy): boolean {
  return kind === Lazy.Add || kind === Lazy.Sub || kind === Lazy.Logic || kind === Lazy.Inc || kind === Lazy.Dec;
}

/**
 * Condition `cc` (the low nibble of Jcc/SETcc/CMOVcc) from the pending
 * state, or null when it needs PF (then the caller writes back and asks
 * CPU.cond).
 */
export function condExpr(p: PendingFlags, cc: number): string | null {
  const t = cc >> 1;
  if (t === 5) return null; // P/NP
  let e: string;
  const allSub = p.kind === Lazy.Sub && p.mask === ARITH;
  if (allSub && (t === 1 || t === 3 || t === 6 || t === 7)) {
    // Straight from the operands of a CMP/SUB: the compare itself.
    const sh = 32 - p.size * 8;
    const sx = (v: string) => (sh === 0 ? v : `(${v} << ${sh})`);
    const ux = (v: string) => (p.size === 4 ? `(${v} >>> 0)` : v);
    e = t === 1 ? `${ux('fd')} < ${ux('fs')}` : t === 3 ? `${ux('fd')} <= ${ux('fs')}` : t === 6 ? `${sx('fd')} < ${sx('fs')}` : `${sx('fd')} <= ${sx('fs')}`;
  } else {
    switch (t) {
      case 0: e = flagExpr(p, OF); break;
      case 1: e = flagExpr(p, CF); break;
      case 2: e = flagExpr(p, ZF); break;
      case 3: e = `(${flagExpr(p, CF)}) || (${flagExpr(p, ZF)})`; break;
      case 4: e = flagExpr(p, SF); break;
      case 6: e = `(${flagExpr(p, SF)}) !== (${flagExpr(p, OF)})`; break;
      default: e = `(${flagExpr(p, ZF)}) || ((${flagExpr(p, SF)}) !== (${flagExpr(p, OF)}))`; break;
    }
  }
  return cc & 1 ? `!(${e})` : `(${e})`;
}

/** CF of the pending state as 0/1 expression (INC/DEC keep it: it moves to cpu.flags). */
export function carryExpr(p: PendingFlags): string {
  return `((${flagExpr(p, CF)}) ? ${CF} : 0)`;
}

export { ARITH, CF, OF, SF, ZF, Lazy };
