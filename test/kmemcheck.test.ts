/**
 * `kmemsim run mod.c --kmemcheck` end to end, through the functions the CLI
 * uses (compileModule, runModuleWithKmemcheck, checkCommand): every
 * examples/kmemcheck/<name>.c against <name>.expected.json (console output,
 * init_module's return, the exit status without kmemcheck, and the
 * findings: kind, access, size, function, and the source file and line from
 * the module's DWARF line table), the architectural results with
 * and without kmemcheck, the exit status and JSON report, and the engine
 * options.
 *
 * What the examples cover: an uninitialized kmalloc read (uninit-kmalloc),
 * a read after kfree (use-after-free: freed), a read past the object into
 * slab space no object owns (past-the-end: unallocated), kzalloc (clean),
 * memcpy carrying the shadow (memcpy-shadow: reported where the copy is
 * read, not in memcpy), a kmem_cache object (cache-object), __GFP_NOTRACK
 * (notrack: clean), a padded struct copied byte by byte (padding: reported —
 * kmemcheck's known false-positive class, the padding is never used),
 * kmemcheck_disable/enable and kmemcheck_mark_initialized from guest code
 * (enable-disable), an oops after a finding (oops-after-read: the
 * queue is drained although the run stopped abnormally), and writes past
 * an object and after kfree (write-past-and-after-free: silent, as Linux's
 * kmemcheck, unless --kmemcheck-writes; every example is also run with it,
 * with kmemcheck and the inline checker).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { compileModule } from '../src/cli/compile.js';
import { runModuleWithInlineChecker, runModuleWithKmemcheck } from '../src/harness/heap-runs.js';
import { formatReport, toFinding } from '../src/shadow/report.js';
import { checkCommand, DEFAULT_ERROR_EXITCODE, type JsonReport } from '../src/cli/check-command.js';
import { runModule } from '../src/kernel/module-run.js';
import { installKernelApi } from '../src/kernel/kapi.js';
import { hasGcc, ROOT, runtimeObject } from './module/helpers.js';

const DIR = join(ROOT, 'examples/kmemcheck');

if (!hasGcc) console.log('test/kmemcheck.test.ts: gcc not found: the kmemcheck examples (C modules) are skipped');

interface Expected {
  console: string;
  initReturn: number | null;
  exitCode: number;
  stop: string | null;
  /** `file`: the source's base name; `line`: the line of the faulting read. */
  findings: ExpectedFinding[];
  /** With `--kmemcheck-writes` (checkWrites): the findings then, writes to unallocated and freed memory included (default: `findings`). */
  findingsWithWrites?: ExpectedFinding[];
}
type ExpectedFinding = { kind: string; access: string; size: number; function: string; file: string | null; line: number | null };

const examples = readdirSync(DIR).filter((f) => f.endsWith('.c')).map((f) => f.slice(0, -2)).sort();
const objects = new Map<string, Uint8Array>();
function object(name: string): Uint8Array {
  let o = objects.get(name);
  if (!o) {
    o = compileModule(join(DIR, `${name}.c`)).object;
    objects.set(name, o);
  }
  return o;
}
const expected = (name: string): Expected => JSON.parse(readFileSync(join(DIR, `${name}.expected.json`), 'utf8')) as Expected;

