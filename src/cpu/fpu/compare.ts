/**
 * Comparisons and classification: FCOM/FCOMP/FCOMPP/FICOM/FTST (ordered: any NaN is invalid),
 * FUCOM/FUCOMP/FUCOMPP (unordered: only SNaNs are invalid), FCOMI/FUCOMI (same rules, flags go to
 * EFLAGS) and FXAM. SDM Vol. 2, FCOM/FUCOM/FCOMI/FXAM; Vol. 1, 8.1.3.
 */
import { FE_DENORMAL, FE_INVALID, Kind, effExp, kindOf } from './floatx80.js';
import type { Float80, FpStatus } from './floatx80.js';

/** The outcome of a comparison. */
export const enum Relation {
  Greater = 0,
  Less = 1,
  Equal = 2,
  Unordered = 3,
}

/** Status-word condition-code bits. */
export const SW_C0 = 0x0100;
export const SW_C1 = 0x0200;
export const SW_C2 = 0x0400;
export const SW_C3 = 0x4000;

/**
 * Compare a with b. `quietNaNsInvalid`: true for FCOM/FCOMI/FTST/FICOM (a QNaN operand raises IE
 * too), false for FUCOM/FUCOMI (only SNaNs and unsupported encodings do). Denormal operands raise
 * DE. C1 is cleared by every comparison (the caller sets status.c1 from here).
 */
export function compare(a: Float80, b: Float80, quietNaNsInvalid: boolean, st: FpStatus): Relation {
  st.c1 = 0;
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka === Kind.Unsupported || kb === Kind.Unsupported || ka === Kind.SNaN || kb === Kind.SNaN) {
    st.flags |= FE_INVALID;
    return Relation.Unordered;
  }
  if (ka === Kind.QNaN || kb === Kind.QNaN) {
    if (quietNaNsInvalid) st.flags |= FE_INVALID;
    return Relation.Unordered;
  }
  if (ka === Kind.Denormal || ka === Kind.PseudoDenormal || kb === Kind.Denormal || kb === Kind.PseudoDenormal) {
    st.flags |= FE_DENORMAL;
  }
  const c = compareMagnitudeSigned(a, ka, b, kb);
  return c > 0 ? Relation.Greater : c < 0 ? Relation.Less : Relation.Equal;
}

/** −1, 0, 1 for ordered (non-NaN, supported) operands. */
function compareMagnitudeSigned(a: Float80, ka: Kind, b: Float80, kb: Kind): number {
  const az = ka === Kind.Zero;
  const bz = kb === Kind.Zero;
  if (az && bz) return 0;
  if (az) return b.sign ? 1 : -1;
  if (bz) return a.sign ? -1 : 1;
  if (a.sign !== b.sign) return a.sign ? -1 : 1;
  const m = compareMagnitude(a, ka, b, kb);
  return a.sign ? -m : m;
}

function compareMagnitude(a: Float80, ka: Kind, b: Float80, kb: Kind): number {
  const ai = ka === Kind.Infinity;
  const bi = kb === Kind.Infinity;
  if (ai || bi) return ai && bi ? 0 : ai ? 1 : -1;
  // A pseudo-denormal (exponent 0, integer bit set) has the value of exponent 1.
  const ea = effExp(a);
  const eb = effExp(b);
  if (ea !== eb) {
    // Both finite; the one with the larger effective exponent is larger unless it is a denormal
    // (only exponent-1 values can be unnormalized among supported encodings).
    return ea > eb ? 1 : -1;
  }
  return a.sig === b.sig ? 0 : a.sig > b.sig ? 1 : -1;
}

/** The C3/C2/C0 bits (status-word positions) FCOM/FUCOM/FTST/FICOM set for a relation. */
export function conditionCodes(r: Relation): number {
  switch (r) {
    case Relation.Greater:
      return 0;
    case Relation.Less:
      return SW_C0;
    case Relation.Equal:
      return SW_C3;
    default:
      return SW_C3 | SW_C2 | SW_C0;
  }
}

/** The ZF/PF/CF bits FCOMI/FUCOMI set in EFLAGS for a relation (OF, SF, AF are cleared). */
export function eflagsCodes(r: Relation): number {
  const CF = 0x01;
  const PF = 0x04;
  const ZF = 0x40;
  switch (r) {
    case Relation.Greater:
      return 0;
    case Relation.Less:
      return CF;
    case Relation.Equal:
      return ZF;
    default:
      return ZF | PF | CF;
  }
}

/**
 * FXAM: the class bits C3/C2/C0 in status-word positions plus C1 = sign (SDM Vol. 2, FXAM).
 * The caller reports an empty register itself (C3|C0, class "empty"). Pseudo-denormals report as
 * denormals, and unnormals/pseudo-NaNs/pseudo-infinities as "unsupported" (all clear).
 */
export function examine(a: Float80): number {
  const c1 = a.sign ? SW_C1 : 0;
  switch (kindOf(a)) {
    case Kind.Unsupported:
      return c1;
    case Kind.QNaN:
    case Kind.SNaN:
      return c1 | SW_C0;
    case Kind.Normal:
      return c1 | SW_C2;
    case Kind.Infinity:
      return c1 | SW_C2 | SW_C0;
    case Kind.Zero:
      return c1 | SW_C3;
    default:
      return c1 | SW_C3 | SW_C2;
  }
}

/** The FXAM result for an empty register (C3 and C0 set; C1 is the sign bit of the stale value). */
export function examineEmpty(sign: 0 | 1): number {
  return SW_C3 | SW_C0 | (sign ? SW_C1 : 0);
}
