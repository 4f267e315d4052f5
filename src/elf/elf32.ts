/**
 * ELF32 reader for i386 guest code: static executables (ET_EXEC) run as
 * user programs and relocatable objects (ET_REL) loaded as kernel modules.
 *
 * Everything here follows the System V ABI generic chapters ("gABI": Object
 * Files, Program Loading) and the Intel386 psABI supplement. Only the
 * encoding i386 uses is accepted: ELFCLASS32, ELFDATA2LSB, EM_386.
 *
 * Robustness contract: `parseElf32` validates every table and every range
 * it later reads, so that for ANY input bytes it either returns a fully
 * usable `Elf32` or throws `ElfError` with a human message. Nothing else
 * escapes: no RangeError from a typed array, no TypeError from a missing
 * table entry. All methods of the returned object and the helpers below
 * (`validateLoadable`, `symbolize`, `findSymbol`) keep that promise.
 *
 * Choices worth knowing:
 *  - A name offset outside its string table, or a name that is not
 *    NUL-terminated inside it, is an error (not "<bad name>"): a file whose
 *    names cannot be trusted cannot be linked against either.
 *  - `symbols` are indexed exactly like the file's symbol table (entry 0 is
 *    the null symbol), so relocation symbol indices can be used directly.
 *  - Data accessors return fresh copies; the parser keeps its own private
 *    copy of the input, so later changes to the caller's buffer do not leak in.
 */
import {
  EI_ABIVERSION, EI_CLASS, EI_DATA, EI_NIDENT, EI_OSABI, EI_VERSION,
  ELF32_EHDR_SIZE, ELF32_PHDR_SIZE, ELF32_REL_SIZE, ELF32_RELA_SIZE, ELF32_SHDR_SIZE, ELF32_SYM_SIZE,
  ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, EM_386, ET_DYN, ET_EXEC, ET_REL, EV_CURRENT,
  PF_X, PN_XNUM, PT_INTERP, PT_LOAD, PT_NULL, PT_TLS,
  SHF_EXECINSTR, SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX,
  SHT_DYNSYM, SHT_NOBITS, SHT_NULL, SHT_REL, SHT_RELA, SHT_STRTAB, SHT_SYMTAB, SHT_SYMTAB_SHNDX,
  STB_GLOBAL, STB_WEAK, STT_FUNC, STT_GNU_IFUNC, STT_NOTYPE,
  elfTypeName, machineName, relocationTypeName, relocationWidth, sectionTypeName, segmentTypeName,
} from './constants.js';

export * from './constants.js';

/** The only exception type the ELF reader throws for problems with a file. */
export class ElfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ElfError';
  }
}

// ---- public types ------------------------------------------------------------

/** e_ident bytes after the magic. */
export interface Elf32Ident {
  class: number;
  data: number;
  version: number;
  osabi: number;
  abiversion: number;
}

/**
 * The ELF header. `phnum`, `shnum` and `shstrndx` are the real values: when
 * the header holds the escape values of gABI "extended numbering"
 * (PN_XNUM / 0 / SHN_XINDEX), they have been fetched from section 0.
 */
