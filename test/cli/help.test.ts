/**
 * `kmemsim --help` and each command's help, piped (not a terminal): laid
 * out for 80 columns with whole words — no word cut in two at a line end,
 * no type tag run into the text before it (`tables[boolean]`) — and
 * `run --help` carries its exit statuses as `boot --help` does.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../module/helpers.js';

const BIN = join(ROOT, 'bin/kmemsim.js');
const built = existsSync(join(ROOT, 'dist/cli/main.js'));
if (!built) console.log('test/cli/help.test.ts: skipped: dist/ is not built (npm run build)');

function help(args: string[], columns?: number): string {
  const env = { ...process.env };
  delete env['COLUMNS'];
  if (columns !== undefined) env['COLUMNS'] = String(columns);
  const r = spawnSync(process.execPath, [BIN, ...args, '--help'], { cwd: ROOT, encoding: 'utf8', env, timeout: 30_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

const words = (text: string): Set<string> => new Set(text.split(/\s+/).filter(Boolean));

describe.skipIf(!built)('--help layout', () => {
  for (const cmd of [[], ['run'], ['boot'], ['compare'], ['disasm']]) {
    it(`kmemsim ${[...cmd, '--help'].join(' ')}: 80 columns, whole words`, () => {
      const narrow = help(cmd);
      const wide = words(help(cmd, 1000));
      for (const line of narrow.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
      // A word cut at a line end leaves two pieces that the unwrapped text does not have.
      const broken = [...words(narrow)].filter((w) => !wide.has(w));
      expect(broken).toEqual([]);
      expect(narrow).not.toMatch(/\S\[(boolean|string|number|array|required|default|choices)/);
    });
  }

  it('run --help gives the exit statuses of programs and of modules', () => {
    const t = help(['run']);
    expect(t).toMatch(/Exit status, a program:\n(.*\n)*? {2}124 +the instruction budget/);
    expect(t).toMatch(/Exit status, a kernel module .*:\n(.*\n)*? {2}1 +init_module returned a negative errno/);
    for (const s of ['125', '126', '127', '99', '2']) expect(t).toMatch(new RegExp(`\\n  ${s} +\\S`));
    expect(t).toMatch(/\n  128\+N died of signal N/);
  });

  it('--version is kmemsim\'s own, whatever the working directory', () => {
    const r = spawnSync(process.execPath, [BIN, '--version'], { cwd: tmpdir(), encoding: 'utf8' });
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('the width follows $COLUMNS when stdout is not a terminal', () => {
    const t = help(['run'], 120);
    expect(Math.max(...t.split('\n').map((l) => l.length))).toBeGreaterThan(80);
  });
});