describe.skipIf(!hasGcc)('examples/kmemcheck', () => {
  it('has an expected file for every example', () => {
    expect(examples.length).toBeGreaterThanOrEqual(9);
    for (const name of examples) expect(() => expected(name), name).not.toThrow();
  });

  for (const name of examples) {
    it(`${name}: findings as expected, architectural results unchanged by kmemcheck`, () => {
      const exp = expected(name);
      const runtime = runtimeObject();
      const on = runModuleWithKmemcheck(object(name), { name: `${name}.c`, runtime });
      const off = runModuleWithKmemcheck(object(name), { name: `${name}.c`, runtime, kmemcheck: false });
      expect(on.error).toBeNull();
      expect(off.error).toBeNull();
      expect(off.engine).toBeNull();
      expect(off.findings).toEqual([]);

      // Same console, same init return, same exit status and stop with and without kmemcheck.
      for (const r of [on.run!, off.run!]) {
        expect(r.console).toBe(exp.console);
        expect(r.initReturn ?? null).toBe(exp.initReturn);
        expect(r.exitCode).toBe(exp.exitCode);
        expect(r.stop?.kind ?? null).toBe(exp.stop);
      }

      expect(on.findings.map((f) => ({ kind: f.kind, access: f.access, size: f.size, function: f.function, file: f.file ? basename(f.file) : f.file, line: f.line })))
        .toEqual(exp.findings);
      expect(on.summary.findings).toBe(exp.findings.length);
      expect(on.summary.lost).toBe(0);
      for (const f of on.findings) {
        expect(f.region).toBe('heap');
        expect(f.checker).toBe('kmemcheck');
        // The stack starts at the faulting function and the module's init_module is among the callers.
        expect(f.stack[0]!.function).toBe(f.function);
        expect(f.stack.some((s) => s.function === 'init_module')).toBe(true);
      }
      expect(on.reports).toHaveLength(exp.findings.length);
      for (let i = 0; i < exp.findings.length; i++) {
        const f = exp.findings[i]!;
        const text = on.reports[i]!;
        expect(text).toMatch(new RegExp(`^WARNING: kmemcheck: Caught ${8 * f.size}-bit read from ${f.kind} memory \\([0-9a-f]{8}\\)\n[0-9a-f]{64}\n( [iuaf-]){32}\n *\\^\n`));
        // A native kernel routine (printk reading a %s string) has no source position.
        if (f.file === null) expect(text).toMatch(new RegExp(`\nEIP is at ${f.function}\\+0x[0-9a-f]+/0x[0-9a-f]+\n`));
        else expect(text).toMatch(new RegExp(`\nEIP is at ${f.function}\\+0x[0-9a-f]+/0x[0-9a-f]+ \\[(?:[^\\]]*/)?${f.file.replace(/\./g, '\\.')}:${f.line}\\]\n`));
        expect(text).toMatch(/\nEAX: [0-9a-f]{8} EBX: [0-9a-f]{8} ECX: [0-9a-f]{8} EDX: [0-9a-f]{8}\n/);
        expect(text).toMatch(new RegExp(`\n \\[<[0-9a-f]{8}>\\] \\?? ?init_module\\+0x[0-9a-f]+/0x[0-9a-f]+ \\[(?:[^\\]]*/)?${name}\\.c:\\d+\\]`));
      }
    });
  }

  for (const name of examples) {
    it(`${name}: with --kmemcheck-writes, kmemcheck and the inline checker report the expected reads and writes`, () => {
      const exp = expected(name);
      const want = exp.findingsWithWrites ?? exp.findings;
      const runtime = runtimeObject();
      const k = runModuleWithKmemcheck(object(name), { name: `${name}.c`, runtime, kmemcheck: { checkWrites: true } });
      const i = runModuleWithInlineChecker(object(name), { name: `${name}.c`, runtime, inline: { checkWrites: true } });
      for (const r of [k, i]) {
        expect(r.error).toBeNull();
        expect(r.run!.console).toBe(exp.console);
        expect(r.findings.map((f) => ({ kind: f.kind, access: f.access, size: f.size, function: f.function, file: f.file ? basename(f.file) : f.file, line: f.line }))).toEqual(want);
      }
      want.forEach((f, n) => {
        const dir = f.access === 'write' ? 'to' : 'from';
        expect(k.reports[n]!).toMatch(new RegExp(`^WARNING: kmemcheck: Caught ${8 * f.size}-bit ${f.access} ${dir} ${f.kind} memory \\([0-9a-f]{8}\\)\n`));
      });
    });
  }

  it.skipIf(spawnSync('addr2line', ['--version']).error)('file:line of every finding and caller agree with addr2line on the object (.text offsets; callers one byte back, in the call)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-lines-'));
    try {
      let checked = 0;
      for (const name of examples) {
        const r = runModuleWithKmemcheck(object(name), { name: `${name}.c`, runtime: runtimeObject() });
        if (r.findings.length === 0) continue;
        const path = join(dir, `${name}.o`);
        writeFileSync(path, object(name));
        const text = r.module!.object.sections.find((s) => s.name === '.text')!;
        for (const f of r.findings) {
          f.stack.forEach((fr, i) => {
            if (!r.module!.object.contains(fr.address)) return;
            const off = fr.address - text.address - (i === 0 ? 0 : 1);
            const want = execFileSync('addr2line', ['-e', path, off.toString(16)], { encoding: 'utf8' }).trim().replace(/ \(discriminator \d+\)$/, '');
            expect(`${basename(fr.file!)}:${fr.line}`, `${name} frame ${i}`).toBe(`${basename(want.replace(/:\d+$/, ''))}:${want.replace(/^.*:/, '')}`);
            checked++;
          });
        }
      }
      expect(checked).toBeGreaterThanOrEqual(10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('memcpy-shadow: the copy itself is silent (memcpy ran on tracked pages, but the report is in use_copy)', () => {
    const r = runModuleWithKmemcheck(object('memcpy-shadow'), { name: 'memcpy-shadow.c', runtime: runtimeObject() });
    expect(r.findings.some((f) => f.function === 'memcpy')).toBe(false);
    expect(r.engine!.stats.copies).toBeGreaterThan(0);
    expect(r.findings[0]!.function).toBe('use_copy');
  });

  it('use-after-free, past-the-end: the shadow letters around the address show the state', () => {
    const uaf = runModuleWithKmemcheck(object('use-after-free'), { name: 'use-after-free.c', runtime: runtimeObject() });
    expect(uaf.reports[0]!.split('\n')[2]).toMatch(/ f f f f/);
    const pte = runModuleWithKmemcheck(object('past-the-end'), { name: 'past-the-end.c', runtime: runtimeObject() });
    expect(pte.reports[0]!.split('\n')[2]).toMatch(/ i i i i i i i i a a a a/);
  });

  it('the kmemcheck_* exports exist and do nothing without kmemcheck', () => {
    let api: ReturnType<typeof installKernelApi> | null = null;
    const r = runModule(object('enable-disable'), {
      name: 'enable-disable.c',
      runtime: runtimeObject(),
      exports: (k, io) => (api = installKernelApi(k, { console: (t) => io.console(t) })),
    });
    expect(r.exitCode).toBe(0);
    expect(r.console).toBe(expected('enable-disable').console);
    for (const n of ['kmemcheck_mark_initialized', 'kmemcheck_enable', 'kmemcheck_disable']) expect(api!.has(n), n).toBe(true);
  });
});

describe.skipIf(!hasGcc)('checkCommand (kmemsim run --kmemcheck)', () => {
  const command = (name: string, extra: Partial<Parameters<typeof checkCommand>[1]> = {}): { status: number; stderr: string; json: JsonReport | null } => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-kmemcheck-'));
    try {
      const lines: string[] = [];
      const out = join(dir, 'report.json');
      const status = checkCommand(object(name), {
        heap: 'kmemcheck',
        reportJson: out,
        ...extra,
        err: (l) => lines.push(l),
        run: { name: `${name}.c`, runtime: runtimeObject() },
      });
      let json: JsonReport | null = null;
      try {
        json = JSON.parse(readFileSync(out, 'utf8')) as JsonReport;
      } catch {
        json = null;
      }
      return { status, stderr: lines.join('\n'), json };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('exits with the module\'s status when clean, --error-exitcode (default 99) with findings', () => {
    expect(DEFAULT_ERROR_EXITCODE).toBe(99);
    expect(command('kzalloc').status).toBe(0);
    expect(command('uninit-kmalloc').status).toBe(99);
    expect(command('uninit-kmalloc', { errorExitcode: 3 }).status).toBe(3);
  });

  it('--kmemcheck-inline: the inline checker gives the same findings and status, checker "inline"', () => {
    for (const name of ['uninit-kmalloc', 'use-after-free', 'kzalloc', 'memcpy-shadow']) {
      const a = command(name);
      const b = command(name, { heap: 'inline' });
      expect(b.status, name).toBe(a.status);
      const strip = (j: JsonReport | null) => j!.findings.map(({ checker: _c, ...f }) => f);
      expect(strip(b.json), name).toEqual(strip(a.json));
      for (const f of b.json!.findings) expect(f.checker).toBe('inline');
      if (a.json!.findings.length) expect(b.stderr).toMatch(/\(inline checker\)/);
    }
  });

  it('prints the reports on stderr and writes the JSON report', () => {
    const r = command('uninit-kmalloc');
    expect(r.stderr).toMatch(/WARNING: kmemcheck: Caught 32-bit read from uninitialized memory \([0-9a-f]{8}\)/);
    expect(r.stderr).toMatch(/EIP is at read_config\+0x0\//);
    const j = r.json!;
    expect(Object.keys(j)).toEqual(['findings', 'summary', 'exit']);
    expect(j.findings).toHaveLength(1);
    const f = j.findings[0]!;
    // `object`: the slab object and its allocation stack (src/shadow/object-owner.ts).
    expect(Object.keys(f)).toEqual(['kind', 'region', 'checker', 'access', 'size', 'address', 'eip', 'function', 'offset', 'file', 'line', 'object', 'stack']);
    expect(f).toMatchObject({ kind: 'uninitialized', region: 'heap', checker: 'kmemcheck', access: 'read', size: 4, function: 'read_config', offset: 0, line: 16 });
    expect(basename(f.file!)).toBe('uninit-kmalloc.c');
    // The bottom frame is kmemsim's guest-call return stub (named, no source position).
    expect(f.stack.map((s) => [s.file === null ? null : basename(s.file), s.line])).toEqual([['uninit-kmalloc.c', 16], ['uninit-kmalloc.c', 25], [null, null]]);
    expect(Object.keys(f.stack[0]!)).toEqual(['function', 'offset', 'address', 'file', 'line']);
    expect(f.address).toBeGreaterThanOrEqual(0xc0000000);
    expect(f.stack.map((s) => s.function)).toEqual(['read_config', 'init_module', 'kmemsim_call_stub']);
    expect(j.summary.findings).toBe(1);
    expect(j.summary.lost).toBe(0);
    expect(j.summary.faults).toBeGreaterThan(0);
    expect(j.summary.singleSteps).toBe(j.summary.faults);
    expect(j.exit).toEqual({ status: 99, stop: null });
  });

  it('--kmemcheck-writes: writes into unallocated and freed memory are findings (text and JSON, access "write"); off by default', () => {
    expect(command('write-past-and-after-free').status).toBe(0);
    const r = command('write-past-and-after-free', { checkWrites: true });
    expect(r.status).toBe(99);
    expect(r.stderr).toMatch(/WARNING: kmemcheck: Caught 32-bit write to unallocated memory \([0-9a-f]{8}\)/);
    expect(r.stderr).toMatch(/WARNING: kmemcheck: Caught 32-bit write to freed memory \([0-9a-f]{8}\)/);
    expect(r.json!.findings.map((f) => [f.kind, f.access, f.function])).toEqual([['unallocated', 'write', 'fill_counters'], ['freed', 'write', 'reset_after_free']]);
    const inline = command('write-past-and-after-free', { checkWrites: true, heap: 'inline' });
    expect(inline.json!.findings.map((f) => [f.kind, f.access, f.function, f.checker])).toEqual([['unallocated', 'write', 'fill_counters', 'inline'], ['freed', 'write', 'reset_after_free', 'inline']]);
  });

  it('drains the queue when the run stops abnormally (oops)', () => {
    const r = command('oops-after-read');
    expect(r.status).toBe(99);
    expect(r.stderr).toMatch(/Oops: BUG: unable to handle kernel NULL pointer dereference/);
    expect(r.stderr).toMatch(/EIP is at dev_irq\+/);
    expect(r.json!.exit.stop!.kind).toBe('fault');
    expect(r.json!.exit.stop!.message).toMatch(/^Oops: /);
    expect(r.json!.findings.map((f) => f.function)).toEqual(['dev_irq']);
  });

  it('a module that cannot load: exit 126, empty report', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-kmemcheck-'));
    try {
      const lines: string[] = [];
      const out = join(dir, 'r.json');
      const status = checkCommand(new Uint8Array([1, 2, 3]), { heap: 'kmemcheck', reportJson: out, err: (l) => lines.push(l), run: { name: 'bad.o', runtime: null } });
      expect(status).toBe(126);
      expect(lines.join('\n')).toMatch(/cannot load module/);
      const j = JSON.parse(readFileSync(out, 'utf8')) as JsonReport;
      expect(j.findings).toEqual([]);
      expect(j.exit.status).toBe(126);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!hasGcc)('engine options from the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-kmemcheck-src-'));
  const build = (name: string, src: string): Uint8Array => {
    const p = join(dir, `${name}.c`);
    writeFileSync(p, src);
    return compileModule(p).object;
  };

  it('--no-kmemcheck-partial-ok: a 32-bit read with one initialized byte is reported only then', () => {
    const o = build('partial', `#include <kmemsim/kernel.h>
__attribute__((noipa)) unsigned int word(const unsigned int *p) { return *p; }
int init_module(void)
{
	unsigned char *b = kmalloc(8, GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	b[0] = 1; /* bytes 1..3 stay uninitialized */
	printk(KERN_INFO "partial %d\\n", (word((unsigned int *)b) & 0xff) == 1);
	kfree(b);
	return 0;
}
`);
    const runtime = runtimeObject();
    const ok = runModuleWithKmemcheck(o, { name: 'partial.c', runtime, kmemcheck: { partialOk: true } });
    const strict = runModuleWithKmemcheck(o, { name: 'partial.c', runtime, kmemcheck: { partialOk: false } });
    expect(ok.findings).toEqual([]);
    expect(strict.findings.map((f) => [f.kind, f.function])).toEqual([['uninitialized', 'word']]);
    expect(ok.run!.console).toBe(strict.run!.console);
  });

  it('--kmemcheck-one-shot: only the first report', () => {
    const o = build('twice', `#include <kmemsim/kernel.h>
__attribute__((noipa)) int first(const int *p) { return p[0]; }
__attribute__((noipa)) int second(const int *p) { return p[1]; }
int init_module(void)
{
	int *p = kmalloc(8, GFP_KERNEL);
	int s;
	if (!p)
		return -ENOMEM;
	s = first(p) + second(p);
	kfree(p);
	return s & 0;
}
`);
    const runtime = runtimeObject();
    const all = runModuleWithKmemcheck(o, { name: 'twice.c', runtime });
    const one = runModuleWithKmemcheck(o, { name: 'twice.c', runtime, kmemcheck: { oneShot: true } });
    expect(all.findings.map((f) => f.function)).toEqual(['first', 'second']);
    expect(one.findings.map((f) => f.function)).toEqual(['first']);
    expect(one.engine!.enabled).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe.skipIf(!hasGcc)('source positions in the reports (report.ts with a locator)', () => {
  it('EIP looked up as is, callers one byte back; without a locator no position and no file/line keys', () => {
    const r = runModuleWithKmemcheck(object('uninit-kmalloc'), { name: 'uninit-kmalloc.c', runtime: runtimeObject() });
    const e = r.errors[0]!;
    const asked: number[] = [];
    const locate = (a: number) => {
      asked.push(a);
      return { file: 'x.c', line: a & 0xff };
    };
    const lines = formatReport(e, { symbolize: r.symbolize, locate }).split('\n');
    const caller = r.findings[0]!.stack[1]!.address;
    expect(lines).toContain(`EIP is at read_config+0x0/0x4 [x.c:${e.eip & 0xff}]`);
    expect(lines.at(-2)).toMatch(new RegExp(`init_module\\+0x[0-9a-f]+/0x[0-9a-f]+ \\[x\\.c:${(caller - 1) & 0xff}\\]$`));
    const stub = r.findings[0]!.stack[2]!.address;
    expect(lines.at(-1)).toMatch(new RegExp(`kmemsim_call_stub\\+0x0/0x8 \\[x\\.c:${(stub - 1) & 0xff}\\]$`));
    expect(asked).toEqual([e.eip, caller - 1, stub - 1]);
    expect(formatReport(e, { symbolize: r.symbolize })).not.toMatch(/\.c:\d+\]/);
    const plain = toFinding(e, r.symbolize);
    expect('file' in plain).toBe(false);
    expect(Object.keys(plain.stack[0]!)).toEqual(['function', 'offset', 'address']);
    const located = toFinding(e, r.symbolize, () => null);
    expect([located.file, located.line, located.stack[1]!.file, located.stack[1]!.line]).toEqual([null, null, null, null]);
  });
});
