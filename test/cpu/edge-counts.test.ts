/**
 * The CPU's block-entry edge counters (`cpu.edgeCounts`, AFL's edge
 * scheme) on a counted loop:
 *
 *   0x1000: mov ecx, 5      ; block A
 *   0x1005: dec ecx         ; block B (the loop's target)
 *   0x1006: jnz 0x1005
 *   0x1008: hlt
 *
 * Blocks run on past a conditional jump not taken (A and B end with the
 * HLT), so the block entries are A once and B four times (from A, then 3
 * times from itself, inside the compiled block too): three edges with
 * counts 1, 1, 3. Off (null), nothing is
 * recorded; one instruction at a time, an entry is an EIP the previous
 * instruction did not fall through to.
 */
import { describe, expect, it } from 'vitest';
import { CPU } from '../../src/cpu/cpu.js';

const LOOP = [0xb9, 0x05, 0x00, 0x00, 0x00, 0x49, 0x75, 0xfd, 0xf4];

function machine(): CPU {
  const cpu = new CPU({ memorySize: 1 << 20 });
  cpu.writePhys(0x1000, Uint8Array.from(LOOP));
  cpu.eip = 0x1000;
  cpu.regs[4] = 0x80000;
  return cpu;
}

const nonZero = (m: Uint8Array): number[] => Array.from(m).filter((v) => v !== 0).sort((a, b) => a - b);

describe('block-entry edge counters', () => {
  for (const jit of [Infinity, 0]) {
    it(`count AFL edges at block entries (${jit === 0 ? 'compiled' : 'interpreted'} blocks)`, () => {
      const cpu = machine();
      cpu.jitThreshold = jit;
      const map = new Uint8Array(1 << 16);
      cpu.edgeCounts = map;
      cpu.run(1000);
      expect(cpu.regs[1]).toBe(0);
      expect(nonZero(map)).toEqual([1, 1, 3]);
    });
  }

  it('are the same for the same run and record nothing when off', () => {
    const a = new Uint8Array(1 << 16);
    const b = new Uint8Array(1 << 16);
    let cpu = machine();
    cpu.edgeCounts = a;
    cpu.run(1000);
    cpu = machine();
    cpu.edgeCounts = b;
    cpu.run(1000);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const off = machine();
    expect(off.edgeCounts).toBeNull();
    off.run(1000);
    expect(off.regs[1]).toBe(0);
  });

  it('count control transfers when single-stepping', () => {
    const cpu = machine();
    const map = new Uint8Array(1 << 16);
    cpu.edgeCounts = map;
    for (let i = 0; i < 20 && cpu.stopReason === null; i++) cpu.run(1, true);
    expect(cpu.regs[1]).toBe(0);
    // The first instruction (nothing falls through to it), then the 4 taken jumps to 0x1005: A, A→B, B→B ×3.
    expect(nonZero(map)).toEqual([1, 1, 3]);
  });
});
