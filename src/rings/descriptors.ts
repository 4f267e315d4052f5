/**
 * Builders for the protected-mode structures a kernel writes into memory
 * (Intel SDM Vol. 3 §3.4.5 segment descriptors, §3.5 system descriptors,
 * §5.8.3 call gates, §6.11 IDT gates, §7.2.1–7.2.2 the 32-bit TSS and its
 * descriptor, §7.2.5 task gates, Vol. 1 §19.5.2 the I/O permission bitmap).
 *
 * Pure functions: they return the two dwords of a descriptor (`[lo, hi]`,
 * lo at the lower address) or byte images, and know nothing about the CPU.
 * Limits are given in bytes; the G bit is chosen (or checked) to encode them.
 */

/** A descriptor as the two little-endian dwords it occupies: lo (bytes 0–3), hi (bytes 4–7). */
export type DescriptorWords = [lo: number, hi: number];

/** Type field of code/data segment descriptors (S = 1), SDM Table 3-1. */
export const SEG_TYPE = {
  ACCESSED: 0x1,
  DATA_RO: 0x0,
  DATA_RW: 0x2,
  DATA_RO_DOWN: 0x4,
  DATA_RW_DOWN: 0x6,
  CODE_XO: 0x8,
  CODE_XR: 0xa,
  CODE_XO_CONFORMING: 0xc,
  CODE_XR_CONFORMING: 0xe,
} as const;

/** Type field of system descriptors and gates (S = 0), SDM Table 3-2. */
export const SYS_TYPE = {
  TSS16_AVAILABLE: 0x1,
  LDT: 0x2,
  TSS16_BUSY: 0x3,
  CALL_GATE16: 0x4,
  TASK_GATE: 0x5,
  INTERRUPT_GATE16: 0x6,
  TRAP_GATE16: 0x7,
  TSS32_AVAILABLE: 0x9,
  TSS32_BUSY: 0xb,
  CALL_GATE32: 0xc,
  INTERRUPT_GATE32: 0xe,
  TRAP_GATE32: 0xf,
} as const;

/** A segment selector: index, table indicator (LDT when `ldt`), requested privilege level (SDM §3.4.2). */
export function selector(index: number, rpl = 0, ldt = false): number {
  if (index < 0 || index > 0x1fff) throw new RangeError(`selector index ${index} out of range`);
  return ((index << 3) | (ldt ? 4 : 0) | (rpl & 3)) & 0xffff;
}

function checkDpl(dpl: number): number {
  if (!Number.isInteger(dpl) || dpl < 0 || dpl > 3) throw new RangeError(`DPL ${dpl} is not 0–3`);
  return dpl;
}

/**
 * Encode a byte limit as the 20-bit limit field and the G bit. With
 * `granularity` unspecified, byte granularity is used up to 1 MiB and
 * 4-KiB granularity above (then the low 12 bits of the limit must be ones,
 * since the processor fills them in: SDM §3.4.5 "G flag").
 */
function encodeLimit(limit: number, granularity?: 'byte' | 'page'): { field: number; g: boolean } {
  const l = limit >>> 0;
  const page = granularity === 'page' || (granularity === undefined && l > 0xfffff);
  if (!page) {
    if (l > 0xfffff) throw new RangeError(`limit 0x${l.toString(16)} needs 4-KiB granularity`);
    return { field: l, g: false };
  }
  if ((l & 0xfff) !== 0xfff) throw new RangeError(`limit 0x${l.toString(16)} is not expressible with 4-KiB granularity (low 12 bits must be ones)`);
  return { field: l >>> 12, g: true };
}

export interface RawSegmentFields {
  base: number;
  /** Limit in bytes (see `granularity`). */
  limit: number;
  /** 4-bit type (SEG_TYPE or SYS_TYPE). */
  type: number;
  /** S flag: true for code/data, false for system descriptors. */
  s: boolean;
  dpl: number;
  present: boolean;
  /** D/B flag: 32-bit code, 32-bit stack (B), 4-GiB upper bound for expand-down data. */
  db: boolean;
  avl?: boolean;
  granularity?: 'byte' | 'page';
}

