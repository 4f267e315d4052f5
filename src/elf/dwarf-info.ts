/**
 * The parameters of each function, from DWARF .debug_info (versions 4 and
 * 5; gcc 12 emits 5 with -g, 4 with -gdwarf-4): what the ftrace stack
 * poisoner (src/ftrace/poison.ts) needs to find a function's arguments at
 * its entry.
 *
 * For every DW_TAG_subprogram with a DW_AT_low_pc (an out-of-line
 * function; declarations and abstract inline instances have none):
 *  - its name (DW_AT_name, else through DW_AT_abstract_origin /
 *    DW_AT_specification);
 *  - its DW_TAG_formal_parameter children in order, each with the byte
 *    size of its type (DW_AT_type followed through typedef, const,
 *    volatile, restrict and _Atomic to a base type, pointer, struct,
 *    union or enum and its DW_AT_byte_size; pointers without one take the
 *    unit's address size) and whether it is a floating-point type (which
 *    i386's regparm never passes in a register). A concrete instance of an
 *    inline function refers to its abstract parameters through
 *    DW_AT_abstract_origin; those are followed too;
 *  - whether it is variadic (a DW_TAG_unspecified_parameters child).
 *
 * Only what gcc emits for C: no type units, no split DWARF (DW_FORM_strx
 * and addrx without a base give no value), no DWARF 64 in practice (read
 * anyway). Addresses are whatever DW_FORM_addr holds: for an ET_REL object
 * take .debug_info from LoadedObject.debugSection(), which applies the
 * R_386_32 relocations (against .text: load addresses; against
 * .debug_str / .debug_abbrev / .debug_line_str: section offsets).
 */
import type { DebugSectionSource } from './dwarf-line.js';
import { DwarfError, DwarfReader } from './dwarf-reader.js';

export interface DwarfParameter {
  name: string | null;
  /** Byte size of the parameter's type; 0 when unknown. */
  size: number;
  /** A float, double, long double or complex type (never in a register under regparm). */
  float: boolean;
}

export interface DwarfFunction {
  name: string | null;
  /** DW_AT_low_pc: the entry address (a load address for a relocated .debug_info). */
  lowPc: number;
  /** One past the last byte, when DW_AT_high_pc is there. */
  highPc: number | null;
  params: DwarfParameter[];
  /** `...`: a DW_TAG_unspecified_parameters child. */
  variadic: boolean;
  /**
   * It returns a struct or union in memory: through a hidden pointer
   * passed as the first argument (in EAX under regparm). With
   * -freg-struct-return (Linux's and kmemsim's module flags) gcc returns
   * one of 1, 2, 4 or 8 bytes in EAX (EDX:EAX) instead; other sizes still
   * go through memory.
   */
  returnsAggregate: boolean;
}

// Tags
const TAG_array_type = 0x01;
const TAG_enumeration_type = 0x04;
const TAG_formal_parameter = 0x05;
const TAG_pointer_type = 0x0f;
const TAG_reference_type = 0x10;
const TAG_structure_type = 0x13;
const TAG_subroutine_type = 0x15;
const TAG_typedef = 0x16;
const TAG_union_type = 0x17;
const TAG_unspecified_parameters = 0x18;
const TAG_base_type = 0x24;
const TAG_const_type = 0x26;
const TAG_subprogram = 0x2e;
const TAG_volatile_type = 0x35;
const TAG_restrict_type = 0x37;
const TAG_atomic_type = 0x47;
// Attributes
const AT_name = 0x03;
const AT_byte_size = 0x0b;
const AT_low_pc = 0x11;
const AT_high_pc = 0x12;
const AT_abstract_origin = 0x31;
const AT_encoding = 0x3e;
const AT_specification = 0x47;
const AT_type = 0x49;
// Base type encodings
const ATE_complex_float = 0x03;
const ATE_float = 0x04;
const ATE_decimal_float = 0x0f;

/** What one DIE's attributes are reduced to. */
interface Die {
  tag: number;
  name: string | null;
  byteSize: number | null;
  lowPc: number | null;
  highPc: number | null;
  /** true when DW_AT_high_pc is a length (a constant form), not an address. */
  highPcIsLength: boolean;
  type: number | null;
  origin: number | null;
  encoding: number | null;
  children: number[];
  addressSize: number;
}

export interface AbbrevAttr {
  at: number;
  form: number;
  implicit: number;
}
export interface Abbrev {
  tag: number;
  children: boolean;
  attrs: AbbrevAttr[];
}

function strAt(sec: Uint8Array | null | undefined, off: number): string | null {
  if (!sec || off >= sec.length) return null;
  let end = off;
  while (end < sec.length && sec[end] !== 0) end++;
  return Buffer.from(sec.subarray(off, end)).toString('utf8');
}

