/**
 * The WebAssembly tier of the block compiler. A block that has run often
 * enough (jit.ts chooses the tier) becomes a WebAssembly function, which V8
 * compiles at once with its single-pass baseline compiler (Liftoff) and
 * later, when hot, with TurboFan — without the speculation and
 * deoptimization of JavaScript. Guest RAM, the registers and the TLBs live
 * in the memory the modules import (./state.ts), so the generated code
 * reaches them with plain loads and stores.
 *
 * How code becomes modules:
 * - **Batches.** When a block reaches the threshold, the other blocks of
 *   this CPU that are warm by then (half the threshold, not compiled yet,
 *   still in the code cache) are compiled with it, one function each in
 *   one module (up to MAX_BATCH): a module's fixed cost (compile,
 *   instantiation, its helpers) is paid once for all of them, and fewer
 *   modules are made. A function holds its block alone: small, quick to
 *   generate and for V8 to compile.
 * - **Promotion to regions.** Each block's function counts its calls in a
 *   mutable global of its own; at the `regionThreshold`-th it asks the gate
 *   (`pr`) to promote it: its region (./region.ts: the block with the warm
 *   blocks on its page its direct branches reach) is formed then, and
 *   compiled — all the regions asked for, one function each in one module
 *   — when the run loop next calls a compiled block, never while
 *   WebAssembly frames are live. The region gets a table slot of its own,
 *   the run loop's calls of the block enter it from then on, and the
 *   chaining cache is cleared so that chained exits reach it too (the run
 *   loop's calls fill the cache again). Regions are large (about 125 bytes
 *   of code per guest instruction), so only blocks that prove hot get one.
 * - **Chaining.** Every exit of a block tail-calls its module's chain
 *   helper (codegen.ts chainBody), which tail-calls the next block through
 *   the table when the chaining cache has it — so most block transitions
 *   never return to JavaScript, and the WebAssembly stack stays flat.
 * - **The gate.** Block modules import only the memory and the CPU's
 *   function table. The CPU's slow paths (the accessors, probeWrite, an
 *   executor call, CPU.cond, CPU.getCF) are JavaScript functions imported
 *   once per table by the gate's module, which re-exports them into fixed
 *   slots of the table (codegen.ts GATE); block code reaches them with
 *   call_indirect. Each first makes the CPU's lazy flags those of the state
 *   area and records where a fault would be delivered (cpu.jitInstrs,
 *   jitIndex, jitDone: the block is the one at the table index in the state
 *   area's CUR slot), exactly as the JavaScript tier's slow paths do
 *   (jit/emitter.ts sync). An exception thrown in one unwinds through the
 *   WebAssembly frames to the run loop, which delivers it.
 * - **The cache.** Modules are cached by their blocks' decoded instructions
 *   (and the state area's place): the same batch in another run or on
 *   another CPU is neither generated nor compiled again, only instantiated.
 */
import type { CPU } from '../cpu.js';
import type { Block } from '../decoder.js';
import type { Instr } from '../instr.js';
import type { CompiledBlock } from '../jit.js';
import { formRegion } from '../jit.js';
import { blockKey } from '../jit/replay.js';
import { encodeModule, type Func, type ModuleSpec } from './encoder.js';
import * as S from './state.js';
import { BLOCK_TYPE, FIRST_BLOCK_SLOT, GATE, TYPES, helpers } from './codegen.js';
import { generateFunction } from './region.js';

/**
 * A module of functions, one per entry of `functions` (each a block alone,
 * or a region: ./region.ts), exported as "0", "1", …, then the helpers.
 * With `promoteAt`, function j counts its calls in global j (exported as
 * "c0", "c1", …) and asks for promotion at the `promoteAt`-th.
 */
