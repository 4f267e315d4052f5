/**
 * The WebAssembly tier of the block compiler. A block that has run often
 * enough (jit.ts chooses the tier) becomes a WebAssembly module of one
 * function, which V8 compiles at once with its single-pass baseline
 * compiler (Liftoff) and later, when hot, with TurboFan — without the
 * speculation and deoptimization of JavaScript. Guest RAM, the registers
 * and the TLBs live in the memory the module imports (./state.ts), so the
 * generated code reaches them with plain loads and stores.
 *
 * The module imports the CPU's slow paths (the accessors, probeWrite, an
 * executor call, CPU.cond, CPU.getCF): each is a JavaScript function bound
 * to this CPU that first makes the CPU's lazy flags those of the state area
 * and records where a fault would be delivered (cpu.jitInstrs, jitIndex,
 * jitDone), exactly as the JavaScript tier's slow paths do (jit/emitter.ts
 * sync). An exception thrown in one unwinds through the WebAssembly frames
 * to the run loop, which delivers it.
 *
 * Modules are cached by their bytes (one compile for the same code in
 * another run or another CPU); each block gets its own instance.
 */
import type { CPU } from '../cpu.js';
import type { Instr } from '../instr.js';
import type { CompiledBlock } from '../jit.js';
import { formRegion } from '../jit.js';
import { encodeModule, Op, VOID } from './encoder.js';
import * as S from './state.js';
import { IMPORTS, PARAMS, helpers, add, bin, eqz, get, k32, load, set, shl } from './codegen.js';
import { generateRegion } from './region.js';

/** The module's bytes for a region (./region.ts; `blocks[0]` is its entry). */
export function generateBlock(blocks: readonly (readonly Instr[])[], state: number, pages: number): Uint8Array<ArrayBuffer> {
  const body = generateRegion(blocks, state);
  return encodeModule(pages, IMPORTS, BLOCK_TYPE, body.locals, body.code, false, [], helpers(state, body.written));
}

const BLOCK_TYPE = { params: PARAMS, results: 1 };

/**
 * The chaining driver: (room, tlb, done, index) runs the block at `index`
 * in the table, then, while nothing set breakLoop, `room` is not used up
 * and the chaining cache holds a compiled block for the new EIP that fits
 * in what is left of `room`, that block — the run loop's inner loop, without
 * returning to JavaScript. Returns the instructions retired.
 */
function generateDriver(state: number, pages: number, generation: number): Uint8Array<ArrayBuffer> {
  const ROOM_ = 0, TLB_ = 1, DONE_ = 2, IDX = 3, H = 4;
  const slot = (off: number) => load(4, k32(0), state + off);
  const ret: number[] = [...get(DONE_), Op.return];
  const body: number[] = [Op.loop, VOID];
  body.push(...get(ROOM_), ...get(TLB_), ...get(DONE_), ...get(IDX), Op.call_indirect, 1, 0, Op.local_set, DONE_);
  body.push(...slot(S.BREAK), Op.if, VOID, ...ret, Op.end);
  body.push(...bin(Op.i32_ge_s, get(DONE_), get(ROOM_)), Op.if, VOID, ...ret, Op.end);
  // The cache entry of the new EIP: (EIP * 0x9e3779b1) >>> (32 - CACHE_BITS), 16 bytes each.
  body.push(...set(H, shl(bin(Op.i32_shr_u, bin(Op.i32_mul, slot(S.EIP), k32(0x9e3779b1 | 0)), k32(32 - S.CACHE_BITS)), 4)));
  body.push(...bin(Op.i32_ne, load(4, get(H), state + S.CACHE), slot(S.EIP)), Op.if, VOID, ...ret, Op.end);
  // An entry of another table (an older generation) or an empty one (index 0) ends the chain.
  body.push(...bin(Op.i32_ne, load(4, get(H), state + S.CACHE + 12), k32(generation)), Op.if, VOID, ...ret, Op.end);
  body.push(...set(IDX, load(4, get(H), state + S.CACHE + 4)));
  body.push(...eqz(get(IDX)), Op.if, VOID, ...ret, Op.end);
  body.push(...bin(Op.i32_gt_s, add(get(DONE_), load(4, get(H), state + S.CACHE + 8)), get(ROOM_)), Op.if, VOID, ...ret, Op.end);
  body.push(Op.br, 0, Op.end, Op.unreachable);
  return encodeModule(pages, [], { params: 4, results: 1 }, 1, body, true, [BLOCK_TYPE]);
}

const FL = S.FLAGS >> 2, LM = S.LAZY_MASK >> 2, KIND = S.LF_KIND >> 2, DST = S.LF_DST >> 2, SRC = S.LF_SRC >> 2;
const RES = S.LF_RES >> 2, SIZE = S.LF_SIZE >> 2, CIN = S.LF_CIN >> 2, EIP = S.EIP >> 2, BREAK = S.BREAK >> 2;

type BlockFn = (room: number, tlb: number, done: number) => number;
type DriverFn = (room: number, tlb: number, done: number, index: number) => number;

