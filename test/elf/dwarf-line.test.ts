/**
 * DWARF line programs (src/elf/dwarf-line.ts): a small two-file object
 * (a .c file and a header with a static inline function) compiled with
 * `gcc -m32 -g -O2 -c` as DWARF 5 (gcc 12's default), 4, 3 and 2 (gcc's own
 * line table: through gas it is at least version 3), checked
 * row by row against `objdump --dwarf=decodedline` and address by address
 * against `addr2line`; and hand-written programs for the opcodes gcc does
 * not emit for such code (define_file, fixed_advance_pc, const_add_pc,
 * 64-bit DWARF, v5 DW_FORM_string/udata entries).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseElf32 } from '../../src/elf/elf32.js';
import { DwarfError, LineTable, lineTableFor, parseDebugLine, type LineUnit } from '../../src/elf/dwarf-line.js';

const hasGcc = !spawnSync(process.env['CC'] || 'gcc', ['--version']).error;
const hasBinutils = !spawnSync('objdump', ['--version']).error && !spawnSync('addr2line', ['--version']).error;

const HEADER = `
static inline int clamp(int v, int lo, int hi)
{
	int t = 0;
	for (int i = lo; i < hi; i++)
		t ^= v << (i & 7);
	return t;
}
`;
const SOURCE = `#include "clamp.h"

struct item { int a, b; };

__attribute__((noipa)) int sum(const struct item *it, int n)
{
	int s = 0;
	for (int i = 0; i < n; i++)
		s += it[i].a * it[i].b;
	return clamp(s, -100, 100);
}

__attribute__((noipa)) int pick(const int *p, int k)
{
	if (k > 3)
		return p[k - 3];
	return p[0] + clamp(k, 0, 2);
}

int entry(const struct item *it, const int *p)
{
	return sum(it, 4) + pick(p, 5);
}
`;

const dir = mkdtempSync(join(tmpdir(), 'kmemsim-dwarf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function compile(version: number | null): string {
  writeFileSync(join(dir, 'clamp.h'), HEADER);
  writeFileSync(join(dir, 'lines.c'), SOURCE);
  const out = join(dir, `lines-v${version ?? 'default'}.o`);
  // gcc 12 writes at least a version 3 line table through gas's .loc directives; its own (-gno-as-loc-support) honours -gdwarf-2.
  const g = version === null ? ['-g'] : version === 2 ? ['-g', '-gdwarf-2', '-gno-as-loc-support'] : ['-g', `-gdwarf-${version}`];
  execFileSync(process.env['CC'] || 'gcc', ['-m32', ...g, '-O2', '-fno-pic', '-fno-asynchronous-unwind-tables', '-c', 'lines.c', '-o', out], { cwd: dir });
  return out;
}

/** The object's sections as they are in the file (ET_REL: set_address holds the .text offset, line_strp the string offset). */
function sections(path: string) {
  const elf = parseElf32(readFileSync(path));
  const debugSection = (n: string): Uint8Array | null => {
    const s = elf.sectionByName(n);
    return s ? elf.sectionData(s.index) : null;
  };
  const text = elf.sectionByName('.text')!;
  return { elf, debugSection, textSize: text.size };
}

/** objdump's decoded rows: [basename, line, address], end-of-sequence rows left out. */
function objdumpRows(path: string): [string, number, number][] {
  const out = execFileSync('objdump', ['--dwarf=decodedline', path], { encoding: 'utf8' });
  const rows: [string, number, number][] = [];
  for (const l of out.split('\n')) {
    const m = /^(\S+)\s+(\d+)\s+(0x[0-9a-f]+|0)\b/.exec(l);
    if (m) rows.push([basename(m[1]!), Number(m[2]), Number(m[3])]);
  }
  return rows;
}

