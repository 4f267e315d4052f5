/**
 * --stack precise over every task of a program run (issue 11): each
 * process and kernel thread has its own kernel stack, and the precise
 * checker follows the scheduler's switches (src/shadow/task-stacks.ts).
 * test/linux/modules/task-stacks.c plants the same uninitialized-local read
 * in an ioctl (rec_sum) and in a kernel thread (worker_sum); the program
 * (test/linux/programs/task-stacks-user.c) makes the calls from a forked
 * child, through a kernel thread, from a child that slept in the module
 * while another task ran, from a child reusing the freed stack of one
 * that exited, and from a child whose stack buffer a kernel thread fills.
 */
import { join } from 'node:path';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { hasGcc, NO_GCC } from '../module/helpers.js';
import { kmemsim } from '../helpers/cli.js';
import { buildProgram, findBusybox, gccM32Missing, plantedLine, ROOT } from './harness.js';
import { buildModule } from '../../src/cli/cc-command.js';
import { runProgramChecked } from '../../src/harness/linux-checked.js';
import { CheckInstrumentation } from '../../src/shadow/instrument.js';
import { PreciseStack } from '../../src/shadow/stack-precise.js';
import type { Kernel } from '../../src/kernel/kernel.js';

const m32 = hasGcc ? gccM32Missing() : NO_GCC;
if (m32) console.warn(`test/linux/task-stacks.test.ts: skipped: ${m32}`);
const MODULE = join(ROOT, 'test/linux/modules/task-stacks.c');
/** The planted reads' lines in task-stacks.c. */
const REC_SUM_LINE = plantedLine(MODULE, 'rec_sum'), WORKER_SUM_LINE = plantedLine(MODULE, 'worker_sum');

const warnings = (stderr: string): number => stderr.match(/^WARNING: kmemcheck: /gm)?.length ?? 0;

