/**
 * The kernel-module loader: what `insmod` asks Linux's load_module()
 * (kernel/module.c) to do with a relocatable ELF object, for the objects
 * `gcc -m32 -ffreestanding -fno-pic -mregparm=3 -c` makes.
 *
 *  1. Check the file: ELF32, little-endian, EM_386 (the ELF reader's
 *     contract), type ET_REL (elf_header_check()).
 *  2. Lay out the SHF_ALLOC sections (layout_sections()): text first, then
 *     read-only data, then writable data and .bss, each at its sh_addralign
 *     offset; COMMON symbols go after them (Linux refuses SHN_COMMON — "please
 *     compile with -fno-common" — but gcc before 10 made them by default and
 *     `ld -r` would allocate them, so kmemsim does).
 *  3. Allocate the memory (module_alloc()): Linux takes vmalloc space;
 *     kmemsim takes physically contiguous page frames from the kernel's
 *     allocator and uses them through the kernel direct map (virtual =
 *     PAGE_OFFSET + physical), so every module byte has one kernel address.
 *  4. Resolve symbols (simplify_symbols()): defined symbols are section base
 *     + st_value, SHN_ABS ones are st_value, undefined ones are looked up —
 *     for a module first in the guest runtime object loaded next to it,
 *     then in the kernel's export table. An undefined weak symbol that
 *     nothing defines is 0, as in Linux; any other one is an error, and the
 *     error lists every missing name (Linux logs "Unknown symbol" per name).
 *  5. Apply the relocations of the loaded sections (apply_relocations() →
 *     apply_relocate() in arch/x86/kernel/module.c, 32-bit): R_386_32 is
 *     S + A, R_386_PC32 and R_386_PLT32 are S + A − P (there is no PLT: the
 *     call goes straight to the symbol), with the addend A stored in the
 *     patched field (SHT_REL). Like Linux, any other type is refused, naming
 *     it and the section; so are SHT_RELA sections, which i386 does not use
 *     (apply_relocate_add() returns -ENOEXEC there). Relocations of sections
 *     that are not loaded (.rel.debug_*) are skipped, as Linux skips them;
 *     `debugSection()` applies them to a host copy on request.
 *  6. Copy the image into guest memory through the one host-side accessor.
 *
 * Every problem with the file is a `ModuleLoadError` with a message naming
 * what is wrong; nothing else escapes for any input bytes. On an error no
 * memory stays allocated.
 */
import { kallsymsOf } from './kallsyms.js';
import { notifyModuleComing, notifyModuleGoing } from './module-notifier.js';
import {
  parseElf32, makeSymbolizer, ElfError, ET_REL, EM_386,
  SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHF_TLS, SHT_NOBITS, SHT_NULL, SHT_PROGBITS, SHT_SYMTAB,
  SHN_UNDEF, SHN_ABS, SHN_COMMON, STB_LOCAL, STB_GLOBAL, STB_WEAK, STT_SECTION, STT_FILE,
  R_386_NONE, R_386_32, R_386_PC32, R_386_PLT32,
  type Elf32, type Elf32Symbol, type Elf32RelocationTable, type SymbolMatch, type Symbolizer,
} from '../elf/elf32.js';
import type { Kernel } from './kernel.js';
import { ExportTable } from './exports.js';
import { OutOfMemory } from './pages.js';
import { PAGE_SIZE, kva } from './layout.js';

/** What went wrong, for callers that react differently (the CLI maps all of them to exit status 126). */
export type ModuleErrorKind =
  | 'unreadable'
  | 'bad-elf'
  | 'not-relocatable'
  | 'unsupported-section'
  | 'bad-symbol'
  | 'unresolved-symbols'
  | 'unsupported-relocation'
  | 'bad-relocation'
  | 'out-of-memory';

/** The one error type of the loader. `missing` lists the unresolved names (kind 'unresolved-symbols'). */
export class ModuleLoadError extends Error {
  constructor(
    readonly kind: ModuleErrorKind,
    message: string,
    readonly missing: readonly string[] = [],
  ) {
    super(message);
    this.name = 'ModuleLoadError';
  }
}

