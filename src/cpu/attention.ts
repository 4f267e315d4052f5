/**
 * What the processor looks at between instructions (SDM Vol. 3 §6.8.1):
 * the devices that act at an instruction count (the 8254 timer: time is
 * the retired-instruction count, so runs are deterministic) and the
 * interrupt controller's INTR line. The run loop calls serviceAttention
 * once `CPU.attentionAt` is reached (a device, STI, HLT or an IRQ lowers
 * it through CPU.requestAttention).
 */
import type { CPU } from './cpu.js';
import { IF } from './flags.js';

/**
 * The INTR line and the interrupt-acknowledge cycle (SDM Vol. 3 §6.3.1):
 * an 8259 PIC pair plugs in here. The CPU asks only when it could accept a
 * maskable interrupt (IF=1, no STI/MOV SS shadow), between instructions.
 */
export interface InterruptController {
  /** INTR asserted: an unmasked request is waiting. */
  intr(): boolean;
  /** INTA: the vector to deliver (and the request moves to in-service). */
  acknowledge(): number;
}

/**
 * A device that acts at an instruction count (the 8254 timer): time is the
 * retired-instruction count, so runs are deterministic (invariant 4).
 */
export interface TimedDevice {
  /** Instruction count of the next event, Infinity when idle. */
  nextEventAt: number;
  /** Called once icount has reached nextEventAt. */
  onTime(icount: number): void;
}

/**
 * Between instructions: run due timer events, then take a pending
 * maskable interrupt if IF=1 and no shadow (SDM Vol. 3 §6.8.1). While
 * halted with nothing pending, time advances to the next timer event.
 */
export function serviceAttention(cpu: CPU, limit: number): void {
  for (;;) {
    let next = Infinity;
    for (const d of cpu.timedDevices) {
      if (d.nextEventAt <= cpu.icount) d.onTime(cpu.icount);
      if (d.nextEventAt < next) next = d.nextEventAt;
    }
    cpu.attentionAt = next;
    const pic = cpu.interruptController;
    if (pic !== null && pic.intr()) {
      if (cpu.flags & IF && !cpu.stiShadow && !cpu.shadow) {
        cpu.halted = false;
        cpu.deliveringExternal = true;
        cpu.deliver(pic.acknowledge(), -1, false);
        cpu.deliveringExternal = false;
        cpu.attentionAt = 0; // another request may be waiting behind this one
        return;
      }
      // Masked for now: look again after the next instruction.
      if (cpu.attentionAt > cpu.icount + 1) cpu.attentionAt = cpu.icount + 1;
    }
    if (!cpu.halted || cpu.stopReason) return;
    if (next === Infinity || !(cpu.flags & IF)) {
      cpu.halted = false;
      cpu.stop({ kind: 'halted' });
      return;
    }
    // Halted: time passes until the next timer event (or the budget ends).
    if (next >= limit) {
      cpu.icount = limit;
      return;
    }
    cpu.icount = next;
  }
}