function generateModule(functions: readonly (readonly (readonly Instr[])[])[], state: number, pages: number, promoteAt: number | null): Uint8Array<ArrayBuffer> {
  const n = functions.length;
  const funcs: Func[] = [];
  let written = 0;
  functions.forEach((blocks, j) => {
    const f = generateFunction(blocks, state, n, promoteAt === null ? undefined : { global: j, at: promoteAt });
    funcs.push({ type: BLOCK_TYPE, locals: f.locals, body: f.code });
    written |= f.written;
  });
  funcs.push(...helpers(state, written));
  const exports: ModuleSpec['exports'][number][] = functions.map((_, j) => ({ name: String(j), func: j }));
  if (promoteAt !== null) functions.forEach((_, j) => exports.push({ name: `c${j}`, global: j }));
  return encodeModule({ pages, table: true, types: TYPES, imports: [], funcs, globals: promoteAt === null ? 0 : n, exports });
}

/** A compiled function's instructions by the index its code passes to the gate (./region.ts): the instruction, its block, its index there. */
interface RegionMap {
  readonly instrs: readonly Instr[];
  readonly blockOf: readonly (readonly Instr[])[];
  readonly indexIn: readonly number[];
}
function regionMap(blocks: readonly (readonly Instr[])[]): RegionMap {
  const instrs: Instr[] = [];
  const blockOf: (readonly Instr[])[] = [];
  const indexIn: number[] = [];
  for (const b of blocks) {
    b.forEach((ins, k) => {
      instrs.push(ins);
      blockOf.push(b);
      indexIn.push(k);
    });
  }
  return { instrs, blockOf, indexIn };
}

/**
 * The gate's module: imports the gate's JavaScript functions and exports
 * them ("g1", "g2", … by table slot), so the tier can put them into the
 * table (a table holds only WebAssembly functions). The same bytes for
 * every CPU of a memory size: compiled once per process.
 */
function generateGate(pages: number): Uint8Array<ArrayBuffer> {
  const imports = GATE.map((g) => ({ name: g.name, type: g.type }));
  const exports = GATE.map((_, i) => ({ name: `g${i + 1}`, func: i }));
  return encodeModule({ pages, table: false, types: TYPES, imports, funcs: [], exports });
}

const FL = S.FLAGS >> 2, LM = S.LAZY_MASK >> 2, KIND = S.LF_KIND >> 2, DST = S.LF_DST >> 2, SRC = S.LF_SRC >> 2;
const RES = S.LF_RES >> 2, SIZE = S.LF_SIZE >> 2, CIN = S.LF_CIN >> 2, EIP = S.EIP >> 2, BREAK = S.BREAK >> 2, CUR = S.CUR >> 2, GEN = S.GEN >> 2;

type BlockFn = (room: number, tlb: number, done: number) => number;

/**
 * One function table with its gate. Indices are not reused: when the table
 * is full a new generation starts; blocks compiled before keep theirs (and
 * chain only to blocks of their own table: the cache entries name their
 * generation).
 */
interface Generation {
  readonly id: number;
  readonly table: WebAssembly.Table;
  /** The function at each table index: its instructions (where the gate records a fault) and its block's handle (what `pr` promotes). */
  readonly fns: { readonly map: RegionMap; readonly handle: Handle }[];
  used: number;
}

/**
 * A compiled block as the run loop calls it (WasmTier.entry): the function
 * it enters, its block's first and once promoted its region's.
 */
interface Handle {
  readonly instrs: readonly Instr[];
  /** Its block function's call count (null: regions off). */
  readonly calls: WebAssembly.Global | null;
  gen: Generation;
  index: number;
  f: BlockFn;
  /** Promotion was asked for (at most once). */
  asked: boolean;
}

/** A region asked for (WasmTier.ask), compiled at the run loop's next call: its block must still be the code cache's at (ppage, off). */
interface Promotion {
  readonly handle: Handle;
  readonly region: readonly (readonly Instr[])[];
  readonly ppage: number;
  readonly off: number;
}

/** A decoded block not compiled yet, and where the CPU's code cache holds it. */
interface Candidate {
  readonly block: Block;
  readonly ppage: number;
  readonly off: number;
}

