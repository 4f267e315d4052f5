/**
 * DWARF line-number programs (.debug_line), versions 2 to 5, for turning a
 * module's code addresses into `file:line`.
 *
 * What is read:
 *  - the unit header: 32-bit and 64-bit DWARF lengths, version 2–5,
 *    v5's address_size/segment_selector_size, maximum_operations_per_
 *    instruction (v4+), the standard_opcode_lengths;
 *  - the directory and file tables: v2–v4's NUL-terminated lists (file
 *    entries with directory index, mtime, length as ULEB128), v5's entry
 *    formats (DW_LNCT_path/directory_index/timestamp/size/MD5 in
 *    DW_FORM_string, line_strp, strp, strx*, udata, data1/2/4/8/16, block,
 *    sdata); line_strp strings come from .debug_line_str, strp from
 *    .debug_str;
 *  - the program: special opcodes, the standard opcodes 1–12 (unknown
 *    standard opcodes are skipped with the lengths the header gives), the
 *    extended opcodes DW_LNE_end_sequence, set_address, define_file,
 *    set_discriminator (others skipped by their length).
 *
 * File indices follow the version: 1-based in v2–v4 (0 means none), 0-based
 * in v5 (entry 0 is the primary source file). A file's path is its name
 * joined with its directory unless the name is absolute or the directory is
 * the compilation directory (v5 directory 0 / v2–v4 index 0), so paths are
 * as the compiler was given them.
 *
 * The addresses are whatever DW_LNE_set_address holds: for an ET_REL
 * object, take .debug_line from LoadedObject.debugSection(), which applies
 * the R_386_32 relocations against .text, so the rows carry load addresses.
 */

import { DwarfError, DwarfReader } from './dwarf-reader.js';

export { DwarfError };

// Standard opcodes
const DW_LNS_copy = 1;
const DW_LNS_advance_pc = 2;
const DW_LNS_advance_line = 3;
const DW_LNS_set_file = 4;
const DW_LNS_set_column = 5;
const DW_LNS_negate_stmt = 6;
const DW_LNS_set_basic_block = 7;
const DW_LNS_const_add_pc = 8;
const DW_LNS_fixed_advance_pc = 9;
const DW_LNS_set_prologue_end = 10;
const DW_LNS_set_epilogue_begin = 11;
const DW_LNS_set_isa = 12;
// Extended opcodes
const DW_LNE_end_sequence = 1;
const DW_LNE_set_address = 2;
const DW_LNE_define_file = 3;
const DW_LNE_set_discriminator = 4;
// v5 content types
const DW_LNCT_path = 1;
const DW_LNCT_directory_index = 2;
// Forms
const DW_FORM_block2 = 0x03;
const DW_FORM_block4 = 0x04;
const DW_FORM_data2 = 0x05;
const DW_FORM_data4 = 0x06;
const DW_FORM_data8 = 0x07;
const DW_FORM_string = 0x08;
const DW_FORM_block = 0x09;
const DW_FORM_block1 = 0x0a;
const DW_FORM_data1 = 0x0b;
const DW_FORM_sdata = 0x0d;
const DW_FORM_strp = 0x0e;
const DW_FORM_udata = 0x0f;
const DW_FORM_data16 = 0x1e;
const DW_FORM_line_strp = 0x1f;
const DW_FORM_strx = 0x1a;
const DW_FORM_strx1 = 0x25;
const DW_FORM_strx2 = 0x26;
const DW_FORM_strx3 = 0x27;
const DW_FORM_strx4 = 0x28;

export interface LineFile {
  name: string;
  /** Index into the unit's directory table. */
  dir: number;
  /** The name joined with its directory (see the file comment). */
  path: string;
}

export interface LineRow {
  address: number;
  /** Index into the unit's file table (version-dependent base, see `LineUnit.files`). */
  file: number;
  line: number;
  column: number;
  isStmt: boolean;
  /** The row that ends a sequence: its address is one past the sequence's last byte. */
  endSequence: boolean;
}