export interface Elf32Header {
  ident: Elf32Ident;
  /** ET_REL, ET_EXEC, ET_DYN, ... */
  type: number;
  /** "ET_EXEC", ... */
  typeName: string;
  machine: number;
  version: number;
  entry: number;
  phoff: number;
  shoff: number;
  flags: number;
  ehsize: number;
  phentsize: number;
  phnum: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

export interface Elf32ProgramHeader {
  index: number;
  /** PT_LOAD, ... */
  type: number;
  typeName: string;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  /** PF_R | PF_W | PF_X */
  flags: number;
  align: number;
}

export interface Elf32Section {
  index: number;
  /** Resolved through the section header string table ("" when the file has none). */
  name: string;
  type: number;
  typeName: string;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

export interface Elf32Symbol {
  /** Index in its symbol table (relocations refer to symbols by this). */
  index: number;
  name: string;
  /** Address (ET_EXEC/ET_DYN) or offset in section `shndx` (ET_REL); alignment for SHN_COMMON. */
  value: number;
  size: number;
  /** STT_* (low nibble of st_info). */
  type: number;
  /** STB_* (high nibble of st_info). */
  bind: number;
  /** st_other as stored. */
  other: number;
  /** STV_* (st_other & 3). */
  visibility: number;
  /** Section index, or SHN_UNDEF / SHN_ABS / SHN_COMMON; SHN_XINDEX already resolved. */
  shndx: number;
  /** Name of section `shndx` when it is a real section, else null. */
  sectionName: string | null;
  /** Index of the symbol table section this symbol came from. */
  table: number;
}

export interface Elf32Relocation {
  /** r_offset: offset in the target section (ET_REL) or virtual address (ET_EXEC/ET_DYN). */
  offset: number;
  /** R_386_* (ELF32_R_TYPE(r_info)). */
  type: number;
  typeName: string;
  /** ELF32_R_SYM(r_info): index into the symbol table `Elf32RelocationTable.symbolTable`. */
  symbolIndex: number;
  /** That symbol, or null for index 0 (no symbol). */
  symbol: Elf32Symbol | null;
  /** SHT_RELA only; i386 uses SHT_REL, whose addend is stored in the patched field itself. */
  addend: number | undefined;
}

export interface Elf32RelocationTable {
  /** Index of the SHT_REL / SHT_RELA section. */
  section: number;
  name: string;
  kind: 'rel' | 'rela';
  /** sh_info: the section the entries patch; 0 when they apply to the whole image (.rel.dyn). */
  targetSection: number;
  /** sh_link: the symbol table the entries refer to; 0 when none. */
  symbolTable: number;
  entries: Elf32Relocation[];
}

export interface Elf32 {
  /** Length of the file in bytes. */
  readonly fileSize: number;
  readonly header: Elf32Header;
  readonly programHeaders: readonly Elf32ProgramHeader[];
  readonly sections: readonly Elf32Section[];
  /**
   * The static symbol table (.symtab); if the file has none, the dynamic one
   * (.dynsym); else empty. Entry i is symbol index i (entry 0 is the null symbol).
   */
  readonly symbols: readonly Elf32Symbol[];
  /** Every symbol table in the file, by section index. */
  readonly symbolTables: ReadonlyMap<number, readonly Elf32Symbol[]>;
  /** One entry per SHT_REL (and SHT_RELA) section, in section order. */
  readonly relocations: readonly Elf32RelocationTable[];
  /** The PT_INTERP path (dynamically linked program), or null. */
  readonly interpreter: string | null;
  /**
   * With `sectionHeaders: 'optional'`: why the section headers (and so the
   * names, symbols and relocations) were dropped, or null when they were fine.
   */
  readonly sectionError: string | null;
  /**
   * A copy of a section's file contents. SHT_NOBITS (.bss) and SHT_NULL
   * sections occupy no file space (gABI), so they give an empty array; a
   * loader allocates `size` zeroed bytes and copies this in.
   */
  sectionData(section: Elf32Section | number): Uint8Array;
  /** A copy of the `filesz` file bytes of a segment; the remaining `memsz - filesz` bytes are zero in memory. */
  segmentData(segment: Elf32ProgramHeader | number): Uint8Array;
  /** The first section with this name, or null. */
  sectionByName(name: string): Elf32Section | null;
}

export interface ParseOptions {
  /**
   * 'required' (default): the whole file must be well formed, as a linker
   * needs it (modules). 'optional': like Linux's binfmt_elf, which loads a
   * program from its ELF header and program headers alone, a damaged section
   * header table, string table, symbol table or relocation section does not
   * fail the file: `sections`, `symbols` and `relocations` are then empty and
   * `sectionError` says why.
   */
  sectionHeaders?: 'required' | 'optional';
}

// ---- helpers -----------------------------------------------------------------

function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** Bounds-checked little-endian reads; a backstop behind the explicit range checks. */
class Reader {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private check(off: number, n: number): void {
    if (!(off >= 0 && off + n <= this.bytes.length)) {
      throw new ElfError(`truncated: read of ${n} bytes at offset ${hex(off)} past end of file (${this.bytes.length} bytes)`);
    }
  }
  u8(off: number): number {
    this.check(off, 1);
    return this.view.getUint8(off);
  }
  u16(off: number): number {
    this.check(off, 2);
    return this.view.getUint16(off, true);
  }
  u32(off: number): number {
    this.check(off, 4);
    return this.view.getUint32(off, true);
  }
  i32(off: number): number {
    this.check(off, 4);
    return this.view.getInt32(off, true);
  }
}

/** Throws unless [offset, offset + size) lies inside the file. Sizes are < 2^33, so no overflow in doubles. */
function checkRange(what: string, offset: number, size: number, fileSize: number): void {
  if (offset + size > fileSize) {
    throw new ElfError(
      `truncated: ${what} at offset ${hex(offset)} (${hex(size)} bytes) extends past end of file (${fileSize} bytes)`,
    );
  }
}

const utf8 = new TextDecoder('utf-8');

/** A validated SHT_STRTAB section (gABI "String Table"). */
class StringTable {
  private readonly start: number;
  private readonly size: number;
  /** Offset (in the file) of the last NUL in the table, or -1: bounds every scan to the table. */
  private readonly lastNul: number;
  private readonly cache = new Map<number, string>();

  constructor(private readonly bytes: Uint8Array, private readonly desc: string, section: Elf32Section) {
    this.start = section.offset;
    this.size = section.size;
    this.lastNul = this.size === 0 ? -1 : bytes.lastIndexOf(0, this.start + this.size - 1);
    if (this.lastNul < this.start) this.lastNul = -1;
  }