/** An SHF_ALLOC section as placed in kernel memory. */
export interface LoadedSection {
  index: number;
  name: string;
  /** Kernel virtual address. */
  address: number;
  size: number;
  /** sh_addralign (1 for 0). */
  align: number;
  flags: number;
  type: number;
}

/** A COMMON symbol, allocated after the sections. */
export interface LoadedCommon {
  name: string;
  address: number;
  size: number;
  align: number;
}

/** One relocatable object in kernel memory. */
export interface LoadedObject {
  /** The name used in messages and symbolized addresses ("hello.o"). */
  readonly name: string;
  readonly elf: Elf32;
  /** Start of the object's memory (page aligned, kernel direct map). */
  readonly base: number;
  /** Bytes of it used by sections and COMMON symbols. */
  readonly size: number;
  /** The physical page frames holding it, in address order. */
  readonly frames: readonly number[];
  /** Loaded sections in layout order (text, read-only data, data, bss). */
  readonly sections: readonly LoadedSection[];
  readonly commons: readonly LoadedCommon[];
  /** Defined non-local symbols (global and weak): name → address. */
  readonly globals: ReadonlyMap<string, number>;
  /**
   * The `call __fentry__` sites (code compiled with -pg -mfentry), as load
   * addresses of the 5-byte CALL, ascending: what Linux's recordmcount
   * collects into __mcount_loc. The loader has already patched each one to
   * the 5-byte NOP `0F 1F 44 00 00` (ftrace_init() → ftrace_make_nop());
   * src/ftrace turns them into calls when tracing is enabled.
   */
  readonly fentrySites: readonly number[];
  /** Load address of section `shndx`, or undefined when it is not loaded (not SHF_ALLOC). Keep for DWARF line lookup. */
  sectionAddress(shndx: number): number | undefined;
  /** Address of a defined symbol of this object (global over weak over local), or undefined. */
  symbolAddress(name: string): number | undefined;
  /** The function containing `addr` (see makeSymbolizer in src/elf). */
  symbolize(addr: number): SymbolMatch | null;
  contains(addr: number): boolean;
  /**
   * A non-loaded section's bytes (e.g. .debug_line, .debug_info) with its
   * relocations applied for this placement: addresses in loaded sections
   * become load addresses, offsets into other non-loaded sections stay
   * section offsets (how DWARF consumers relocate ET_REL files). Null if
   * there is no such section or it is a loaded one (its bytes are in guest
   * memory at `sectionAddress()`).
   */
  debugSection(name: string): Uint8Array | null;
}

/** Looks up a name the object leaves undefined: an address, or undefined if nothing provides it. */
export type SymbolResolver = (name: string) => number | undefined;

export interface LoadObjectOptions {
  /** For messages (default "module"). */
  name?: string;
  /** Resolves undefined symbols (default: none resolve). */
  resolve?: SymbolResolver;
  /** Appended to the unresolved-symbols message (e.g. a hint that the runtime is missing). */
  unresolvedHint?: string;
  /**
   * Where `call __fentry__` goes (the address __fentry__ resolves to when
   * neither `resolve` provides it: no export is needed, as the kernel's own
   * __fentry__ is not a module's business). Default: 0; the sites are NOPed
   * at load anyway.
   */
  fentryTarget?: number;
}

/** The symbol gcc's -pg -mfentry calls at the start of every function. */
export const FENTRY_SYMBOL = '__fentry__';
/** The 5-byte NOP (NOPL 0x0(%eax,%eax,1)) Linux's ftrace_make_nop() writes over `call __fentry__` (ideal_nops[5]). */
export const FTRACE_NOP5: readonly number[] = [0x0f, 0x1f, 0x44, 0x00, 0x00];

const hex = (n: number): string => '0x' + (n >>> 0).toString(16);

/** Section categories in Linux's layout order (layout_sections(): text, read-only, read-write incl. bss). */
function category(flags: number): number {
  if (flags & SHF_EXECINSTR) return 0;
  if (!(flags & SHF_WRITE)) return 1;
  return 2;
}

const MAX_ALIGN = 0x400000;

