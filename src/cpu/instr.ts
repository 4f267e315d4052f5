import type { CPU } from './cpu.js';
import type { OpDef } from './x86_table.js';
import type { PreflightPlan } from './fault-preflight.js';

export type ExecFn = (cpu: CPU, ins: Instr) => void;

/** Segment register numbers, in the order of the ModRM/SIB `sreg` field (SDM Vol. 2 §3.1.1.3). */
export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];

/** REP prefix kinds. */
export const REP_NONE = 0, REP_E = 1, REP_NE = 2;

/**
 * One decoded instruction. Decoded once, cached per physical page with its
 * block, executed many times: `exec(cpu, ins)` reads everything it needs
 * from these fields, so nothing is allocated while running.
 */
export class Instr {
  /** Linear address of the first byte, and of the next instruction. */
  addr = 0;
  next = 0;
  /**
   * Where the decoded block continues after this instruction: `next`, or
   * the target of a direct JMP/CALL the block follows (decodeBlock).
   */
  cont = 0;
  len = 0;
  /** Opcode: 0x00–0xFF for the one-byte map, 0x100–0x1FF for the 0F map. */
  op = 0;
  def: OpDef | null = null;
  exec: ExecFn = noop;
  /** Operand size in bytes (1, 2 or 4) and address size (2 or 4). */
  size = 4;
  asize = 4;
  hasModrm = false;
  mod = 0;
  reg = 0;
  rm = 0;
  /** Effective address = base + (index << scale) + disp; -1 means absent. */
  base = -1;
  index = -1;
  scale = 0;
  disp = 0;
  /** Segment used for the memory operand (default or overridden). */
  seg = DS;
  segOverride = -1;
  imm = 0;
  imm2 = 0;
  rep = REP_NONE;
  lock = false;
  /** A 0x66 prefix flipped the operand size. */
  opsize66 = false;
  /** Has a memory operand (ModRM with mod != 3, or a moffs form). */
  mem = false;
  immCount = 0;
  /** Over-long instructions raise #GP, not #UD (SDM Vol. 2 §2.3.11). */
  excVectorGP = false;
  /** Raw bytes, kept for messages ("unsupported instruction 0F A6 at ..."). */
  bytes: number[] = [];
  /** Why this encoding cannot run, when exec raises #UD. */
  invalidReason = '';
  /** A host routine bound at this address, run instead of guest code. */
  native: ((cpu: CPU) => void) | null = null;
  /** Page faults this instruction raised (fault-preflight.ts wraps its executor after a few). */
  pageFaults = 0;
  /** Once wrapped (fault-preflight.ts): the original executor and the accesses to probe. */
  preflight: PreflightPlan | null = null;

}

function noop(): void {}
