/**
 * `kmemsim compare` builds modules as users build them (issue 15 item 5):
 * several .c files are one module (compiled each with the module flags,
 * then the user's -I/-D/-O/--cflags, linked as kbuild does), a directory
 * with a Kbuild file or Makefile compares the modules it describes,
 * `--verbose` prints every gcc and ld command, and a flag gcc rejects is one
 * line and a usage error.
 */
import { describe, expect, it } from 'vitest';
import type { CompareReport } from '../../src/report/compare-output.js';
import { builtCliState, cli } from '../module/helpers.js';

const skip = builtCliState(['src/cli/main.ts', 'src/cli/compare-command.ts', 'src/cli/cc-command.ts']);
if (skip) console.log(`test/cli/compare-build.test.ts: skipped: ${skip}`);

const TWO = ['test/cli/two-file/main.c', 'test/cli/two-file/util.c'];

function findings(r: { stdout: string }, strategy: string): number {
  const report = JSON.parse(r.stdout) as CompareReport;
  return report.programs[0]!.results.find((x) => x.strategy === strategy)!.findings;
}

describe.skipIf(skip !== null)('kmemsim compare: building modules', () => {
  it('two .c files are one module; -I, -D, -O come after the module flags (--verbose shows gcc and ld)', () => {
    const r = cli(['compare', ...TWO, '-I', 'test/cli/two-file/inc', '-DBASE=7', '-O0', '--json', '--verbose']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as CompareReport;
    expect(report.programs.map((p) => p.program)).toEqual([`main.ko (${TWO.join(' ')})`]);
    // The helper in util.c reads the field main.c never wrote: kmemcheck and the oracle agree.
    expect(findings(r, 'kmemcheck')).toBe(1);
    expect(report.programs[0]!.results.find((x) => x.strategy === 'kmemcheck')!.truePositives).toBe(1);
    const gcc = r.stderr.split('\n').filter((l) => /^gcc /.test(l));
    expect(gcc.length).toBe(3); // main.c, util.c, the generated NAME.mod.c
    for (const line of gcc.slice(0, 2)) {
      expect(line).toMatch(/ -O2 .* -pg -mfentry -Itest\/cli\/two-file\/inc -DBASE=7 -O0 -fstack-usage /);
    }
    expect(r.stderr).toMatch(/^ld -m elf_i386 -r /m);
  });

  it('--cflags reach every file: -DFILL_ALL initializes the field, and nothing is found', () => {
    const r = cli(['compare', ...TWO, '--cflags', '-DFILL_ALL -Itest/cli/two-file/inc', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(findings(r, 'kmemcheck')).toBe(0);
    expect(findings(r, 'precise')).toBe(0);
  });

  it('a directory with a Makefile (obj-m, NAME-y, ccflags-y): its module, as kmemsim cc builds it', () => {
    const r = cli(['compare', 'test/linux/modules/kbuild', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as CompareReport;
    expect(report.programs.map((p) => p.program)).toEqual(['pair.ko (test/linux/modules/kbuild/pair-main.c test/linux/modules/kbuild/pair-util.c)']);
    expect(report.programs[0]!.results.every((x) => x.stop === null)).toBe(true);
  });

  it('a flag gcc rejects: one line, status 2; several inputs that are not all .c files: a usage error', () => {
    const r = cli(['compare', ...TWO, '--cflags', '-fno-such-flag']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^kmemsim: gcc rejects the compile flags \(-fno-such-flag\): gcc: error: unrecognized command-line option .-fno-such-flag./);
    const o = cli(['compare', TWO[0]!, 'build/examples/hello-O2']);
    expect(o.status).toBe(2);
    expect(o.stderr).toMatch(/several inputs are the C files of one module/);
  });
});
