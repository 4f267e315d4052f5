/**
 * Hardware task switches (Intel SDM Vol. 3 chapter 7), the one mechanism
 * behind its three clients:
 *
 * - far JMP and CALL to a TSS descriptor or through a task gate in the GDT
 *   or LDT (`farTaskSwitch`, from exec/system.ts);
 * - an exception or interrupt whose IDT entry is a task gate
 *   (`taskGateDelivery`, from the one delivery path in exceptions.ts) — how
 *   i386 Linux reached its double-fault handler on a known-good stack;
 * - IRET with EFLAGS.NT set, back along the previous-task link
 *   (`nestedTaskReturn`).
 *
 * `switchTasks` follows the steps of §7.3: the new TSS is checked (present,
 * limit ≥ 0x67) and read whole, and every byte the switch will write is
 * probed, so that a fault before the commit point leaves the old task as it
 * was; the old task's busy bit is cleared (JMP, IRET) or kept (CALL,
 * interrupts), its state (EIP, EFLAGS — NT cleared by IRET —, the general
 * registers, the segment selectors) saved in its TSS; a CALL or interrupt
 * writes the back link and sets NT in the new EFLAGS, every switch but IRET
 * marks the new TSS busy; TR is loaded (the commit point) and CR0.TS set.
 * Then the new task's CR3 (paging on: the TLB is flushed but for global
 * pages, as MOV CR3 does), EFLAGS, EIP and registers are loaded, DR7's
 * local enables L0–L3 cleared (§17.2.4), and LDTR and the segment registers
 * loaded with the checks of Table 7-1 in its order (the P6 family's), with
 * their #TS/#NP/#SS error codes. A fault from then on is delivered in the
 * new task, at its EIP (CPU.faultInNewTask), after the segment registers
 * not loaded yet got their descriptors without checks (§7.3, §6.15 #TS). Finally the new EIP is checked
 * against CS's limit (#GP(0)), and when the new TSS has its T bit set a #DB
 * with DR6.BT is raised before the new task's first instruction (§17.3.1.5).
 *
 * Not modelled: 16-bit TSSs (types 1 and 3) and a new EFLAGS with VM set
 * (virtual-8086 mode) stop the machine with a message saying so.
 */
import type { CPU } from './cpu.js';
import { NT, RF, VM } from './flags.js';
import { CS, SS, DS, ES, FS, GS } from './instr.js';
import type { Instr } from './instr.js';
import { readDescriptor, setSegmentCache, markAccessed, dplOf, isCode, DESC_P, DESC_S, type Descriptor } from './segments.js';
import { Vec, FAULT } from './stop.js';
import { DR6_BT, DR6_FIXED, DR7_LOCAL_ENABLES } from './debug-registers.js';

/** Byte offsets of the 32-bit TSS fields the processor reads and writes (SDM Figure 7-2). */
const TSS = { LINK: 0x00, CR3: 0x1c, EIP: 0x20, EFLAGS: 0x24, EAX: 0x28, ES: 0x48, LDT: 0x60, TRAP: 0x64 } as const;
/** The smallest limit of a 32-bit TSS (§7.2.2: 0x67, a 104-byte TSS). */
const TSS32_MIN_LIMIT = 0x67;
/** Descriptor types: 32-bit TSS available / busy, 16-bit TSS available / busy, LDT. */
const TSS32_AVAILABLE = 9, TSS32_BUSY = 0xb, TSS16_AVAILABLE = 1, TSS16_BUSY = 3, LDT_TYPE = 2;
/** The busy bit (type bit 1) in the high dword of a TSS descriptor. */
const BUSY_BIT = 0x200;
const CR0_PG = 0x80000000 | 0, CR0_TS = 8;

/** What starts a task switch: it decides the busy bits, NT and the back link (§7.3 steps 6–10). */
export type TaskSwitchSource = 'jmp' | 'call' | 'iret' | 'interrupt';

/** The new task's state, read from its TSS before anything is changed. */
interface TaskImage {
  cr3: number;
  eip: number;
  eflags: number;
  regs: number[];
  /** Selectors in segment-register order ES, CS, SS, DS, FS, GS. */
  segs: number[];
  ldt: number;
  trap: boolean;
  /** Segment registers (bit per register) loaded with their checks so far. */
  loaded: number;
}

