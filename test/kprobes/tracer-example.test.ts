/**
 * The seed 002 system as an example (examples/linux/tracer/): tracer.ko
 * and its helper preloaded into the Linux personality, driven by the
 * course-style user test (a static glibc program): /dev/tracer 10:42,
 * 32 kernel threads, hundreds of up/down pairs, /proc/tracer read with
 * fscanf, removed and exited PIDs gone.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kmemsim } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'kmemsim-tracer-'));
const prog = join(dir, 'tracer-test');
const cc = spawnSync('gcc', ['-m32', '-static', '-O2', '-Iexamples/linux/tracer', 'examples/linux/tracer/tracer-test.c', '-o', prog], { encoding: 'utf8' });
const skip = cc.error || cc.status !== 0 ? 'gcc -m32 -static does not work here (gcc-multilib missing?): the tracer example test is skipped' : null;
if (skip) console.log(`test/kprobes/tracer-example.test.ts: skipped: ${skip}`);

describe.skipIf(skip !== null)('examples/linux/tracer', () => {
  it('the course-style test passes every check against tracer.ko', async () => {
    const r = await kmemsim(['run', '--module', 'examples/linux/tracer/tracer.c', '--module', 'examples/linux/tracer/helper.c', prog]);
    expect(r.stdout).toBe('32 threads, 816 up/down pairs: 359 of 359 checks passed\n');
    expect(r.status).toBe(0);
  });
});

const BUSYBOX = 'build/busybox-i386/bin/busybox';
const noBusybox = existsSync(BUSYBOX) ? null : `${BUSYBOX} missing (scripts/fetch-busybox.sh): the insmod-through-sh test is skipped`;
if (noBusybox) console.log(`test/kprobes/tracer-example.test.ts: skipped: ${noBusybox}`);

describe.skipIf(skip !== null || noBusybox !== null)('examples/linux/tracer, as the course runs it', () => {
  it('the test program loads the modules with system("insmod …") through busybox sh, and unloads them', async () => {
    // A root with busybox as /bin/sh, insmod and rmmod, the two .ko files built by kmemsim cc, and the test.
    const root = mkdtempSync(join(tmpdir(), 'kmemsim-tracer-root-'));
    mkdirSync(join(root, 'bin'));
    copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
    for (const a of ['sh', 'insmod', 'rmmod']) symlinkSync('busybox', join(root, 'bin', a));
    copyFileSync(prog, join(root, 'tracer-test'));
    for (const [src, ko] of [['tracer.c', 'tracer.ko'], ['helper.c', 'tracer_helper.ko']]) {
      const cc = await kmemsim(['cc', `examples/linux/tracer/${src}`, '-o', join(root, ko)]);
      expect(cc.status, cc.stderr).toBe(0);
    }
    const r = await kmemsim(['run', '--root', root, '/tracer-test', '--', '--insmod', '/']);
    expect(r.stdout).toBe('32 threads, 816 up/down pairs: 359 of 359 checks passed\n');
    expect(r.status).toBe(0);
  });
});