/** The WebAssembly tier of one CPU. */
export class WasmTier {
  /** The state area's slots as i32s. */
  private readonly st: Int32Array;
  /** The chaining cache as i32s (4 per entry). */
  private readonly cache: Int32Array;
  private readonly pages: number;
  private gen!: Generation;
  /** The CPU.codeEpoch the cache is valid for. */
  private epoch = -1;
  /** Blocks compiled (tests check that a run went through this tier). */
  compiled = 0;
  /** Blocks compiled into regions besides their entries (tests check that regions formed). */
  regionBlocks = 0;
  /** Promote hot blocks to regions (a block with the blocks its direct branches reach on its page, ./region.ts); off: one block per function. */
  regions = true;
  /** Calls of a block's function that promote it to a region (read when the block is compiled). */
  regionThreshold = REGION_THRESHOLD;
  /** Blocks promoted to a region. */
  promoted = 0;
  /** Modules of batches instantiated (one per batch; promotions not counted). */
  batches = 0;
  /** Regions asked for, compiled at the run loop's next call (promote). */
  private pending: Promotion[] = [];
  /** Calls from the run loop under way (WebAssembly frames live): no promotion then. */
  private running = 0;
  /** The handle of each compiled block (by its instructions: the code cache's array). */
  private readonly handles = new WeakMap<readonly Instr[], Handle>();
  /** Blocks decoded and not compiled yet, in decoding order: the candidates for a batch. */
  private candidates: Candidate[] = [];
  /** What the run loop left of its budget at the current call (for the REP chunk, as the run loop sets it per block). */
  private left = 0;

  constructor(private readonly cpu: CPU, private readonly memory: WebAssembly.Memory, readonly state: number) {
    this.st = new Int32Array(memory.buffer, state, 32);
    this.cache = new Int32Array(memory.buffer, state + S.CACHE, S.CACHE_ENTRIES * 4);
    this.pages = memory.buffer.byteLength / S.WASM_PAGE;
    this.newGeneration();
  }

  private newGeneration(): void {
    const id = (this.gen?.id ?? 0) + 1;
    const table = new WebAssembly.Table({ element: 'anyfunc', initial: 256 });
    const fns: Generation['fns'] = [];
    const gate = new WebAssembly.Instance(cachedModule(generateGate(this.pages)), { m: { mem: this.memory, ...this.gateFor(fns) } }).exports;
    for (let slot = 1; slot < FIRST_BLOCK_SLOT; slot++) table.set(slot, gate[`g${slot}`] as () => number);
    this.gen = { id, table, fns, used: FIRST_BLOCK_SLOT };
  }

  /**
   * The gate's functions for a table whose functions are `fns` (by index).
   * They get the instruction's index in its function's region and record
   * its block and index there as where a fault is delivered.
   */
  private gateFor(fns: Generation['fns']): Record<string, (...a: number[]) => number | void> {
    const cpu = this.cpu;
    const st = this.st;
    const faultPoint = (at: number, done: number): void => {
      const r = fns[st[CUR]!]!.map;
      cpu.jitInstrs = r.blockOf[at]!;
      cpu.jitIndex = r.indexIn[at]!;
      cpu.jitDone = done;
      this.loadFlags();
    };
    // breakLoop, or a new code epoch (a CPL change): the chain and its cache entries end here.
    const after = (): number => (st[BREAK] = cpu.breakLoop || cpu.codeEpoch !== this.epoch ? 1 : 0);
    return {
      rd8: (l: number, k: number, done: number) => (faultPoint(k, done), cpu.read8(l)),
      rd16: (l: number, k: number, done: number) => (faultPoint(k, done), cpu.read16(l)),
      rd32: (l: number, k: number, done: number) => (faultPoint(k, done), cpu.read32(l)),
      wr8: (l: number, v: number, k: number, done: number) => (faultPoint(k, done), cpu.write8(l, v), after()),
      wr16: (l: number, v: number, k: number, done: number) => (faultPoint(k, done), cpu.write16(l, v), after()),
      wr32: (l: number, v: number, k: number, done: number) => (faultPoint(k, done), cpu.write32(l, v), after()),
      pw: (l: number, size: number, k: number, done: number) => {
        faultPoint(k, done);
        cpu.probeWrite(l, size);
      },
      ex: (k: number, done: number, entry: number) => {
        const ins = fns[st[CUR]!]!.map.instrs[k]!;
        cpu.eip = ins.next;
        faultPoint(k, done);
        // As the run loop sets it before each block: a REP runs no more iterations than the budget has left.
        const left = this.left - entry;
        if (left < cpu.repChunk) cpu.repChunk = left;
        ins.exec(cpu, ins);
        this.storeFlags();
        st[EIP] = cpu.eip;
        after();
        return cpu.eip !== ins.next || cpu.breakLoop ? 1 : 0;
      },
      cc: (cc: number) => {
        this.loadFlags();
        return cpu.cond(cc) ? 1 : 0;
      },
      pr: () => this.ask(fns[st[CUR]!]!.handle),
    };
  }