  get(offset: number, who: string): string {
    const cached = this.cache.get(offset);
    if (cached !== undefined) return cached;
    if (offset >= this.size) {
      throw new ElfError(`${who}: name offset ${hex(offset)} is outside ${this.desc} (${hex(this.size)} bytes)`);
    }
    const from = this.start + offset;
    if (from > this.lastNul) {
      throw new ElfError(`${who}: name at offset ${hex(offset)} in ${this.desc} is not NUL-terminated`);
    }
    const end = this.bytes.indexOf(0, from);
    const name = utf8.decode(this.bytes.subarray(from, end));
    this.cache.set(offset, name);
    return name;
  }
}

function sectionLabel(s: Elf32Section): string {
  return s.name ? `section ${s.index} (${s.name})` : `section ${s.index}`;
}

// ---- the parser --------------------------------------------------------------

const MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const; // "\x7fELF"

/**
 * Parse and validate an i386 ELF32 file. Throws `ElfError` (and nothing
 * else) for anything that is not a well-formed ELF32/LSB/EM_386 file.
 */
export function parseElf32(input: Uint8Array, opts: ParseOptions = {}): Elf32 {
  const lenient = opts.sectionHeaders === 'optional';
  let sectionError: string | null = null;
  /** With sectionHeaders 'optional', a damaged section part is dropped (and said why) instead of failing the file. */
  const dropSections = (e: unknown): void => {
    if (!lenient || !(e instanceof ElfError)) throw e;
    sectionError = e.message;
  };
  if (!(input instanceof Uint8Array)) throw new ElfError('not an ELF file (input is not a byte array)');
  // Private copy: also normalizes Node Buffers that share a pooled ArrayBuffer.
  const bytes = new Uint8Array(input);
  const fileSize = bytes.length;
  const r = new Reader(bytes);

  // -- e_ident (gABI "ELF Identification")
  if (fileSize === 0) throw new ElfError('not an ELF file (file is empty)');
  for (let i = 0; i < MAGIC.length && i < fileSize; i++) {
    if (bytes[i] !== MAGIC[i]) {
      const got = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
      throw new ElfError(`not an ELF file (bad magic ${got}, expected 7f 45 4c 46 "\\x7fELF")`);
    }
  }
  if (fileSize < EI_NIDENT) {
    throw new ElfError(`truncated: file is ${fileSize} bytes, too short for the ${EI_NIDENT}-byte ELF identification`);
  }
  const ident: Elf32Ident = {
    class: r.u8(EI_CLASS),
    data: r.u8(EI_DATA),
    version: r.u8(EI_VERSION),
    osabi: r.u8(EI_OSABI),
    abiversion: r.u8(EI_ABIVERSION),
  };
  if (ident.class !== ELFCLASS32) {
    if (ident.class === ELFCLASS64) throw new ElfError('ELF class 64-bit (ELFCLASS64), expected 32-bit (ELFCLASS32)');
    throw new ElfError(`invalid ELF class ${ident.class}, expected 1 (ELFCLASS32)`);
  }
  if (ident.data !== ELFDATA2LSB) {
    if (ident.data === ELFDATA2MSB) {
      throw new ElfError('big-endian ELF (ELFDATA2MSB) not supported: i386 is little-endian (ELFDATA2LSB)');
    }
    throw new ElfError(`invalid ELF data encoding ${ident.data}, expected 1 (ELFDATA2LSB, little-endian)`);
  }
  if (ident.version !== EV_CURRENT) {
    throw new ElfError(`unsupported ELF identification version ${ident.version}, expected 1 (EV_CURRENT)`);
  }

  // -- Elf32_Ehdr
  if (fileSize < ELF32_EHDR_SIZE) {
    throw new ElfError(`truncated: file is ${fileSize} bytes, too short for the ${ELF32_EHDR_SIZE}-byte ELF header`);
  }
  const type = r.u16(16);
  const machine = r.u16(18);
  const version = r.u32(20);
  const entry = r.u32(24);
  const phoff = r.u32(28);
  const shoff = r.u32(32);
  const flags = r.u32(36);
  const ehsize = r.u16(40);
  const phentsize = r.u16(42);
  const rawPhnum = r.u16(44);
  const shentsize = r.u16(46);
  const rawShnum = r.u16(48);
  const rawShstrndx = r.u16(50);

  if (machine !== EM_386) {
    throw new ElfError(`ELF machine ${machine} (${machineName(machine)}), expected 3 (EM_386)`);
  }
  if (version !== EV_CURRENT) throw new ElfError(`unsupported ELF version ${version}, expected 1 (EV_CURRENT)`);
  if (ehsize < ELF32_EHDR_SIZE) {
    throw new ElfError(`ELF header size e_ehsize=${ehsize} is smaller than Elf32_Ehdr (${ELF32_EHDR_SIZE} bytes)`);
  }
  checkRange('ELF header', 0, ehsize, fileSize);

  // -- section 0, which carries the real counts under extended numbering (gABI "Sections").
  let shnum = rawShnum;
  let shstrndx = rawShstrndx;
  let phnum = rawPhnum;
  try {
    if (shoff === 0) {
      if (rawShnum !== 0) throw new ElfError(`e_shnum is ${rawShnum} but there is no section header table (e_shoff is 0)`);
    } else {
      if (shentsize < ELF32_SHDR_SIZE) {
        throw new ElfError(`section header entry size e_shentsize=${shentsize} is smaller than Elf32_Shdr (${ELF32_SHDR_SIZE} bytes)`);
      }
      if (shoff < ehsize) {
        throw new ElfError(`section header table at offset ${hex(shoff)} overlaps the ELF header (${ehsize} bytes)`);
      }
      checkRange('section header 0', shoff, ELF32_SHDR_SIZE, fileSize);
      if (rawShnum === 0) shnum = r.u32(shoff + 20); // sh_size
      if (rawShstrndx === SHN_XINDEX) shstrndx = r.u32(shoff + 24); // sh_link
      if (rawPhnum === PN_XNUM) phnum = r.u32(shoff + 28); // sh_info
      checkRange(`section header table (${shnum} entries of ${shentsize} bytes)`, shoff, shnum * shentsize, fileSize);
    }
  } catch (e) {
    // Without section 0 an extended program header count cannot be known: that stays fatal.
    if (rawPhnum === PN_XNUM) throw e;
    dropSections(e);
    shnum = 0;
    shstrndx = 0;
  }
  if (rawPhnum === PN_XNUM && shoff === 0) {
    throw new ElfError('e_phnum is PN_XNUM (0xffff) but there is no section 0 holding the real count');
  }
  if (rawShstrndx === SHN_XINDEX && shoff === 0) {
    throw new ElfError('e_shstrndx is SHN_XINDEX but there is no section 0 holding the real index');
  }

  const header: Elf32Header = {
    ident, type, typeName: elfTypeName(type), machine, version, entry, phoff, shoff, flags,
    ehsize, phentsize, phnum, shentsize, shnum, shstrndx,
  };

  // -- program headers (gABI "Program Header")
  const programHeaders: Elf32ProgramHeader[] = [];
  if (phnum > 0) {
    if (phentsize < ELF32_PHDR_SIZE) {
      throw new ElfError(`program header entry size e_phentsize=${phentsize} is smaller than Elf32_Phdr (${ELF32_PHDR_SIZE} bytes)`);
    }
    if (phoff < ehsize) {
      throw new ElfError(`program header table at offset ${hex(phoff)} overlaps the ELF header (${ehsize} bytes)`);
    }
    checkRange(`program header table (${phnum} entries of ${phentsize} bytes)`, phoff, phnum * phentsize, fileSize);
    for (let i = 0; i < phnum; i++) {
      const o = phoff + i * phentsize;
      const ph: Elf32ProgramHeader = {
        index: i,
        type: r.u32(o),
        typeName: '',
        offset: r.u32(o + 4),
        vaddr: r.u32(o + 8),
        paddr: r.u32(o + 12),
        filesz: r.u32(o + 16),
        memsz: r.u32(o + 20),
        flags: r.u32(o + 24),
        align: r.u32(o + 28),
      };
      ph.typeName = segmentTypeName(ph.type);
      if (ph.type !== PT_NULL) checkRange(`segment ${i} (${ph.typeName})`, ph.offset, ph.filesz, fileSize);
      // gABI: for loadable segments "the file size may not be larger than the memory size";
      // the same holds for the PT_TLS initialization image. Other types (notes, PT_GNU_STACK)
      // have no memory image of their own to compare against.
      if ((ph.type === PT_LOAD || ph.type === PT_TLS) && ph.filesz > ph.memsz) {
        throw new ElfError(`segment ${i} (${ph.typeName}) has p_filesz ${hex(ph.filesz)} larger than p_memsz ${hex(ph.memsz)}`);
      }
      if (ph.type === PT_LOAD && ph.vaddr + ph.memsz > 0x1_0000_0000) {
        throw new ElfError(`segment ${i} at ${hex(ph.vaddr)} + ${hex(ph.memsz)} wraps around the 32-bit address space`);
      }
      programHeaders.push(ph);
    }
  }

  const sections: Elf32Section[] = [];
  const symbolTables = new Map<number, Elf32Symbol[]>();
  let symbols: readonly Elf32Symbol[] = [];
  const relocations: Elf32RelocationTable[] = [];
  // Names, symbols and relocations all hang off the section headers.
  const hasFileData = (s: Elf32Section): boolean => s.index !== 0 && s.type !== SHT_NOBITS && s.type !== SHT_NULL;
  try {
    // -- section headers (gABI "Sections")
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * shentsize;
      const sec: Elf32Section = {
        index: i,
        name: '',
        type: r.u32(o + 4),
        typeName: '',
        flags: r.u32(o + 8),
        addr: r.u32(o + 12),
        offset: r.u32(o + 16),
        size: r.u32(o + 20),
        link: r.u32(o + 24),
        info: r.u32(o + 28),
        addralign: r.u32(o + 32),
        entsize: r.u32(o + 36),
      };
      sec.typeName = sectionTypeName(sec.type);
      sections.push(sec);
    }
    // Section 0 is the null section; under extended numbering its sh_size/sh_link/sh_info
    // hold counts, not a file range, so only the others are range-checked.

    // Names, through the section header string table.
    if (shstrndx !== SHN_UNDEF) {
      if (shstrndx >= shnum) {
        throw new ElfError(`section header string table index e_shstrndx=${shstrndx} is out of range (${shnum} sections)`);
      }
      const strsec = sections[shstrndx]!;
      if (strsec.type !== SHT_STRTAB) {
        throw new ElfError(`section header string table (section ${shstrndx}) has type ${strsec.typeName}, expected SHT_STRTAB`);
      }
      checkRange(`section header string table (section ${shstrndx})`, strsec.offset, strsec.size, fileSize);
      const shstrtab = new StringTable(bytes, `the section header string table`, strsec);
      for (const sec of sections) {
        const nameOff = r.u32(shoff + sec.index * shentsize);
        if (sec.index === 0 && nameOff === 0) continue;
        sec.name = shstrtab.get(nameOff, `section ${sec.index}`);
      }
    }
    for (const sec of sections) {
      if (hasFileData(sec)) checkRange(sectionLabel(sec), sec.offset, sec.size, fileSize);
    }

    const sectionAt = (index: number, who: string, what: string): Elf32Section => {
      const s = sections[index];
      if (index === 0) throw new ElfError(`${who}: ${what} is 0 (SHN_UNDEF)`);
      if (s === undefined) throw new ElfError(`${who}: ${what} ${index} is out of range (${shnum} sections)`);
      return s;
    };

    // -- symbol tables (gABI "Symbol Table")
    const stringTables = new Map<number, StringTable>();
    const stringTableAt = (index: number, who: string): StringTable => {
      const sec = sectionAt(index, who, 'string table section');
      if (sec.type !== SHT_STRTAB) {
        throw new ElfError(`${who}: linked string table ${sectionLabel(sec)} has type ${sec.typeName}, expected SHT_STRTAB`);
      }
      let t = stringTables.get(index);
      if (!t) {
        t = new StringTable(bytes, `string table ${sectionLabel(sec)}`, sec);
        stringTables.set(index, t);
      }
      return t;
    };

    for (const sec of sections) {
      if (sec.type !== SHT_SYMTAB && sec.type !== SHT_DYNSYM) continue;
      const who = `symbol table ${sectionLabel(sec)}`;
      if (sec.entsize !== ELF32_SYM_SIZE && sec.entsize !== 0) {
        throw new ElfError(`${who} has sh_entsize ${sec.entsize}, expected ${ELF32_SYM_SIZE} (sizeof Elf32_Sym)`);
      }
      if (sec.size % ELF32_SYM_SIZE !== 0) {
        throw new ElfError(`${who} size ${hex(sec.size)} is not a multiple of ${ELF32_SYM_SIZE} (sizeof Elf32_Sym)`);
      }
      const strtab = stringTableAt(sec.link, who);
      const count = sec.size / ELF32_SYM_SIZE;
      // gABI "Extended Section Indexes": st_shndx == SHN_XINDEX means look in the
      // SHT_SYMTAB_SHNDX section whose sh_link names this table.
      let xindex: Elf32Section | null | undefined;
      const syms: Elf32Symbol[] = [];
      for (let i = 0; i < count; i++) {
        const o = sec.offset + i * ELF32_SYM_SIZE;
        const info = r.u8(o + 12);
        const other = r.u8(o + 13);
        let shndx = r.u16(o + 14);
        const symWho = `${who}, symbol ${i}`;
        const name = strtab.get(r.u32(o), symWho);
        let extended = false;
        if (shndx === SHN_XINDEX) {
          if (xindex === undefined) {
            xindex = sections.find((s) => s.type === SHT_SYMTAB_SHNDX && s.link === sec.index) ?? null;
          }
          if (xindex === null) {
            throw new ElfError(`${symWho} (${name}) has st_shndx SHN_XINDEX but there is no SHT_SYMTAB_SHNDX section for this table`);
          }
          if (xindex.size < (i + 1) * 4) {
            throw new ElfError(`${symWho} (${name}) has st_shndx SHN_XINDEX but ${sectionLabel(xindex)} has no entry for it`);
          }
          shndx = r.u32(xindex.offset + i * 4);
          extended = true;
        }
        const regular = shndx !== SHN_UNDEF && (extended || shndx < SHN_LORESERVE);
        if (regular && shndx >= shnum) {
          throw new ElfError(`${symWho} (${name}) has section index ${shndx}, but the file has only ${shnum} sections`);
        }
        syms.push({
          index: i,
          name,
          value: r.u32(o + 4),
          size: r.u32(o + 8),
          type: info & 0xf,
          bind: info >> 4,
          other,
          visibility: other & 3,
          shndx,
          sectionName: regular ? sections[shndx]!.name : null,
          table: sec.index,
        });
      }
      symbolTables.set(sec.index, syms);
    }
    const primary =
      sections.find((s) => s.type === SHT_SYMTAB) ?? sections.find((s) => s.type === SHT_DYNSYM);
    symbols = primary ? symbolTables.get(primary.index)! : [];

    // -- relocations (gABI "Relocation"; i386 psABI uses Elf32_Rel only)
    for (const sec of sections) {
      if (sec.type !== SHT_REL && sec.type !== SHT_RELA) continue;
      const rela = sec.type === SHT_RELA;
      const entSize = rela ? ELF32_RELA_SIZE : ELF32_REL_SIZE;
      const who = `relocation ${sectionLabel(sec)}`;
      if (sec.entsize !== entSize && sec.entsize !== 0) {
        throw new ElfError(`${who} has sh_entsize ${sec.entsize}, expected ${entSize} (sizeof ${rela ? 'Elf32_Rela' : 'Elf32_Rel'})`);
      }
      if (sec.size % entSize !== 0) {
        throw new ElfError(`${who} size ${hex(sec.size)} is not a multiple of ${entSize}`);
      }
      let target: Elf32Section | null = null;
      if (sec.info !== 0) {
        target = sectionAt(sec.info, who, 'target section (sh_info)');
      }
      let syms: readonly Elf32Symbol[] | null = null;
      if (sec.link !== 0) {
        const symsec = sectionAt(sec.link, who, 'symbol table section (sh_link)');
        const t = symbolTables.get(sec.link);
        if (!t) {
          throw new ElfError(`${who}: linked ${sectionLabel(symsec)} has type ${symsec.typeName}, expected SHT_SYMTAB or SHT_DYNSYM`);
        }
        syms = t;
      }
      // In a relocatable file r_offset is an offset in the target section (gABI), so the
      // patched field must lie inside it; in executables it is an address.
      const checkTarget = type === ET_REL && target !== null;
      const count = sec.size / entSize;
      const entries: Elf32Relocation[] = [];
      for (let i = 0; i < count; i++) {
        const o = sec.offset + i * entSize;
        const offset = r.u32(o);
        const info = r.u32(o + 4);
        const relType = info & 0xff;
        const symbolIndex = info >>> 8;
        const typeName = relocationTypeName(relType);
        let symbol: Elf32Symbol | null = null;
        if (symbolIndex !== 0) {
          if (syms === null) {
            throw new ElfError(`${who}, entry ${i} (${typeName}) refers to symbol ${symbolIndex} but the section links no symbol table`);
          }
          symbol = syms[symbolIndex] ?? null;
          if (symbol === null) {
            throw new ElfError(`${who}, entry ${i} (${typeName}) refers to symbol ${symbolIndex}, but the symbol table has ${syms.length} entries`);
          }
        }
        if (checkTarget) {
          const width = relocationWidth(relType) ?? 0;
          if (offset + width > target!.size) {
            throw new ElfError(
              `${who}, entry ${i} (${typeName}): offset ${hex(offset)} + ${width} is past the end of ${sectionLabel(target!)} (${hex(target!.size)} bytes)`,
            );
          }
        }
        entries.push({
          offset, type: relType, typeName, symbolIndex, symbol,
          addend: rela ? r.i32(o + 8) : undefined,
        });
      }
      relocations.push({
        section: sec.index, name: sec.name, kind: rela ? 'rela' : 'rel',
        targetSection: sec.info, symbolTable: sec.link, entries,
      });
    }
  } catch (e) {
    dropSections(e);
    sections.length = 0;
    symbolTables.clear();
    symbols = [];
    relocations.length = 0;
  }

