/**
 * The ring-1 layout with tasks in a module run (src/rings/ring1-tasks.ts):
 * a kernel thread runs at CPL 1 on its own kernel stack and the CPL-1
 * tracker follows the switch to it, so its uninitialized local is found —
 * while the insmod task's stack keeps its own liveness across the switch
 * (no false finding in init_module after it slept in wait_for_completion()
 * and kthread_stop()). The program runs are test/linux/cpl1-program.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { runChecked } from '../../src/harness/checked-run.js';
import { Cpl1StackTracker } from '../../src/rings/stack-tracker.js';
import { hasGcc, NO_GCC } from '../module/helpers.js';
import { build } from '../kprobes/helpers.js';

if (!hasGcc) console.log(`test/rings/ring1-tasks.test.ts: ${NO_GCC}`);
const MODULE = 'test/rings/modules/kthread-uninit.c';

describe.skipIf(!hasGcc)('--stack cpl1: kernel threads on their own CPL-1 stacks', () => {
  it("a kernel thread's uninitialized local is found in the thread's function, on the thread's stack", () => {
    const r = runChecked(build(MODULE), { stack: 'cpl1', name: 'kthread-uninit.c', maxInstructions: 50_000_000 });
    expect(r.error).toBeNull();
    expect(r.run?.console).toContain('kthread-uninit: measured');
    expect(r.findings).toHaveLength(1);
    const f = r.findings[0]!;
    expect(f).toMatchObject({ checker: 'cpl1', region: 'stack', kind: 'uninitialized' });
    expect(r.reports[0]).toMatch(/EIP is at span\S*\+0x[0-9a-f]+\/0x[0-9a-f]+ \[\S*kthread-uninit\.c:24\]/);
    expect(r.reports[0]).toMatch(/\] \? measure\+\S+ \[\S*kthread-uninit\.c:\d+\]\n.*thread_fn\+\S+ \[\S*kthread-uninit\.c:\d+\]\n.*kthread_exit_trampoline/);
    // Not on the insmod task's stack (the layout's): on the thread's own.
    const ring1 = r.checkers.ring1!;
    expect(f.address >= ring1.stackLow && f.address < ring1.stackHigh).toBe(false);
    expect((r.checkers.stack as Cpl1StackTracker).stats.stacks).toBe(2);
  });
});