/**
 * Far JMP or CALL whose selector names a task gate or an available TSS
 * (SDM "JMP"/"CALL" TASK-GATE and TASK-STATE-SEGMENT; farTransfer has
 * already checked the gate's or TSS's DPL against CPL and RPL and that it is
 * present).
 */
export function farTaskSwitch(cpu: CPU, ins: Instr, sel: number, d: Descriptor, call: boolean): void {
  let tssSel = sel;
  let tss = d;
  if ((d.access & 0xf) === 5) {
    // Task gate: the TSS selector it names must be a GDT entry for an available TSS that is present.
    tssSel = (d.lo >>> 16) & 0xffff;
    const named = namedTss(cpu, tssSel, Vec.GP, TSS32_AVAILABLE, TSS16_AVAILABLE, 0, ins.addr);
    if (!named) return;
    tss = named;
  } else if ((d.access & 0xf) === TSS16_AVAILABLE) {
    return unsupported16(cpu, sel, ins.addr);
  }
  switchTasks(cpu, tssSel, tss, call ? 'call' : 'jmp', 0, 0);
}

/**
 * An exception or interrupt through a task gate in the IDT (SDM §6.12.2):
 * the interrupted task is saved with EIP as the delivery path left it (the
 * faulting instruction, or the next one for traps and INT n), the handler
 * task runs nested (NT set, back link to the interrupted task), and an
 * error code, when the exception has one, is pushed on the new task's stack.
 * `ext` is the EXT bit for error codes, `rf` the RF to set in the saved
 * EFLAGS (faults).
 */
export function taskGateDelivery(cpu: CPU, gateLo: number, errorCode: number, ext: number, rf: boolean): void {
  const tssSel = (gateLo >>> 16) & 0xffff;
  const tss = namedTss(cpu, tssSel, Vec.GP, TSS32_AVAILABLE, TSS16_AVAILABLE, ext, cpu.eip);
  if (!tss) return;
  switchTasks(cpu, tssSel, tss, 'interrupt', ext, rf ? RF : 0, errorCode);
}

/**
 * IRET with NT set (SDM "IRET" TASK-RETURN): back to the task named by the
 * current TSS's previous-task link, which must be a busy TSS in the GDT
 * (#TS otherwise, #NP when not present).
 */
export function nestedTaskReturn(cpu: CPU, ins: Instr): void {
  const link = readSystem16(cpu, (cpu.trBase + TSS.LINK) | 0);
  const tss = namedTss(cpu, link, Vec.TS, TSS32_BUSY, TSS16_BUSY, 0, ins.addr);
  if (!tss) return;
  switchTasks(cpu, link, tss, 'iret', 0, 0);
}

/**
 * The TSS a task gate or a back link names: a GDT selector (else `vec` with
 * the selector and EXT), of the 32-bit `want` type (S and type bits; the
 * 16-bit twin stops the machine, not modelled), present (else #NP). Null
 * when the machine stopped.
 */
function namedTss(cpu: CPU, sel: number, vec: number, want: number, want16: number, ext: number, eip: number): Descriptor | null {
  if (sel & 4) cpu.fault(vec, (sel & 0xfffc) + ext);
  const tss = readDescriptor(cpu, sel, vec, ext);
  const type = tss.access & 0x1f;
  if (type === want16) {
    unsupported16(cpu, sel, eip);
    return null;
  }
  if (type !== want) cpu.fault(vec, (sel & 0xfffc) + ext);
  if (!(tss.access & DESC_P)) cpu.fault(Vec.NP, (sel & 0xfffc) + ext);
  return tss;
}

/**
 * Switch from the current task to the one whose TSS `sel` / `d` describe
 * (SDM §7.3 steps 3–14). `cpu.eip` is the EIP to save for the old task,
 * `savedFlagBits` are set in its saved EFLAGS, `errorCode` (≥ 0) is pushed
 * on the new task's stack (an exception through a task gate, §6.12.2).
 */
