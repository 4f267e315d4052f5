/**
 * The CPU's instruction instrumentation (src/cpu/instrument.ts) on a
 * counted loop that stores to memory:
 *
 *   0x1000: mov ecx, 5
 *   0x1005: mov [0x2000], ecx    ; wanted (the client wants memory operands)
 *   0x100b: dec ecx
 *   0x100c: jnz 0x1005
 *   0x100e: hlt
 *
 * `before` runs ahead of every execution of a wanted instruction with EIP
 * at it and the registers as its inputs, the same in compiled blocks, in
 * interpreted ones and one instruction at a time (cpu.step: the path TF
 * takes); emitted code runs instead
 * of the call when the client emits it; removing the instrumentation
 * leaves compiled code without it.
 */
import { describe, expect, it } from 'vitest';
import { CPU } from '../../src/cpu/cpu.js';
import type { Instr } from '../../src/cpu/instr.js';
import type { Instrumentation } from '../../src/cpu/instrument.js';

const LOOP = [0xb9, 0x05, 0x00, 0x00, 0x00, 0x89, 0x0d, 0x00, 0x20, 0x00, 0x00, 0x49, 0x75, 0xf7, 0xf4];

function machine(jit: number): CPU {
  const cpu = new CPU({ memorySize: 1 << 20 });
  cpu.writePhys(0x1000, Uint8Array.from(LOOP));
  cpu.eip = 0x1000;
  cpu.regs[4] = 0x80000;
  cpu.jitThreshold = jit;
  return cpu;
}

/** Records (EIP, ECX, the word at 0x2000) ahead of each instruction with a memory operand. */
class Recorder implements Instrumentation {
  seen: [number, number, number][] = [];
  asked = 0;
  wants(ins: Instr): boolean {
    this.asked++;
    return ins.mem;
  }
  before(cpu: CPU, ins: Instr): void {
    if (!ins.mem) return; // the interpreter asks about every instruction
    expect(cpu.eip).toBe(ins.addr);
    this.seen.push([cpu.eip, cpu.regs[1]!, cpu.mem.read32(0x2000)]);
  }
}

const EXPECTED = [5, 4, 3, 2, 1].map((ecx, i) => [0x1005, ecx, i === 0 ? 0 : ecx + 1]);

describe('instruction instrumentation', () => {
  for (const [name, jit, tf] of [['compiled', 0, false], ['interpreted', Infinity, false], ['one instruction at a time (cpu.step)', 0, true]] as const) {
    it(`calls before ahead of each wanted instruction with its inputs (${name})`, () => {
      const cpu = machine(jit);
      const rec = new Recorder();
      cpu.setInstrumentation(rec);
      if (tf) {
        for (let i = 0; i < 20 && cpu.stopReason === null; i++) cpu.step();
      } else cpu.run(1000);
      expect(cpu.stopReason?.kind).toBe('halted');
      expect(rec.seen).toEqual(EXPECTED);
      if (jit === 0 && !tf) expect(rec.asked).toBeGreaterThan(0); // the compiler asked
    });
  }

  it('runs the code a client emits instead of the call, with the values it binds', () => {
    const cpu = machine(0);
    const counter = { n: 0, eips: [] as number[] };
    const client: Instrumentation = {
      wants: (ins) => ins.mem,
      before: () => undefined,
      emit: (ins, bind) => `${bind(counter)}.n++; ${bind(counter.eips)}.push(${ins.addr}, r[1]);`,
    };
    cpu.setInstrumentation(client);
    cpu.run(1000);
    expect(counter.n).toBe(5);
    expect(counter.eips).toEqual([0x1005, 5, 0x1005, 4, 0x1005, 3, 0x1005, 2, 0x1005, 1]);
  });

  it('is dropped from compiled code when removed', () => {
    const cpu = machine(0);
    const rec = new Recorder();
    cpu.setInstrumentation(rec);
    cpu.run(7); // mov, then two rounds of the loop, compiled
    expect(rec.seen.length).toBe(2);
    cpu.setInstrumentation(null);
    cpu.run(1000);
    expect(cpu.stopReason?.kind).toBe('halted');
    expect(rec.seen.length).toBe(2);
    expect(cpu.instrumentation).toBeNull();
  });
});
