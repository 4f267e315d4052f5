/**
 * The module loader (src/kernel/module.ts) and the export table
 * (src/kernel/exports.ts): relocations of each type, COMMON and .bss,
 * alignment, unresolved symbols, refused relocation types, bad files.
 * The objects come from test/modules/*.S (as --32) and *.c (gcc).
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/kernel.js';
import { ExportTable, ExportError } from '../../src/kernel/exports.js';
import {
  loadObject, loadModule, unloadObject, allocContiguousFrames, ModuleLoadError, type LoadedObject,
} from '../../src/kernel/module.js';
import { callGuest } from '../../src/kernel/call.js';
import { PAGE_OFFSET } from '../../src/kernel/layout.js';
import { parseElf32 } from '../../src/elf/elf32.js';
import { assembled, compiled, fakeKernelApi, hasAs, hasGcc, NO_AS, NO_GCC, runtimeObject } from './helpers.js';

if (!hasAs) console.log(`test/module/loader.test.ts: ${NO_AS}`);
if (!hasGcc) console.log(`test/module/loader.test.ts: ${NO_GCC}`);

/** Load `bytes`; the error it throws, or fail. */
function loadError(k: Kernel, bytes: Uint8Array, exports = new ExportTable()): ModuleLoadError {
  try {
    const o = loadObject(k, bytes, { name: 'test.o', resolve: (n) => exports.resolve(n) });
    unloadObject(k, o);
  } catch (e) {
    if (e instanceof ModuleLoadError) return e;
    throw e;
  }
  throw new Error('expected the load to fail');
}

function sym(o: LoadedObject, name: string): number {
  const a = o.symbolAddress(name);
  if (a === undefined) throw new Error(`no symbol ${name}`);
  return a;
}

describe('ExportTable', () => {
  it('defines, resolves, lists and names addresses', () => {
    const t = new ExportTable();
    t.define('kmalloc', 0xc0007800);
    t.define('printk', -0x3fff8000 + 8); // negative int32 view of 0xc0008008
    t.define('kmalloc', 0xc0007800); // same address again: fine
    expect(t.resolve('kmalloc')).toBe(0xc0007800);
    expect(t.resolve('printk')).toBe(0xc0008008);
    expect(t.resolve('kfree')).toBeUndefined();
    expect(t.names()).toEqual(['kmalloc', 'printk']);
    expect(t.nameAt(0xc0008008)).toBe('printk');
    expect(t.nameAt(0xc0008008 | 0)).toBe('printk');
    expect(t.size).toBe(2);
    expect(ExportTable.from(new Map([['a', 1], ['b', 2]])).names()).toEqual(['a', 'b']);
  });

  it('refuses a duplicate export at another address and bad names or addresses', () => {
    const t = new ExportTable();
    t.define('kfree', 0x1000);
    expect(() => t.define('kfree', 0x2000)).toThrow(ExportError);
    expect(() => t.define('kfree', 0x2000)).toThrow(/duplicate export of kfree/);
    expect(() => t.define('', 1)).toThrow(/invalid symbol name/);
    expect(() => t.define('a b', 1)).toThrow(/invalid symbol name/);
    expect(() => t.define('x', 2 ** 32)).toThrow(/not a 32-bit value/);
    expect(() => t.define('x', 1.5)).toThrow(/not a 32-bit value/);
  });
});

