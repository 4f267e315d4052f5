/**
 * Inlined frames from DWARF (DWARF 5 §3.3.8.2, "Inlined Subroutine
 * Entries"): every DW_TAG_inlined_subroutine with its function's name
 * (through DW_AT_abstract_origin), the addresses it covers (DW_AT_low_pc /
 * DW_AT_high_pc, or DW_AT_ranges in .debug_rnglists (v5) or .debug_ranges
 * (v2–v4)) and its call site (DW_AT_call_file, DW_AT_call_line; the file
 * an index into the unit's line-program file table). An address inside
 * inlined code then unfolds into the frames `addr2line -i -f` prints: the
 * innermost inlined function at the line-table position, each enclosing
 * one at the call site of the one inside it, and the out-of-line function
 * at the outermost call site.
 *
 * Reads what gcc emits for C (as ./dwarf-info.ts); a relocated .debug_info
 * and .debug_rnglists (LoadedObject.debugSection()) hold load addresses.
 * DW_RLE_*x forms need .debug_addr (split DWARF): such ranges are skipped.
 */
import { DwarfError, DwarfReader } from './dwarf-reader.js';
import { parseAbbrevs, readForm, readUnitHeader } from './dwarf-info.js';
import { parseLineUnit, type DebugSectionSource, type LineUnit } from './dwarf-line.js';

/** One inlined call: `function` inlined, called from `callFile:callLine` in the enclosing function. */
export interface InlinedCall {
  function: string | null;
  callFile: string | null;
  callLine: number;
}

interface InlinedRange {
  lo: number;
  hi: number;
  /** Nesting depth (1: inlined directly into an out-of-line function). */
  depth: number;
  call: InlinedCall;
}

const TAG_compile_unit = 0x11;
const TAG_subprogram = 0x2e;
const TAG_inlined_subroutine = 0x1d;
const AT_name = 0x03;
const AT_stmt_list = 0x10;
const AT_low_pc = 0x11;
const AT_high_pc = 0x12;
const AT_abstract_origin = 0x31;
const AT_specification = 0x47;
const AT_ranges = 0x55;
const AT_call_file = 0x58;
const AT_call_line = 0x59;
const AT_rnglists_base = 0x74;
const FORM_addr = 0x01;
const FORM_rnglistx = 0x23;

interface RawDie {
  tag: number;
  name: string | null;
  origin: number | null;
  lowPc: number | null;
  highPc: number | null;
  highPcIsLength: boolean;
  ranges: number | null;
  rangesIsIndex: boolean;
  callFile: number | null;
  callLine: number;
  depth: number;
}

export interface InlineSections {
  info: Uint8Array;
  abbrev: Uint8Array;
  str?: Uint8Array | null;
  lineStr?: Uint8Array | null;
  line?: Uint8Array | null;
  rnglists?: Uint8Array | null;
  ranges?: Uint8Array | null;
}

/** The inlined calls of an object, looked up by address. */
export class InlineTable {
  constructor(private readonly ranges: readonly InlinedRange[]) {}

  get size(): number {
    return this.ranges.length;
  }

  /** The inlined calls covering `pc`, innermost first (empty when `pc` is in no inlined code). */
  at(pc: number): InlinedCall[] {
    const a = pc >>> 0;
    const hits = this.ranges.filter((r) => r.lo <= a && a < r.hi);
    hits.sort((x, y) => y.depth - x.depth);
    return hits.map((h) => h.call);
  }
}

