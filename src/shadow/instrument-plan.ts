/**
 * Accesses decoded once, at compile time: for the commonest instruction
 * forms, the memory access an instruction makes as a JavaScript expression
 * over the registers (`r[n]`, cpu.regs, or the expressions `reg` gives)
 * and segment bases (`sb`, or the name given), with
 * its size and kind fixed — what decodeAccesses (./access.ts) computes at
 * run time, built from the same functions (operandKind, memSizeOf) and the
 * same address arithmetic (operandAddress, stackLin). The compiled checks
 * (./instrument.ts) emit these expressions into the blocks.
 *
 * Planned: a ModRM memory operand with a 32-bit address (loads, stores,
 * ALU and read-modify-write forms, shifts by an immediate), PUSH r32/imm,
 * CALL rel, POP r32, RET, LEAVE — each one access or none. Everything else
 * (string instructions, copies such as PUSH m and POP m, several accesses,
 * 16-bit addresses, a count in CL that may be 0, bit strings) returns null
 * and is decoded at run time by decodeAccesses.
 */
import { memSizeOf } from '../cpu/decoder.js';
import type { Instr } from '../cpu/instr.js';
import { ACCESS_READ, ACCESS_WRITE, operandKind } from './access.js';

export interface PlannedAccess {
  /** The linear address, an int32 expression over `r` and `sb`. */
  addr: string;
  size: number;
  /** ACCESS_READ, ACCESS_WRITE or ACCESS_RMW. */
  kind: number;
}

const SS = 2, ESP = 4, EBP = 5;

/** Opcodes whose accesses decodeAccesses computes before looking at a ModRM operand (implicit stack, XLAT). */
const IMPLICIT = new Set([
  0x06, 0x0e, 0x16, 0x1e, 0x1a0, 0x1a8, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x68, 0x6a, 0x9c, 0xe8,
  0x07, 0x17, 0x1f, 0x1a1, 0x1a9, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x9d, 0xc2, 0xc3,
  0x60, 0x61, 0x9a, 0xca, 0xcb, 0xcf, 0xc9, 0xc8, 0xd7,
]);
/** Shifts and rotates by CL: no access when the masked count is 0, known only at run time. */
const SHIFT_BY_CL = new Set([0xd2, 0xd3, 0x1a5, 0x1ad]);
const SHIFT_BY_IMM = new Set([0xc0, 0xc1, 0x1a4, 0x1ac]);
/** BT/BTS/BTR/BTC Ev,Gv: the register is a bit offset that moves the address. */
const BIT_STRING = new Set([0x1a3, 0x1ab, 0x1b3, 0x1bb]);

/** How a register is read in the generated code (`r[n]`, or a local where the block compiler keeps it). */
export type RegisterExpr = (n: number) => string;
const LIVE_REGS: RegisterExpr = (n) => `r[${n}]`;

/** Segment `seg`'s base as a term of an address expression ('' for a flat ES, CS, SS or DS). */
function baseTerm(sb: string, seg: number, flat: boolean): string {
  return flat && seg < 4 ? '' : `${sb}[${seg}] + `;
}

function stackAt(sb: string, reg: RegisterExpr, n: number, offset: number, flat: boolean): string {
  return offset === 0 ? `((${baseTerm(sb, SS, flat)}${reg(n)}) | 0)` : `((${baseTerm(sb, SS, flat)}${reg(n)} - ${offset}) | 0)`;
}

/** operandAddress (./access.ts) as an expression, for a 32-bit address size. */
function operandExpr(ins: Instr, sb: string, reg: RegisterExpr, flat: boolean): string {
  let e = `${baseTerm(sb, ins.seg, flat)}${ins.disp | 0}`;
  if (ins.base >= 0) e += ` + ${reg(ins.base)}`;
  if (ins.index >= 0) e += ins.scale ? ` + (${reg(ins.index)} << ${ins.scale})` : ` + ${reg(ins.index)}`;
  return `((${e}) | 0)`;
}

/**
 * The accesses of `ins` decided at compile time: [] for none, one planned
 * access, or null when they must be decoded at run time. With `flat`, the
 * code runs only while ES, CS, SS and DS are flat (compiled blocks:
 * CPU.segChecks is false), so their bases (0) are left out; FS and GS
 * keep theirs.
 */
export function plannedAccesses(ins: Instr, sb = 'sb', reg: RegisterExpr = LIVE_REGS, flat = false): PlannedAccess[] | null {
  const def = ins.def;
  if (def === null || def.unsupported !== undefined || ins.native !== null || def.string) return null;
  const op = ins.op;
  const size = ins.size;
  if (IMPLICIT.has(op)) {
    if ((op >= 0x50 && op <= 0x57) || op === 0x68 || op === 0x6a || op === 0xe8) return [{ addr: stackAt(sb, reg, ESP, size, flat), size, kind: ACCESS_WRITE }];
    if ((op >= 0x58 && op <= 0x5f) || op === 0xc2 || op === 0xc3) return [{ addr: stackAt(sb, reg, ESP, 0, flat), size, kind: ACCESS_READ }];
    if (op === 0xc9) return [{ addr: stackAt(sb, reg, EBP, 0, flat), size, kind: ACCESS_READ }];
    return null;
  }
  if (op === 0x8f || op === 0xff) {
    // POP Ev, and group 5's CALL/JMP/PUSH forms: stack accesses and copies. INC/DEC Ev read, modify and write.
    if (op !== 0xff || (ins.reg !== 0 && ins.reg !== 1)) return null;
    if (!ins.mem) return [];
    const msize = memSizeOf(ins);
    if (ins.asize !== 4) return null;
    return msize === 0 ? [] : [{ addr: operandExpr(ins, sb, reg, flat), size: msize, kind: operandKind(ins) }];
  }
  if (!ins.mem) return [];
  const msize = memSizeOf(ins);
  if (msize === 0) return []; // LEA, hint NOPs, INVLPG: an address, no access
  if (ins.asize !== 4 || SHIFT_BY_CL.has(op) || BIT_STRING.has(op)) return null;
  if (SHIFT_BY_IMM.has(op) && (ins.imm & 0x1f) === 0) return [];
  return [{ addr: operandExpr(ins, sb, reg, flat), size: msize, kind: operandKind(ins) }];
}