describe.skipIf(!hasGcc || !hasBinutils)('DWARF line tables of gcc -m32 -g -O2 objects', () => {
  for (const version of [null, 5, 4, 3, 2] as const) {
    const label = version === null ? 'default (-g: DWARF 5 with gcc 12)' : `-gdwarf-${version}`;
    it(`${label}: rows as objdump decodes them, lookups as addr2line answers`, () => {
      const path = compile(version);
      const { debugSection, textSize } = sections(path);
      const units = parseDebugLine(debugSection('.debug_line')!, { lineStr: debugSection('.debug_line_str'), str: debugSection('.debug_str') });
      expect(units).toHaveLength(1);
      const u = units[0]!;
      if (version !== null) expect(u.version).toBe(version);
      else expect(u.version).toBeGreaterThanOrEqual(4);
      expect(u.files.some((f) => f.name === 'lines.c')).toBe(true);
      expect(u.files.some((f) => f.name.endsWith('clamp.h'))).toBe(true);

      // Row by row.
      const mine = u.rows.filter((r) => !r.endSequence).map((r) => [basename(u.files[r.file]!.path), r.line, r.address]);
      expect(mine).toEqual(objdumpRows(path));
      expect(u.rows.at(-1)!.endSequence).toBe(true);

      // Address by address over .text.
      const table = new LineTable(units);
      const addrs = Array.from({ length: textSize + 1 }, (_, i) => i);
      const out = execFileSync('addr2line', ['-e', path, ...addrs.map((a) => a.toString(16))], { encoding: 'utf8' }).trim().split('\n');
      expect(out).toHaveLength(addrs.length);
      let checked = 0;
      for (let i = 0; i < addrs.length; i++) {
        const want = out[i]!.replace(/ \(discriminator \d+\)$/, '');
        const got = table.lookup(addrs[i]!);
        if (want.startsWith('??')) {
          expect(got, `0x${addrs[i]!.toString(16)}`).toBeNull();
        } else {
          const m = /^(.*):(\d+)$/.exec(want)!;
          expect(got, `0x${addrs[i]!.toString(16)}`).not.toBeNull();
          expect([basename(got!.file), got!.line], `0x${addrs[i]!.toString(16)}`).toEqual([basename(m[1]!), Number(m[2])]);
          checked++;
        }
      }
      expect(checked).toBe(textSize);
      expect(table.lookup(textSize)).toBeNull();

      // lineTableFor over the same sections.
      expect(lineTableFor({ debugSection })!.lookup(0)).toEqual(table.lookup(0));
    });
  }

  it('the lines point at the source: the loop body and the inlined clamp()', () => {
    const path = compile(5);
    const { debugSection } = sections(path);
    const u = parseDebugLine(debugSection('.debug_line')!, { lineStr: debugSection('.debug_line_str') })[0]!;
    const srcLine = (text: string): number => SOURCE.split('\n').findIndex((l) => l.includes(text)) + 1;
    const lines = new Set(u.rows.filter((r) => u.files[r.file]!.name === 'lines.c').map((r) => r.line));
    expect(lines.has(srcLine('s += it[i].a * it[i].b;'))).toBe(true);
    expect(lines.has(srcLine('return p[k - 3];'))).toBe(true);
    const hdr = new Set(u.rows.filter((r) => u.files[r.file]!.name.endsWith('clamp.h')).map((r) => r.line));
    expect([...hdr].some((l) => l >= 3 && l <= 7)).toBe(true);
  });
});

// ---- hand-written programs ----------------------------------------------------------

const uleb = (v: number): number[] => {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
};
const sleb = (v: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v = Math.floor(v / 128);
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};
const str = (s: string): number[] => [...new TextEncoder().encode(s), 0];
const u16 = (v: number): number[] => [v & 0xff, v >> 8];
const u32 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];

/** A unit: header fields after header_length, then the program. */
function unit(version: number, tables: number[], program: number[], opts: { dwarf64?: boolean; minInst?: number } = {}): number[] {
  const fixed = [opts.minInst ?? 1, ...(version >= 4 ? [1] : []), 1, (-5) & 0xff, 14, 13, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1];
  const header = [...fixed, ...tables];
  const pre = version >= 5 ? [4, 0] : [];
  if (opts.dwarf64) {
    const body = [...u16(version), ...pre, ...u32(header.length), ...u32(0), ...header, ...program];
    return [0xff, 0xff, 0xff, 0xff, ...u32(body.length), ...u32(0), ...body];
  }
  const body = [...u16(version), ...pre, ...u32(header.length), ...header, ...program];
  return [...u32(body.length), ...body];
}
const setAddress = (a: number): number[] => [0, 5, 2, ...u32(a)];
const endSequence = [0, 1, 1];