describe.skipIf(m32 !== null)('--stack precise tracks every task\'s kernel stack', () => {
  const user = m32 ? '' : buildProgram('task-stacks-user', mkdtempSync(join(tmpdir(), 'kmemsim-tstk-')));
  const run = (scenario: string) => kmemsim(['run', '--stack', 'precise', '--module', MODULE, user, scenario]);

  it('an ioctl made by a second (forked) process reads an uninitialized local: found, with its function and line', async () => {
    const r = await run('fork');
    expect(r.stdout).toBe('child: TS_UNINIT 0\nchild exited 0\n');
    expect(r.status).toBe(99);
    expect(warnings(r.stderr)).toBe(1);
    expect(r.stderr).toMatch(/Caught 32-bit read from uninitialized stack memory/);
    expect(r.stderr).toMatch(new RegExp(`EIP is at rec_sum\\S*\\+0x[0-9a-f]+/0x[0-9a-f]+ \\[\\S*task-stacks\\.c:${REC_SUM_LINE}\\]`));
    expect(r.stderr).toMatch(/\] \? ts_ioctl\+0x[0-9a-f]+\/0x[0-9a-f]+ \[\S*task-stacks\.c:\d+\]/);
  });

  it('a kernel thread (kthread_run) reads an uninitialized local on its own stack: found', async () => {
    const r = await run('kthread');
    expect(r.stdout).toBe('TS_KTHREAD 0\n');
    expect(r.status).toBe(99);
    expect(warnings(r.stderr)).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`EIP is at worker_sum\\+0x[0-9a-f]+/0x[0-9a-f]+ \\[\\S*task-stacks\\.c:${WORKER_SUM_LINE}\\]`));
    expect(r.stderr).toMatch(/\] \? worker\+0x[0-9a-f]+\/0x[0-9a-f]+ \[\S*task-stacks\.c:\d+\]/);
  });

  it('in a module run too (the module\'s init starts the kernel thread: -DKTHREAD_AT_INIT), at ring 0 and ring 1', async () => {
    for (const ring of ['0', '1']) {
      const r = await kmemsim(['run', '--stack', 'precise', '--kernel-ring', ring, MODULE, '--cflags', '-DKTHREAD_AT_INIT']);
      expect(r.status, ring).toBe(99);
      expect(warnings(r.stderr), ring).toBe(1);
      expect(r.stderr, ring).toMatch(new RegExp(`EIP is at worker_sum\\+0x[0-9a-f]+/0x[0-9a-f]+ \\[\\S*task-stacks\\.c:${WORKER_SUM_LINE}\\]`));
    }
  });

  it('a process that slept in module code while another task ran deep frames reads its own live locals: no finding there', async () => {
    const r = await run('sleep');
    // The sum of the sleeper's array (1..8) proves it read its own locals after waking.
    expect(r.stdout).toBe('waker: TS_WAKE 0\nsleeper: TS_SLEEP 0 sum 36\nsleeper: TS_UNINIT 0\nsleeper exited 0\n');
    // Only the planted read it makes afterwards (its stack is tracked), nothing in sum_live or ts_ioctl's TS_SLEEP.
    expect(r.status).toBe(99);
    expect(warnings(r.stderr)).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`EIP is at rec_sum\\S* .*task-stacks\\.c:${REC_SUM_LINE}\\]`));
    expect(r.stderr).not.toMatch(/EIP is at (sum_live|deep|ts_ioctl)/);
  });

  it('a kernel thread fills a buffer on a sleeping process\'s stack through a native (snprintf): the process reads it without a finding', async () => {
    const r = await run('remote');
    expect(r.stdout).toBe(`child: TS_REMOTE 0 sum ${[...'from worker'].reduce((s, c) => s + c.charCodeAt(0), 0)}\n`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('a process that reuses the kernel stack of one that exited starts with it all dead: its planted read is found', async () => {
    const r = await run('reuse');
    const stacks = [...r.stdout.matchAll(/^(first|second): stack (0x[0-9a-f]+)$/gm)].map((m) => m[2]);
    expect(stacks).toHaveLength(2);
    expect(stacks[1]).toBe(stacks[0]); // the page allocator gave the second child the first one's stack
    expect(r.stdout).toMatch(/^second: TS_UNINIT 0$/m);
    expect(r.status).toBe(99);
    expect(warnings(r.stderr)).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`EIP is at rec_sum\\S* .*task-stacks\\.c:${REC_SUM_LINE}\\]`));
  });

  it('--root DIR: busybox sh runs the program twice (sleep, then kthread), each in a grandchild process: both planted reads found, nothing else', async (ctx) => {
    const bb = findBusybox();
    if (!bb.path) {
      console.warn(`test/linux/task-stacks.test.ts: --root case skipped: ${bb.skip}`);
      ctx.skip();
      return;
    }
    const root = mkdtempSync(join(tmpdir(), 'kmemsim-tstk-root-'));
    mkdirSync(join(root, 'bin'));
    copyFileSync(bb.path, join(root, 'bin/busybox'));
    copyFileSync(user, join(root, 'bin/task-stacks-user'));
    const r = await kmemsim(['run', '--stack', 'precise', '--root', root, '--module', MODULE, '/bin/busybox', '--', 'sh', '-c', '/bin/task-stacks-user sleep; /bin/task-stacks-user kthread']);
    expect(r.stdout).toBe('waker: TS_WAKE 0\nsleeper: TS_SLEEP 0 sum 36\nsleeper: TS_UNINIT 0\nsleeper exited 0\nTS_KTHREAD 0\n');
    expect(r.status).toBe(99);
    expect(warnings(r.stderr)).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`EIP is at rec_sum\\S* .*task-stacks\\.c:${REC_SUM_LINE}\\]`));
    expect(r.stderr).toMatch(new RegExp(`EIP is at worker_sum\\S* .*task-stacks\\.c:${WORKER_SUM_LINE}\\]`));
  });

  it('each task\'s stack is begun at its first switch-in and forgotten (no longer tracked) when it is freed', () => {
    const bytes = buildModule({ name: 'task_stacks', sources: [MODULE], cflags: [] }).object;
    let kernel: Kernel | null = null;
    const freed: { low: number; tracked: boolean }[] = [];
    const out: string[] = [];
    const r = runProgramChecked(new Uint8Array(readFileSync(user)), {
      argv: [user, 'reuse'],
      modules: [{ name: 'task_stacks', bytes }],
      onStdout: (b) => void out.push(Buffer.from(b).toString('latin1')),
      kernelApi: {
        options: () => ({}),
        installed: (api) => {
          kernel = api.kernel;
          // After the checker's own hook (registered when the scheduler was created): the stack is forgotten by now.
          api.sched.onStackFreed.push((t) => {
            const st = CheckInstrumentation.of(api.kernel).clients.find((c) => c instanceof PreciseStack) as PreciseStack;
            freed.push({ low: t.stack.low, tracked: st.shadow.isTracked(t.stack.low) || st.shadow.isTracked(t.stack.high - 1) });
          });
        },
      },
    }, {}, { heap: null, stack: 'precise' });
    expect(r.run.exitCode).toBe(0);
    expect(r.findings).toHaveLength(1);
    const st = CheckInstrumentation.of(kernel!).clients.find((c) => c instanceof PreciseStack) as PreciseStack;
    // Two children, each switched in on a stack of its own (the same pages, one after the other), both freed.
    expect(st.tasks?.stats.begun).toBe(2);
    expect(st.tasks?.stats.forgotten).toBe(2);
    expect(freed).toHaveLength(2);
    expect(freed[1]!.low).toBe(freed[0]!.low);
    expect(freed.every((f) => !f.tracked)).toBe(true);
    expect(out.join('')).toMatch(/second: TS_UNINIT 0/);
  });
});
