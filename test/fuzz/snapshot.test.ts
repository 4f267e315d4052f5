/**
 * The fuzzer's machine snapshot (src/boot/snapshot.ts): a restored machine
 * runs every input exactly as a freshly booted one (same outcome, edges,
 * instructions, findings, reports, console), with every checker; inputs
 * cannot affect each other (a target that keeps state across calls sees
 * none); only dirtied pages are copied back.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileModule } from '../../src/cli/compile.js';
import { ModuleTarget, type Execution, type TargetRunOptions } from '../../src/fuzz/target-module.js';
import { FUZZ_MEMORY_SIZE } from '../../src/cli/fuzz-command.js';
import { havoc } from '../../src/fuzz/mutate.js';
import { Rng } from '../../src/fuzz/random.js';
import { readDictionary } from '../../src/fuzz/dictionary.js';
import { MAP_SIZE } from '../../src/fuzz/coverage.js';
import { hasGcc, ROOT, NO_GCC, RUNTIME } from '../module/helpers.js';
import type { HeapMode, StackMode } from '../../src/harness/modes.js';

const skip = !hasGcc ? NO_GCC : !existsSync(RUNTIME) ? `${RUNTIME} missing: run npm run build` : null;
if (skip) console.log(`test/fuzz/snapshot.test.ts: skipped: ${skip}`);

const EX = join(ROOT, 'examples/fuzz');

/** Everything observable about one execution. */
function observe(e: Execution, edges: Uint8Array): unknown {
  const r = e.result!;
  const hits: string[] = [];
  for (let i = 0; i < edges.length; i++) if (edges[i]) hits.push(`${i}:${edges[i]}`);
  return {
    outcome: e.outcome, signature: e.signature, signal: e.signal, instructions: e.instructions,
    edges: hits.join(' '),
    findings: JSON.stringify(r.findings), reports: r.reports, lost: r.summary.lost,
    stop: JSON.stringify(r.run?.stop ?? null), exit: r.run?.exitCode, console: r.run?.console, diagnostics: r.run?.diagnostics,
    runInstructions: r.run?.instructions, cleanup: r.run?.cleanupReturned,
  };
}

function inputs(name: string, n: number, seed: number): Uint8Array[] {
  const rng = new Rng(seed);
  const dict = join(EX, `${name}.dict`);
  const tokens = existsSync(dict) ? readDictionary(dict) : [];
  const out: Uint8Array[] = [new Uint8Array(0), Uint8Array.from([0x30, 0x30, 0x30, 0x30]), ...tokens];
  let base = Uint8Array.from([0x30, 0x30, 0x30, 0x30]);
  while (out.length < n) {
    base = havoc(rng.oneIn(4) ? base : out[rng.below(out.length)]!, { rng, tokens, maxLength: 256 }, { stacked: 0 }) as Uint8Array<ArrayBuffer>;
    out.push(base);
  }
  return out;
}

describe.skipIf(skip !== null)('fuzz snapshot: restore equals a fresh boot', () => {
  const modes: { heap: HeapMode | null; stack: StackMode | null }[] = [
    { heap: null, stack: null },
    { heap: 'kmemcheck', stack: null },
    { heap: 'inline', stack: 'precise' },
    { heap: 'kmemcheck', stack: 'cpl1' },
    { heap: null, stack: 'ftrace' },
  ];
  for (const name of ['record-type', 'padding', 'use-after-free', 'stack-sum', 'clean']) {
    for (const m of modes) {
      it(`${name}.c with ${m.heap ?? 'no heap checker'}, ${m.stack ?? 'no stack checker'}`, () => {
        const c = compileModule(join(EX, `${name}.c`), { ftrace: m.stack === 'ftrace' });
        const run: TargetRunOptions = { name: `${name}.c`, heap: m.heap, stack: m.stack, stackUsage: c.stackUsage || null, maxInstructions: 1e9, memorySize: FUZZ_MEMORY_SIZE, ...(process.env.NOJIT ? { jitThreshold: Infinity } : {}) };
        const fresh = new ModuleTarget(c.object, run, 100_000, { snapshot: false });
        const snap = new ModuleTarget(c.object, run, 100_000);
        const seeds = existsSync(join(EX, `${name}.seeds`)) ? [readFileSync(join(EX, `${name}.seeds`, 'open-write-read'))] : [];
        const list = [...seeds.map((b) => new Uint8Array(b)), ...inputs(name, 24, 7)];
        for (const data of list) {
          const ea = new Uint8Array(MAP_SIZE);
          const eb = new Uint8Array(MAP_SIZE);
          const a = observe(fresh.execute(data, ea), ea);
          const b = observe(snap.execute(data, eb), eb);
          expect(b, `input ${Buffer.from(data).toString('hex')}`).toEqual(a);
        }
        expect(snap.snapshot!.objects).toBeGreaterThan(0);
      });
    }
  }
});