function switchTasks(cpu: CPU, sel: number, d: Descriptor, source: TaskSwitchSource, ext: number, savedFlagBits: number, errorCode = -1): void {
  const err = (sel & 0xfffc) + ext;
  if (d.limit >>> 0 < TSS32_MIN_LIMIT) cpu.fault(Vec.TS, err);
  if (cpu.trLimit >>> 0 < TSS32_MIN_LIMIT) cpu.fault(Vec.TS, (cpu.tr & 0xfffc) + ext);
  // Step 5: everything the switch reads or writes must be reachable before anything changes.
  const next = readTaskImage(cpu, d.base);
  const nesting = source === 'call' || source === 'interrupt';
  probeWrite(cpu, (cpu.trBase + TSS.EIP) | 0);
  probeWrite(cpu, (cpu.trBase + TSS.ES + 5 * 4) | 0);
  if (nesting) probeWrite(cpu, (d.base + TSS.LINK) | 0);
  if (next.eflags & VM) {
    cpu.stop({ kind: 'unsupported', eip: cpu.eip, bytes: [], mnemonic: 'task switch', message: `task switch to TSS 0x${sel.toString(16)} whose EFLAGS has VM set: virtual-8086 mode is not modelled` });
    return;
  }
  // Steps 6–8: the old task.
  if (source === 'jmp' || source === 'iret') setBusy(cpu, cpu.tr, false);
  let oldFlags = cpu.getEflags() | savedFlagBits;
  if (source === 'iret') oldFlags &= ~NT;
  saveTask(cpu, oldFlags);
  // Steps 9–11: nesting, busy bits, TR (the commit point), CR0.TS.
  let newFlags = next.eflags;
  if (nesting) {
    writeSystem16(cpu, (d.base + TSS.LINK) | 0, cpu.tr);
    newFlags |= NT;
  }
  if (source !== 'iret') setBusy(cpu, sel, true);
  cpu.tr = sel;
  cpu.trBase = d.base;
  cpu.trLimit = d.limit;
  cpu.cr0 |= CR0_TS;
  cpu.stepTrapSuppressed = true;
  // Steps 12–13, in the new task's context.
  try {
    loadTask(cpu, next, newFlags, ext);
    if (errorCode >= 0) cpu.push32(errorCode);
  } catch (e) {
    // Past the commit point the switch completes: what was not loaded yet is loaded without checks (§7.3),
    // and the fault is the new task's.
    if (e === FAULT) {
      loadUnchecked(cpu, next);
      cpu.faultInNewTask = true;
    }
    throw e;
  }
  if (next.trap) taskSwitchTrap(cpu);
}

function readTaskImage(cpu: CPU, base: number): TaskImage {
  const r = (off: number): number => cpu.readSystem32((base + off) | 0);
  return {
    cr3: r(TSS.CR3),
    eip: r(TSS.EIP),
    eflags: r(TSS.EFLAGS),
    regs: Array.from({ length: 8 }, (_, i) => r(TSS.EAX + 4 * i)),
    segs: Array.from({ length: 6 }, (_, i) => r(TSS.ES + 4 * i) & 0xffff),
    ldt: r(TSS.LDT) & 0xffff,
    trap: (r(TSS.TRAP) & 1) !== 0,
    loaded: 0,
  };
}

/** Step 8: EIP, EFLAGS, the general registers and the six selectors go into the current TSS (CR3 and LDTR are not saved). */
function saveTask(cpu: CPU, eflags: number): void {
  const base = cpu.trBase;
  cpu.writeSystem32((base + TSS.EIP) | 0, cpu.eip);
  cpu.writeSystem32((base + TSS.EFLAGS) | 0, eflags);
  for (let i = 0; i < 8; i++) cpu.writeSystem32((base + TSS.EAX + 4 * i) | 0, cpu.regs[i]);
  for (let s = 0; s < 6; s++) writeSystem16(cpu, (base + TSS.ES + 4 * s) | 0, cpu.segSel[s]);
}

/** Step 12: CR3, EFLAGS, EIP, registers, then LDTR and the segment registers with their checks. */
function loadTask(cpu: CPU, t: TaskImage, eflags: number, ext: number): void {
  if (cpu.cr0 & CR0_PG) cpu.writeControlRegister(3, t.cr3);
  cpu.setEflags(eflags, -1);
  cpu.eip = t.eip;
  cpu.regs.set(t.regs);
  if (cpu.dr[7] & DR7_LOCAL_ENABLES) cpu.writeDebugRegister(7, cpu.dr[7] & ~DR7_LOCAL_ENABLES);
  loadTaskSegments(cpu, t, ext);
  // SDM "JMP"/"CALL"/"IRET": IF EIP not within code segment limit THEN #GP(0).
  if ((cpu.eip >>> 0) > (cpu.segLimit[CS] >>> 0)) cpu.fault(Vec.GP, 0);
}

