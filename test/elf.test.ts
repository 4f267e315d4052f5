/**
 * ELF32 reader tests.
 *
 * Two sources of files: a tiny in-test ELF writer (always available, so the
 * robustness tests run everywhere) and the host toolchain (gcc -m32, as --32,
 * ld -m elf_i386), whose output is cross-checked against readelf and nm.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ElfError, ET_EXEC, ET_REL, PF_R, PF_W, PF_X, PT_LOAD, R_386_32, R_386_PC32,
  SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHN_ABS, SHN_UNDEF, SHT_NOBITS, SHT_PROGBITS, SHT_REL,
  SHT_STRTAB, SHT_SYMTAB, STB_GLOBAL, STB_LOCAL, STT_FUNC, STT_NOTYPE, STT_OBJECT, STT_SECTION,
  findSymbol, makeSymbolizer, parseElf32, symbolize, validateLoadable,
  type Elf32,
} from '../src/elf/elf32.js';

// ---- a minimal ELF writer for synthetic fixtures ---------------------------------

interface SecSpec {
  name: string;
  type: number;
  flags?: number;
  data?: Uint8Array;
  /** SHT_NOBITS size. */
  size?: number;
  align?: number;
}
interface SymSpec {
  name: string;
  /** Offset inside `section` (the writer adds the section address in executables). */
  value: number;
  size?: number;
  type: number;
  bind: number;
  /** Section name, or a special index (SHN_UNDEF, SHN_ABS). */
  section: string | number;
}
interface RelSpec {
  target: string;
  offset: number;
  type: number;
  /** Symbol name, or a raw index. */
  sym: string | number;
}
interface BuildSpec {
  type: number;
  /** Entry as offset inside .text (ET_EXEC). */
  entry?: number;
  sections: SecSpec[];
  symbols?: SymSpec[];
  rels?: RelSpec[];
}

const BASE = 0x08048000;

function strtab(names: string[]): { bytes: Uint8Array; offsets: Map<string, number> } {
  const offsets = new Map<string, number>();
  const parts: number[] = [0];
  for (const n of names) {
    if (n === '' || offsets.has(n)) continue;
    offsets.set(n, parts.length);
    for (const c of Buffer.from(n, 'utf8')) parts.push(c);
    parts.push(0);
  }
  offsets.set('', 0);
  return { bytes: Uint8Array.from(parts), offsets };
}

/** Lays out: Ehdr, Phdr (ET_EXEC: one PT_LOAD over the whole image), section data, Shdrs. */
function buildElf(spec: BuildSpec): Uint8Array {
  const exec = spec.type === ET_EXEC;
  const syms = [...(spec.symbols ?? [])].sort((a, b) => (a.bind === STB_LOCAL ? 0 : 1) - (b.bind === STB_LOCAL ? 0 : 1));
  const nLocal = 1 + syms.filter((s) => s.bind === STB_LOCAL).length;
  const relTargets = [...new Set((spec.rels ?? []).map((r) => r.target))];

  interface Sec { name: string; type: number; flags: number; data: Uint8Array | null; size: number; align: number;
    link: number; info: number; entsize: number; offset: number; addr: number }
  const secs: Sec[] = [];
  const add = (s: Partial<Sec> & { name: string; type: number }): Sec => {
    const full: Sec = { flags: 0, data: null, size: 0, align: 4, link: 0, info: 0, entsize: 0, offset: 0, addr: 0, ...s };
    if (full.data) full.size = full.data.length;
    secs.push(full);
    return full;
  };
  add({ name: '', type: 0, align: 0 });
  for (const s of spec.sections) add({ name: s.name, type: s.type, flags: s.flags ?? 0, data: s.data ?? null, size: s.size ?? 0, align: s.align ?? 4 });
  const index = (name: string): number => {
    const i = secs.findIndex((s) => s.name === name);
    if (i < 0) throw new Error(`no section ${name}`);
    return i;
  };
  const relSecs = relTargets.map((t) => add({ name: `.rel${t}`, type: SHT_REL, entsize: 8, info: index(t),
    size: 8 * spec.rels!.filter((r) => r.target === t).length }));
  const symtab = add({ name: '.symtab', type: SHT_SYMTAB, entsize: 16, info: nLocal, size: 16 * (syms.length + 1) });
  const str = strtab(syms.map((s) => s.name));
  const strsec = add({ name: '.strtab', type: SHT_STRTAB, data: str.bytes, align: 1 });
  symtab.link = secs.indexOf(strsec);
  for (const r of relSecs) r.link = secs.indexOf(symtab);
  const shstr = strtab([...secs.map((s) => s.name), '.shstrtab']);
  const shstrsec = add({ name: '.shstrtab', type: SHT_STRTAB, data: shstr.bytes, align: 1 });

  // Layout.
  const phnum = exec ? 1 : 0;
  let off = 52 + 32 * phnum;
  let fileEnd = 0;
  let memEnd = 0;
  for (const s of secs.slice(1)) {
    if (s.align > 1) off = Math.ceil(off / s.align) * s.align;
    s.offset = off;
    if (exec && (s.flags & SHF_ALLOC)) {
      s.addr = BASE + off;
      memEnd = Math.max(memEnd, off + s.size);
      if (s.type !== SHT_NOBITS) fileEnd = Math.max(fileEnd, off + s.size);
    }
    if (s.type !== SHT_NOBITS) off += s.size;
  }
  off = Math.ceil(off / 4) * 4;
  const shoff = off;
  const total = shoff + 40 * secs.length;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);

  // Contents that depend on the layout.
  const symIndex = (s: string | number): number => {
    if (typeof s === 'number') return s;
    const i = syms.findIndex((x) => x.name === s);
    if (i < 0) throw new Error(`no symbol ${s}`);
    return i + 1;
  };
  syms.forEach((s, i) => {
    const o = symtab.offset + 16 * (i + 1);
    const shndx = typeof s.section === 'number' ? s.section : index(s.section);
    const secAddr = typeof s.section === 'number' ? 0 : secs[shndx]!.addr;
    dv.setUint32(o, str.offsets.get(s.name)!, true);
    dv.setUint32(o + 4, secAddr + s.value, true);
    dv.setUint32(o + 8, s.size ?? 0, true);
    out[o + 12] = (s.bind << 4) | s.type;
    dv.setUint16(o + 14, shndx, true);
  });
  relTargets.forEach((t, k) => {
    spec.rels!.filter((r) => r.target === t).forEach((r, i) => {
      const o = relSecs[k]!.offset + 8 * i;
      dv.setUint32(o, r.offset, true);
      dv.setUint32(o + 4, (symIndex(r.sym) << 8) | r.type, true);
    });
  });
  for (const s of secs) if (s.data && s.type !== SHT_NOBITS) out.set(s.data, s.offset);

  // Ehdr.
  out.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0);
  dv.setUint16(16, spec.type, true);
  dv.setUint16(18, 3, true);
  dv.setUint32(20, 1, true);
  dv.setUint32(24, exec ? secs[index('.text')]!.addr + (spec.entry ?? 0) : 0, true);
  dv.setUint32(28, exec ? 52 : 0, true);
  dv.setUint32(32, shoff, true);
  dv.setUint16(40, 52, true);
  dv.setUint16(42, exec ? 32 : 0, true);
  dv.setUint16(44, phnum, true);
  dv.setUint16(46, 40, true);
  dv.setUint16(48, secs.length, true);
  dv.setUint16(50, secs.indexOf(shstrsec), true);
  if (exec) {
    dv.setUint32(52, PT_LOAD, true);
    dv.setUint32(56, 0, true);
    dv.setUint32(60, BASE, true);
    dv.setUint32(64, BASE, true);
    dv.setUint32(68, fileEnd, true);
    dv.setUint32(72, memEnd, true);
    dv.setUint32(76, PF_R | PF_W | PF_X, true);
    dv.setUint32(80, 0x1000, true);
  }
  secs.forEach((s, i) => {
    const o = shoff + 40 * i;
    dv.setUint32(o, shstr.offsets.get(s.name)!, true);
    dv.setUint32(o + 4, s.type, true);
    dv.setUint32(o + 8, s.flags, true);
    dv.setUint32(o + 12, s.addr, true);
    dv.setUint32(o + 16, i === 0 ? 0 : s.offset, true);
    dv.setUint32(o + 20, s.size, true);
    dv.setUint32(o + 24, s.link, true);
    dv.setUint32(o + 28, s.info, true);
    dv.setUint32(o + 32, s.align, true);
    dv.setUint32(o + 36, s.entsize, true);
  });
  return out;
}

