/**
 * Page faults delivered without a JavaScript throw, for instructions that
 * keep faulting (an access to a page kmemcheck or another page-hiding
 * client hides, over and over).
 *
 * A fault raised inside an executor unwinds to the run loop with a throw
 * (CPU.fault), and a throw costs about as much as the rest of a tracked
 * access together. For the simplest and commonest memory instructions —
 * MOV, MOVZX/MOVSX, the ALU group, TEST, whose one memory access is their
 * ModRM operand, and MOVS, STOS, LODS, whose iteration reads DS:ESI and/or
 * writes ES:EDI — the decoded instruction and the registers already say
 * everything the page walk needs: the linear address, the size and the
 * kind of each access in order (a read, or a write; a read-modify-write
 * destination is probed for write first, so its #PF says "write"). Once such an instruction has raised #PF a
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
import { ES, REP_NONE } from './instr.js';
import * as data from './exec/data.js';
import * as alu from './exec/alu.js';
import * as str from './exec/string.js';

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

/** String instructions: which of DS:ESI (read) and ES:EDI (write) one iteration touches, in that order. */
const STRING = new Map<ExecFn, { read: boolean; write: boolean }>([
  [str.movs, { read: true, write: true }],
  [str.stos, { read: false, write: true }],
  [str.lods, { read: true, write: false }],
]);

/** What a wrapped instruction probes, decided when it is wrapped (nothing looked up per execution). */
export interface PreflightPlan {
  /** The original executor. */
  readonly exec: ExecFn;
  /** A string instruction's accesses (DS:ESI read, ES:EDI write), or null for a ModRM/moffs operand... */
  readonly string: { read: boolean; write: boolean } | null;
  /** ...of this many bytes, written (else read) first. */
  readonly size: number;
  readonly write: boolean;
}

/**
 * Called by the run loop's fault path for every #PF an instruction raised:
 * the PREFLIGHT_AFTER-th wraps its executor.
 */
export function notePageFault(cpu: CPU, ins: Instr): void {
  if (ins.native !== null || ++ins.pageFaults !== cpu.preflightAfter) return;
  const exec = ins.exec;
  const kind = ins.mem ? SIMPLE.get(exec) : undefined;
  const string = ins.mem ? undefined : STRING.get(exec);
  if (kind === undefined && string === undefined) return;
  ins.preflight = { exec, string: string ?? null, size: operandSize(exec, ins), write: kind !== undefined && isWrite(kind, exec, ins) };
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
  const plan = ins.preflight!;
  if (!cpu.segChecks && ins.seg < 4 && !cpu.dataBpActive && cpu.cr0 & 0x80000000 && cpu.icount !== cpu.preflightFaultAt) {
    const string = plan.string;
    if (string === null ? simpleFaults(cpu, ins, plan) : stringFaults(cpu, ins, string)) return;
  }
  plan.exec(cpu, ins);
}

/** The ModRM operand's page faults: the #PF has been delivered. */
function simpleFaults(cpu: CPU, ins: Instr, plan: PreflightPlan): boolean {
  const lin = (cpu.segBase[ins.seg] + cpu.ea(ins)) | 0;
  return accessFaults(cpu, ins, lin, plan.size, plan.write) === 1;
}

/** The next iteration's first faulting access, if any, has had its #PF delivered. */
function stringFaults(cpu: CPU, ins: Instr, kind: { read: boolean; write: boolean }): boolean {
  const a32 = ins.asize === 4;
  if (ins.rep !== REP_NONE && (a32 ? cpu.regs[1] : cpu.regs[1] & 0xffff) === 0) return false; // no iteration at all
  if (kind.read) {
    const r = accessFaults(cpu, ins, (cpu.segBase[ins.seg] + (a32 ? cpu.regs[6] : cpu.regs[6] & 0xffff)) | 0, ins.size, false);
    if (r !== 0) return r === 1;
  }
  return kind.write && accessFaults(cpu, ins, (cpu.segBase[ES] + (a32 ? cpu.regs[7] : cpu.regs[7] & 0xffff)) | 0, ins.size, true) === 1;
}

/**
 * One access of `ins`: 1 when it faults (the #PF is delivered), 0 when it
 * does not (its translation is then in the TLB, as the access would have
 * left it), -1 when it straddles a page (undecided: the executor runs).
 */
function accessFaults(cpu: CPU, ins: Instr, lin: number, size: number, write: boolean): number {
  if ((lin & 0xfff) > 0x1000 - size) return -1;
  if ((write ? cpu.tlbW : cpu.tlbR)[lin >>> 12] !== 0) return 0;
  const r = cpu.walkTry(lin, write);
  if (r < 0) {
    cpu.deliverPageFaultOf(ins, lin, ~r);
    return 1;
  }
  // The walk has set the accessed and dirty bits: its result goes into the TLB as translate() would put it.
  cpu.fillTlb(lin, write, r);
  return 0;
}
