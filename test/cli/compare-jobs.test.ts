/**
 * `kmemsim compare` on long work: `--jobs N` spreads the programs over
 * worker threads and prints the same report (programs in the same order,
 * the same findings and scores; only measured times differ), a line per
 * finished program goes to stderr, and on a terminal a status line is
 * redrawn in place (src/cli/status-line.ts).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { StatusLine } from '../../src/cli/status-line.js';
import { compareCommand } from '../../src/cli/compare-command.js';
import { builtCliState, cli, hasGcc, ROOT } from '../module/helpers.js';

const skip = builtCliState([
  'src/cli/main.ts', 'src/cli/compare-command.ts', 'src/cli/status-line.ts', 'src/harness/compare.ts', 'src/harness/compare-jobs.ts',
  'src/harness/compare-worker.ts', 'src/report/compare-output.ts', 'src/report/sarif.ts',
]);
if (skip && hasGcc) console.log(`test/cli/compare-jobs.test.ts: skipped: ${skip}`);

/** The report without what a clock measured. */
function untimed(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(untimed);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([k]) => !/wallMs|slowdown/i.test(k)).map(([k, x]) => [k, untimed(x)]));
  }
  return v;
}

describe.skipIf(skip !== null)('kmemsim compare --jobs', () => {
  it('gives the report of --jobs 1, programs in the same order, and a line per finished program', () => {
    const one = cli(['compare', 'examples/stack', '--json']);
    const two = cli(['compare', 'examples/stack', '--json', '--jobs', '2']);
    expect(one.status, one.stderr).toBe(0);
    expect(two.status, two.stderr).toBe(0);
    const a = JSON.parse(one.stdout), b = JSON.parse(two.stdout);
    expect(b.programs.map((p: { program: string }) => p.program)).toEqual(a.programs.map((p: { program: string }) => p.program));
    expect(untimed(b)).toEqual(untimed(a));
    const lines = two.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(a.programs.length);
    lines.forEach((l, i) => expect(l).toMatch(new RegExp(`^kmemsim compare: \\[${i + 1}/${a.programs.length}\\] examples/stack/\\S+\\.c done$`)));
    expect(new Set(lines.map((l) => l.split(' ')[3])).size).toBe(a.programs.length);
  });

  it('writes the same SARIF log with --jobs 2 as with --jobs 1 (findings in the programs\' order)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-jobs-'));
    try {
      const a = join(dir, 'a.sarif'), b = join(dir, 'b.sarif');
      expect(cli(['compare', 'examples/stack', '--json', '--report-sarif', a]).status).toBe(0);
      expect(cli(['compare', 'examples/stack', '--json', '--jobs', '2', '--report-sarif', b]).status).toBe(0);
      // The logs differ only in the command line each run records.
      const read = (f: string) => {
        const log = JSON.parse(readFileSync(f, 'utf8'));
        for (const run of log.runs) for (const inv of run.invocations ?? []) delete inv.commandLine;
        return log;
      };
      expect(read(b).runs.length).toBeGreaterThan(0);
      expect(read(b)).toEqual(read(a));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses --jobs 0 and --jobs x as usage errors', () => {
    for (const j of ['0', 'x']) {
      const r = cli(['compare', 'examples/stack', '--jobs', j]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/--jobs/);
    }
  });
});

describe.skipIf(!hasGcc)('compare progress on a terminal', () => {
  it('redraws a status line naming the program and strategy, and prints the done line above it', async () => {
    const raw: string[] = [];
    const lines: string[] = [];
    let out = '';
    const code = await compareCommand(join(ROOT, 'examples/stack/uninit-local.c'), {
      json: true, svg: undefined, runs: 1, maxInstructions: 1e8,
      out: (t) => (out += t), err: (l) => lines.push(l), errRaw: (t) => raw.push(t), errColumns: 200,
    });
    expect(code).toBe(0);
    expect(JSON.parse(out).programs).toHaveLength(1);
    expect(lines).toEqual([]); // on a terminal everything goes through the raw writes
    const text = raw.join('');
    expect(text).toMatch(/\rkmemsim compare: 0\/1 done; \S+uninit-local\.c: warm-up \(1\/\d+\)\x1b\[K/);
    expect(text).toContain('kmemsim compare: [1/1] ');
    expect(text.endsWith('uninit-local.c done\n')).toBe(true);
  });
});

describe('StatusLine', () => {
  const make = (tty: boolean, columns = 20) => {
    let t = 0;
    const w: string[] = [];
    const s = new StatusLine({ write: (x) => w.push(x), tty, columns, minIntervalMs: 100, now: () => t });
    return { s, w, tick: (ms: number) => (t += ms) };
  };

  it('on a terminal redraws in place at most every interval, cut to the width', () => {
    const { s, w, tick } = make(true);
    s.update('first');
    s.update('second'); // too soon: skipped
    tick(100);
    s.update('a status much longer than the terminal');
    expect(w).toEqual(['\rfirst\x1b[K', '\ra status much long…\x1b[K']);
  });

  it('prints permanent lines above the status and redraws the latest text', () => {
    const { s, w } = make(true);
    s.update('busy');
    s.update('busier'); // kept for the redraw
    s.line('done one');
    s.clear();
    expect(w).toEqual(['\rbusy\x1b[K', '\r\x1b[K', 'done one\n', '\rbusier\x1b[K', '\r\x1b[K']);
  });

  it('without a terminal writes only the permanent lines', () => {
    const { s, w } = make(false);
    s.update('busy');
    s.line('done one');
    s.clear();
    expect(w).toEqual(['done one\n']);
  });
});
