/**
 * A static glibc program (gcc -m32 -static) that formats and parses floating
 * point — printf %f/%e/%g/%a/%.20Lf, strtod, sqrt, sin, pow, exp, log,
 * atan2, long double sums — gives byte-identical output natively and in
 * kmemsim: glibc's stdio and libm on kmemsim's x87.
 *
 * Static glibc programs need the Linux personality (src/linux: TLS through
 * set_thread_area, the full auxv); without it the test skips, saying so.
 * It also skips where gcc -m32 -static or running i386 code is unavailable.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runUserProgram } from '../../src/kernel/process.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dir = mkdtempSync(join(tmpdir(), 'kmemsim-glibc-float-'));
const exe = join(dir, 'glibc-float');

function why(): string | null {
  if (!existsSync(join(ROOT, 'src/linux'))) return 'static glibc programs need the Linux personality (src/linux: set_thread_area, auxv), not on this branch';
  const cc = spawnSync('gcc', ['-m32', '-static', '-O2', '-o', exe, join(ROOT, 'test/fpu/programs/glibc-float.c'), '-lm'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) return `gcc -m32 -static does not work here (install gcc-multilib): ${cc.stderr ?? cc.error}`;
  const run = spawnSync(exe, [], { timeout: 30_000 });
  if (run.error || run.status !== 0) return `the host cannot run i386 programs: ${run.error ?? `status ${run.status}`}`;
  return null;
}
const skip = why();
if (skip) console.warn(`test/fpu/glibc-float.test.ts skipped: ${skip}`);

describe.skipIf(skip !== null)('static glibc floating point: native vs kmemsim', () => {
  it('printf/strtod/libm output is byte-identical', () => {
    const native = spawnSync(exe, [], { env: {}, timeout: 30_000 });
    const r = runUserProgram(new Uint8Array(readFileSync(exe)), { argv: [exe], env: [], maxInstructions: 2_000_000_000 });
    expect(r.stop).toMatchObject({ kind: 'exited', status: 0 });
    expect(Buffer.from(r.stdout).toString('latin1')).toBe(native.stdout.toString('latin1'));
    expect(native.stdout.toString()).toContain('0.33333333333333333334');
  });
});