/**
 * Load one relocatable object into kernel memory: lay out, allocate,
 * resolve, relocate, copy (steps 1–6 above). Throws ModuleLoadError.
 */
export function loadObject(kernel: Kernel, bytes: Uint8Array, opts: LoadObjectOptions = {}): LoadedObject {
  const name = opts.name ?? 'module';
  let elf: Elf32;
  try {
    elf = parseElf32(bytes);
  } catch (e) {
    if (e instanceof ElfError) throw new ModuleLoadError('bad-elf', `${name}: ${e.message}`);
    throw e;
  }
  if (elf.header.type !== ET_REL) {
    throw new ModuleLoadError(
      'not-relocatable',
      `${name}: ELF type ${elf.header.typeName} is not a relocatable object (ET_REL, what gcc -c makes); a static executable runs as a user program`,
    );
  }
  if (elf.header.machine !== EM_386) {
    throw new ModuleLoadError('bad-elf', `${name}: machine ${elf.header.machine} is not EM_386`);
  }

  // -- layout (step 2)
  const alloc = elf.sections.filter((s) => s.index !== 0 && s.type !== SHT_NULL && (s.flags & SHF_ALLOC) !== 0);
  for (const s of alloc) {
    if (s.flags & SHF_TLS) {
      throw new ModuleLoadError('unsupported-section', `${name}: section ${s.name} is thread-local (SHF_TLS); kernel modules have no TLS`);
    }
    const a = s.addralign || 1;
    if ((a & (a - 1)) !== 0) throw new ModuleLoadError('unsupported-section', `${name}: section ${s.name} has alignment ${a}, not a power of two`);
    if (a > MAX_ALIGN) throw new ModuleLoadError('unsupported-section', `${name}: section ${s.name} asks for alignment ${hex(a)}, more than ${hex(MAX_ALIGN)}`);
  }
  const ordered = [...alloc].sort((x, y) => category(x.flags) - category(y.flags) || x.index - y.index);
  const offsets = new Map<number, number>();
  let size = 0;
  let maxAlign = PAGE_SIZE;
  const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;
  let prevCategory = 0;
  for (const s of ordered) {
    const a = s.addralign || 1;
    maxAlign = Math.max(maxAlign, a);
    // Each category starts on its own page, as with CONFIG_STRICT_MODULE_RWX: code never shares a
    // page with data the module writes (which would also invalidate its decoded code on every store).
    const cat = category(s.flags);
    if (cat !== prevCategory) size = alignUp(size, PAGE_SIZE);
    prevCategory = cat;
    size = alignUp(size, a);
    offsets.set(s.index, size);
    size += s.size;
  }
  // COMMON symbols are writable data too.
  if (prevCategory !== 2) size = alignUp(size, PAGE_SIZE);
  const symbols = elf.symbols;
  const commonSyms: { sym: Elf32Symbol; offset: number; align: number }[] = [];
  for (const sym of symbols) {
    if (sym.index === 0 || sym.shndx !== SHN_COMMON || sym.sectionName !== null) continue;
    const a = sym.value || 1;
    if ((a & (a - 1)) !== 0 || a > MAX_ALIGN) {
      throw new ModuleLoadError('bad-symbol', `${name}: COMMON symbol ${sym.name} has alignment ${sym.value}, not a power of two up to ${hex(MAX_ALIGN)}`);
    }
    maxAlign = Math.max(maxAlign, a);
    size = alignUp(size, a);
    commonSyms.push({ sym, offset: size, align: a });
    size += sym.size;
  }
  if (size > 0x4000000) throw new ModuleLoadError('out-of-memory', `${name}: ${hex(size)} bytes of sections is more than a module may have (64 MiB)`);

  // -- relocation sections of loaded sections: only the types apply_relocate() knows (step 5; checked
  // before the symbols, so a PIC object is told about -fno-pic rather than about _GLOBAL_OFFSET_TABLE_)
  const primarySymtab = elf.sections.find((s) => s.type === SHT_SYMTAB)?.index ?? 0;
  const relTables = elf.relocations.filter((t) => offsets.has(t.targetSection));
  for (const t of relTables) {
    const target = elf.sections[t.targetSection]!;
    if (t.kind === 'rela') {
      throw new ModuleLoadError(
        'unsupported-relocation',
        `${name}: ${t.name} is an SHT_RELA section; i386 relocations are SHT_REL (Linux's apply_relocate_add() refuses them on 32-bit x86)`,
      );
    }
    if (target.type === SHT_NOBITS) {
      throw new ModuleLoadError('bad-relocation', `${name}: ${t.name} relocates ${target.name}, which has no contents (SHT_NOBITS)`);
    }
    if (t.entries.length && t.symbolTable !== primarySymtab) {
      throw new ModuleLoadError('bad-relocation', `${name}: ${t.name} refers to symbol table section ${t.symbolTable}, not the object's .symtab`);
    }
  }
  for (const t of relTables) {
    const target = elf.sections[t.targetSection]!;
    t.entries.forEach((r, i) => {
      if (r.type !== R_386_NONE && r.type !== R_386_32 && r.type !== R_386_PC32 && r.type !== R_386_PLT32) {
        throw new ModuleLoadError(
          'unsupported-relocation',
          `${name}: unsupported relocation type ${r.typeName} (${r.type}) in ${t.name}, entry ${i} (offset ${hex(r.offset)} of ${target.name}); ` +
            `the i386 module loader handles R_386_32, R_386_PC32 and R_386_PLT32 (compile with -fno-pic)`,
        );
      }
    });
  }

  // -- symbols (step 4), before allocating, so that a failure leaves nothing behind
  const resolve = opts.resolve ?? ((): undefined => undefined);
  const missing: string[] = [];
  const missingSet = new Set<string>();
  /** Per symbol index: 'offset' = relative to the object's base; 'abs' = an absolute address; 'unloaded' = in a section that is not loaded. */
  type Where = { kind: 'offset'; value: number } | { kind: 'abs'; value: number } | { kind: 'unloaded'; section: string };
  const where: Where[] = new Array(symbols.length);
  const commonOffset = new Map<number, number>(commonSyms.map((c) => [c.sym.index, c.offset]));
  for (const sym of symbols) {
    if (sym.index === 0) {
      where[0] = { kind: 'abs', value: 0 };
      continue;
    }
    if (sym.sectionName !== null) {
      const off = offsets.get(sym.shndx);
      where[sym.index] = off === undefined
        ? { kind: 'unloaded', section: sym.sectionName }
        : { kind: 'offset', value: off + sym.value };
    } else if (sym.shndx === SHN_ABS) {
      where[sym.index] = { kind: 'abs', value: sym.value };
    } else if (sym.shndx === SHN_COMMON) {
      where[sym.index] = { kind: 'offset', value: commonOffset.get(sym.index)! };
    } else if (sym.shndx === SHN_UNDEF) {
      if (sym.type === STT_FILE || sym.type === STT_SECTION) {
        where[sym.index] = { kind: 'abs', value: 0 };
        continue;
      }
      if (sym.name === '') throw new ModuleLoadError('bad-symbol', `${name}: undefined symbol ${sym.index} has no name`);
      if (sym.bind === STB_LOCAL) throw new ModuleLoadError('bad-symbol', `${name}: local symbol ${sym.name} is undefined`);
      const addr = resolve(sym.name) ?? (sym.name === FENTRY_SYMBOL ? (opts.fentryTarget ?? 0) : undefined);
      if (addr !== undefined) where[sym.index] = { kind: 'abs', value: addr >>> 0 };
      else if (sym.bind === STB_WEAK) where[sym.index] = { kind: 'abs', value: 0 };
      else {
        where[sym.index] = { kind: 'abs', value: 0 };
        if (!missingSet.has(sym.name)) {
          missingSet.add(sym.name);
          missing.push(sym.name);
        }
      }
    } else {
      throw new ModuleLoadError('bad-symbol', `${name}: symbol ${sym.name || sym.index} has reserved section index ${hex(sym.shndx)}`);
    }
  }
  if (missing.length) {
    throw new ModuleLoadError(
      'unresolved-symbols',
      `${name}: unknown symbol${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (not exported by the kernel${opts.unresolvedHint ? `; ${opts.unresolvedHint}` : ''})${floatingPointHint(missing)}`,
      missing,
    );
  }

  // -- the image, and every relocation's field and symbol checked before any memory is allocated
  const image = new Uint8Array(size);
  for (const s of ordered) {
    if (s.type !== SHT_NOBITS) image.set(elf.sectionData(s), offsets.get(s.index)!);
  }
  for (const t of relTables) {
    const target = elf.sections[t.targetSection]!;
    t.entries.forEach((r, i) => {
      const at = `${t.name} entry ${i} (${r.typeName} at ${target.name}+${hex(r.offset)})`;
      if (r.type === R_386_NONE) return;
      if (r.offset + 4 > target.size) throw new ModuleLoadError('bad-relocation', `${name}: ${at}: the field lies past the end of ${target.name}`);
      const w = where[r.symbolIndex];
      if (w === undefined) throw new ModuleLoadError('bad-relocation', `${name}: ${at} refers to symbol ${r.symbolIndex}, which does not exist`);
      if (w.kind === 'unloaded') {
        throw new ModuleLoadError('bad-relocation', `${name}: ${at} refers to ${r.symbol?.name || 'a symbol'} in ${w.section}, a section that is not loaded`);
      }
    });
  }

  // -- allocate (step 3), then patch the image: P and S are known now (step 5)
  const pages = Math.max(1, Math.ceil(size / PAGE_SIZE));
  const frames = allocContiguousFrames(kernel, pages, maxAlign, name);
  const base = kva(frames[0]!) >>> 0;
  const addrOf = (w: Where): number => (w.kind === 'offset' ? (base + w.value) >>> 0 : (w as { value: number }).value >>> 0);

  const dv = new DataView(image.buffer);
  for (const t of relTables) {
    const toff = offsets.get(t.targetSection)!;
    for (const r of t.entries) {
      if (r.type === R_386_NONE) continue;
      const field = toff + r.offset;
      const s = addrOf(where[r.symbolIndex]!);
      const a = dv.getUint32(field, true);
      const p = (base + field) >>> 0;
      const v = r.type === R_386_32 ? s + a : s + a - p;
      dv.setUint32(field, v >>> 0, true);
    }
  }

  // -- recordmcount + ftrace_init(): every `call __fentry__` (E8 + R_386_PC32/PLT32 against __fentry__ in
  // code) is recorded and patched to the 5-byte NOP (ftrace_make_nop()); src/ftrace patches them back to calls.
  const fentryOffsets: number[] = [];
  for (const t of relTables) {
    const target = elf.sections[t.targetSection]!;
    if (!(target.flags & SHF_EXECINSTR)) continue;
    const toff = offsets.get(t.targetSection)!;
    for (const r of t.entries) {
      if (r.type !== R_386_PC32 && r.type !== R_386_PLT32) continue;
      if (r.symbol?.name !== FENTRY_SYMBOL || r.offset < 1) continue;
      const site = toff + r.offset - 1;
      if (image[site] !== 0xe8) continue; // not a CALL rel32 (the relocation leaves the opcode byte alone)
      image.set(FTRACE_NOP5, site);
      fentryOffsets.push(site);
    }
  }
  fentryOffsets.sort((a, b) => a - b);

  // -- copy into guest memory (step 6; whole pages: fresh frames may hold old data)
  try {
    const full = new Uint8Array(pages * PAGE_SIZE);
    full.set(image);
    kernel.mem.write(base, full);
  } catch (e) {
    for (const f of frames) kernel.frames.release(f);
    throw e;
  }

  const sections: LoadedSection[] = ordered.map((s) => ({
    index: s.index, name: s.name, address: (base + offsets.get(s.index)!) >>> 0, size: s.size,
    align: s.addralign || 1, flags: s.flags, type: s.type,
  }));
  const sectionAddr = new Map(sections.map((s) => [s.index, s.address]));
  const commons: LoadedCommon[] = commonSyms.map((c) => ({ name: c.sym.name, address: (base + c.offset) >>> 0, size: c.sym.size, align: c.align }));
  const globals = new Map<string, number>();
  // Global before weak: a strong definition wins (a relocatable object has at most one of each name anyway).
  for (const bind of [STB_GLOBAL, STB_WEAK]) {
    for (const sym of symbols) {
      if (sym.index === 0 || sym.bind !== bind || sym.name === '' || globals.has(sym.name)) continue;
      if (sym.shndx === SHN_UNDEF && sym.sectionName === null) continue;
      const w = where[sym.index]!;
      if (w.kind === 'unloaded') continue;
      globals.set(sym.name, addrOf(w));
    }
  }
  const symbolizer: Symbolizer = makeSymbolizer(elf, { sectionBase: (i) => sectionAddr.get(i) });
  const end = base + size;
  let debugCache: Map<string, Uint8Array | null> | null = null;

  return {
    name,
    elf,
    base,
    size,
    frames,
    sections,
    commons,
    globals,
    fentrySites: fentryOffsets.map((o) => (base + o) >>> 0),
    sectionAddress: (i) => sectionAddr.get(i),
    symbolAddress(n) {
      const g = globals.get(n);
      if (g !== undefined) return g;
      for (const sym of symbols) {
        if (sym.name !== n || sym.index === 0 || sym.type === STT_SECTION || sym.type === STT_FILE) continue;
        const w = where[sym.index]!;
        if (sym.shndx === SHN_UNDEF && sym.sectionName === null) continue;
        if (w.kind !== 'unloaded') return addrOf(w);
      }
      return undefined;
    },
    symbolize: (addr) => symbolizer(addr >>> 0),
    contains: (addr) => (addr >>> 0) >= base && (addr >>> 0) < Math.max(end, base + 1),
    debugSection(secName) {
      debugCache ??= new Map();
      if (debugCache.has(secName)) return debugCache.get(secName)?.slice() ?? null; // null: the object has no such section
      const sec = elf.sectionByName(secName);
      let out: Uint8Array | null = null;
      if (sec && sec.type === SHT_PROGBITS && !(sec.flags & SHF_ALLOC)) {
        out = relocateUnloaded(elf, sec.index, (idx) => {
          const w = where[idx];
          if (w === undefined) return 0;
          if (w.kind === 'unloaded') {
            const sym = symbols[idx]!;
            return sym.value;
          }
          return addrOf(w);
        });
      }
      debugCache.set(secName, out);
      return out ? out.slice() : null;
    },
  };
}

