/**
 * The scheduler under the Linux personality: a module's ioctl, running in
 * the calling process's system call, starts kernel threads and sleeps
 * until they are done; `current` is the calling process, the threads get
 * pids from the same allocator as processes, and a kretprobe sees both.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';

const dir = mkdtempSync(join(tmpdir(), 'kmemsim-sched-'));
const prog = join(dir, 'workers-user');
const cc = spawnSync('gcc', ['-m32', '-static', '-O2', 'test/linux/programs/workers-user.c', '-o', prog], { encoding: 'utf8' });
const skip = cc.error || cc.status !== 0 ? 'gcc -m32 -static does not work here (gcc-multilib missing?): the personality test is skipped' : null;
if (skip) console.log(`test/sched/personality.test.ts: skipped: ${skip}`);

describe.skipIf(skip !== null)('kernel threads from a system call', () => {
  it('an ioctl starts kernel threads and sleeps until they finish; current is the caller', async () => {
    let stdout = '', stderr = '';
    const status = await main(['run', '--module', 'test/sched/modules/workers-dev.c', prog], {
      stdout: (b) => void (stdout += Buffer.from(b).toString('latin1')),
      stderr: (b) => void (stderr += Buffer.from(b).toString('latin1')),
      stdin: () => new Uint8Array(0),
    });
    expect(status).toBe(0);
    // The program is pid 1; its four threads take pids 2 to 5.
    expect(stdout).toBe('pid 1\nioctl: sum of the threads\' pids 14\n');
    expect(stderr).toBe('ioctl by workers-user/1: 4 threads\ndown_interruptible: caller 1, threads 12\n');
  });
});
