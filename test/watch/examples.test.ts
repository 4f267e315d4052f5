/**
 * examples/watch/*.c end to end, as `kmemsim run` runs them: each against
 * its <name>.expected.json (the console with kernel addresses written
 * XXXXXXXX, init_module's exit status, the watch framework's findings),
 * alone and under kmemcheck, `--stack cpl1` and both at once — the same
 * console and findings every time, and no finding of the other checkers.
 * Also `--overlay-save` through the CLI.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { compileModule } from '../../src/cli/compile.js';
import { runChecked, type CheckedRunOptions } from '../../src/harness/checked-run.js';
import { main } from '../../src/cli/main.js';
import { hasGcc, ROOT, runtimeObject } from '../module/helpers.js';

const DIR = join(ROOT, 'examples/watch');
if (!hasGcc) console.log('test/watch/examples.test.ts: gcc not found: the watch examples (C modules) are skipped');

interface Expected {
  console: string;
  exitCode: number;
  findings: { kind: string; access: string; size: number; function: string; line: number }[];
}
const examples = readdirSync(DIR).filter((f) => f.endsWith('.c')).map((f) => f.slice(0, -2)).sort();
const expected = (name: string): Expected => JSON.parse(readFileSync(join(DIR, `${name}.expected.json`), 'utf8')) as Expected;
const objects = new Map<string, Uint8Array>();
const object = (name: string): Uint8Array => {
  let o = objects.get(name);
  if (!o) objects.set(name, (o = compileModule(join(DIR, `${name}.c`)).object));
  return o;
};
/** Kernel addresses differ between layouts (the ring-1 kernel allocates its stack first). */
const normalize = (s: string): string => s.replace(/\b[0-9a-f]{8}\b/g, 'XXXXXXXX');

const CONFIGS: [string, Partial<CheckedRunOptions>][] = [
  ['alone', {}],
  ['kmemcheck', { heap: 'kmemcheck' }],
  ['--stack cpl1', { stack: 'cpl1' }],
  ['kmemcheck and --stack cpl1', { heap: 'kmemcheck', stack: 'cpl1' }],
];

describe.skipIf(!hasGcc)('examples/watch', () => {
  it('has an expected file for every example', () => {
    expect(examples.length).toBeGreaterThanOrEqual(4);
    for (const name of examples) expect(() => expected(name), name).not.toThrow();
  });
  for (const name of examples) {
    for (const [what, opts] of CONFIGS) {
      it(`${name} (${what}): console and findings as expected`, () => {
        const exp = expected(name);
        const r = runChecked(object(name), { name: `${name}.c`, runtime: runtimeObject(), ...opts });
        expect(r.error).toBeNull();
        expect(normalize(r.run!.console)).toBe(exp.console);
        expect(r.run!.exitCode).toBe(exp.exitCode);
        expect(r.findings.map((f) => ({ kind: f.kind, access: f.access, size: f.size, function: f.function, line: f.line }))).toEqual(exp.findings);
        for (const f of r.findings) {
          expect(f.checker).toBe('watch');
          expect(f.file && basename(f.file)).toBe(`${name}.c`);
        }
        expect(r.reports).toHaveLength(exp.findings.length);
      });
    }
  }

  it('a handler that faults is an oops naming the handler, with kmcf_handler_return under it', () => {
    const o = compileModule(join(ROOT, 'test/modules/kmcf-handler-fault.c')).object;
    const r = runChecked(o, { name: 'kmcf-handler-fault.c', runtime: runtimeObject() });
    expect(r.run!.exitCode).toBe(125);
    expect(r.run!.stop).toMatchObject({ kind: 'fault', vector: 14 });
    const text = [r.run!.console, ...r.run!.diagnostics].join('\n');
    expect(text).toMatch(/EIP is at bad\+0x0\//);
    expect(text).toMatch(/kmcf_handler_return\+0x0\/0x8\n/);
  });

  it('kmemsim run --overlay-save FILE writes each overlay as it ends: offsets, original and overlay bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-overlay-'));
    try {
      const file = join(dir, 'ov.txt');
      const io = { out: [] as string[], err: [] as string[] };
      const cli = { stdin: () => new Uint8Array(0), stdout: (b: Uint8Array) => void io.out.push(Buffer.from(b).toString('latin1')), stderr: (b: Uint8Array) => void io.err.push(Buffer.from(b).toString('latin1')) };
      const code = await main(['run', join(DIR, 'overlay.c'), '--overlay-save', file], cli);
      expect(io.err.join('')).toBe('');
      expect(code).toBe(0);
      expect(io.out.join('')).toMatch(/^overlay: start /);
      io.out.length = 0;
      expect(readFileSync(file, 'utf8').replace(/^buffer [0-9a-f]{8}/gm, 'buffer XXXXXXXX')).toBe([
        '# kmemsim overlay 1: buffer ADDRESS LENGTH WHY, then OFFSET ORIGINAL OVERLAY (hex)',
        'buffer XXXXXXXX 16 discarded',
        '0005 66617374 736c6f77', // "fast" -> "slow"
        '000e 31 39', // '1' -> '9'
        'buffer XXXXXXXX 16 committed',
        '000e 31 32',
        '',
      ].join('\n'));
      const bad = await main(['run', join(DIR, 'overlay.c'), '--overlay-save', join(dir, 'no/such/dir/f')], cli);
      expect(bad).toBe(2);
      expect(io.err.join('')).toMatch(/^kmemsim: cannot write .*no\/such\/dir\/f: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
