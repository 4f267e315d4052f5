/**
 * `kmemsim compare` on what is not a directory of .c modules: a
 * relocatable object is compared as it is (and the table says ftrace had
 * no __fentry__ sites to trace), anything else is refused with one line
 * and status 126; runs that oops or exhaust the instruction budget are
 * marked in the table's `stopped` column (a looping module does not look
 * clean), with the legend, and in the aggregate's count.
 */
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileModule } from '../../src/cli/compile.js';
import type { CompareReport } from '../../src/report/compare-output.js';
import { builtCliState, cli, hasGcc, MODULES, ROOT } from '../module/helpers.js';

const skip = builtCliState([
  'src/cli/main.ts', 'src/cli/compare-command.ts', 'src/cli/module-input.ts', 'src/harness/compare.ts', 'src/report/compare-output.ts',
]);
if (skip && hasGcc) console.log(`test/cli/compare-inputs.test.ts: skipped: ${skip}`);

/** Column `name` of the row of `strategy` in a text table (header line first). */
function cell(table: string, strategy: string, name: string): string {
  const lines = table.split('\n');
  const header = lines.find((l) => l.startsWith('strategy '))!;
  // Columns are right-aligned under their names (the first left-aligned): split both on runs of 2+ spaces.
  const names = header.split(/ {2,}/);
  const row = lines.find((l) => l.split(/ +/)[0] === strategy)!;
  return row.split(/ +/)[names.indexOf(name)]!;
}

describe.skipIf(skip !== null)('kmemsim compare: inputs', () => {
  it('refuses a text file, a FIFO, a device and an executable with one line, status 126, reading none of them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-compare-in-'));
    try {
      const text = join(dir, 'text.txt');
      writeFileSync(text, 'not a module\n');
      const fifo = join(dir, 'pipe.o');
      spawnSync('mkfifo', [fifo]);
      for (const [file, why] of [
        [fifo, /not a regular file/],
        [text, /neither C source \(\.c\) nor a relocatable ELF object/],
        ['/dev/zero', /not a regular file/],
        [join(ROOT, 'build/examples/hello-O2'), /an ELF file but not a relocatable object/],
      ] as const) {
        const r = cli(['compare', file]);
        expect(r.status, file).toBe(126);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(why);
        expect(r.stderr.trimEnd().split('\n')).toEqual([`kmemsim: cannot compare ${file}: ${r.stderr.split(': ').slice(2).join(': ').trimEnd()}`]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('compares a prebuilt .o (any name, by its ELF type): every strategy runs, the table says ftrace traced nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-compare-in-'));
    try {
      const obj = join(dir, 'uninit-local.ko');
      writeFileSync(obj, compileModule(join(ROOT, 'examples/stack/uninit-local.c')).object);
      const r = cli(['compare', obj]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(`${obj}\nstrategy `);
      expect(r.stdout).toContain('ftrace: the object has no __fentry__ call sites (not built with -pg -mfentry): ftrace traced nothing');
      // The stack strategies that need no compiler help still find the uninitialized read.
      expect(cell(r.stdout, 'cpl1', 'findings')).toBe('1');
      expect(cell(r.stdout, 'precise', 'findings')).toBe('1');
      expect(cell(r.stdout, 'ftrace', 'findings')).toBe('0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('marks runs that ran out of budget (a loop) or oopsed, per program and in the aggregate', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-compare-in-'));
    try {
      copyFileSync(join(MODULES, 'loop.c'), join(dir, 'loop.c'));
      copyFileSync(join(MODULES, 'oops.c'), join(dir, 'oops.c'));
      copyFileSync(join(MODULES, 'hello.c'), join(dir, 'hello.c'));
      const t = cli(['compare', dir, '--max-instructions', '100000']);
      expect(t.status, t.stderr).toBe(0);
      const [loop, oops, hello, aggregate] = ['loop.c', 'oops.c', 'hello.c', 'aggregate (3 programs)'].map((n) => {
        const start = t.stdout.indexOf(n.startsWith('aggregate') ? n : join(dir, n));
        return t.stdout.slice(start, t.stdout.indexOf('\n\n', start));
      });
      for (const s of ['plain', 'kmemcheck', 'cpl1', 'ftrace', 'precise']) {
        expect(cell(loop!, s, 'stopped'), `loop ${s}`).toBe('budget');
        expect(cell(oops!, s, 'stopped'), `oops ${s}`).toBe('oops');
        expect(cell(hello!, s, 'stopped'), `hello ${s}`).toBe('-');
        expect(cell(aggregate!, s, 'stopped'), `aggregate ${s}`).toBe('2');
      }
      expect(loop).toMatch(/\n {2}budget under plain, kmemcheck, cpl1, ftrace, precise: instruction budget exhausted after \d+ instructions/);
      expect(oops).toMatch(/\n {2}oops under plain, kmemcheck, cpl1, ftrace, precise: guest killed: Oops: BUG: unable to handle kernel NULL pointer dereference/);
      expect(t.stdout).toMatch(/\nstopped: the run did not finish.*\noops = a fault in module code.*budget = the instruction budget/);

      const j = cli(['compare', dir, '--max-instructions', '100000', '--json']);
      const report = JSON.parse(j.stdout) as CompareReport;
      const byName = Object.fromEntries(report.programs.map((p) => [p.program.slice(dir.length + 1), p]));
      expect(byName['loop.c']!.results.map((r) => r.stop?.kind)).toEqual(['budget', 'budget', 'budget', 'budget', 'budget']);
      expect(byName['oops.c']!.results.map((r) => r.stop?.kind)).toEqual(['fault', 'fault', 'fault', 'fault', 'fault']);
      expect(byName['hello.c']!.results.every((r) => r.stop === null)).toBe(true);
      expect(report.aggregate.map((a) => a.stopped)).toEqual([2, 2, 2, 2, 2]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a clean table has no stop legend', () => {
    const t = cli(['compare', join(MODULES, 'hello.c')]);
    expect(t.status).toBe(0);
    expect(t.stdout).not.toContain('stopped: the run did not finish');
  });
});