/** A host copy of a non-loaded section with its R_386_32/PC32 relocations applied (for DWARF); other types are left alone. */
function relocateUnloaded(elf: Elf32, index: number, symValue: (symIndex: number) => number): Uint8Array {
  const data = elf.sectionData(index);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const tables: Elf32RelocationTable[] = elf.relocations.filter((t) => t.targetSection === index && t.kind === 'rel');
  for (const t of tables) {
    for (const r of t.entries) {
      if (r.offset + 4 > data.length) continue;
      if (r.type !== R_386_32 && r.type !== R_386_PC32 && r.type !== R_386_PLT32) continue;
      const s = symValue(r.symbolIndex);
      const a = dv.getUint32(r.offset, true);
      // Non-loaded sections sit at address 0 (section offsets); PC-relative fields make no sense there but are kept consistent.
      const v = r.type === R_386_32 ? s + a : s + a - r.offset;
      dv.setUint32(r.offset, v >>> 0, true);
    }
  }
  return data;
}

/**
 * `pages` physically contiguous page frames whose first address is a
 * multiple of `align`, from the kernel's frame allocator: frames are taken
 * one at a time until a long enough aligned run appears, and the others are
 * given back. (Linux's module_alloc() maps scattered pages into vmalloc
 * space instead; kmemsim keeps modules in the direct map.)
 */
