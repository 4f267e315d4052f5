/**
 * User processes and kernel threads as one task list (src/linux/process-tasks.ts):
 * a process asleep in a module's read lets another process run to completion
 * and is woken by a third process's write; kernel threads wake a process
 * asleep in an ioctl (a wait queue, a semaphore); msleep in an ioctl; every
 * process exit goes through the guest-visible do_exit (a kprobe sees it);
 * signals end a sleep in module code (EINTR, SA_RESTART, death); busybox's
 * shell forks and waits around a sleeping reader; the same run gives the
 * same output every time.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { kmemsim, type CliResult } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'kmemsim-ptasks-'));
const prog = join(dir, 'rendezvous-user');
const cc = spawnSync('gcc', ['-m32', '-static', '-O2', 'test/linux/programs/rendezvous-user.c', '-o', prog], { encoding: 'utf8' });
const skip = cc.error || cc.status !== 0 ? 'gcc -m32 -static does not work here (gcc-multilib missing?): the process-task tests are skipped' : null;
if (skip) console.log(`test/sched/processes.test.ts: skipped: ${skip}`);
const BUSYBOX = 'build/busybox-i386/bin/busybox';
/** Built once with `kmemsim cc` (beforeAll): every run loads the same .ko. */
const MODULE = join(dir, 'rendezvous.ko');

const run = (args: string[]): Promise<CliResult> => kmemsim(['run', ...args]);

describe.skipIf(skip !== null)('processes and kernel threads are one task list', () => {
  beforeAll(async () => {
    const r = await main(['cc', 'test/sched/modules/rendezvous.c', '-o', MODULE], { stdout: () => {}, stderr: (b) => void process.stderr.write(b), stdin: () => new Uint8Array(0) });
    expect(r).toBe(0);
  });

  it('a reader asleep in a module read does not hold the CPU; a write wakes it; kernel threads wake ioctls; signals interrupt; do_exit sees every exit', async () => {
    const r = await run(['--module', MODULE, prog]);
    expect(r.status).toBe(0);
    // The reader (2) sleeps in read(); the worker (3) runs to completion meanwhile; the parent's write wakes the reader.
    // The spinner runs while the parent sleeps in ioctl 1, until the kernel thread (5) wakes it.
    expect(r.stdout).toBe([
      'reader 2: reading',
      'worker 3: spun 500000',
      'parent: worker exited with 4',
      'reader 2: read hello',
      'parent: reader exited with 3',
      'spinner 4: spun 100000',
      'parent: ioctl 1 woken by kernel thread 5',
      'parent: spinner exited with 5',
      'parent: ioctl 2 (semaphore) upped by kernel thread 6',
      'parent: ioctl 3 (msleep) returned 0',
      // Signals end a sleep in module code: wait_event_interruptible() gives -ERESTARTSYS, which is EINTR after a
      // handler without SA_RESTART, a restarted read after one with it, and nothing when the default action kills.
      'reader 7: read returned -1: Interrupted system call, handler 10, data ',
      'parent: reader without SA_RESTART exited with 6',
      'reader 8: read returned 5, handler 10, data again',
      'parent: reader with SA_RESTART exited with 7',
      'parent: reader killed by SIGTERM: 143',
      // down_interruptible() ended by a signal: -EINTR, not restarted even with SA_RESTART.
      'ioctl 4 waiter 10: ioctl returned -1: Interrupted system call, handler 10',
      'parent: semaphore waiter exited with 9',
      // msleep_interruptible(10000) ended within its first jiffy: 1001 jiffies left, as Linux's msecs_to_jiffies() + 1.
      'ioctl 6 waiter 11: ioctl returned 10010, handler 10',
      'parent: msleep_interruptible waiter exited with 10',
      'ioctl 7 waiter 12: ioctl returned -1: Interrupted system call, handler 10',
      'parent: completion waiter exited with 11',
      "parent: ioctl 5 returned 0, byte '-'", // a kernel thread's copy_to_user() does not reach the process
      '',
    ].join('\n'));
    expect(r.stderr).toBe([
      'read: rendezvous-user/2 sleeps',
      'do_exit: process rendezvous-user/3 code 0x400',
      'write: rendezvous-user/1 wakes the readers',
      'read: rendezvous-user/2 woke with 5 bytes',
      'do_exit: process rendezvous-user/2 code 0x300',
      'ioctl: rendezvous-user/1 waits for waker/5',
      'do_exit: process rendezvous-user/4 code 0x500',
      'waker: waker/5 wakes the waiters',
      'do_exit: kthread waker/5 code 0x0',
      'upper: upper/6 ups the semaphore',
      'do_exit: kthread upper/6 code 0x0',
      'read: rendezvous-user/7 sleeps',
      'do_exit: process rendezvous-user/7 code 0x600',
      'read: rendezvous-user/8 sleeps',
      'read: rendezvous-user/8 sleeps', // the restarted read
      'write: rendezvous-user/1 wakes the readers',
      'read: rendezvous-user/8 woke with 5 bytes',
      'do_exit: process rendezvous-user/8 code 0x700',
      'read: rendezvous-user/9 sleeps',
      'do_exit: process rendezvous-user/9 code 0xf', // SIGTERM
      'do_exit: process rendezvous-user/10 code 0x900',
      'do_exit: process rendezvous-user/11 code 0xa00',
      'do_exit: process rendezvous-user/12 code 0xb00',
      'poker: copy_to_user from a kernel thread left 1',
      'do_exit: kthread poker/13 code 0x0',
      '',
    ].join('\n'));
    // Deterministic: the same interleaving again.
    const again = await run(['--module', MODULE, prog]);
    expect(again).toEqual(r);
    // kmemcheck over the whole system (processes asleep on their own kernel stacks, kernel threads): the same
    // run, nothing to report.
    const checked = await run(['--kmemcheck', '--module', MODULE, prog]);
    expect(checked).toEqual(r);
  });

  it('a reader that nothing can wake ends the run as a deadlock (125) with the blocked tasks named', async () => {
    const r = await run(['--module', MODULE, BUSYBOX, '--', 'cat', '/dev/rendezvous']);
    expect(r.status).toBe(125);
    expect(r.stderr).toContain('read: busybox/1 sleeps');
    expect(r.stderr).toContain('INFO: task busybox:1 blocked for ever: every task sleeps (busybox:1)');
    expect(r.stderr).toContain('deadlock: every task is blocked');
  });

  it.skipIf(!existsSync(BUSYBOX))('busybox sh: a background head sleeps in the module while the shell sleeps, then the shell\'s echo wakes it', async () => {
    const r = await run(['--module', MODULE, BUSYBOX, '--', 'sh', '-c', 'head -c 5 /dev/rendezvous & sleep 0.1; echo ping > /dev/rendezvous; wait; echo done']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('ping\ndone\n');
    expect(r.stderr).toBe([
      // comm as Linux has it: busybox's sh runs applets by execve("/proc/self/exe"), and the applet renames
      // itself from "exe" with prctl(PR_SET_NAME); the shell itself was exec'd as busybox.
      'read: head/2 sleeps',
      'do_exit: process sleep/3 code 0x0',
      'write: busybox/1 wakes the readers',
      'read: head/2 woke with 5 bytes',
      'do_exit: process head/2 code 0x0',
      '',
    ].join('\n'));
  });
});