// mov $1,%eax; inc %eax; cmp $10,%eax; jne -8; hlt; ret; (then a sized function) push %ebp; pop %ebp; ret
const TEXT = Uint8Array.from([0xb8, 1, 0, 0, 0, 0x40, 0x83, 0xf8, 0x0a, 0x75, 0xfa, 0xf4, 0xc3, 0x55, 0x5d, 0xc3]);

function syntheticExec(): Uint8Array {
  return buildElf({
    type: ET_EXEC,
    entry: 0,
    sections: [
      { name: '.text', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, data: TEXT, align: 16 },
      { name: '.data', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_WRITE, data: Uint8Array.from([5, 0, 0, 0]) },
      { name: '.bss', type: SHT_NOBITS, flags: SHF_ALLOC | SHF_WRITE, size: 64 },
    ],
    symbols: [
      { name: '_start', value: 0, type: STT_NOTYPE, bind: STB_GLOBAL, section: '.text' },
      { name: 'loop', value: 5, type: STT_NOTYPE, bind: STB_LOCAL, section: '.text' },
      { name: 'sized_fn', value: 13, size: 3, type: STT_FUNC, bind: STB_GLOBAL, section: '.text' },
      { name: 'val', value: 0, size: 4, type: STT_OBJECT, bind: STB_LOCAL, section: '.data' },
      { name: 'buf', value: 0, size: 64, type: STT_OBJECT, bind: STB_GLOBAL, section: '.bss' },
      { name: 'CONST', value: 1234, type: STT_NOTYPE, bind: STB_GLOBAL, section: SHN_ABS },
    ],
  });
}

function syntheticRel(): Uint8Array {
  // call ext; mov $val,%eax; ret
  const text = Uint8Array.from([0xe8, 0xfc, 0xff, 0xff, 0xff, 0xb8, 0, 0, 0, 0, 0xc3]);
  return buildElf({
    type: ET_REL,
    sections: [
      { name: '.text', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, data: text },
      { name: '.data', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_WRITE, data: Uint8Array.from([1, 2, 3, 4]) },
    ],
    symbols: [
      { name: '.data', value: 0, type: STT_SECTION, bind: STB_LOCAL, section: '.data' },
      { name: 'init_module', value: 0, size: 11, type: STT_FUNC, bind: STB_GLOBAL, section: '.text' },
      { name: 'ext', value: 0, type: STT_NOTYPE, bind: STB_GLOBAL, section: SHN_UNDEF },
    ],
    rels: [
      { target: '.text', offset: 1, type: R_386_PC32, sym: 'ext' },
      { target: '.text', offset: 6, type: R_386_32, sym: '.data' },
    ],
  });
}

