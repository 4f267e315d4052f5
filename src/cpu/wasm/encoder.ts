/**
 * A small WebAssembly binary encoder (WebAssembly Core Specification 1.0,
 * §5 "Binary Format"): LEB128 numbers, the opcodes the block compiler uses,
 * and a module of one imported memory, an imported table, imported and
 * defined functions, mutable i32 globals and exports. Only i32 (and i64
 * inside IMUL) values appear.
 */

/** Opcodes (spec §5.4). */
export const enum Op {
  unreachable = 0x00,
  block = 0x02,
  loop = 0x03,
  if = 0x04,
  else = 0x05,
  end = 0x0b,
  br = 0x0c,
  br_if = 0x0d,
  br_table = 0x0e,
  return = 0x0f,
  call = 0x10,
  call_indirect = 0x11,
  return_call = 0x12,
  return_call_indirect = 0x13,
  drop = 0x1a,
  select = 0x1b,
  local_get = 0x20,
  local_set = 0x21,
  local_tee = 0x22,
  global_get = 0x23,
  global_set = 0x24,
  i32_load = 0x28,
  i32_load8_u = 0x2d,
  i32_load16_u = 0x2f,
  i32_store = 0x36,
  i32_store8 = 0x3a,
  i32_store16 = 0x3b,
  i32_const = 0x41,
  i32_eqz = 0x45,
  i32_eq = 0x46,
  i32_ne = 0x47,
  i32_lt_s = 0x48,
  i32_lt_u = 0x49,
  i32_gt_s = 0x4a,
  i32_gt_u = 0x4b,
  i32_le_s = 0x4c,
  i32_le_u = 0x4d,
  i32_ge_s = 0x4e,
  i32_ge_u = 0x4f,
  i64_ne = 0x52,
  i32_clz = 0x67,
  i32_add = 0x6a,
  i32_sub = 0x6b,
  i32_mul = 0x6c,
  i32_and = 0x71,
  i32_or = 0x72,
  i32_xor = 0x73,
  i32_shl = 0x74,
  i32_shr_s = 0x75,
  i32_shr_u = 0x76,
  i64_mul = 0x7e,
  i64_div_u = 0x80,
  i64_rem_u = 0x82,
  i64_or = 0x84,
  i64_shl = 0x86,
  i64_shr_u = 0x88,
  i64_const = 0x42,
  i32_wrap_i64 = 0xa7,
  i64_extend_i32_s = 0xac,
  i64_extend_i32_u = 0xad,
}

/** Value and block types. */
export const I32 = 0x7f;
export const VOID = 0x40;

export function uleb(out: number[], v: number): void {
  v >>>= 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
}

export function sleb(out: number[], v: number): void {
  v |= 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

function name(out: number[], s: string): void {
  uleb(out, s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
}

export interface FuncType {
  params: number;
  results: number;
}

/** One function defined by a module: its type (an index into the module's types), extra i32 locals, body without the final `end`. */
export interface Func {
  type: number;
  locals: number;
  body: ArrayLike<number>;
}

/**
 * A module (spec §5.5) importing memory `m.mem` (`pages` 64 KiB pages,
 * fixed), with `table` the function table `m.tab` (funcref, table 0), and
 * the functions `m.<name>`; defining `funcs`, numbered after the imported
 * functions; exporting `exports` (function or global indices). Every type is an
 * all-i32 signature from `types`, referred to by its index.
 */
export interface ModuleSpec {
  pages: number;
  table: boolean;
  types: readonly FuncType[];
  imports: readonly { name: string; type: number }[];
  funcs: readonly Func[];
  /** Mutable i32 globals defined by the module, each starting at 0 (none when absent). */
  globals?: number;
  exports: readonly ({ name: string; func: number } | { name: string; global: number })[];
}

export function encodeModule(m: ModuleSpec): Uint8Array<ArrayBuffer> {
  const ts: number[] = [];
  uleb(ts, m.types.length);
  for (const t of m.types) {
    ts.push(0x60);
    uleb(ts, t.params);
    for (let i = 0; i < t.params; i++) ts.push(I32);
    uleb(ts, t.results);
    for (let i = 0; i < t.results; i++) ts.push(I32);
  }

  const is: number[] = [];
  uleb(is, m.imports.length + 1 + (m.table ? 1 : 0));
  name(is, 'm');
  name(is, 'mem');
  is.push(0x02, 0x01); // memory, limits with a maximum
  uleb(is, m.pages);
  uleb(is, m.pages);
  if (m.table) {
    name(is, 'm');
    name(is, 'tab');
    is.push(0x01, 0x70, 0x00, 0x01); // table of funcref, at least one element
  }
  for (const imp of m.imports) {
    name(is, 'm');
    name(is, imp.name);
    is.push(0x00);
    uleb(is, imp.type);
  }

  const fs: number[] = [];
  uleb(fs, m.funcs.length);
  for (const f of m.funcs) uleb(fs, f.type);

  const gs: number[] = [];
  const globals = m.globals ?? 0;
  uleb(gs, globals);
  for (let i = 0; i < globals; i++) gs.push(I32, 0x01, Op.i32_const, 0, Op.end); // mutable, init i32.const 0

  const es: number[] = [];
  uleb(es, m.exports.length);
  for (const e of m.exports) {
    name(es, e.name);
    es.push('global' in e ? 0x03 : 0x00);
    uleb(es, 'global' in e ? e.global : e.func);
  }

  // The code section: each body with its size and locals, copied once into the module's bytes.
  const heads: number[][] = [];
  let codeSize = 0;
  for (const f of m.funcs) {
    const locals: number[] = [];
    if (f.locals > 0) {
      uleb(locals, 1);
      uleb(locals, f.locals);
      locals.push(I32);
    } else uleb(locals, 0);
    const head: number[] = [];
    uleb(head, locals.length + f.body.length + 1); // + the final end
    head.push(...locals);
    heads.push(head);
    codeSize += head.length + f.body.length + 1;
  }
  const cs: number[] = [];
  uleb(cs, m.funcs.length);
  codeSize += cs.length;

  // Sections in the order the binary format requires; the global section only when there are globals.
  const small: [number, number[]][] = [[1, ts], [2, is], [3, fs]];
  if (globals > 0) small.push([6, gs]);
  small.push([7, es]);
  let total = 8;
  for (const [, body] of small) total += sectionHeader(body.length).length + 1 + body.length;
  const codeHeader = sectionHeader(codeSize);
  total += 1 + codeHeader.length + codeSize;

  const out = new Uint8Array(total);
  out.set([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  let at = 8;
  const put = (bytes: ArrayLike<number>): void => {
    out.set(bytes, at);
    at += bytes.length;
  };
  for (const [id, body] of small) {
    out[at++] = id;
    put(sectionHeader(body.length));
    put(body);
  }
  out[at++] = 10;
  put(codeHeader);
  put(cs);
  m.funcs.forEach((f, i) => {
    put(heads[i]!);
    put(f.body);
    out[at++] = Op.end;
  });
  return out;
}

function sectionHeader(size: number): number[] {
  const o: number[] = [];
  uleb(o, size);
  return o;
}