export function allocContiguousFrames(kernel: Kernel, pages: number, align: number, who = 'module'): number[] {
  const taken: number[] = [];
  let runStart = -1;
  let runLen = 0;
  let found = -1;
  try {
    while (found < 0) {
      const f = kernel.frames.alloc();
      taken.push(f);
      if (runLen > 0 && f === runStart + runLen * PAGE_SIZE) runLen++;
      else {
        runStart = f;
        runLen = 1;
      }
      const first = Math.ceil(runStart / align) * align;
      if (first + pages * PAGE_SIZE <= runStart + runLen * PAGE_SIZE) found = first;
    }
  } catch (e) {
    for (const f of taken) kernel.frames.release(f);
    if (e instanceof OutOfMemory) {
      throw new ModuleLoadError('out-of-memory', `${who}: no ${pages} contiguous free page(s) for the module (${pages * 4} KiB)`);
    }
    throw e;
  }
  const keep: number[] = [];
  for (const f of taken) {
    if (f >= found && f < found + pages * PAGE_SIZE) keep.push(f);
    else kernel.frames.release(f);
  }
  return keep.sort((a, b) => a - b);
}

/** Give an object's page frames back (Linux's free_module() after rmmod). The caller must not run its code again. */
export function unloadObject(kernel: Kernel, obj: LoadedObject): void {
  for (const f of obj.frames) kernel.frames.release(f);
}

