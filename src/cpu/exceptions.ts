/**
 * The one exception- and interrupt-delivery path (invariant 5). Faults,
 * traps, INT n/INT3/INTO/INT1 and external interrupts all come here
 * (Intel SDM Vol. 3 §6.12 "Exception and Interrupt Handling" and §6.15).
 *
 * - The IDT gate is read and checked (limit → #GP, not present → #NP,
 *   software INT with gate DPL < CPL → #GP), with the EXT bit in the error
 *   code for events not caused by INT n.
 * - A gate to a more privileged non-conforming code segment switches to
 *   the stack named in the TSS (SSn:ESPn for the new CPL) and pushes the old
 *   SS:ESP there; then EFLAGS, CS, EIP and, where the SDM defines one, the
 *   error code. Interrupt gates clear IF; both kinds clear TF, NT, RF.
 * - A task gate switches to the handler task (task-switch.ts), which gets
 *   the error code on its own stack.
 * - A fault while delivering is classified by the SDM's table "Conditions
 *   for Generating a Double Fault" (Table 6-5): benign second exceptions are
 *   delivered serially, contributory-after-contributory and
 *   page-fault-after-page-fault/contributory become #DF, and any fault
 *   while delivering #DF is a triple fault: the machine stops.
 */
import type { CPU } from './cpu.js';
import { FAULT } from './cpu.js';
import { IF, NT, RF, TF, VM } from './flags.js';
import { CS, SS } from './instr.js';
import { readDescriptor, setSegmentCache, dplOf, isCode, inSegment, inSegmentCache, markAccessed, scratchDescriptor, DESC_P, type Descriptor } from './segments.js';
import { Vec, vectorName } from './stop.js';
import { taskGateDelivery } from './task-switch.js';
import { DR7_GD } from './debug-registers.js';

/** Vectors whose exception pushes an error code (SDM Table 6-1). */
export function hasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17;
}

const CONTRIBUTORY = new Set([0, 10, 11, 12, 13]);

/**
 * Class of an event for Table 6-5 (SDM Vol. 3 §6.15, Interrupt 8). INT n,
 * INT3 and INTO are not exceptions, and neither is an external interrupt
 * that happens to use an exception vector (it pushes no error code, §6.3.2):
 * both are benign, so a fault while delivering them is simply delivered.
 */
function classOf(v: number, software = false, errorCode = 0): 'benign' | 'contributory' | 'pf' | 'df' {
  if (software || (hasErrorCode(v) && errorCode < 0)) return 'benign';
  if (v === Vec.PF) return 'pf';
  if (v === Vec.DF) return 'df';
  return CONTRIBUTORY.has(v) ? 'contributory' : 'benign';
}

/**
 * Deliver `vector`. `errorCode` is -1 when none is pushed. `software` marks
 * INT n / INT3 / INTO (gate DPL check, no EXT bit); for those `cpu.eip`
 * already points past the instruction, for faults at it.
 */
export function deliverException(cpu: CPU, vector: number, errorCode: number, software: boolean): void {
  let v = vector;
  let err = errorCode;
  let sw = software;
  beginDelivery(cpu, v, sw);
  // The events of this delivery, for the triple-fault report: built only once a delivery faults.
  let chain: DeliveryChain | null = null;
  for (;;) {
    const eip = cpu.eip;
    try {
      deliverOnce(cpu, v, err, sw);
      if (chain !== null) cpu.deliveryChain = [];
      return;
    } catch (e) {
      if (e !== FAULT) throw e;
      chain ??= cpu.deliveryChain = [];
      chain.push({ vector: v, errorCode: err < 0 ? null : err, eip });
      // A fault raised by INT n itself (gate DPL, not-present gate) is reported at the INT instruction;
      // one raised in a new task after a task switch's commit point, at that task's EIP.
      if (sw && cpu.cur && !cpu.faultInNewTask) cpu.eip = cpu.cur.addr;
      cpu.faultInNewTask = false;
      const second = cpu.excVector;
      const secondErr = cpu.excHasError ? cpu.excError : -1;
      const first = classOf(v, sw, err);
      const cls = classOf(second);
      if (first === 'df') {
        chain.push({ vector: second, errorCode: secondErr < 0 ? null : secondErr, eip: cpu.eip });
        const names = chain.map((c) => vectorName(c.vector)).join(' → ');
        cpu.stop({ kind: 'triple-fault', chain, message: `triple fault: ${names}` });
        return;
      }
      if ((first === 'contributory' && cls === 'contributory') || (first === 'pf' && (cls === 'contributory' || cls === 'pf'))) {
        v = Vec.DF;
        err = 0;
      } else {
        v = second;
        err = secondErr;
      }
      sw = false;
    }
  }
}

