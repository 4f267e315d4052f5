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
 */
import type { Descriptor } from './segments.js';
import { parseDescriptorInto, scratchDescriptor } from './segments.js';

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
  /** The last same-privilege IRET's code segment: selector, dwords, CPL + 1 (0: none), parsed. */
  private retSel = -1;
  private retLo = 0;
  private retHi = 0;
  private retCpl = 0;
  readonly retCs = scratchDescriptor();
  /** Deliveries and IRETs that took the fast path (tests). */
  hits = 0;

  /** A same-privilege delivery through `vector`'s gate (IDT dwords `lo`, `hi`) passed every check with code segment `cs` at `cpl`. */
  recordGate(vector: number, lo: number, hi: number, cs: Descriptor, cpl: number): void {
    if (!(cs.hi & 0x100)) return; // the accessed bit is written on the next delivery: not a repeat
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

  /** The gate's code segment, parsed, when its descriptor still reads `dlo`, `dhi`; else null. */
  gateDescriptor(vector: number, dlo: number, dhi: number): Descriptor | null {
    return this.csLo[vector] === dlo && this.csHi[vector] === dhi ? this.gateCs[vector]! : null;
  }

  /** A same-privilege IRET to `sel` (descriptor `d`) passed every check at `cpl`. */
  recordReturn(sel: number, d: Descriptor, cpl: number): void {
    if (!(d.hi & 0x100)) return;
    this.retSel = sel;
    this.retLo = d.lo;
    this.retHi = d.hi;
    this.retCpl = cpl + 1;
    parseDescriptorInto(d.lo, d.hi, this.retCs);
  }

  /** The checked code segment of an IRET to `sel` at `cpl` whose descriptor reads `dlo`, `dhi`; else null. */
  knownReturn(sel: number, dlo: number, dhi: number, cpl: number): Descriptor | null {
    return this.enabled && this.retSel === sel && this.retCpl === cpl + 1 && this.retLo === dlo && this.retHi === dhi ? this.retCs : null;
  }

  /** Forget everything (tests; nothing in the machine needs it: entries are compared with memory on every use). */
  clear(): void {
    this.gateCpl.fill(0);
    this.retCpl = 0;
    this.retSel = -1;
  }
}
