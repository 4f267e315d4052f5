/**
 * System and privileged instructions: INT n/INT3/INTO/INT1, IRET, far
 * JMP/CALL/RET (incl. call gates with the TSS stack switch and parameter
 * copying; task gates and TSS targets switch tasks, task-switch.ts),
 * segment-register moves, HLT, CLI/STI, IN/OUT, CPUID, RDTSC,
 * MOV CRn/DRn, LGDT/LIDT/SGDT/SIDT, LLDT/SLDT/LTR/STR, INVLPG, CLTS,
 * WBINVD/INVD, LMSW/SMSW (SDM Vol. 2 and Vol. 3 chapters 2, 5, 6).
 */
import { hexBytes } from '../disasm.js';
import type { CPU } from '../cpu.js';
import { DR6_BD, DR6_FIXED, DR7_GD } from '../debug-registers.js';
import type { Instr } from '../instr.js';
import { CS, SS, DS, ES, FS, GS } from '../instr.js';
import { AC, AF, CF, DF, ID, IF, IOPL, NT, OF, PF, RF, SF, TF, VIF, VIP, VM, ZF } from '../flags.js';
import { Vec } from '../stop.js';
import { loadSegment, readDescriptor, scratchDescriptor, setSegmentCache, dplOf, isCode, inSegment, inSegmentCache, markAccessed, DESC_P, DESC_S } from '../segments.js';
import type { Descriptor } from '../segments.js';
import { farTaskSwitch, nestedTaskReturn, setBusy } from '../task-switch.js';
import { frameInTlb } from '../exceptions.js';

/** Privileged instructions raise #GP(0) at CPL > 0 (SDM Vol. 3 §5.9). */
function requireCpl0(cpu: CPU): void {
  if (cpu.cpl !== 0) cpu.fault(Vec.GP, 0);
}

// ---- software interrupts ---------------------------------------------------

/** CD ib: INT n. */
export function intN(cpu: CPU, ins: Instr): void {
  cpu.cur = ins;
  cpu.softwareInterrupt(ins.imm & 0xff);
}
/** CC: INT3 (a trap: EIP points past it). */
export function int3(cpu: CPU, ins: Instr): void {
  cpu.cur = ins;
  cpu.softwareInterrupt(Vec.BP);
}
/** CE: INTO — #OF if OF is set. */
export function into(cpu: CPU, ins: Instr): void {
  cpu.cur = ins;
  if (cpu.getOF()) cpu.softwareInterrupt(Vec.OF);
}
/** F1: INT1/ICEBP — a #DB delivered like a hardware event (no gate DPL check). */
export function int1(cpu: CPU): void {
  cpu.hardwareTrap(Vec.DB);
}
/** 0F 0B: UD2. */
export function ud2(cpu: CPU): void {
  cpu.fault(Vec.UD);
}

// ---- IRET -------------------------------------------------------------------

/**
 * The CS a far RET or IRET returns to (SDM Vol. 2 RET/IRET, protected mode):
 * not null, a code segment, RPL not more privileged than CPL, DPL equal
 * to RPL (at most RPL if conforming), present.
 */
/** The CS and SS a return loads, parsed into these (nothing allocated per IRET or far RET). */
const returnCs = scratchDescriptor();
const returnSs = scratchDescriptor();

function returnCodeSegment(cpu: CPU, sel: number): Descriptor {
  const rpl = sel & 3;
  if ((sel & ~3) === 0) cpu.fault(Vec.GP, 0);
  const d = readDescriptor(cpu, sel, Vec.GP, 0, returnCs);
  if (!isCode(d) || rpl < cpu.cpl) cpu.fault(Vec.GP, sel & 0xfffc);
  const conforming = (d.access & 4) !== 0;
  if (conforming ? dplOf(d) > rpl : dplOf(d) !== rpl) cpu.fault(Vec.GP, sel & 0xfffc);
  if (!(d.access & DESC_P)) cpu.fault(Vec.NP, sel & 0xfffc);
  return d;
}

/**
 * The code segment of a same-privilege return whose checks passed before (../checked-descriptors.ts):
 * its descriptor is read as returnCodeSegment reads it and must be the one checked at this CPL;
 * null (nothing changed) otherwise, and returnCodeSegment checks it in full.
 */
function checkedReturnSegment(cpu: CPU, sel: number): Descriptor | null {
  if ((sel & ~3) === 0 || !cpu.checkedDescriptors.enabled) return null;
  // Nothing that could change the descriptor changed since it was checked: not even read.
  const unchanged = cpu.checkedDescriptors.returnUnchanged(cpu, sel);
  if (unchanged !== null) {
    cpu.checkedDescriptors.hits++;
    return unchanged;
  }
  const index = sel & 0xfff8;
  const ldt = (sel & 4) !== 0;
  if (index + 7 > (ldt ? cpu.ldtLimit : cpu.gdtrLimit) >>> 0) return null;
  const table = ldt ? cpu.ldtBase : cpu.gdtrBase;
  const dlo = cpu.readSystem32((table + index) | 0);
  const d = cpu.checkedDescriptors.knownReturn(cpu, sel, dlo, cpu.readSystem32((table + index + 4) | 0), cpu.cpl);
  if (d !== null) cpu.checkedDescriptors.hits++;
  return d;
}