// ---- helpers ---------------------------------------------------------------------

/** Run every accessor of a parsed file; together with parsing, only ElfError may escape. */
function exercise(elf: Elf32): void {
  for (const s of elf.sections) elf.sectionData(s);
  for (const p of elf.programHeaders) elf.segmentData(p);
  for (const t of elf.relocations) for (const e of t.entries) void e.symbol?.name;
  const sym = makeSymbolizer(elf);
  sym(elf.header.entry);
  for (const s of elf.symbols.slice(0, 200)) {
    sym(s.value);
    sym(s.value + 1);
    findSymbol(elf, s.name);
  }
  symbolize(elf, 0xffffffff);
  symbolize(elf, 0, { sectionBase: (i) => (i % 2 ? i * 0x1000 : undefined) });
  try {
    validateLoadable(elf, { lo: 0x1000, hi: 0x1_0000_0000 });
  } catch (e) {
    if (!(e instanceof ElfError)) throw e;
  }
}

/** Parse + exercise; returns 'ok' or the ElfError message; rethrows anything else. */
function parseOrElfError(bytes: Uint8Array): string {
  try {
    exercise(parseElf32(bytes));
    return 'ok';
  } catch (e) {
    if (e instanceof ElfError) return e.message;
    throw e;
  }
}

function expectElfError(bytes: Uint8Array, pattern: RegExp): void {
  let caught: unknown;
  try {
    parseElf32(bytes);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ElfError);
  expect((caught as Error).message).toMatch(pattern);
}

function patch(bytes: Uint8Array, f: (dv: DataView, b: Uint8Array) => void): Uint8Array {
  const copy = bytes.slice();
  f(new DataView(copy.buffer), copy);
  return copy;
}

const INTERESTING = [0, 1, 2, 3, 4, 7, 8, 16, 32, 40, 52, 0x7f, 0x80, 0xff, 0x100, 0x1000, 0x7fff, 0x8000, 0xfff1,
  0xfff2, 0xff00, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff];

/**
 * Random mutations of a valid file. Half of them target the structures the
 * parser interprets (ELF header, program/section header tables, symbol and
 * relocation tables) with "interesting" 8/16/32-bit values, since random
 * bytes in code or string data are rarely noticed at all.
 */
function mutationArb(base: Uint8Array) {
  const elf = parseElf32(base);
  const regions: [number, number][] = [[0, 52]];
  if (elf.header.phnum) regions.push([elf.header.phoff, elf.header.phnum * elf.header.phentsize]);
  if (elf.header.shnum) regions.push([elf.header.shoff, elf.header.shnum * elf.header.shentsize]);
  for (const s of elf.sections) {
    if ([SHT_SYMTAB, SHT_REL].includes(s.type) && s.size > 0) regions.push([s.offset, s.size]);
  }
  const pos = fc.oneof(
    fc.nat(base.length - 1),
    fc.constantFrom(...regions).chain(([o, n]) => fc.integer({ min: o, max: Math.max(o, o + n - 1) })),
  );
  const value = fc.oneof(fc.nat(0xffffffff), fc.constantFrom(...INTERESTING, base.length, base.length - 1));
  const one = fc.record({ pos, value, width: fc.constantFrom(1, 2, 4) });
  return fc.array(one, { minLength: 1, maxLength: 6 }).map((muts) =>
    patch(base, (dv) => {
      for (const m of muts) {
        const p = Math.min(m.pos, base.length - m.width);
        if (m.width === 1) dv.setUint8(p, m.value & 0xff);
        else if (m.width === 2) dv.setUint16(p, m.value & 0xffff, true);
        else dv.setUint32(p, m.value >>> 0, true);
      }
    }),
  );
}

function fuzz(base: Uint8Array, seed: number, numRuns = 500): { ok: number; errors: number } {
  const stats = { ok: 0, errors: 0 };
  fc.assert(
    fc.property(mutationArb(base), (bytes) => {
      if (parseOrElfError(bytes) === 'ok') stats.ok++;
      else stats.errors++;
    }),
    { seed, numRuns },
  );
  return stats;
}

function everyPrefix(bytes: Uint8Array): void {
  for (let n = 0; n <= bytes.length; n++) {
    const res = parseOrElfError(bytes.subarray(0, n));
    if (n < bytes.length && res !== 'ok') expect(res.length).toBeGreaterThan(0);
  }
  expect(parseOrElfError(bytes)).toBe('ok');
}

// ---- synthetic files: always run -----------------------------------------------------

