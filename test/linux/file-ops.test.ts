/**
 * A module's file operations beyond open/read/write/ioctl (issue 11): a
 * static glibc program drives test/linux/modules/fifo.c through readv(2)
 * and writev(2) (the driver's read/write per vector), poll(2) and select(2)
 * sleeping on the driver's wait queue through poll_wait() until another
 * process writes, and mmap(2) of the driver's page (remap_pfn_range()).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, hasGcc, NO_GCC } from '../module/helpers.js';
import { gccM32Missing, ROOT } from './harness.js';

const m32 = hasGcc ? gccM32Missing() : NO_GCC;
if (m32) console.warn(`test/linux/file-ops.test.ts: skipped: ${m32}`);
const MODULE = join(ROOT, 'test/linux/modules/fifo.c');

function program(flags: string[]): string {
  const out = join(mkdtempSync(join(tmpdir(), 'kmemsim-fops-')), 'fifo-user');
  const r = spawnSync('gcc', ['-m32', '-static', '-O2', ...flags, '-o', out, join(ROOT, 'test/linux/programs/fifo-user.c')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc failed: ${r.stderr}`);
  return out;
}

const POLL_LINES = [
  'poll, timeout 0: 1, revents 0x4',
  'poll POLLIN, timeout 10 ms: 0, revents 0',
  'child: writev 5',
  'poll POLLIN, no timeout: 1, revents 0x1',
  'readv 5: "hel" "lo"',
  'child: writev 6',
  'select: 1, readable 1',
];

describe.skipIf(m32 !== null)('module files: readv/writev, poll/select with poll_wait, mmap', () => {
  it('readv/writev call read/write per vector; poll and select sleep on the driver\'s wait queue until a write wakes it', () => {
    const r = cli(['run', '--module', MODULE, '--cflags', '-DNO_MMAP', program(['-DNO_MMAP'])]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l !== '')).toEqual([...POLL_LINES, 'read 6: "select"']);
    // The same under kmemcheck: the driver's paths are checked, and clean.
    const k = cli(['run', '--kmemcheck', '--module', MODULE, '--cflags', '-DNO_MMAP', program(['-DNO_MMAP'])]);
    expect(k.stderr).toBe('');
    expect(k.stdout).toBe(r.stdout);
  });

  it('mmap calls the driver\'s mmap(): remap_pfn_range() maps its page, a store through the mapping is what the driver reads; a size it refuses is its error', () => {
    const user = program([]);
    const r = cli(['run', '--module', MODULE, user]);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l !== '')).toEqual([...POLL_LINES, 'mmap: "select"', 'read 6: "Select"']);
    expect(r.stderr).toBe('mmap 8192: Invalid argument\n');
    // Under the heap and the precise stack checkers: the same, and clean.
    const k = cli(['run', '--kmemcheck', '--stack', 'precise', '--module', MODULE, user]);
    expect(k.status).toBe(0);
    expect(k.stderr).toBe(r.stderr);
    expect(k.stdout).toBe(r.stdout);
    // Without a .mmap the file cannot be mapped (ENODEV), as in Linux.
    const n = cli(['run', '--module', MODULE, '--cflags', '-DNO_MMAP', user]);
    expect(n.status).toBe(1);
    expect(n.stderr).toBe('mmap: No such device\n');
  });
});