/**
 * IRETD at its commonest — a kernel's trap handler returning to the code it
 * interrupted: protected mode, NT clear, a 32-bit frame within one page the
 * read TLB holds, back to the code segment already loaded at the same
 * privilege, whose descriptor checked-descriptors.ts vouches is unchanged
 * (so the full path's checks pass, its accessed bit is set and loading it
 * changes nothing but ends the block). Does what the full IRET does — the
 * same three loads, ESP, EIP, EFLAGS under the same mask — and returns
 * true; false, with nothing changed, in every other case (the full path
 * runs). A small function of its own: the kernel's return from its native
 * trap handlers (two per kmemcheck access) calls it directly.
 */
export function iretSameLevel(cpu: CPU): boolean {
  if (!(cpu.cr0 & 1) || cpu.flags & NT) return false;
  const sp = cpu.regs[4];
  const p = frameInTlb(cpu, (cpu.segBase[SS] + sp) | 0, 3, false);
  if (p < 0) return false;
  const m = cpu.mem32;
  const newCs = m[p + 1]! & 0xffff;
  const cpl = cpu.cpl;
  if (newCs !== cpu.segSel[CS] || (newCs & 3) !== cpl) return false;
  const newEip = m[p]!;
  const newFlags = m[p + 2]!;
  // A return to virtual-8086 mode (not modelled) is the full path's to refuse.
  if (newFlags & VM && cpl === 0) return false;
  const d = cpu.checkedDescriptors.returnUnchanged(cpu, newCs);
  if (d === null || d.base !== cpu.segBase[CS] || d.limit !== cpu.segLimit[CS] || (d.access | (d.flags << 12)) !== cpu.segAttr[CS] || (newEip >>> 0) > (d.limit >>> 0)) return false;
  cpu.checkedDescriptors.hits++;
  cpu.regs[4] = (sp + 12) | 0;
  // CS reloaded with what it holds: setSegmentCache's only effect then.
  cpu.breakLoop = true;
  cpu.eip = newEip;
  cpu.setEflags(newFlags, returnFlagsMask(cpu, 4, cpl));
  return true;
}

/** The EFLAGS bits an IRET of operand size `size` at CPL `cpl` may change (SDM "IRET/IRETD" operation). */
function returnFlagsMask(cpu: CPU, size: number, cpl: number): number {
  let mask = CF | PF | AF | ZF | SF | TF | DF | OF | NT;
  if (size === 4) mask |= RF | AC | ID;
  if (cpl <= ((cpu.flags & IOPL) >> 12)) mask |= IF;
  if (cpl === 0) {
    mask |= IOPL;
    if (size === 4) mask |= VIF | VIP;
  }
  return mask;
}

/**
 * CF: IRET/IRETD in protected mode (SDM "IRET/IRETD" operation): return to
 * the same privilege level, or to an outer one popping SS:ESP as well; with
 * NT set, a task switch back to the previous task (task-switch.ts). Returns
 * to virtual-8086 mode are not modelled and stop the machine with a message.
 */
export function iret(cpu: CPU, ins: Instr): void {
  const size = ins.size;
  if (size === 4 && iretSameLevel(cpu)) return;
  if (!(cpu.cr0 & 1)) {
    const eip = cpu.pop(size);
    const cs = cpu.pop(size) & 0xffff;
    const fl = cpu.pop(size);
    cpu.segSel[CS] = cs;
    cpu.segBase[CS] = cs << 4;
    cpu.eip = eip;
    cpu.setEflags(fl, size === 4 ? 0x257fd5 : 0x7fd5);
    return;
  }
  if (cpu.flags & NT) {
    nestedTaskReturn(cpu, ins);
    return;
  }
  const ssb = cpu.segBase[SS];
  const sp = cpu.regs[4];
  const at = (ssb + sp) | 0;
  // EIP, CS and EFLAGS within one page the read TLB holds: the loads read32 would make, through one lookup.
  const p = size === 4 ? frameInTlb(cpu, at, 3, false) : -1;
  let newEip: number, newCs: number, newFlags: number;
  if (p >= 0) {
    const m = cpu.mem32;
    newEip = m[p]!;
    newCs = m[p + 1]! & 0xffff;
    newFlags = m[p + 2]!;
  } else {
    newEip = cpu.read(size, at);
    newCs = cpu.read(size, (ssb + sp + size) | 0) & 0xffff;
    newFlags = cpu.read(size, (ssb + sp + 2 * size) | 0);
  }
  if (size === 4 && newFlags & VM && cpu.cpl === 0) {
    cpu.stop({ kind: 'unsupported', eip: ins.addr, bytes: ins.bytes, mnemonic: 'iret', message: `unsupported instruction IRET (${hexBytes(ins.bytes)}) at 0x${(ins.addr >>> 0).toString(16).padStart(8, '0')}: a return to virtual-8086 mode is not modelled` });
    return;
  }
  const rpl = newCs & 3;
  const oldCpl = cpu.cpl;
  const checked = rpl === oldCpl ? checkedReturnSegment(cpu, newCs) : null;
  const d = checked ?? returnCodeSegment(cpu, newCs);
  const eip = size === 2 ? newEip & 0xffff : newEip;
  const mask = returnFlagsMask(cpu, size, oldCpl);
  if (rpl === oldCpl) {
    if ((eip >>> 0) > (d.limit >>> 0)) cpu.fault(Vec.GP, 0);
    markAccessed(cpu, newCs, d);
    if (checked === null) cpu.checkedDescriptors.recordReturn(cpu, newCs, d, oldCpl);
    cpu.regs[4] = (sp + 3 * size) | 0;
    setSegmentCache(cpu, CS, newCs, d);
    cpu.eip = eip;
    cpu.setEflags(newFlags, mask);
    return;
  }
  // Return to an outer privilege level: pop SS:ESP too and check SS against the new CPL.
  const newEsp = cpu.read(size, (ssb + sp + 3 * size) | 0);
  const newSs = cpu.read(size, (ssb + sp + 4 * size) | 0) & 0xffff;
  if ((newSs & ~3) === 0) cpu.fault(Vec.GP, 0);
  const sd = readDescriptor(cpu, newSs, Vec.GP, 0, returnSs);
  if ((newSs & 3) !== rpl || dplOf(sd) !== rpl || !(sd.access & 0x10) || sd.access & 8 || !(sd.access & 2)) cpu.fault(Vec.GP, newSs & 0xfffc);
  if (!(sd.access & DESC_P)) cpu.fault(Vec.SS, newSs & 0xfffc);
  if ((eip >>> 0) > (d.limit >>> 0)) cpu.fault(Vec.GP, 0);
  markAccessed(cpu, newCs, d);
  markAccessed(cpu, newSs, sd);
  setSegmentCache(cpu, CS, newCs, d);
  cpu.setCpl(rpl);
  setSegmentCache(cpu, SS, newSs, sd);
  cpu.regs[4] = size === 2 ? (cpu.regs[4] & ~0xffff) | (newEsp & 0xffff) : newEsp;
  cpu.eip = eip;
  cpu.setEflags(newFlags, mask);
  nullInaccessibleSegments(cpu);
}

