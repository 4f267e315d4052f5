/**
 * x87 FPU instruction executors for the one- and two-operand arithmetic
 * beyond the four operations: FSQRT, FRNDINT, FSCALE, FXTRACT, FPREM,
 * FPREM1 and the transcendental instructions FSIN, FCOS, FSINCOS, FPTAN,
 * FPATAN, F2XM1, FYL2X, FYL2XP1 (SDM Vol. 2 under each mnemonic). The
 * values come from ops.ts and transcendental.ts; the prologue, the stack
 * checks and the exception responses are x87-exec.ts's (see its header).
 */
import type { CPU } from '../cpu.js';
import type { Instr } from '../instr.js';
import { type X87State, SW_C0, SW_C1, SW_C2, SW_C3, SW_CC } from './x87-state.js';
import { type Float80, type FpEnv, type FpStatus, Kind, kindOf, INDEFINITE } from './floatx80.js';
import { sqrt, roundToInt, scale, xtract, rem } from './ops.js';
import {
  f2xm1 as f2xm1Op, fyl2x as fyl2xOp, fyl2xp1 as fyl2xp1Op, fpatan as fpatanOp, fsin as fsinOp, fcos as fcosOp, fsincos as fsincosOp, fptan as fptanOp,
} from './transcendental.js';
import { x87, status, envOf, getST, setST, pushF, raise, underflow, overflow } from './x87-exec.js';

/** ST(0) ← op(ST(0)): FSQRT (D9 FA), FRNDINT (D9 FC). */
function unaryOp(op: (a: Float80, env: FpEnv, st: FpStatus) => Float80): (cpu: CPU, ins: Instr, f: X87State) => void {
  return (_cpu, _ins, f) => {
    if (f.isEmpty(0)) {
      if (underflow(f)) setST(f, 0, INDEFINITE);
      return;
    }
    const st = status();
    const r = op(getST(f, 0), envOf(f), st);
    if (raise(f, st)) setST(f, 0, r);
  };
}
export const fsqrt = x87(unaryOp(sqrt));
export const frndint = x87(unaryOp(roundToInt));

/** FSCALE (D9 FD): ST(0) ← ST(0) · 2^trunc(ST(1)). */
export const fscale = x87((_cpu, _ins, f) => {
  if (f.isEmpty(0) || f.isEmpty(1)) {
    if (underflow(f)) setST(f, 0, INDEFINITE);
    return;
  }
  const st = status();
  const r = scale(getST(f, 0), getST(f, 1), envOf(f), st);
  if (raise(f, st)) setST(f, 0, r);
});

/**
 * The stack fault of an instruction that replaces ST(0) and pushes one more
 * value (FXTRACT, FSINCOS, FPTAN): an empty ST(0) is an underflow, a full
 * ST(7) an overflow; masked, both results are the real indefinite.
 * True when it handled the instruction.
 */
function replaceAndPushFault(f: X87State): boolean {
  if (!f.isEmpty(0) && f.isEmpty(7)) return false;
  const masked = f.isEmpty(0) ? underflow(f) : overflow(f);
  if (masked) {
    setST(f, 0, INDEFINITE);
    pushF(f, INDEFINITE);
  }
  return true;
}

/**
 * FXTRACT (D9 F4): ST(0) ← exponent, then push the significand. An empty
 * ST(0) (underflow) or a full ST(7) (overflow): masked, both become the
 * real indefinite.
 */
export const fxtract = x87((_cpu, _ins, f) => {
  if (replaceAndPushFault(f)) return;
  const st = status();
  const r = xtract(getST(f, 0), envOf(f), st);
  if (!raise(f, st)) return;
  setST(f, 0, r.exponent);
  pushF(f, r.significand);
});

/**
 * FPREM (D9 F8) and FPREM1 (D9 F5): ST(0) ← partial remainder of ST(0) by
 * ST(1); C2 = reduction incomplete, C0/C3/C1 = quotient bits Q2/Q1/Q0.
 */