export interface LineUnit {
  /** Offset of the unit in .debug_line. */
  offset: number;
  version: number;
  addressSize: number;
  minInstLength: number;
  maxOpsPerInst: number;
  defaultIsStmt: boolean;
  lineBase: number;
  lineRange: number;
  opcodeBase: number;
  dirs: string[];
  /** v5: index 0 is the primary file; v2–v4: `files[0]` is a placeholder (file numbers start at 1). */
  files: LineFile[];
  /** Rows in program order; each sequence ends with an `endSequence` row. */
  rows: LineRow[];
}

export interface DebugStrings {
  /** .debug_line_str (DW_FORM_line_strp). */
  lineStr?: Uint8Array | null;
  /** .debug_str (DW_FORM_strp). */
  str?: Uint8Array | null;
}

function strAt(sec: Uint8Array | null | undefined, off: number, what: string): string {
  if (!sec) throw new DwarfError(`${what} string at 0x${off.toString(16)} but no ${what} section`);
  if (off >= sec.length) throw new DwarfError(`${what} offset 0x${off.toString(16)} out of range`);
  let end = off;
  while (end < sec.length && sec[end] !== 0) end++;
  return new TextDecoder().decode(sec.subarray(off, end));
}

/** One attribute value of a v5 entry: a string, a number, or null (blocks, MD5, strx without .debug_str_offsets). */
function readForm(r: DwarfReader, form: number, is64: boolean, strings: DebugStrings): string | number | null {
  switch (form) {
    case DW_FORM_string: return r.cstr();
    case DW_FORM_line_strp: return strAt(strings.lineStr, r.offset(is64), '.debug_line_str');
    case DW_FORM_strp: return strAt(strings.str, r.offset(is64), '.debug_str');
    case DW_FORM_udata: return r.uleb();
    case DW_FORM_sdata: return r.sleb();
    case DW_FORM_data1: return r.u8();
    case DW_FORM_data2: return r.u16();
    case DW_FORM_data4: return r.u32();
    case DW_FORM_data8: return r.u64();
    case DW_FORM_data16: r.skip(16); return null;
    case DW_FORM_block: r.skip(r.uleb()); return null;
    case DW_FORM_block1: r.skip(r.u8()); return null;
    case DW_FORM_block2: r.skip(r.u16()); return null;
    case DW_FORM_block4: r.skip(r.u32()); return null;
    // String indices need .debug_str_offsets and the CU's base: not resolved.
    case DW_FORM_strx: r.uleb(); return null;
    case DW_FORM_strx1: r.u8(); return null;
    case DW_FORM_strx2: r.u16(); return null;
    case DW_FORM_strx3: r.u24(); return null;
    case DW_FORM_strx4: r.u32(); return null;
    default: throw new DwarfError(`unsupported form 0x${form.toString(16)} in a line table entry format`);
  }
}

/** v5 directory or file table: the entry format, then the entries. */
function readEntryTable(r: DwarfReader, is64: boolean, strings: DebugStrings): { path: string; dir: number }[] {
  const nfmt = r.u8();
  const fmt: [number, number][] = [];
  for (let i = 0; i < nfmt; i++) fmt.push([r.uleb(), r.uleb()]);
  const count = r.uleb();
  const out: { path: string; dir: number }[] = [];
  for (let i = 0; i < count; i++) {
    let path = '';
    let dir = 0;
    for (const [type, form] of fmt) {
      const v = readForm(r, form, is64, strings);
      if (type === DW_LNCT_path && typeof v === 'string') path = v;
      else if (type === DW_LNCT_directory_index && typeof v === 'number') dir = v;
    }
    out.push({ path, dir });
  }
  return out;
}

