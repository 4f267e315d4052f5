/**
 * MARK lines from user space (issue 12): a static program writes to
 * trace_marker at Linux's two paths while `--mmiotrace` is on; each write
 * is a MARK line of the log, after the driver's lines; without the option
 * the writes still succeed. The service options need modules with a program.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kmemsim } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'kmemsim-marker-'));
const prog = join(dir, 'trace-marker');
const cc = spawnSync('gcc', ['-m32', '-static', '-O2', 'examples/mmio/trace-marker.c', '-o', prog], { encoding: 'utf8' });
const skip = cc.error || cc.status !== 0 ? 'gcc -m32 -static does not work here (gcc-multilib missing?): the trace_marker test is skipped' : null;
if (skip) console.log(`test/mmio/trace-marker.test.ts: skipped: ${skip}`);

describe.skipIf(skip !== null)('trace_marker with --mmiotrace', () => {
  it('each write is a MARK line after the driver\'s accesses', async () => {
    const log = join(dir, 'mmiotrace.txt');
    const r = await kmemsim(['run', '--module', 'examples/mmio/counter-driver.c', '--mmiotrace', log, prog]);
    expect(r.stdout).toBe('markers written: yes\n');
    expect(r.status).toBe(0);
    const lines = readFileSync(log, 'utf8').split('\n');
    expect(lines[0]).toBe('VERSION 20070824');
    expect(lines.filter((l) => l.startsWith('R ')).length).toBeGreaterThan(3);
    const marks = lines.filter((l) => l.startsWith('MARK '));
    // The driver's own marker (mmiotrace_printk), then the program's two.
    expect(marks.map((l) => l.replace(/^MARK \d+\.\d{6} /, ''))).toEqual(['counter: probed', 'user: through debugfs', 'user: through tracefs']);
    for (const m of marks) expect(m).toMatch(/^MARK \d+\.\d{6} /);
    // The markers come after the driver's UNMAP (its init ran before the program).
    expect(lines.findIndex((l) => l.startsWith('MARK') && l.includes('user:'))).toBeGreaterThan(lines.findIndex((l) => l.startsWith('UNMAP')));
    expect(lines.pop()).toBe('');
  });

  it('without --mmiotrace the writes succeed and go nowhere', async () => {
    const r = await kmemsim(['run', '--module', 'examples/mmio/counter-driver.c', prog]);
    expect(r.stdout).toBe('markers written: yes\n');
    expect(r.status).toBe(0);
  });

  it('--mmiotrace with a program needs modules', async () => {
    const r = await kmemsim(['run', '--mmiotrace', join(dir, 'x.txt'), prog]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--mmiotrace.* concern kernel modules; .* is a program \(load modules with --module\)/);
  });
});