/** The general segment-descriptor layout (SDM Figure 3-8). */
export function segmentDescriptor(f: RawSegmentFields): DescriptorWords {
  const base = f.base >>> 0;
  const { field, g } = encodeLimit(f.limit, f.granularity);
  const access = (f.present ? 0x80 : 0) | (checkDpl(f.dpl) << 5) | (f.s ? 0x10 : 0) | (f.type & 0xf);
  const flags = (g ? 8 : 0) | (f.db ? 4 : 0) | (f.avl ? 1 : 0);
  const lo = ((base & 0xffff) << 16) | (field & 0xffff);
  const hi = (base & 0xff000000) | (flags << 20) | (field & 0xf0000) | (access << 8) | ((base >>> 16) & 0xff);
  return [lo | 0, hi | 0];
}

export interface CodeSegmentOptions {
  base?: number;
  /** Byte limit, default 4 GiB - 1. */
  limit?: number;
  dpl?: number;
  conforming?: boolean;
  /** Readable (execute/read) — default true; false makes it execute-only. */
  readable?: boolean;
  present?: boolean;
  /** D flag: 32-bit default operand/address size (default true). */
  d32?: boolean;
  accessed?: boolean;
  granularity?: 'byte' | 'page';
}

export function codeSegment(o: CodeSegmentOptions = {}): DescriptorWords {
  const type = 0x8 | (o.conforming ? 4 : 0) | (o.readable === false ? 0 : 2) | (o.accessed ? 1 : 0);
  return segmentDescriptor({
    base: o.base ?? 0,
    limit: o.limit ?? 0xffffffff,
    type,
    s: true,
    dpl: o.dpl ?? 0,
    present: o.present ?? true,
    db: o.d32 ?? true,
    granularity: o.granularity,
  });
}

export interface DataSegmentOptions {
  base?: number;
  /** Byte limit, default 4 GiB - 1. For expand-down segments the valid offsets are limit+1 .. (B ? 0xFFFFFFFF : 0xFFFF). */
  limit?: number;
  dpl?: number;
  writable?: boolean;
  expandDown?: boolean;
  present?: boolean;
  /** B flag: 32-bit stack pointer and 4-GiB upper bound (default true). */
  big?: boolean;
  accessed?: boolean;
  granularity?: 'byte' | 'page';
}

export function dataSegment(o: DataSegmentOptions = {}): DescriptorWords {
  const type = (o.expandDown ? 4 : 0) | (o.writable === false ? 0 : 2) | (o.accessed ? 1 : 0);
  return segmentDescriptor({
    base: o.base ?? 0,
    limit: o.limit ?? 0xffffffff,
    type,
    s: true,
    dpl: o.dpl ?? 0,
    present: o.present ?? true,
    db: o.big ?? true,
    granularity: o.granularity,
  });
}

/** An LDT descriptor (GDT only, SDM §3.5.1). */
export function ldtDescriptor(base: number, limit: number, o: { dpl?: number; present?: boolean } = {}): DescriptorWords {
  return segmentDescriptor({ base, limit, type: SYS_TYPE.LDT, s: false, dpl: o.dpl ?? 0, present: o.present ?? true, db: false });
}

/** A TSS descriptor (SDM §7.2.2): 32-bit by default; `busy` sets type 0xB (LTR does this itself). Limit ≥ 0x67 for a 32-bit TSS. */
export function tssDescriptor(base: number, limit = 0x67, o: { busy?: boolean; dpl?: number; present?: boolean; is32?: boolean } = {}): DescriptorWords {
  const is32 = o.is32 ?? true;
  const type = (is32 ? SYS_TYPE.TSS32_AVAILABLE : SYS_TYPE.TSS16_AVAILABLE) | (o.busy ? 2 : 0);
  return segmentDescriptor({ base, limit, type, s: false, dpl: o.dpl ?? 0, present: o.present ?? true, db: false });
}

/** Gate layout shared by call, interrupt and trap gates (SDM Figures 5-8 and 6-2). */
function gateWords(sel: number, offset: number, type: number, dpl: number, present: boolean, paramCount = 0): DescriptorWords {
  const off = offset >>> 0;
  const lo = ((sel & 0xffff) << 16) | (off & 0xffff);
  const hi = (off & 0xffff0000) | (present ? 0x8000 : 0) | (checkDpl(dpl) << 13) | ((type & 0xf) << 8) | (paramCount & 0x1f);
  return [lo | 0, hi | 0];
}