describe.skipIf(skip !== null)('fuzz snapshot: inputs cannot affect each other', () => {
  it('a target keeping state in globals and the heap sees none of it from earlier inputs; only dirtied pages are copied back', () => {
    const c = compileModule(join(ROOT, 'test/fuzz/targets/stateful.c'));
    const run: TargetRunOptions = { name: 'stateful.c', heap: 'kmemcheck', stack: null, maxInstructions: 1e9, memorySize: FUZZ_MEMORY_SIZE };
    const t = new ModuleTarget(c.object, run, 100_000);
    const A = Uint8Array.from([0x41]);
    const B = Uint8Array.from([0x42]);
    for (let i = 0; i < 20; i++) {
      const e = t.execute(i % 2 ? B : A, null);
      expect(e.outcome, e.signature ?? '').toBe('ok');
      const r = t.snapshot!.lastRestore;
      if (i > 0) {
        expect(r.copiedPages).toBeGreaterThan(0);
        expect(r.copiedPages).toBeLessThanOrEqual(r.dirtyPages);
        expect(r.dirtyPages).toBeLessThan(64); // of 2048 frames
      }
    }
    // Without the restore (the snapshot's restore made a no-op), the second input trips over the first one's state.
    const s = new ModuleTarget(c.object, run, 100_000);
    s.execute(A, null);
    (s as unknown as { snap: { restore(): void } }).snap.restore = () => undefined;
    const leaked = s.execute(B, null);
    expect(leaked.outcome).toBe('crash');
    expect(leaked.signature).toMatch(/^fault 6 /); // BUG(): ud2
  });
});

describe('the dirty page log and the snapshot of a bare machine', () => {
  it('logs frames written through the CPU (TLB fast and slow paths), the memory unit and writePhys; restore puts every byte back and logs again', async () => {
    const { Kernel } = await import('../../src/kernel/kernel.js');
    const { kva } = await import('../../src/kernel/layout.js');
    const { MachineSnapshot } = await import('../../src/boot/snapshot.js');
    const k = new Kernel({ memorySize: 8 * 2 ** 20 });
    const cpu = k.cpu;
    const snap = new MachineSnapshot(cpu, [k]);
    const before = cpu.mem.u8.slice();
    const a = kva(0x300000), b = kva(0x301000);
    cpu.write32(a, 0x11223344); // TLB miss: translate() fills the write entry and logs the frame
    cpu.write8(a + 5, 0x55); // fast path through that entry
    cpu.write16(b + 0xfff, 0x6677); // page-crossing slow path
    cpu.writePhys(0x310000, Uint8Array.from([1, 2, 3]));
    cpu.mem.write32(0x320000, 7);
    const r = snap.restore();
    expect(r.dirtyPages).toBeGreaterThanOrEqual(5);
    expect(r.copiedPages).toBe(6); // the five frames, and the page directory whose entry got its accessed and dirty bits
    expect(Buffer.compare(Buffer.from(cpu.mem.u8), Buffer.from(before))).toBe(0);
    // After a restore the write TLB is empty again: the next write to the same frame is logged again.
    cpu.write8(a, 0x99);
    expect(snap.restore().copiedPages).toBe(2);
    expect(cpu.mem.u8[0x300000]).toBe(before[0x300000]);
    // Host-side state: a register and the time stamp counter come back too.
    const eax = cpu.regs[0];
    cpu.regs[0] = 12345;
    cpu.icount += 1000;
    snap.restore();
    expect(cpu.regs[0]).toBe(eax);
    expect(cpu.icount).toBe(0);
  });
});

describe('the snapshot restores devices on the CPU\'s ports and timers', () => {
  it('PIT, PIC and UART state programmed after the snapshot is put back (reached through the port handlers)', async () => {
    const { CPU } = await import('../../src/cpu/cpu.js');
    const { attachPcDevices } = await import('../../src/devices/pc.js');
    const { MachineSnapshot } = await import('../../src/boot/snapshot.js');
    const cpu = new CPU({ memorySize: 1 << 20 });
    const dev = attachPcDevices(cpu, () => undefined);
    const latch = (): number => {
      cpu.portOut(0x43, 0x00, 1); // counter latch, channel 0
      return cpu.portIn(0x40, 1) | (cpu.portIn(0x40, 1) << 8);
    };
    const state = (): string => JSON.stringify({ uart: [0, 1, 3, 4, 7].map((r) => cpu.portIn(0x3f8 + r, 1)), picMask: [cpu.portIn(0x21, 1), cpu.portIn(0xa1, 1)], pit: [String(dev.pit.nextEventAt), latch()] });
    const before = state();
    // The devices' objects are a root: the CPU reaches the PIT (a timer) and the PIC (its interrupt
    // controller) itself, but the UART only through a port handler's closure.
    const snap = new MachineSnapshot(cpu, [dev]);
    cpu.portOut(0x3f8 + 7, 0x5a, 1); // UART scratch register
    cpu.portOut(0x3f8 + 3, 0x03, 1); // line control: 8N1
    cpu.portOut(0x21, 0xfe, 1); // PIC mask: only IRQ0
    cpu.portOut(0x43, 0x34, 1); // PIT channel 0, rate generator
    cpu.portOut(0x40, 0x9c, 1);
    cpu.portOut(0x40, 0x2e, 1);
    cpu.icount += 5000;
    expect(state()).not.toBe(before);
    snap.restore();
    expect(state()).toBe(before);
    expect(cpu.icount).toBe(0);
  });
});
