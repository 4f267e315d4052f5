/**
 * Inlined frames from DWARF (src/elf/dwarf-inline.ts): a finding inside a
 * `static inline` helper that gcc -O2 inlined names the helper at its own
 * line, then the function it was inlined into at the call site — the
 * frames the host's `addr2line -i -f -e obj` prints for that address — in
 * the text report, the JSON finding's stack and the SARIF stack.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { compileModule } from '../../src/cli/compile.js';
import { inlineTableFor, parseInlinedSubroutines } from '../../src/elf/dwarf-inline.js';
import { lineTableFor } from '../../src/elf/dwarf-line.js';
import { parseElf32 } from '../../src/elf/elf32.js';
import { unfoldInlined } from '../../src/kernel/dumpstack.js';
import type { Finding } from '../../src/shadow/report.js';
import { builtCliState, cli } from '../module/helpers.js';

const hasAddr2line = !spawnSync('addr2line', ['--version']).error;
const skip = builtCliState(['src/elf/dwarf-inline.ts', 'src/kernel/symbols.ts', 'src/kernel/dumpstack.ts', 'src/shadow/report.ts'])
  ?? (hasAddr2line ? null : 'addr2line not found (Debian: binutils)');
if (skip) console.log(`test/elf/dwarf-inline.test.ts: skipped: ${skip}`);

const SOURCE = 'test/elf/inline-helper.c';

describe.skipIf(skip !== null)('inlined frames', () => {
  it('a finding in an inlined helper: the helper at its line, then its caller at the call site, as addr2line -i -f', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-inline-'));
    try {
      const obj = join(dir, 'inline-helper.o');
      writeFileSync(obj, compileModule(SOURCE).object);
      const json = join(dir, 'r.json');
      const sarif = join(dir, 'r.sarif');
      const r = cli(['run', obj, '--kmemcheck', '--verbose', '--report-json', json, '--report-sarif', sarif]);
      expect(r.status, r.stderr).toBe(99);
      const text = /-s \.text 0x([0-9a-f]+)/.exec(r.stderr);
      expect(text).not.toBeNull();
      const report = JSON.parse(readFileSync(json, 'utf8')) as { findings: Finding[] };
      const f = report.findings[0]!;
      // The host's answer for the same instruction (its offset in .text).
      const a2l = spawnSync('addr2line', ['-i', '-f', '-e', obj, `0x${(f.eip - Number.parseInt(text![1]!, 16)).toString(16)}`], { encoding: 'utf8' });
      const lines = a2l.stdout.trim().split('\n');
      const host: { function: string; at: string }[] = [];
      for (let i = 0; i + 1 < lines.length; i += 2) host.push({ function: lines[i]!, at: lines[i + 1]!.replace(/ \(discriminator \d+\)$/, '') });
      expect(host.map((h) => h.function)).toEqual(['scaled', 'measure']);
      const ours = f.stack.slice(0, host.length).map((fr) => ({ function: fr.function, at: `${basename(fr.file ?? '?')}:${fr.line}` }));
      expect(ours).toEqual(host.map((h) => ({ function: h.function, at: `${basename(h.at.split(':')[0]!)}:${h.at.split(':')[1]}` })));
      expect(f.stack[0]).toMatchObject({ inlined: true, offset: null });
      expect(f.stack[1]!.inlined).toBeUndefined();
      expect(f.stack[2]!.function).toBe('init_module');
      // The text report: the EIP line unfolds the inlining.
      const src = readFileSync(SOURCE, 'utf8').split('\n');
      const helperLine = src.findIndex((l) => l.includes('s->count * s->scale')) + 1;
      const callLine = src.findIndex((l) => l.includes('int v = scaled(s);')) + 1;
      expect(r.stderr).toContain(`EIP is at scaled [inline] [${SOURCE}:${helperLine}] in measure+0x`);
      expect(r.stderr).toMatch(new RegExp(`in measure\\+0x[0-9a-f]+/0x[0-9a-f]+ \\[${SOURCE.replace(/\./g, '\\.')}:${callLine}\\]`));
      // SARIF: the stack's frames carry the inlined one.
      const s = JSON.parse(readFileSync(sarif, 'utf8')) as { runs: { results: { stacks: { frames: { location: { message?: { text: string }; logicalLocations?: { name: string }[] } }[] }[] }[] }[] };
      const frames = JSON.stringify(s.runs[0]!.results[0]!.stacks[0]!.frames);
      expect(frames).toContain('scaled');
      expect(frames.indexOf('scaled')).toBeLessThan(frames.indexOf('measure'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a module without inlining gets no inlined frames; malformed .debug_info is a DwarfError', () => {
    expect(() => parseInlinedSubroutines({ info: new Uint8Array([8, 0, 0, 0, 5, 0, 1, 4]), abbrev: new Uint8Array([0]) })).toThrow(/\.debug_info/);
    const plain = cli(['run', 'examples/kmemcheck/uninit-kmalloc.c', '--kmemcheck']);
    expect(plain.stderr).not.toContain('[inline]');
  });
});

/** Nested inlining (inner() inside outer(), both inside two callers), in code split over several ranges at -O2. */
const NESTED = `
static inline int inner(int v, int k)
{
	int t = 0;
	for (int i = 0; i < k; i++)
		t ^= v << (i & 7);
	return t;
}

static inline int outer(const int *p, int k)
{
	if (p[0] > k)
		return inner(p[1], k) + 1;
	return inner(p[0], k + 1);
}

__attribute__((noipa)) int first(const int *p, int k)
{
	int s = outer(p, k);
	if (s > 10)
		s += outer(p + 1, s);
	return s;
}

__attribute__((noipa)) int second(const int *p)
{
	return outer(p, 3) * 2;
}
`;