export interface GateOptions {
  /** Code-segment selector of the target. */
  selector: number;
  offset: number;
  dpl?: number;
  present?: boolean;
  /** 32-bit gate (default true): 32-bit offset, and pushes of 4 bytes. */
  is32?: boolean;
}

/**
 * A call gate (SDM §5.8.3). `paramCount` (0–31) is the number of dwords
 * (words for a 16-bit gate) copied from the caller's stack on a call that
 * changes privilege. Default DPL 3: callable from any ring.
 */
export function callGate(o: GateOptions & { paramCount?: number }): DescriptorWords {
  const pc = o.paramCount ?? 0;
  if (pc < 0 || pc > 31) throw new RangeError(`call-gate parameter count ${pc} is not 0–31`);
  const type = o.is32 === false ? SYS_TYPE.CALL_GATE16 : SYS_TYPE.CALL_GATE32;
  return gateWords(o.selector, o.is32 === false ? o.offset & 0xffff : o.offset, type, o.dpl ?? 3, o.present ?? true, pc);
}

/** An interrupt gate (clears IF on entry, SDM §6.12.1.2). Default DPL 0: INT n from CPL > 0 is #GP. */
export function interruptGate(o: GateOptions): DescriptorWords {
  const type = o.is32 === false ? SYS_TYPE.INTERRUPT_GATE16 : SYS_TYPE.INTERRUPT_GATE32;
  return gateWords(o.selector, o.is32 === false ? o.offset & 0xffff : o.offset, type, o.dpl ?? 0, o.present ?? true);
}

/** A trap gate (leaves IF alone). */
export function trapGate(o: GateOptions): DescriptorWords {
  const type = o.is32 === false ? SYS_TYPE.TRAP_GATE16 : SYS_TYPE.TRAP_GATE32;
  return gateWords(o.selector, o.is32 === false ? o.offset & 0xffff : o.offset, type, o.dpl ?? 0, o.present ?? true);
}

/** A task gate (SDM §7.2.5): names a TSS selector; the offset fields are unused. */
export function taskGate(o: { tssSelector: number; dpl?: number; present?: boolean }): DescriptorWords {
  return gateWords(o.tssSelector, 0, SYS_TYPE.TASK_GATE, o.dpl ?? 0, o.present ?? true);
}

/** The 8 bytes of a descriptor, little-endian, as they sit in a table. */
export function descriptorBytes(d: DescriptorWords): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, d[0] >>> 0, true);
  v.setUint32(4, d[1] >>> 0, true);
  return b;
}

/** A whole table (GDT, LDT or IDT) from its entries; `undefined` entries are null descriptors. */
export function tableBytes(entries: readonly (DescriptorWords | undefined)[]): Uint8Array {
  const b = new Uint8Array(entries.length * 8);
  entries.forEach((d, i) => {
    if (d) b.set(descriptorBytes(d), i * 8);
  });
  return b;
}

// ---- 32-bit TSS (SDM §7.2.1, Figure 7-2) -------------------------------------------------

/** Byte offsets of the 32-bit TSS fields. */
export const TSS32 = {
  LINK: 0x00,
  ESP0: 0x04, SS0: 0x08,
  ESP1: 0x0c, SS1: 0x10,
  ESP2: 0x14, SS2: 0x18,
  CR3: 0x1c, EIP: 0x20, EFLAGS: 0x24,
  EAX: 0x28, ECX: 0x2c, EDX: 0x30, EBX: 0x34, ESP: 0x38, EBP: 0x3c, ESI: 0x40, EDI: 0x44,
  ES: 0x48, CS: 0x4c, SS: 0x50, DS: 0x54, FS: 0x58, GS: 0x5c,
  LDT: 0x60,
  /** Word: bit 0 is the T (debug trap) flag. */
  TRAP: 0x64,
  /** Word: offset of the I/O permission bitmap from the TSS base. */
  IOMAP_BASE: 0x66,
  /** Size of the fixed part; the minimum limit of a 32-bit TSS is SIZE - 1. */
  SIZE: 0x68,
} as const;