/**
 * LDTR and the segment registers of the new task, checked in the order of
 * SDM Table 7-1 ("Exception Conditions Checked During a Task Switch", the
 * P6 family's order). The selectors are loaded first, without descriptors,
 * so a fault leaves the rest of the new state in place.
 */
function loadTaskSegments(cpu: CPU, t: TaskImage, ext: number): void {
  const e = (s: number): number => (s & 0xfffc) + ext;
  t.loaded = 0;
  for (let s = 0; s < 6; s++) setSegmentCache(cpu, s, t.segs[s], null);
  const csSel = t.segs[CS];
  const ssSel = t.segs[SS];
  const cpl = csSel & 3;
  cpu.setCpl(cpl);
  // LDT segment selector valid: null, or a GDT entry for an LDT descriptor.
  cpu.ldtr = t.ldt;
  cpu.ldtBase = 0;
  cpu.ldtLimit = 0;
  let ldt: Descriptor | null = null;
  if ((t.ldt & ~3) !== 0) {
    if (t.ldt & 4) cpu.fault(Vec.TS, e(t.ldt));
    ldt = readDescriptor(cpu, t.ldt, Vec.TS, ext);
    if (ldt.access & DESC_S || (ldt.access & 0xf) !== LDT_TYPE) cpu.fault(Vec.TS, e(t.ldt));
    cpu.ldtBase = ldt.base;
    cpu.ldtLimit = ldt.limit;
  }
  // Code segment DPL matches selector RPL (conforming: DPL ≤ RPL).
  const csEarly = (csSel & ~3) !== 0 ? descriptorInTable(cpu, csSel) : null;
  if (csEarly !== null && isCode(csEarly)) {
    const conforming = (csEarly.access & 4) !== 0;
    if (conforming ? dplOf(csEarly) > cpl : dplOf(csEarly) !== cpl) cpu.fault(Vec.TS, e(csSel));
  }
  // SS selector valid (not null, in its table, writable data), present, DPL = CPL.
  if ((ssSel & ~3) === 0) cpu.fault(Vec.TS, e(ssSel));
  const ss = readDescriptor(cpu, ssSel, Vec.TS, ext);
  if (!(ss.access & DESC_S) || ss.access & 8 || !(ss.access & 2)) cpu.fault(Vec.TS, e(ssSel));
  if (!(ss.access & DESC_P)) cpu.fault(Vec.SS, e(ssSel));
  if (dplOf(ss) !== cpl) cpu.fault(Vec.TS, e(ssSel));
  // LDT present.
  if (ldt !== null && !(ldt.access & DESC_P)) cpu.fault(Vec.TS, e(t.ldt));
  // CS selector valid (not null, in its table, code), present.
  if ((csSel & ~3) === 0) cpu.fault(Vec.TS, e(csSel));
  const cs = readDescriptor(cpu, csSel, Vec.TS, ext);
  if (!isCode(cs)) cpu.fault(Vec.TS, e(csSel));
  if (!(cs.access & DESC_P)) cpu.fault(Vec.NP, e(csSel));
  // Stack segment DPL matches selector RPL.
  if ((ssSel & 3) !== dplOf(ss)) cpu.fault(Vec.TS, e(ssSel));
  markAccessed(cpu, csSel, cs);
  setSegmentCache(cpu, CS, csSel, cs);
  markAccessed(cpu, ssSel, ss);
  setSegmentCache(cpu, SS, ssSel, ss);
  t.loaded |= (1 << CS) | (1 << SS);
  // DS, ES, FS, GS: each check for all four before the next (valid, readable, present, DPL ≥ CPL and RPL unless conforming).
  const data = [DS, ES, FS, GS].filter((s) => (t.segs[s] & ~3) !== 0);
  const descs = data.map((s) => {
    const dd = readDescriptor(cpu, t.segs[s], Vec.TS, ext);
    if (!(dd.access & DESC_S)) cpu.fault(Vec.TS, e(t.segs[s]));
    return dd;
  });
  data.forEach((s, i) => {
    if (isCode(descs[i]) && !(descs[i].access & 2)) cpu.fault(Vec.TS, e(t.segs[s]));
  });
  data.forEach((s, i) => {
    if (!(descs[i].access & DESC_P)) cpu.fault(Vec.NP, e(t.segs[s]));
  });
  data.forEach((s, i) => {
    const conforming = (descs[i].access & 0xc) === 0xc;
    if (!conforming && (dplOf(descs[i]) < cpl || dplOf(descs[i]) < (t.segs[s] & 3))) cpu.fault(Vec.TS, e(t.segs[s]));
  });
  data.forEach((s, i) => {
    markAccessed(cpu, t.segs[s], descs[i]);
    setSegmentCache(cpu, s, t.segs[s], descs[i]);
  });
  t.loaded = 0x3f;
}

