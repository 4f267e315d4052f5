/**
 * The precise checkers compiled into the blocks (src/shadow/instrument.ts,
 * src/cpu/jit/instrumentation.ts):
 *
 * - the accesses planned at compile time (instrument-plan.ts) are the ones
 *   decodeAccesses computes at run time, for every memory form of the
 *   opcode table and random ModRM/SIB addressing, in random register files;
 * - every instruction that moves ESP is one the stack oracle sees
 *   (esp-writers.ts or a memory access), checked by running every
 *   register form of the opcode table, ESP as an operand included;
 * - a finding made inside a compiled block carries the registers of the
 *   instruction as the fault-driven kmemcheck's trap frame has them (the
 *   context is read only when the error is saved);
 * - untracked accesses and plain runs: nothing decoded at run time, no
 *   instrumentation left on the CPU after detaching;
 * - the benchmark modules (bench/modules) give the plain run's output under
 *   the inline checker, the stack oracle and both.
 */
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { decodeAt } from '../../src/cpu/decoder.js';
import { ONE_BYTE, TWO_BYTE } from '../../src/cpu/x86_table.js';
import type { Instr } from '../../src/cpu/instr.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { kva } from '../../src/kernel/layout.js';
import { AccessList, InterruptedContext, decodeAccesses } from '../../src/shadow/access.js';
import { plannedAccesses } from '../../src/shadow/instrument-plan.js';
import { accessesMemory, CheckInstrumentation } from '../../src/shadow/instrument.js';
import { mayWriteEsp } from '../../src/shadow/esp-writers.js';
import { InlineChecker } from '../../src/shadow/inline.js';
import { PreciseStack } from '../../src/shadow/stack-precise.js';
import type { KmemcheckError } from '../../src/shadow/errors.js';
import { memoryForms } from './opcodes.js';
import { enterCpl1, machine } from './fixture.js';
import { restore, snapshot } from './cpu-snapshot.js';
import { join } from 'node:path';
import { compileModule } from '../../src/cli/compile.js';
import { runChecked } from '../../src/harness/checked-run.js';
import { hasGcc, ROOT } from '../module/helpers.js';

const EIP = 0x00401000;

/** Random ModRM/SIB/displacement encodings of common memory-operand opcodes. */
function addressingForms(rng: () => number): Instr[] {
  const opcodes: number[][] = [
    [0x8b], [0x89], [0x8a], [0x88], [0x03], [0x01], [0x2b], [0x31], [0x3b], [0x39], [0x85], [0x84], [0xc7], [0xc6], [0x81], [0x83],
    [0x80], [0xff], [0xfe], [0xf7], [0xf6], [0xd1], [0xc1], [0xd3], [0x8d], [0x87], [0x86], [0x0f, 0xb6], [0x0f, 0xbe], [0x0f, 0xb7],
    [0x0f, 0xaf], [0x0f, 0x44], [0x0f, 0xb1], [0x0f, 0xc1], [0x0f, 0xa3], [0x0f, 0xab], [0x0f, 0xba], [0x8f], [0x66, 0x89], [0x66, 0x8b],
    [0x67, 0x8b], [0x64, 0x8b], [0x65, 0x89], [0x26, 0x8b], [0x36, 0x8b],
  ];
  const out: Instr[] = [];
  for (const op of opcodes) {
    for (let n = 0; n < 24; n++) {
      const b = (): number => Math.floor(rng() * 256);
      const modrm = (b() & 0x3f) | (Math.floor(rng() * 3) << 6); // mod 0..2: memory
      const bytes = new Uint8Array([...op, modrm, b(), b(), b(), b(), b(), 1, 1, 1, 1]);
      const ins = decodeAt(bytes, EIP);
      if (ins.def !== null && ins.def.unsupported === undefined && ins.invalidReason === '') out.push(ins);
    }
  }
  return out;
}

/** Evaluate a planned address expression against a register file. */
function evaluate(expr: string, regs: Int32Array, segBase: Int32Array): number {
  return (new Function('r', 'sb', `return ${expr};`) as (r: Int32Array, sb: Int32Array) => number)(regs, segBase);
}

