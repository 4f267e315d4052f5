/**
 * Page faults delivered without a JavaScript throw, for instructions that
 * keep faulting (an access to a page kmemcheck or another page-hiding
 * client hides, over and over).
 *
 * A fault raised inside an executor unwinds to the run loop with a throw
 * (CPU.fault), and a throw costs about as much as the rest of a tracked
 * access together. For the simplest and commonest memory instructions —
 * MOV, MOVZX/MOVSX, the ALU group, TEST, whose one memory access is their
 * ModRM operand — the decoded instruction already says everything the page
 * walk needs: the linear address, the size and the kind of the first access
 * (a read, or a write; a read-modify-write destination is probed for write
 * first, so its #PF says "write"). Once such an instruction has raised #PF a
 * few times (CPU.preflightAfter), its executor is wrapped: when the operand's
 * page is not in the TLB, the wrapper asks the page walk for its verdict
 * first (CPU.walkTry, no side effect when it faults) and, if it would fault,
 * delivers the #PF itself — same CR2, same error code, same frame — and
 * returns; otherwise the instruction runs as before. What the guest sees is
 * unchanged: the instruction did not execute, the fault is reported at it
 * (SDM Vol. 3 §6.5, "faults are restartable").
 *
 * Only flat segments qualify (no segment check could come first), never
 * FS/GS (always checked), never with a data breakpoint armed or across a
 * page boundary: those keep the ordinary path.
 */
import type { CPU } from './cpu.js';
import type { ExecFn, Instr } from './instr.js';
import * as data from './exec/data.js';
import * as alu from './exec/alu.js';

/** #PF raised by one decoded instruction before its executor is wrapped (the default of CPU.preflightAfter). */
export const PREFLIGHT_AFTER = 4;

const enum Kind {
  Read,
  Write,
  /** ALU E,src: a write (probed before the read) unless the operation is CMP. */
  AluToE,
}

/** Executors whose only memory access is the ModRM/moffs operand, with the kind of their first access. */
const SIMPLE = new Map<ExecFn, Kind>([
  [data.movEG, Kind.Write],
  [data.movEG32, Kind.Write],
  [data.movEI, Kind.Write],
  [data.movOA, Kind.Write],
  [data.movGE, Kind.Read],
  [data.movGE32, Kind.Read],
  [data.movAO, Kind.Read],
  [data.movzxB, Kind.Read],
  [data.movzxW, Kind.Read],
  [data.movsxB, Kind.Read],
  [data.movsxW, Kind.Read],
  [alu.aluGE, Kind.Read],
  [alu.testEG, Kind.Read],
  [alu.testEI, Kind.Read],
  [alu.aluEG, Kind.AluToE],
  [alu.aluEI, Kind.AluToE],
]);

/** The original executor of each wrapped instruction. */
const original = new WeakMap<Instr, ExecFn>();

/**
 * Called by the run loop's fault path for every #PF an instruction raised:
 * the PREFLIGHT_AFTER-th wraps its executor.
 */
export function notePageFault(cpu: CPU, ins: Instr): void {
  if (!ins.mem || ins.native !== null || ++ins.pageFaults !== cpu.preflightAfter) return;
  if (!SIMPLE.has(ins.exec)) return;
  original.set(ins, ins.exec);
  ins.exec = preflightExec;
}

/** Bytes the operand covers. */
function operandSize(exec: ExecFn, ins: Instr): number {
  if (exec === data.movzxB || exec === data.movsxB) return 1;
  if (exec === data.movzxW || exec === data.movsxW) return 2;
  return ins.size;
}

function isWrite(kind: Kind, exec: ExecFn, ins: Instr): boolean {
  if (kind !== Kind.AluToE) return kind === Kind.Write;
  const op = exec === alu.aluEG ? (ins.op >> 3) & 7 : ins.reg;
  return op !== alu.CMP;
}

function preflightExec(cpu: CPU, ins: Instr): void {
  const exec = original.get(ins)!;
  if (!cpu.segChecks && ins.seg < 4 && !cpu.dataBpActive && cpu.cr0 & 0x80000000 && cpu.icount !== cpu.preflightFaultAt) {
    const lin = (cpu.segBase[ins.seg] + cpu.ea(ins)) | 0;
    const size = operandSize(exec, ins);
    const write = isWrite(SIMPLE.get(exec)!, exec, ins);
    if ((lin & 0xfff) <= 0x1000 - size && (write ? cpu.tlbW : cpu.tlbR)[lin >>> 12] === 0) {
      const r = cpu.walkTry(lin, write);
      if (r < 0) {
        cpu.deliverPageFaultOf(ins, lin, ~r);
        return;
      }
    }
  }
  exec(cpu, ins);
}