const isAbsolute = (p: string): boolean => p.startsWith('/');
function joinPath(dir: string, name: string): string {
  if (dir === '' || isAbsolute(name)) return name;
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** Parse one unit at `offset`; returns it and the offset of the next. */
export function parseLineUnit(data: Uint8Array, offset: number, strings: DebugStrings = {}): { unit: LineUnit; next: number } {
  const r = new DwarfReader(data, '.debug_line', offset);
  let unitLength = r.u32();
  let is64 = false;
  if (unitLength === 0xffffffff) {
    is64 = true;
    unitLength = r.u64();
  } else if (unitLength >= 0xfffffff0) {
    throw new DwarfError(`reserved unit length 0x${unitLength.toString(16)}`);
  }
  const end = r.pos + unitLength;
  if (end > data.length) throw new DwarfError(`line unit at 0x${offset.toString(16)} runs past the section`);
  const version = r.u16();
  if (version < 2 || version > 5) throw new DwarfError(`unsupported .debug_line version ${version}`);
  let addressSize = 4;
  if (version >= 5) {
    addressSize = r.u8();
    r.u8(); // segment_selector_size
  }
  const headerLength = r.offset(is64);
  const programStart = r.pos + headerLength;
  const minInstLength = r.u8();
  const maxOpsPerInst = version >= 4 ? r.u8() : 1;
  const defaultIsStmt = r.u8() !== 0;
  const lineBase = r.i8();
  const lineRange = r.u8();
  const opcodeBase = r.u8();
  if (lineRange === 0) throw new DwarfError('line_range is 0');
  const stdLengths: number[] = [0];
  for (let i = 1; i < opcodeBase; i++) stdLengths.push(r.u8());

  const dirs: string[] = [];
  const files: LineFile[] = [];
  if (version >= 5) {
    for (const d of readEntryTable(r, is64, strings)) dirs.push(d.path);
    for (const f of readEntryTable(r, is64, strings)) {
      files.push({ name: f.path, dir: f.dir, path: f.dir === 0 ? f.path : joinPath(dirs[f.dir] ?? '', f.path) });
    }
  } else {
    dirs.push(''); // index 0: the compilation directory
    for (;;) {
      const d = r.cstr();
      if (d === '') break;
      dirs.push(d);
    }
    files.push({ name: '', dir: 0, path: '' }); // file numbers start at 1
    for (;;) {
      const name = r.cstr();
      if (name === '') break;
      const dir = r.uleb();
      r.uleb(); // mtime
      r.uleb(); // length
      files.push({ name, dir, path: joinPath(dirs[dir] ?? '', name) });
    }
  }
  const addFile = (name: string, dir: number): void => {
    files.push({ name, dir, path: dir === 0 ? name : joinPath(dirs[dir] ?? '', name) });
  };

  // The state machine.
  r.pos = programStart;
  const rows: LineRow[] = [];
  let address = 0;
  let opIndex = 0;
  let file = 1;
  let line = 1;
  let column = 0;
  let isStmt = defaultIsStmt;
  const reset = (): void => {
    address = 0;
    opIndex = 0;
    file = 1;
    line = 1;
    column = 0;
    isStmt = defaultIsStmt;
  };
  const emit = (endSequence: boolean): void => {
    rows.push({ address: address >>> 0, file, line, column, isStmt, endSequence });
  };
  const advance = (operationAdvance: number): void => {
    if (maxOpsPerInst <= 1) {
      address += minInstLength * operationAdvance;
    } else {
      const t = opIndex + operationAdvance;
      address += minInstLength * Math.floor(t / maxOpsPerInst);
      opIndex = t % maxOpsPerInst;
    }
    address >>>= 0;
  };

  while (r.pos < end) {
    const op = r.u8();
    if (op >= opcodeBase) {
      const adj = op - opcodeBase;
      advance(Math.floor(adj / lineRange));
      line += lineBase + (adj % lineRange);
      emit(false);
      continue;
    }
    switch (op) {
      case 0: {
        const len = r.uleb();
        const start = r.pos;
        if (len === 0) break;
        const sub = r.u8();
        if (sub === DW_LNE_end_sequence) {
          emit(true);
          reset();
        } else if (sub === DW_LNE_set_address) {
          address = r.addr(len - 1) >>> 0;
          opIndex = 0;
        } else if (sub === DW_LNE_define_file) {
          const name = r.cstr();
          const dir = r.uleb();
          r.uleb();
          r.uleb();
          addFile(name, dir);
        } else if (sub === DW_LNE_set_discriminator) {
          r.uleb();
        }
        r.pos = start + len; // skips unknown extended opcodes too
        break;
      }
      case DW_LNS_copy:
        emit(false);
        break;
      case DW_LNS_advance_pc:
        advance(r.uleb());
        break;
      case DW_LNS_advance_line:
        line += r.sleb();
        break;
      case DW_LNS_set_file:
        file = r.uleb();
        break;
      case DW_LNS_set_column:
        column = r.uleb();
        break;
      case DW_LNS_negate_stmt:
        isStmt = !isStmt;
        break;
      case DW_LNS_set_basic_block:
      case DW_LNS_set_prologue_end:
      case DW_LNS_set_epilogue_begin:
        break;
      case DW_LNS_const_add_pc:
        advance(Math.floor((255 - opcodeBase) / lineRange));
        break;
      case DW_LNS_fixed_advance_pc:
        address = (address + r.u16()) >>> 0;
        opIndex = 0;
        break;
      case DW_LNS_set_isa:
        r.uleb();
        break;
      default:
        // An opcode this reader does not know: skip its ULEB128 operands.
        for (let i = 0; i < (stdLengths[op] ?? 0); i++) r.uleb();
    }
  }
  return {
    unit: { offset, version, addressSize, minInstLength, maxOpsPerInst, defaultIsStmt, lineBase, lineRange, opcodeBase, dirs, files, rows },
    next: end,
  };
}

/** Every unit of a .debug_line section. */
export function parseDebugLine(data: Uint8Array, strings: DebugStrings = {}): LineUnit[] {
  const units: LineUnit[] = [];
  let off = 0;
  while (off < data.length) {
    const { unit, next } = parseLineUnit(data, off, strings);
    units.push(unit);
    if (next <= off) break;
    off = next;
  }
  return units;
}

export interface SourceLocation {
  /** The file's path as recorded (see the file comment). */
  file: string;
  line: number;
  column: number;
}

interface Seq {
  start: number;
  end: number;
  /** Rows sorted by address (program order kept among equal addresses). */
  rows: { address: number; loc: SourceLocation }[];
}

/**
 * Address → source position over the sequences of one or more line units:
 * the row with the greatest address ≤ pc in the sequence containing pc
 * (start ≤ pc < end); among rows at the same address, the last one (what
 * addr2line answers).
 */
export class LineTable {
  private readonly seqs: Seq[] = [];

  constructor(units: readonly LineUnit[]) {
    for (const u of units) {
      let cur: { address: number; loc: SourceLocation }[] = [];
      for (const row of u.rows) {
        if (row.endSequence) {
          if (cur.length > 0) {
            const start = cur[0]!.address;
            const rows = cur.map((x, i) => ({ x, i })).sort((a, b) => a.x.address - b.x.address || a.i - b.i).map((y) => y.x);
            if (row.address > start) this.seqs.push({ start, end: row.address, rows });
          }
          cur = [];
          continue;
        }
        const f = u.files[row.file];
        cur.push({ address: row.address, loc: { file: f ? f.path : `<file ${row.file}>`, line: row.line, column: row.column } });
      }
    }
    this.seqs.sort((a, b) => a.start - b.start);
  }

  get sequenceCount(): number {
    return this.seqs.length;
  }

  /** The source position of `pc`, or null when no sequence covers it (or its row has line 0). */
  lookup(pc: number): SourceLocation | null {
    const a = pc >>> 0;
    for (const s of this.seqs) {
      if (a < s.start || a >= s.end) continue;
      // Binary search: last row with address ≤ a.
      let lo = 0;
      let hi = s.rows.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (s.rows[mid]!.address <= a) lo = mid;
        else hi = mid - 1;
      }
      const r = s.rows[lo]!;
      if (r.address > a || r.loc.line === 0) return null;
      return r.loc;
    }
    return null;
  }
}

/** What LineTable needs from a loaded object (src/kernel/module.ts's LoadedObject). */
export interface DebugSectionSource {
  debugSection(name: string): Uint8Array | null;
}

/**
 * The line table of a loaded object, from its relocated .debug_line (and
 * .debug_line_str/.debug_str); null when it has none or it cannot be read
 * (a report without file:line is better than no report).
 */
export function lineTableFor(obj: DebugSectionSource, onDamaged?: (why: string) => void): LineTable | null {
  const line = obj.debugSection('.debug_line');
  if (!line) return null;
  try {
    const units = parseDebugLine(line, { lineStr: obj.debugSection('.debug_line_str'), str: obj.debugSection('.debug_str') });
    return new LineTable(units);
  } catch (e) {
    if (!(e instanceof DwarfError)) throw e;
    // Damaged line info costs file:line, nothing else (as with addr2line's "??:0").
    onDamaged?.(e.message);
    return null;
  }
}
