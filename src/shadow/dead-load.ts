/**
 * Dead loads: a load from the stack whose value is never used.
 *
 * gcc releases stack space with a POP into a register it does not need
 * (`sub $4,%esp` … `pop %eax`, shorter than `add $4,%esp`, and what the
 * i686 tuning prefers), and reloads registers it then overwrites. The slot
 * may never have been written (alignment padding), so a checker that
 * reports every load of uninitialized stack bytes reports these — Linux's
 * kmemcheck never tracked the stack and had no such rule; the stack
 * strategies need one. The rule, shared by `--stack precise` and
 * `--stack cpl1` (StackRules in ./stack.ts):
 *
 *   a pure load into a 32-bit general register (POP r32, MOV r32,m32,
 *   MOVZX/MOVSX r32,m, MOV EAX,moffs32) is not reported when the code
 *   that follows overwrites the whole register before anything reads it.
 *
 * "The code that follows" is decided conservatively, on the instructions
 * as they are in memory: straight-line code from the load on, at most
 * MAX_SCAN instructions, stopping at the first control transfer. Every
 * instruction is classified by what it does to the register; an
 * instruction the classifier does not know counts as a read (the load is
 * reported). A control transfer counts as a read — the value may be an
 * argument of a CALL, the result of a JMP'd-to tail or of the function —
 * except that at a RET, ECX is dead: no i386 convention returns a value
 * in it (EAX and EDX may hold the return value; EBX, ESI, EDI and EBP are
 * the caller's). The load is then still an access — the bytes keep their
 * state, so a later load of them that is used is reported.
 */
import { decodeInstr, type ByteSource } from '../cpu/decoder.js';
import type { Instr } from '../cpu/instr.js';

const EAX = 0, ECX = 1, ESP = 4;
/** Instructions looked at after the load. */
export const MAX_SCAN = 32;

/** The register a pure 32-bit load writes (its whole value), or -1 when `ins` is not one. */
export function loadDestination(ins: Instr): number {
  const op = ins.op;
  if (ins.size !== 4 && !(op === 0x1b6 || op === 0x1b7 || op === 0x1be || op === 0x1bf)) return -1;
  if (op >= 0x58 && op <= 0x5f) return op === 0x5c ? -1 : op & 7; // POP r32 (not ESP: it is the stack pointer)
  if (op === 0x8f && ins.mod === 3 && ins.reg === 0) return ins.rm === ESP ? -1 : ins.rm; // POP r/m32, register form
  if (!ins.mem) return -1;
  if (op === 0x8b || ((op === 0x1b6 || op === 0x1b7 || op === 0x1be || op === 0x1bf) && ins.size === 4)) return ins.reg === ESP ? -1 : ins.reg;
  if (op === 0xa1) return EAX; // MOV EAX, moffs32
  return -1;
}

/** What one instruction does to register `r`. */
const enum Effect { None, Reads, Overwrites, Unknown }

/** Registers the memory operand's address is computed from. */
function addressUses(ins: Instr, r: number): boolean {
  return ins.mem && (ins.base === r || ins.index === r);
}

/** ALU group 1 opcodes with ModRM (ADD, OR, ADC, SBB, AND, SUB, XOR, CMP in their four forms) and TEST. */
function isAluModrm(op: number): boolean {
  return (op < 0x40 && (op & 7) < 4 && (op & 0x0f) !== 0x0f) || op === 0x84 || op === 0x85;
}

