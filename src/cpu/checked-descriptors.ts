/**
 * Descriptors that passed the SDM's checks before, so the commonest
 * exception delivery and IRET do not repeat them: a same-privilege
 * delivery through an interrupt or trap gate (a kernel faulting at CPL 0
 * into its own #PF or #DB handler, the kmemcheck path) and the
 * same-privilege IRET back.
 *
 * Nothing is taken on trust: the processor's reads are made every time,
 * as the SDM has them (the IDT entry, and the code segment's descriptor
 * in the GDT or LDT, through the supervisor TLB: exceptions.ts,
 * exec/system.ts), and an entry is used only when those dwords read back
 * exactly as when the checks passed, at the same CPL, with every segment
 * flat (CPU.segChecks clear: the stack check cannot fail). The same
 * dwords at the same CPL give the same verdict, the same new CS and the
 * same accessed bit (set: markAccessed writes nothing), so the fast path
 * writes the same frame bytes in the same order, sets the same EFLAGS,
 * CS, EIP and ESP, and tells the observer the same event. Anything else
 * (a task gate, a change of privilege, a descriptor or IDT entry written
 * since, a segment that is not flat) takes the full path, which records
 * the entry again when its checks pass. A delivery whose frame write
 * faults faults the same way on both paths (the same writes, in order).
 *
 * Reading them can be skipped too, while they provably read back the same
 * (gateUnchanged, returnUnchanged): when an entry is recorded, the physical
 * pages its dwords were read from are watched for writes the way pages of
 * decoded code are (CPU.watchWrites: kept out of the write TLB, so that any
 * store to them — a guest instruction, the kernel's host code, a snapshot
 * restore — bumps CPU.codeEpoch), and the entry keeps the code epoch, the
 * descriptor-table registers and the supervisor TLB entries of those pages.
 * With the same epoch (nothing written there, no TLB flush, no INVLPG of
 * those pages, no change of CPL in between), the same IDTR, GDTR and LDT and
 * the same translations, the processor's reads would return the recorded
 * dwords — the SDM has them made through the TLB like any supervisor access
 * (Vol. 3 §4.10.2) — so the verdict stands without them. After any epoch
 * change the next delivery or IRET through the entry reads the dwords again
 * and, finding the checked ones, records where they were read once more
 * (TableKey.refresh).
 */
import type { CPU } from './cpu.js';
import type { Descriptor } from './segments.js';
import { parseDescriptorInto, scratchDescriptor } from './segments.js';

/** Where an entry's dwords were read from, for gateUnchanged/returnUnchanged (-1 epoch: not recorded). */
class TableKey {
  epoch = -1;
  idtBase = 0;
  idtLimit = 0;
  tableBase = 0;
  tableLimit = 0;
  /** Supervisor TLB entries of the IDT entry's page (0 for a return) and the descriptor's page. */
  idtTlb = 0;
  descTlb = 0;

  /**
   * Record the CPU's tables now, the entry at `idtAt` (null: none) reading `lo`, `hi` and the descriptor
   * of `sel` reading `dlo`, `dhi` — read again once their pages are watched, so that a write since the
   * delivery read them (its own frame, on a page nobody watched yet) is not missed. False (nothing
   * recorded) when a page's translation is not cached, a dword straddles pages or one reads otherwise.
   */
  record(cpu: CPU, idtAt: number | null, sel: number, lo: number, hi: number, dlo: number, dhi: number): boolean {
    this.epoch = -1;
    const ldt = (sel & 4) !== 0;
    const descAt = ((ldt ? cpu.ldtBase : cpu.gdtrBase) + (sel & 0xfff8)) | 0;
    if ((descAt & 0xfff) > 0xff8 || (idtAt !== null && (idtAt & 0xfff) > 0xff8)) return false;
    const descTlb = cpu.supervisorTlbEntry(descAt);
    const idtTlb = idtAt === null ? 0 : cpu.supervisorTlbEntry(idtAt);
    if (descTlb === 0 || (idtAt !== null && idtTlb === 0)) return false;
    cpu.watchWrites(descTlb >>> 12);
    if (idtAt !== null) cpu.watchWrites(idtTlb >>> 12);
    if (cpu.readSystem32(descAt) !== dlo || cpu.readSystem32((descAt + 4) | 0) !== dhi) return false;
    if (idtAt !== null && (cpu.readSystem32(idtAt) !== lo || cpu.readSystem32((idtAt + 4) | 0) !== hi)) return false;
    this.idtBase = cpu.idtrBase;
    this.idtLimit = cpu.idtrLimit;
    this.tableBase = ldt ? cpu.ldtBase : cpu.gdtrBase;
    this.tableLimit = ldt ? cpu.ldtLimit : cpu.gdtrLimit;
    this.idtTlb = idtTlb;
    this.descTlb = descTlb;
    this.epoch = cpu.codeEpoch;
    return true;
  }