describe('accesses planned at compile time', () => {
  let seed = 1;
  const rng = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) | 0) >>> 0) / 2 ** 32;
  const forms = [...memoryForms(0x00c01230, EIP).map((f) => f.ins), ...addressingForms(rng)];
  for (const op of [0x50, 0x55, 0x5b, 0x5d, 0x68, 0x6a, 0xe8, 0xc3, 0xc2, 0xc9]) {
    forms.push(decodeAt(new Uint8Array([op, 0x10, 0, 0, 0, 1, 1, 1]), EIP));
  }

  it('plan most forms, and nothing that needs run-time decoding', () => {
    const planned = forms.filter((ins) => plannedAccesses(ins) !== null);
    expect(planned.length).toBeGreaterThan(600);
    for (const ins of forms) {
      const p = plannedAccesses(ins);
      if (ins.def!.string || [0xa4, 0xa5].includes(ins.op)) expect(p, ins.def!.name).toBeNull();
      if (p !== null) expect(p.length, ins.def!.name).toBeLessThanOrEqual(1);
    }
    // Copies (PUSH m, POP m), bit strings with a register offset and shifts by CL are decoded at run time.
    for (const bytes of [[0xff, 0x30], [0x8f, 0x00], [0x0f, 0xa3, 0x00], [0xd3, 0x20], [0xa5]]) {
      expect(plannedAccesses(decodeAt(new Uint8Array([...bytes, 0, 0, 0, 0]), EIP)), bytes.join(' ')).toBeNull();
    }
  });

  it('are the accesses decodeAccesses computes, in any register file', () => {
    const list = new AccessList();
    const ctx = new InterruptedContext();
    fc.assert(
      fc.property(fc.array(fc.integer(), { minLength: 8, maxLength: 8 }), fc.array(fc.integer(), { minLength: 6, maxLength: 6 }), (regs, bases) => {
        ctx.regs.set(regs);
        ctx.segBase.set(bases);
        for (const ins of forms) {
          const plan = plannedAccesses(ins);
          if (plan === null) continue;
          decodeAccesses(ins, ctx, list);
          const label = `${ins.def!.name} ${ins.bytes.map((x) => x.toString(16)).join(' ')}`;
          expect(plan.length, label).toBe(list.count);
          if (plan.length === 1) {
            expect(evaluate(plan[0]!.addr, ctx.regs, ctx.segBase), label).toBe(list.addr[0]);
            expect(plan[0]!.size, label).toBe(list.size[0]);
            expect(plan[0]!.kind, label).toBe(list.kind[0]);
            expect(list.copyOf[0], label).toBe(-1);
          }
        }
      }),
      { numRuns: 30, seed: 0x91a4 },
    );
  });
});

/** Register forms of the whole opcode table with ESP in every ModRM position (mod = 11). */
function registerForms(eip: number): Instr[] {
  const out: Instr[] = [];
  const seen = new Set<string>();
  const add = (b: number[]): void => {
    const bytes = new Uint8Array([...b, 1, 1, 1, 1, 1, 1, 1, 1]);
    const ins = decodeAt(bytes, eip);
    if (ins.def === null || ins.def.unsupported !== undefined || ins.invalidReason !== '' || ins.mem) return;
    const key = Array.from(bytes.slice(0, ins.len)).join(',');
    if (!seen.has(key)) {
      seen.add(key);
      out.push(ins);
    }
  };
  for (const [esc, table] of [[[], ONE_BYTE], [[0x0f], TWO_BYTE]] as const) {
    for (let op = 0; op < 256; op++) {
      const def = table[op];
      if (def === undefined || def.threeByte || (esc.length === 0 && op === 0x0f)) continue;
      for (const pre of [[], [0x66]]) {
        if (!def.modrm) add([...pre, ...esc, op]);
        else for (let reg = 0; reg < 8; reg++) for (const rm of [0, 4]) add([...pre, ...esc, op, 0xc0 | (reg << 3) | rm]);
      }
    }
  }
  return out;
}