// ---- a module: the object, the guest runtime next to it, and the kernel's exports

/** A loaded kernel module and everything it was linked against. */
export interface LoadedModule {
  readonly name: string;
  readonly object: LoadedObject;
  /** The guest runtime object (memcpy, ...) loaded for this module, or null when none was given. */
  readonly runtime: LoadedObject | null;
  /** The Linux library (seq_file, kstrto*, ...: build/runtime/linux.o) when the module uses it, else null. */
  readonly library: LoadedObject | null;
  readonly exports: ExportTable;
  /** Address of `name` as the module would link it: its own definition, then the runtime's, then the kernel's export. */
  lookup(name: string): number | undefined;
  /** The function containing `addr` in the module or, failing that, in the runtime. */
  symbolize(addr: number): SymbolMatch | null;
  /**
   * An address as Linux's %pS prints it: "init_module+0x12/0x40 [hello]"
   * inside the module, "memcpy+0x4/0x35 [runtime]" in the runtime, the
   * export's name for a native kernel routine; null otherwise.
   */
  describe(addr: number): string | null;
}

export interface LoadModuleOptions {
  /** Module name for messages (default "module"). */
  name?: string;
  exports?: ExportTable;
  /** The guest runtime object's bytes (build/runtime/runtime.o); null or absent: none. */
  runtime?: Uint8Array | null;
  /** Appended to an unresolved-symbols error when `runtime` is absent (e.g. "the guest runtime was not found"). */
  runtimeMissingHint?: string;
  /**
   * A library object (build/runtime/linux.o) linked in only when the module
   * leaves undefined a symbol the library defines, as ld takes an archive
   * member; its own undefined symbols resolve against the runtime, then the
   * exports.
   */
  library?: Uint8Array | null;
}