describe('parseElf32 on synthetic files', () => {
  it('reads the header, the PT_LOAD segment and the sections of an executable', () => {
    const bytes = syntheticExec();
    const elf = parseElf32(bytes);
    expect(elf.header.type).toBe(ET_EXEC);
    expect(elf.header.typeName).toBe('ET_EXEC');
    expect(elf.header.machine).toBe(3);
    const text = elf.sectionByName('.text')!;
    expect(elf.header.entry).toBe(text.addr);
    expect(elf.programHeaders).toHaveLength(1);
    const load = elf.programHeaders[0]!;
    expect(load).toMatchObject({ type: PT_LOAD, typeName: 'PT_LOAD', offset: 0, vaddr: BASE, flags: 7 });
    // .bss is last and occupies no file space: it is the memsz - filesz tail of the segment.
    expect(elf.sectionByName('.bss')!.offset).toBe(load.filesz);
    expect(load.memsz).toBe(load.filesz + 64);
    expect(elf.sections.map((s) => s.name)).toEqual(['', '.text', '.data', '.bss', '.symtab', '.strtab', '.shstrtab']);
    expect(Array.from(elf.sectionData(text))).toEqual(Array.from(TEXT));
    expect(elf.sectionData(elf.sectionByName('.bss')!)).toHaveLength(0);
    expect(elf.sectionData(0)).toHaveLength(0);
    expect(elf.segmentData(0)).toEqual(bytes.subarray(0, load.filesz));
    expect(elf.sectionByName('.nope')).toBeNull();
    expect(elf.interpreter).toBeNull();
  });

  it('returns copies, so callers cannot corrupt the parsed file', () => {
    const bytes = syntheticExec();
    const elf = parseElf32(bytes);
    elf.sectionData(1).fill(0);
    bytes.fill(0);
    expect(Array.from(elf.sectionData(1))).toEqual(Array.from(TEXT));
  });

  it('reads symbols with their section names, types and bindings', () => {
    const elf = parseElf32(syntheticExec());
    expect(elf.symbols[0]!.index).toBe(0);
    expect(elf.symbols[0]!.name).toBe('');
    const text = elf.sectionByName('.text')!;
    expect(findSymbol(elf, '_start')).toMatchObject({ value: text.addr, type: STT_NOTYPE, bind: STB_GLOBAL, sectionName: '.text' });
    expect(findSymbol(elf, 'loop')).toMatchObject({ value: text.addr + 5, bind: STB_LOCAL });
    expect(findSymbol(elf, 'buf')).toMatchObject({ size: 64, type: STT_OBJECT, sectionName: '.bss' });
    expect(findSymbol(elf, 'CONST')).toMatchObject({ value: 1234, shndx: SHN_ABS, sectionName: null });
    expect(findSymbol(elf, 'missing')).toBeNull();
  });

  it('symbolizes sized functions and unsized assembly labels', () => {
    const elf = parseElf32(syntheticExec());
    const t = elf.sectionByName('.text')!.addr;
    expect(symbolize(elf, t)).toMatchObject({ name: '_start', offset: 0, size: 0 });
    expect(symbolize(elf, t + 4)).toMatchObject({ name: '_start', offset: 4 });
    expect(symbolize(elf, t + 7)).toMatchObject({ name: 'loop', offset: 2 });
    expect(symbolize(elf, t + 14)).toMatchObject({ name: 'sized_fn', offset: 1, size: 3, address: t + 13 });
    // Past the sized function: no label follows it, so nothing contains the address.
    expect(symbolize(elf, t + 16)).toBeNull();
    expect(symbolize(elf, t - 1)).toBeNull();
    // Data symbols are not functions.
    expect(symbolize(elf, elf.sectionByName('.data')!.addr)).toBeNull();
  });

  it('reads the relocations of a relocatable object', () => {
    const elf = parseElf32(syntheticRel());
    expect(elf.header.type).toBe(ET_REL);
    expect(elf.programHeaders).toHaveLength(0);
    expect(elf.relocations).toHaveLength(1);
    const rt = elf.relocations[0]!;
    expect(rt.name).toBe('.rel.text');
    expect(rt.kind).toBe('rel');
    expect(elf.sections[rt.targetSection]!.name).toBe('.text');
    expect(elf.sections[rt.symbolTable]!.name).toBe('.symtab');
    expect(rt.entries.map((e) => [e.offset, e.typeName, e.symbol?.name || e.symbol?.sectionName])).toEqual([
      [1, 'R_386_PC32', 'ext'],
      [6, 'R_386_32', '.data'],
    ]);
    expect(rt.entries[1]!.symbol!.type).toBe(STT_SECTION);
    expect(rt.entries[0]!.addend).toBeUndefined();
  });

  it('symbolizes a loaded module through sectionBase', () => {
    const elf = parseElf32(syntheticRel());
    const textIdx = elf.sectionByName('.text')!.index;
    const base = (i: number) => (i === textIdx ? 0xc8000000 : undefined);
    expect(symbolize(elf, 0xc8000005, { sectionBase: base })).toMatchObject({ name: 'init_module', offset: 5 });
    expect(symbolize(elf, 0xc8000000 + 11, { sectionBase: base })).toBeNull();
  });

  it('validateLoadable checks segments against guest memory and the entry point', () => {
    const elf = parseElf32(syntheticExec());
    validateLoadable(elf, { lo: 0x1000, hi: 0xc0000000 });
    expect(() => validateLoadable(elf, { lo: 0, hi: BASE + 0x10 })).toThrow(
      /^segment 0 at 0x8048000 \+ 0x[0-9a-f]+ lies outside guest memory \[0x0, 0x8048010\)$/,
    );
    expect(() => validateLoadable(elf, { lo: 0x09000000, hi: 0xc0000000 })).toThrow(ElfError);
    expect(() => validateLoadable(parseElf32(syntheticRel()), { lo: 0, hi: 0xc0000000 })).toThrow(/ET_REL/);
    const badEntry = patch(syntheticExec(), (dv) => dv.setUint32(24, 0x1234, true));
    expect(() => validateLoadable(parseElf32(badEntry), { lo: 0, hi: 0xc0000000 })).toThrow(/entry point 0x1234/);
    const noX = patch(syntheticExec(), (dv) => dv.setUint32(52 + 24, PF_R | PF_W, true));
    expect(() => validateLoadable(parseElf32(noX), { lo: 0, hi: 0xc0000000 })).toThrow(/executable PT_LOAD/);
  });
});