/** A unit's abbreviation table (also read by ./dwarf-inline.ts). */
export function parseAbbrevs(abbrev: Uint8Array, offset: number): Map<number, Abbrev> {
  const r = new DwarfReader(abbrev, '.debug_abbrev');
  r.pos = offset;
  const out = new Map<number, Abbrev>();
  for (;;) {
    const code = r.uleb();
    if (code === 0) break;
    const tag = r.uleb();
    const children = r.u8() !== 0;
    const attrs: AbbrevAttr[] = [];
    for (;;) {
      const at = r.uleb();
      const form = r.uleb();
      if (at === 0 && form === 0) break;
      const implicit = form === 0x21 ? r.sleb() : 0;
      attrs.push({ at, form, implicit });
    }
    out.set(code, { tag, children, attrs });
  }
  return out;
}

/** A .debug_info unit header (DWARF 2–5, 32- and 64-bit formats; DWARF 5 §7.5.1). */
export interface UnitHeader {
  unitStart: number;
  /** Offset just past the unit. */
  unitEnd: number;
  version: number;
  addressSize: number;
  offSize: number;
  abbrevOff: number;
  /** DW_UT_* (DWARF 5); DW_UT_compile (1) for earlier versions. */
  unitType: number;
}

/** Read the unit header at r.pos, leaving r at the unit's first DIE (past a DWARF 5 skeleton's dwo_id or a type unit's signature). */
export function readUnitHeader(r: DwarfReader, sectionLength: number): UnitHeader {
  const unitStart = r.pos;
  let len = r.u32();
  let offSize = 4;
  if (len === 0xffffffff) {
    len = r.u64();
    offSize = 8;
  }
  const unitEnd = r.pos + len;
  if (unitEnd > sectionLength) throw new DwarfError(`.debug_info unit at 0x${unitStart.toString(16)} runs past the section`);
  const version = r.u16();
  let addressSize: number;
  let abbrevOff: number;
  let unitType = 1;
  if (version >= 5) {
    unitType = r.u8();
    addressSize = r.u8();
    abbrevOff = offSize === 8 ? r.u64() : r.u32();
    if (unitType === 4 || unitType === 5) r.skip(8); // skeleton/split compile: dwo_id
    else if (unitType === 2 || unitType === 6) r.skip(8 + offSize); // type units: signature, type offset
  } else if (version >= 2) {
    abbrevOff = offSize === 8 ? r.u64() : r.u32();
    addressSize = r.u8();
  } else {
    throw new DwarfError(`.debug_info unit at 0x${unitStart.toString(16)}: unsupported version ${version}`);
  }
  return { unitStart, unitEnd, version, addressSize, offSize, abbrevOff, unitType };
}

export interface DebugInfoSections {
  info: Uint8Array;
  abbrev: Uint8Array;
  str?: Uint8Array | null;
  lineStr?: Uint8Array | null;
}

