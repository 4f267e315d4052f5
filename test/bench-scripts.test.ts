/**
 * The benchmark scripts (bench/*.mjs) are not run by the suite (they take
 * minutes), so a syntax error or a missing export of bench/lib.mjs would
 * only show in `npm run bench`: every script must parse, and those with
 * --help must load their imports and print their usage.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BENCH = join(__dirname, '..', 'bench');
const scripts = readdirSync(BENCH).filter((f) => f.endsWith('.mjs'));

describe('bench scripts', () => {
  it('every bench/*.mjs parses', () => {
    expect(scripts.length).toBeGreaterThan(3);
    for (const f of scripts) {
      const r = spawnSync(process.execPath, ['--check', join(BENCH, f)], { encoding: 'utf8' });
      expect(r.status, `${f}: ${r.stderr}`).toBe(0);
    }
  });

  for (const f of ['run.mjs', 'checkers.mjs', 'busybox.mjs', 'ab.mjs']) {
    it(`${f} --help loads its imports and prints its usage`, () => {
      const r = spawnSync(process.execPath, [join(BENCH, f), '--help'], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^usage: node bench\//);
    });
  }

  it('ab.mjs compares two trees (here the same one) by alternated runs, and refuses one tree with status 2', () => {
    const root = join(__dirname, '..');
    const r = spawnSync(process.execPath, [join(BENCH, 'ab.mjs'), root, root, '--seconds=1', '--rounds=2'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout.split('\n').filter((l) => l.startsWith(root + ':'));
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).toMatch(/runs \d+ {2}min \d+\.\d{3} {2}p25 \d+\.\d{3} {2}median \d+\.\d{3} {2}tracked accesses per CPU s [\d,]+$/);
    const one = spawnSync(process.execPath, [join(BENCH, 'ab.mjs'), root], { encoding: 'utf8', timeout: 60_000 });
    expect(one.status).toBe(2);
    expect(one.stderr).toMatch(/give two trees/);
  }, 180_000);
});