export interface Tss32Options {
  link?: number;
  esp0?: number; ss0?: number;
  esp1?: number; ss1?: number;
  esp2?: number; ss2?: number;
  cr3?: number; eip?: number; eflags?: number;
  eax?: number; ecx?: number; edx?: number; ebx?: number; esp?: number; ebp?: number; esi?: number; edi?: number;
  es?: number; cs?: number; ss?: number; ds?: number; fs?: number; gs?: number;
  ldt?: number;
  trap?: boolean;
  /**
   * The I/O permission bitmap placed right after the fixed part (see `ioBitmap`);
   * without one, the I/O map base points just past the TSS (no bitmap: every
   * port is denied to CPL > IOPL, Vol. 1 §19.5.2).
   */
  ioBitmap?: Uint8Array;
  /** Explicit I/O map base (overrides the default placement). */
  ioMapBase?: number;
}

/**
 * A 32-bit TSS image. Its length minus one is the limit to give its
 * descriptor (`tssLimit`). With a bitmap, the bitmap (including its
 * trailing 0xFF byte) follows the fixed part at offset 0x68.
 */
export function tss32Image(o: Tss32Options = {}): Uint8Array {
  const bitmap = o.ioBitmap;
  const img = new Uint8Array(TSS32.SIZE + (bitmap ? bitmap.length : 0));
  const v = new DataView(img.buffer);
  const d = (off: number, x: number | undefined): void => v.setUint32(off, (x ?? 0) >>> 0, true);
  const w = (off: number, x: number | undefined): void => v.setUint16(off, (x ?? 0) & 0xffff, true);
  w(TSS32.LINK, o.link);
  d(TSS32.ESP0, o.esp0); w(TSS32.SS0, o.ss0);
  d(TSS32.ESP1, o.esp1); w(TSS32.SS1, o.ss1);
  d(TSS32.ESP2, o.esp2); w(TSS32.SS2, o.ss2);
  d(TSS32.CR3, o.cr3); d(TSS32.EIP, o.eip); d(TSS32.EFLAGS, o.eflags ?? 0x2);
  d(TSS32.EAX, o.eax); d(TSS32.ECX, o.ecx); d(TSS32.EDX, o.edx); d(TSS32.EBX, o.ebx);
  d(TSS32.ESP, o.esp); d(TSS32.EBP, o.ebp); d(TSS32.ESI, o.esi); d(TSS32.EDI, o.edi);
  w(TSS32.ES, o.es); w(TSS32.CS, o.cs); w(TSS32.SS, o.ss); w(TSS32.DS, o.ds); w(TSS32.FS, o.fs); w(TSS32.GS, o.gs);
  w(TSS32.LDT, o.ldt);
  w(TSS32.TRAP, o.trap ? 1 : 0);
  w(TSS32.IOMAP_BASE, o.ioMapBase ?? TSS32.SIZE);
  if (bitmap) img.set(bitmap, TSS32.SIZE);
  return img;
}

/** The limit to put in the descriptor of a TSS image. */
export function tssLimit(image: Uint8Array): number {
  return image.length - 1;
}

/**
 * An I/O permission bitmap: one bit per port, 0 = allowed. Every port is
 * denied except those listed (single ports or inclusive [from, to]
 * ranges). `ports` bits are covered (default all 65536); one more byte of
 * all ones follows, as the SDM requires (Vol. 1 §19.5.2), because the
 * processor reads two bytes for every check.
 */
export function ioBitmap(allowed: Iterable<number | [number, number]> = [], ports = 0x10000): Uint8Array {
  const bytes = Math.ceil(ports / 8);
  const b = new Uint8Array(bytes + 1).fill(0xff);
  const allow = (p: number): void => {
    if (p < 0 || p >= ports) throw new RangeError(`port 0x${p.toString(16)} is outside the bitmap`);
    b[p >> 3] &= ~(1 << (p & 7));
  };
  for (const a of allowed) {
    if (typeof a === 'number') allow(a);
    else for (let p = a[0]; p <= a[1]; p++) allow(p);
  }
  return b;
}