/** Every out-of-line function of every compilation unit, in .debug_info order. Throws DwarfError on malformed data. */
export function parseDebugInfoFunctions(s: DebugInfoSections): DwarfFunction[] {
  const dies = new Map<number, Die>();
  const subprograms: number[] = [];
  const r = new DwarfReader(s.info, '.debug_info');
  while (r.pos < s.info.length) {
    const { unitStart, unitEnd, version, addressSize, offSize, abbrevOff, unitType } = readUnitHeader(r, s.info.length);
    // Compile and partial units, and the DIEs of skeleton/split ones; type units have no functions.
    if (unitType !== 1 && unitType !== 3 && unitType !== 4 && unitType !== 5) {
      r.pos = unitEnd;
      continue;
    }
    const abbrevs = parseAbbrevs(s.abbrev, abbrevOff);
    const stack: Die[] = [];
    while (r.pos < unitEnd) {
      const off = r.pos;
      const code = r.uleb();
      if (code === 0) {
        stack.pop();
        continue;
      }
      const ab = abbrevs.get(code);
      if (!ab) throw new DwarfError(`.debug_info DIE at 0x${off.toString(16)} uses unknown abbreviation ${code}`);
      const die: Die = {
        tag: ab.tag, name: null, byteSize: null, lowPc: null, highPc: null, highPcIsLength: false,
        type: null, origin: null, encoding: null, children: [], addressSize,
      };
      for (const a of ab.attrs) {
        const v = readForm(r, a.form, a.implicit, { addressSize, offSize, version, unitStart, str: s.str, lineStr: s.lineStr });
        switch (a.at) {
          case AT_name: if (typeof v.str === 'string') die.name = v.str; break;
          case AT_byte_size: if (v.num !== null) die.byteSize = v.num; break;
          case AT_low_pc: if (v.num !== null) die.lowPc = v.num >>> 0; break;
          case AT_high_pc:
            if (v.num !== null) {
              die.highPc = v.num;
              die.highPcIsLength = a.form !== 0x01;
            }
            break;
          case AT_type: if (v.ref !== null) die.type = v.ref; break;
          case AT_abstract_origin:
          case AT_specification:
            if (v.ref !== null) die.origin = v.ref;
            break;
          case AT_encoding: if (v.num !== null) die.encoding = v.num; break;
        }
      }
      dies.set(off, die);
      stack[stack.length - 1]?.children.push(off);
      if (die.tag === TAG_subprogram && die.lowPc !== null) subprograms.push(off);
      if (ab.children) stack.push(die);
    }
    r.pos = unitEnd;
  }

  const nameOf = (d: Die): string | null => {
    let cur: Die | undefined = d;
    for (let i = 0; cur && i < 8; i++) {
      if (cur.name !== null) return cur.name;
      cur = cur.origin !== null ? dies.get(cur.origin) : undefined;
    }
    return null;
  };
  const typeOf = (d: Die): number | null => {
    let cur: Die | undefined = d;
    for (let i = 0; cur && i < 8; i++) {
      if (cur.type !== null) return cur.type;
      cur = cur.origin !== null ? dies.get(cur.origin) : undefined;
    }
    return null;
  };
  const sizeOf = (typeRef: number | null): { size: number; float: boolean } => {
    let t = typeRef !== null ? dies.get(typeRef) : undefined;
    for (let i = 0; t && i < 32; i++) {
      switch (t.tag) {
        case TAG_typedef: case TAG_const_type: case TAG_volatile_type: case TAG_restrict_type: case TAG_atomic_type:
          t = t.type !== null ? dies.get(t.type) : undefined;
          continue;
        case TAG_pointer_type: case TAG_reference_type:
          return { size: t.byteSize ?? t.addressSize, float: false };
        case TAG_base_type:
          return {
            size: t.byteSize ?? 0,
            float: t.encoding === ATE_float || t.encoding === ATE_complex_float || t.encoding === ATE_decimal_float,
          };
        case TAG_structure_type: case TAG_union_type: case TAG_enumeration_type: case TAG_array_type: case TAG_subroutine_type:
          return { size: t.byteSize ?? 0, float: false };
        default:
          return { size: t.byteSize ?? 0, float: false };
      }
    }
    return { size: 0, float: false };
  };

  /** A struct or union returned through memory under -freg-struct-return: sizes other than 1, 2, 4, 8 (gcc's ix86_return_in_memory). */
  const returnsInMemory = (typeRef: number | null): boolean => isAggregate(typeRef) && ![1, 2, 4, 8].includes(sizeOf(typeRef).size);
  const isAggregate = (typeRef: number | null): boolean => {
    let t = typeRef !== null ? dies.get(typeRef) : undefined;
    for (let i = 0; t && i < 32; i++) {
      if (t.tag === TAG_typedef || t.tag === TAG_const_type || t.tag === TAG_volatile_type || t.tag === TAG_atomic_type) {
        t = t.type !== null ? dies.get(t.type) : undefined;
        continue;
      }
      return t.tag === TAG_structure_type || t.tag === TAG_union_type;
    }
    return false;
  };

  const out: DwarfFunction[] = [];
  for (const off of subprograms) {
    const d = dies.get(off)!;
    const params: DwarfParameter[] = [];
    let variadic = false;
    // A concrete instance lists its own parameters (each referring to its abstract one); a bare
    // specification/out-of-line copy without children takes the origin's.
    let src: Die = d;
    for (let i = 0; i < 8 && src.children.length === 0 && src.origin !== null; i++) {
      const o = dies.get(src.origin);
      if (!o) break;
      src = o;
    }
    for (const c of src.children) {
      const cd = dies.get(c)!;
      if (cd.tag === TAG_formal_parameter) {
        const t = sizeOf(typeOf(cd));
        params.push({ name: nameOf(cd), size: t.size, float: t.float });
      } else if (cd.tag === TAG_unspecified_parameters) variadic = true;
    }
    const highPc = d.highPc === null ? null : d.highPcIsLength ? (d.lowPc! + d.highPc) >>> 0 : d.highPc >>> 0;
    out.push({ name: nameOf(d), lowPc: d.lowPc!, highPc, params, variadic, returnsAggregate: returnsInMemory(typeOf(d)) });
  }
  return out;
}