/** Parse every inlined subroutine of every compilation unit. Throws DwarfError on malformed data. */
export function parseInlinedSubroutines(s: InlineSections): InlineTable {
  const out: InlinedRange[] = [];
  const r = new DwarfReader(s.info, '.debug_info');
  const names = new Map<number, { name: string | null; origin: number | null }>();
  const pending: { die: RawDie; unit: UnitInfo }[] = [];
  while (r.pos < s.info.length) {
    const { unitStart, unitEnd, version, addressSize, offSize, abbrevOff, unitType } = readUnitHeader(r, s.info.length);
    if (unitType !== 1 && unitType !== 3) {
      r.pos = unitEnd; // type, skeleton and split units: no code of their own here
      continue;
    }
    const abbrevs = parseAbbrevs(s.abbrev, abbrevOff);
    const unit: UnitInfo = { version, addressSize, offSize, base: 0, stmtList: null, rnglistsBase: null, files: null };
    let depth = 0;
    /** Inline nesting depth of each open DIE with children. */
    const stack: number[] = [];
    while (r.pos < unitEnd) {
      const off = r.pos;
      const code = r.uleb();
      if (code === 0) {
        stack.pop();
        depth = stack.length > 0 ? stack[stack.length - 1]! : 0;
        continue;
      }
      const ab = abbrevs.get(code);
      if (!ab) throw new DwarfError(`.debug_info DIE at 0x${off.toString(16)} uses unknown abbreviation ${code}`);
      const die: RawDie = { tag: ab.tag, name: null, origin: null, lowPc: null, highPc: null, highPcIsLength: false, ranges: null, rangesIsIndex: false, callFile: null, callLine: 0, depth: 0 };
      for (const a of ab.attrs) {
        const v = readForm(r, a.form, a.implicit, { addressSize, offSize, version, unitStart, str: s.str, lineStr: s.lineStr });
        switch (a.at) {
          case AT_name: if (typeof v.str === 'string') die.name = v.str; break;
          case AT_abstract_origin: case AT_specification: if (v.ref !== null) die.origin = v.ref; break;
          case AT_low_pc: if (v.num !== null) die.lowPc = v.num >>> 0; break;
          case AT_high_pc:
            if (v.num !== null) {
              die.highPc = v.num;
              die.highPcIsLength = a.form !== FORM_addr;
            }
            break;
          case AT_ranges: if (v.num !== null) { die.ranges = v.num; die.rangesIsIndex = a.form === FORM_rnglistx; } break;
          case AT_call_file: if (v.num !== null) die.callFile = v.num; break;
          case AT_call_line: if (v.num !== null) die.callLine = v.num; break;
          case AT_stmt_list: if (v.num !== null) unit.stmtList = v.num; break;
          case AT_rnglists_base: if (v.num !== null) unit.rnglistsBase = v.num; break;
        }
      }
      names.set(off, { name: die.name, origin: die.origin });
      if (die.tag === TAG_compile_unit && die.lowPc !== null) unit.base = die.lowPc;
      if (die.tag === TAG_inlined_subroutine) {
        die.depth = depth + 1;
        pending.push({ die, unit });
      }
      if (ab.children) {
        const d = die.tag === TAG_inlined_subroutine ? die.depth : die.tag === TAG_subprogram ? 0 : depth;
        stack.push(d);
        depth = d;
      }
    }
    r.pos = unitEnd;
  }
  const nameOf = (ref: number | null): string | null => {
    for (let i = 0; ref !== null && i < 8; i++) {
      const n = names.get(ref);
      if (!n) return null;
      if (n.name !== null) return n.name;
      ref = n.origin;
    }
    return null;
  };
  for (const { die, unit } of pending) {
    const call: InlinedCall = { function: die.name ?? nameOf(die.origin), callFile: fileName(unit, die.callFile, s), callLine: die.callLine };
    for (const [lo, hi] of rangesOf(die, unit, s)) if (hi > lo) out.push({ lo, hi, depth: die.depth, call });
  }
  return new InlineTable(out);
}

interface UnitInfo {
  version: number;
  addressSize: number;
  offSize: number;
  /** The unit's base address (DW_AT_low_pc of the compile unit) for range offsets. */
  base: number;
  stmtList: number | null;
  rnglistsBase: number | null;
  files: LineUnit['files'] | null;
}

function fileName(unit: UnitInfo, index: number | null, s: InlineSections): string | null {
  if (index === null || unit.stmtList === null || !s.line) return null;
  if (unit.files === null) unit.files = parseLineUnit(s.line, unit.stmtList, { lineStr: s.lineStr, str: s.str }).unit.files;
  return unit.files[index]?.path ?? null;
}

