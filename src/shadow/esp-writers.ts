/**
 * Which instructions may change ESP — the compile-time question the precise
 * stack oracle asks (./stack-precise.ts): its liveness rule needs every
 * value ESP takes, and an instruction that neither touches memory nor
 * writes ESP cannot change it. Conservative: a false "yes" only costs one
 * check; a false "no" would miss dead bytes.
 */
import type { Instr } from '../cpu/instr.js';

const ESP = 4;

/**
 * Opcodes with an implicit stack-pointer update (SDM Vol. 2: PUSH/POP of
 * segment registers, PUSHA/POPA, PUSH imm, POP Ev, far CALL/JMP/RET (a task
 * switch loads ESP), PUSHF/POPF, RET, ENTER/LEAVE, INT3/INT n/INTO/IRET,
 * CALL rel, INT1, group 5 (CALL/PUSH Ev), LSS, SYSENTER/SYSEXIT, RSM).
 */
const STACK_OPCODES = new Set([
  0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x60, 0x61, 0x68, 0x6a, 0x8f, 0x9a, 0x9c, 0x9d,
  0xc2, 0xc3, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xe8, 0xea, 0xf1, 0xff,
  0x134, 0x135, 0x1a0, 0x1a1, 0x1a8, 0x1a9, 0x1aa, 0x1b2,
]);

/** Register-in-opcode forms (INC, DEC, PUSH, POP, XCHG with EAX, MOV r32 imm, BSWAP): the register is op & 7. */
const REGISTER_IN_OPCODE = new Set([0x40, 0x48, 0x50, 0x58, 0x90, 0xb8, 0x1c8]);

/** May `ins` write ESP (explicitly, as a stack instruction, or by loading a new stack)? */
export function mayWriteEsp(ins: Instr): boolean {
  if (ins.def === null) return false;
  const op = ins.op;
  if (STACK_OPCODES.has(op)) return true;
  // A ModRM register operand naming ESP (reg, or rm with mod 3), whichever of them is the destination.
  if (ins.hasModrm && (ins.reg === ESP || (ins.mod === 3 && ins.rm === ESP))) return true;
  return (op & 7) === ESP && REGISTER_IN_OPCODE.has(op & ~7);
}