  /** The state area's flags into the CPU's fields. */
  private loadFlags(): void {
    const st = this.st, cpu = this.cpu;
    cpu.flags = st[FL]!;
    cpu.lazyMask = st[LM]!;
    cpu.lfKind = st[KIND]!;
    cpu.lfDst = st[DST]!;
    cpu.lfSrc = st[SRC]!;
    cpu.lfRes = st[RES]!;
    cpu.lfSize = st[SIZE]!;
    cpu.lfCin = st[CIN]!;
  }
  private storeFlags(): void {
    const st = this.st, cpu = this.cpu;
    st[FL] = cpu.flags;
    st[LM] = cpu.lazyMask;
    st[KIND] = cpu.lfKind;
    st[DST] = cpu.lfDst;
    st[SRC] = cpu.lfSrc;
    st[RES] = cpu.lfRes;
    st[SIZE] = cpu.lfSize;
    st[CIN] = cpu.lfCin;
  }

  /** Forget the chaining cache when the code or its addressing changed (CPU.codeEpoch, as the run loop's links). */
  private validate(): void {
    if (this.epoch !== this.cpu.codeEpoch) {
      this.cache.fill(0);
      this.epoch = this.cpu.codeEpoch;
    }
  }

  /** The CPU decoded a block into its code cache at physical page `ppage`, offset `off` (CPU.getBlock): a candidate for a batch. */
  decoded(block: Block, ppage: number, off: number): void {
    if (this.candidates.length >= MAX_CANDIDATES) {
      this.sweep();
      // Still full: the oldest half goes (blocks decoded long ago that never became warm).
      if (this.candidates.length >= MAX_CANDIDATES) this.candidates.splice(0, MAX_CANDIDATES / 2);
    }
    this.candidates.push({ block, ppage, off });
  }

  /** Drop the candidates compiled, declined (a native routine, too many faults) or no longer in the code cache. */
  private sweep(): void {
    let w = 0;
    for (const c of this.candidates) {
      const b = c.block;
      if (b.compiled === null && b.hits !== -Infinity && this.cpu.cachedBlock(c.ppage, c.off) === b) this.candidates[w++] = c;
    }
    this.candidates.length = w;
  }

  /**
   * The blocks to compile with `instrs`: the warm candidates (run at least
   * half the threshold's times, and at least once; not those that go to the
   * JavaScript tier, Block.prefersJs), hottest first, then in
   * decoding order — deterministic, as the hit counts are.
   */
  private warm(instrs: readonly Instr[]): Block[] {
    this.sweep();
    const mark = Math.max(1, this.cpu.jitThreshold / 2);
    const warm = this.candidates.filter((c) => c.block.instrs !== instrs && c.block.hits >= mark && !c.block.prefersJs && c.block.instrs.every((i) => i.native === null)).map((c) => c.block);
    warm.sort((a, b) => b.hits - a.hits);
    return warm.slice(0, MAX_BATCH - 1);
  }