describe.skipIf(!hasAddr2line || spawnSync('gcc', ['--version']).error !== undefined)('the inline table against addr2line -i -f', () => {
  for (const version of [5, 4] as const) {
    it(`-gdwarf-${version} -O2: at every address of .text, the same inlined functions and positions`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'kmemsim-inline-'));
      try {
        writeFileSync(join(dir, 'nested.c'), NESTED);
        const obj = join(dir, 'nested.o');
        spawnSync('gcc', ['-m32', '-g', `-gdwarf-${version}`, '-O2', '-fno-pic', '-fno-asynchronous-unwind-tables', '-c', 'nested.c', '-o', obj], { cwd: dir });
        const elf = parseElf32(readFileSync(obj));
        const sec = (n: string): Uint8Array | null => {
          const x = elf.sectionByName(n);
          return x ? elf.sectionData(x.index) : null;
        };
        const lines = lineTableFor({ debugSection: sec })!;
        const inl = inlineTableFor({ debugSection: sec })!;
        expect(inl.size).toBeGreaterThan(2);
        const size = elf.sectionByName('.text')!.size;
        const addrs = Array.from({ length: size }, (_, i) => i);
        const out = spawnSync('addr2line', ['-a', '-i', '-f', '-e', obj, ...addrs.map((a) => a.toString(16))], { encoding: 'utf8' }).stdout.split('\n');
        let depth2 = 0;
        let compared = 0;
        let i = 0;
        for (const a of addrs) {
          expect(Number.parseInt(out[i++]!, 16)).toBe(a);
          const host: string[] = [];
          while (i < out.length && !/^0x[0-9a-f]+$/.test(out[i]!) && out[i] !== '') {
            host.push(`${out[i]!} ${basename(out[i + 1]!.replace(/ \(discriminator \d+\)$/, ''))}`);
            i += 2;
          }
          const { inlined, outer } = unfoldInlined(lines.lookup(a) === null ? null : { ...lines.lookup(a)!, inlined: inl.at(a) });
          const ours = [...inlined.map((f) => `${f.function} ${basename(f.position?.file ?? '??')}:${f.position?.line ?? 0}`), `${host.at(-1)?.split(' ')[0]} ${outer ? `${basename(outer.file)}:${outer.line}` : '??:0'}`];
          if (host.length > 0 && !host.at(-1)!.endsWith('??:0')) {
            expect(ours, `0x${a.toString(16)}`).toEqual(host);
            compared++;
            if (host.length >= 3) depth2++;
          }
        }
        expect(compared).toBeGreaterThan(size / 2);
        expect(depth2).toBeGreaterThan(0); // inner() inside outer() inside a caller was seen
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
