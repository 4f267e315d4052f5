/**
 * `--stack ftrace` over a program and its modules (issue 11): Ingo Molnar's
 * frame poisoning in module code reached from a process's system call, from
 * a second process on its own kernel stack, and from a kernel thread; in
 * modules loaded later with busybox insmod; and no finding in clean runs —
 * the planted bug built out, and the SO2 tracer example (kprobes,
 * kretprobes, 32 kernel threads, processes).
 */
import { join } from 'node:path';
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { hasGcc, NO_GCC } from '../module/helpers.js';
import { kmemsim } from '../helpers/cli.js';
import { buildProgram, gccM32Missing, plantedLine, ROOT } from './harness.js';

const m32 = hasGcc ? gccM32Missing() : NO_GCC;
if (m32) console.warn(`test/linux/ftrace-system.test.ts: skipped: ${m32}`);
const MODULE = join(ROOT, 'test/linux/modules/task-stacks.c');
const BUSYBOX = join(ROOT, 'build/busybox-i386/bin/busybox');

const at = (name: string): string => `task-stacks\\.c:${plantedLine(MODULE, name)}`;
const WARNING = new RegExp(`^WARNING: ftrace: poisoned stack value 0xa5a5a5a5 passed as argument 2 \\(b\\), 4 bytes in EDX, to account\\+0x0/0x[0-9a-f]+ \\[\\S*${at('account')}\\]$`, 'gm');
/** sample_sum() tail-calls account(): its entry is the frame above (a sibling call), then its caller. */
const FROM_IOCTL = new RegExp(`to account\\S* \\[\\S*${at('account')}\\]\\n \\[<[0-9a-f]{8}>\\] sample_sum\\+0x[0-9a-f]+/0x[0-9a-f]+ \\[\\S*task-stacks\\.c:\\d+\\]\\n \\[<[0-9a-f]{8}>\\] ts_ioctl\\+0x[0-9a-f]+/0x[0-9a-f]+ \\[\\S*${at('ts_ioctl')}\\]\\n \\[<[0-9a-f]{8}>\\] kmemsim_syscall_continue`, 'g');
const FROM_THREAD = new RegExp(`to account\\S* \\[\\S*${at('account')}\\]\\n \\[<[0-9a-f]{8}>\\] sample_sum\\+0x[0-9a-f]+/0x[0-9a-f]+ \\[\\S*task-stacks\\.c:\\d+\\]\\n \\[<[0-9a-f]{8}>\\] sum_thread\\+0x[0-9a-f]+/0x[0-9a-f]+ \\[\\S*${at('sum_thread')}\\]\\n \\[<[0-9a-f]{8}>\\] kthread_exit_trampoline`, 'g');

