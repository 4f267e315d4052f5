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
 *   modules are made.
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
import { encodeModule, Op, VOID, type Func } from './encoder.js';
import * as S from './state.js';
import { BLOCK_TYPE, REGION_TYPE, FIRST_BLOCK_SLOT, GATE, TYPES, helpers } from './codegen.js';
import { entryBody, generateFunction, planFunction, type FunctionPlan } from './region.js';

/**
 * The module of a batch: one function holding every member's region
 * (./region.ts), a small function per member entering it at the member's
 * block (exported as "0", "1", …), then the helpers.
 */
export function generateBatch(plan: FunctionPlan, state: number, pages: number): Uint8Array<ArrayBuffer> {
  const members = plan.entries.length;
  const main = generateFunction(plan, state, 1 + members);
  // The function's type is (room, tlb, done, entry) → retired.
  const funcs: Func[] = [{ type: REGION_TYPE, locals: main.locals, body: main.code }];
  for (const e of plan.entries) funcs.push({ type: BLOCK_TYPE, locals: 0, body: entryBody(e, 0) });
  funcs.push(...helpers(state, main.written));
  const exports = plan.entries.map((_, j) => ({ name: String(j), func: 1 + j }));
  return encodeModule({ pages, table: true, types: TYPES, imports: [], funcs, exports });
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
  /** The instructions of the function at each table index (where the gate records a fault). */
  readonly blocks: RegionMap[];
  used: number;
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
  /** Compile a block together with the blocks its direct branches reach on its page (./region.ts); off: one block per function. */
  regions = true;
  /** Modules instantiated (one per batch). */
  batches = 0;
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
    const blocks: RegionMap[] = [];
    const gate = new WebAssembly.Instance(cachedModule(generateGate(this.pages)), { m: { mem: this.memory, ...this.gateFor(blocks) } }).exports;
    for (let slot = 1; slot < FIRST_BLOCK_SLOT; slot++) table.set(slot, gate[`g${slot}`] as () => number);
    this.gen = { id, table, blocks, used: FIRST_BLOCK_SLOT };
  }

  /**
   * The gate's functions for a table whose functions' instructions are
   * `blocks` (by index). They get the instruction's index in its function's
   * region and record its block and index there as where a fault is
   * delivered.
   */
  private gateFor(blocks: RegionMap[]): Record<string, (...a: number[]) => number | void> {
    const cpu = this.cpu;
    const st = this.st;
    const faultPoint = (at: number, done: number): void => {
      const r = blocks[st[CUR]!]!;
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
        const ins = blocks[st[CUR]!]!.instrs[k]!;
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
      cf: () => {
        this.loadFlags();
        return cpu.getCF();
      },
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
   * half the threshold's times, and at least once), hottest first, then in
   * decoding order — deterministic, as the hit counts are.
   */
  private warm(instrs: readonly Instr[]): Block[] {
    this.sweep();
    const mark = Math.max(1, this.cpu.jitThreshold / 2);
    const warm = this.candidates.filter((c) => c.block.instrs !== instrs && c.block.hits >= mark && c.block.instrs.every((i) => i.native === null)).map((c) => c.block);
    warm.sort((a, b) => b.hits - a.hits);
    return warm.slice(0, MAX_BATCH - 1);
  }

  /**
   * Compile a block (no native routines: jit.ts checked) with the warm
   * blocks, each with the already-decoded blocks it reaches on its page
   * when `regions` is on (jit.ts formRegion), or return null when this tier
   * declines it.
   */
  compile(instrs: readonly Instr[]): CompiledBlock | null {
    const members = this.warm(instrs);
    const batch = [instrs, ...members.map((b) => b.instrs)];
    // Only warm blocks join a region, as a batch: code run once or twice is not worth compiling.
    const mark = Math.max(1, this.cpu.jitThreshold / 2);
    const regions = batch.map((b) => formRegion(b, this.regions ? this.cpu.cachedSuccessors(b[0]!.addr | 0, mark) : undefined));
    const plan = planFunction(regions);
    const key = `${this.state},${this.pages}:${plan.blocks.map(blockKey).join('|')}:${plan.regions.map((r) => r.join(',')).join('/')}`;
    let mod = blockModules.get(key);
    if (mod === undefined) {
      if (blockModules.size >= MAX_MODULES) blockModules.clear();
      mod = compileModule(generateBatch(plan, this.state, this.pages));
      blockModules.set(key, mod);
    }
    if (this.gen.used + batch.length > MAX_TABLE) this.newGeneration();
    const gen = this.gen;
    const exports = new WebAssembly.Instance(mod, { m: { mem: this.memory, tab: gen.table } }).exports;
    this.batches++;
    const fns: CompiledBlock[] = [];
    const map = regionMap(plan.blocks);
    for (const r of regions) this.regionBlocks += r.length - 1;
    for (let j = 0; j < batch.length; j++) {
      if (gen.used >= gen.table.length) gen.table.grow(gen.table.length);
      const index = gen.used++;
      const f = exports[String(j)] as BlockFn;
      gen.table.set(index, f);
      gen.blocks[index] = map;
      fns.push(this.entry(gen, index, f, batch[j]!));
    }
    this.compiled += batch.length;
    members.forEach((b, j) => (b.compiled = fns[j + 1]!));
    return fns[0]!;
  }

  /** The function the run loop calls for the block at `index` of `gen`: the block's, which chains to the next blocks itself. */
  private entry(gen: Generation, index: number, f: BlockFn, instrs: readonly Instr[]): CompiledBlock {
    const eip = instrs[0]!.addr | 0;
    // A block that must see the exact instruction count (RDTSC, IN/OUT, INT: decodeBlock's startsBlock) is entered from the run loop only.
    const chained = !instrs[0]!.def?.startsBlock;
    const cpu = this.cpu;
    const st = this.st;
    const generation = gen.id;
    return (_cpu: CPU, room: number, left?: number): number => {
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
      const n = f(room, cpu.tlbOffset, 0);
      this.loadFlags();
      cpu.eip = st[EIP]!;
      return n;
    };
  }
}

const modules = new Map<string, WebAssembly.Module>();
const MAX_MODULES = 50_000;
/** Functions per table generation. */
const MAX_TABLE = 1 << 16;
/** Blocks per module. */
const MAX_BATCH = 32;
/** Candidates kept for batching (see WasmTier.decoded). */
const MAX_CANDIDATES = 4096;

/** Small numbers for executors, so a block's key names them. */
const execIds = new Map<unknown, number>();
const execId = (f: unknown): number => {
  let id = execIds.get(f);
  if (id === undefined) execIds.set(f, (id = execIds.size));
  return id;
};
/** Everything of a block's instructions that its code depends on (what the generators read). */
function blockKey(instrs: readonly Instr[]): string {
  let key = '';
  for (const i of instrs) {
    key += `${i.addr},${i.next},${i.cont},${i.op},${i.size},${i.asize},${i.mod},${i.reg},${i.rm},${i.base},${i.index},${i.scale},${i.disp},${i.seg},${i.imm},${i.rep},${execId(i.exec)},${i.def?.startsBlock ? 1 : 0};`;
  }
  return key;
}
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
