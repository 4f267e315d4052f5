import { describe, expect, it } from 'vitest';
import { runModule } from '../../src/kernel/module-run.js';
import { installKernelApi } from '../../src/kernel/kapi.js';
import { KERNEL1_CS } from '../../src/kernel/layout.js';
import { enterRing1 } from '../../src/rings/ring1.js';
import type { Cpl1StackTracker } from '../../src/rings/stack-tracker.js';
import { runChecked } from '../../src/harness/checked-run.js';
import type { Kmemcheck } from '../../src/shadow/kmemcheck.js';
import { compiled, hasGcc, NO_GCC, runtimeObject } from '../module/helpers.js';

if (!hasGcc) console.log(`test/rings/ring1.test.ts: ${NO_GCC}`);

describe.skipIf(!hasGcc)('ring-1 kernel running a real module', () => {
  const run = (ring1: boolean) => {
    let cs = -1;
    let layout: ReturnType<typeof enterRing1> | null = null;
    let api: ReturnType<typeof installKernelApi> | null = null;
    const r = runModule(compiled('kapi'), {
      runtime: runtimeObject(),
      exports: (k, io) => {
        if (ring1) layout = enterRing1(k);
        return (api = installKernelApi(k, { console: (t) => io.console(t) }));
      },
      onLoad: (k, m) => {
        cs = k.cpu.segSel[1];
        api!.symbolizers.push((a) => m.symbolize(a));
      },
    });
    return { r, cs, layout: layout as ReturnType<typeof enterRing1> | null };
  };

  it('kmalloc, kmem_cache_*, snprintf, printk, kfree called from CPL 1 behave exactly as from CPL 0', () => {
    const a = run(false), b = run(true);
    expect(b.cs).toBe(KERNEL1_CS);
    expect(b.r.exitCode).toBe(0);
    expect(b.r.stop).toBeNull();
    expect(b.r.console).toBe(a.r.console);
    expect(b.r.console).toMatch(/kapi: item-2\/10 from init_module\+0x0/);
    expect([b.r.initReturn, b.r.cleanupReturned]).toEqual([a.r.initReturn, a.r.cleanupReturned]);
    expect(b.r.instructions).toBe(a.r.instructions);
    expect(b.layout!.counters.total).toBe(0);
  });

  it('runChecked --stack cpl1: the same module, stack tracked, clean, with faults and steps counted', () => {
    const r = runChecked(compiled('kapi'), { runtime: runtimeObject(), stack: 'cpl1' });
    expect(r.error).toBeNull();
    expect(r.run!.exitCode).toBe(0);
    expect(r.findings).toEqual([]);
    expect(r.summary.faults).toBeGreaterThan(10);
    expect(r.summary.singleSteps).toBe(r.summary.faults - (r.checkers.stack as Cpl1StackTracker).hiding.stats.extraFaults);
    expect(r.run!.console).toBe(run(false).r.console);
    expect(r.explanation).toBeNull();
  });

  it('runChecked --stack cpl1 with kernelRing 0 stops with the triple fault and its explanation', () => {
    const r = runChecked(compiled('kapi'), { runtime: runtimeObject(), stack: 'cpl1', kernelRing: 0 });
    expect(r.run!.stop?.kind).toBe('triple-fault');
    expect(r.run!.exitCode).toBe(125);
    expect(r.explanation).toMatch(/#PF page fault → #DF double fault/);
  });

  it('combined with kmemcheck on the same page-hiding service: both clean, same console as a plain run', () => {
    const r = runChecked(compiled('kapi'), { runtime: runtimeObject(), heap: 'kmemcheck', stack: 'cpl1' });
    expect(r.error).toBeNull();
    expect(r.run!.exitCode).toBe(0);
    expect(r.findings.filter((f) => f.checker === 'kmemcheck')).toEqual([]);
    expect(r.findings.filter((f) => f.checker === 'cpl1')).toEqual([]);
    expect((r.checkers.heap as Kmemcheck).stats.faults).toBeGreaterThan(0);
    expect((r.checkers.stack as Cpl1StackTracker).stats.faults).toBeGreaterThan(0);
    expect(r.run!.console).toBe(run(false).r.console);
  });
});
