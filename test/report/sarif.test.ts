/**
 * `--report-sarif FILE` (src/report/sarif.ts): the logs of `run`, `compare`
 * and `fuzz` are valid against the SARIF 2.1.0 JSON schema (vendored in
 * test/sarif/, see its README), with one result per finding, rule ids per
 * kind and region, file/line locations, the stack as a code flow and
 * stacks, fingerprints that are the same on every run; a suppressed
 * finding is kept with its suppression; bad paths are usage errors.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { fingerprint, ruleId, sarifLog } from '../../src/report/sarif.js';
import type { Finding } from '../../src/shadow/report.js';
import { hasGcc, NO_GCC, ROOT, RUNTIME } from '../module/helpers.js';

const require = createRequire(import.meta.url);
// The schema is draft-04 (SARIF 2.1.0's own): ajv-draft-04, with ajv-formats for its "uri" formats.
// unicodeRegExp: false because one of the schema's patterns is not a valid /u regular expression.
const Ajv = require('ajv-draft-04') as new (o: object) => { compile(s: object): ((d: unknown) => boolean) & { errors?: unknown } };
const addFormats = require('ajv-formats') as (a: unknown) => void;
const ajv = new Ajv({ strict: false, unicodeRegExp: false, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(join(ROOT, 'test/sarif/sarif-schema-2.1.0.json'), 'utf8')) as object);

function expectValid(log: unknown): void {
  const ok = validate(log);
  expect(validate.errors ?? null, JSON.stringify(validate.errors)).toBeNull();
  expect(ok).toBe(true);
}

async function kmemsim(args: string[]): Promise<{ status: number; stderr: string; stdout: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const status = await main(args, { stdout: (b) => void out.push(Buffer.from(b)), stderr: (b) => void err.push(Buffer.from(b)), stdin: () => new Uint8Array(0) });
  return { status, stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString('latin1') };
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'kmemsim-sarif-'));

interface Log {
  runs: {
    tool: { driver: { rules: { id: string }[] } };
    automationDetails?: { id: string };
    originalUriBaseIds?: Record<string, { uri: string }>;
    results: {
      ruleId: string;
      ruleIndex: number;
      message: { text: string };
      locations: { physicalLocation: { artifactLocation?: { uri: string; uriBaseId?: string }; region?: { startLine: number } } }[];
      partialFingerprints: Record<string, string>;
      codeFlows: { threadFlows: { locations: { location: { logicalLocations?: { name: string }[] } }[] }[] }[];
      stacks: { frames: { location: { logicalLocations?: { name: string }[] } }[] }[];
      suppressions?: { kind: string; justification: string }[];
    }[];
  }[];
}

const finding = (over: Partial<Finding> = {}): Finding => ({
  kind: 'freed', region: 'heap', checker: 'kmemcheck', access: 'read', size: 4, address: 0xc1000010, eip: 0xc2000005,
  function: 'leaf', offset: 5, file: '/elsewhere/x.c', line: 7,
  stack: [
    { function: 'leaf', offset: 5, address: 0xc2000005, file: '/elsewhere/x.c', line: 7 },
    { function: 'init_module', offset: 0x20, address: 0xc2000040, file: '/elsewhere/x.c', line: 12 },
    { function: null, offset: null, address: 0xc000c8f0, file: null, line: null },
  ],
  ...over,
});

describe('SARIF log (unit)', () => {
  it('is schema-valid, with rules per kind and region, locations, stacks and code flows', () => {
    const origin = { function: 'init_module', offset: 0, address: 0xc2000030, file: '/elsewhere/x.c', line: 10 };
    const log = sarifLog([{ findings: [{ finding: finding() }, { finding: finding({ kind: 'uninitialized', region: 'stack', checker: 'precise', origin }), suppressedBy: 'mine' }] }], { version: '1.2.3', baseDir: '/elsewhere' }) as unknown as Log;
    expectValid(log);
    const run = log.runs[0]!;
    expect(run.tool.driver.rules.map((r) => r.id)).toEqual(['heap-freed', 'stack-uninitialized']);
    const [a, b] = run.results;
    expect(a!.ruleId).toBe('heap-freed');
    expect(b!.ruleIndex).toBe(1);
    expect(a!.locations[0]!.physicalLocation).toMatchObject({ artifactLocation: { uri: 'x.c', uriBaseId: '%SRCROOT%' }, region: { startLine: 7 } });
    expect(run.originalUriBaseIds!['%SRCROOT%']!.uri).toBe('file:///elsewhere/');
    // Execution order in the code flow: the outermost caller first, the access last.
    expect(a!.codeFlows[0]!.threadFlows[0]!.locations.map((l) => l.location.logicalLocations?.[0]?.name ?? null)).toEqual([null, 'init_module', 'leaf']);
    expect(a!.stacks[0]!.frames.map((f) => f.location.logicalLocations?.[0]?.name ?? null)).toEqual(['leaf', 'init_module', null]);
    expect(a!.suppressions).toBeUndefined();
    expect(b!.suppressions).toEqual([{ kind: 'external', justification: 'kmemsim suppression mine' }]);
    expect(a!.message.text).toBe('32-bit read from freed memory at 0xc1000010 in leaf+0x5 (kmemcheck)');
    expect((b as unknown as { relatedLocations: { id: number; message: { text: string }; physicalLocation: { region: { startLine: number } } }[] }).relatedLocations).toEqual([
      expect.objectContaining({ id: 0, message: { text: 'uninitialized since the stack frame of init_module grew over it' }, physicalLocation: expect.objectContaining({ region: { startLine: 10 } }) }),
    ]);
  });

  it('a file outside the base directory is an absolute file: URI; a frame without a file gives its address', () => {
    const log = sarifLog([{ findings: [{ finding: finding({ stack: [{ function: null, offset: null, address: 0x1234 }] }) }, { finding: finding() }] }], { version: '1', baseDir: '/other' }) as unknown as Log;
    expectValid(log);
    expect(log.runs[0]!.results[0]!.locations[0]!.physicalLocation).toEqual({ address: { absoluteAddress: 0x1234 } });
    expect(log.runs[0]!.results[1]!.locations[0]!.physicalLocation.artifactLocation).toEqual({ uri: 'file:///elsewhere/x.c' });
    expect(log.runs[0]!.originalUriBaseIds).toBeUndefined();
  });

  it('fingerprints depend on the rule, access, size and functions, not on addresses or lines', () => {
    const f = finding();
    const moved = finding({ address: 0xc1999990, eip: 0xc2100005, line: 99, stack: f.stack.map((s) => ({ ...s, address: s.address + 0x100000, line: (s.line ?? 0) + 3 })) });
    expect(fingerprint(moved)).toBe(fingerprint(f));
    expect(fingerprint(finding({ access: 'write' }))).not.toBe(fingerprint(f));
    expect(fingerprint(finding({ kind: 'unallocated' }))).not.toBe(fingerprint(f));
    expect(fingerprint(finding({ stack: [{ ...f.stack[0]!, function: 'other' }, ...f.stack.slice(1)] }))).not.toBe(fingerprint(f));
    expect(ruleId(finding({ kind: 'poisoned', region: 'stack' }))).toBe('stack-poisoned');
  });

  it('the validator rejects a broken log (the test can fail)', () => {
    const log = sarifLog([{ findings: [{ finding: finding() }] }], { version: '1' }) as unknown as Log;
    (log.runs[0]!.results[0] as unknown as Record<string, unknown>)['level'] = 'fatal';
    expect(validate(log)).toBe(false);
  });
});

const skip = !hasGcc ? NO_GCC : !existsSync(RUNTIME) ? `${RUNTIME} missing: run npm run build` : null;
if (skip) console.log(`test/report/sarif.test.ts: CLI tests skipped: ${skip}`);

describe.skipIf(skip !== null)('--report-sarif on run, compare and fuzz', () => {
  it('run: one result per finding, the same fingerprints on every run', async () => {
    const dir = tmp();
    try {
      const logs: Log[] = [];
      for (const n of [1, 2]) {
        const file = join(dir, `${n}.sarif`);
        const r = await kmemsim(['run', 'examples/kmemcheck/write-past-and-after-free.c', '--kmemcheck', '--kmemcheck-writes', '--report-sarif', file]);
        expect(r.status).toBe(99);
        logs.push(JSON.parse(readFileSync(file, 'utf8')) as Log);
      }
      const log = logs[0]!;
      expectValid(log);
      const results = log.runs[0]!.results;
      expect(results.length).toBeGreaterThanOrEqual(2);
      expect(new Set(results.map((x) => x.ruleId))).toEqual(new Set(['heap-unallocated', 'heap-freed']));
      for (const x of results) {
        expect(x.locations[0]!.physicalLocation.artifactLocation).toEqual({ uri: 'examples/kmemcheck/write-past-and-after-free.c', uriBaseId: '%SRCROOT%' });
        expect(x.locations[0]!.physicalLocation.region!.startLine).toBeGreaterThan(0);
      }
      expect(logs[1]!.runs[0]!.results.map((x) => x.partialFingerprints)).toEqual(results.map((x) => x.partialFingerprints));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('run: a clean module gives an empty, valid log; an unwritable path is a usage error before running', async () => {
    const dir = tmp();
    try {
      const file = join(dir, 'clean.sarif');
      const r = await kmemsim(['run', 'examples/stack/deep-clean.c', '--stack', 'precise', '--report-sarif', file]);
      expect(r.status).toBe(0);
      const log = JSON.parse(readFileSync(file, 'utf8')) as Log;
      expectValid(log);
      expect(log.runs[0]!.results).toEqual([]);
      const bad = await kmemsim(['run', 'examples/stack/deep-clean.c', '--stack', 'precise', '--report-sarif', join(dir, 'no/such/dir.sarif')]);
      expect(bad.status).toBe(2);
      expect(bad.stdout).toBe('');
      expect(bad.stderr).toMatch(/^kmemsim: cannot write .*no\/such\/dir\.sarif/);
      const plain = await kmemsim(['run', 'examples/stack/deep-clean.c', '--report-sarif', file]);
      expect(plain.status).toBe(2);
      expect(plain.stderr).toMatch(/--report-sarif needs --kmemcheck or --stack/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('compare: one run per strategy, each its own category', async () => {
    const dir = tmp();
    try {
      const file = join(dir, 'cmp.sarif');
      const r = await kmemsim(['compare', 'examples/stack/uninit-arg.c', '--report-sarif', file]);
      expect(r.status).toBe(0);
      const log = JSON.parse(readFileSync(file, 'utf8')) as Log;
      expectValid(log);
      expect(log.runs.map((x) => x.automationDetails!.id)).toEqual(['kmemsim/compare/kmemcheck/', 'kmemsim/compare/cpl1/', 'kmemsim/compare/ftrace/', 'kmemsim/compare/precise/']);
      expect(log.runs.find((x) => x.automationDetails!.id === 'kmemsim/compare/precise/')!.results.map((x) => x.ruleId)).toEqual(['stack-uninitialized']);
      expect(log.runs.find((x) => x.automationDetails!.id === 'kmemsim/compare/ftrace/')!.results.map((x) => x.ruleId)).toEqual(['stack-poisoned']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fuzz: the saved crash\'s findings', async () => {
    const dir = tmp();
    try {
      const file = join(dir, 'fuzz.sarif');
      const r = await kmemsim(['fuzz', 'examples/fuzz/record-type.c', '--kmemcheck', '-x', 'examples/fuzz/record-type.dict', '-o', join(dir, 'out'), '--seed', '1', '--runs', '300', '--report-sarif', file]);
      expect(r.status).toBe(99);
      const log = JSON.parse(readFileSync(file, 'utf8')) as Log;
      expectValid(log);
      expect(log.runs[0]!.results.length).toBeGreaterThanOrEqual(1);
      expect(log.runs[0]!.results[0]!.ruleId).toBe('heap-uninitialized');
      expect(log.runs[0]!.results[0]!.message.text).toMatch(/ in emit\+0x/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