type DeliveryChain = { vector: number; errorCode: number | null; eip: number }[];

/** What every delivery does first: DR7.GD cleared on the way into the #DB handler, the last triple-fault chain forgotten. */
function beginDelivery(cpu: CPU, vector: number, software: boolean): void {
  // Entering the debug-exception handler clears DR7.GD so that it may use the debug registers (SDM Vol. 3 §17.2.4).
  if (vector === Vec.DB && !software) cpu.dr[7] &= ~DR7_GD;
  if (cpu.deliveryChain.length) cpu.deliveryChain = [];
}

/** The gate's code segment and the inner stack's, parsed into these (one delivery at a time: nothing allocated per event). */
const gateCs = scratchDescriptor();
const innerSs = scratchDescriptor();

/** One word of the exception frame below `sp` on the handler's stack; returns the new stack pointer. */
function pushFrameWord(cpu: CPU, ssBase: number, sp: number, size: number, w: number): number {
  sp = (sp - size) | 0;
  if (size === 4) cpu.write32((ssBase + sp) | 0, w);
  else cpu.write16((ssBase + sp) | 0, w);
  return sp;
}

function deliverOnce(cpu: CPU, vector: number, errorCode: number, software: boolean): void {
  const ext = software ? 0 : 1;
  if (!(cpu.cr0 & 1) || (cpu.idtrLimit === 0 && !cpu.idtLoaded)) {
    // No protected-mode IDT: nothing can handle the event. Hardware would shut down; kmemsim stops with a typed reason.
    cpu.stop({
      kind: 'fault',
      vector,
      errorCode: errorCode < 0 ? null : errorCode,
      eip: cpu.eip,
      message: `unhandled ${vectorName(vector)}${errorCode >= 0 ? ` (error code 0x${errorCode.toString(16)})` : ''} at 0x${(cpu.eip >>> 0).toString(16)} with no IDT installed`,
    });
    return;
  }
  // Error codes name the IDT entry (IDT bit = 2) and carry EXT for events not caused by INT n (SDM §6.13).
  if (vector * 8 + 7 > cpu.idtrLimit) cpu.fault(Vec.GP, vector * 8 + 2 + ext);
  // A gate checked before whose tables nothing can have changed (checked-descriptors.ts): not even read.
  if (!cpu.segChecks && cpu.checkedDescriptors.gateUnchanged(cpu, vector) && deliverUnchangedGate(cpu, vector, errorCode, software)) return;
  const lo = cpu.readSystem32((cpu.idtrBase + vector * 8) | 0);
  const hi = cpu.readSystem32((cpu.idtrBase + vector * 8 + 4) | 0);
  const type = (hi >>> 8) & 0x1f;
  const gateDpl = (hi >>> 13) & 3;
  const present = (hi & 0x8000) !== 0;
  // Only task gates (5) and 16/32-bit interrupt (6/14) and trap (7/15) gates are valid in the IDT.
  if (type !== 5 && type !== 6 && type !== 7 && type !== 14 && type !== 15) cpu.fault(Vec.GP, vector * 8 + 2 + ext);
  if (software && gateDpl < cpu.cpl) cpu.fault(Vec.GP, vector * 8 + 2);
  if (!present) cpu.fault(Vec.NP, vector * 8 + 2 + ext);

  const cplBefore = cpu.cpl;
  const oldSS = cpu.segSel[SS];
  const oldESP = cpu.regs[4];
  // This very gate was checked at this CPL before (checked-descriptors.ts): only its code segment's descriptor is read again.
  if (!cpu.segChecks && cpu.checkedDescriptors.knowsGate(vector, lo, hi, cplBefore) && deliverCheckedGate(cpu, vector, errorCode, software, lo, hi)) return;
  if (type === 5) {
    // A task gate: the handler is a task of its own (SDM §6.12.2, chapter 7).
    taskGateDelivery(cpu, lo, errorCode, ext, cpu.deliveringFault);
    cpu.observer?.onException?.({ vector, errorCode: errorCode < 0 ? null : errorCode, eip: cpu.eip, cplBefore, cplAfter: cpu.cpl, oldStack: [oldSS, oldESP], newStack: [cpu.segSel[SS], cpu.regs[4]], cr2: cpu.cr2, software, external: cpu.deliveringExternal });
    return;
  }
  const gate32 = (type & 8) !== 0;
  const sel = (lo >>> 16) & 0xffff;
  const offset = gate32 ? (hi & 0xffff0000) | (lo & 0xffff) : lo & 0xffff;
  if ((sel & ~3) === 0) cpu.fault(Vec.GP, ext);
  const cs = readDescriptor(cpu, sel, Vec.GP, ext, gateCs);
  if (!isCode(cs) || dplOf(cs) > cpu.cpl) cpu.fault(Vec.GP, (sel & 0xfffc) + ext);
  if (!(cs.access & DESC_P)) cpu.fault(Vec.NP, (sel & 0xfffc) + ext);
  const conforming = (cs.access & 4) !== 0;
  const newCpl = conforming ? cpu.cpl : dplOf(cs);
  const image = cpu.getEflags();
  const eflags = image | (cpu.deliveringFault ? RF : 0);
  const eip = cpu.eip;
  const size = gate32 ? 4 : 2;
  const inter = newCpl < cpu.cpl;
  const frameBytes = size * ((inter ? 5 : 3) + (errorCode >= 0 ? 1 : 0));
  let ssBase: number;
  let esp: number;
  let newSS = oldSS;
  let ssDesc = null;
  if (inter) {
    // Inter-privilege: the new stack comes from the TSS (SDM §6.12.1, §7.2.1).
    const tssOff = 4 + newCpl * 8;
    if (tssOff + 5 > cpu.trLimit) cpu.fault(Vec.TS, (cpu.tr & 0xfffc) + ext);
    esp = cpu.readSystem32((cpu.trBase + tssOff) | 0);
    newSS = cpu.readSystem32((cpu.trBase + tssOff + 4) | 0) & 0xffff;
    if ((newSS & ~3) === 0) cpu.fault(Vec.TS, ext);
    ssDesc = readDescriptor(cpu, newSS, Vec.TS, ext, innerSs);
    if ((newSS & 3) !== newCpl || dplOf(ssDesc) !== newCpl || !(ssDesc.access & 0x10) || ssDesc.access & 8 || !(ssDesc.access & 2)) cpu.fault(Vec.TS, (newSS & 0xfffc) + ext);
    if (!(ssDesc.access & DESC_P)) cpu.fault(Vec.SS, (newSS & 0xfffc) + ext);
    // The whole frame must fit below ESPn within the new stack segment.
    if (!inSegment(ssDesc.access, ssDesc.flags, ssDesc.limit, (esp - frameBytes) | 0, frameBytes)) cpu.fault(Vec.SS, (newSS & 0xfffc) + ext);
    ssBase = ssDesc.base;
  } else {
    ssBase = cpu.segBase[SS];
    esp = oldESP;
    if (!inSegmentCache(cpu, SS, (esp - frameBytes) | 0, frameBytes)) cpu.fault(Vec.SS, ext);
  }
  // The handler's first instruction must lie within the code segment (SDM "INT n" operation: #GP(EXT)).
  if ((offset >>> 0) > (cs.limit >>> 0)) cpu.fault(Vec.GP, ext);
  // Write the whole frame at supervisor privilege of the new CPL; any fault here is a fault during delivery.
  const savedCpl = cpu.cpl;
  const oldCS = cpu.segSel[CS];
  cpu.setCpl(newCpl);
  try {
    let sp = esp;
    if (inter) {
      sp = pushFrameWord(cpu, ssBase, sp, size, oldSS);
      sp = pushFrameWord(cpu, ssBase, sp, size, oldESP);
    }
    esp = pushFrame(cpu, ssBase, sp, size, eflags, oldCS, eip, errorCode);
    // Loading CS (and SS) sets the descriptors' accessed bits.
    markAccessed(cpu, sel, cs);
    if (ssDesc) markAccessed(cpu, newSS, ssDesc);
  } catch (e) {
    cpu.setCpl(savedCpl);
    throw e;
  }
  if (inter) setSegmentCache(cpu, SS, newSS, ssDesc);
  else cpu.checkedDescriptors.recordGate(cpu, vector, lo, hi, cs, newCpl);
  enterHandler(cpu, vector, errorCode, software, type, (sel & 0xfffc) | newCpl, cs, offset, esp, eip, cplBefore, oldSS, oldESP, image);
}

