/**
 * `--stack cpl1` with a program (src/rings/ring1-tasks.ts): module code
 * reached from system calls runs at CPL 1 on the calling process's own
 * CPL-1 stack, kernel threads on theirs, every stack tracked; the
 * uninitialized local of an ioctl is found in the first process, in a
 * second one and in a kernel thread; tasks sleeping in module code at the
 * same time keep their stacks apart (no false finding); kprobes and
 * kretprobes work at ring 1 (the tracer example, its counts right), also
 * when busybox's insmod loads the modules from inside the guest.
 */
import { join } from 'node:path';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { hasGcc, NO_GCC } from '../module/helpers.js';
import { kmemsim } from '../helpers/cli.js';
import { buildProgram, gccM32Missing, plantedLine, ROOT } from './harness.js';

const m32 = hasGcc ? gccM32Missing() : NO_GCC;
if (m32) console.warn(`test/linux/cpl1-program.test.ts: skipped: ${m32}`);
const STATS = join(ROOT, 'test/linux/modules/uninit-ioctl.c');
const TASKS = join(ROOT, 'test/linux/modules/task-stacks.c');

describe.skipIf(m32 !== null)('--stack cpl1 over a program and its modules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-cpl1prog-'));
  const stats = m32 ? '' : buildProgram('stats-user', dir);
  const tasks = m32 ? '' : buildProgram('stack-tasks-user', dir);

  it('the uninitialized local of an ioctl (-DON_STACK), at its line, the ioctl and the system call below it; the module code ran at CPL 1', async () => {
    const json = join(dir, 'stats.json');
    const r = await kmemsim(['run', '--stack', 'cpl1', '--report-json', json, '--module', STATS, '--cflags', '-DON_STACK', stats]);
    expect(r.stdout).toBe('ioctl 0\n');
    expect(r.status).toBe(99);
    expect(r.stderr.match(/^WARNING: kmemcheck: /gm)?.length).toBe(1);
    expect(r.stderr).toMatch(/Caught 32-bit read from uninitialized stack memory/);
    // CS 0x89 and SS 0x91: the DPL-1 selectors; DS stays the process's __USER_DS.
    expect(r.stderr).toMatch(/^EIP: 0089:/m);
    expect(r.stderr).toMatch(/ DS: 007b ES: 007b .* SS: 0091/);
    expect(r.stderr).toMatch(/EIP is at stats_total\S*\+0x[0-9a-f]+\/0x[0-9a-f]+ \[\S*uninit-ioctl\.c:33\]/);
    expect(r.stderr).toMatch(/\] \? stats_ioctl\+0x[0-9a-f]+\/0x[0-9a-f]+ \[\S*uninit-ioctl\.c:\d+\]\n.*kmemsim_syscall_continue/);
    expect(r.stderr).toMatch(/kmemsim: stack cpl1: 1 error reported \(\d+ faults on hidden pages, \d+ single steps\)/);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.findings).toHaveLength(1);
    expect(doc.findings[0]).toMatchObject({ checker: 'cpl1', region: 'stack', kind: 'uninitialized' });
  });

  it('the same module with the record initialized (the heap variant) and kmemcheck on: clean', async () => {
    const r = await kmemsim(['run', '--stack', 'cpl1', '--module', STATS, stats]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ioctl 0\n');
    expect(r.status).toBe(0);
  });

  it('found in a second process (a forked child, its own CPL-1 stack) and in a kernel thread (on its own kernel stack)', async () => {
    const r = await kmemsim(['run', '--kmemcheck', '--stack', 'cpl1', '--module', TASKS, tasks, '--', 'uninit']);
    expect(r.stdout).toBe('child: ioctl 0\nkthread: ioctl 0\n');
    expect(r.status).toBe(99);
    const reports = r.stderr.split(/^(?=WARNING: kmemcheck: )/m).filter((s) => s.startsWith('WARNING'));
    expect(reports).toHaveLength(2);
    for (const rep of reports) expect(rep).toMatch(/Caught 32-bit read from uninitialized stack memory/);
    expect(reports[0]).toMatch(new RegExp(`EIP is at rec_sum\\S*\\+0x[0-9a-f]+/0x[0-9a-f]+ \\[\\S*task-stacks\\.c:${plantedLine(TASKS, 'rec_sum')}\\]`));
    expect(reports[0]).toMatch(/\] \? ts_ioctl\+\S+ \[\S*task-stacks\.c:\d+\]\n.*kmemsim_syscall_continue/);
    expect(reports[1]).toMatch(new RegExp(`EIP is at worker_sum\\S*\\+0x[0-9a-f]+/0x[0-9a-f]+ \\[\\S*task-stacks\\.c:${plantedLine(TASKS, 'worker_sum')}\\]`));
    expect(reports[1]).toMatch(/\] \? worker\+\S+ \[\S*task-stacks\.c:\d+\]\n.*kthread_exit_trampoline/);
    // Two stacks: the child's CPL-1 stack and the kernel thread's kernel stack (THREAD_SIZE blocks apart).
    const at = (rep: string): number => parseInt(/uninitialized stack memory \(([0-9a-f]+)\)/.exec(rep)![1]!, 16);
    expect(at(reports[0]!) >>> 13).not.toBe(at(reports[1]!) >>> 13);
    expect(r.stderr).toMatch(/kmemsim: kmemcheck \+ stack cpl1: 2 errors reported/);
  });

  it('two processes and a kernel thread sleeping in module code with a filled record on their stacks: no false finding', async () => {
    const r = await kmemsim(['run', '--stack', 'cpl1', '--module', TASKS, tasks, '--', 'sleep']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('child: ioctl 0, sum right\nparent: ioctl 0, sum right\nkthread: ioctl 0, sum right\n');
    expect(r.status).toBe(0);
  });

  it('--stack cpl1 --kernel-ring 0 stays the module-only demonstration: a usage error (2) with a program', async () => {
    const r = await kmemsim(['run', '--stack', 'cpl1', '--kernel-ring', '0', '--module', STATS, stats]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('kmemsim: --stack cpl1 --kernel-ring 0 (the double-fault demonstration) runs a module on its own, not a program\n');
  });
});

