/**
 * Segment descriptors and segment-register loads (Intel SDM Vol. 3
 * §3.4–3.5 and §5.4–5.6). A load reads the 8-byte descriptor from the GDT or
 * LDT, checks it, and fills the hidden descriptor cache (base, limit,
 * access rights) that every later access uses.
 */
import type { CPU } from './cpu.js';
import { CS, SS } from './instr.js';
import { Vec } from './stop.js';

export interface Descriptor {
  base: number;
  /** Limit in bytes, already scaled by the granularity bit. */
  limit: number;
  /** Access byte: P(7) DPL(6:5) S(4) Type(3:0). */
  access: number;
  /** Flags nibble: G(3) D/B(2) L(1) AVL(0). */
  flags: number;
  /** Raw words, for gates: [low dword, high dword]. */
  lo: number;
  hi: number;
}

export const DESC_P = 0x80;
export const DESC_S = 0x10;

/** Decode the two dwords of a descriptor. */
export function parseDescriptor(lo: number, hi: number): Descriptor {
  return parseDescriptorInto(lo, hi, { base: 0, limit: 0, access: 0, flags: 0, lo: 0, hi: 0 });
}

/** parseDescriptor into an existing object (exception delivery and IRET reuse one each: nothing allocated per event). */
export function parseDescriptorInto(lo: number, hi: number, d: Descriptor): Descriptor {
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  const flags = (hi >>> 20) & 0xf;
  if (flags & 8) limit = (limit * 4096 + 0xfff) | 0;
  d.base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) | 0;
  d.limit = limit;
  d.access = (hi >>> 8) & 0xff;
  d.flags = flags;
  d.lo = lo;
  d.hi = hi;
  return d;
}

/** A descriptor object to parse into (see parseDescriptorInto). */
export function scratchDescriptor(): Descriptor {
  return { base: 0, limit: 0, access: 0, flags: 0, lo: 0, hi: 0 };
}

/** Build descriptor dwords (used by kernels and tests building GDTs). */
export function makeDescriptor(base: number, limit: number, access: number, flags: number): [number, number] {
  let l = limit >>> 0;
  if (flags & 8) l = l >>> 12;
  const lo = ((base & 0xffff) << 16) | (l & 0xffff);
  const hi = (base & 0xff000000) | ((flags & 0xf) << 20) | (l & 0xf0000) | ((access & 0xff) << 8) | ((base >>> 16) & 0xff);
  return [lo | 0, hi | 0];
}

/**
 * Read the descriptor a selector names, or raise #GP(selector) (or
 * `vectorOnLimit`, with EXT added for events external to the program) when
 * it lies beyond the table limit. Descriptor-table reads are supervisor
 * accesses whatever the CPL.
 */
export function readDescriptor(cpu: CPU, sel: number, vectorOnLimit = Vec.GP, ext = 0, into?: Descriptor): Descriptor {
  const ti = sel & 4;
  const index = sel & 0xfff8;
  const base = ti ? cpu.ldtBase : cpu.gdtrBase;
  const limit = ti ? cpu.ldtLimit : cpu.gdtrLimit;
  if (index + 7 > limit >>> 0) cpu.fault(vectorOnLimit, (sel & 0xfffc) + ext);
  const lo = cpu.readSystem32((base + index) | 0);
  const hi = cpu.readSystem32((base + index + 4) | 0);
  return into === undefined ? parseDescriptor(lo, hi) : parseDescriptorInto(lo, hi, into);
}

/**
 * Set the accessed bit of a code/data descriptor in its table, as the
 * processor does when it loads the selector into a segment register (SDM
 * Vol. 3 §3.4.5.1, type bit 0). A supervisor write: it can #PF at any CPL
 * when the table sits on a read-only or missing page.
 */
export function markAccessed(cpu: CPU, sel: number, d: Descriptor): void {
  if (!(d.access & DESC_S) || d.access & 1) return;
  const base = sel & 4 ? cpu.ldtBase : cpu.gdtrBase;
  // One byte, the access-rights byte at offset 5, written with supervisor privilege (so a #PF reports U/S = 0 and CR2 = that byte).
  const cpl = cpu.cpl;
  if (cpl === 3) cpu.setCpl(0);
  try {
    cpu.write8((base + (sel & 0xfff8) + 5) | 0, (d.access | 1) & 0xff);
  } finally {
    if (cpl === 3) cpu.setCpl(3);
  }
  d.access |= 1;
  d.hi |= 0x100;
}