  // -- PT_INTERP: a NUL-terminated path (gABI "Program Interpreter").
  let interpreter: string | null = null;
  const interpSeg = programHeaders.find((p) => p.type === PT_INTERP);
  if (interpSeg) {
    const raw = bytes.subarray(interpSeg.offset, interpSeg.offset + interpSeg.filesz);
    const nul = raw.indexOf(0);
    interpreter = utf8.decode(nul < 0 ? raw : raw.subarray(0, nul));
  }

  const sectionFor = (s: Elf32Section | number): Elf32Section => {
    const sec = typeof s === 'number' ? sections[s] : sections[s.index];
    if (sec === undefined || (typeof s !== 'number' && sec !== s)) {
      throw new ElfError(`no section ${typeof s === 'number' ? s : s.index} in this file (${shnum} sections)`);
    }
    return sec;
  };
  const segmentFor = (p: Elf32ProgramHeader | number): Elf32ProgramHeader => {
    const ph = typeof p === 'number' ? programHeaders[p] : programHeaders[p.index];
    if (ph === undefined || (typeof p !== 'number' && ph !== p)) {
      throw new ElfError(`no segment ${typeof p === 'number' ? p : p.index} in this file (${programHeaders.length} segments)`);
    }
    return ph;
  };

  return {
    fileSize,
    header,
    programHeaders,
    sections,
    symbols,
    symbolTables,
    relocations,
    interpreter,
    sectionError,
    sectionData(s) {
      const sec = sectionFor(s);
      if (!hasFileData(sec)) return new Uint8Array(0);
      return bytes.slice(sec.offset, sec.offset + sec.size);
    },
    segmentData(p) {
      const ph = segmentFor(p);
      if (ph.type === PT_NULL) return new Uint8Array(0);
      return bytes.slice(ph.offset, ph.offset + ph.filesz);
    },
    sectionByName(name) {
      return sections.find((s) => s.name === name) ?? null;
    },
  };
}

// ---- loading checks -------------------------------------------------------------

/** A guest address range [lo, hi) (hi exclusive, at most 2^32). */
export interface AddressRange {
  lo: number;
  hi: number;
}

/**
 * Check that a program can be placed in guest memory as-is: it is ET_EXEC
 * (or ET_DYN at `bias`), has PT_LOAD segments, each lies inside `mem`, no two
 * overlap, and the entry point is inside an executable one. Loaders call
 * this before copying anything, so a bad file stops with a clear message
 * instead of a guest page fault at a strange address.
 */
export function validateLoadable(elf: Elf32, mem: AddressRange, bias = 0): void {
  const { type } = elf.header;
  if (type === ET_REL) {
    throw new ElfError('ET_REL (relocatable object) has no segments to load; load it as a module instead');
  }
  if (type !== ET_EXEC && type !== ET_DYN) {
    throw new ElfError(`ELF type ${elf.header.typeName} is not loadable, expected ET_EXEC or ET_DYN`);
  }
  const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD);
  if (loads.length === 0) throw new ElfError('no PT_LOAD segments: nothing to load');
  for (const p of loads) {
    const start = p.vaddr + bias;
    const end = start + p.memsz;
    if (start < mem.lo || end > mem.hi) {
      throw new ElfError(
        `segment ${p.index} at ${hex(start)} + ${hex(p.memsz)} lies outside guest memory [${hex(mem.lo)}, ${hex(mem.hi)})`,
      );
    }
  }
  const sorted = [...loads].sort((a, b) => a.vaddr - b.vaddr);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (a.vaddr + a.memsz > b.vaddr) {
      throw new ElfError(
        `segments ${a.index} and ${b.index} overlap in memory ` +
          `(${hex(a.vaddr + bias)}..${hex(a.vaddr + a.memsz + bias)} and ${hex(b.vaddr + bias)}..${hex(b.vaddr + b.memsz + bias)})`,
      );
    }
  }
  const entry = elf.header.entry;
  const inExec = loads.some((p) => (p.flags & PF_X) !== 0 && entry >= p.vaddr && entry < p.vaddr + p.memsz);
  if (!inExec) {
    throw new ElfError(`entry point ${hex(entry + bias)} is not inside an executable PT_LOAD segment`);
  }
}