/**
 * After a fault past the commit point: the segment registers not loaded yet
 * get their descriptors without any check (a selector whose descriptor
 * cannot be read, or a system descriptor, leaves an empty cache).
 */
function loadUnchecked(cpu: CPU, t: TaskImage): void {
  for (let s = 0; s < 6; s++) {
    if (t.loaded & (1 << s) || (t.segs[s] & ~3) === 0) continue;
    let d: Descriptor | null = null;
    try {
      d = descriptorInTable(cpu, t.segs[s]);
    } catch (e) {
      if (e !== FAULT) throw e;
    }
    setSegmentCache(cpu, s, t.segs[s], d !== null && d.access & DESC_S ? d : null);
  }
  t.loaded = 0x3f;
}

/** The descriptor a selector names when it lies within its table, else null (no fault). */
function descriptorInTable(cpu: CPU, sel: number): Descriptor | null {
  const limit = sel & 4 ? cpu.ldtLimit : cpu.gdtrLimit;
  if ((sel & 0xfff8) + 7 > limit >>> 0) return null;
  return readDescriptor(cpu, sel);
}

/**
 * The T bit of the new TSS: a #DB with DR6.BT after the switch, before the
 * new task's first instruction (SDM §17.3.1.5). A #DB handler task with T set
 * would switch to itself for ever ("the processor loops"): kmemsim stops.
 */
const inTaskTrap = new WeakSet<CPU>();
function taskSwitchTrap(cpu: CPU): void {
  if (inTaskTrap.has(cpu)) {
    cpu.stop({ kind: 'unsupported', eip: cpu.eip, bytes: [], mnemonic: 'task switch', message: `the #DB raised by a TSS T bit switched to a task whose T bit is set too (TSS 0x${cpu.tr.toString(16)}): the processor would loop for ever (SDM Vol. 3 §17.3.1.5)` });
    return;
  }
  cpu.dr[6] |= DR6_BT | DR6_FIXED;
  inTaskTrap.add(cpu);
  try {
    cpu.deliver(Vec.DB, -1, false);
  } finally {
    inTaskTrap.delete(cpu);
  }
}

/** Set or clear the busy bit of the TSS descriptor `sel` names in the GDT (LTR and task switches). */
export function setBusy(cpu: CPU, sel: number, busy: boolean): void {
  const at = (cpu.gdtrBase + (sel & 0xfff8) + 4) | 0;
  const hi = cpu.readSystem32(at);
  cpu.writeSystem32(at, busy ? hi | BUSY_BIT : hi & ~BUSY_BIT);
}

function readSystem16(cpu: CPU, lin: number): number {
  return cpu.readSystem32(lin) & 0xffff;
}
/** A 16-bit TSS field (selectors, the back link): the reserved upper half keeps its value. */
function writeSystem16(cpu: CPU, lin: number, v: number): void {
  const old = cpu.readSystem32(lin);
  cpu.writeSystem32(lin, (old & ~0xffff) | (v & 0xffff));
}
/** A supervisor write probe: fault now, before the commit point, if the dword cannot be written. */
function probeWrite(cpu: CPU, lin: number): void {
  cpu.writeSystem32(lin, cpu.readSystem32(lin));
}

function unsupported16(cpu: CPU, sel: number, eip: number): void {
  cpu.stop({ kind: 'unsupported', eip, bytes: [], mnemonic: 'task switch', message: `task switch to a 16-bit TSS (selector 0x${sel.toString(16)}): 16-bit TSSs are not modelled` });
}