/** The WebAssembly tier of one CPU. */
export class WasmTier {
  /** The state area's slots as i32s. */
  private readonly st: Int32Array;
  /** The chaining cache as i32s (4 per entry). */
  private readonly cache: Int32Array;
  private readonly pages: number;
  /**
   * The compiled blocks' functions (index 0 is never used: an empty cache
   * entry) and the driver that calls them. Indices are not reused: when the
   * table is full a new generation (table and driver) starts; blocks
   * compiled before keep theirs.
   */
  private table!: WebAssembly.Table;
  private tableUsed = 1;
  private driver!: DriverFn;
  private generation = 0;
  /** The CPU.codeEpoch the cache is valid for. */
  private epoch = -1;
  /** Blocks compiled (tests check that a run went through this tier). */
  compiled = 0;
  /** Blocks compiled into regions besides their entries (tests check that regions formed). */
  regionBlocks = 0;
  /** Compile a block together with the blocks its direct branches reach on its page (./region.ts); off: one block per function. */
  regions = true;
  /** What the run loop left of its budget at the current call (for the REP chunk, as the run loop sets it per block). */
  private left = 0;

  constructor(private readonly cpu: CPU, private readonly memory: WebAssembly.Memory, readonly state: number) {
    this.st = new Int32Array(memory.buffer, state, 32);
    this.cache = new Int32Array(memory.buffer, state + S.CACHE, S.CACHE_ENTRIES * 4);
    this.pages = memory.buffer.byteLength / S.WASM_PAGE;
    this.newGeneration();
  }

  private newGeneration(): void {
    this.generation++;
    this.table = new WebAssembly.Table({ element: 'anyfunc', initial: 256 });
    this.tableUsed = 1;
    const bytes = generateDriver(this.state, this.pages, this.generation);
    this.driver = new WebAssembly.Instance(cachedModule(bytes), { m: { mem: this.memory, tab: this.table } }).exports.f as DriverFn;
  }

  /**
   * The imports of one region: the CPU's slow paths. They get the
   * instruction's index in the region and record its block and index in it
   * as where a fault is delivered.
   */
  private importsFor(blocks: readonly (readonly Instr[])[]): WebAssembly.Imports {
    const cpu = this.cpu;
    const st = this.st;
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
    const faultPoint = (at: number, done: number): void => {
      cpu.jitInstrs = blockOf[at]!;
      cpu.jitIndex = indexIn[at]!;
      cpu.jitDone = done;
      this.loadFlags();
    };
    // breakLoop, or a new code epoch (a CPL change): the chain and its cache entries end here.
    const after = (): number => (st[BREAK] = cpu.breakLoop || cpu.codeEpoch !== this.epoch ? 1 : 0);
    return {
      m: {
        mem: this.memory,
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
          const ins = instrs[k]!;
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

  /**
   * Compile a block (no native routines: jit.ts checked) — with the
   * already-decoded blocks it reaches on its page when `regions` is on
   * (jit.ts formRegion) — or return null when this tier declines it.
   */
  compile(instrs: readonly Instr[]): CompiledBlock | null {
    const blocks = formRegion(instrs, this.regions ? this.cpu.cachedSuccessors(instrs[0]!.addr | 0) : undefined);
    const key = `${this.state},${this.pages}:${blocks.map(blockKey).join('|')}`;
    let mod = blockModules.get(key);
    if (mod === undefined) {
      if (blockModules.size >= MAX_MODULES) blockModules.clear();
      mod = cachedModule(generateBlock(blocks, this.state, this.pages));
      blockModules.set(key, mod);
    }
    const f = new WebAssembly.Instance(mod, this.importsFor(blocks)).exports.f as BlockFn;
    this.compiled++;
    this.regionBlocks += blocks.length - 1;
    if (this.tableUsed >= MAX_TABLE) this.newGeneration();
    if (this.tableUsed >= this.table.length) this.table.grow(this.table.length);
    const index = this.tableUsed++;
    this.table.set(index, f);
    const generation = this.generation;
    const eip = instrs[0]!.addr | 0;
    // A block that must see the exact instruction count (RDTSC, IN/OUT, INT: decodeBlock's startsBlock) is entered from the run loop only.
    const chained = !instrs[0]!.def?.startsBlock;
    const cpu = this.cpu;
    const st = this.st;
    const driver = this.driver;
    return (_cpu: CPU, room: number, left?: number): number => {
      this.storeFlags();
      st[BREAK] = 0;
      this.validate();
      let n: number;
      // Chaining only where the run loop would not look at each block (coverage edges, instrumentation).
      if (cpu.edgeCounts === null && cpu.jitInstrumentation === null && left !== undefined) {
        if (chained) {
          const h = (Math.imul(eip, 0x9e3779b1) >>> (32 - S.CACHE_BITS)) << 2;
          this.cache[h] = eip;
          this.cache[h + 1] = index;
          this.cache[h + 2] = instrs.length;
          this.cache[h + 3] = generation;
        }
        this.left = left;
        n = driver(room, cpu.tlbOffset, 0, index);
      } else {
        this.left = Infinity;
        n = f(room, cpu.tlbOffset, 0);
      }
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

/** The compiled module for `bytes`: the same code in another run or another CPU is compiled once. */
function cachedModule(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module {
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  let mod = modules.get(key);
  if (mod === undefined) {
    if (modules.size >= MAX_MODULES) modules.clear();
    mod = new WebAssembly.Module(bytes);
    modules.set(key, mod);
  }
  return mod;
}