/**
 * Where a 32-bit frame of `words` dwords at linear `low` lies when it is aligned and within one page the
 * read (or, `write`, the write) TLB holds: its first dword's index in CPU.mem32; -1 otherwise. Loads and
 * stores there are the ones read32/write32 would make, through one lookup (none of them can fault, and a
 * page with a data breakpoint or decoded code is never in the write TLB). Exception delivery writes its
 * frames through it, IRET reads them.
 */
export function frameInTlb(cpu: CPU, low: number, words: number, write: boolean): number {
  const e = (write ? cpu.tlbW : cpu.tlbR)[low >>> 12]!;
  if (e === 0 || (low & 3) !== 0 || (low & 0xfff) > 0x1000 - 4 * words) return -1;
  return ((e & ~0xfff) | (low & 0xfff)) >> 2;
}

/** The frame's dwords from mem32 index `p` up (frameInTlb): the error code if any, EIP, CS, EFLAGS. */
function storeFrame(cpu: CPU, p: number, words: number, eflags: number, cs: number, eip: number, errorCode: number): void {
  const m = cpu.mem32;
  m[p + words - 1] = eflags;
  m[p + words - 2] = cs;
  m[p + words - 3] = eip;
  if (words === 4) m[p] = errorCode;
}

/** EFLAGS, CS, EIP and the error code (if any) below `sp` on the handler's stack; returns the new stack pointer. */
function pushFrame(cpu: CPU, ssBase: number, sp: number, size: number, eflags: number, cs: number, eip: number, errorCode: number): number {
  const words = errorCode >= 0 ? 4 : 3;
  const p = size === 4 ? frameInTlb(cpu, (ssBase + sp - 4 * words) | 0, words, true) : -1;
  if (p >= 0) {
    storeFrame(cpu, p, words, eflags, cs, eip, errorCode);
    return (sp - 4 * words) | 0;
  }
  sp = pushFrameWord(cpu, ssBase, sp, size, eflags);
  sp = pushFrameWord(cpu, ssBase, sp, size, cs);
  sp = pushFrameWord(cpu, ssBase, sp, size, eip);
  if (errorCode >= 0) sp = pushFrameWord(cpu, ssBase, sp, size, errorCode);
  return sp;
}

