/**
 * The precise inline checker (src/shadow/inline.ts) against the
 * fault-driven kmemcheck engine: every examples/kmemcheck/*.c gives the
 * same findings (kind, access, size, eip, function, address) under both,
 * and the same console output, init return and exit status as a run
 * without any checker. Plus a few unit checks of the checker's wiring.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compileModule } from '../../src/cli/compile.js';
import { runModuleWithInlineChecker, runModuleWithKmemcheck } from '../../src/harness/heap-runs.js';
import { InlineChecker } from '../../src/shadow/inline.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { REP_CHUNK } from '../../src/cpu/cpu.js';
import { hasGcc, ROOT, runtimeObject } from '../module/helpers.js';

const DIR = join(ROOT, 'examples/kmemcheck');
if (!hasGcc) console.log('test/shadow/inline.test.ts: gcc not found: the kmemcheck examples (C modules) are skipped');

const examples = readdirSync(DIR).filter((f) => f.endsWith('.c')).map((f) => f.slice(0, -2)).sort();

const objects = new Map<string, Uint8Array>();
function object(name: string): Uint8Array {
  let o = objects.get(name);
  if (!o) objects.set(name, (o = compileModule(join(DIR, `${name}.c`)).object));
  return o;
}

const key = (f: { kind: string; access: string; size: number; eip: number; address: number; function: string | null }) => ({
  kind: f.kind, access: f.access, size: f.size, eip: f.eip, address: f.address, function: f.function,
});

describe.skipIf(!hasGcc)('inline checker vs kmemcheck on examples/kmemcheck', () => {
  for (const name of examples) {
    it(`${name}: same findings under both checkers`, () => {
      const obj = object(name);
      const runtime = runtimeObject();
      const fault = runModuleWithKmemcheck(obj, { name: `${name}.c`, runtime });
      const inl = runModuleWithInlineChecker(obj, { name: `${name}.c`, runtime });
      const off = runModuleWithInlineChecker(obj, { name: `${name}.c`, runtime, inline: false });
      expect(fault.error).toBeNull();
      expect(inl.error).toBeNull();
      expect(inl.findings.map(key)).toEqual(fault.findings.map(key));
      expect(inl.findings.every((f) => f.checker === 'inline')).toBe(true);
      expect(inl.summary.lost).toBe(fault.summary.lost);
      expect(inl.summary.instructions).toBeGreaterThan(0);
      for (const r of [inl.run!, fault.run!]) {
        expect(r.console).toBe(off.run!.console);
        expect(r.initReturn).toBe(off.run!.initReturn);
        expect(r.exitCode).toBe(off.run!.exitCode);
        expect(r.stop?.kind ?? null).toBe(off.run!.stop?.kind ?? null);
      }
      // The CPU's own run loop is back after the run.
      expect(Object.prototype.hasOwnProperty.call(inl.run!.kernel.cpu, 'run')).toBe(false);
    });
  }
});

describe.skipIf(!hasGcc)('inline checker vs kmemcheck with engine options', () => {
  const variants = [{ partialOk: false }, { oneShot: true }, { checkReadModifyWrite: true }, { queueSize: 1 }];
  for (const opts of variants) {
    it(`${JSON.stringify(opts)}: same findings and lost count on every example`, () => {
      const runtime = runtimeObject();
      for (const name of examples) {
        const obj = object(name);
        const fault = runModuleWithKmemcheck(obj, { name: `${name}.c`, runtime, kmemcheck: opts });
        const inl = runModuleWithInlineChecker(obj, { name: `${name}.c`, runtime, inline: opts });
        expect(inl.findings.map(key), name).toEqual(fault.findings.map(key));
        expect(inl.summary.lost, name).toBe(fault.summary.lost);
        expect(inl.run!.console, name).toBe(fault.run!.console);
      }
    });
  }
});

describe('InlineChecker', () => {
  it('attaches and detaches without leaving traces on the CPU', () => {
    const k = new Kernel();
    const c = InlineChecker.attach(k);
    expect(c.attached).toBe(true);
    expect(k.cpu.repChunk).toBe(1);
    c.detach();
    expect(c.attached).toBe(false);
    expect(k.cpu.repChunk).toBe(REP_CHUNK);
    expect(Object.prototype.hasOwnProperty.call(k.cpu, 'run')).toBe(false);
  });

  it('tracks the shadow without hiding pages', () => {
    const k = new Kernel();
    const c = new InlineChecker(k);
    c.track(0xc0100000 | 0, 16);
    expect(c.shadow.get(0xc0100000 | 0)).toBe(1);
    expect(c.shadow.get(0xc0100010 | 0)).toBe(2);
    c.markFreed(0xc0100000 | 0, 4);
    expect(c.shadow.get(0xc0100003 | 0)).toBe(3);
    c.untrack(0xc0100000 | 0, 1);
    expect(c.shadow.trackedPages).toBe(0);
  });
});