  /**
   * record() again after the code epoch moved on (once per epoch: a key that cannot be recorded is not
   * tried at every delivery). The entry's checks passed again on the read-again path (knowsGate,
   * knownReturn), which without this would be the path for good after any TLB flush or code change.
   */
  refresh(cpu: CPU, idtAt: number | null, sel: number, lo: number, hi: number, dlo: number, dhi: number): void {
    if (this.epoch === cpu.codeEpoch || this.tried === cpu.codeEpoch) return;
    this.tried = cpu.codeEpoch;
    this.record(cpu, idtAt, sel, lo, hi, dlo, dhi);
  }
  /** The code epoch of the last refresh. */
  private tried = -1;

  /** The tables, their translations and the watched pages are as recorded. */
  holds(cpu: CPU, idtAt: number | null, sel: number): boolean {
    if (this.epoch !== cpu.codeEpoch || cpu.idtrBase !== this.idtBase || cpu.idtrLimit !== this.idtLimit) return false;
    const ldt = (sel & 4) !== 0;
    const base = ldt ? cpu.ldtBase : cpu.gdtrBase;
    if (base !== this.tableBase || (ldt ? cpu.ldtLimit : cpu.gdtrLimit) !== this.tableLimit) return false;
    if (cpu.supervisorTlbEntry((base + (sel & 0xfff8)) | 0) !== this.descTlb) return false;
    return idtAt === null || cpu.supervisorTlbEntry(idtAt) === this.idtTlb;
  }
}

export class CheckedDescriptors {
  /** Off: every delivery and IRET takes the full path (tests compare the two). */
  enabled = true;
  /** Per vector: the IDT entry's dwords... */
  private readonly gateLo = new Int32Array(256);
  private readonly gateHi = new Int32Array(256);
  /** ...its code segment's descriptor dwords (accessed bit set)... */
  private readonly csLo = new Int32Array(256);
  private readonly csHi = new Int32Array(256);
  /** ...and CPL + 1 at which a same-privilege delivery through it passed every check (0: none). */
  private readonly gateCpl = new Int8Array(256);
  /** Per vector: the code-segment descriptor, parsed (made on first use). */
  private readonly gateCs: (Descriptor | undefined)[] = new Array(256).fill(undefined);
  /** Per vector: where its dwords were read from (made on first use; see gateUnchanged). */
  private readonly gateKey: (TableKey | undefined)[] = new Array(256).fill(undefined);
  private readonly retKey = new TableKey();
  /** The last same-privilege IRET's code segment: selector, dwords, CPL + 1 (0: none), parsed. */
  private retSel = -1;
  private retLo = 0;
  private retHi = 0;
  private retCpl = 0;
  readonly retCs = scratchDescriptor();
  /** Deliveries and IRETs that took the fast path (tests)... */
  hits = 0;
  /** ...and of those, the ones that read neither the IDT nor the GDT (gateUnchanged, returnUnchanged). */
  unread = 0;

  /** A same-privilege delivery through `vector`'s gate (IDT dwords `lo`, `hi`) passed every check with code segment `cs` at `cpl`. */
  recordGate(cpu: CPU, vector: number, lo: number, hi: number, cs: Descriptor, cpl: number): void {
    if (!(cs.hi & 0x100)) return; // the accessed bit is written on the next delivery: not a repeat
    (this.gateKey[vector] ??= new TableKey()).record(cpu, (cpu.idtrBase + vector * 8) | 0, (lo >>> 16) & 0xffff, lo, hi, cs.lo, cs.hi);
    this.gateLo[vector] = lo;
    this.gateHi[vector] = hi;
    this.csLo[vector] = cs.lo;
    this.csHi[vector] = cs.hi;
    this.gateCpl[vector] = cpl + 1;
    const d = (this.gateCs[vector] ??= scratchDescriptor());
    parseDescriptorInto(cs.lo, cs.hi, d);
  }