/** The [lo, hi) address ranges of a DIE. */
function rangesOf(die: RawDie, unit: UnitInfo, s: InlineSections): [number, number][] {
  if (die.lowPc !== null && die.highPc !== null) {
    return [[die.lowPc, die.highPcIsLength ? die.lowPc + die.highPc : die.highPc >>> 0]];
  }
  if (die.ranges === null) return [];
  return unit.version >= 5 ? rnglist(die, unit, s) : debugRanges(die.ranges, unit, s);
}

/** DWARF 5 §2.17.3: a range list in .debug_rnglists (DW_RLE_*). */
function rnglist(die: RawDie, unit: UnitInfo, s: InlineSections): [number, number][] {
  const sec = s.rnglists;
  if (!sec) return [];
  const r = new DwarfReader(sec, '.debug_rnglists');
  let off = die.ranges!;
  if (die.rangesIsIndex) {
    if (unit.rnglistsBase === null) return [];
    r.pos = unit.rnglistsBase + off * unit.offSize;
    off = unit.rnglistsBase + (unit.offSize === 8 ? r.u64() : r.u32());
  }
  r.pos = off;
  const addr = (): number => (unit.addressSize === 8 ? r.u64() : r.u32()) >>> 0;
  let base = unit.base;
  const out: [number, number][] = [];
  for (;;) {
    const kind = r.u8();
    switch (kind) {
      case 0x00: return out; // end_of_list
      case 0x01: r.uleb(); break; // base_addressx: needs .debug_addr
      case 0x02: r.uleb(); r.uleb(); break; // startx_endx
      case 0x03: r.uleb(); r.uleb(); break; // startx_length
      case 0x04: { const a = r.uleb(), b = r.uleb(); out.push([(base + a) >>> 0, (base + b) >>> 0]); break; } // offset_pair
      case 0x05: base = addr(); break; // base_address
      case 0x06: { const a = addr(), b = addr(); out.push([a, b]); break; } // start_end
      case 0x07: { const a = addr(), n = r.uleb(); out.push([a, (a + n) >>> 0]); break; } // start_length
      default: throw new DwarfError(`.debug_rnglists: unknown entry kind 0x${kind.toString(16)} at 0x${(r.pos - 1).toString(16)}`);
    }
  }
}

/** DWARF 4 §2.17.3: a range list in .debug_ranges (pairs; a base selection entry starts with the largest address). */
function debugRanges(off: number, unit: UnitInfo, s: InlineSections): [number, number][] {
  const sec = s.ranges;
  if (!sec) return [];
  const r = new DwarfReader(sec, '.debug_ranges');
  r.pos = off;
  let base = unit.base;
  const out: [number, number][] = [];
  for (;;) {
    const a = r.u32() >>> 0, b = r.u32() >>> 0;
    if (a === 0 && b === 0) return out;
    if (a === 0xffffffff) base = b;
    else out.push([(base + a) >>> 0, (base + b) >>> 0]);
  }
}

/**
 * The inline table of a loaded object, from its relocated debug sections;
 * null when it has no .debug_info or it cannot be read (frames then have
 * no inlined entries, as with addr2line on damaged DWARF).
 */
export function inlineTableFor(obj: DebugSectionSource): InlineTable | null {
  const info = obj.debugSection('.debug_info');
  const abbrev = obj.debugSection('.debug_abbrev');
  if (!info || !abbrev) return null;
  try {
    return parseInlinedSubroutines({
      info, abbrev,
      str: obj.debugSection('.debug_str'), lineStr: obj.debugSection('.debug_line_str'), line: obj.debugSection('.debug_line'),
      rnglists: obj.debugSection('.debug_rnglists'), ranges: obj.debugSection('.debug_ranges'),
    });
  } catch (e) {
    if (e instanceof DwarfError) return null;
    throw e;
  }
}
