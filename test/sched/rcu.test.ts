/**
 * Tiny RCU's callbacks (src/kernel/rcu.ts): call_rcu() and kfree_rcu()
 * run at the next context switch, in softirq context, or in rcu_barrier();
 * kmemcheck sees the element freed by the callback.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { compileModule } from '../../src/cli/compile.js';
import { runChecked } from '../../src/harness/checked-run.js';
import { build, run, ROOT } from '../kprobes/helpers.js';

const PATH = 'test/sched/modules/rcu.c';
const LINES = [
  'sum 280',
  'after removal: sum 140, freed 0, kept->value 30',
  'after a context switch: freed 2 (2 in softirq context)',
  'after rcu_barrier: freed 3, sum 70',
  'cleanup: freed 7',
];

describe('call_rcu() and rcu_barrier()', () => {
  it('callbacks run after a grace period: not before, at the next context switch (softirq context), all by rcu_barrier()', () => {
    const r = run(PATH);
    expect(r.diagnostics).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.lines).toEqual(LINES);
  });

  it('the same output and no finding under kmemcheck (fault-driven and inline), --stack precise and --stack cpl1', () => {
    for (const m of [{ heap: 'kmemcheck' as const, stack: null }, { heap: 'inline' as const, stack: null }, { heap: 'kmemcheck' as const, stack: 'precise' as const }, { heap: null, stack: 'cpl1' as const }]) {
      const r = runChecked(build(PATH), { ...m, name: 'rcu.c', maxInstructions: 50_000_000 });
      expect(r.error, JSON.stringify(m)).toBeNull();
      expect(r.run?.console.split('\n').filter((l) => l !== ''), JSON.stringify(m)).toEqual(LINES);
      expect(r.findings, JSON.stringify(m)).toEqual([]);
    }
  });

  it('under kmemcheck: no finding; a read of an element after its callback freed it is found', () => {
    const ok = runChecked(build(PATH), { heap: 'kmemcheck', stack: null, name: 'rcu.c', maxInstructions: 50_000_000 });
    expect(ok.error).toBeNull();
    expect(ok.run?.console.split('\n').filter((l) => l !== '')).toEqual(LINES);
    expect(ok.findings).toEqual([]);

    const uaf = compileModule(join(ROOT, PATH), { cflags: ['-DUSE_AFTER_FREE'] }).object;
    const bad = runChecked(uaf, { heap: 'kmemcheck', stack: null, name: 'rcu.c', maxInstructions: 50_000_000 });
    expect(bad.error).toBeNull();
    expect(bad.findings.length).toBe(1);
    const text = bad.reports.join('\n');
    expect(text).toMatch(/Caught 32-bit read from freed memory/);
    expect(text).toMatch(/EIP is at init_module\+0x[0-9a-f]+\/0x[0-9a-f]+ \[.*rcu\.c:\d+\]/);
    // Freed by the RCU callback, run in the switched-in kernel thread.
    expect(text).toMatch(/Freed \(instruction \d+\):\n.*rcu_process_callbacks/);
  });
});

describe('kernel threads under --stack ftrace', () => {
  it('each task has its own function-graph return stack (Linux\'s current->ret_stack): sleeping kernel threads and RCU callbacks run as in the plain run', async () => {
    const { kmemsim } = await import('../helpers/cli.js');
    for (const path of ['test/sched/modules/threads.c', PATH]) {
      const plain = await kmemsim(['run', path]);
      for (const flags of [['--stack', 'ftrace'], ['--kmemcheck', '--stack', 'ftrace']]) {
        const r = await kmemsim(['run', path, ...flags]);
        expect(r.stderr, `${path} ${flags.join(' ')}`).toBe('');
        expect(r.status, `${path} ${flags.join(' ')}`).toBe(0);
        expect(r.stdout, `${path} ${flags.join(' ')}`).toBe(plain.stdout);
      }
    }
  });
});
