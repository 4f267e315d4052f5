/**
 * ELF32 numeric constants and their names.
 *
 * Values come from the System V ABI generic chapter ("gABI", ch. 4 Object
 * Files and ch. 5 Program Loading) and the Intel386 psABI (e_machine,
 * relocation types). GNU extensions that gcc/binutils really emit on i386
 * (PT_GNU_STACK, SHT_GNU_HASH, R_386_GOT32X, ...) are included so that
 * reports can name them instead of printing bare numbers.
 */

// ---- e_ident ---------------------------------------------------------------

export const EI_NIDENT = 16;
export const EI_CLASS = 4;
export const EI_DATA = 5;
export const EI_VERSION = 6;
export const EI_OSABI = 7;
export const EI_ABIVERSION = 8;

export const ELFCLASSNONE = 0;
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;

export const ELFDATANONE = 0;
/** Two's complement, little-endian: the only encoding the i386 psABI allows. */
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;

export const EV_NONE = 0;
export const EV_CURRENT = 1;

// ---- sizes of the on-disk structures (gABI, 32-bit forms) --------------------

export const ELF32_EHDR_SIZE = 52;
export const ELF32_PHDR_SIZE = 32;
export const ELF32_SHDR_SIZE = 40;
export const ELF32_SYM_SIZE = 16;
export const ELF32_REL_SIZE = 8;
export const ELF32_RELA_SIZE = 12;

// ---- e_type ----------------------------------------------------------------

export const ET_NONE = 0;
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;

// ---- e_machine -------------------------------------------------------------

export const EM_NONE = 0;
export const EM_SPARC = 2;
export const EM_386 = 3;
export const EM_68K = 4;
export const EM_486 = 6;
export const EM_MIPS = 8;
export const EM_PPC = 20;
export const EM_PPC64 = 21;
export const EM_S390 = 22;
export const EM_ARM = 40;
export const EM_SPARCV9 = 43;
export const EM_IA_64 = 50;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const EM_RISCV = 243;
export const EM_LOONGARCH = 258;

// ---- special section indices -------------------------------------------------

export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_LOPROC = 0xff00;
export const SHN_HIPROC = 0xff1f;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
/** The real index lives elsewhere (section 0 or SHT_SYMTAB_SHNDX); gABI "Extended Section Indexes". */
export const SHN_XINDEX = 0xffff;
export const SHN_HIRESERVE = 0xffff;

/** e_phnum value meaning "the real count is in section 0's sh_info" (gABI). */
export const PN_XNUM = 0xffff;

// ---- sh_type -----------------------------------------------------------------

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_HASH = 5;
export const SHT_DYNAMIC = 6;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_SHLIB = 10;
export const SHT_DYNSYM = 11;
export const SHT_INIT_ARRAY = 14;
export const SHT_FINI_ARRAY = 15;
export const SHT_PREINIT_ARRAY = 16;
export const SHT_GROUP = 17;
export const SHT_SYMTAB_SHNDX = 18;
export const SHT_GNU_ATTRIBUTES = 0x6ffffff5;
export const SHT_GNU_HASH = 0x6ffffff6;
export const SHT_GNU_VERDEF = 0x6ffffffd;
export const SHT_GNU_VERNEED = 0x6ffffffe;
export const SHT_GNU_VERSYM = 0x6fffffff;

// ---- sh_flags ----------------------------------------------------------------

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
export const SHF_MERGE = 0x10;
export const SHF_STRINGS = 0x20;
export const SHF_INFO_LINK = 0x40;
export const SHF_LINK_ORDER = 0x80;
export const SHF_OS_NONCONFORMING = 0x100;
export const SHF_GROUP = 0x200;
export const SHF_TLS = 0x400;
export const SHF_COMPRESSED = 0x800;

// ---- p_type / p_flags ------------------------------------------------------------

export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_SHLIB = 5;
export const PT_PHDR = 6;
export const PT_TLS = 7;
export const PT_GNU_EH_FRAME = 0x6474e550;
export const PT_GNU_STACK = 0x6474e551;
export const PT_GNU_RELRO = 0x6474e552;
export const PT_GNU_PROPERTY = 0x6474e553;