/** After a return to an outer level, data segments the new CPL may not use are nulled (SDM "RET", "IRET"). */
function nullInaccessibleSegments(cpu: CPU): void {
  for (const s of [ES, DS, FS, GS]) {
    const attr = cpu.segAttr[s];
    const dpl = (attr >> 5) & 3;
    const conformingCode = (attr & 0x1c) === 0x1c;
    if ((cpu.segSel[s] & ~3) !== 0 && !conformingCode && dpl < cpu.cpl) setSegmentCache(cpu, s, 0, null);
  }
}

// ---- far transfers ------------------------------------------------------------

type Desc = ReturnType<typeof readDescriptor>;

/**
 * Far JMP/CALL with a segment selector operand in protected mode (SDM
 * "JMP" and "CALL" operation, Vol. 3 §5.8): a code segment directly, a
 * call gate, or a TSS / task gate (a task switch).
 */
function farTransfer(cpu: CPU, ins: Instr, sel: number, off: number, call: boolean): void {
  sel &= 0xffff;
  if ((sel & ~3) === 0) cpu.fault(Vec.GP, 0);
  const d = readDescriptor(cpu, sel);
  const err = sel & 0xfffc;
  const cpl = cpu.cpl;
  if (d.access & DESC_S) {
    // A code segment: conforming needs DPL <= CPL; non-conforming RPL <= CPL and DPL = CPL (§5.8.1.1).
    if (!isCode(d)) cpu.fault(Vec.GP, err);
    const conforming = (d.access & 4) !== 0;
    if (conforming ? dplOf(d) > cpl : (sel & 3) > cpl || dplOf(d) !== cpl) cpu.fault(Vec.GP, err);
    if (!(d.access & DESC_P)) cpu.fault(Vec.NP, err);
    const size = ins.size;
    const eip = size === 2 ? off & 0xffff : off;
    if (call) {
      const sp = cpu.regs[4];
      if (!inSegmentCache(cpu, SS, (sp - 2 * size) | 0, 2 * size)) cpu.fault(Vec.SS, 0);
      if ((eip >>> 0) > (d.limit >>> 0)) cpu.fault(Vec.GP, 0);
      const ssb = cpu.segBase[SS];
      cpu.write(size, (ssb + sp - size) | 0, cpu.segSel[CS]);
      cpu.write(size, (ssb + sp - 2 * size) | 0, ins.next);
      markAccessed(cpu, sel, d);
      cpu.regs[4] = (sp - 2 * size) | 0;
    } else {
      if ((eip >>> 0) > (d.limit >>> 0)) cpu.fault(Vec.GP, 0);
      markAccessed(cpu, sel, d);
    }
    setSegmentCache(cpu, CS, (sel & 0xfffc) | cpl, d);
    cpu.eip = eip;
    return;
  }
  const type = d.access & 0xf;
  const dpl = dplOf(d);
  switch (type) {
    case 4: case 0xc: // call gate
      if (dpl < cpl || dpl < (sel & 3)) cpu.fault(Vec.GP, err);
      if (!(d.access & DESC_P)) cpu.fault(Vec.NP, err);
      throughCallGate(cpu, ins, d, call);
      return;
    case 5: // task gate
    case 1: case 9: // available TSS
      if (dpl < cpl || dpl < (sel & 3)) cpu.fault(Vec.GP, err);
      if (!(d.access & DESC_P)) cpu.fault(Vec.NP, err);
      farTaskSwitch(cpu, ins, sel, d, call);
      return;
    default: // busy TSS, LDT, interrupt/trap gates, reserved types
      cpu.fault(Vec.GP, err);
  }
}

/**
 * CALL or JMP through a call gate (SDM §5.8.4–5.8.5 and "CALL" operation).
 * The gate names the target code segment and entry point; the far
 * pointer's offset is ignored. A CALL to a more privileged non-conforming
 * segment switches to the stack for the new CPL from the TSS, pushes the
 * caller's SS:ESP, copies `param count` dwords (words for a 16-bit gate)
 * from the caller's stack, then pushes CS:EIP. JMP never changes CPL.
 */
