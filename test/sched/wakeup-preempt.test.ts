/**
 * Wake-up preemption (src/kernel/sched/scheduler.ts, Scheduler.wake()):
 * CFS's check_preempt_wakeup on a non-preemptible kernel. A process that
 * wakes a task which slept while it ran gets TIF_NEED_RESCHED, and the woken
 * task runs at the waker's next preemption point — here its return to user
 * mode from write(2) — before the waker prints anything more; a task that is
 * not far enough behind in vruntime (a child just forked, placed a slice
 * ahead) does not preempt, and the waker goes on until its tick or a sleep.
 * Between kernel threads (a module run) the preemption point is cond_resched().
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kmemsim } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'kmemsim-wakeup-'));
const prog = join(dir, 'wakeup-user');
const cc = spawnSync('gcc', ['-m32', '-static', '-O2', 'test/linux/programs/wakeup-user.c', '-o', prog], { encoding: 'utf8' });
const skip = cc.error || cc.status !== 0 ? 'gcc -m32 -static does not work here (gcc-multilib missing?): the wake-up preemption test is skipped' : null;
if (skip) console.log(`test/sched/wakeup-preempt.test.ts: skipped: ${skip}`);
const MODULE = join(dir, 'rendezvous.ko');

describe.skipIf(skip !== null)('wake-up preemption', () => {
  beforeAll(async () => {
    const r = await kmemsim(['cc', 'test/sched/modules/rendezvous.c', '-o', MODULE]);
    expect(r.status, r.stderr).toBe(0);
  });

  it('the woken reader runs at the writer\'s return to user mode, before the writer goes on (the same every run)', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await kmemsim(['run', '--module', MODULE, prog, '100000']);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe('child: read 1 byte\nparent: wrote 1 byte\nparent: child exited\n');
      expect(r.stderr).toBe([
        'read: wakeup-user/2 sleeps',
        'write: wakeup-user/1 wakes the readers',
        'read: wakeup-user/2 woke with 1 bytes',
        'do_exit: process wakeup-user/2 code 0x0',
        '',
      ].join('\n'));
    }
  });

  it('between kernel threads: the sleeper runs at the waker\'s cond_resched()', async () => {
    const r = await kmemsim(['run', 'test/sched/modules/wakeup.c']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('sleeper: waits\nwaker: woke the sleeper\nsleeper: woke\nwaker: after cond_resched\n');
  });

  it('a woken task not far enough behind the waker in vruntime does not preempt it', async () => {
    // No spinning: the parent has run less since the fork than the child's start debit.
    const r = await kmemsim(['run', '--module', MODULE, prog, '0']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('parent: wrote 1 byte\nchild: read 1 byte\nparent: child exited\n');
  });
});
