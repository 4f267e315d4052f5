/**
 * Valgrind-format suppressions (src/report/suppressions.ts): the parser
 * (comments, `...`, wildcards, tool lists, syntax errors with the line
 * number), Valgrind's matching rules, and the CLI: `--gen-suppressions=all`
 * prints a suppression that, saved to a file and given back with
 * `--suppressions`, silences the finding (counted in the summary and the
 * JSON report; exit status 0), a broken file is a usage error naming its
 * line before anything runs.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { formatSuppression, KERNEL_OBJ, parseSuppressions, SuppressionError, SuppressionSet } from '../../src/report/suppressions.js';
import type { Finding } from '../../src/shadow/report.js';
import type { JsonReport } from '../../src/cli/check-command.js';
import { hasGcc, NO_GCC, RUNTIME } from '../module/helpers.js';

const finding = (over: Partial<Finding> = {}): Finding => ({
  kind: 'uninitialized', region: 'heap', checker: 'kmemcheck', access: 'read', size: 4, address: 0xc1000010, eip: 0xc2000005,
  function: 'read_config', offset: 0, file: '/src/m.c', line: 16,
  stack: [
    { function: 'read_config', offset: 0, address: 0xc2000000, file: '/src/m.c', line: 16 },
    { function: 'init_module', offset: 0x26, address: 0xc2000036, file: '/src/m.c', line: 25 },
    { function: 'kmemsim_call_stub', offset: 0, address: 0xc000c8f0, file: null, line: null },
  ],
  ...over,
});
const objOf = (a: number): string => ((a >>> 0) >= 0xc2000000 ? 'm.c' : KERNEL_OBJ);
const set = (text: string): SuppressionSet => new SuppressionSet(parseSuppressions(text, 'test.supp'));
const matches = (text: string, f: Finding = finding()): boolean => set(text).match(f, objOf) !== null;

describe('suppression files', () => {
  it('parses comments, names, tool lists and frame lines', () => {
    const s = parseSuppressions('# leading comment\n\n{\n   one\n   kmemcheck:Freed\n   # inside\n   fun:a*\n   ...\n   obj:m.c\n}\n{\n two\n Memcheck,kmemcheck:Stack\n src:m.c:3\n}\n{\n other tool\n Memcheck:Cond\n fun:x\n}\n', 'f.supp');
    expect(s.map((x) => [x.name, x.kind, x.ours, x.frames.length, x.where])).toEqual([
      ['one', 'Freed', true, 3, 'f.supp:3'],
      ['two', 'Stack', true, 1, 'f.supp:11'],
      ['other tool', 'Cond', false, 1, 'f.supp:16'],
    ]);
  });

  it('syntax errors name the file and line', () => {
    const bad: [string, RegExp][] = [
      ['fun:x\n', /^test\.supp:1: expected '\{' to start a suppression, found 'fun:x'$/],
      ['{\n n\n kmemcheck:Leak\n fun:x\n}\n', /^test\.supp:3: unknown kmemcheck suppression kind 'Leak'/],
      ['{\n n\n kmemcheck\n fun:x\n}\n', /^test\.supp:3: expected TOOL:KIND/],
      ['{\n n\n kmemcheck:Freed\n\n fn:x\n}\n', /^test\.supp:5: expected a frame line \(fun:NAME, obj:NAME, src:FILE\[:LINE\] or \.\.\.\), found 'fn:x'$/],
      ['{\n n\n kmemcheck:Freed\n fun:x\n', /^test\.supp:5: unexpected end of file in suppression 'n': missing '\}'$/],
      ['{\n n\n kmemcheck:Freed\n}\n', /^test\.supp:1: suppression 'n' has no frame lines/],
      ['{\n n\n kmemcheck:Freed\n fun:x\n{\n', /^test\.supp:5: '\{' inside suppression 'n'/],
    ];
    for (const [text, re] of bad) {
      expect(() => parseSuppressions(text, 'test.supp'), text).toThrow(SuppressionError);
      expect(() => parseSuppressions(text, 'test.supp'), text).toThrow(re);
    }
  });

  it('matches as Valgrind does: from the innermost frame, a prefix of the stack, ... for any frames, * and ? wildcards', () => {
    expect(matches('{\n n\n kmemcheck:Uninitialized\n fun:read_config\n}')).toBe(true);
    expect(matches('{\n n\n kmemcheck:Uninitialized\n fun:init_module\n}')).toBe(false); // not the innermost frame
    expect(matches('{\n n\n kmemcheck:Uninitialized\n ...\n fun:init_module\n}')).toBe(true);
    expect(matches('{\n n\n kmemcheck:Uninitialized\n fun:read_?onfig\n fun:init_*\n}')).toBe(true);
    expect(matches('{\n n\n kmemcheck:Uninitialized\n fun:read_config\n fun:init_module\n obj:[kernel]\n}')).toBe(true);
    expect(matches('{\n n\n kmemcheck:Uninitialized\n fun:read_config\n fun:init_module\n obj:[kernel]\n fun:more\n}')).toBe(false); // deeper than the stack
    expect(matches('{\n n\n kmemcheck:Uninitialized\n obj:m.c\n obj:m.c\n}')).toBe(true);
    expect(matches('{\n n\n kmemcheck:Uninitialized\n src:m.c:16\n}')).toBe(true);
    expect(matches('{\n n\n kmemcheck:Uninitialized\n src:m.c:17\n}')).toBe(false);
    expect(matches('{\n n\n kmemcheck:Freed\n fun:read_config\n}')).toBe(false); // another kind
    expect(matches('{\n n\n Memcheck:Uninitialized\n fun:read_config\n}')).toBe(false); // another tool
    expect(matches('{\n n\n kmemcheck:Stack\n fun:read_config\n}', finding({ region: 'stack', checker: 'precise' }))).toBe(true);
    expect(matches('{\n n\n kmemcheck:Unallocated\n fun:read_config\n}', finding({ kind: 'unallocated' }))).toBe(true);
    expect(matches('{\n n\n kmemcheck:Uninitialized\n fun:???\n}', finding({ stack: [{ function: null, offset: null, address: 1 }] }))).toBe(true);
    const s = set('{\n first\n kmemcheck:Uninitialized\n fun:read_*\n}\n{\n second\n kmemcheck:Uninitialized\n fun:*\n}');
    s.match(finding(), objOf);
    s.match(finding(), objOf);
    expect(s.usedLines()).toEqual(['used_suppression:      2 first test.supp:1']);
  });

  it('a generated suppression matches its own finding', () => {
    const f = finding({ stack: [...finding().stack, { function: null, offset: null, address: 0x1000 }] });
    const text = formatSuppression(f, objOf);
    expect(text).toBe('{\n   <insert_a_suppression_name_here>\n   kmemcheck:Uninitialized\n   fun:read_config\n   fun:init_module\n   fun:kmemsim_call_stub\n   obj:[kernel]\n}');
    expect(matches(text, f)).toBe(true);
  });

  it('an unreadable file is a SuppressionError', () => {
    expect(() => SuppressionSet.load(['/no/such.supp'])).toThrow(/^cannot read suppression file \/no\/such\.supp: no such file$/);
  });
});

async function kmemsim(args: string[]): Promise<{ status: number; stderr: string; stdout: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const status = await main(args, { stdout: (b) => void out.push(Buffer.from(b)), stderr: (b) => void err.push(Buffer.from(b)), stdin: () => new Uint8Array(0) });
  return { status, stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString('latin1') };
}

const skip = !hasGcc ? NO_GCC : !existsSync(RUNTIME) ? `${RUNTIME} missing: run npm run build` : null;
if (skip) console.log(`test/report/suppressions.test.ts: CLI tests skipped: ${skip}`);

describe.skipIf(skip !== null)('kmemsim run --suppressions / --gen-suppressions', () => {
  const MOD = 'examples/kmemcheck/uninit-kmalloc.c';

  it('the generated suppression, given back, silences the finding: 0 reported, 1 suppressed, exit 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-supp-'));
    try {
      const gen = await kmemsim(['run', MOD, '--kmemcheck', '--gen-suppressions=all']);
      expect(gen.status).toBe(99);
      const m = /\{\n {3}<insert_a_suppression_name_here>\n[^}]*\}/.exec(gen.stderr);
      expect(m).not.toBeNull();
      expect(m![0]).toContain('   kmemcheck:Uninitialized\n   fun:read_config\n   fun:init_module\n');
      const file = join(dir, 'mine.supp');
      writeFileSync(file, `# from --gen-suppressions\n${m![0].replace('<insert_a_suppression_name_here>', 'known-uninit')}\n`);
      const json = join(dir, 'r.json');
      const r = await kmemsim(['run', MOD, '--kmemcheck', '--suppressions', file, '--verbose', '--report-json', json]);
      expect(r.status).toBe(0);
      expect(r.stderr).not.toMatch(/WARNING: kmemcheck/);
      expect(r.stderr).toMatch(/kmemsim: kmemcheck: 0 errors reported, 1 suppressed/);
      expect(r.stderr).toContain(`kmemsim: used_suppression:      1 known-uninit ${file}:2`);
      const j = JSON.parse(readFileSync(json, 'utf8')) as JsonReport;
      expect(j.findings).toEqual([]);
      expect(j.summary).toMatchObject({ findings: 0, suppressed: 1 });
      // Repeatable: a second file with a non-matching suppression changes nothing.
      const other = join(dir, 'other.supp');
      writeFileSync(other, '{\n   other\n   kmemcheck:Freed\n   fun:*\n}\n');
      const both = await kmemsim(['run', MOD, '--kmemcheck', '--suppressions', other, '--suppressions', file]);
      expect(both.status).toBe(0);
      const onlyOther = await kmemsim(['run', MOD, '--kmemcheck', '--suppressions', other]);
      expect(onlyOther.status).toBe(99);
      expect(onlyOther.stderr).toMatch(/WARNING: kmemcheck: Caught 32-bit read from uninitialized memory/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a syntax error is a usage error with the file and line, before anything runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-supp-'));
    try {
      const file = join(dir, 'bad.supp');
      writeFileSync(file, '{\n   name\n   kmemcheck:Uninitialized\n   function:read_config\n}\n');
      const r = await kmemsim(['run', MOD, '--kmemcheck', '--suppressions', file]);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')[0]).toBe(`kmemsim: ${file}:4: expected a frame line (fun:NAME, obj:NAME, src:FILE[:LINE] or ...), found 'function:read_config'`);
      const missing = await kmemsim(['run', MOD, '--kmemcheck', '--suppressions', join(dir, 'none.supp')]);
      expect(missing.status).toBe(2);
      expect(missing.stderr).toMatch(/cannot read suppression file .*none\.supp: no such file/);
      const unchecked = await kmemsim(['run', MOD, '--suppressions', file]);
      expect(unchecked.status).toBe(2);
      expect(unchecked.stderr).toMatch(/--suppressions needs --kmemcheck or --stack/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