  /** Was a delivery through this very IDT entry checked at `cpl`? (Then the descriptor is compared with gateDescriptor.) */
  knowsGate(vector: number, lo: number, hi: number, cpl: number): boolean {
    return this.enabled && this.gateCpl[vector] === cpl + 1 && this.gateLo[vector] === lo && this.gateHi[vector] === hi;
  }

  /**
   * Was a delivery through `vector`'s gate checked at `cpu`'s CPL, with nothing that could change what
   * its IDT entry and code-segment descriptor read changed since? Then they are the recorded ones
   * (gateLoOf, gateHiOf, gateCsOf) without being read.
   */
  gateUnchanged(cpu: CPU, vector: number): boolean {
    const key = this.gateKey[vector];
    if (!this.enabled || key === undefined || this.gateCpl[vector] !== cpu.cpl + 1 || !key.holds(cpu, (cpu.idtrBase + vector * 8) | 0, (this.gateLo[vector] >>> 16) & 0xffff)) return false;
    this.unread++;
    return true;
  }
  /** The IDT entry's dwords recorded for `vector`. */
  gateLoOf(vector: number): number {
    return this.gateLo[vector];
  }
  gateHiOf(vector: number): number {
    return this.gateHi[vector];
  }
  /** The code segment recorded for `vector`, parsed (after gateUnchanged). */
  gateCsOf(vector: number): Descriptor {
    return this.gateCs[vector]!;
  }

  /** The gate's code segment, parsed, when its descriptor still reads `dlo`, `dhi`; else null (see TableKey.refresh). */
  gateDescriptor(cpu: CPU, vector: number, dlo: number, dhi: number): Descriptor | null {
    if (this.csLo[vector] !== dlo || this.csHi[vector] !== dhi) return null;
    this.gateKey[vector]!.refresh(cpu, (cpu.idtrBase + vector * 8) | 0, (this.gateLo[vector] >>> 16) & 0xffff, this.gateLo[vector], this.gateHi[vector], dlo, dhi);
    return this.gateCs[vector]!;
  }

  /** A same-privilege IRET to `sel` (descriptor `d`) passed every check at `cpl`. */
  recordReturn(cpu: CPU, sel: number, d: Descriptor, cpl: number): void {
    if (!(d.hi & 0x100)) return;
    this.retKey.record(cpu, null, sel, 0, 0, d.lo, d.hi);
    this.retSel = sel;
    this.retLo = d.lo;
    this.retHi = d.hi;
    this.retCpl = cpl + 1;
    parseDescriptorInto(d.lo, d.hi, this.retCs);
  }

  /** The checked code segment of an IRET to `sel` at `cpl` whose descriptor reads `dlo`, `dhi`; else null. */
  knownReturn(cpu: CPU, sel: number, dlo: number, dhi: number, cpl: number): Descriptor | null {
    if (!this.enabled || this.retSel !== sel || this.retCpl !== cpl + 1 || this.retLo !== dlo || this.retHi !== dhi) return null;
    this.retKey.refresh(cpu, null, sel, 0, 0, dlo, dhi);
    return this.retCs;
  }

  /** The code segment of an IRET to `sel` checked at `cpu`'s CPL, when nothing that could change its descriptor changed since; else null. */
  returnUnchanged(cpu: CPU, sel: number): Descriptor | null {
    if (!this.enabled || this.retSel !== sel || this.retCpl !== cpu.cpl + 1 || !this.retKey.holds(cpu, null, sel)) return null;
    this.unread++;
    return this.retCs;
  }

  /** Forget everything (tests; nothing in the machine needs it: entries are compared with memory, or their pages watched). */
  clear(): void {
    this.gateCpl.fill(0);
    this.retCpl = 0;
    this.retSel = -1;
    this.retKey.epoch = -1;
    for (const k of this.gateKey) if (k !== undefined) k.epoch = -1;
  }
}