export const PF_X = 0x1;
export const PF_W = 0x2;
export const PF_R = 0x4;

// ---- symbols -------------------------------------------------------------------

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STB_GNU_UNIQUE = 10;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STT_COMMON = 5;
export const STT_TLS = 6;
export const STT_GNU_IFUNC = 10;

export const STV_DEFAULT = 0;
export const STV_INTERNAL = 1;
export const STV_HIDDEN = 2;
export const STV_PROTECTED = 3;

// ---- i386 relocation types (i386 psABI, Table "Relocation Types") ------------

export const R_386_NONE = 0;
/** S + A: absolute 32-bit address (data pointers, `mov $sym, %eax`). */
export const R_386_32 = 1;
/** S + A - P: 32-bit PC-relative (`call sym` in non-PIC code). */
export const R_386_PC32 = 2;
export const R_386_GOT32 = 3;
export const R_386_PLT32 = 4;
export const R_386_COPY = 5;
export const R_386_GLOB_DAT = 6;
export const R_386_JMP_SLOT = 7;
export const R_386_RELATIVE = 8;
export const R_386_GOTOFF = 9;
export const R_386_GOTPC = 10;
export const R_386_32PLT = 11;
export const R_386_TLS_TPOFF = 14;
export const R_386_TLS_IE = 15;
export const R_386_TLS_GOTIE = 16;
export const R_386_TLS_LE = 17;
export const R_386_TLS_GD = 18;
export const R_386_TLS_LDM = 19;
export const R_386_16 = 20;
export const R_386_PC16 = 21;
export const R_386_8 = 22;
export const R_386_PC8 = 23;
export const R_386_TLS_GD_32 = 24;
export const R_386_TLS_GD_PUSH = 25;
export const R_386_TLS_GD_CALL = 26;
export const R_386_TLS_GD_POP = 27;
export const R_386_TLS_LDM_32 = 28;
export const R_386_TLS_LDM_PUSH = 29;
export const R_386_TLS_LDM_CALL = 30;
export const R_386_TLS_LDM_POP = 31;
export const R_386_TLS_LDO_32 = 32;
export const R_386_TLS_IE_32 = 33;
export const R_386_TLS_LE_32 = 34;
export const R_386_TLS_DTPMOD32 = 35;
export const R_386_TLS_DTPOFF32 = 36;
export const R_386_TLS_TPOFF32 = 37;
export const R_386_SIZE32 = 38;
export const R_386_TLS_GOTDESC = 39;
export const R_386_TLS_DESC_CALL = 40;
export const R_386_TLS_DESC = 41;
export const R_386_IRELATIVE = 42;
/** Relaxable GOT32 (binutils >= 2.26 emits it for `mov foo@GOT(%ebx)`). */
export const R_386_GOT32X = 43;

// ---- names -------------------------------------------------------------------

function lookup(table: Record<number, string>, value: number, fallback: string): string {
  return Object.prototype.hasOwnProperty.call(table, value) ? table[value]! : fallback;
}

function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16);
}

const ET_NAMES: Record<number, string> = {
  [ET_NONE]: 'ET_NONE', [ET_REL]: 'ET_REL', [ET_EXEC]: 'ET_EXEC', [ET_DYN]: 'ET_DYN', [ET_CORE]: 'ET_CORE',
};

/** "ET_EXEC", or "ET_<0x...>" for OS/processor-specific and unknown values. */
export function elfTypeName(type: number): string {
  return lookup(ET_NAMES, type, `ET_<${hex(type)}>`);
}

const EM_NAMES: Record<number, string> = {
  [EM_NONE]: 'none', [EM_SPARC]: 'SPARC', [EM_386]: 'Intel 80386', [EM_68K]: 'Motorola 68000',
  [EM_486]: 'Intel 80486 (obsolete)', [EM_MIPS]: 'MIPS', [EM_PPC]: 'PowerPC', [EM_PPC64]: 'PowerPC64',
  [EM_S390]: 'IBM S/390', [EM_ARM]: 'ARM', [EM_SPARCV9]: 'SPARC v9', [EM_IA_64]: 'IA-64',
  [EM_X86_64]: 'x86-64', [EM_AARCH64]: 'AArch64', [EM_RISCV]: 'RISC-V', [EM_LOONGARCH]: 'LoongArch',
};