describe.skipIf(m32 !== null)('--stack ftrace with a program: every task that runs module code', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-ftrace-sys-'));
  const user = m32 ? '' : buildProgram('ftrace-user', dir);

  it('an uninitialized local passed on in an ioctl is found in the calling process, in a forked child (its own kernel stack) and in a kernel thread', async () => {
    const sum = await kmemsim(['run', '--stack', 'ftrace', '--module', MODULE, user, 'sum']);
    expect(sum.stdout).toBe('sum: ioctl 0\n');
    expect(sum.status).toBe(99);
    expect(sum.stderr.match(WARNING)?.length, sum.stderr).toBe(1);
    expect(sum.stderr.match(FROM_IOCTL)?.length, sum.stderr).toBe(1);
    expect(sum.stderr).toMatch(/^kmemsim: stack ftrace: 1 error reported \(\d+ traced calls\)$/m);

    const fork = await kmemsim(['run', '--stack', 'ftrace', '--module', MODULE, user, 'fork']);
    expect(fork.stdout).toBe('child: ioctl 0\nparent: ioctl 0\n');
    expect(fork.status).toBe(99);
    expect(fork.stderr.match(FROM_IOCTL)?.length, fork.stderr).toBe(2);

    const thread = await kmemsim(['run', '--stack', 'ftrace', '--module', MODULE, user, 'thread']);
    expect(thread.stdout).toBe('thread: ioctl 0\n');
    expect(thread.status).toBe(99);
    expect(thread.stderr.match(WARNING)?.length, thread.stderr).toBe(1);
    expect(thread.stderr.match(FROM_THREAD)?.length, thread.stderr).toBe(1);

    // --ftrace-poison applies; the ring-1 layout is a module run's.
    const other = await kmemsim(['run', '--stack', 'ftrace', '--ftrace-poison', '0x5b5b5b5b', '--module', MODULE, user, 'thread']);
    expect(other.stderr).toMatch(/^WARNING: ftrace: poisoned stack value 0x5b5b5b5b passed as argument 2 \(b\)/m);
    const ring1 = await kmemsim(['run', '--stack', 'ftrace', '--kernel-ring', '1', '--module', MODULE, user, 'sum']);
    expect(ring1.status).toBe(2);
    expect(ring1.stderr).toBe('kmemsim: --stack ftrace with a program runs the kernel at ring 0 (--kernel-ring 1 is for module runs)\n');
  });

  it('clean runs find nothing: the bug built out (-DCLEAN), and the tracer example (kprobes, kretprobes, 32 kernel threads)', async () => {
    for (const mode of ['sum', 'fork', 'thread']) {
      const r = await kmemsim(['run', '--stack', 'ftrace', '--cflags', '-DCLEAN', '--module', MODULE, user, mode]);
      expect(r.stderr, mode).toBe('');
      expect(r.status, mode).toBe(0);
    }
    const prog = join(dir, 'tracer-test');
    const cc = spawnSync('gcc', ['-m32', '-static', '-O2', `-I${ROOT}/examples/linux/tracer`, `${ROOT}/examples/linux/tracer/tracer-test.c`, '-o', prog], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
    const r = await kmemsim(['run', '--verbose', '--stack', 'ftrace', '--module', `${ROOT}/examples/linux/tracer/tracer.c`, '--module', `${ROOT}/examples/linux/tracer/helper.c`, prog]);
    expect(r.stdout).toBe('32 threads, 816 up/down pairs: 359 of 359 checks passed\n');
    expect(r.status).toBe(0);
    expect(r.stderr).not.toMatch(/WARNING/);
    // It did trace: the tracer's handlers and the helper's threads are module code.
    expect(Number(/stack ftrace: 0 errors reported \((\d+) traced calls\)/.exec(r.stderr)?.[1])).toBeGreaterThan(1000);
  });

  it.skipIf(!existsSync(BUSYBOX))('--root: modules busybox insmod loads later are traced too (and one built without -pg -mfentry is named)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kmemsim-ftrace-root-'));
    mkdirSync(join(root, 'bin'));
    copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
    for (const a of ['sh', 'insmod', 'rmmod']) symlinkSync('busybox', join(root, 'bin', a));
    copyFileSync(user, join(root, 'ftrace-user'));
    for (const [ko, flags] of [['plain.ko', []], ['traced.ko', ['--cflags', '-pg -mfentry']]] as const) {
      const b = await kmemsim(['cc', MODULE, ...flags, '-o', join(root, ko)]);
      expect(b.status, b.stderr).toBe(0);
    }
    const r = await kmemsim(['run', '--root', root, '--stack', 'ftrace', '--cflags', '-DCLEAN', '--module', join(ROOT, 'test/linux/modules/echo.c'), '/bin/sh', '--', '-c',
      'insmod /plain.ko; /ftrace-user thread; rmmod plain; insmod /traced.ko; /ftrace-user thread; rmmod traced']);
    expect(r.stdout).toBe('thread: ioctl 0\nthread: ioctl 0\n');
    expect(r.status).toBe(99);
    expect(r.stderr).toMatch(/^kmemsim: plain: no __fentry__ call sites: --stack ftrace traces nothing in it/m);
    // Only traced.ko's thread is checked; the report names its functions after rmmod.
    expect(r.stderr.match(WARNING)?.length, r.stderr).toBe(1);
    expect(r.stderr.match(FROM_THREAD)?.length, r.stderr).toBe(1);
  });
});
