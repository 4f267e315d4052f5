/**
 * The block compiler's per-instruction instrumentation
 * (src/cpu/jit/instrumentation.ts: the `instruction` site and the
 * interpreter's `interpreted` hook) on a counted loop that stores to memory:
 *
 *   0x1000: mov ecx, 5
 *   0x1005: mov [0x2000], ecx    ; the client checks instructions with a memory operand
 *   0x100b: dec ecx
 *   0x100c: jnz 0x1005
 *   0x100e: hlt
 *
 * The client's code runs at the start of each execution of an instruction
 * with the registers as its inputs and memory as before it, the same in
 * compiled blocks, in interpreted ones and one instruction at a time
 * (cpu.step: the path TF takes); the lazy flags it may need are written back
 * on request; removing the instrumentation leaves compiled code without it.
 */
import { describe, expect, it } from 'vitest';
import { CPU } from '../../src/cpu/cpu.js';
import type { Instr } from '../../src/cpu/instr.js';
import type { JitInstructionSite, JitInstrumentation } from '../../src/cpu/jit.js';

const LOOP = [0xb9, 0x05, 0x00, 0x00, 0x00, 0x89, 0x0d, 0x00, 0x20, 0x00, 0x00, 0x49, 0x75, 0xf7, 0xf4];

function machine(jit: number): CPU {
  const cpu = new CPU({ memorySize: 1 << 20 });
  cpu.writePhys(0x1000, Uint8Array.from(LOOP));
  cpu.eip = 0x1000;
  cpu.regs[4] = 0x80000;
  cpu.jitThreshold = jit;
  return cpu;
}

/** Records (EIP, ECX, the word at 0x2000, ZF) at the start of each instruction with a memory operand. */
class Recorder implements JitInstrumentation {
  readonly key = 'test-recorder';
  seen: [number, number, number, number][] = [];
  compiledSites = 0;
  instruction(s: JitInstructionSite): string {
    if (!s.ins.mem) return '';
    this.compiledSites++;
    return `${s.sync} ${s.bind(this)}.record(cpu, ${s.bind(s.ins)}, ${s.ins.addr});`;
  }
  interpreted(cpu: CPU, ins: Instr): void {
    if (!ins.mem) return;
    expect(cpu.eip).toBe(ins.addr);
    this.record(cpu, ins, cpu.eip);
  }
  record(cpu: CPU, ins: Instr, eip: number): void {
    expect(eip).toBe(ins.addr);
    this.seen.push([eip, cpu.regs[1]!, cpu.mem.read32(0x2000), (cpu.getEflags() >> 6) & 1]);
  }
}

/** ZF before the store: clear after MOV ECX, 5 (flags untouched: cleared at reset), then from DEC ECX (non-zero). */
const EXPECTED = [5, 4, 3, 2, 1].map((ecx, i) => [0x1005, ecx, i === 0 ? 0 : ecx + 1, 0]);

describe('per-instruction instrumentation of the block compiler', () => {
  for (const [name, jit, step] of [['compiled', 0, false], ['interpreted', Infinity, false], ['one instruction at a time (cpu.step)', 0, true]] as const) {
    it(`runs ahead of each instruction with its inputs (${name})`, () => {
      const cpu = machine(jit);
      const rec = new Recorder();
      cpu.setJitInstrumentation(rec);
      if (step) {
        for (let i = 0; i < 20 && cpu.stopReason === null; i++) cpu.step();
      } else cpu.run(1000);
      expect(cpu.stopReason?.kind).toBe('halted');
      expect(rec.seen).toEqual(EXPECTED);
      expect(rec.compiledSites > 0).toBe(jit === 0 && !step);
    });
  }

  it('is dropped from compiled code when removed', () => {
    const cpu = machine(0);
    const rec = new Recorder();
    cpu.setJitInstrumentation(rec);
    cpu.run(7); // mov, then two rounds of the loop, compiled
    expect(rec.seen.length).toBe(2);
    cpu.setJitInstrumentation(null);
    cpu.run(1000);
    expect(cpu.stopReason?.kind).toBe('halted');
    expect(rec.seen.length).toBe(2);
    expect(cpu.jitInstrumentation).toBeNull();
  });
});