function throughCallGate(cpu: CPU, ins: Instr, gate: Desc, call: boolean): void {
  const cpl = cpu.cpl;
  const gate32 = (gate.access & 0xf) === 0xc;
  const size = gate32 ? 4 : 2;
  const csSel = (gate.lo >>> 16) & 0xffff;
  const offset = gate32 ? (gate.hi & 0xffff0000) | (gate.lo & 0xffff) : gate.lo & 0xffff;
  const paramCount = gate.hi & 0x1f;
  if ((csSel & ~3) === 0) cpu.fault(Vec.GP, 0);
  const cs = readDescriptor(cpu, csSel);
  const csErr = csSel & 0xfffc;
  const conforming = (cs.access & 4) !== 0;
  if (!isCode(cs) || dplOf(cs) > cpl) cpu.fault(Vec.GP, csErr);
  if (!call && !conforming && dplOf(cs) !== cpl) cpu.fault(Vec.GP, csErr);
  if (!(cs.access & DESC_P)) cpu.fault(Vec.NP, csErr);
  if (!call) {
    if ((offset >>> 0) > (cs.limit >>> 0)) cpu.fault(Vec.GP, 0);
    markAccessed(cpu, csSel, cs);
    setSegmentCache(cpu, CS, csErr | cpl, cs);
    cpu.eip = offset;
    return;
  }
  const oldSS = cpu.segSel[SS];
  const oldESP = cpu.regs[4];
  const oldCS = cpu.segSel[CS];
  const retEip = ins.next;
  if (!conforming && dplOf(cs) < cpl) {
    // MORE-PRIVILEGE: new stack from the TSS, checked as the SDM lists (#TS for a bad SS, #SS for not present or no room).
    const newCpl = dplOf(cs);
    const tssOff = 4 + newCpl * 8;
    if (tssOff + 5 > cpu.trLimit >>> 0) cpu.fault(Vec.TS, cpu.tr & 0xfffc);
    const newESP = cpu.readSystem32((cpu.trBase + tssOff) | 0);
    const newSS = cpu.readSystem32((cpu.trBase + tssOff + 4) | 0) & 0xffff;
    if ((newSS & ~3) === 0) cpu.fault(Vec.TS, 0);
    const ss = readDescriptor(cpu, newSS, Vec.TS);
    if ((newSS & 3) !== newCpl || dplOf(ss) !== newCpl || !(ss.access & DESC_S) || ss.access & 8 || !(ss.access & 2)) cpu.fault(Vec.TS, newSS & 0xfffc);
    if (!(ss.access & DESC_P)) cpu.fault(Vec.SS, newSS & 0xfffc);
    const frameBytes = size * (4 + paramCount);
    if (!inSegment(ss.access, ss.flags, ss.limit, (newESP - frameBytes) | 0, frameBytes)) cpu.fault(Vec.SS, newSS & 0xfffc);
    if ((offset >>> 0) > (cs.limit >>> 0)) cpu.fault(Vec.GP, 0);
    // Parameters are read from the caller's stack before anything is written (a #PF here restarts cleanly).
    const params: number[] = [];
    const oldBase = cpu.segBase[SS];
    for (let i = 0; i < paramCount; i++) params.push(cpu.read(size, (oldBase + oldESP + i * size) | 0));
    // New stack, top down: SS, ESP, params (last first, so they keep their order), CS, EIP.
    const words = [oldSS, oldESP];
    for (let i = paramCount - 1; i >= 0; i--) words.push(params[i]);
    words.push(oldCS, retEip);
    cpu.setCpl(newCpl);
    let sp = newESP;
    try {
      for (const w of words) {
        sp = (sp - size) | 0;
        cpu.write(size, (ss.base + sp) | 0, w);
      }
      markAccessed(cpu, newSS, ss);
      markAccessed(cpu, csSel, cs);
    } catch (e) {
      cpu.setCpl(cpl);
      throw e;
    }
    setSegmentCache(cpu, SS, newSS, ss);
    cpu.regs[4] = ss.flags & 4 ? sp : (newESP & ~0xffff) | (sp & 0xffff);
    setSegmentCache(cpu, CS, csErr | newCpl, cs);
    cpu.eip = offset;
    return;
  }
  // SAME-PRIVILEGE (conforming target, or DPL = CPL): push CS:EIP with the gate's size.
  if (!inSegmentCache(cpu, SS, (oldESP - 2 * size) | 0, 2 * size)) cpu.fault(Vec.SS, 0);
  if ((offset >>> 0) > (cs.limit >>> 0)) cpu.fault(Vec.GP, 0);
  const ssb = cpu.segBase[SS];
  cpu.write(size, (ssb + oldESP - size) | 0, oldCS);
  cpu.write(size, (ssb + oldESP - 2 * size) | 0, retEip);
  markAccessed(cpu, csSel, cs);
  cpu.regs[4] = (oldESP - 2 * size) | 0;
  setSegmentCache(cpu, CS, csErr | cpl, cs);
  cpu.eip = offset;
}