describe('ESP writers: every instruction that moves ESP is seen by the stack oracle', () => {
  it('every register form of the opcode table that changes ESP is mayWriteEsp or accesses memory', () => {
    const k = new Kernel({ memorySize: 16 * 1024 * 1024 });
    const cpu = k.cpu;
    cpu.jitThreshold = Infinity;
    const S = kva(k.frames.alloc()) >>> 0;
    const code = kva(k.frames.alloc()) >>> 0;
    const forms = registerForms(code);
    expect(forms.length).toBeGreaterThan(800);
    const s0 = snapshot(cpu);
    const missed: string[] = [];
    let moved = 0;
    for (const ins of forms) {
      for (const esp of [0x800, 0xffc]) {
        restore(cpu, s0);
        k.mem.write(code, new Uint8Array(64).fill(0x90));
        k.mem.write(code, Uint8Array.from(ins.bytes));
        enterCpl1(k);
        const r = cpu.regs;
        r.fill(0x10);
        r[0] = (code + 0x20) | 0;
        r[4] = (S + esp) | 0;
        r[5] = (S + 0x900) | 0;
        cpu.eip = code | 0;
        const stop = cpu.run(1);
        if (stop?.kind !== 'budget' || r[4] === ((S + esp) | 0)) continue;
        moved++;
        if (!mayWriteEsp(ins) && !accessesMemory(ins)) missed.push(`${ins.def!.name} ${ins.bytes.map((x) => x.toString(16)).join(' ')}`);
      }
    }
    expect(missed).toEqual([]);
    expect(moved).toBeGreaterThan(100);
  });

  it('plain ALU and MOV forms that do not name ESP are not instrumented for it', () => {
    for (const bytes of [[0x01, 0xc8], [0x89, 0xc3], [0xb8, 1, 0, 0, 0], [0x40], [0x0f, 0xaf, 0xc1], [0x85, 0xc0]]) {
      const ins = decodeAt(new Uint8Array([...bytes, 0, 0, 0, 0]), EIP);
      expect(mayWriteEsp(ins), bytes.join(' ')).toBe(false);
      expect(accessesMemory(ins), bytes.join(' ')).toBe(false);
    }
    for (const bytes of [[0x83, 0xc4, 0x10], [0x89, 0xec], [0x8d, 0x64, 0x24, 0x08], [0x44], [0x5c], [0xbc, 0, 0, 0, 0], [0x94]]) {
      expect(mayWriteEsp(decodeAt(new Uint8Array([...bytes, 0, 0, 0, 0]), EIP)), bytes.join(' ')).toBe(true);
    }
  });
});

/** A hot loop: writes dwords 0..199 of D, then reads 0..255 (200..255 uninitialized) in a block that is compiled by then. */
const HOT_LOOP = `mov esi, D
  xor ecx, ecx
1: mov [esi + ecx*4], ecx
  inc ecx
  cmp ecx, 200
  jne 1b
  xor ecx, ecx
  xor edx, edx
  mov ebx, 0x1234
2: mov eax, [esi + ecx*4]
  add edx, eax
  inc ecx
  cmp ecx, 256
  jne 2b
  hlt`;

const reportShape = (e: KmemcheckError) => ({ ...e, eflags: e.eflags & ~0x10000, icount: 0 });