describe('bad input', () => {
  it('empty file', () => expectElfError(new Uint8Array(0), /^not an ELF file \(file is empty\)$/));

  it('wrong magic', () => {
    expectElfError(Uint8Array.from([0x4d, 0x5a, 0x90, 0, 3, 0, 0, 0]), /not an ELF file \(bad magic 4d 5a 90 00/);
    expectElfError(new TextEncoder().encode('#!/bin/sh\necho hi\n'), /not an ELF file \(bad magic/);
    expectElfError(patch(syntheticExec(), (_, b) => { b[3] = 0x47; }), /bad magic 7f 45 4c 47/);
  });

  it('truncated identification', () => {
    expectElfError(Uint8Array.from([0x7f, 0x45, 0x4c]), /^truncated: file is 3 bytes/);
    expectElfError(Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]), /^truncated: file is 7 bytes.*identification/);
  });

  it('64-bit class', () => {
    expectElfError(patch(syntheticExec(), (_, b) => { b[4] = 2; }),
      /^ELF class 64-bit \(ELFCLASS64\), expected 32-bit \(ELFCLASS32\)$/);
    expectElfError(patch(syntheticExec(), (_, b) => { b[4] = 9; }), /invalid ELF class 9/);
  });

  it('big-endian header bytes', () => {
    // A big-endian EM_386 header as a PowerPC-style writer would lay it out.
    const be = patch(syntheticExec(), (dv, b) => {
      b[5] = 2;
      dv.setUint16(16, ET_EXEC, false);
      dv.setUint16(18, 3, false);
    });
    expectElfError(be, /^big-endian ELF \(ELFDATA2MSB\) not supported/);
    expectElfError(patch(syntheticExec(), (_, b) => { b[5] = 0; }), /invalid ELF data encoding 0/);
  });

  it('wrong machine and versions', () => {
    expectElfError(patch(syntheticExec(), (dv) => dv.setUint16(18, 62, true)), /^ELF machine 62 \(x86-64\), expected 3 \(EM_386\)$/);
    expectElfError(patch(syntheticExec(), (dv) => dv.setUint16(18, 40, true)), /^ELF machine 40 \(ARM\)/);
    expectElfError(patch(syntheticExec(), (_, b) => { b[6] = 2; }), /identification version 2/);
    expectElfError(patch(syntheticExec(), (dv) => dv.setUint32(20, 0, true)), /unsupported ELF version 0/);
  });

  it('header and table sizes', () => {
    expectElfError(syntheticExec().subarray(0, 40), /^truncated: file is 40 bytes, too short for the 52-byte ELF header$/);
    expectElfError(patch(syntheticExec(), (dv) => dv.setUint16(40, 20, true)), /e_ehsize=20/);
    expectElfError(patch(syntheticExec(), (dv) => dv.setUint16(42, 16, true)), /e_phentsize=16 is smaller than Elf32_Phdr/);
    expectElfError(patch(syntheticExec(), (dv) => dv.setUint16(46, 20, true)), /e_shentsize=20 is smaller than Elf32_Shdr/);
    expectElfError(patch(syntheticExec(), (dv) => dv.setUint32(28, 0, true)), /program header table at offset 0x0 overlaps the ELF header/);
    const bytes = syntheticExec();
    expectElfError(patch(bytes, (dv) => dv.setUint32(32, bytes.length - 8, true)),
      new RegExp(`^truncated: section header( table)? .* extends past end of file \\(${bytes.length} bytes\\)$`));
    expectElfError(patch(bytes, (dv) => dv.setUint32(28, 0xfffffff0, true)), /^truncated: program header table .* extends past end of file/);
    // e_shnum 0 with a section header table means "count in section 0's sh_size" (gABI), which is 0 here.
    expectElfError(patch(bytes, (dv) => dv.setUint16(48, 0, true)), /e_shstrndx=6 is out of range \(0 sections\)/);
  });

  it('segments and sections outside the file, filesz > memsz', () => {
    const bytes = syntheticExec();
    expectElfError(patch(bytes, (dv) => dv.setUint32(52 + 16, bytes.length + 1, true)), /^truncated: segment 0 \(PT_LOAD\)/);
    expectElfError(patch(bytes, (dv) => dv.setUint32(52 + 20, 1, true)), /p_filesz 0x[0-9a-f]+ larger than p_memsz 0x1/);
    expectElfError(patch(bytes, (dv) => { dv.setUint32(52 + 8, 0xffffffc0, true); }), /wraps around the 32-bit address space/);
    const elf = parseElf32(bytes);
    const text = elf.sectionByName('.text')!;
    const shdr = elf.header.shoff + 40 * text.index;
    expectElfError(patch(bytes, (dv) => dv.setUint32(shdr + 16, 0xffffff00, true)), /^truncated: section 1 \(\.text\) at offset 0xffffff00/);
    // A huge .bss is fine: SHT_NOBITS occupies no file space.
    const bss = elf.sectionByName('.bss')!;
    const big = parseElf32(patch(bytes, (dv) => dv.setUint32(elf.header.shoff + 40 * bss.index + 20, 0xfffffff0, true)));
    expect(big.sectionData(bss.index)).toHaveLength(0);
  });

  it('string tables and names', () => {
    const bytes = syntheticExec();
    const elf = parseElf32(bytes);
    const { shoff } = elf.header;
    expectElfError(patch(bytes, (dv) => dv.setUint16(50, 99, true)), /e_shstrndx=99 is out of range \(7 sections\)/);
    expectElfError(patch(bytes, (dv) => dv.setUint16(50, 1, true)), /string table \(section 1\) has type SHT_PROGBITS, expected SHT_STRTAB/);
    expectElfError(patch(bytes, (dv) => dv.setUint32(shoff + 40, 0x10000, true)), /^section 1: name offset 0x10000 is outside the section header string table/);
    const symtab = elf.sectionByName('.symtab')!;
    expectElfError(patch(bytes, (dv) => dv.setUint32(symtab.offset + 16, 0x5000, true)), /symbol 1: name offset 0x5000 is outside string table/);
    // Remove the terminating NUL of the last symbol name.
    const strtab = elf.sectionByName('.strtab')!;
    expectElfError(patch(bytes, (_, b) => { b[strtab.offset + strtab.size - 1] = 0x41; }), /not NUL-terminated/);
    expectElfError(patch(bytes, (dv) => dv.setUint32(shoff + 40 * symtab.index + 24, 1, true)),
      /linked string table section 1 \(\.text\) has type SHT_PROGBITS/);
    expectElfError(patch(bytes, (dv) => dv.setUint32(shoff + 40 * symtab.index + 36, 24, true)), /sh_entsize 24, expected 16/);
    expectElfError(patch(bytes, (dv) => dv.setUint16(symtab.offset + 16 + 14, 40, true)), /has section index 40, but the file has only 7 sections/);
  });

  it('relocation tables', () => {
    const bytes = syntheticRel();
    const elf = parseElf32(bytes);
    const rt = elf.relocations[0]!;
    const rs = elf.sections[rt.section]!;
    const sh = elf.header.shoff + 40 * rs.index;
    expectElfError(patch(bytes, (dv) => dv.setUint32(rs.offset + 4, (77 << 8) | R_386_32, true)),
      /entry 0 \(R_386_32\) refers to symbol 77, but the symbol table has 4 entries/);
    expectElfError(patch(bytes, (dv) => dv.setUint32(rs.offset, 9, true)),
      /entry 0 \(R_386_PC32\): offset 0x9 \+ 4 is past the end of section 1 \(\.text\) \(0xb bytes\)/);
    expectElfError(patch(bytes, (dv) => dv.setUint32(sh + 28, 50, true)), /target section \(sh_info\) 50 is out of range/);
    expectElfError(patch(bytes, (dv) => dv.setUint32(sh + 24, 1, true)), /linked section 1 \(\.text\) has type SHT_PROGBITS, expected SHT_SYMTAB/);
    expectElfError(patch(bytes, (dv) => dv.setUint32(sh + 24, 0, true)), /refers to symbol \d+ but the section links no symbol table/);
    expectElfError(patch(bytes, (dv) => dv.setUint32(sh + 20, 12, true)), /size 0xc is not a multiple of 8/);
  });

  it('only ElfError escapes for every prefix of a small valid file', () => {
    everyPrefix(syntheticExec());
    everyPrefix(syntheticRel());
  });

  it('only ElfError escapes for random mutations (fast-check, fixed seed)', () => {
    const a = fuzz(syntheticExec(), 0x5eed);
    const b = fuzz(syntheticRel(), 0xe1f);
    // Sanity: the mutations exercise both outcomes.
    expect(a.errors).toBeGreaterThan(50);
    expect(a.ok).toBeGreaterThan(10);
    expect(b.errors).toBeGreaterThan(50);
  });

  it('completely random bytes, with and without a valid magic', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (data, magic) => {
        const b = data.slice();
        if (magic && b.length >= 7) b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0);
        if (magic && b.length >= 20) { b[18] = 3; b[19] = 0; }
        parseOrElfError(b);
      }),
      { seed: 1234, numRuns: 500 },
    );
  });
});

