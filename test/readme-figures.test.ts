/**
 * The README's generated tables (the `<!-- figures: kmemsim ... -->`
 * blocks that scripts/readme-figures.mjs writes) still say what the
 * commands print: each command runs again (without `--svg`, with one run:
 * counts do not depend on `--runs`), and its count columns — findings,
 * true, false, missed, recall, faults, single steps, instructions,
 * stopped — the programs, rows and notes must equal the README's. Wall
 * times and slowdowns are not compared. When this fails, run `node
 * scripts/readme-figures.mjs` and read the diff.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { countsOf, figureBlocks, selectOutput } from '../scripts/readme-figures.mjs';
import { builtCliState, hasGcc, ROOT } from './module/helpers.js';

const skip = builtCliState(['src/cli/main.ts', 'src/cli/compare-command.ts', 'src/harness/compare.ts', 'src/report/compare-output.ts']);
if (skip && hasGcc) console.log(`test/readme-figures.test.ts: skipped: ${skip}`);

const execFileAsync = promisify(execFile);
const blocks = figureBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));

describe.skipIf(skip !== null)('README figures', () => {
  it('the README has the compare examples/ aggregate and the bench/modules tables as generated blocks', () => {
    expect(blocks.map((b) => `${b.args.slice(0, 2).join(' ')} | ${b.selector}`)).toEqual(['compare examples/ | aggregate', 'compare bench/modules | tables']);
  });

  for (const b of blocks) {
    it(`kmemsim ${b.args.join(' ')}: the counts are what the command prints`, async () => {
      const args = b.args.filter((a, i, all) => a !== '--svg' && all[i - 1] !== '--svg' && a !== '--runs' && all[i - 1] !== '--runs');
      // Asynchronous, so that the test worker keeps answering vitest while compare runs.
      const { stdout } = await execFileAsync(process.execPath, [join(ROOT, 'bin/kmemsim.js'), ...args], { cwd: ROOT, timeout: 170_000, maxBuffer: 64 << 20 });
      const fresh = selectOutput(stdout, b.selector);
      expect(countsOf(b.text)).toEqual(countsOf(fresh));
      expect(countsOf(b.text).length).toBeGreaterThan(5);
    }, 180_000);
  }

  it('countsOf ignores wall times but not counts', () => {
    const t = 'aggregate (2 programs)\nstrategy   findings  true  false  missed  recall  faults  single-steps  instructions  wall ms  slowdown  stopped\nplain             0     -      -       -       -       0             0          4927    927.6      1.0x        1\n';
    expect(countsOf(t.replace('927.6', '12.5').replace('1.0x', '3.0x'))).toEqual(countsOf(t));
    expect(countsOf(t.replace('4927', '4928'))).not.toEqual(countsOf(t));
    expect(countsOf(t.replace('        1\n', '        -\n'))).not.toEqual(countsOf(t));
    expect(countsOf(t.replace('(2 programs)', '(3 programs)'))).not.toEqual(countsOf(t));
  });
});