export interface FormContext {
  addressSize: number;
  offSize: number;
  version: number;
  unitStart: number;
  str?: Uint8Array | null;
  lineStr?: Uint8Array | null;
}
export interface FormValue {
  num: number | null;
  str: string | null;
  /** A reference as a .debug_info offset. */
  ref: number | null;
}

/** One attribute value (also read by ./dwarf-inline.ts). */
export function readForm(r: DwarfReader, form: number, implicit: number, c: FormContext): FormValue {
  const num = (n: number): FormValue => ({ num: n, str: null, ref: null });
  const ref = (n: number): FormValue => ({ num: null, str: null, ref: n });
  const str = (s: string | null): FormValue => ({ num: null, str: s, ref: null });
  const none: FormValue = { num: null, str: null, ref: null };
  const off = (): number => (c.offSize === 8 ? r.u64() : r.u32());
  switch (form) {
    case 0x01: return num(c.addressSize === 8 ? r.u64() : c.addressSize === 2 ? r.u16() : r.u32()); // addr
    case 0x03: r.skip(r.u16()); return none; // block2
    case 0x04: r.skip(r.u32()); return none; // block4
    case 0x05: return num(r.u16()); // data2
    case 0x06: return num(r.u32()); // data4
    case 0x07: return num(r.u64()); // data8
    case 0x08: return str(r.cstr()); // string
    case 0x09: r.skip(r.uleb()); return none; // block
    case 0x0a: r.skip(r.u8()); return none; // block1
    case 0x0b: return num(r.u8()); // data1
    case 0x0c: return num(r.u8()); // flag
    case 0x0d: return num(r.sleb()); // sdata
    case 0x0e: return str(strAt(c.str, off())); // strp
    case 0x0f: return num(r.uleb()); // udata
    case 0x10: return ref(c.version <= 2 ? (c.addressSize === 8 ? r.u64() : r.u32()) : off()); // ref_addr
    case 0x11: return ref(c.unitStart + r.u8()); // ref1
    case 0x12: return ref(c.unitStart + r.u16()); // ref2
    case 0x13: return ref(c.unitStart + r.u32()); // ref4
    case 0x14: return ref(c.unitStart + r.u64()); // ref8
    case 0x15: return ref(c.unitStart + r.uleb()); // ref_udata
    case 0x16: return readForm(r, r.uleb(), implicit, c); // indirect
    case 0x17: return num(off()); // sec_offset (DW_AT_ranges, DW_AT_stmt_list, DW_AT_rnglists_base)
    case 0x18: r.skip(r.uleb()); return none; // exprloc
    case 0x19: return num(1); // flag_present
    case 0x1a: r.uleb(); return none; // strx (needs str_offsets_base: split DWARF)
    case 0x1b: r.uleb(); return none; // addrx
    case 0x1c: r.u32(); return none; // ref_sup4
    case 0x1d: off(); return none; // strp_sup
    case 0x1e: r.skip(16); return none; // data16
    case 0x1f: return str(strAt(c.lineStr, off())); // line_strp
    case 0x20: r.skip(8); return none; // ref_sig8
    case 0x21: return num(implicit); // implicit_const
    case 0x22: r.uleb(); return none; // loclistx
    case 0x23: return num(r.uleb()); // rnglistx (an index: ./dwarf-inline.ts)
    case 0x24: r.skip(8); return none; // ref_sup8
    case 0x25: r.skip(1); return none; // strx1
    case 0x26: r.skip(2); return none;
    case 0x27: r.skip(3); return none;
    case 0x28: r.skip(4); return none;
    case 0x29: r.skip(1); return none; // addrx1
    case 0x2a: r.skip(2); return none;
    case 0x2b: r.skip(3); return none;
    case 0x2c: r.skip(4); return none;
    default: throw new DwarfError(`.debug_info: unknown attribute form 0x${form.toString(16)} at offset 0x${r.pos.toString(16)}`);
  }
}

/**
 * The functions of a loaded object by entry address, from its relocated
 * .debug_info; null when it has no .debug_info or it cannot be read.
 */
export function functionInfoFor(obj: DebugSectionSource): Map<number, DwarfFunction> | null {
  const info = obj.debugSection('.debug_info');
  const abbrev = obj.debugSection('.debug_abbrev');
  if (!info || !abbrev) return null;
  try {
    const fns = parseDebugInfoFunctions({ info, abbrev, str: obj.debugSection('.debug_str'), lineStr: obj.debugSection('.debug_line_str') });
    return new Map(fns.map((f) => [f.lowPc >>> 0, f]));
  } catch (e) {
    if (e instanceof DwarfError) return null;
    throw e;
  }
}