describe('findings from compiled blocks', () => {
  it('carry the instruction\'s registers and memory as the fault-driven kmemcheck\'s trap frame has them', () => {
    const fault = machine();
    fault.km!.track(fault.data[0], 4096);
    expect(fault.run(HOT_LOOP)).toEqual({ kind: 'halted' });
    const want = fault.km!.recall();

    const m = machine({ kmemcheck: false });
    m.k.cpu.jitThreshold = 0; // every block compiled at its first execution
    const inl = InlineChecker.attach(m.k);
    inl.track(m.data[0], 4096);
    expect(m.data[0]).toBe(fault.data[0]);
    expect(m.run(HOT_LOOP)).toEqual({ kind: 'halted' });
    const got = inl.recall();
    expect(want).toHaveLength(1);
    expect(got.map(reportShape)).toEqual(want.map(reportShape));
    expect(got[0]!.regs.ecx).toBe(200);
    // The read ran compiled with its check emitted inline: the full path ran only for the 56 reads of
    // uninitialized dwords (one reported, 55 dropped as from the same EIP).
    const checks = CheckInstrumentation.of(m.k);
    expect(checks.stats.planned).toBeGreaterThan(0);
    expect(inl.stats.reads).toBeGreaterThan(200);
    expect(checks.stats.checked).toBe(56);
    expect(inl.errors.suppressed).toBe(55);
  });

  it('a second machine running the same code replays the compiled checks (jit/replay.ts) bound to its own checker and shadow', () => {
    const once = () => {
      const m = machine({ kmemcheck: false });
      m.k.cpu.jitThreshold = 0;
      const inl = InlineChecker.attach(m.k);
      inl.track(m.data[0], 4096);
      const checks = CheckInstrumentation.of(m.k);
      const asked = vi.spyOn(checks, 'instruction');
      expect(m.run(HOT_LOOP)).toEqual({ kind: 'halted' });
      return { errors: inl.recall(), generated: asked.mock.calls.length, stats: { ...checks.stats }, reads: inl.stats.reads };
    };
    const first = once();
    const second = once();
    expect(second.generated).toBe(0); // every block replayed
    expect(second.errors).toHaveLength(1);
    expect(second.errors.map(reportShape)).toEqual(first.errors.map(reportShape));
    expect(second.reads).toBe(first.reads);
    expect(second.stats).toEqual(first.stats); // compile-time counters advanced as the compiles did
    expect(second.stats.planned).toBeGreaterThan(0);
  });

  it('untracked memory is not decoded at run time, and detaching leaves a plain CPU', () => {
    const m = machine({ kmemcheck: false });
    m.k.cpu.jitThreshold = 0;
    const inl = InlineChecker.attach(m.k);
    inl.track(m.data[2], 4096); // tracked, but not what the loop touches
    expect(m.run(HOT_LOOP)).toEqual({ kind: 'halted' });
    expect(inl.recall()).toEqual([]);
    expect(inl.stats.reads).toBe(0);
    expect(CheckInstrumentation.of(m.k).stats.checked).toBe(0);
    inl.detach();
    expect(m.k.cpu.jitInstrumentation).toBeNull();
  });

  it('the stack oracle sees the dead bytes of a compiled loop: a read below ESP after it rose is reported', () => {
    const m = machine({ kmemcheck: false });
    const cpu = m.k.cpu;
    // A private stack on data page 1, tracked by the oracle.
    const top = (m.data[1] + 4096) >>> 0;
    const s = PreciseStack.attach(m.k, { low: m.data[1], high: top });
    // 300 times: push a word and pop it (ESP rises over it: dead); then read it back from below ESP.
    const src = `mov ecx, 300
1: push ecx
  pop eax
  loop 1b
  mov edx, [esp - 4]
  hlt`;
    expect(m.run(src, { regs: { esp: top - 64 } })).toEqual({ kind: 'halted' });
    const errs = s.recall();
    expect(errs).toHaveLength(1);
    expect(errs[0]!.address).toBe(top - 68);
    expect(errs[0]!.regs.esp).toBe(top - 64);
    expect(cpu.regs[2]).toBe(1); // the architectural value is there: the last ECX pushed
    expect(CheckInstrumentation.of(m.k).stats.planned).toBeGreaterThan(0);
  });
});