function farJump(cpu: CPU, ins: Instr, sel: number, off: number): void {
  if (!(cpu.cr0 & 1)) {
    cpu.segSel[CS] = sel;
    cpu.segBase[CS] = sel << 4;
    cpu.eip = off;
    return;
  }
  farTransfer(cpu, ins, sel, off, false);
}
function farCall(cpu: CPU, ins: Instr, sel: number, off: number): void {
  if (cpu.cr0 & 1) {
    farTransfer(cpu, ins, sel, off, true);
    return;
  }
  const size = ins.size;
  cpu.push(size, cpu.segSel[CS]);
  cpu.push(size, ins.next);
  cpu.segSel[CS] = sel;
  cpu.segBase[CS] = sel << 4;
  cpu.eip = size === 2 ? off & 0xffff : off;
}

/** EA: JMP ptr16:16/32. 9A: CALL ptr16:16/32. FF /5, FF /3: through m16:16/32. */
export function jmpFarImm(cpu: CPU, ins: Instr): void {
  farJump(cpu, ins, ins.imm2, ins.imm);
}
export function callFarImm(cpu: CPU, ins: Instr): void {
  farCall(cpu, ins, ins.imm2, ins.imm);
}
export function jmpFarMem(cpu: CPU, ins: Instr): void {
  const lin = cpu.lin(ins);
  const off = cpu.read(ins.size, lin);
  const sel = cpu.read16((lin + ins.size) | 0);
  farJump(cpu, ins, sel, off);
}
export function callFarMem(cpu: CPU, ins: Instr): void {
  const lin = cpu.lin(ins);
  const off = cpu.read(ins.size, lin);
  const sel = cpu.read16((lin + ins.size) | 0);
  farCall(cpu, ins, sel, off);
}

/** CB / CA iw: far RET, to the same or an outer privilege level. */
export function retFar(cpu: CPU, ins: Instr): void {
  const size = ins.size;
  const release = ins.op === 0xca ? ins.imm & 0xffff : 0;
  const ssb = cpu.segBase[SS];
  const sp = cpu.regs[4];
  const off = cpu.read(size, (ssb + sp) | 0);
  const sel = cpu.read(size, (ssb + sp + size) | 0) & 0xffff;
  if (!(cpu.cr0 & 1)) {
    cpu.regs[4] = (sp + 2 * size + release) | 0;
    cpu.segSel[CS] = sel;
    cpu.segBase[CS] = sel << 4;
    cpu.eip = off;
    return;
  }
  const rpl = sel & 3;
  const d = returnCodeSegment(cpu, sel);
  const eip = size === 2 ? off & 0xffff : off;
  if (rpl === cpu.cpl) {
    if ((eip >>> 0) > (d.limit >>> 0)) cpu.fault(Vec.GP, 0);
    markAccessed(cpu, sel, d);
    cpu.regs[4] = (sp + 2 * size + release) | 0;
    setSegmentCache(cpu, CS, sel, d);
    cpu.eip = eip;
    return;
  }
  const at = (sp + 2 * size + release) | 0;
  const newEsp = cpu.read(size, (ssb + at) | 0);
  const newSs = cpu.read(size, (ssb + at + size) | 0) & 0xffff;
  if ((newSs & ~3) === 0) cpu.fault(Vec.GP, 0);
  const sd = readDescriptor(cpu, newSs, Vec.GP, 0, returnSs);
  if ((newSs & 3) !== rpl || dplOf(sd) !== rpl || !(sd.access & 0x10) || sd.access & 8 || !(sd.access & 2)) cpu.fault(Vec.GP, newSs & 0xfffc);
  if (!(sd.access & DESC_P)) cpu.fault(Vec.SS, newSs & 0xfffc);
  if ((eip >>> 0) > (d.limit >>> 0)) cpu.fault(Vec.GP, 0);
  markAccessed(cpu, sel, d);
  markAccessed(cpu, newSs, sd);
  setSegmentCache(cpu, CS, sel, d);
  cpu.setCpl(rpl);
  setSegmentCache(cpu, SS, newSs, sd);
  // RET imm16 releases the parameters on both stacks (SDM "RET" operation).
  cpu.regs[4] = size === 2 ? (cpu.regs[4] & ~0xffff) | ((newEsp + release) & 0xffff) : (newEsp + release) | 0;
  cpu.eip = eip;
  nullInaccessibleSegments(cpu);
}

// ---- segment registers --------------------------------------------------------

/** 8E: MOV Sreg,Ew. Loading SS inhibits interrupts and single-step traps for one instruction. */
export function movSregE(cpu: CPU, ins: Instr): void {
  if (ins.reg === CS || ins.reg > GS) cpu.fault(Vec.UD);
  const v = ins.mod === 3 ? cpu.regs[ins.rm] & 0xffff : cpu.read16(cpu.lin(ins));
  loadSegment(cpu, ins.reg, v);
  if (ins.reg === SS) cpu.inhibitInterrupts();
}
/** 8C: MOV Ev,Sreg — a register destination gets the selector zero-extended; memory gets 16 bits. */
export function movESreg(cpu: CPU, ins: Instr): void {
  if (ins.reg > GS) cpu.fault(Vec.UD);
  const v = cpu.segSel[ins.reg];
  if (ins.mod === 3) cpu.setReg(ins.size, ins.rm, v);
  else cpu.write16(cpu.lin(ins), v);
}
const SREG_OF_OP: Record<number, number> = { 0x06: ES, 0x07: ES, 0x0e: CS, 0x16: SS, 0x17: SS, 0x1e: DS, 0x1f: DS, 0x1a0: FS, 0x1a1: FS, 0x1a8: GS, 0x1a9: GS };
/** PUSH Sreg: a 32-bit push writes the selector in the low word (modern processors write 16 bits; kmemsim writes the zero-extended dword). */
export function pushSreg(cpu: CPU, ins: Instr): void {
  cpu.push(ins.size, cpu.segSel[SREG_OF_OP[ins.op]]);
}
export function popSreg(cpu: CPU, ins: Instr): void {
  const s = SREG_OF_OP[ins.op];
  const v = cpu.read(ins.size, (cpu.segBase[SS] + cpu.regs[4]) | 0) & 0xffff;
  loadSegment(cpu, s, v);
  cpu.regs[4] = (cpu.regs[4] + ins.size) | 0;
  if (s === SS) cpu.inhibitInterrupts();
}
/** C5 LDS, C4 LES, 0F B2 LSS, 0F B4 LFS, 0F B5 LGS: load a far pointer. */
export function loadFarPointer(cpu: CPU, ins: Instr): void {
  const seg = ins.op === 0xc5 ? DS : ins.op === 0xc4 ? ES : ins.op === 0x1b2 ? SS : ins.op === 0x1b4 ? FS : GS;
  const lin = cpu.lin(ins);
  const off = cpu.read(ins.size, lin);
  const sel = cpu.read16((lin + ins.size) | 0);
  loadSegment(cpu, seg, sel);
  cpu.setReg(ins.size, ins.reg, off);
  if (seg === SS) cpu.inhibitInterrupts();
}