// ---- real toolchain output -----------------------------------------------------------

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const workDir = mkdtempSync(join(tmpdir(), 'kmemsim-elf-'));
const toolchain = (() => {
  try {
    writeFileSync(join(workDir, 'probe.c'), 'void _start(void) { for (;;); }\n');
    run('gcc', ['-m32', '-ffreestanding', '-nostdlib', '-fno-pic', '-static', '-O2', 'probe.c', '-o', 'probe'], workDir);
    run('readelf', ['-h', 'probe'], workDir);
    run('nm', ['probe'], workDir);
    return true;
  } catch {
    return false;
  }
})();
if (!toolchain) {
  console.warn('elf.test: gcc -m32 / readelf / nm not usable on this host; skipping the toolchain cross-checks');
}

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const PROGRAM_C = `
int counter;
int table[4] = {1, 2, 3, 4};
static int helper(int x) { return x * 3 + table[x & 3]; }
__attribute__((noinline)) int compute(int a) { counter += helper(a); return counter; }
void _start(void) { compute(5); for (;;) __asm__ volatile("hlt"); }
`;

const MODULE_C = `
extern int printk(const char *fmt, ...);
extern int shared_counter;
static char buf[32];
int init_module(void) { buf[0] = 1; shared_counter++; return printk("hello %s\\n", buf); }
void cleanup_module(void) { printk("bye\\n"); }
`;

const ASM_S = `
.globl _start
.text
_start:
  mov $1, %eax
loop:
  inc %eax
  cmp $10, %eax
  jne loop
  call func
  hlt
func:
  ret
.data
val: .long 5
`;

interface ReadelfSection { index: number; name: string; type: string; addr: number; offset: number; size: number }

function readelfSections(file: string): ReadelfSection[] {
  const out: ReadelfSection[] = [];
  for (const line of run('readelf', ['-SW', file], workDir).split('\n')) {
    const m = /^\s*\[\s*(\d+)\]\s(.*?)\s+([A-Z_0-9]+)\s+([0-9a-f]{8})\s+([0-9a-f]{6,})\s+([0-9a-f]{6,})\s/.exec(line);
    if (m) {
      out.push({ index: +m[1]!, name: m[2]!.trim(), type: m[3]!, addr: parseInt(m[4]!, 16), offset: parseInt(m[5]!, 16), size: parseInt(m[6]!, 16) });
    }
  }
  return out;
}