/**
 * The frame is written: ESP, CS:EIP at the handler, EFLAGS as the gate type says, and the observer
 * told. `image` is EFLAGS as the frame has it (without the RF of a fault), computed once.
 */
function enterHandler(cpu: CPU, vector: number, errorCode: number, software: boolean, type: number, csSel: number, cs: Descriptor, offset: number, esp: number, eip: number, cplBefore: number, oldSS: number, oldESP: number, image: number): void {
  cpu.regs[4] = esp;
  setSegmentCache(cpu, CS, csSel, cs);
  cpu.eip = offset;
  let clear = TF | NT | RF | VM;
  if ((type & 7) === 6) clear |= IF; // interrupt gate
  cpu.clearEflagsOf(image, clear);
  cpu.observer?.onException?.({
    vector,
    errorCode: errorCode < 0 ? null : errorCode,
    eip,
    cplBefore,
    cplAfter: cpu.cpl,
    oldStack: [oldSS, oldESP],
    newStack: [cpu.segSel[SS], esp],
    cr2: cpu.cr2,
    software,
    external: cpu.deliveringExternal,
  });
}

/**
 * A same-privilege delivery through a gate whose checks passed before at this CPL, with these IDT
 * dwords (checked-descriptors.ts): the code segment's descriptor is read as the processor reads it
 * and must be the one checked; then the frame is written exactly as deliverOnce writes it (same
 * words, same order, at the same privilege). False, with nothing changed, when the descriptor
 * differs: the full path runs.
 */
function deliverCheckedGate(cpu: CPU, vector: number, errorCode: number, software: boolean, lo: number, hi: number): boolean {
  const sel = (lo >>> 16) & 0xffff;
  const index = sel & 0xfff8;
  const ldt = (sel & 4) !== 0;
  if (index + 7 > (ldt ? cpu.ldtLimit : cpu.gdtrLimit) >>> 0) return false;
  const table = ldt ? cpu.ldtBase : cpu.gdtrBase;
  const dlo = cpu.readSystem32((table + index) | 0);
  const cs = cpu.checkedDescriptors.gateDescriptor(cpu, vector, dlo, cpu.readSystem32((table + index + 4) | 0));
  if (cs === null) return false;
  enterCheckedGate(cpu, vector, errorCode, software, lo, hi, cs);
  return true;
}