describe.skipIf(!hasAs)('loader: relocations, sections, symbols (test/modules/relocs.S)', () => {
  const setup = (): { k: Kernel; o: LoadedObject; api: ReturnType<typeof fakeKernelApi> } => {
    const k = new Kernel();
    const api = fakeKernelApi(k);
    const exports = ExportTable.from(api.exports);
    const o = loadObject(k, assembled('relocs'), { name: 'relocs.o', resolve: (n) => exports.resolve(n) });
    return { k, o, api };
  };

  it('applies R_386_32 (with in-place addends), R_386_PC32 and R_386_PLT32', () => {
    const { k, o, api } = setup();
    const table = sym(o, 'table');
    const word = (i: number): number => k.mem.read32(table + 4 * i) >>> 0;
    const ext = api.exports.get('ext_fn')! >>> 0;
    expect(word(0)).toBe(sym(o, 'helper'));
    expect(word(1)).toBe(ext);
    expect(word(2)).toBe(0x11223344);
    expect(word(3)).toBe((table + 4) >>> 0);
    expect(word(4)).toBe((ext - (table + 16)) >>> 0); // S + A - P
    expect(word(5)).toBe(0); // undefined weak symbol
    expect(word(6)).toBe(sym(o, 'bss_x'));
    expect(word(7)).toBe(sym(o, 'common_b'));
    expect(word(8)).toBe(sym(o, 'ro_string'));
    expect(k.mem.readCString(word(8))).toBe('read-only');
    // The code: `call ext_fn@PLT` (R_386_PLT32) goes straight to the export, `call helper` (PC32) to helper.
    const init = sym(o, 'init_module');
    const callTarget = (at: number): number => (at + 5 + k.mem.read32(at + 1)) >>> 0;
    expect(k.mem.read(init, 1)[0]).toBe(0xe8);
    expect(callTarget(init)).toBe(ext);
    expect(callTarget(init + 7)).toBe(sym(o, 'helper'));
    // `movl table+8, %eax`: absolute address with addend 8.
    expect(k.mem.read(init + 14, 1)[0]).toBe(0xa1);
    expect(k.mem.read32(init + 15) >>> 0).toBe((table + 8) >>> 0);
  });

  it('runs the relocated code: init_module calls the export and the helper and reads the table', () => {
    const { k, o, api } = setup();
    const r = callGuest(k, sym(o, 'init_module'));
    expect(r.returned).toBe(true);
    expect(r.stop).toBeNull();
    expect(r.eax).toBe((0x100 + 0x1000 + 0x11223344) >>> 0);
    expect(api.extCalls).toBe(1);
    expect(k.mem.read32(sym(o, 'common_a'))).toBe(0x55);
  });

  it('lays out text, read-only data, data, .bss and COMMON with their alignments, in one direct-mapped region', () => {
    const { k, o } = setup();
    const names = o.sections.map((s) => s.name);
    expect(names.indexOf('.text')).toBeLessThan(names.indexOf('.rodata'));
    expect(names.indexOf('.text.helper')).toBeLessThan(names.indexOf('.rodata'));
    expect(names.indexOf('.rodata')).toBeLessThan(names.indexOf('.data'));
    expect(names).toContain('.bss');
    expect(names).toContain('.data.aligned');
    expect(o.base % 4096).toBe(0);
    expect(o.base >>> 0).toBeGreaterThanOrEqual(PAGE_OFFSET);
    for (const s of o.sections) {
      expect(s.address % s.align, s.name).toBe(0);
      expect(s.address).toBeGreaterThanOrEqual(o.base);
      expect(s.address + s.size).toBeLessThanOrEqual(o.base + o.size);
      expect(o.sectionAddress(s.index)).toBe(s.address);
    }
    expect(sym(o, 'aligned256') % 256).toBe(0);
    expect(k.mem.read32(sym(o, 'aligned256'))).toBe(0xa11a);
    // COMMON symbols: allocated after the sections with st_value as the alignment, zeroed.
    expect(o.commons.map((c) => [c.name, c.size, c.align])).toEqual([['common_a', 100, 32], ['common_b', 8, 8]]);
    for (const c of o.commons) {
      expect(c.address % c.align).toBe(0);
      expect(c.address).toBe(sym(o, c.name));
      expect([...k.mem.read(c.address, c.size)].every((b) => b === 0)).toBe(true);
    }
    const bss = o.sections.find((s) => s.name === '.bss')!;
    expect(bss.size).toBe(64);
    expect([...k.mem.read(bss.address, 64)].every((b) => b === 0)).toBe(true);
    // Non-allocated sections (.symtab, .strtab, ...) are not loaded.
    const symtab = o.elf.sections.find((s) => s.name === '.symtab')!;
    expect(o.sectionAddress(symtab.index)).toBeUndefined();
    // The module's frames are physically contiguous (direct map: virtual order = physical order).
    o.frames.forEach((f, i) => expect(f).toBe(o.frames[0]! + i * 4096));
    expect(o.base).toBe((PAGE_OFFSET + o.frames[0]!) >>> 0);
  });

  it('symbolizes addresses in the module and lists its globals', () => {
    const { o } = setup();
    const init = sym(o, 'init_module');
    expect(o.symbolize(init + 5)).toMatchObject({ name: 'init_module', offset: 5 });
    expect(o.symbolize(sym(o, 'helper'))).toMatchObject({ name: 'helper', offset: 0 });
    expect(o.contains(init)).toBe(true);
    expect(o.contains(o.base + o.size + 4096)).toBe(false);
    expect([...o.globals.keys()].sort()).toEqual(
      ['aligned256', 'bss_x', 'common_a', 'common_b', 'helper', 'init_module', 'ro_string', 'table'],
    );
  });

  it('gives memory back when unloaded, and a failed load keeps none', () => {
    const k = new Kernel();
    const api = fakeKernelApi(k);
    const before = k.frames.allocated;
    const o = loadObject(k, assembled('relocs'), { resolve: (n) => api.exports.get(n) });
    expect(k.frames.allocated).toBeGreaterThan(before);
    unloadObject(k, o);
    expect(k.frames.allocated).toBe(before);
    loadError(k, assembled('unresolved'));
    expect(k.frames.allocated).toBe(before);
  });
});

