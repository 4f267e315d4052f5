/**
 * A small WebAssembly binary encoder (WebAssembly Core Specification 1.0,
 * §5 "Binary Format"): LEB128 numbers, the opcodes the block compiler uses,
 * and a module of one imported memory, imported functions and one exported
 * function. Only i32 (and i64 inside IMUL) values appear.
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
  drop = 0x1a,
  select = 0x1b,
  local_get = 0x20,
  local_set = 0x21,
  local_tee = 0x22,
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
  i32_wrap_i64 = 0xa7,
  i64_extend_i32_s = 0xac,
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

function section(out: number[], id: number, body: number[]): void {
  out.push(id);
  uleb(out, body.length);
  for (const b of body) out.push(b);
}

export interface FuncType {
  params: number;
  results: number;
}

export interface Helper {
  type: FuncType;
  locals: number;
  body: readonly number[];
}

function typeKey(t: FuncType): string {
  return `${t.params}:${t.results}`;
}

/**
 * A module importing memory `m.mem` (`pages` 64 KiB pages, fixed), with
 * `table` a function table `m.tab`, and the functions `m.<name>` (all-i32
 * signatures), exporting one function `f` of type `fn` whose locals are
 * `locals` extra i32s and whose body is `body` (without the final `end`).
 * Types are numbered: the imports' (in order, without repeats), `fn`'s,
 * then `extra` (for call_indirect). `helpers` are more functions, numbered
 * after `f` (the imports, then `f`, then the helpers), not exported.
 */
export function encodeModule(pages: number, imports: readonly { name: string; type: FuncType }[], fn: FuncType, locals: number, body: readonly number[], table = false, extra: readonly FuncType[] = [], helpers: readonly Helper[] = []): Uint8Array<ArrayBuffer> {
  const types: FuncType[] = [];
  const typeIndex = (t: FuncType): number => {
    const i = types.findIndex((x) => typeKey(x) === typeKey(t));
    if (i >= 0) return i;
    types.push(t);
    return types.length - 1;
  };
  const importTypes = imports.map((i) => typeIndex(i.type));
  const fnType = typeIndex(fn);
  for (const t of extra) typeIndex(t);
  const helperTypes = helpers.map((h) => typeIndex(h.type));

  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const ts: number[] = [];
  uleb(ts, types.length);
  for (const t of types) {
    ts.push(0x60);
    uleb(ts, t.params);
    for (let i = 0; i < t.params; i++) ts.push(I32);
    uleb(ts, t.results);
    for (let i = 0; i < t.results; i++) ts.push(I32);
  }
  section(out, 1, ts);

  const is: number[] = [];
  uleb(is, imports.length + 1 + (table ? 1 : 0));
  name(is, 'm');
  name(is, 'mem');
  is.push(0x02, 0x01); // memory, limits with a maximum
  uleb(is, pages);
  uleb(is, pages);
  if (table) {
    name(is, 'm');
    name(is, 'tab');
    is.push(0x01, 0x70, 0x00, 0x01); // table of funcref, at least one element
  }
  imports.forEach((imp, k) => {
    name(is, 'm');
    name(is, imp.name);
    is.push(0x00);
    uleb(is, importTypes[k]!);
  });
  section(out, 2, is);

  const fs: number[] = [];
  uleb(fs, 1 + helpers.length);
  uleb(fs, fnType);
  for (const t of helperTypes) uleb(fs, t);
  section(out, 3, fs);

  const es: number[] = [];
  uleb(es, 1);
  name(es, 'f');
  es.push(0x00);
  uleb(es, imports.length);
  section(out, 7, es);

  const cs: number[] = [];
  uleb(cs, 1 + helpers.length);
  for (const f of [{ locals, body }, ...helpers]) {
    const fb: number[] = [];
    if (f.locals > 0) {
      uleb(fb, 1);
      uleb(fb, f.locals);
      fb.push(I32);
    } else uleb(fb, 0);
    for (const b of f.body) fb.push(b);
    fb.push(Op.end);
    uleb(cs, fb.length);
    for (const b of fb) cs.push(b);
  }
  section(out, 10, cs);
  return new Uint8Array(out);
}