/** Does the module use one of the library's global definitions? */
function usesLibrary(module: Uint8Array, library: Uint8Array): boolean {
  let mod: Elf32, lib: Elf32;
  try {
    mod = parseElf32(module);
    lib = parseElf32(library);
  } catch {
    return false; // the loader reports a damaged module itself
  }
  const defined = new Set(lib.symbols.filter((s) => s.shndx !== SHN_UNDEF && (s.bind === STB_GLOBAL || s.bind === STB_WEAK) && s.name).map((s) => s.name));
  return mod.symbols.some((s) => s.index !== 0 && s.shndx === SHN_UNDEF && s.sectionName === null && defined.has(s.name));
}

/**
 * Load a module as insmod does: the guest runtime first (its undefined
 * symbols resolved against the kernel's exports), then the module, whose
 * undefined symbols resolve against the runtime's globals first and the
 * exports second. Throws ModuleLoadError; nothing stays allocated then.
 */
export function loadModule(kernel: Kernel, bytes: Uint8Array, opts: LoadModuleOptions = {}): LoadedModule {
  const name = opts.name ?? 'module';
  const exports = opts.exports ?? new ExportTable();
  const runtime = opts.runtime
    ? loadObject(kernel, opts.runtime, { name: 'runtime', resolve: (n) => exports.resolve(n) })
    : null;
  let library: LoadedObject | null = null;
  let object: LoadedObject;
  try {
    if (opts.library && usesLibrary(bytes, opts.library)) {
      library = loadObject(kernel, opts.library, { name: 'linux', resolve: (n) => runtime?.globals.get(n) ?? exports.resolve(n) });
    }
    object = loadObject(kernel, bytes, {
      name,
      resolve: (n) => runtime?.globals.get(n) ?? library?.globals.get(n) ?? exports.resolve(n) ?? (n === FENTRY_SYMBOL ? ftraceStub(kernel) : undefined),
      unresolvedHint: runtime ? undefined : opts.runtimeMissingHint,
    });
  } catch (e) {
    if (library) unloadObject(kernel, library);
    if (runtime) unloadObject(kernel, runtime);
    throw e;
  }
  const tag = name.replace(/\.(o|ko|c)$/, '');
  const fmt = (m: SymbolMatch, where: string): string => `${m.name}+${hex(m.offset)}/${hex(m.size)} [${where}]`;
  const mod: LoadedModule = {
    name,
    object,
    runtime,
    library,
    exports,
    lookup: (n) => object.globals.get(n) ?? runtime?.globals.get(n) ?? library?.globals.get(n) ?? exports.resolve(n),
    symbolize: (addr) => object.symbolize(addr) ?? runtime?.symbolize(addr) ?? library?.symbolize(addr) ?? null,
    describe(addr) {
      const a = addr >>> 0;
      const m = object.symbolize(a);
      if (m) return fmt(m, tag);
      const r = runtime?.symbolize(a);
      if (r) return fmt(r, 'runtime');
      const l = library?.symbolize(a);
      if (l) return fmt(l, 'linux');
      return exports.nameAt(a) ?? null;
    },
  };
  kallsymsOf(kernel).addModule(mod);
  notifyModuleComing(kernel, mod);
  return mod;
}