/** Classify `ins` for register `r` (32-bit code). */
function effectOn(ins: Instr, r: number): Effect {
  const op = ins.op;
  const def = ins.def;
  if (def === null || ins.invalidReason !== '' || def.unsupported !== undefined) return Effect.Unknown;
  // NOPs, hint NOPs (0F 1F /0, 0F 18 prefetch): nothing.
  if (op === 0x90 && !ins.rep) return Effect.None;
  if (op === 0x11f || op === 0x118) return addressUses(ins, r) ? Effect.Reads : Effect.None;
  // MOV r32, imm32
  if (op >= 0xb8 && op <= 0xbf) return (op & 7) === r && ins.size === 4 ? Effect.Overwrites : (op & 7) === r ? Effect.Reads : Effect.None;
  // MOV Ev,Gv / MOV Eb,Gb (stores, or register moves)
  if (op === 0x88 || op === 0x89) {
    if (ins.reg === r || (op === 0x88 && ins.reg - 4 === r) || addressUses(ins, r)) return Effect.Reads;
    if (ins.mod === 3 && ins.rm === r) return op === 0x89 && ins.size === 4 ? Effect.Overwrites : Effect.Reads;
    return Effect.None;
  }
  // MOV Gv,Ev / MOVZX / MOVSX / LEA: read the source (register or address), write the destination register.
  if (op === 0x8b || op === 0x8d || op === 0x1b6 || op === 0x1b7 || op === 0x1be || op === 0x1bf) {
    if (addressUses(ins, r) || (ins.mod === 3 && op !== 0x8d && (ins.rm === r || ((op === 0x1b6 || op === 0x1be) && ins.rm - 4 === r)))) return Effect.Reads;
    if (ins.reg === r) return ins.size === 4 ? Effect.Overwrites : Effect.Reads;
    return Effect.None;
  }
  // MOV [moffs], EAX/AL and MOV EAX/AL, [moffs]
  if (op >= 0xa0 && op <= 0xa3) {
    if (r !== EAX) return Effect.None;
    return op === 0xa1 && ins.size === 4 ? Effect.Overwrites : Effect.Reads;
  }
  // MOV Ev, imm (C7 /0), MOV Eb, imm (C6 /0)
  if ((op === 0xc6 || op === 0xc7) && ins.reg === 0) {
    if (addressUses(ins, r)) return Effect.Reads;
    if (ins.mod === 3 && ins.rm === r) return op === 0xc7 && ins.size === 4 ? Effect.Overwrites : Effect.Reads;
    return Effect.None;
  }
  // ALU with ModRM: both operands read (XOR/SUB r,r is the zeroing idiom: the old value is not used).
  if (isAluModrm(op)) {
    const alu = (op >> 3) & 7;
    const sameReg = ins.mod === 3 && ins.reg === ins.rm && op !== 0x84 && op !== 0x85 && (alu === 5 || alu === 6);
    const byteOp = (op & 1) === 0;
    const touches = (x: number): boolean => x === r || (byteOp && x - 4 === r);
    if (sameReg && ins.reg === r && ins.size === 4 && !byteOp) return Effect.Overwrites;
    if (touches(ins.reg) || addressUses(ins, r) || (ins.mod === 3 && touches(ins.rm))) return Effect.Reads;
    return Effect.None;
  }
  // ALU with an immediate (80/81/83 group), shifts (C0/C1/D0/D1/D2/D3), INC/DEC/NOT/NEG/TEST/MUL group (F6/F7, FE/FF /0 /1).
  if (op === 0x80 || op === 0x81 || op === 0x83 || op === 0xc0 || op === 0xc1 || (op >= 0xd0 && op <= 0xd3)) {
    const byteOp = op === 0x80 || op === 0xc0 || op === 0xd0 || op === 0xd2;
    if (addressUses(ins, r) || (ins.mod === 3 && (ins.rm === r || (byteOp && ins.rm - 4 === r)))) return Effect.Reads;
    if ((op === 0xd2 || op === 0xd3) && r === ECX) return Effect.Reads; // the count in CL
    return Effect.None;
  }
  // INC/DEC r32
  if (op >= 0x40 && op <= 0x4f) return (op & 7) === r ? Effect.Reads : Effect.None;
  // PUSH r32 reads it; PUSH imm reads nothing but ESP.
  if (op >= 0x50 && op <= 0x57) return (op & 7) === r || r === ESP ? Effect.Reads : Effect.None;
  if (op === 0x68 || op === 0x6a) return r === ESP ? Effect.Reads : Effect.None;
  // POP r32: overwrites its register (after reading ESP).
  if (op >= 0x58 && op <= 0x5f) return r === ESP ? Effect.Reads : (op & 7) === r && ins.size === 4 ? Effect.Overwrites : Effect.None;
  return Effect.Unknown;
}

/** A control transfer ends the straight-line code: what it means for the register. */
function atTransfer(ins: Instr, r: number): boolean {
  // RET (C3, C2 imm16): ECX carries no return value in any i386 convention.
  return (ins.op === 0xc3 || ins.op === 0xc2) && r === ECX;
}

/**
 * Is the value `load` puts into its destination register dead — overwritten
 * before any read in the straight-line code that follows? `code` fetches
 * the instruction bytes after it (a fetch that throws ends the scan: the
 * load counts as used). False for anything but a pure 32-bit register load.
 */
export function isDeadLoad(load: Instr, code: ByteSource): boolean {
  const r = loadDestination(load);
  if (r < 0) return false;
  let at = (load.addr + load.len) | 0;
  try {
    for (let n = 0; n < MAX_SCAN; n++) {
      const ins = decodeInstr(code, at, 4);
      if (ins.def?.endsBlock || ins.def?.rel) return atTransfer(ins, r);
      switch (effectOn(ins, r)) {
        case Effect.Overwrites: return true;
        case Effect.Reads: case Effect.Unknown: return false;
        case Effect.None: break;
      }
      at = (at + ins.len) | 0;
    }
  } catch {
    return false;
  }
  return false;
}