describe.skipIf(!hasAs)('loader: errors', () => {
  it('lists every unresolved symbol, once each, and resolves weak ones to 0', () => {
    const k = new Kernel();
    const api = fakeKernelApi(k);
    const e = loadError(k, assembled('unresolved'), ExportTable.from(api.exports));
    expect(e.kind).toBe('unresolved-symbols');
    expect(e.missing).toEqual(['missing_function', 'missing_data', 'another_missing']);
    expect(e.message).toBe('test.o: unknown symbols missing_function, missing_data, another_missing (not exported by the kernel)');
    // Without the export, ext_fn is missing too.
    expect(loadError(k, assembled('unresolved')).missing).toContain('ext_fn');
    // loadModule without a runtime adds the caller's hint.
    expect(() => loadModule(k, assembled('unresolved'), { name: 'u.o', runtimeMissingHint: 'the guest runtime is not built' }))
      .toThrow(/^u\.o: unknown symbols missing_function, missing_data, ext_fn, another_missing \(not exported by the kernel; the guest runtime is not built\)$/);
  });

  it('refuses relocation types apply_relocate() does not handle, naming the type and the section', () => {
    const k = new Kernel();
    const got = loadError(k, assembled('gotoff'));
    expect(got.kind).toBe('unsupported-relocation');
    expect(got.message).toMatch(/unsupported relocation type R_386_GOTPC \(10\) in \.rel\.text, entry 0/);
    expect(got.message).toMatch(/-fno-pic/);
    const r16 = loadError(k, assembled('reloc16'));
    expect(r16.kind).toBe('unsupported-relocation');
    expect(r16.message).toMatch(/R_386_16 \(20\) in \.rel\.data/);
  });

  it('refuses files that are not i386 relocatable objects with a clear message', () => {
    const k = new Kernel();
    const good = assembled('relocs');
    const cases: [string, Uint8Array, string, RegExp][] = [
      ['empty', new Uint8Array(0), 'bad-elf', /test\.o: .*/],
      ['text', new TextEncoder().encode('int init_module(void) { return 0; }\n'), 'bad-elf', /ELF|magic/i],
      ['truncated', good.slice(0, 100), 'bad-elf', /truncated|past end|extends/],
    ];
    const exec = good.slice();
    exec[16] = 2; // e_type = ET_EXEC
    cases.push(['ET_EXEC', exec, 'bad-elf|not-relocatable', /ET_EXEC|segment|PT_LOAD/]);
    const x64 = good.slice();
    x64[18] = 62; // e_machine = EM_X86_64
    cases.push(['x86-64', x64, 'bad-elf', /x86-64|machine/]);
    for (const [what, bytes, kind, msg] of cases) {
      const e = loadError(k, bytes);
      expect(kind.split('|'), what).toContain(e.kind);
      expect(e.message, what).toMatch(msg);
      expect(e.message.startsWith('test.o: '), what).toBe(true);
    }
  });

  it('refuses a relocation whose offset lies outside its section', () => {
    const k = new Kernel();
    const good = assembled('relocs');
    const elf = parseElf32(good);
    const relText = elf.sections.find((s) => s.name === '.rel.text')!;
    const bad = good.slice();
    new DataView(bad.buffer).setUint32(relText.offset, 0x7ffff0, true); // first entry's r_offset
    const e = loadError(k, bad);
    expect(e.kind).toBe('bad-elf');
    expect(e.message).toMatch(/offset 0x7ffff0 .* past the end of .*\.text/);
  });

  it('never throws anything but ModuleLoadError on mutated objects, and never leaks frames', () => {
    const k = new Kernel();
    const api = fakeKernelApi(k);
    const exports = ExportTable.from(api.exports);
    const good = assembled('relocs');
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const before = k.frames.allocated;
    let loaded = 0;
    for (let i = 0; i < 400; i++) {
      const b = good.slice();
      const flips = 1 + rnd(4);
      for (let j = 0; j < flips; j++) b[rnd(b.length)] = rnd(256);
      try {
        const o = loadObject(k, b, { resolve: (n) => exports.resolve(n) });
        loaded++;
        unloadObject(k, o);
      } catch (e) {
        expect(e).toBeInstanceOf(ModuleLoadError);
      }
      expect(k.frames.allocated).toBe(before);
    }
    expect(loaded).toBeGreaterThan(0);
  });
});