/**
 * A same-privilege delivery through a gate checked before whose IDT entry and code-segment descriptor
 * cannot have changed since (CheckedDescriptors.gateUnchanged): the recorded dwords, not read again.
 * False, with nothing changed, for INT n through a gate whose DPL is below the CPL (the full path
 * raises the #GP).
 */
function deliverUnchangedGate(cpu: CPU, vector: number, errorCode: number, software: boolean): boolean {
  const known = cpu.checkedDescriptors;
  const hi = known.gateHiOf(vector);
  if (software && ((hi >>> 13) & 3) < cpu.cpl) return false;
  enterCheckedGate(cpu, vector, errorCode, software, known.gateLoOf(vector), hi, known.gateCsOf(vector));
  return true;
}

/**
 * An exception or external interrupt (not INT n) delivered at its commonest — the kmemcheck path's #PF and
 * #DB into the kernel's handlers: protected mode, flat segments, a 32-bit gate checked before whose tables
 * cannot have changed since (CheckedDescriptors.gateUnchanged), and a frame within one page the write TLB
 * holds. Nothing of it can fault, so the double-fault bookkeeping of deliverException has nothing to do:
 * the same frame, EFLAGS, CS:EIP and observer event as enterCheckedGate, from a small function. False,
 * with nothing changed, in every other case.
 */
export function deliverThroughKnownGate(cpu: CPU, vector: number, errorCode: number): boolean {
  if (!(cpu.cr0 & 1) || cpu.segChecks || vector * 8 + 7 > cpu.idtrLimit) return false;
  const known = cpu.checkedDescriptors;
  if (!known.gateUnchanged(cpu, vector)) return false;
  const hi = known.gateHiOf(vector);
  if (!(hi & 0x800)) return false; // a 16-bit gate
  const words = errorCode >= 0 ? 4 : 3;
  const oldESP = cpu.regs[4];
  const esp = (oldESP - 4 * words) | 0;
  const p = frameInTlb(cpu, (cpu.segBase[SS] + esp) | 0, words, true);
  if (p < 0) return false;
  // From here on it is deliverException's delivery through the same gate (enterCheckedGate's), done here:
  // calling enterCheckedGate, which looks the frame up again, measured 2–6 % slower on the kmemcheck path.
  beginDelivery(cpu, vector, false);
  const lo = known.gateLoOf(vector);
  const cpl = cpu.cpl;
  const eip = cpu.eip;
  const image = cpu.getEflags();
  storeFrame(cpu, p, words, image | (cpu.deliveringFault ? RF : 0), cpu.segSel[CS], eip, errorCode);
  known.hits++;
  const offset = (hi & 0xffff0000) | (lo & 0xffff);
  enterHandler(cpu, vector, errorCode, false, (hi >>> 8) & 0x1f, ((lo >>> 16) & 0xfffc) | cpl, known.gateCsOf(vector), offset, esp, eip, cpl, cpu.segSel[SS], oldESP, image);
  return true;
}

/** The frame of a same-privilege delivery through a checked gate (IDT dwords `lo`, `hi`, code segment `cs`), as deliverOnce writes it. */
function enterCheckedGate(cpu: CPU, vector: number, errorCode: number, software: boolean, lo: number, hi: number, cs: Descriptor): void {
  const sel = (lo >>> 16) & 0xffff;
  const type = (hi >>> 8) & 0x1f;
  const size = type & 8 ? 4 : 2;
  const offset = size === 4 ? (hi & 0xffff0000) | (lo & 0xffff) : lo & 0xffff;
  const cpl = cpu.cpl;
  const oldSS = cpu.segSel[SS];
  const oldESP = cpu.regs[4];
  const eip = cpu.eip;
  const image = cpu.getEflags();
  const esp = pushFrame(cpu, cpu.segBase[SS], oldESP, size, image | (cpu.deliveringFault ? RF : 0), cpu.segSel[CS], eip, errorCode);
  cpu.checkedDescriptors.hits++;
  enterHandler(cpu, vector, errorCode, software, type, (sel & 0xfffc) | cpl, cs, offset, esp, eip, cpl, oldSS, oldESP, image);
}