// ---- interrupts flag, halt, I/O --------------------------------------------------

/** FA/FB: CLI/STI need CPL <= IOPL. STI delays interrupts by one instruction. */
export function cli(cpu: CPU): void {
  if (cpu.cpl > ((cpu.flags & IOPL) >> 12)) cpu.fault(Vec.GP, 0);
  cpu.flags &= ~IF;
}
export function sti(cpu: CPU): void {
  if (cpu.cpl > ((cpu.flags & IOPL) >> 12)) cpu.fault(Vec.GP, 0);
  if (!(cpu.flags & IF)) cpu.inhibitInterruptsAfterSti();
  cpu.flags |= IF;
  cpu.breakLoop = true;
}
/** F4: HLT. */
export function hlt(cpu: CPU): void {
  requireCpl0(cpu);
  cpu.halt();
}
/** E4/E5/EC/ED: IN; E6/E7/EE/EF: OUT. */
export function inImm(cpu: CPU, ins: Instr): void {
  const port = ins.imm & 0xff;
  if (cpu.ioAllowed(port, ins.size)) cpu.setReg(ins.size, 0, cpu.portIn(port, ins.size));
}
export function inDX(cpu: CPU, ins: Instr): void {
  const port = cpu.regs[2] & 0xffff;
  if (cpu.ioAllowed(port, ins.size)) cpu.setReg(ins.size, 0, cpu.portIn(port, ins.size));
}
export function outImm(cpu: CPU, ins: Instr): void {
  const port = ins.imm & 0xff;
  if (cpu.ioAllowed(port, ins.size)) cpu.portOut(port, cpu.getReg(ins.size, 0), ins.size);
}
export function outDX(cpu: CPU, ins: Instr): void {
  const port = cpu.regs[2] & 0xffff;
  if (cpu.ioAllowed(port, ins.size)) cpu.portOut(port, cpu.getReg(ins.size, 0), ins.size);
}

// ---- identification and time ---------------------------------------------------

/**
 * 0F A2: CPUID. kmemsim is an i686-class processor with an x87 FPU and
 * without MMX or SSE: leaf 1 reports FPU, PSE, TSC, CX8, PGE and CMOV (with
 * FPU, CMOV also means FCMOVcc and FCOMI, SDM CPUID); everything else is absent.
 */
export function cpuid(cpu: CPU): void {
  const r = cpu.regs;
  let leaf = r[0] >>> 0;
  // A leaf above the highest basic or extended one returns the highest basic leaf's data (SDM CPUID).
  if ((leaf > 1 && leaf < 0x80000000) || leaf > 0x80000000) leaf = 1;
  if (leaf === 0) {
    r[0] = 1;
    // "GenuineIntel" as EBX, EDX, ECX.
    r[3] = 0x756e6547;
    r[2] = 0x49656e69;
    r[1] = 0x6c65746e;
  } else if (leaf === 1) {
    r[0] = 0x00000611; // family 6, model 1, stepping 1 (Pentium Pro class)
    r[3] = 0;
    r[1] = 0;
    r[2] = (1 << 0) | (1 << 3) | (1 << 4) | (1 << 8) | (1 << 13) | (1 << 15); // FPU PSE TSC CX8 PGE CMOV
  } else {
    r[0] = 0x80000000 | 0; // no extended leaves
    r[1] = r[2] = r[3] = 0;
  }
}

/** 0F 31: RDTSC — the retired-instruction count, so runs are deterministic. CR4.TSD restricts it to CPL 0. */
export function rdtsc(cpu: CPU): void {
  if (cpu.cr4 & 4 && cpu.cpl !== 0) cpu.fault(Vec.GP, 0);
  const t = cpu.icount;
  cpu.regs[0] = t % 0x100000000 | 0;
  cpu.regs[2] = Math.floor(t / 0x100000000) | 0;
}

// ---- control, debug and descriptor-table registers --------------------------------

