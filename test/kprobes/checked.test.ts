/**
 * kprobes coexist with the checkers: the same modules, probed and checked
 * by kmemcheck and each stack strategy, print what the plain run prints;
 * an uninitialized read in a probe handler is found.
 */
import { describe, expect, it } from 'vitest';
import { runChecked } from '../../src/harness/checked-run.js';
import { build, run } from './helpers.js';

const MODES = [
  { heap: 'kmemcheck' as const, stack: null },
  { heap: 'kmemcheck' as const, stack: 'precise' as const },
  { heap: null, stack: 'cpl1' as const },
  { heap: 'kmemcheck' as const, stack: 'ftrace' as const },
];

describe('kprobes under the checkers', () => {
  for (const path of ['test/kprobes/modules/kprobe-basic.c', 'test/kprobes/modules/kprobe-recursion.c', 'test/kprobes/modules/tracer-core.c', 'test/sched/modules/threads.c']) {
    it(`${path.split('/').pop()}: the same output with every checker, and no findings`, () => {
      const plain = run(path);
      for (const m of MODES) {
        const r = runChecked(build(path), { ...m, name: path.split('/').pop(), maxInstructions: 200_000_000 });
        expect(r.error, JSON.stringify(m)).toBeNull();
        expect(r.run?.console, JSON.stringify(m)).toBe(plain.console);
        expect(r.findings, JSON.stringify(m)).toEqual([]);
      }
    });
  }

  it('finds an uninitialized heap read in a pre_handler', () => {
    const r = runChecked(build('test/kprobes/modules/handler-uninit.c'), { heap: 'kmemcheck', name: 'handler-uninit.c', maxInstructions: 50_000_000 });
    expect(r.error).toBeNull();
    expect(r.run?.console).toContain('hits 1');
    expect(r.findings.length).toBeGreaterThan(0);
    expect(r.reports.join('\n')).toMatch(/uninitialized/);
    expect(r.reports.join('\n')).toMatch(/leaky_pre/);
  });
});