// ---- symbols -----------------------------------------------------------------

export interface SymbolMatch {
  name: string;
  /** addr - start of the symbol. */
  offset: number;
  /** st_size (0 for an unsized label, e.g. one written in assembly). */
  size: number;
  /** Start address of the symbol (after `sectionBase` for ET_REL). */
  address: number;
  symbol: Elf32Symbol;
}

export interface SymbolizeOptions {
  /**
   * For ET_REL files loaded at run time (modules): the address section
   * `shndx` was placed at, or undefined if it was not loaded. Symbol values
   * in a relocatable file are section offsets (gABI), so without this they
   * are used as-is and different sections' symbols would collide.
   */
  sectionBase?: (shndx: number) => number | undefined;
}

interface SymEntry {
  start: number;
  /** start + size, or start for an unsized symbol. */
  end: number;
  /** End of the symbol's section in memory: unsized labels extend at most to here. */
  sectionEnd: number;
  rank: number;
  sym: Elf32Symbol;
}

export type Symbolizer = (addr: number) => SymbolMatch | null;

/** Lower is better: functions over plain labels, then global over weak over local. */
function rankOf(sym: Elf32Symbol): number {
  const t = sym.type === STT_FUNC || sym.type === STT_GNU_IFUNC ? 0 : 1;
  const b = sym.bind === STB_GLOBAL ? 0 : sym.bind === STB_WEAK ? 1 : 2;
  return t * 4 + b;
}

