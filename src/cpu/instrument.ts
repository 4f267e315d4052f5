/**
 * Instrumentation of guest instructions, in the way a Valgrind tool
 * instruments the IR: a client says once per compiled instruction whether it
 * wants to see it (`wants`, asked by the block compiler), and the call to
 * `before` is then emitted into the generated code ahead of that instruction
 * only — the instructions it does not want cost nothing. The interpreted
 * paths (a block not compiled yet, the per-instruction path under TF, debug
 * registers or segment checks) call `before` for every instruction, so a
 * client must tell the instructions it wants apart itself (cheaply).
 *
 * src/cpu knows nothing of what a client does with it (src/shadow's precise
 * checkers keep shadow memory with it). A client must not change
 * architectural state, nor throw.
 */
import type { CPU } from './cpu.js';
import type { Instr } from './instr.js';

export interface Instrumentation {
  /**
   * Compile time: should `before` run ahead of `ins`? The answer may depend
   * on the instruction only (a compiled block keeps it until the code is
   * flushed: CPU.setInstrumentation flushes it).
   */
  wants(ins: Instr): boolean;
  /**
   * Just before `ins` executes: cpu.eip is its EIP, and the registers,
   * segment bases and flags are its inputs. It may still fault afterwards
   * (and then run again after the handler).
   */
  before(cpu: CPU, ins: Instr): void;
  /**
   * Optional, compile time: JavaScript source to run ahead of a wanted
   * `ins` in a compiled block instead of the call to `before` — the
   * client's checks emitted inline, as a Valgrind tool adds IR. The code
   * may use `cpu`, `r` (cpu.regs), `sb` (cpu.segBase), `ih` (this object)
   * and the names `bind` returns for other values (`bind(ins)` names the
   * instruction). cpu.eip is not up to date there (compiled code runs with a
   * flat CS: the instruction's EIP is ins.addr). Null: the call to `before`.
   */
  emit?(ins: Instr, bind: (value: unknown) => string): string | null;
}