export const fprem = x87((_cpu, ins, f) => {
  if (f.isEmpty(0) || f.isEmpty(1)) {
    f.sw &= ~SW_C2; // C2 cleared, C0 and C3 kept (as the host x87 does)
    if (underflow(f)) setST(f, 0, INDEFINITE);
    return;
  }
  const st = status();
  const r = rem(getST(f, 0), getST(f, 1), ins.rm === 5, envOf(f), st);
  if (!raise(f, st)) return;
  setST(f, 0, r.value);
  const q = r.q;
  // A NaN result (a NaN operand, or an invalid one: ∞ rem y, x rem 0) leaves C0 and C3 as they were and
  // clears C2 and C1, as the host x87 does; the SDM leaves them undefined then.
  const keep = kindOf(r.value) === Kind.QNaN ? SW_C0 | SW_C3 : 0;
  f.sw = (f.sw & ~(SW_CC & ~keep)) | (r.c2 ? SW_C2 : 0) | (q & 4 ? SW_C0 : 0) | (q & 2 ? SW_C3 : 0) | (q & 1 ? SW_C1 : 0);
});

// ---------------------------------------------------------------------------------------------
// Transcendental instructions
// ---------------------------------------------------------------------------------------------

export const f2xm1 = x87(unaryOp(f2xm1Op));

/** FSIN (D9 FE), FCOS (D9 FF): C2 = 1 and ST(0) unchanged when |ST(0)| ≥ 2^63 (SDM Vol. 2 FSIN). */
export const fsinCos = x87((_cpu, ins, f) => {
  if (f.isEmpty(0)) {
    f.sw &= ~SW_C2;
    if (underflow(f)) setST(f, 0, INDEFINITE);
    return;
  }
  const st = status();
  const r = (ins.rm === 6 ? fsinOp : fcosOp)(getST(f, 0), envOf(f), st);
  if (!raise(f, st)) return;
  f.sw = r.c2 ? f.sw | SW_C2 : f.sw & ~SW_C2;
  if (!r.c2) setST(f, 0, r.value);
});

/**
 * FSINCOS (D9 FB): ST(0) ← sin, then cos is pushed; FPTAN (D9 F2): ST(0) ←
 * tan, then 1.0 is pushed. Out of range (C2 = 1): nothing changes. An empty
 * ST(0) or a full ST(7): masked, both become the real indefinite.
 */
export const fsincosTan = x87((_cpu, ins, f) => {
  if (f.isEmpty(0) || !f.isEmpty(7)) f.sw &= ~SW_C2;
  if (replaceAndPushFault(f)) return;
  const st = status();
  const a = getST(f, 0);
  let top: Float80, pushed: Float80, c2: number;
  if (ins.rm === 3) {
    const r = fsincosOp(a, envOf(f), st);
    top = r.sin;
    pushed = r.cos;
    c2 = r.c2;
  } else {
    const r = fptanOp(a, envOf(f), st);
    top = r.value;
    pushed = r.push;
    c2 = r.c2;
  }
  if (!raise(f, st)) return;
  f.sw = c2 ? f.sw | SW_C2 : f.sw & ~SW_C2;
  if (c2) return;
  setST(f, 0, top);
  pushF(f, pushed);
});

/** FYL2X (D9 F1), FYL2XP1 (D9 F9), FPATAN (D9 F3): x = ST(0), y = ST(1); ST(1) ← result, then pop. */
export const fyl2xAtan = x87((_cpu, ins, f) => {
  if (f.isEmpty(0) || f.isEmpty(1)) {
    if (!underflow(f)) return;
    setST(f, 1, INDEFINITE);
    f.pop();
    return;
  }
  const st = status();
  const op = ins.reg === 7 ? fyl2xp1Op : ins.rm === 1 ? fyl2xOp : fpatanOp; // D9 F9, D9 F1, D9 F3
  const r = op(getST(f, 0), getST(f, 1), envOf(f), st);
  if (!raise(f, st)) return;
  setST(f, 1, r);
  f.pop();
});
