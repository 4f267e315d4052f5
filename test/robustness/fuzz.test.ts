/**
 * The standing robustness suite (issue 16): src/fuzz/self.ts's mutation
 * fuzzer with a fixed seed and a CI budget — mutated executables (run,
 * sometimes with checker flags, and disassembled), mutated module objects
 * (run with every checker combination, and disassembled), mutated Multiboot
 * kernels and random code (booted and run), mutated module sources through
 * `compare` — all through kmemsim's real command line in this process.
 * Every outcome must be a documented exit status, with a "kmemsim: ..."
 * message where kmemsim chose the status, without a JavaScript stack trace
 * or "internal error"; a sample is run twice and must not change; memory
 * stays bounded. `KMEMSIM_FUZZ_SELF_INPUTS=N` runs more inputs;
 * `npm run fuzz-self -- --time 600` runs for minutes and saves violations.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import {
  fuzzSelf, loadCorpora, standardClasses, violation, mutate, Rng, runCaptured, executableFromCode, randomCode, wallClockFree,
} from '../../src/fuzz/self.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const built = existsSync(join(ROOT, 'build/examples/hello-O2')) && existsSync(join(ROOT, 'build/kernels/hello.elf'));
const hasGcc = !spawnSync(process.env['CC'] || 'gcc', ['--version']).error;
if (!built) console.log('test/robustness/fuzz.test.ts: the example guests and kernels are not built (npm run build): the corpus classes are skipped, random code still runs');
if (!hasGcc) console.log('test/robustness/fuzz.test.ts: gcc not found: no module objects or compare inputs');

const INPUTS = Number(process.env['KMEMSIM_FUZZ_SELF_INPUTS'] ?? 240);
const SEED = 16;

function summary(counts: Record<string, { runs: number; statuses: Record<number, number> }>): string {
  return Object.entries(counts).map(([k, c]) => `${k} ${c.runs} (${Object.entries(c.statuses).map(([s, n]) => `${s}:${n}`).join(' ')})`).join('; ');
}

describe('the contract checker itself', () => {
  it('flags stack traces, internal errors, undocumented statuses and silent failures; passes documented outcomes', () => {
    expect(violation('program', { status: 0, stdout: 'hi', stderr: '' })).toBeNull();
    expect(violation('program', { status: 125, stdout: '', stderr: 'kmemsim: guest killed: SIGSEGV\n' })).toBeNull();
    expect(violation('boot', { status: 125, stdout: '', stderr: 'kmemsim: triple fault\n  at EIP 0x00100000: (not in memory)\n' })).toBeNull();
    expect(violation('module', { status: 3, stdout: '', stderr: '' })).toMatch(/undocumented exit status 3/);
    expect(violation('disasm', { status: 126, stdout: '', stderr: '' })).toMatch(/without a "kmemsim: \.\.\." message/);
    expect(violation('program', { status: 125, stdout: '', stderr: 'kmemsim: internal error: x is undefined\n' })).toMatch(/internal error/);
    expect(violation('module', { status: 126, stdout: '', stderr: 'kmemsim: oops\n    at loadModule (file:///a/b.js:12:5)\n' })).toMatch(/stack trace/);
    expect(violation('compare', { status: -1, stdout: '', stderr: 'UNCAUGHT Error' })).toMatch(/threw/);
  });

  it('compare\'s wall-clock columns are the only output masked for the determinism check', () => {
    const a = 'plain             0     -     39    121.7      1.0x\nprecise  1  39     52.5      1.6x\n';
    const b = 'plain             0     -     39     33.2      1.0x\nprecise  1  39    288.4      2.4x\n';
    expect(wallClockFree('compare', a)).toBe(wallClockFree('compare', b));
    expect(wallClockFree('compare', 'x 39 y')).not.toBe(wallClockFree('compare', 'x 40 y'));
    expect(wallClockFree('program', a)).toBe(a);
  });

  it('mutations and random code are reproducible from the seed', () => {
    const base = executableFromCode(Uint8Array.from([0x90, 0xc3]));
    const a = new Rng(7);
    const b = new Rng(7);
    for (let i = 0; i < 50; i++) {
      expect(mutate(base, a)).toEqual(mutate(base, b));
      expect(randomCode(a)).toEqual(randomCode(b));
    }
  });

  it('captures main()\'s stdout, stderr and status in-process', async () => {
    const o = await runCaptured(['run', '/nonexistent/kmemsim-no-such-file']);
    expect(o).toEqual({ status: 127, stdout: '', stderr: 'kmemsim: cannot read /nonexistent/kmemsim-no-such-file: no such file\n' });
  });
});

describe('mutation fuzzing through the command line (fixed seed, CI budget)', () => {
  it(`${INPUTS} inputs over executables, modules with every checker, kernels, random code: documented statuses, messages, deterministic, bounded`, async () => {
    const work = mkdtempSync(join(tmpdir(), 'kmemsim-fuzz-self-'));
    try {
      const corpora = built ? loadCorpora(ROOT, { maxExecutables: 12, maxModules: 5 }) : { executables: [], modules: [], kernels: [], sources: [] };
      const classes = standardClasses(corpora).filter((c) => c.command !== 'compare');
      const r = await fuzzSelf({ seed: SEED, classes, workDir: work, maxInputs: INPUTS, timeMs: 120_000, determinismEvery: 4, rssLimit: 3 * 1024 ** 3 });
      console.log(`fuzz-self (seed ${SEED}): ${summary(r.counts)}; peak RSS ${Math.round(r.maxRss / 2 ** 20)} MiB`);
      expect(r.violations.map((v) => `${v.cls}: ${v.reason} (kmemsim ${v.argv.join(' ')})`)).toEqual([]);
      const total = Object.values(r.counts).reduce((a, c) => a + c.runs, 0);
      expect(total).toBeGreaterThan(Math.min(INPUTS, 100));
      if (built) {
        // Every class ran, and the mutants reach more than the loader's refusal.
        for (const c of classes) expect(r.counts[c.name]?.runs ?? 0, c.name).toBeGreaterThan(0);
        expect(Object.keys(r.counts['executable/run']!.statuses).length).toBeGreaterThan(2);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 180_000);

  it.skipIf(!built || !hasGcc)('mutated module sources through compare', async () => {
    const work = mkdtempSync(join(tmpdir(), 'kmemsim-fuzz-self-'));
    try {
      const corpora = loadCorpora(ROOT, { maxExecutables: 0, maxModules: 3 });
      const classes = standardClasses({ ...corpora, executables: [], modules: [], kernels: [] }).filter((c) => c.command === 'compare');
      const r = await fuzzSelf({ seed: SEED, classes, workDir: work, maxInputs: 6, determinismEvery: 2 });
      expect(r.violations.map((v) => `${v.cls}: ${v.reason}`)).toEqual([]);
      expect(r.counts['source/compare']!.runs).toBe(6);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 120_000);
});