describe('hand-written line programs', () => {
  it('v3: define_file, advance_pc, fixed_advance_pc, const_add_pc, special opcodes, negate_stmt, two sequences', () => {
    const tables = [...str('/src'), 0, ...str('a.c'), 1, 0, 0, 0];
    const program = [
      ...setAddress(0xc0100000),
      3, ...sleb(9), 1, // line 10, copy
      13 + 2, // special: adj = 2 → addr +0, line +(-5+2) = 7
      2, ...uleb(6), 3, ...sleb(20), 1, // addr +6, line 27, copy
      0, 1 + 4 + 1, 3, ...str('b.h'), 0, 0, 0, // define_file b.h (file 2, directory 0)
      4, 2, 9, ...u16(0x10), 1, // file 2, fixed_advance_pc 0x10, copy
      8, 6, 1, // const_add_pc (+17), negate_stmt, copy
      2, ...uleb(3), ...endSequence,
      ...setAddress(0xc0200000), 1, 2, ...uleb(2), ...endSequence,
    ];
    const units = parseDebugLine(new Uint8Array(unit(3, tables, program)));
    const u = units[0]!;
    expect(u.version).toBe(3);
    expect(u.files.map((f) => f.path)).toEqual(['', '/src/a.c', 'b.h']);
    expect(u.rows.map((r) => [r.address - 0xc0100000, r.file, r.line, r.isStmt, r.endSequence])).toEqual([
      [0, 1, 10, true, false],
      [0, 1, 7, true, false],
      [6, 1, 27, true, false],
      [0x16, 2, 27, true, false],
      [0x16 + 17, 2, 27, false, false],
      [0x16 + 17 + 3, 2, 27, false, true],
      [0x100000, 1, 1, true, false],
      [0x100002, 1, 1, true, true],
    ]);
    const t = new LineTable(units);
    expect(t.sequenceCount).toBe(2);
    expect(t.lookup(0xc0100000)).toEqual({ file: '/src/a.c', line: 7, column: 0 });
    expect(t.lookup(0xc0100005)!.line).toBe(7);
    expect(t.lookup(0xc0100006)!.line).toBe(27);
    expect(t.lookup(0xc0100020)!.file).toBe('b.h');
    expect(t.lookup(0xc0100000 + 0x16 + 20)).toBeNull();
    expect(t.lookup(0xc0200001)).toEqual({ file: '/src/a.c', line: 1, column: 0 });
    expect(t.lookup(0xc0200002)).toBeNull();
    expect(t.lookup(0xbfffffff)).toBeNull();
  });

  it('v5 with DW_FORM_string paths, udata directory indices and data16 MD5; 64-bit DWARF; minimum_instruction_length', () => {
    const dirs = [1, ...uleb(1), ...uleb(0x08), ...uleb(2), ...str('/build'), ...str('inc')];
    const files = [3, ...uleb(1), ...uleb(0x08), ...uleb(2), ...uleb(0x0f), ...uleb(5), ...uleb(0x1e), ...uleb(2),
      ...str('m.c'), 0, ...new Array(16).fill(0xaa), ...str('x.h'), 1, ...new Array(16).fill(0xbb)];
    const program = [...setAddress(0x1000), 5, 7, 1, 4, 1, 2, ...uleb(4), 1, 2, 1, ...endSequence];
    for (const dwarf64 of [false, true]) {
      const u: LineUnit = parseDebugLine(new Uint8Array(unit(5, [...dirs, ...files], program, { dwarf64, minInst: 2 })))[0]!;
      expect(u.dirs).toEqual(['/build', 'inc']);
      expect(u.files.map((f) => f.path)).toEqual(['m.c', 'inc/x.h']);
      expect(u.rows.map((r) => [r.address, r.file, r.column])).toEqual([[0x1000, 1, 7], [0x1008, 1, 7], [0x100a, 1, 7]]);
      const t = new LineTable([u]);
      expect(t.lookup(0x1009)!.file).toBe('inc/x.h');
    }
  });

  it('rejects what it cannot read with DwarfError; lineTableFor gives null then', () => {
    expect(() => parseDebugLine(new Uint8Array([8, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]))).toThrow(DwarfError); // version 6
    expect(() => parseDebugLine(new Uint8Array([100, 0, 0, 0, 2, 0]))).toThrow(DwarfError); // past the end
    const bad = new Uint8Array([8, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
    expect(lineTableFor({ debugSection: (n) => (n === '.debug_line' ? bad : null) })).toBeNull();
    expect(lineTableFor({ debugSection: () => null })).toBeNull();
  });
});