describe('REP string instructions under the compiled checks', () => {
  /** The same snippet in plain mode and under the inline checker tracking `tracked` (uninitialized): stop, registers, instruction count, findings. */
  function both(src: string, tracked: (m: ReturnType<typeof machine>) => number[]) {
    const plain = machine({ kmemcheck: false });
    expect(plain.run(src)).toEqual({ kind: 'halted' });
    const m = machine({ kmemcheck: false });
    const inl = InlineChecker.attach(m.k);
    for (const page of tracked(m)) inl.track(page, 4096);
    expect(m.run(src)).toEqual({ kind: 'halted' });
    return { plain: plain.k.cpu, cpu: m.k.cpu, errors: inl.recall(), inl, m };
  }

  it('over untracked memory run whole chunks: the instruction count is plain mode\'s', () => {
    // A memcpy of 1,000 dwords between pages nobody tracks (data page 0 is tracked).
    const src = `mov esi, D2
  mov edi, D3
  mov ecx, 1000
  cld
  rep movsd
  hlt`;
    const r = both(src, (m) => [m.data[0]!]);
    expect(r.errors).toEqual([]);
    expect(r.cpu.icount).toBe(r.plain.icount);
    expect(Array.from(r.cpu.regs)).toEqual(Array.from(r.plain.regs));
    expect(CheckInstrumentation.of(r.m.k).stats.checked).toBeLessThan(10);
  });

  it('touching a tracked page anywhere in the chunk run one iteration at a time, each checked at its own address', () => {
    // 300 dwords from a tracked page whose dwords 0..199 were written: the copy onto untracked memory
    // reports the first uninitialized source dword, with ECX as that iteration had it.
    const src = `mov edi, D
  mov ecx, 200
  xor eax, eax
  rep stosd
  mov esi, D
  mov edi, D3
  mov ecx, 300
  rep movsd
  hlt`;
    const r = both(src, (m) => [m.data[0]!]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.address).toBe(r.m.data[0]! + 800);
    expect(r.errors[0]!.regs.ecx).toBe(100);
    expect(Array.from(r.cpu.regs)).toEqual(Array.from(r.plain.regs));
    expect(r.cpu.icount).toBe(r.plain.icount - 2 + 200 + 300); // the two REPs: one retirement per iteration
  });

  it('a chunk that starts on an untracked page and runs onto a tracked one is checked iteration by iteration', () => {
    // Page 1 tracked. STOSD forward from 64 bytes below it into its first 64 bytes, then backward (DF)
    // from 60 bytes into page 2 down into its last 64 bytes: those stores initialize what they reach.
    const src = `mov edi, D2
  sub edi, 64
  mov ecx, 32
  mov eax, 1
  rep stosd
  std
  mov edi, D3
  add edi, 60
  mov ecx, 32
  rep stosd
  cld
  mov ecx, [D2]
  mov ecx, [D2 + 60]
  mov ecx, [D2 + 64]
  mov ecx, [D2 + 4032]
  mov ecx, [D2 + 4028]
  hlt`;
    const r = both(src, (m) => [m.data[1]!]);
    expect(r.errors.map((e) => e.address - r.m.data[1]!)).toEqual([64, 4028]);
    expect(r.inl.stats.writes).toBe(16 + 16);
    expect(Array.from(r.cpu.regs)).toEqual(Array.from(r.plain.regs));
  });
});

describe.skipIf(!hasGcc)('the benchmark modules under the compiled checks', () => {
  for (const name of ['kmalloc-workload', 'stack-workload']) {
    it(`${name}: the plain run's output and instruction count under every precise mode, nothing reported`, () => {
      const object = compileModule(join(ROOT, 'bench/modules', `${name}.c`)).object;
      const plain = runChecked(object, { name });
      expect(plain.run!.console).toMatch(/[0-9a-f]{8}\n$/);
      for (const opts of [{ heap: 'inline' }, { stack: 'precise' }, { heap: 'inline', stack: 'precise' }] as const) {
        const r = runChecked(object, { ...opts, name });
        expect(r.run!.stop, JSON.stringify(opts)).toEqual(plain.run!.stop);
        expect(r.run!.console, JSON.stringify(opts)).toBe(plain.run!.console);
        expect(r.findings, JSON.stringify(opts)).toEqual([]);
      }
    });
  }
});
