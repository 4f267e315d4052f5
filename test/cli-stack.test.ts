/**
 * The built CLI's stack options and `kmemsim compare`: `run --stack MODE`
 * reports in kmemcheck's format ("stack memory"; ftrace's own lines) with
 * --report-json and --error-exitcode; `--stack cpl1 --kernel-ring 0`
 * stops with the double fault explained; usage errors; `compare` prints
 * the tables, --json the same data, --svg the chart.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { compileModule } from '../src/cli/compile.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtCliState, cli, hasGcc } from './module/helpers.js';
import type { JsonReport } from '../src/cli/check-command.js';
import type { CompareReport } from '../src/report/compare-output.js';

const skip = builtCliState([
  'src/cli/main.ts', 'src/cli/check-command.ts', 'src/cli/compare-command.ts', 'src/harness/checked-run.ts',
  'src/harness/compare.ts', 'src/harness/score.ts', 'src/report/compare-output.ts', 'src/rings/stack-tracker.ts',
  'src/rings/ring1.ts', 'src/ftrace/poison.ts', 'src/ftrace/ftrace.ts', 'src/shadow/stack-precise.ts', 'src/shadow/inline.ts',
]);
if (skip && hasGcc) console.log(`test/cli-stack.test.ts: skipped: ${skip}`);

describe.skipIf(skip !== null)('kmemsim run --stack', () => {
  it('each mode reports the uninitialized read of examples/stack/uninit-arg.c, exit 99, JSON findings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-stack-cli-'));
    try {
      for (const mode of ['cpl1', 'ftrace', 'precise']) {
        const out = join(dir, `${mode}.json`);
        const r = cli(['run', 'examples/stack/uninit-arg.c', '--stack', mode, '--report-json', out]);
        expect(r.status, mode).toBe(99);
        expect(r.stdout).toBe('uninit-arg: 0\n');
        const j = JSON.parse(readFileSync(out, 'utf8')) as JsonReport;
        expect(j.findings).toHaveLength(1);
        expect(j.findings[0]).toMatchObject({ region: 'stack', checker: mode });
        if (mode === 'ftrace') {
          expect(r.stderr).toMatch(/WARNING: ftrace: poisoned stack value 0xa5a5a5a5 passed as argument 2 \(len\)/);
          expect(j.findings[0]).toMatchObject({ kind: 'poisoned', function: 'checksum' });
          expect(j.findings[0]!.stack[1]!.function).toBe('init_module');
        } else {
          expect(r.stderr).toMatch(/WARNING: kmemcheck: Caught 32-bit read from uninitialized stack memory \([0-9a-f]{8}\)/);
          expect(j.findings[0]).toMatchObject({ kind: 'uninitialized', function: 'init_module', line: 34 });
        }
        expect(r.stderr).toMatch(new RegExp(`kmemsim: stack ${mode}: 1 error reported`));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a clean program exits 0 in every mode, also combined with --kmemcheck', () => {
    for (const mode of ['cpl1', 'ftrace', 'precise']) {
      const r = cli(['run', 'examples/stack/deep-clean.c', '--stack', mode, '--kmemcheck']);
      expect(r.stderr, mode).toBe('');
      expect(r.stdout).toBe('deep-clean: 12294\n');
      expect(r.status).toBe(0);
    }
  });

  it('--stack ftrace on an object built without -pg -mfentry says it traces nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-stack-cli-'));
    try {
      const o = join(dir, 'plain.o');
      writeFileSync(o, compileModule('examples/stack/uninit-arg.c').object);
      const r = cli(['run', o, '--stack', 'ftrace']);
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(/plain\.o: no __fentry__ call sites: --stack ftrace traces nothing \(compile the module with -pg -mfentry/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--stack cpl1 --kernel-ring 0: the double fault, explained, exit 125', () => {
    const r = cli(['run', 'examples/stack/uninit-local.c', '--stack', 'cpl1', '--kernel-ring', '0']);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/triple fault: #PF page fault → #DF double fault/);
    expect(r.stderr).toMatch(/no privilege change, so no stack switch/);
    expect(r.stderr).toMatch(/Use --kernel-ring 1/);
  });

  it('--ftrace-poison changes the pattern; usage errors are status 2', () => {
    const r = cli(['run', 'examples/stack/uninit-arg.c', '--stack', 'ftrace', '--ftrace-poison', '0x5a5a5a5a']);
    expect(r.stderr).toMatch(/poisoned stack value 0x5a5a5a5a/);
    expect(cli(['run', 'examples/stack/uninit-arg.c', '--stack', 'ftrace', '--ftrace-poison', 'xyz']).status).toBe(2);
    expect(cli(['run', 'examples/stack/uninit-arg.c', '--ftrace-poison', '0x1']).status).toBe(2);
    expect(cli(['run', 'examples/stack/uninit-arg.c', '--kernel-ring', '1']).status).toBe(2);
    const bad = cli(['run', 'examples/stack/uninit-arg.c', '--stack', 'shadow']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/Choices: "cpl1", "ftrace", "precise"/);
  });
});

describe.skipIf(skip !== null)('kmemsim compare', () => {
  it('prints a table per program and the aggregate, --json the same data, --svg a chart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-compare-'));
    try {
      const t = cli(['compare', 'examples/stack']);
      expect(t.status).toBe(0);
      expect(t.stdout).toMatch(/^examples\/stack\/conditional-init\.c\nstrategy +findings +true +false +missed +recall +faults +single-steps +instructions +wall ms +slowdown +stopped\n/);
      expect(t.stdout).toMatch(/\naggregate \(6 programs\)\n/);
      const svg = join(dir, 'chart.svg');
      const j = cli(['compare', 'examples/stack', '--json', '--svg', svg]);
      expect(j.status).toBe(0);
      const report = JSON.parse(j.stdout) as CompareReport;
      expect(report.programs).toHaveLength(6);
      const agg = Object.fromEntries(report.aggregate.map((a) => [a.strategy, a]));
      // On these examples cpl1 finds exactly what the oracle finds; ftrace misses the value never passed to a function.
      expect(agg['cpl1']).toMatchObject({ findings: 5, truePositives: 5, falsePositives: 0, falseNegatives: 0, recall: 1 });
      expect(agg['ftrace']).toMatchObject({ falsePositives: 0, falseNegatives: 1, recall: 0.8 });
      expect(agg['cpl1']!.faults).toBeGreaterThan(0);
      expect(agg['cpl1']!.singleSteps).toBe(agg['cpl1']!.faults);
      const chart = readFileSync(svg, 'utf8');
      expect(chart).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      expect(chart).toMatch(/cpl1 \(\d+\.\dx, 100%\)/);
      expect(chart).toMatch(/ftrace \(\d+\.\dx, 80%\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing path is status 127', () => {
    expect(cli(['compare', 'no/such/dir']).status).toBe(127);
  });
});