/** 0F 20/22: MOV r32,CRn / MOV CRn,r32 (ModRM.mod is ignored: always a register). */
export function movRCr(cpu: CPU, ins: Instr): void {
  requireCpl0(cpu);
  const n = ins.reg;
  let v: number;
  if (n === 0) v = cpu.cr0;
  else if (n === 2) v = cpu.cr2;
  else if (n === 3) v = cpu.cr3;
  else if (n === 4) v = cpu.cr4;
  else return cpu.fault(Vec.UD);
  cpu.regs[ins.rm] = v;
}
export function movCrR(cpu: CPU, ins: Instr): void {
  requireCpl0(cpu);
  cpu.writeControlRegister(ins.reg, cpu.regs[ins.rm]);
}
/** CR4.DE: debugging extensions. */
const CR4_DE = 8;

/**
 * The checks of MOV to or from a debug register, in the order hardware makes
 * them (SDM Vol. 2 "MOV—Move to/from Debug Registers", Vol. 3 §17.2.2 and
 * §17.2.4): #GP(0) at CPL > 0; DR4/DR5 are #UD with CR4.DE = 1 and aliases of
 * DR6/DR7 without; with DR7.GD set the access is a #DB fault before it
 * executes, with DR6.BD set (the delivery clears GD for the handler).
 * Returns the register actually accessed.
 */
function debugRegister(cpu: CPU, ins: Instr): number {
  requireCpl0(cpu);
  let n = ins.reg;
  if (n === 4 || n === 5) {
    if (cpu.cr4 & CR4_DE) cpu.fault(Vec.UD);
    n += 2;
  }
  if (cpu.dr[7] & DR7_GD) {
    cpu.dr[6] = (cpu.dr[6] & ~0xf) | DR6_BD | DR6_FIXED;
    cpu.fault(Vec.DB);
  }
  return n;
}
/** 0F 21/23: MOV r32,DRn / MOV DRn,r32. */
export function movRDr(cpu: CPU, ins: Instr): void {
  const n = debugRegister(cpu, ins);
  cpu.regs[ins.rm] = cpu.dr[n];
}
export function movDrR(cpu: CPU, ins: Instr): void {
  const n = debugRegister(cpu, ins);
  cpu.writeDebugRegister(n, cpu.regs[ins.rm]);
}

/** 0F 01 /2, /3: LGDT/LIDT m16&32. /0, /1: SGDT/SIDT. */
export function lgdt(cpu: CPU, ins: Instr): void {
  requireCpl0(cpu);
  const lin = cpu.lin(ins);
  loadDescriptorTableRegister(cpu, ins.reg === 2, cpu.read16(lin), cpu.read32((lin + 2) | 0), ins.size);
}

/**
 * GDTR or IDTR ← limit:base, as LGDT/LIDT load them: with a 16-bit operand
 * size only 24 bits of the base are used. (Also the ring-0 emulation of
 * LGDT/LIDT for CPL-1 kernels, src/rings/privileged.ts.)
 */
export function loadDescriptorTableRegister(cpu: CPU, gdt: boolean, limit: number, base: number, operandSize: number): void {
  if (operandSize === 2) base &= 0xffffff;
  if (gdt) {
    cpu.gdtrLimit = limit & 0xffff;
    cpu.gdtrBase = base | 0;
  } else {
    cpu.idtrLimit = limit & 0xffff;
    cpu.idtrBase = base | 0;
    cpu.idtLoaded = true;
  }
}
export function sgdt(cpu: CPU, ins: Instr): void {
  const lin = cpu.lin(ins);
  const gdt = ins.reg === 0;
  cpu.probeWrite(lin, 4);
  cpu.probeWrite((lin + 2) | 0, 4);
  cpu.write16(lin, gdt ? cpu.gdtrLimit : cpu.idtrLimit);
  cpu.write32((lin + 2) | 0, gdt ? cpu.gdtrBase : cpu.idtrBase);
}
/** 0F 00 /2: LLDT; /3: LTR (marks the TSS busy); /0: SLDT; /1: STR. */
export function lldt(cpu: CPU, ins: Instr): void {
  requireCpl0(cpu);
  const sel = (ins.mod === 3 ? cpu.regs[ins.rm] : cpu.read16(cpu.lin(ins))) & 0xffff;
  if ((sel & ~3) === 0) {
    cpu.ldtr = 0;
    cpu.ldtBase = 0;
    cpu.ldtLimit = 0;
    return;
  }
  if (sel & 4) cpu.fault(Vec.GP, sel & 0xfffc);
  const d = readDescriptor(cpu, sel);
  if (d.access & 0x10 || (d.access & 0xf) !== 2) cpu.fault(Vec.GP, sel & 0xfffc);
  if (!(d.access & DESC_P)) cpu.fault(Vec.NP, sel & 0xfffc);
  cpu.ldtr = sel;
  cpu.ldtBase = d.base;
  cpu.ldtLimit = d.limit;
}
export function ltr(cpu: CPU, ins: Instr): void {
  requireCpl0(cpu);
  const sel = (ins.mod === 3 ? cpu.regs[ins.rm] : cpu.read16(cpu.lin(ins))) & 0xffff;
  if ((sel & ~3) === 0 || sel & 4) cpu.fault(Vec.GP, sel & 0xfffc);
  const d = readDescriptor(cpu, sel);
  const type = d.access & 0xf;
  if (d.access & 0x10 || (type !== 1 && type !== 9)) cpu.fault(Vec.GP, sel & 0xfffc);
  if (!(d.access & DESC_P)) cpu.fault(Vec.NP, sel & 0xfffc);
  setBusy(cpu, sel, true);
  cpu.tr = sel;
  cpu.trBase = d.base;
  cpu.trLimit = d.limit;
}
export function sldt(cpu: CPU, ins: Instr): void {
  if (ins.mod === 3) cpu.setReg(ins.size, ins.rm, cpu.ldtr);
  else cpu.write16(cpu.lin(ins), cpu.ldtr);
}
export function str(cpu: CPU, ins: Instr): void {
  if (ins.mod === 3) cpu.setReg(ins.size, ins.rm, cpu.tr);
  else cpu.write16(cpu.lin(ins), cpu.tr);
}
/** 0F 01 /7: INVLPG m — drops one TLB entry; without it a changed PTE stays invisible. */
export function invlpg(cpu: CPU, ins: Instr): void {
  requireCpl0(cpu);
  cpu.invalidatePage(cpu.lin(ins));
}
/** 0F 01 /4: SMSW; /6: LMSW (sets PE, MP, EM, TS; cannot clear PE). */
export function smsw(cpu: CPU, ins: Instr): void {
  if (ins.mod === 3) cpu.setReg(ins.size, ins.rm, cpu.cr0 & 0xffff);
  else cpu.write16(cpu.lin(ins), cpu.cr0 & 0xffff);
}
export function lmsw(cpu: CPU, ins: Instr): void {
  requireCpl0(cpu);
  const v = ins.mod === 3 ? cpu.regs[ins.rm] & 0xffff : cpu.read16(cpu.lin(ins));
  cpu.writeControlRegister(0, (cpu.cr0 & ~0xe) | (v & 0xf) | (cpu.cr0 & 1));
}
/** 0F 06: CLTS. 0F 08/09: INVD/WBINVD (no caches are modelled: privilege check only). */
export function clts(cpu: CPU): void {
  requireCpl0(cpu);
  cpu.cr0 &= ~8;
}
export function wbinvd(cpu: CPU): void {
  requireCpl0(cpu);
}