/**
 * Build a fast address → function lookup (binary search over symbol
 * starts). Candidates are STT_FUNC / STT_GNU_IFUNC symbols and STT_NOTYPE
 * labels, defined in an executable (SHF_EXECINSTR) section. A sized symbol
 * matches addresses in [value, value + size); an unsized one (assembly
 * labels have st_size 0) matches from its start up to the next symbol or
 * the end of its section.
 */
export function makeSymbolizer(elf: Elf32, opts: SymbolizeOptions = {}): Symbolizer {
  const rel = elf.header.type === ET_REL;
  const entries: SymEntry[] = [];
  for (const sym of elf.symbols) {
    if (sym.type !== STT_FUNC && sym.type !== STT_GNU_IFUNC && sym.type !== STT_NOTYPE) continue;
    if (sym.name === '' || sym.sectionName === null) continue;
    const sec = elf.sections[sym.shndx];
    if (sec === undefined || (sec.flags & SHF_EXECINSTR) === 0) continue;
    let base = 0;
    let secStart = sec.addr;
    if (rel) {
      const b = opts.sectionBase ? opts.sectionBase(sym.shndx) : 0;
      if (b === undefined) continue;
      base = b;
      secStart = b;
    }
    const start = (base + sym.value) >>> 0;
    entries.push({
      start,
      end: start + sym.size,
      sectionEnd: secStart + sec.size,
      rank: rankOf(sym),
      sym,
    });
  }
  entries.sort((a, b) => a.start - b.start || a.rank - b.rank);
  // maxEnd[i] = max end over entries[0..i]: lets the backward scan stop early.
  const maxEnd = new Float64Array(entries.length);
  let m = 0;
  for (let i = 0; i < entries.length; i++) {
    m = Math.max(m, entries[i]!.end);
    maxEnd[i] = m;
  }

  const match = (e: SymEntry, addr: number): SymbolMatch => ({
    name: e.sym.name, offset: addr - e.start, size: e.sym.size, address: e.start, symbol: e.sym,
  });

  return (address: number): SymbolMatch | null => {
    const addr = address >>> 0;
    // Last entry with start <= addr.
    let lo = 0;
    let hi = entries.length - 1;
    let idx = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (entries[mid]!.start <= addr) {
        idx = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (idx < 0) return null;
    // 1. Sized symbols containing addr: best rank, then the smallest (innermost).
    let best: SymEntry | null = null;
    for (let j = idx; j >= 0 && maxEnd[j]! > addr; j--) {
      const e = entries[j]!;
      if (e.sym.size === 0 || e.end <= addr) continue;
      if (best === null || e.rank < best.rank || (e.rank === best.rank && e.sym.size < best.sym.size)) best = e;
    }
    if (best) return match(best, addr);
    // 2. Otherwise an unsized label at the nearest start below addr, within its section.
    const nearest = entries[idx]!.start;
    for (let j = idx; j >= 0 && entries[j]!.start === nearest; j--) {
      const e = entries[j]!;
      if (e.sym.size === 0 && addr < e.sectionEnd) {
        if (best === null || e.rank <= best.rank) best = e;
      }
    }
    return best ? match(best, addr) : null;
  };
}

const defaultSymbolizers = new WeakMap<Elf32, Symbolizer>();

/**
 * The function symbol containing `addr` ("main+0x12"), or null. Without
 * options the lookup table is built once per `Elf32` and cached.
 */
export function symbolize(elf: Elf32, addr: number, opts?: SymbolizeOptions): SymbolMatch | null {
  if (opts) return makeSymbolizer(elf, opts)(addr);
  let s = defaultSymbolizers.get(elf);
  if (!s) {
    s = makeSymbolizer(elf);
    defaultSymbolizers.set(elf, s);
  }
  return s(addr);
}

/**
 * Look a symbol up by name in `elf.symbols`. A defined symbol wins over an
 * undefined reference, and among defined ones global beats weak beats local
 * (what a linker would bind to). Null if there is none.
 */
export function findSymbol(elf: Elf32, name: string): Elf32Symbol | null {
  let best: Elf32Symbol | null = null;
  let bestScore = Infinity;
  for (const sym of elf.symbols) {
    if (sym.name !== name || sym.index === 0) continue;
    const defined = sym.shndx !== SHN_UNDEF;
    const score = (defined ? 0 : 8) + (sym.bind === STB_GLOBAL ? 0 : sym.bind === STB_WEAK ? 1 : 2);
    if (score < bestScore) {
      best = sym;
      bestScore = score;
    }
  }
  return best;
}