const stubs = new WeakMap<Kernel, number>();
/**
 * The kernel's `__fentry__` for modules: a native that returns at once
 * (Linux's ftrace_stub), bound on first use. The call sites are NOPed at
 * load, so it only runs if something restores a call to it.
 */
export function ftraceStub(kernel: Kernel): number {
  let a = stubs.get(kernel);
  if (a === undefined) {
    a = kernel.bindRoutine(() => {});
    stubs.set(kernel, a);
  }
  return a;
}

/** Free a module's memory and its runtime's (after cleanup_module, like rmmod). */
export function unloadModule(kernel: Kernel, mod: LoadedModule): void {
  notifyModuleGoing(kernel, mod);
  kallsymsOf(kernel).removeModule(mod);
  unloadObject(kernel, mod.object);
  if (mod.library) unloadObject(kernel, mod.library);
  if (mod.runtime) unloadObject(kernel, mod.runtime);
}

/**
 * libgcc's soft-float routines (gcc's libgcc2/soft-fp names: __adddf3,
 * __fixdfsi, __floatsidf, __extendsfdf2, __ltdf2, ...): what `double` and
 * `float` arithmetic becomes under -msoft-float, the flag Linux builds i386
 * kernel code with (arch/x86/Makefile). The kernel exports none of them.
 */
const SOFT_FLOAT = /^__(?:(?:add|sub|mul|div|neg|cmp|unord|eq|ne|gt|ge|lt|le)[sdxt]f[23]|(?:fix|fixuns)[sdxt]f[sd]i|float(?:un)?[sd]i[sdxt]f|(?:extend|trunc)[sdxt]f[sdxt]f2|pow[sdxt]f2)$/;

/** The explanation appended when missing symbols are soft-float routines: the module uses floating point. */
export function floatingPointHint(missing: readonly string[]): string {
  const fp = missing.filter((n) => SOFT_FLOAT.test(n));
  if (fp.length === 0) return '';
  return `: ${fp.join(', ')} ${fp.length > 1 ? 'are' : 'is'} libgcc's software floating point — kernel code may not use floating point (float/double), as on Linux, which builds modules with -msoft-float`;
}