  /**
   * Compile a block (no native routines: jit.ts checked) with the warm
   * blocks, one function each, or return null when this tier declines it.
   */
  compile(instrs: readonly Instr[]): CompiledBlock | null {
    const members = this.warm(instrs);
    const batch = [instrs, ...members.map((b) => b.instrs)];
    const at = this.regions ? Math.max(1, this.regionThreshold) : null;
    const key = `${this.state},${this.pages},${at ?? 0}:${batch.map(blockKey).join('|')}`;
    const exports = this.instantiate(key, batch.length, () => generateModule(batch.map((b) => [b]), this.state, this.pages, at));
    const gen = this.gen;
    const fns = batch.map((b, j) => {
      const f = exports[String(j)] as BlockFn;
      const calls = at === null ? null : (exports[`c${j}`] as WebAssembly.Global);
      const handle: Handle = { instrs: b, calls, gen, index: 0, f, asked: false };
      handle.index = this.place(f, [b], handle);
      this.handles.set(b, handle);
      return this.entry(handle);
    });
    this.batches++;
    this.compiled += batch.length;
    members.forEach((b, j) => (b.compiled = fns[j + 1]!));
    return fns[0]!;
  }

  /** The exports of an instance of the module with `key` (generated by `generate` when not cached) in the current table, which has room for `n` more functions. */
  private instantiate(key: string, n: number, generate: () => Uint8Array<ArrayBuffer>): WebAssembly.Exports {
    let mod = blockModules.get(key);
    if (mod === undefined) {
      if (blockModules.size >= MAX_MODULES) blockModules.clear();
      mod = compileModule(generate());
      blockModules.set(key, mod);
    }
    if (this.gen.used + n > MAX_TABLE) this.newGeneration();
    return new WebAssembly.Instance(mod, { m: { mem: this.memory, tab: this.gen.table } }).exports;
  }

  /** Put `f` (the function of `blocks`, for `handle`) into the next slot of the current table; returns its index. */
  private place(f: BlockFn, blocks: readonly (readonly Instr[])[], handle: Handle): number {
    const gen = this.gen;
    if (gen.used >= gen.table.length) gen.table.grow(gen.table.length);
    const index = gen.used++;
    gen.table.set(index, f);
    gen.fns[index] = { map: regionMap(blocks), handle };
    return index;
  }

  /**
   * The gate's `pr`: the block of `handle` has been called regionThreshold
   * times. Its region is formed now, while the mapping it runs under is the
   * current one, and compiled at the run loop's next call (promote), which
   * the BREAK slot makes come soon: the chain returns to the run loop at its
   * next exit (nothing else changes: the run loop goes on with the next
   * block). A region of the block alone is not worth it.
   */
  private ask(handle: Handle): void {
    if (handle.asked) return;
    handle.asked = true;
    const eip = handle.instrs[0]!.addr | 0;
    const e = this.cpu.tlbR[eip >>> 12]!;
    if (e === 0) return;
    // Only blocks called at least 1/REGION_SHARE as often as this one join it: a region compiles and runs faster without its cold paths.
    const decoded = this.cpu.cachedSuccessors(eip);
    const min = handle.calls!.value / REGION_SHARE;
    const region = formRegion(handle.instrs, (t) => {
      const b = decoded(t);
      const calls = b === null ? undefined : this.handles.get(b)?.calls;
      return calls !== undefined && calls !== null && calls.value >= min ? b : null;
    });
    if (region.length === 1) return;
    this.pending.push({ handle, region, ppage: e >>> 12, off: eip & 0xfff });
    this.st[BREAK] = 1;
  }

