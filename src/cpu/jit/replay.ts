/**
 * Replaying a compiled block: the next run of the same module in this
 * process (the benchmark, `kmemsim compare`, a fuzzer without snapshots)
 * decodes the same bytes at the same addresses, and compileBlock would
 * generate the same source text again only to find the factory it made
 * last time (../jit.ts, `factories`). With a precise checker's
 * instrumentation that generation was a fifth of a run of the benchmark's
 * module and half its allocations. A replay keys the region by what the
 * generated code is a function of — each instruction's address, bytes,
 * operand and address size and executor (a preflight-wrapped one is
 * another), the blocks' lengths, the compile options and the
 * instrumentation's JitReplay.key — and keeps, with the factory, where
 * each bound value came from (a recipe), so the values of this run are
 * bound in their place: an instruction or block of the region, an
 * instruction's executor, one of the instrumentation's roots, or a
 * constant. A region whose code binds anything else is not replayed.
 */
import type { Instr } from '../instr.js';

/** Where a bound value comes from (high bits of a recipe entry; the low 24 bits are an index). */
const CONST = 0, BLOCK = 1, INSTR = 2, EXEC = 3, ROOT = 4;
const KIND = 24;

/** Executor identities for the keys (executors are module functions; a wrapped one differs). */
const execIds = new WeakMap<object, number>();
let nextExecId = 1;
function execId(f: object): number {
  let id = execIds.get(f);
  if (id === undefined) execIds.set(f, (id = nextExecId++));
  return id;
}

/**
 * A key of a decoded block's code, for every cache of code made from
 * blocks (the replays here, the WebAssembly tier's modules): its length,
 * then per instruction its address, followed continuation, operand and
 * address size, executor and bytes, as UTF-16 code units — fixed fields
 * first, so the bytes' varying length cannot make two blocks collide. The
 * bytes at an address in a mode (which the sizes with the prefixes among
 * the bytes tell apart) decode to the same instruction.
 */
export function blockKey(block: readonly Instr[]): string {
  let k = String.fromCharCode(0xffff, block.length);
  for (let i = 0; i < block.length; i++) {
    const ins = block[i]!;
    const a = ins.addr, c = ins.cont, x = execId(ins.exec);
    k += String.fromCharCode(a >>> 16, a & 0xffff, c >>> 16, c & 0xffff, (ins.size << 4) | ins.asize, x >>> 16, x & 0xffff, ins.bytes.length);
    k += String.fromCharCode.apply(null, ins.bytes);
  }
  return k;
}

/** The region's replay key: `context` (options, the instrumentation's key), then each block's key. */
export function replayKey(region: readonly (readonly Instr[])[], context: string): string {
  let k = context;
  for (const block of region) k += blockKey(block);
  return k;
}

/** Where each bound value of a compile came from, to bind this run's in its place. */
export interface Recipe {
  readonly from: Int32Array;
  readonly consts: readonly unknown[];
}

/** The recipe of `values` bound while compiling `region`, or null when one of them cannot be found again. */
export function recipeOf(values: readonly unknown[], region: readonly (readonly Instr[])[], roots: readonly unknown[]): Recipe | null {
  const where = new Map<unknown, number>();
  const note = (v: unknown, code: number) => {
    if (!where.has(v)) where.set(v, code);
  };
  let flat = 0;
  region.forEach((block, b) => {
    note(block, (BLOCK << KIND) | b);
    for (const ins of block) note(ins, (INSTR << KIND) | flat++);
  });
  flat = 0;
  for (const block of region) for (const ins of block) note(ins.exec, (EXEC << KIND) | flat++);
  roots.forEach((r, i) => note(r, (ROOT << KIND) | i));
  const from = new Int32Array(values.length);
  const consts: unknown[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const code = where.get(v);
    if (code !== undefined) from[i] = code;
    else if (v === null || (typeof v !== 'object' && typeof v !== 'function')) {
      from[i] = (CONST << KIND) | consts.length;
      consts.push(v);
    } else return null;
  }
  return { from, consts };
}

/** The values to bind for `region` now, by `recipe`. */
export function replayValues(recipe: Recipe, region: readonly (readonly Instr[])[], roots: readonly unknown[]): unknown[] {
  const instrs: Instr[] = [];
  for (const block of region) for (const ins of block) instrs.push(ins);
  const from = recipe.from;
  const out = new Array<unknown>(from.length);
  for (let i = 0; i < from.length; i++) {
    const code = from[i]!, n = code & ((1 << KIND) - 1);
    switch (code >>> KIND) {
      case CONST: out[i] = recipe.consts[n]; break;
      case BLOCK: out[i] = region[n]; break;
      case INSTR: out[i] = instrs[n]; break;
      case EXEC: out[i] = instrs[n]!.exec; break;
      default: out[i] = roots[n];
    }
  }
  return out;
}
