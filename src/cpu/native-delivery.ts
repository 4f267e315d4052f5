/**
 * Native handlers run straight from delivery: the fast path of the
 * fault-driven mechanisms (kmemcheck, the CPL-1 stack tracker, the watch
 * framework), where every tracked access is a #PF through the IDT to a
 * native handler, an IRET, one instruction single-stepped, a #DB through
 * the IDT to a native handler and another IRET.
 *
 * When the run loop has delivered an exception and the gate's handler is
 * a native routine, the routine runs at once; when it returns with TF set
 * (page hiding's single step), the step runs at once, and so does the
 * native #DB handler it traps to — one pass of the run loop per tracked
 * access instead of four. Before each of them the loop's own checks are
 * made, in the same order: nothing runs while a device wants attention (a
 * timer event, an interrupt) or the budget is spent, only on the fast
 * path's conditions (no TF or RF, no interrupt shadow, no debug register
 * armed, flat segments), CPU.stepSlow for the step (instruction
 * breakpoints, RF, DR6, the #DB), and the same no-progress rule. The frames
 * are written and read by the same code as before (exceptions.ts, the IRET
 * of exec/system.ts); what is skipped is the loop's own work between them.
 *
 * Off (`CPU.nativeDelivery = false`) the loop runs them one pass each
 * (test/cpu/native-delivery.test.ts compares the two).
 *
 * CPU-level: it knows native routines only as Instrs whose `native` is set.
 */
import type { CPU } from './cpu.js';
import type { Instr } from './instr.js';
import { TF } from './flags.js';

const RF_BIT = 1 << 16;

export class NativeDelivery {
  /** Run native handlers straight from delivery; off, each is one pass of the run loop. */
  enabled = true;
  /** Native routines run from delivery (tests). */
  runs = 0;
  /** The run loop's lastFaultAt, as run() leaves it (its no-progress rule). */
  lastFaultAt = -1;
  /**
   * The last two native routines, linked by linear EIP as the run loop links blocks (the #PF and #DB
   * handlers of the kmemcheck path, one after the other), valid while the code epoch is unchanged.
   */
  private linkEpoch = -1;
  private linkEip0 = -1;
  private linkEip1 = -1;
  private linkIns0: Instr | null = null;
  private linkIns1: Instr | null = null;

  constructor(private readonly cpu: CPU) {}

  /**
   * A delivery just happened (CPU.delivered): run what the run loop's next passes would run while it
   * is a native handler or the single step one asked for. Returns the budget limit (lowered by the
   * no-progress rule); `lastFaultAt` holds the loop's lastFaultAt.
   */
  run(limit: number, lastFaultAt: number): number {
    const cpu = this.cpu;
    this.lastFaultAt = lastFaultAt;
    if (!this.enabled) {
      cpu.delivered = false;
      return limit;
    }
    let stepNext = false;
    for (;;) {
      cpu.delivered = false;
      if (cpu.stopReason !== null || cpu.halted || cpu.icount >= cpu.attentionAt || cpu.icount >= limit) return limit;
      if (cpu.shadow || cpu.stiShadow || cpu.debugActive || cpu.segChecks) return limit;
      if (cpu.flags & (TF | RF_BIT)) {
        // A native handler returned with TF (and RF) set: the loop's next pass would be this step.
        if (!stepNext) return limit;
        const before = cpu.icount;
        cpu.stepSlow();
        if (cpu.icount === before) {
          if (this.lastFaultAt === before) limit--;
          this.lastFaultAt = before;
        }
        if (!cpu.delivered) return limit;
        stepNext = false;
        continue;
      }
      // A native handler returned to code that runs on the fast path: that is the loop's next pass.
      if (stepNext) return limit;
      // The fast path's pass for a block that is a native routine (nothing else: guest code goes back to the loop).
      const eip = cpu.eip;
      const ins = this.nativeBlockAt(eip);
      if (ins === null) return limit;
      const edges = cpu.edgeCounts;
      if (edges !== null) cpu.countEdge(edges, eip);
      const inst = cpu.jitInstrumentation;
      if (inst !== null && inst.interpreted !== undefined) inst.interpreted(cpu, ins);
      try {
        cpu.eip = ins.next;
        ins.exec(cpu, ins);
        cpu.icount++; // execNative took one off: a native routine is no guest instruction
        this.runs++;
      } catch (e) {
        cpu.handleThrow(e, ins);
        if (this.lastFaultAt === cpu.icount) limit--;
        this.lastFaultAt = cpu.icount;
      }
      cpu.breakLoop = false;
      stepNext = true;
    }
  }

  /**
   * The native routine whose block starts at `eip`, or null (guest code): from the two links, else
   * CPU.getBlock, as the loop's pass would.
   */
  private nativeBlockAt(eip: number): Instr | null {
    const cpu = this.cpu;
    const epoch = cpu.codeEpoch;
    if (this.linkEpoch === epoch && eip !== -1) {
      if (this.linkEip0 === eip) return this.linkIns0;
      if (this.linkEip1 === eip) return this.linkIns1;
    } else {
      this.linkEpoch = epoch;
      this.linkEip0 = this.linkEip1 = -1;
    }
    const block = cpu.getBlock(eip);
    const ins = block.instrs[0]!;
    if (ins.native === null) return null;
    if (block.cacheable && eip !== -1 && cpu.codeEpoch === epoch) {
      // The older slot makes room.
      this.linkEip1 = this.linkEip0;
      this.linkIns1 = this.linkIns0;
      this.linkEip0 = eip;
      this.linkIns0 = ins;
    }
    return ins;
  }
}
