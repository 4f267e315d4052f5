/**
 * x87 FPU instruction executors (Intel SDM Vol. 2, the F* instructions;
 * Vol. 1 chapter 8). The values are computed by the software floatx80 in
 * this directory (floatx80.ts and its siblings); this file is the
 * instruction layer around it:
 *
 * - the checks before an x87 instruction runs (SDM Vol. 3 §2.5, §12.2 and
 *   Vol. 1 §8.6): CR0.EM or CR0.TS → #NM; an unmasked exception pending from
 *   an earlier instruction (ES set) → #MF, unless the instruction is one of
 *   the non-waiting FN* forms;
 * - operands: the register stack (TOP, empty registers, stack overflow and
 *   underflow with IE+SF and C1 = 1/0, SDM Vol. 1 §8.5.1.1) and the memory
 *   formats (m16/m32/m64 integers, m32/m64/m80 reals, m80 packed BCD);
 * - the masked and unmasked responses (§8.5): with IE, DE or ZE unmasked
 *   the destination and TOP are left as they were; a store to memory with
 *   IE, DE, OE or UE unmasked stores nothing;
 * - the condition codes, EFLAGS for FCOMI/FUCOMI, and the last-instruction
 *   and data pointers of every non-control instruction (§8.1.8).
 *
 * Every memory access is made (or probed) before any FPU state changes, so
 * an instruction whose operand faults restarts cleanly. FSQRT, FRNDINT,
 * FSCALE, FXTRACT, FPREM/FPREM1 and the transcendental instructions are in
 * x87-math.ts, on the helpers exported here.
 */
import type { CPU } from '../cpu.js';
import type { ExecFn, Instr } from '../instr.js';
import { CS } from '../instr.js';
import { Vec } from '../stop.js';
import { ARITH } from '../flags.js';
import {
  type X87State, SW_IE, SW_DE, SW_ZE, SW_OE, SW_UE, SW_SF, SW_ES, SW_B, SW_C0, SW_C1, SW_C2, SW_C3, SW_CC, EXC_MASK,
} from './x87-state.js';
import { readM80, writeM80, readM64, writeM64, storeEnv, loadEnv, storeState, loadState } from './x87-env.js';
import {
  type Float80, type FpEnv, type FpStatus, Kind, kindOf, f80, f80FromParts, INDEFINITE, SIG_QUIET, POS_ZERO, add, sub, mul, div, negate, abs,
} from './floatx80.js';
import { f80FromInt, f80ToInt, f80FromF32, f80FromF64, f80ToF32, f80ToF64, f80FromBcd, f80ToBcd, BCD_INDEFINITE } from './convert.js';
import { type ConstantName, loadConstant } from './constants.js';
import { Relation, compare, conditionCodes, eflagsCodes, examine, examineEmpty } from './compare.js';

const CR0_MP = 1 << 1, CR0_EM = 1 << 2, CR0_TS = 1 << 3, CR0_NE = 1 << 5;

/** Indefinite values of the memory formats a masked invalid-operation response stores. */
const F32_INDEFINITE = 0xffc00000 | 0;
const F64_INDEFINITE = 0xfff8000000000000n;

// ---------------------------------------------------------------------------------------------
// Instruction prologue and epilogue
// ---------------------------------------------------------------------------------------------

type Body = (cpu: CPU, ins: Instr, f: X87State) => void;

export interface X87Kind {
  /** FNINIT, FNCLEX, FNSTSW, FNSTCW, FNSTENV, FNSAVE (and the 8087/287 no-ops): no pending-exception check. */
  noWait?: boolean;
  /**
   * A control instruction (SDM Vol. 1 §8.1.8): it does not update the
   * last-instruction opcode and pointers (FINIT, FCLEX, FLDCW, FSTCW, FSTSW,
   * FLDENV, FSTENV, FRSTOR, FSAVE; FNOP, FINCSTP, FDECSTP and FFREE do, as
   * on the host x87).
   */
  control?: boolean;
}

