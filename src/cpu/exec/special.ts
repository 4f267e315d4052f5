/**
 * Executors that are not instructions: invalid and unmodelled encodings,
 * a fetch that faulted while decoding, and native routines bound to guest
 * addresses.
 */
import type { CPU } from '../cpu.js';
import type { Instr } from '../instr.js';
import { Vec } from '../stop.js';

/** #UD for an invalid encoding; #GP(0) for one longer than 15 bytes. */
export function execInvalid(cpu: CPU, ins: Instr): void {
  cpu.fault(ins.excVectorGP ? Vec.GP : Vec.UD, ins.excVectorGP ? 0 : undefined);
}

/** A valid IA-32 instruction kmemsim does not model (x87, MMX, SSE, ...): #UD, remembered for the message. */
export function execUnsupported(cpu: CPU, ins: Instr): void {
  cpu.unsupported = ins;
  cpu.fault(Vec.UD);
}

/** Re-raise the fault the instruction fetch took (the block could not be decoded). */
export function execFetchFault(cpu: CPU, ins: Instr): void {
  // Fetching again raises the #PF (or reads past RAM as 0xFF, which then decodes normally next time).
  cpu.read8(ins.imm);
}

/** Run the host routine bound here; it returns architecturally (RET/IRET) by itself. */
export function execNative(cpu: CPU, ins: Instr): void {
  cpu.icount--; // native routines are not guest instructions (the run loop counts every executed entry)
  ins.native!(cpu);
}