// The tracer example (seed 002): kretprobes on __kmalloc, kfree, schedule, up, down_interruptible, mutex_*, a
// kprobe handler per hit, 32 kernel threads: every handler runs at CPL 1 on the interrupted task's stack.
const tracerDir = mkdtempSync(join(tmpdir(), 'kmemsim-cpl1-tracer-'));
const tracerProg = join(tracerDir, 'tracer-test');
const cc = m32 ? null : spawnSync('gcc', ['-m32', '-static', '-O2', '-Iexamples/linux/tracer', 'examples/linux/tracer/tracer-test.c', '-o', tracerProg], { cwd: ROOT, encoding: 'utf8' });
const noTracer = m32 ?? (cc!.error || cc!.status !== 0 ? 'gcc -m32 -static cannot build examples/linux/tracer/tracer-test.c' : null);
const BUSYBOX = join(ROOT, 'build/busybox-i386/bin/busybox');
const noBusybox = existsSync(BUSYBOX) ? null : `${BUSYBOX} missing (scripts/fetch-busybox.sh): the insmod-through-sh case is skipped`;
if (noBusybox) console.warn(`test/linux/cpl1-program.test.ts: ${noBusybox}`);

describe.skipIf(noTracer !== null)('--stack cpl1: kprobes and kretprobes at ring 1 with a program (examples/linux/tracer)', () => {
  it('the course-style test passes every check, with no finding', async () => {
    const r = await kmemsim(['run', '--stack', 'cpl1', '--module', join(ROOT, 'examples/linux/tracer/tracer.c'), '--module', join(ROOT, 'examples/linux/tracer/helper.c'), tracerProg]);
    expect(r.stdout).toBe('32 threads, 816 up/down pairs: 359 of 359 checks passed\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(noBusybox !== null)('a kprobe pre_handler reading regs->dx (seed 003\'s page_order) and the bpftrace script: the plain run\'s output, under kmemcheck too', async () => {
    // page_order's kprobe first: it sees alloc.c's allocations (made by its init at CPL 1).
    const args = ['--kernel-param', 'page_owner=on', '--module', join(ROOT, 'examples/linux/page_owner/page_order.c'), '--module', join(ROOT, 'examples/linux/page_owner/alloc.c'),
      '--bpftrace', join(ROOT, 'examples/linux/page_owner/page_owner.bt'), BUSYBOX, '--', 'sh', '-c', 'cat /proc/page_order'];
    const plain = await kmemsim(['run', ...args]);
    const checked = await kmemsim(['run', '--kmemcheck', '--stack', 'cpl1', ...args]);
    expect(plain.status).toBe(0);
    expect(plain.stdout).toMatch(/^Order\tParticipation\n/);
    expect(plain.stdout).toMatch(/^1\t[1-9]\d*$/m); // the handler read order 1 from regs->dx
    expect(checked.stdout).toBe(plain.stdout);
    expect(checked.stderr.replace(/timestamp=\d+/g, '')).toBe(plain.stderr.replace(/timestamp=\d+/g, ''));
    expect(checked.status).toBe(0);
  });

  it.skipIf(noBusybox !== null)('with --root: the test insmods the modules through busybox sh (processes forked before the stacks were hidden see them hidden too)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kmemsim-cpl1-root-'));
    mkdirSync(join(root, 'bin'));
    copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
    for (const a of ['sh', 'insmod', 'rmmod']) symlinkSync('busybox', join(root, 'bin', a));
    copyFileSync(tracerProg, join(root, 'tracer-test'));
    for (const [src, ko] of [['tracer.c', 'tracer.ko'], ['helper.c', 'tracer_helper.ko']]) {
      const b = await kmemsim(['cc', join(ROOT, 'examples/linux/tracer', src!), '-o', join(root, ko!)]);
      expect(b.status, b.stderr).toBe(0);
    }
    // A checker with a program checks --module modules: the task-stacks module is preloaded, the tracer's come by insmod.
    const r = await kmemsim(['run', '--root', root, '--stack', 'cpl1', '--module', TASKS, '/tracer-test', '--', '--insmod', '/']);
    expect(r.stdout).toBe('32 threads, 816 up/down pairs: 359 of 359 checks passed\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
