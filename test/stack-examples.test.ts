/**
 * examples/stack/<name>.c under every stack strategy, through the function
 * `kmemsim run --stack MODE` uses (runChecked), against
 * <name>.expected.json:
 *
 *   { "console": "...",                       // the same in every mode and without a checker
 *     "modes": { "precise": [finding...], "cpl1": [...], "ftrace": [...] } }
 *
 * where a finding is { kind, function, file, line } for precise and cpl1
 * (the reading instruction) and { kind, function, caller } for ftrace (the
 * function receiving the poisoned argument and the function that passed
 * it). Also: every mode leaves init_module's return and the exit status as
 * in a plain run, and clean programs are clean in every mode.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { compileModule } from '../src/cli/compile.js';
import { runChecked, STACK_MODES, type StackMode } from '../src/harness/checked-run.js';
import type { Finding } from '../src/shadow/report.js';
import { hasGcc, ROOT, runtimeObject } from './module/helpers.js';

const DIR = join(ROOT, 'examples/stack');

if (!hasGcc) console.log('test/stack-examples.test.ts: gcc not found: the stack examples (C modules) are skipped');

interface ExpectedFinding {
  kind: string;
  function: string;
  file?: string;
  line?: number;
  caller?: string;
}
interface Expected {
  console: string;
  modes: Record<StackMode, ExpectedFinding[]>;
}

const examples = readdirSync(DIR).filter((f) => f.endsWith('.c')).map((f) => f.slice(0, -2)).sort();
const expected = (name: string): Expected => JSON.parse(readFileSync(join(DIR, `${name}.expected.json`), 'utf8')) as Expected;

/** A finding as the expected files spell it. */
export function summarize(mode: StackMode, f: Finding): ExpectedFinding {
  if (mode === 'ftrace') return { kind: f.kind, function: f.function ?? '?', caller: f.stack[1]?.function ?? '?' };
  return { kind: f.kind, function: f.function ?? '?', file: f.file ? basename(f.file) : '?', line: f.line ?? 0 };
}

describe.skipIf(!hasGcc)('examples/stack', () => {
  const compiled = new Map<string, { object: Uint8Array; stackUsage: string }>();
  const build = (name: string): { object: Uint8Array; stackUsage: string } => {
    let c = compiled.get(name);
    if (!c) {
      const r = compileModule(join(DIR, `${name}.c`), { ftrace: true });
      c = { object: r.object, stackUsage: r.stackUsage };
      compiled.set(name, c);
    }
    return c;
  };

  it('has an expected file for every example', () => {
    expect(examples.length).toBeGreaterThanOrEqual(6);
    for (const name of examples) expect(() => expected(name), name).not.toThrow();
  });

  for (const name of examples) {
    it(`${name}: findings per mode as expected, results as in a plain run`, () => {
      const exp = expected(name);
      const { object, stackUsage } = build(name);
      const runtime = runtimeObject();
      const plain = runChecked(object, { name: `${name}.c`, runtime, stackUsage });
      expect(plain.error).toBeNull();
      expect(plain.run!.console).toBe(exp.console);
      expect(plain.findings).toEqual([]);
      for (const mode of STACK_MODES) {
        const r = runChecked(object, { name: `${name}.c`, runtime, stack: mode, stackUsage });
        expect(r.error, mode).toBeNull();
        expect(r.run!.stop, mode).toBeNull();
        expect(r.run!.console, mode).toBe(exp.console);
        expect(r.run!.initReturn, mode).toBe(plain.run!.initReturn);
        expect(r.run!.exitCode, mode).toBe(plain.run!.exitCode);
        for (const f of r.findings) {
          expect(f.region, mode).toBe('stack');
          expect(f.checker, mode).toBe(mode);
        }
        expect(r.findings.map((f) => summarize(mode, f)), `${name} --stack ${mode}`).toEqual(exp.modes[mode]);
      }
    });
  }

  it('printk reading an unterminated stack string (%s) is a finding in printk under precise and cpl1', () => {
    const { object } = { object: compileModule(join(ROOT, 'test/modules/stack-string.c')).object };
    for (const mode of ['precise', 'cpl1'] as const) {
      const r = runChecked(object, { name: 'stack-string.c', runtime: runtimeObject(), stack: mode });
      expect(r.error, mode).toBeNull();
      expect(r.findings.map((f) => [f.kind, f.function, f.size, f.stack.some((s) => s.function === 'init_module')]), mode)
        .toEqual([['uninitialized', 'printk', 1, true]]);
    }
  });
});