/** Human name of an e_machine value, for error messages ("x86-64"). */
export function machineName(machine: number): string {
  return lookup(EM_NAMES, machine, 'unknown machine');
}

const SHT_NAMES: Record<number, string> = {
  [SHT_NULL]: 'SHT_NULL', [SHT_PROGBITS]: 'SHT_PROGBITS', [SHT_SYMTAB]: 'SHT_SYMTAB',
  [SHT_STRTAB]: 'SHT_STRTAB', [SHT_RELA]: 'SHT_RELA', [SHT_HASH]: 'SHT_HASH',
  [SHT_DYNAMIC]: 'SHT_DYNAMIC', [SHT_NOTE]: 'SHT_NOTE', [SHT_NOBITS]: 'SHT_NOBITS',
  [SHT_REL]: 'SHT_REL', [SHT_SHLIB]: 'SHT_SHLIB', [SHT_DYNSYM]: 'SHT_DYNSYM',
  [SHT_INIT_ARRAY]: 'SHT_INIT_ARRAY', [SHT_FINI_ARRAY]: 'SHT_FINI_ARRAY',
  [SHT_PREINIT_ARRAY]: 'SHT_PREINIT_ARRAY', [SHT_GROUP]: 'SHT_GROUP',
  [SHT_SYMTAB_SHNDX]: 'SHT_SYMTAB_SHNDX', [SHT_GNU_ATTRIBUTES]: 'SHT_GNU_ATTRIBUTES',
  [SHT_GNU_HASH]: 'SHT_GNU_HASH', [SHT_GNU_VERDEF]: 'SHT_GNU_verdef',
  [SHT_GNU_VERNEED]: 'SHT_GNU_verneed', [SHT_GNU_VERSYM]: 'SHT_GNU_versym',
};

export function sectionTypeName(type: number): string {
  return lookup(SHT_NAMES, type, `SHT_<${hex(type)}>`);
}

const PT_NAMES: Record<number, string> = {
  [PT_NULL]: 'PT_NULL', [PT_LOAD]: 'PT_LOAD', [PT_DYNAMIC]: 'PT_DYNAMIC', [PT_INTERP]: 'PT_INTERP',
  [PT_NOTE]: 'PT_NOTE', [PT_SHLIB]: 'PT_SHLIB', [PT_PHDR]: 'PT_PHDR', [PT_TLS]: 'PT_TLS',
  [PT_GNU_EH_FRAME]: 'PT_GNU_EH_FRAME', [PT_GNU_STACK]: 'PT_GNU_STACK',
  [PT_GNU_RELRO]: 'PT_GNU_RELRO', [PT_GNU_PROPERTY]: 'PT_GNU_PROPERTY',
};

export function segmentTypeName(type: number): string {
  return lookup(PT_NAMES, type, `PT_<${hex(type)}>`);
}

const STT_NAMES: Record<number, string> = {
  [STT_NOTYPE]: 'STT_NOTYPE', [STT_OBJECT]: 'STT_OBJECT', [STT_FUNC]: 'STT_FUNC',
  [STT_SECTION]: 'STT_SECTION', [STT_FILE]: 'STT_FILE', [STT_COMMON]: 'STT_COMMON',
  [STT_TLS]: 'STT_TLS', [STT_GNU_IFUNC]: 'STT_GNU_IFUNC',
};

export function symbolTypeName(type: number): string {
  return lookup(STT_NAMES, type, `STT_<${type}>`);
}

const STB_NAMES: Record<number, string> = {
  [STB_LOCAL]: 'STB_LOCAL', [STB_GLOBAL]: 'STB_GLOBAL', [STB_WEAK]: 'STB_WEAK',
  [STB_GNU_UNIQUE]: 'STB_GNU_UNIQUE',
};

export function symbolBindName(bind: number): string {
  return lookup(STB_NAMES, bind, `STB_<${bind}>`);
}

