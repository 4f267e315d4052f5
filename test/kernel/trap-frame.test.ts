/**
 * The TrapFrame a handler gets is reused by later traps at the same nesting level (dispatchTrap's
 * pool): a trap taken while a handler runs — guest code it runs itself — must get a frame of its own,
 * leaving the outer handler's as the CPU pushed it.
 */
import { describe, expect, it } from 'vitest';
import { Kernel, type TrapFrame } from '../../src/kernel/kernel.js';
import { kva } from '../../src/kernel/layout.js';
import { callGuest } from '../../src/kernel/call.js';
import { assemble } from '../helpers/asm.js';

const CODE = kva(0x10000) >>> 0;
const INNER = kva(0x11000) >>> 0;

describe('trap frames', () => {
  it("a trap inside a handler does not clobber the handler's frame", () => {
    const k = new Kernel();
    k.mem.write(CODE, assemble('int 0x40\nret', { base: CODE }));
    k.mem.write(INNER, assemble('int 0x41\nhlt', { base: INNER }));
    const seen: Record<string, number>[] = [];
    const snap = (f: TrapFrame): Record<string, number> => ({ vector: f.vector, eip: f.eip, eflags: f.eflags, userEsp: f.userEsp, frameAddress: f.frameAddress });
    k.setTrapHandler(0x41, (_k, f) => {
      seen.push(snap(f));
    });
    k.setTrapHandler(0x40, (kk, f) => {
      const before = snap(f);
      // Run guest code from the handler, on the handler's stack below the frame: it takes a trap of its own.
      const cpu = kk.cpu;
      const eip = cpu.eip;
      const esp = cpu.regs[4]!;
      cpu.eip = INNER;
      expect(cpu.run(100)?.kind).toBe('halted');
      cpu.stopReason = null;
      cpu.eip = eip;
      cpu.regs[4] = esp;
      expect(snap(f)).toEqual(before);
      seen.push(before);
    });
    const r = callGuest(k, CODE, [], 1000);
    expect(r.returned).toBe(true);
    expect(seen.map((s) => [s.vector, s.eip! >>> 0])).toEqual([[0x41, INNER + 2], [0x40, CODE + 2]]);
  });
});