  /**
   * Compile the regions asked for whose blocks are still in the code cache
   * (a write to their page drops them all), one function each in one
   * module, and make their blocks' calls enter them.
   */
  private promote(): void {
    const asked = this.pending.filter((p) => this.cpu.cachedBlock(p.ppage, p.off)?.instrs === p.handle.instrs);
    this.pending = [];
    if (asked.length === 0) return;
    const regions = asked.map((p) => p.region);
    const key = `${this.state},${this.pages},R:${regions.map((r) => r.map(blockKey).join('|')).join('/')}`;
    const exports = this.instantiate(key, asked.length, () => generateModule(regions, this.state, this.pages, null));
    asked.forEach(({ handle, region }, j) => {
      const f = exports[String(j)] as BlockFn;
      handle.index = this.place(f, region, handle);
      handle.gen = this.gen;
      handle.f = f;
      this.regionBlocks += region.length - 1;
    });
    this.promoted += asked.length;
    // Chained exits find blocks in the cache, which the run loop's calls fill again: with the regions.
    this.cache.fill(0);
  }

  /** The function the run loop calls for `handle`'s block: its function (the region's once promoted), which chains to the next blocks itself. */
  private entry(handle: Handle): CompiledBlock {
    const instrs = handle.instrs;
    const eip = instrs[0]!.addr | 0;
    // A block that must see the exact instruction count (RDTSC, IN/OUT, INT: decodeBlock's startsBlock) is entered from the run loop only.
    const chained = !instrs[0]!.def?.startsBlock;
    const cpu = this.cpu;
    const st = this.st;
    return (_cpu: CPU, room: number, left?: number): number => {
      if (this.pending.length !== 0 && this.running === 0) this.promote();
      const index = handle.index;
      const generation = handle.gen.id;
      this.storeFlags();
      st[BREAK] = 0;
      st[CUR] = index;
      this.validate();
      // Chaining only where the run loop would not look at each block (coverage edges, instrumentation):
      // otherwise generation 0, which no cache entry has.
      if (cpu.edgeCounts === null && cpu.jitInstrumentation === null && left !== undefined) {
        if (chained) {
          const h = (Math.imul(eip, 0x9e3779b1) >>> (32 - S.CACHE_BITS)) << 2;
          this.cache[h] = eip;
          this.cache[h + 1] = index;
          this.cache[h + 2] = instrs.length;
          this.cache[h + 3] = generation;
        }
        this.left = left;
        st[GEN] = generation;
      } else {
        this.left = Infinity;
        st[GEN] = 0;
      }
      let n: number;
      this.running++;
      try {
        n = handle.f(room, cpu.tlbOffset, 0);
      } finally {
        this.running--;
      }
      this.loadFlags();
      cpu.eip = st[EIP]!;
      return n;
    };
  }
}

const modules = new Map<string, WebAssembly.Module>();
const MAX_MODULES = 50_000;
/**
 * Calls of a block's function before it is promoted to a region
 * (WasmTier.regionThreshold's default): lower made the cold benchmark
 * slower (more and earlier regions to compile: README "Cold start"),
 * higher leaves long runs without regions longer.
 */
const REGION_THRESHOLD = 100_000;
/** A block joins a region when called at least 1/REGION_SHARE as often as its entry block. */
const REGION_SHARE = 16;
/** Functions per table generation. */
const MAX_TABLE = 1 << 16;
/** Blocks per module. */
const MAX_BATCH = 32;
/** Candidates kept for batching (see WasmTier.decoded). */
const MAX_CANDIDATES = 4096;

/** Modules by block key: a block seen before (another run, another CPU) is neither generated nor compiled again. */
const blockModules = new Map<string, WebAssembly.Module>();

/** Modules compiled in this process (`new WebAssembly.Module`; tests check the cache with it). */
export const moduleStats = { compiled: 0 };

function compileModule(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module {
  moduleStats.compiled++;
  return new WebAssembly.Module(bytes);
}

/** The compiled module for `bytes` (the gate's): the same code in another run or another CPU is compiled once. */
function cachedModule(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module {
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  let mod = modules.get(key);
  if (mod === undefined) {
    if (modules.size >= MAX_MODULES) modules.clear();
    mod = compileModule(bytes);
    modules.set(key, mod);
  }
  return mod;
}