describe('allocContiguousFrames', () => {
  it('finds an aligned contiguous run even when the free list is fragmented', () => {
    const k = new Kernel();
    const scattered = Array.from({ length: 12 }, () => k.frames.alloc());
    for (let i = 0; i < scattered.length; i += 2) k.frames.release(scattered[i]!);
    const before = k.frames.allocated;
    const run = allocContiguousFrames(k, 5, 16384);
    expect(run).toHaveLength(5);
    expect(run[0]! % 16384).toBe(0);
    run.forEach((f, i) => expect(f).toBe(run[0]! + i * 4096));
    expect(k.frames.allocated).toBe(before + 5);
  });

  it('fails with a typed error when memory runs out, keeping nothing', () => {
    const k = new Kernel({ memorySize: 4 * 1024 * 1024 });
    const before = k.frames.allocated;
    expect(() => allocContiguousFrames(k, 2000, 4096)).toThrow(ModuleLoadError);
    expect(k.frames.allocated).toBe(before);
  });
});

describe.skipIf(!hasGcc)('loader: objects from gcc', () => {
  it('links a module against the runtime first and the exports second, and describes addresses like %pS', () => {
    const k = new Kernel();
    const api = fakeKernelApi(k);
    // An export named like a runtime function loses: the module must run the runtime's real code.
    api.exports.set('strcpy', k.bindRoutine(() => undefined));
    const m = loadModule(k, compiled('hello'), { name: 'hello.o', exports: ExportTable.from(api.exports), runtime: runtimeObject() });
    expect(m.runtime).not.toBeNull();
    expect(m.lookup('strcpy')).toBe(m.runtime!.globals.get('strcpy'));
    expect(m.lookup('printk')).toBe(api.exports.get('printk')! >>> 0);
    expect(m.lookup('init_module')).toBe(m.object.globals.get('init_module'));
    const init = m.object.globals.get('init_module')!;
    expect(m.describe(init + 3)).toMatch(/^hello_init\+0x3\/0x[0-9a-f]+ \[hello\]$|^init_module\+0x3\/0x[0-9a-f]+ \[hello\]$/);
    expect(m.describe(m.runtime!.globals.get('memcpy')! + 2)).toMatch(/^memcpy\+0x2\/0x[0-9a-f]+ \[runtime\]$/);
    expect(m.describe(api.exports.get('printk')!)).toBe('printk');
    expect(m.describe(0x1234)).toBeNull();
  });

  it('skips the relocations of debug sections at load time and applies them on request (DWARF)', () => {
    const k = new Kernel();
    const api = fakeKernelApi(k);
    const m = loadModule(k, compiled('hello'), { name: 'hello.o', exports: ExportTable.from(api.exports), runtime: runtimeObject() });
    const text = m.object.sections.find((s) => s.name === '.text')!;
    // .debug_aranges: unit_length(4) version(2) debug_info_offset(4) address_size(1) segment_size(1),
    // padded to 16, then (address, length) pairs: the first is .text, now at its load address.
    const ar = m.object.debugSection('.debug_aranges')!;
    expect(ar).not.toBeNull();
    const dv = new DataView(ar.buffer, ar.byteOffset, ar.byteLength);
    expect(dv.getUint8(10)).toBe(4);
    expect(dv.getUint32(16, true)).toBe(text.address);
    expect(dv.getUint32(20, true)).toBe(text.size);
    // The file's own bytes are untouched, and the section is not in guest memory.
    const raw = m.object.elf.sectionData(m.object.elf.sectionByName('.debug_aranges')!);
    expect(new DataView(raw.buffer).getUint32(16, true)).toBe(0);
    expect(m.object.sectionAddress(m.object.elf.sectionByName('.debug_aranges')!.index)).toBeUndefined();
    expect(m.object.debugSection('.debug_line')).not.toBeNull();
    expect(m.object.debugSection('.no_such_section')).toBeNull();
    expect(m.object.debugSection('.text')).toBeNull(); // loaded: its bytes are in guest memory
  });
});