/** 63: ARPL Ew,Gw — raise the RPL of a selector to the given one. */
export function arpl(cpu: CPU, ins: Instr): void {
  const d = ins.mod === 3 ? cpu.regs[ins.rm] & 0xffff : cpu.read16(cpu.lin(ins));
  const s = cpu.regs[ins.reg] & 3;
  if ((d & 3) < s) {
    const nv = (d & ~3) | s;
    if (ins.mod === 3) cpu.setReg(2, ins.rm, nv);
    else cpu.write16(cpu.lin(ins), nv);
    cpu.setEflags(ZF, ZF);
  } else cpu.setEflags(0, ZF);
}

/** 62: BOUND Gv,Ma — #BR when the index is outside [lower, upper]. */
export function bound(cpu: CPU, ins: Instr): void {
  const lin = cpu.lin(ins);
  const size = ins.size;
  const sx = (v: number): number => (size === 2 ? (v << 16) >> 16 : v | 0);
  const idx = sx(cpu.getReg(size, ins.reg));
  const lo = sx(cpu.read(size, lin));
  const hi = sx(cpu.read(size, (lin + size) | 0));
  if (idx < lo || idx > hi) cpu.fault(Vec.BR);
}

/** 0F 02 LAR / 0F 03 LSL / 0F 00 /4 VERR / /5 VERW: descriptor probes that set ZF instead of faulting. */
export function larLsl(cpu: CPU, ins: Instr): void {
  const sel = (ins.mod === 3 ? cpu.regs[ins.rm] : cpu.read16(cpu.lin(ins))) & 0xffff;
  const d = probeDescriptor(cpu, sel, ins.op === 0x102 ? 'lar' : 'lsl');
  if (!d) return cpu.setEflags(0, ZF);
  cpu.setEflags(ZF, ZF);
  if (ins.op === 0x102) cpu.setReg(ins.size, ins.reg, (d.hi & 0x00f0ff00) & (ins.size === 2 ? 0xff00 : -1));
  else cpu.setReg(ins.size, ins.reg, d.limit);
}
export function verrw(cpu: CPU, ins: Instr): void {
  const sel = (ins.mod === 3 ? cpu.regs[ins.rm] : cpu.read16(cpu.lin(ins))) & 0xffff;
  const d = probeDescriptor(cpu, sel, ins.reg === 4 ? 'verr' : 'verw');
  cpu.setEflags(d ? ZF : 0, ZF);
}
function probeDescriptor(cpu: CPU, sel: number, kind: 'lar' | 'lsl' | 'verr' | 'verw'): ReturnType<typeof readDescriptor> | null {
  if ((sel & ~3) === 0) return null;
  const limit = sel & 4 ? cpu.ldtLimit : cpu.gdtrLimit;
  if ((sel & ~7) + 7 > limit) return null;
  const d = readDescriptor(cpu, sel);
  const dpl = dplOf(d);
  const code = isCode(d);
  const conforming = code && (d.access & 4) !== 0;
  if (!conforming && (dpl < cpu.cpl || dpl < (sel & 3))) return null;
  if (!(d.access & 0x10)) {
    const t = d.access & 0xf;
    const okLar = [1, 2, 3, 4, 5, 9, 0xb, 0xc].includes(t);
    const okLsl = [1, 2, 3, 9, 0xb].includes(t);
    if (kind === 'lar' ? !okLar : kind === 'lsl' ? !okLsl : true) return null;
    return d;
  }
  if (kind === 'verr' && code && !(d.access & 2)) return null;
  if (kind === 'verw' && (code || !(d.access & 2))) return null;
  return d;
}

export { VM, IOPL };