const R_386_NAMES: Record<number, string> = {
  [R_386_NONE]: 'R_386_NONE', [R_386_32]: 'R_386_32', [R_386_PC32]: 'R_386_PC32',
  [R_386_GOT32]: 'R_386_GOT32', [R_386_PLT32]: 'R_386_PLT32', [R_386_COPY]: 'R_386_COPY',
  [R_386_GLOB_DAT]: 'R_386_GLOB_DAT', [R_386_JMP_SLOT]: 'R_386_JUMP_SLOT',
  [R_386_RELATIVE]: 'R_386_RELATIVE', [R_386_GOTOFF]: 'R_386_GOTOFF', [R_386_GOTPC]: 'R_386_GOTPC',
  [R_386_32PLT]: 'R_386_32PLT', [R_386_TLS_TPOFF]: 'R_386_TLS_TPOFF', [R_386_TLS_IE]: 'R_386_TLS_IE',
  [R_386_TLS_GOTIE]: 'R_386_TLS_GOTIE', [R_386_TLS_LE]: 'R_386_TLS_LE', [R_386_TLS_GD]: 'R_386_TLS_GD',
  [R_386_TLS_LDM]: 'R_386_TLS_LDM', [R_386_16]: 'R_386_16', [R_386_PC16]: 'R_386_PC16',
  [R_386_8]: 'R_386_8', [R_386_PC8]: 'R_386_PC8', [R_386_TLS_GD_32]: 'R_386_TLS_GD_32',
  [R_386_TLS_GD_PUSH]: 'R_386_TLS_GD_PUSH', [R_386_TLS_GD_CALL]: 'R_386_TLS_GD_CALL',
  [R_386_TLS_GD_POP]: 'R_386_TLS_GD_POP', [R_386_TLS_LDM_32]: 'R_386_TLS_LDM_32',
  [R_386_TLS_LDM_PUSH]: 'R_386_TLS_LDM_PUSH', [R_386_TLS_LDM_CALL]: 'R_386_TLS_LDM_CALL',
  [R_386_TLS_LDM_POP]: 'R_386_TLS_LDM_POP', [R_386_TLS_LDO_32]: 'R_386_TLS_LDO_32',
  [R_386_TLS_IE_32]: 'R_386_TLS_IE_32', [R_386_TLS_LE_32]: 'R_386_TLS_LE_32',
  [R_386_TLS_DTPMOD32]: 'R_386_TLS_DTPMOD32', [R_386_TLS_DTPOFF32]: 'R_386_TLS_DTPOFF32',
  [R_386_TLS_TPOFF32]: 'R_386_TLS_TPOFF32', [R_386_SIZE32]: 'R_386_SIZE32',
  [R_386_TLS_GOTDESC]: 'R_386_TLS_GOTDESC', [R_386_TLS_DESC_CALL]: 'R_386_TLS_DESC_CALL',
  [R_386_TLS_DESC]: 'R_386_TLS_DESC', [R_386_IRELATIVE]: 'R_386_IRELATIVE',
  [R_386_GOT32X]: 'R_386_GOT32X',
};

/** The name readelf prints ("R_386_PC32"; R_386_JMP_SLOT prints as "R_386_JUMP_SLOT"). */
export function relocationTypeName(type: number): string {
  return lookup(R_386_NAMES, type, `R_386_<${type}>`);
}

/**
 * Width in bytes of the field a relocation patches (i386 psABI: word32 for
 * everything but R_386_16/PC16 (word16) and R_386_8/PC8 (word8)); 0 for
 * R_386_NONE, R_386_COPY (copies a whole object, patches no field) and the
 * TLS marker relocations that only annotate an instruction;
 * undefined for types this table does not know.
 */
export function relocationWidth(type: number): number | undefined {
  switch (type) {
    case R_386_NONE: case R_386_COPY:
    case R_386_TLS_GD_PUSH: case R_386_TLS_GD_CALL: case R_386_TLS_GD_POP:
    case R_386_TLS_LDM_PUSH: case R_386_TLS_LDM_CALL: case R_386_TLS_LDM_POP:
    case R_386_TLS_DESC_CALL:
      return 0;
    case R_386_16: case R_386_PC16:
      return 2;
    case R_386_8: case R_386_PC8:
      return 1;
    default:
      return Object.prototype.hasOwnProperty.call(R_386_NAMES, type) ? 4 : undefined;
  }
}