/**
 * Is [offset, offset+size-1] inside the segment (SDM Vol. 3 §3.4.5.1,
 * §5.3)? Expand-up: every byte ≤ limit. Expand-down: every byte above the
 * limit and ≤ the upper bound (0xFFFFFFFF with B = 1, 0xFFFF with B = 0).
 * `access`/`flags` as in a Descriptor (or the cache: segAttr = access | flags << 12).
 */
export function inSegment(access: number, flags: number, limit: number, offset: number, size: number): boolean {
  const first = offset >>> 0;
  const last = (offset + size - 1) >>> 0;
  const lim = limit >>> 0;
  const expandDown = (access & 0x1c) === 0x14; // data segment with E = 1
  if (!expandDown) return first <= lim && last <= lim;
  const upper = flags & 4 ? 0xffffffff : 0xffff;
  return first > lim && last > lim && first <= upper && last <= upper && first <= last;
}

/** The same check against a loaded segment register's hidden cache. */
export function inSegmentCache(cpu: CPU, seg: number, offset: number, size: number): boolean {
  const attr = cpu.segAttr[seg];
  return inSegment(attr & 0xff, (attr >> 12) & 0xf, cpu.segLimit[seg], offset, size);
}

export function isCode(d: Descriptor): boolean {
  return (d.access & DESC_S) !== 0 && (d.access & 8) !== 0;
}
export function dplOf(d: Descriptor): number {
  return (d.access >> 5) & 3;
}

/** Load the hidden cache without checks (the checks were done by the caller). */
export function setSegmentCache(cpu: CPU, seg: number, sel: number, d: Descriptor | null): void {
  if (d === null) {
    cpu.segSel[seg] = sel;
    cpu.segBase[seg] = 0;
    cpu.segLimit[seg] = 0;
    cpu.segAttr[seg] = 0;
    cpu.segmentsChanged();
    return;
  }
  const attr = d.access | (d.flags << 12);
  if (cpu.segSel[seg] === sel && cpu.segBase[seg] === d.base && cpu.segLimit[seg] === d.limit && cpu.segAttr[seg] === attr) {
    // Reloaded with what it holds (an exception handler's CS, the IRET back): nothing to recompute.
    if (seg === CS) cpu.breakLoop = true;
    return;
  }
  cpu.segSel[seg] = sel;
  cpu.segBase[seg] = d.base;
  cpu.segLimit[seg] = d.limit;
  cpu.segAttr[seg] = attr;
  if (seg === CS) {
    cpu.codeSize32 = (d.flags & 4) !== 0;
    cpu.breakLoop = true;
  }
  cpu.segmentsChanged();
}

/**
 * MOV/POP to a data or stack segment register in protected mode (SDM Vol.
 * 3 §5.5 and "MOV—Move" protected-mode exceptions). CS is loaded only by
 * far transfers, never here.
 */
export function loadSegment(cpu: CPU, seg: number, sel: number): void {
  sel &= 0xffff;
  if (!(cpu.cr0 & 1)) {
    // Real-mode style load: base = selector << 4 (kmemsim runs protected mode; kept for completeness).
    cpu.segSel[seg] = sel;
    cpu.segBase[seg] = sel << 4;
    return;
  }
  const rpl = sel & 3;
  if ((sel & ~3) === 0) {
    if (seg === SS) cpu.fault(Vec.GP, 0);
    setSegmentCache(cpu, seg, sel, null);
    return;
  }
  const d = readDescriptor(cpu, sel);
  const dpl = dplOf(d);
  if (seg === SS) {
    // Writable data segment with RPL = DPL = CPL.
    if (rpl !== cpu.cpl || dpl !== cpu.cpl || !(d.access & DESC_S) || d.access & 8 || !(d.access & 2)) cpu.fault(Vec.GP, sel & 0xfffc);
    if (!(d.access & DESC_P)) cpu.fault(Vec.SS, sel & 0xfffc);
  } else {
    // Data or readable code; non-conforming needs max(CPL, RPL) <= DPL.
    if (!(d.access & DESC_S) || ((d.access & 8) && !(d.access & 2))) cpu.fault(Vec.GP, sel & 0xfffc);
    const conforming = (d.access & 0xc) === 0xc;
    if (!conforming && (rpl > dpl || cpu.cpl > dpl)) cpu.fault(Vec.GP, sel & 0xfffc);
    if (!(d.access & DESC_P)) cpu.fault(Vec.NP, sel & 0xfffc);
  }
  markAccessed(cpu, sel, d);
  setSegmentCache(cpu, seg, sel, d);
}