function readelfRelocs(file: string): Map<string, { offset: number; info: number; type: string; sym: string }[]> {
  const tables = new Map<string, { offset: number; info: number; type: string; sym: string }[]>();
  let cur: { offset: number; info: number; type: string; sym: string }[] | null = null;
  for (const line of run('readelf', ['-rW', file], workDir).split('\n')) {
    const h = /^Relocation section '([^']+)'/.exec(line);
    if (h) {
      cur = [];
      tables.set(h[1]!, cur);
      continue;
    }
    const m = /^([0-9a-f]{8})\s+([0-9a-f]{8})\s+(\S+)(?:\s+[0-9a-f]{8}\s+(\S+))?/.exec(line);
    if (m && cur) cur.push({ offset: parseInt(m[1]!, 16), info: parseInt(m[2]!, 16), type: m[3]!, sym: m[4] ?? '' });
  }
  return tables;
}

function nmSymbols(file: string): { addr: number; kind: string; name: string }[] {
  return run('nm', [file], workDir)
    .split('\n')
    .map((l) => /^([0-9a-f]{8}) (\S) (\S+)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ addr: parseInt(m[1]!, 16), kind: m[2]!, name: m[3]! }));
}

describe.skipIf(!toolchain)('toolchain output (gcc -m32, as, ld) cross-checked with readelf and nm', () => {
  const file = (name: string) => new Uint8Array(readFileSync(join(workDir, name)));

  beforeAll(() => {
    writeFileSync(join(workDir, 'prog.c'), PROGRAM_C);
    writeFileSync(join(workDir, 'mod.c'), MODULE_C);
    writeFileSync(join(workDir, 'a.s'), ASM_S);
    run('gcc', ['-m32', '-ffreestanding', '-nostdlib', '-fno-pic', '-static', '-O2', 'prog.c', '-o', 'prog'], workDir);
    run('gcc', ['-m32', '-fno-pic', '-O2', '-c', 'mod.c', '-o', 'mod.o'], workDir);
    run('gcc', ['-m32', '-O2', '-c', 'mod.c', '-o', 'mod-pic.o'], workDir); // distro default: PIC (GOT/PLT relocations)
    run('as', ['--32', 'a.s', '-o', 'a.o'], workDir);
    run('ld', ['-m', 'elf_i386', 'a.o', '-o', 'a'], workDir);
    run('ld', ['-m', 'elf_i386', '-N', 'a.o', '-o', 'a-small'], workDir);
  });

  it('static executable: entry point, PT_LOAD segments, sections', () => {
    const elf = parseElf32(file('prog'));
    const hdr = run('readelf', ['-hW', 'prog'], workDir);
    expect(elf.header.entry).toBe(parseInt(/Entry point address:\s+0x([0-9a-f]+)/.exec(hdr)![1]!, 16));
    expect(elf.header.type).toBe(ET_EXEC);

    const loads = run('readelf', ['-lW', 'prog'], workDir)
      .split('\n')
      .map((l) => /^\s*LOAD\s+0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) (.{3}) 0x([0-9a-f]+)/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => {
        const fl = m[6]!;
        return {
          offset: parseInt(m[1]!, 16), vaddr: parseInt(m[2]!, 16), paddr: parseInt(m[3]!, 16),
          filesz: parseInt(m[4]!, 16), memsz: parseInt(m[5]!, 16),
          flags: (fl.includes('R') ? PF_R : 0) | (fl.includes('W') ? PF_W : 0) | (fl.includes('E') ? PF_X : 0),
          align: parseInt(m[7]!, 16),
        };
      });
    expect(loads.length).toBeGreaterThan(0);
    const ours = elf.programHeaders.filter((p) => p.type === PT_LOAD)
      .map(({ offset, vaddr, paddr, filesz, memsz, flags, align }) => ({ offset, vaddr, paddr, filesz, memsz, flags, align }));
    expect(ours).toEqual(loads);

    const secs = readelfSections('prog');
    expect(elf.sections.map((s) => s.name)).toEqual(secs.map((s) => s.name));
    for (const s of secs) {
      expect(elf.sections[s.index]).toMatchObject({ name: s.name, addr: s.addr, offset: s.offset, size: s.size });
    }
    expect(elf.sectionByName('.bss')!.type).toBe(SHT_NOBITS);
    const text = elf.sectionByName('.text')!;
    expect(elf.sectionData(text)).toEqual(file('prog').subarray(text.offset, text.offset + text.size));
    validateLoadable(elf, { lo: 0x1000, hi: 0xc0000000 });
    expect(() => validateLoadable(elf, { lo: 0x1000, hi: 0x08048000 })).toThrow(/lies outside guest memory/);
  });

  it('symbols match nm, and symbolize finds the containing function', () => {
    const elf = parseElf32(file('prog'));
    const nm = nmSymbols('prog');
    expect(nm.some((s) => s.name === 'compute')).toBe(true);
    for (const s of nm) {
      const sym = findSymbol(elf, s.name);
      expect(sym, s.name).not.toBeNull();
      expect(sym!.value, s.name).toBe(s.addr);
    }
    const compute = findSymbol(elf, 'compute')!;
    expect(compute.type).toBe(STT_FUNC);
    expect(compute.sectionName).toBe('.text');
    expect(symbolize(elf, compute.value + 3)).toMatchObject({ name: 'compute', offset: 3, size: compute.size });
    expect(symbolize(elf, compute.value + compute.size - 1)?.name).toBe('compute');
    expect(symbolize(elf, elf.header.entry)?.name).toBe('_start');
    const counter = findSymbol(elf, 'counter')!;
    expect(counter.type).toBe(STT_OBJECT);
    expect(counter.sectionName).toBe('.bss');
  });

  it('relocatable objects: relocations match readelf -r (non-PIC and PIC)', () => {
    for (const name of ['mod.o', 'mod-pic.o']) {
      const elf = parseElf32(file(name));
      expect(elf.header.type).toBe(ET_REL);
      const expected = readelfRelocs(name);
      expect(elf.relocations.map((t) => t.name)).toEqual([...expected.keys()]);
      for (const t of elf.relocations) {
        const ref = expected.get(t.name)!;
        expect(elf.sections[t.targetSection]!.name).toBe(t.name.slice('.rel'.length));
        expect(t.entries.map((e) => ({
          offset: e.offset,
          info: ((e.symbolIndex << 8) | e.type) >>> 0,
          type: e.typeName,
          sym: e.symbol ? e.symbol.name || e.symbol.sectionName || '' : '',
        }))).toEqual(ref);
      }
    }
    const mod = parseElf32(file('mod.o'));
    const rel = mod.relocations.find((t) => t.name === '.rel.text')!;
    const printk = rel.entries.filter((e) => e.symbol?.name === 'printk');
    expect(printk.length).toBe(2);
    expect(printk.every((e) => e.type === R_386_PC32)).toBe(true);
    expect(findSymbol(mod, 'printk')!.shndx).toBe(SHN_UNDEF);
    expect(findSymbol(mod, 'init_module')).toMatchObject({ type: STT_FUNC, bind: STB_GLOBAL, sectionName: '.text' });
    expect(() => validateLoadable(mod, { lo: 0, hi: 0xffffffff })).toThrow(/ET_REL/);
  });

  it('assembly labels (unsized STT_NOTYPE) symbolize; ld -N output parses', () => {
    for (const name of ['a', 'a-small']) {
      const elf = parseElf32(file(name));
      const start = findSymbol(elf, '_start')!;
      const loop = findSymbol(elf, 'loop')!;
      const func = findSymbol(elf, 'func')!;
      for (const s of nmSymbols(name)) expect(findSymbol(elf, s.name)!.value).toBe(s.addr);
      expect(start.size).toBe(0);
      expect(symbolize(elf, start.value + 2)).toMatchObject({ name: '_start', offset: 2 });
      expect(symbolize(elf, loop.value + 3)).toMatchObject({ name: 'loop', offset: 3 });
      expect(symbolize(elf, func.value)).toMatchObject({ name: 'func', offset: 0 });
      expect(symbolize(elf, findSymbol(elf, 'val')!.value)).toBeNull();
      validateLoadable(elf, { lo: 0x1000, hi: 0xc0000000 });
    }
  });

  it('dynamically linked executable: PT_INTERP, .dynsym and .rel.dyn/.rel.plt match readelf', () => {
    writeFileSync(join(workDir, 'lib.c'), 'int libval = 3; int libfn(int x) { return x + libval; }\n');
    writeFileSync(join(workDir, 'main.c'),
      'extern int libfn(int); extern int libval; int *p = &libval; void _start(void) { libfn(*p); for (;;); }\n');
    run('gcc', ['-m32', '-fPIC', '-O2', '-c', 'lib.c', '-o', 'lib.o'], workDir);
    run('ld', ['-m', 'elf_i386', '-shared', 'lib.o', '-o', 'libx.so'], workDir);
    run('gcc', ['-m32', '-fno-pic', '-O2', '-c', 'main.c', '-o', 'main.o'], workDir);
    run('ld', ['-m', 'elf_i386', 'main.o', 'libx.so', '-o', 'dyn', '--dynamic-linker', '/lib/ld-linux.so.2'], workDir);
    const elf = parseElf32(file('dyn'));
    expect(elf.interpreter).toBe('/lib/ld-linux.so.2');
    expect(elf.symbolTables.size).toBe(2); // .symtab and .dynsym
    expect(elf.sections[elf.symbols[1]!.table]!.name).toBe('.symtab');
    const expected = readelfRelocs('dyn');
    expect(elf.relocations.map((t) => t.name)).toEqual([...expected.keys()]);
    for (const t of elf.relocations) {
      expect(elf.sections[t.symbolTable]!.name).toBe('.dynsym');
      expect(t.entries.map((e) => ({ offset: e.offset, info: ((e.symbolIndex << 8) | e.type) >>> 0, type: e.typeName, sym: e.symbol?.name ?? '' })))
        .toEqual(expected.get(t.name));
    }
    // .rel.dyn applies to the whole image: sh_info 0.
    expect(elf.relocations.find((t) => t.name === '.rel.dyn')!.targetSection).toBe(0);
    const so = parseElf32(file('libx.so'));
    expect(so.header.typeName).toBe('ET_DYN');
    expect(findSymbol(so, 'libfn')!.value).toBe(nmSymbols('libx.so').find((s) => s.name === 'libfn')!.addr);
    fuzz(file('dyn'), 777, 200);
  });

  it('a 64-bit object from gcc -m64 is rejected with a clear message', () => {
    try {
      run('gcc', ['-m64', '-c', 'mod.c', '-o', 'mod64.o'], workDir);
    } catch {
      console.warn('elf.test: gcc -m64 unavailable; skipping the real 64-bit object check');
      return;
    }
    expectElfError(file('mod64.o'), /^ELF class 64-bit \(ELFCLASS64\), expected 32-bit \(ELFCLASS32\)$/);
  });

  it('every prefix of small real files parses or throws ElfError', () => {
    everyPrefix(file('a-small'));
    everyPrefix(file('mod.o'));
    everyPrefix(file('prog'));
  });

  it('random mutations of real files only ever throw ElfError', () => {
    fuzz(file('mod.o'), 42);
    fuzz(file('prog'), 4242);
    fuzz(file('a-small'), 424242);
  });
});