/**
 * An ESC instruction is attempted (SDM Vol. 3 Table 2-2): EM or TS → #NM;
 * then, for a waiting instruction, a pending unmasked exception is reported.
 * Returns false when the instruction must not run now (FERR# asserted).
 */
function enter(cpu: CPU, ins: Instr, waiting: boolean): boolean {
  if (cpu.cr0 & (CR0_EM | CR0_TS)) cpu.fault(Vec.NM);
  if (waiting && cpu.fpu.sw & SW_ES) return reportPending(cpu, ins);
  return true;
}

/**
 * A pending unmasked x87 exception at a waiting instruction (SDM Vol. 1
 * §8.6, Vol. 3 §6.15 "Interrupt 16"): #MF with CR0.NE = 1. With NE = 0 the
 * processor signals FERR# instead, which a PC routes to IRQ13 through the
 * slave 8259: when the machine has wired `cpu.fpuError`, the line is raised
 * and the instruction waits (it runs again once the interrupt handler has
 * returned, as on a PC that does not assert IGNNE#); without a wire the
 * error is ignored as if IGNNE# were asserted.
 */
function reportPending(cpu: CPU, ins: Instr): boolean {
  if (cpu.cr0 & CR0_NE) cpu.fault(Vec.MF);
  if (cpu.fpuError === null) return true;
  cpu.fpuError();
  cpu.eip = ins.addr;
  cpu.breakLoop = true;
  return false;
}

/** The executor of an x87 instruction: prologue, body, then the last-instruction pointers. */
export function x87(body: Body, kind: X87Kind = {}): ExecFn {
  const waiting = !kind.noWait;
  if (kind.control) {
    return (cpu, ins) => {
      if (enter(cpu, ins, waiting)) body(cpu, ins, cpu.fpu);
    };
  }
  return (cpu, ins) => {
    if (!enter(cpu, ins, waiting)) return;
    body(cpu, ins, cpu.fpu);
    recordPointers(cpu, ins);
  };
}

/** FIP/FCS/FOP and, for a memory operand, FDP/FDS (SDM Vol. 1 §8.1.8, §8.1.9). */
function recordPointers(cpu: CPU, ins: Instr): void {
  const f = cpu.fpu;
  f.fip = ins.addr;
  f.fcs = cpu.segSel[CS];
  f.fop = ((ins.op & 7) << 8) | (ins.mod << 6) | (ins.reg << 3) | ins.rm;
  if (ins.mem) {
    f.fdp = cpu.ea(ins);
    f.fds = cpu.segSel[ins.seg];
  }
}

