/**
 * Replayed blocks (src/cpu/jit/replay.ts): a block compiled before in this
 * process — the same bytes at the same addresses, as the next run of a
 * module decodes them — is not generated again, and binds this compile's
 * values: its own instructions, the instrumentation's current roots and
 * bindings. Anything that changes the code (a byte, the address, the
 * executor, the instrumentation's key) or a bound value the recipe cannot
 * find again makes the compiler generate the code.
 */
import { describe, expect, it } from 'vitest';
import type { CPU } from '../../src/cpu/cpu.js';
import { compileBlock, type JitAccess, type JitInstrumentation } from '../../src/cpu/jit.js';
import { decodeAt } from '../../src/cpu/decoder.js';
import type { Instr } from '../../src/cpu/instr.js';
import { runSnippet, DATA } from '../helpers/asm.js';

/** mov eax, [ebx]; add eax, 5; nop */
const BYTES = [0x8b, 0x03, 0x83, 0xc0, 0x05, 0x90];

function decode(bytes: number[], at: number): Instr[] {
  const out: Instr[] = [];
  for (let off = 0; off < bytes.length; ) {
    const ins = decodeAt(Uint8Array.from(bytes.slice(off)), at + off);
    ins.cont = ins.next; // as decodeBlock leaves it
    out.push(ins);
    off = ins.next - at;
  }
  return out;
}

class Probe {
  reads = 0;
  lastAt = -1;
}

/** An instrumentation binding a root (a Probe) at every read, with a replay; `emitted` counts the instructions it was asked about. */
function probing(key: string, probe: Probe, opts: { unlisted?: object } = {}) {
  const state = { emitted: 0, counter: 0 };
  const inst: JitInstrumentation & { state: typeof state } = {
    key,
    state,
    bindings: { $state: state },
    instruction() {
      state.emitted++;
      state.counter++;
      return '';
    },
    read(a: JitAccess) {
      const extra = opts.unlisted ? ` ${a.bind(opts.unlisted)}.seen = true;` : '';
      return `${a.bind(probe)}.reads++; ${a.bind(probe)}.lastAt = ${a.ins.addr | 0};${extra}`;
    },
    replay: () => ({
      key,
      roots: [probe],
      counters: { read: () => [state.counter], add: (d) => (state.counter += d[0]!) },
    }),
  };
  return inst;
}

function machine(): CPU {
  const { cpu } = runSnippet('hlt');
  cpu.regs[3] = DATA;
  return cpu;
}

describe('replayed blocks (jit/replay.ts)', () => {
  it('the same bytes at the same address are not generated again and bind the new compile\'s roots, instructions and bindings', () => {
    const at = 0x7400;
    const p1 = new Probe(), p2 = new Probe();
    const i1 = probing('replay-test-1', p1);
    const first = compileBlock(decode(BYTES, at), { instrumentation: i1 })!;
    expect(i1.state.emitted).toBe(3);
    const cpu = machine();
    first(cpu, 100);
    expect(p1.reads).toBe(1);
    // Another run: new instructions, a new instrumentation object with the same key and a new root.
    const i2 = probing('replay-test-1', p2);
    const instrs2 = decode(BYTES, at);
    const second = compileBlock(instrs2, { instrumentation: i2 })!;
    expect(i2.state.emitted).toBe(0); // replayed
    expect(i2.state.counter).toBe(3); // the compile-time counter advanced as the compile did
    const cpu2 = machine();
    second(cpu2, 100);
    expect(p2.reads).toBe(1);
    expect(p2.lastAt).toBe(at);
    expect(p1.reads).toBe(1); // the first run's root is not touched
    expect(cpu2.eip).toBe(at + BYTES.length);
  });

  it('a fault in a replayed block is delivered at this compile\'s instructions', () => {
    const at = 0x7420;
    let armed = false;
    // The NOP left to an executor that faults when armed (the same function both times: the same key).
    const faulting = (): void => {
      if (armed) throw new Error('fault');
    };
    const compile = () => {
      const instrs = decode(BYTES, at);
      instrs[2]!.exec = faulting;
      return { instrs, block: compileBlock(instrs, { instrumentation: probing('replay-test-5', new Probe()) })! };
    };
    compile();
    const { instrs, block } = compile();
    const cpu = machine();
    armed = true;
    cpu.eip = at;
    expect(() => block(cpu, 100)).toThrow('fault');
    expect(cpu.jitInstrs).toBe(instrs);
    expect(cpu.jitIndex).toBe(2);
  });

  it('another byte, another address, another executor or another key is generated', () => {
    const at = 0x7440;
    const key = 'replay-test-2';
    compileBlock(decode(BYTES, at), { instrumentation: probing(key, new Probe()) });
    const emitted = (bytes: number[], where: number, k = key, change?: (i: Instr[]) => void) => {
      const inst = probing(k, new Probe());
      const instrs = decode(bytes, where);
      change?.(instrs);
      compileBlock(instrs, { instrumentation: inst });
      return inst.state.emitted > 0;
    };
    expect(emitted(BYTES, at)).toBe(false);
    expect(emitted([0x8b, 0x03, 0x83, 0xc0, 0x06, 0x90], at)).toBe(true); // add eax, 6
    expect(emitted(BYTES, at + 0x10)).toBe(true);
    expect(emitted(BYTES, at, 'replay-test-2b')).toBe(true);
    expect(emitted(BYTES, at, key, (i) => (i[0]!.exec = () => {}))).toBe(true);
    expect(emitted(BYTES, at)).toBe(false);
  });

  it('a block binding an object outside the roots is generated every time, with this compile\'s object', () => {
    const at = 0x7480;
    const run = () => {
      const probe = new Probe();
      const unlisted = { seen: false };
      const inst = probing('replay-test-3', probe, { unlisted });
      const block = compileBlock(decode(BYTES, at), { instrumentation: inst })!;
      block(machine(), 100);
      return { emitted: inst.state.emitted, seen: unlisted.seen, reads: probe.reads };
    };
    expect(run()).toEqual({ emitted: 3, seen: true, reads: 1 });
    expect(run()).toEqual({ emitted: 3, seen: true, reads: 1 });
  });

  it('an instrumentation without a replay is generated every time', () => {
    const at = 0x74c0;
    for (let i = 0; i < 2; i++) {
      const inst = probing('replay-test-4', new Probe());
      delete inst.replay;
      compileBlock(decode(BYTES, at), { instrumentation: inst });
      expect(inst.state.emitted).toBe(3);
    }
  });
});