/** WAIT/FWAIT (9B): #NM when MP and TS are both set; then any pending unmasked exception. */
export function fwait(cpu: CPU, ins: Instr): void {
  if ((cpu.cr0 & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) cpu.fault(Vec.NM);
  if (cpu.fpu.sw & SW_ES) reportPending(cpu, ins);
}

// ---------------------------------------------------------------------------------------------
// Registers, status
// ---------------------------------------------------------------------------------------------

export function envOf(f: X87State): FpEnv {
  return { rc: (f.cw >> 10) & 3, pc: (f.cw >> 8) & 3, masks: f.cw & EXC_MASK };
}
export function status(): FpStatus {
  return { flags: 0, c1: 0 };
}

export function getST(f: X87State, i: number): Float80 {
  const p = f.phys(i);
  return f80FromParts(f.se[p], f.sig[p]);
}
export function setST(f: X87State, i: number, v: Float80): void {
  f.setST(i, (v.sign << 15) | v.exp, v.sig);
}
export function pushF(f: X87State, v: Float80): void {
  f.push((v.sign << 15) | v.exp, v.sig);
}

export function setC1(f: X87State, c1: number): void {
  f.sw = c1 ? f.sw | SW_C1 : f.sw & ~SW_C1;
}

/**
 * Merge an operation's exceptions and C1 into the status word. Returns
 * whether the result may be written: not when IE, DE or ZE is unmasked.
 */
export function raise(f: X87State, st: FpStatus): boolean {
  f.sw |= st.flags;
  setC1(f, st.c1);
  f.updateES();
  return (st.flags & ~f.cw & (SW_IE | SW_DE | SW_ZE)) === 0;
}
/** As `raise`, for a store to memory: nothing is stored with IE, DE, OE or UE unmasked. */
function raiseStore(f: X87State, st: FpStatus): boolean {
  f.sw |= st.flags;
  setC1(f, st.c1);
  f.updateES();
  return (st.flags & ~f.cw & (SW_IE | SW_DE | SW_OE | SW_UE)) === 0;
}
/** Whether a store of this status would be suppressed (decided before the memory write). */
function storeSuppressed(f: X87State, st: FpStatus): boolean {
  return (st.flags & ~f.cw & (SW_IE | SW_DE | SW_OE | SW_UE)) !== 0;
}

/** Stack underflow (an empty source register): IE, SF, C1 = 0. Returns whether IE is masked. */
export function underflow(f: X87State): boolean {
  f.sw = (f.sw | SW_IE | SW_SF) & ~SW_C1;
  f.updateES();
  return (f.cw & SW_IE) !== 0;
}
/** Stack overflow (a push onto a full register): IE, SF, C1 = 1. Returns whether IE is masked. */
export function overflow(f: X87State): boolean {
  f.sw |= SW_IE | SW_SF | SW_C1;
  f.updateES();
  return (f.cw & SW_IE) !== 0;
}

/**
 * Push a value computed by `make` (FLD, FILD, FBLD, the constants): a full
 * ST(7) is a stack overflow (masked: the real indefinite is pushed).
 */
function pushResult(f: X87State, v: Float80, st: FpStatus): void {
  if (!f.isEmpty(7)) {
    if (overflow(f)) pushF(f, INDEFINITE);
    return;
  }
  if (!raise(f, st)) return;
  setC1(f, 0);
  pushF(f, v);
}

// ---------------------------------------------------------------------------------------------
// Memory operands
// ---------------------------------------------------------------------------------------------

/** The memory operand of an arithmetic/compare instruction as a floatx80 (D8/DC reals, DA/DE integers). */
function memOperand(cpu: CPU, ins: Instr, st: FpStatus): Float80 {
  const lin = cpu.lin(ins);
  switch (ins.op) {
    case 0xd8: return realOperand(f80FromF32(cpu.read32(lin) >>> 0, st), st);
    case 0xdc: return realOperand(f80FromF64(readM64(cpu, lin), st), st);
    case 0xda: return f80FromInt(BigInt(cpu.read32(lin)));
    default: return f80FromInt(BigInt((cpu.read16(lin) << 16) >> 16)); // DE: m16int
  }
}

/**
 * A converted m32/m64 source operand of an arithmetic or compare
 * instruction. The conversion quiets an SNaN and reports IE, as FLD must;
 * an operand of FADD & co. must stay signalling so that the NaN rules see
 * it (SDM Vol. 1 Table 4-7: an SNaN and a QNaN give the QNaN operand), and
 * the operation itself reports IE. DE of a denormal is kept: the extended
 * form of a single/double denormal is normal, so only the conversion sees it.
 */
function realOperand(v: Float80, st: FpStatus): Float80 {
  if (st.flags & SW_IE && v.exp === 0x7fff) {
    st.flags &= ~SW_IE;
    return f80(v.sign, v.exp, v.sig & ~SIG_QUIET);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Loads
// ---------------------------------------------------------------------------------------------

/** FLD m32fp / m64fp / m80fp (D9 /0, DD /0, DB /5): SNaN → IE and the QNaN; denormal m32/m64 → DE. */
export const fldMem = x87((cpu, ins, f) => {
  const lin = cpu.lin(ins);
  const st = status();
  let v: Float80;
  if (ins.op === 0xd9) v = f80FromF32(cpu.read32(lin) >>> 0, st);
  else if (ins.op === 0xdd) v = f80FromF64(readM64(cpu, lin), st);
  else {
    const [se, sig] = readM80(cpu, lin);
    v = f80FromParts(se, sig); // m80: loaded as is, no exception (SDM FLD)
  }
  pushResult(f, v, st);
});

/** FILD m16int / m32int / m64int (DF /0, DB /0, DF /5): exact. */
export const fild = x87((cpu, ins, f) => {
  const lin = cpu.lin(ins);
  let n: bigint;
  if (ins.op === 0xdb) n = BigInt(cpu.read32(lin));
  else if (ins.reg === 0) n = BigInt((cpu.read16(lin) << 16) >> 16);
  else n = BigInt.asIntN(64, readM64(cpu, lin));
  pushResult(f, f80FromInt(n), status());
});

/** FLD ST(i) (D9 C0+i): the value of ST(i) before the push. */
export const fldReg = x87((_cpu, ins, f) => {
  if (f.isEmpty(ins.rm)) {
    // An empty source is reported as an underflow even when the push would also overflow (as the host x87 does).
    if (underflow(f)) pushF(f, INDEFINITE);
    return;
  }
  pushResult(f, getST(f, ins.rm), status());
});

/** The load-constant instructions D9 E8..EE, rounded by RC (SDM Vol. 2 FLD1/FLDL2T/FLDL2E/FLDPI/FLDLG2/FLDLN2/FLDZ). */
const CONSTANT_NAMES: ConstantName[] = ['1', 'l2t', 'l2e', 'pi', 'lg2', 'ln2', 'z'];
export const fldConst = x87((_cpu, ins, f) => {
  pushResult(f, loadConstant(CONSTANT_NAMES[ins.rm]!, f.rc), status());
});

/** FBLD m80bcd (DF /4): 18 packed BCD digits, exactly. */
export const fbld = x87((cpu, ins, f) => {
  const lin = cpu.lin(ins);
  const b = new Uint8Array(10);
  for (let i = 0; i < 10; i++) b[i] = cpu.read8((lin + i) | 0);
  pushResult(f, f80FromBcd(b), status());
});

// ---------------------------------------------------------------------------------------------
// Stores
// ---------------------------------------------------------------------------------------------

/** FST/FSTP m32fp, m64fp (D9 /2 /3, DD /2 /3), FSTP m80fp (DB /7). */
export const fstMem = x87((cpu, ins, f) => {
  const pop = ins.reg === 3 || ins.reg === 7;
  const lin = cpu.lin(ins);
  const m80 = ins.op === 0xdb;
  if (f.isEmpty(0)) {
    if (!(f.cw & SW_IE)) {
      underflow(f);
      return;
    }
    if (ins.op === 0xd9) cpu.write32(lin, F32_INDEFINITE);
    else if (ins.op === 0xdd) writeM64(cpu, lin, F64_INDEFINITE);
    else {
      cpu.probeWrite(lin, 10);
      writeM80(cpu, lin, (INDEFINITE.sign << 15) | INDEFINITE.exp, INDEFINITE.sig);
    }
    underflow(f);
    if (pop) f.pop();
    return;
  }
  const v = getST(f, 0);
  if (m80) {
    // Extended precision stores as is: no exception (SDM FST/FSTP).
    cpu.probeWrite(lin, 10);
    writeM80(cpu, lin, (v.sign << 15) | v.exp, v.sig);
    setC1(f, 0);
  } else {
    const st = status();
    const env = envOf(f);
    if (ins.op === 0xd9) {
      const bits = f80ToF32(v, env, st);
      if (!storeSuppressed(f, st)) cpu.write32(lin, bits | 0);
    } else {
      const bits = f80ToF64(v, env, st);
      if (!storeSuppressed(f, st)) writeM64(cpu, lin, bits);
    }
    if (!raiseStore(f, st)) return;
  }
  if (pop) f.pop();
});

/** FIST/FISTP m16int, m32int (DF/DB /2 /3), FISTP m64int (DF /7). */
export const fist = x87((cpu, ins, f) => {
  const pop = ins.reg !== 2;
  const bits = ins.op === 0xdb ? 32 : ins.reg === 7 ? 64 : 16;
  const lin = cpu.lin(ins);
  let n: bigint;
  const st = status();
  if (f.isEmpty(0)) {
    if (!(f.cw & SW_IE)) {
      underflow(f);
      return;
    }
    n = -(1n << BigInt(bits - 1)); // the integer indefinite
  } else {
    n = f80ToInt(getST(f, 0), bits, envOf(f), st);
    if (storeSuppressed(f, st)) {
      raiseStore(f, st);
      return;
    }
  }
  if (bits === 16) cpu.write16(lin, Number(BigInt.asUintN(16, n)));
  else if (bits === 32) cpu.write32(lin, Number(BigInt.asIntN(32, n)));
  else writeM64(cpu, lin, BigInt.asUintN(64, n));
  if (f.isEmpty(0)) underflow(f);
  else raiseStore(f, st);
  if (pop) f.pop();
});

/** FST ST(i) (DD D0+i), FSTP ST(i) (DD D8+i and the aliases D9 D8+i, DF D0+i, DF D8+i). */
export const fstReg = x87((_cpu, ins, f) => {
  const pop = !(ins.op === 0xdd && ins.reg === 2);
  if (f.isEmpty(0)) {
    if (!underflow(f)) return;
    setST(f, ins.rm, INDEFINITE);
  } else {
    setST(f, ins.rm, getST(f, 0));
    setC1(f, 0);
  }
  if (pop) f.pop();
});

// ---------------------------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------------------------

/** The operation of ModRM.reg 0,1,4,5,6,7 on dest (a) and source (b): dest ← a op b. */
function arith(op: number, a: Float80, b: Float80, env: FpEnv, st: FpStatus): Float80 {
  switch (op) {
    case 0: return add(a, b, env, st);
    case 1: return mul(a, b, env, st);
    case 4: return sub(a, b, env, st);
    case 5: return sub(b, a, env, st);
    case 6: return div(a, b, env, st);
    default: return div(b, a, env, st);
  }
}

/** FADD/FMUL/FSUB/FSUBR/FDIV/FDIVR ST(0), m32fp/m64fp and FIADD..FIDIVR m16int/m32int (D8/DC/DA/DE mem). */
export const farithMem = x87((cpu, ins, f) => {
  const st = status();
  const src = memOperand(cpu, ins, st);
  if (f.isEmpty(0)) {
    if (underflow(f)) setST(f, 0, INDEFINITE);
    return;
  }
  const dst = getST(f, 0);
  // FIDIVR/FDIVR: a denormal dividend over a zero ST(0) is a division by zero, decided before DE (as in div()).
  if (ins.reg === 7 && kindOf(dst) === Kind.Zero) st.flags &= ~SW_DE;
  if (denormalOperand(f, st, dst)) return;
  const r = arith(ins.reg, dst, src, envOf(f), st);
  if (raise(f, st)) setST(f, 0, r);
});

/**
 * The DE a denormal m32/m64 operand raised in its conversion stands only
 * when the operation goes ahead on numbers: a NaN or unsupported ST(0)
 * decides the result first (SDM Vol. 1 §4.9.2, exception priority: invalid
 * operation and QNaN operands before denormal operands). Returns true when
 * an unmasked DE ends the instruction.
 */
function denormalOperand(f: X87State, st: FpStatus, other: Float80): boolean {
  const k = kindOf(other);
  if (k === Kind.QNaN || k === Kind.SNaN || k === Kind.Unsupported) st.flags &= ~SW_DE;
  // With DE unmasked the instruction stops there: DE is the only exception, nothing changes (§8.5.2).
  if (st.flags & SW_DE && !(f.cw & SW_DE)) {
    raise(f, st);
    return true;
  }
  return false;
}

/**
 * Register forms: D8 (ST(0) ← ST(0) op ST(i)), DC (ST(i) ← ST(i) op ST(0))
 * and DE (the same, then pop). In DC and DE the SUB/SUBR and DIV/DIVR
 * encodings are swapped relative to D8 (SDM Vol. 2 Appendix A Table A-10):
 * DC E0+i is FSUBR ST(i),ST(0), DC E8+i FSUB ST(i),ST(0).
 */
export const farithReg = x87((_cpu, ins, f) => {
  const toSTi = ins.op !== 0xd8;
  const pop = ins.op === 0xde;
  const dst = toSTi ? ins.rm : 0;
  const src = toSTi ? 0 : ins.rm;
  const op = toSTi && ins.reg >= 4 ? ins.reg ^ 1 : ins.reg;
  if (f.isEmpty(dst) || f.isEmpty(src)) {
    if (!underflow(f)) return;
    setST(f, dst, INDEFINITE);
  } else {
    const st = status();
    const r = arith(op, getST(f, dst), getST(f, src), envOf(f), st);
    if (!raise(f, st)) return;
    setST(f, dst, r);
  }
  if (pop) f.pop();
});

/** FCHS (D9 E0) and FABS (D9 E1): sign only, no exception but stack underflow; C1 = 0. */
export const fchsAbs = x87((_cpu, ins, f) => {
  if (f.isEmpty(0)) {
    if (underflow(f)) setST(f, 0, INDEFINITE);
    return;
  }
  const v = getST(f, 0);
  setST(f, 0, ins.rm === 0 ? negate(v) : abs(v));
  setC1(f, 0);
});

/** FBSTP m80bcd (DF /6): ST(0) rounded by RC to 18 packed BCD digits, then pop; invalid → IE and the BCD indefinite. */
export const fbstp = x87((cpu, ins, f) => {
  const lin = cpu.lin(ins);
  const out = new Uint8Array(10);
  const st = status();
  if (f.isEmpty(0)) {
    if (!(f.cw & SW_IE)) {
      underflow(f);
      return;
    }
    out.set(BCD_INDEFINITE);
  } else {
    f80ToBcd(getST(f, 0), envOf(f), st, out);
    if (storeSuppressed(f, st)) {
      raiseStore(f, st);
      return;
    }
  }
  cpu.probeWrite(lin, 10);
  for (let i = 0; i < 10; i++) cpu.write8((lin + i) | 0, out[i]!);
  if (f.isEmpty(0)) underflow(f);
  else raiseStore(f, st);
  f.pop();
});

// ---------------------------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------------------------

/**
 * Compare a with b into C3/C2/C0 (FCOM/FUCOM/FICOM/FTST family), then pop
 * `pops` times. An empty operand is a stack underflow: masked, the result
 * is "unordered". With IE or DE unmasked the condition codes and the stack
 * are left as they were.
 */
function compareCC(f: X87State, a: Float80 | null, b: Float80 | null, ordered: boolean, pops: number, st = status()): void {
  if (a === null || b === null) {
    if (!underflow(f)) return;
    f.sw = (f.sw & ~SW_CC) | SW_C3 | SW_C2 | SW_C0;
  } else {
    const rel = compare(a, b, ordered, st);
    if (!raise(f, st)) return;
    f.sw = (f.sw & ~(SW_C0 | SW_C2 | SW_C3)) | conditionCodes(rel);
  }
  for (let i = 0; i < pops; i++) f.pop();
}

function stOrNull(f: X87State, i: number): Float80 | null {
  return f.isEmpty(i) ? null : getST(f, i);
}

/** FCOM/FCOMP m32fp/m64fp (D8/DC /2 /3) and FICOM/FICOMP m16int/m32int (DE/DA /2 /3). */
export const fcomMem = x87((cpu, ins, f) => {
  // The conversion's DE for a denormal m32/m64 counts as the comparison's (see denormalOperand).
  const st = status();
  const src = memOperand(cpu, ins, st);
  const a = stOrNull(f, 0);
  if (a !== null && denormalOperand(f, st, a)) return;
  compareCC(f, a, src, true, ins.reg === 3 ? 1 : 0, st);
});

/**
 * FCOM/FCOMP ST(i) (D8 D0+i, D8 D8+i; aliases DC D0+i, DC D8+i, DE D0+i),
 * FCOMPP (DE D9), FUCOM/FUCOMP ST(i) (DD E0+i, DD E8+i), FUCOMPP (DA E9).
 */
export const fcomReg = x87((_cpu, ins, f) => {
  const unordered = ins.op === 0xdd || ins.op === 0xda;
  let pops: number;
  if (ins.op === 0xda || (ins.op === 0xde && ins.reg === 3)) pops = 2; // FUCOMPP, FCOMPP
  else if (ins.op === 0xde) pops = 1; // DE D0+i: FCOMP alias
  else pops = ins.reg === 3 || ins.reg === 5 ? 1 : 0;
  compareCC(f, stOrNull(f, 0), stOrNull(f, ins.rm), !unordered, pops);
});

/** FTST (D9 E4): ST(0) against +0.0. */
export const ftst = x87((_cpu, _ins, f) => {
  compareCC(f, stOrNull(f, 0), POS_ZERO, true, 0);
});

/** FXAM (D9 E5): the class of ST(0) in C3/C2/C0 and its sign in C1; no exception, empty is a class. */
export const fxam = x87((_cpu, _ins, f) => {
  const p = f.phys(0);
  const sign = (f.se[p] >> 15) as 0 | 1;
  const cc = f.isEmpty(0) ? examineEmpty(sign) : examine(getST(f, 0));
  f.sw = (f.sw & ~SW_CC) | cc;
});

/**
 * FCOMI/FCOMIP (DB F0+i, DF F0+i), FUCOMI/FUCOMIP (DB E8+i, DF E8+i): the
 * result in ZF/PF/CF, OF/SF/AF cleared (SDM Vol. 2 FCOMI); C1 = 0.
 */
export const fcomi = x87((cpu, ins, f) => {
  const ordered = ins.reg === 6;
  const pop = ins.op === 0xdf;
  let flags: number;
  if (f.isEmpty(0) || f.isEmpty(ins.rm)) {
    if (!underflow(f)) return;
    flags = eflagsCodes(Relation.Unordered);
  } else {
    const st = status();
    const rel = compare(getST(f, 0), getST(f, ins.rm), ordered, st);
    if (!raise(f, st)) return;
    flags = eflagsCodes(rel);
  }
  cpu.setEflags(flags, ARITH);
  if (pop) f.pop();
});

/** FCMOVcc ST(0), ST(i) (DA/DB C0..DF): B, E, BE, U and their negations, from EFLAGS. */
const FCMOV_CC = [0x2, 0x4, 0x6, 0xa];
export const fcmov = x87((cpu, ins, f) => {
  const cc = FCMOV_CC[ins.reg] | (ins.op === 0xdb ? 1 : 0);
  if (f.isEmpty(0) || f.isEmpty(ins.rm)) {
    // Masked stack underflow: ST(0) becomes the real indefinite whatever the condition (as the host x87 does).
    if (underflow(f)) setST(f, 0, INDEFINITE);
    return;
  }
  if (cpu.cond(cc)) setST(f, 0, getST(f, ins.rm)); // C1 only changes on an underflow (SDM FCMOVcc)
});

// ---------------------------------------------------------------------------------------------
// Stack management
// ---------------------------------------------------------------------------------------------

/** FXCH ST(i) (D9 C8+i; aliases DD C8+i, DF C8+i): an empty operand is replaced by the real indefinite when IE is masked. */
export const fxch = x87((_cpu, ins, f) => {
  const i = ins.rm;
  if (f.isEmpty(0) || f.isEmpty(i)) {
    if (!underflow(f)) return;
    const a = f.isEmpty(0) ? INDEFINITE : getST(f, 0);
    const b = f.isEmpty(i) ? INDEFINITE : getST(f, i);
    setST(f, 0, b);
    setST(f, i, a);
    return;
  }
  const a = getST(f, 0);
  setST(f, 0, getST(f, i));
  setST(f, i, a);
  setC1(f, 0);
});

/** FFREE ST(i) (DD C0+i) and FFREEP ST(i) (DF C0+i: also pops, as P6 and later processors do). */
export const ffree = x87((_cpu, ins, f) => {
  f.free(ins.rm);
  setC1(f, 0); // the SDM leaves C0–C3 undefined; the host x87 clears C1 and keeps the others
  if (ins.op === 0xdf) f.top = (f.top + 1) & 7;
});

/** FDECSTP (D9 F6) and FINCSTP (D9 F7): TOP ∓ 1, tags unchanged, C1 = 0. */
export const fincdecstp = x87((_cpu, ins, f) => {
  f.top = (f.top + (ins.rm === 7 ? 1 : -1)) & 7;
  setC1(f, 0);
});

/** FNOP (D9 D0), and FNENI/FNDISI/FNSETPM (DB E0, E1, E4), which a 387 and later ignore. */
export const fnop = x87(() => {});
export const fnopNoWait = x87(() => {}, { control: true, noWait: true });

// ---------------------------------------------------------------------------------------------
// Control instructions
// ---------------------------------------------------------------------------------------------

/** FNINIT (DB E3). */
export const fninit = x87((_cpu, _ins, f) => f.init(), { control: true, noWait: true });

/** FNCLEX (DB E2): the exception flags, SF, ES and B are cleared (SDM Vol. 2 FCLEX). */
export const fnclex = x87((_cpu, _ins, f) => {
  f.sw &= ~(EXC_MASK | SW_SF | SW_ES | SW_B);
}, { control: true, noWait: true });

/** FLDCW m16 (D9 /5). */
export const fldcw = x87((cpu, ins, f) => {
  f.setControlWord(cpu.read16(cpu.lin(ins)));
}, { control: true });

/** FNSTCW m16 (D9 /7). */
export const fnstcw = x87((cpu, ins, f) => {
  cpu.write16(cpu.lin(ins), f.cw);
}, { control: true, noWait: true });

/** FNSTSW m16 (DD /7) and FNSTSW AX (DF E0). */
export const fnstsw = x87((cpu, ins, f) => {
  const sw = f.statusWord();
  if (ins.mem) cpu.write16(cpu.lin(ins), sw);
  else cpu.regs[0] = (cpu.regs[0] & ~0xffff) | sw;
}, { control: true, noWait: true });

/** FLDENV (D9 /4), FNSTENV (D9 /6), FRSTOR (DD /4), FNSAVE (DD /6): 16- or 32-bit images by operand size. */
export const fldenv = x87((cpu, ins) => loadEnv(cpu, cpu.lin(ins), ins.size), { control: true });
export const fnstenv = x87((cpu, ins) => storeEnv(cpu, cpu.lin(ins), ins.size), { control: true, noWait: true });
export const frstor = x87((cpu, ins) => loadState(cpu, cpu.lin(ins), ins.size), { control: true });
export const fnsave = x87((cpu, ins) => storeState(cpu, cpu.lin(ins), ins.size), { control: true, noWait: true });
