/**
 * The WebAssembly block generator: the state of one function being
 * generated (a region of blocks: ./region.ts) and the primitives the
 * instruction generators (./instructions.ts) use — registers in locals,
 * lazy flags in locals, memory accesses with the TLB fast path inline,
 * exits and branches inside the function. It keeps the contract of the
 * JavaScript block compiler (../jit.ts) to the letter:
 *
 * - the function returns how many instructions retired, having stored EIP
 *   and the lazy flags in the state area (the tier copies them to the CPU);
 * - it stops after any instruction that changed EIP or set breakLoop;
 * - before anything that may fault (an access's slow path, an executor
 *   call) it stores the registers and the flags as they were before the
 *   instruction and passes the instruction's index and the count retired
 *   by earlier blocks of this call to the gate function (the instruction's
 *   index in the function: the tier maps it to its block), which records
 *   them in cpu.jitInstrs/jitIndex/jitDone, so the run loop delivers the
 *   exception exactly as for interpreted code.
 *
 * Function signature: (room, tlb, done) → retired, the one the table
 * holds (a function starts with its first block: a region's entry), where
 * `room` is how many instructions may retire before the run loop must look
 * at the budget or the devices, `tlb` the byte address of the current privilege's read
 * TLB (its write TLB follows at TLB_W), and `done` the instructions already
 * retired by the blocks run before this one in the same call from the run
 * loop (./tier.ts chains blocks): the counts, `room` included, are relative
 * to the run loop's instruction count at that call.
 */
import { Op, I32, VOID, sleb, uleb, type Func } from './encoder.js';
import * as S from './state.js';
import { ARITH, CF, OF, SF, ZF, Lazy } from '../flags.js';
import type { Instr } from '../instr.js';

export type Ex = number[];
export type Size = 1 | 2 | 4;

// Locals: the three parameters, then fixed locals, then temporaries. PC is the block to run next
// (0 at entry, as every local: the function's first block, ./region.ts); D0 is `done` at the
// current block's entry (the executor import sets the REP chunk from it); CIN the carry in of
// pending ADC/SBB flags; DESC the lazy flags a block was branched to with (see DYN).
export const ROOM = 0, TLB = 1, DONE = 2, PC = 3, R0 = 4, FD = 12, FS = 13, FR = 14, L = 15, E = 16, BRK = 17, D0 = 18, CIN = 19, DESC = 20;
export const PARAMS = 3;
export const FIRST_TEMP = 21;

/**
 * The function types of every module the tier makes (blocks, the gate),
 * by index: the type section is always this list.
 */
export const TYPES = [
  { params: 3, results: 1 }, // a block's or region's function (room, tlb, done) → retired; rd*, ex
  { params: 4, results: 1 }, // wr*; chain (room, tlb, done, eip) → retired
  { params: 4, results: 0 }, // pw
  { params: 1, results: 1 }, // cc
  { params: 0, results: 1 }, // carry
  { params: 6, results: 0 }, // lazy
  { params: 8, results: 0 }, // spill
  { params: 5, results: 0 }, // settle
  { params: 0, results: 0 }, // pr
] as const;
export const BLOCK_TYPE = 0;
const CARRY_TYPE = 4, LAZY_TYPE = 5, SPILL_TYPE = 6, SETTLE_TYPE = 7;
/** The module's helpers by their offset from the first (BlockGen helperBase). */
const SPILL = 0, LAZY = 1, SETTLE = 2, CHAIN = 3, CARRY = 4;

/**
 * The gate: the CPU's slow paths, the same for every block of a CPU. They
 * sit at fixed slots (1 + their position here) of the CPU's function table
 * (wasm/tier.ts puts them there), and block code reaches them with
 * call_indirect — so a block module imports only the memory and the table,
 * and its compile and instantiation cost nothing per slow path. The block
 * being run is the one whose table index the state area's CUR slot holds.
 */
export const GATE = [
  { name: 'rd8', type: 0 }, // (lin, index, done) → value
  { name: 'rd16', type: 0 },
  { name: 'rd32', type: 0 },
  { name: 'wr8', type: 1 }, // (lin, value, index, done) → breakLoop
  { name: 'wr16', type: 1 },
  { name: 'wr32', type: 1 },
  { name: 'pw', type: 2 }, // probeWrite(lin, size, index, done)
  { name: 'ex', type: 0 }, // executor(index, done, done at the block's entry) → stop (EIP changed or breakLoop)
  { name: 'cc', type: 3 }, // CPU.cond(cc) on the flags in the state area
  { name: 'pr', type: 8 }, // promote: the block at CUR has been entered regionThreshold times (wasm/tier.ts)
] as const;
/** The first table slot of a compiled block (0 is never used: an empty chaining-cache entry). */
export const FIRST_BLOCK_SLOT = 1 + GATE.length;
const RD = { 1: 1, 2: 2, 4: 3 } as const;
const WR = { 1: 4, 2: 5, 4: 6 } as const;
const PW = 7, EX = 8, CC = 9, PR = 10;

/** A call of the gate function at table slot `slot`. */
export function gate(slot: number, ...args: Ex[]): Ex {
  const o: number[] = [];
  for (const a of args) o.push(...a);
  o.push(...k32(slot), Op.call_indirect);
  uleb(o, GATE[slot - 1]!.type);
  o.push(0);
  return o;
}

/**
 * The helpers every block module defines once, after its blocks' functions,
 * called from slow paths and exits (out of line, so a block's code stays
 * small and compiles fast): spill(r0..r7) stores the registers the
 * module's function writes (`written`, a bit per register: the others
 * always equal the state area's); lazy(kind, dst, src, res, size, mask)
 * stores the lazy-flag state (jit/flags.ts writeBack); settle(desc, dst,
 * src, res, cin) stores it from a DESC (BlockGen.settleCode); chain(room,
 * tlb, done, eip), tail-called by every exit, runs the next block (see
 * chainBody); carry() is CF from the state area's flags (carryBody).
 */
export function helpers(state: number, written: number): Func[] {
  const spill: number[] = [];
  for (let n = 0; n < 8; n++) if (written & (1 << n)) spill.push(...store(4, k32(0), get(n), state + S.REGS + 4 * n));
  const lazy: number[] = [];
  [S.LF_KIND, S.LF_DST, S.LF_SRC, S.LF_RES, S.LF_SIZE, S.LAZY_MASK].forEach((off, i) => lazy.push(...store(4, k32(0), get(i), state + off)));
  return [
    { type: SPILL_TYPE, locals: 0, body: spill },
    { type: LAZY_TYPE, locals: 0, body: lazy },
    { type: SETTLE_TYPE, locals: 0, body: settleBody(state) },
    { type: 1, locals: 2, body: chainBody(state) },
    { type: CARRY_TYPE, locals: 1, body: carryBody(state) },
  ];
}

/**
 * carry() → CF as 0/1 from the state area's flags, CPU.getCF() in
 * WebAssembly: INC/DEC at a block's entry keep a CF that is still lazy, and
 * ADC/SBB/RCL read it — a call out to JavaScript each time before.
 */
function carryBody(state: number): Ex {
  const M = 0;
  const slot = (off: number) => load(4, k32(0), state + off);
  const masked = (off: number) => and(slot(off), get(M));
  const o: number[] = [];
  o.push(...eqz(and(slot(S.LAZY_MASK), k32(CF))), Op.if, VOID, ...and(slot(S.FLAGS), k32(CF)), Op.return, Op.end);
  // The operand mask of the size (1, 2 or 4 bytes), as CPU.lfMask.
  o.push(...set(M, [...k32(-1), ...sub(bin(Op.i32_shl, k32(1), shl(slot(S.LF_SIZE), 3)), k32(1)), ...bin(Op.i32_eq, slot(S.LF_SIZE), k32(4)), Op.select]));
  for (const kind of [Lazy.Add, Lazy.Sub, Lazy.Adc, Lazy.Sbb]) {
    const cf = carryExpr(kind, () => masked(S.LF_DST), () => masked(S.LF_SRC), () => masked(S.LF_RES), () => slot(S.LF_CIN))!;
    o.push(...bin(Op.i32_eq, slot(S.LF_KIND), k32(kind)), Op.if, VOID, ...cf, Op.return, Op.end);
  }
  o.push(...k32(0));
  return o;
}

/**
 * CF of a pending ADD, SUB, ADC or SBB from its operands (masked to the size), as CPU.getCF: the
 * functions give each operand's code (some are used twice); null for the other kinds.
 */
function carryExpr(kind: Lazy, dst: () => Ex, src: () => Ex, res: () => Ex, cin: () => Ex): Ex | null {
  switch (kind) {
    case Lazy.Add: return bin(Op.i32_lt_u, res(), dst());
    case Lazy.Sub: return bin(Op.i32_lt_u, dst(), src());
    // With a carry in, equality carries too.
    case Lazy.Adc: return [...bin(Op.i32_le_u, res(), dst()), ...bin(Op.i32_lt_u, res(), dst()), ...cin(), Op.select];
    case Lazy.Sbb: return [...bin(Op.i32_le_u, dst(), src()), ...bin(Op.i32_lt_u, dst(), src()), ...cin(), Op.select];
    default: return null;
  }
}

/** settle(desc, dst, src, res, cin): BlockGen.settleCode out of line (for slow paths), with plain stores. */
function settleBody(state: number): Ex {
  const DESC_ = 0, CIN_ = 4;
  const o = [...get(DESC_), Op.if, VOID];
  const fields: [number, Ex][] = [
    [S.LF_KIND, and(get(DESC_), k32(0x7f))], [S.LF_DST, get(1)], [S.LF_SRC, get(2)], [S.LF_RES, get(3)],
    [S.LF_SIZE, and(shrU(get(DESC_), 8), k32(0xff))], [S.LAZY_MASK, shrU(get(DESC_), 16)],
  ];
  for (const [off, v] of fields) o.push(...store(4, k32(0), v, state + off));
  o.push(...and(get(DESC_), k32(0x80)), Op.if, VOID, ...store(4, k32(0), get(CIN_), state + S.LF_CIN), Op.end, Op.end);
  return o;
}

/**
 * What spill() leaves in the code: a value no byte has, replaced by
 * expandSpills once the whole function is generated and so the registers
 * it writes are known.
 */
const SPILL_MARK = -1;

/**
 * The function's code with each spill mark replaced by stores of the
 * registers it writes (`written`, a bit per register: the others always
 * equal the state area's), in place — no call, and nothing for the
 * registers it only reads.
 */
export function expandSpills(code: ArrayLike<number>, written: number, state: number): number[] {
  const stores: number[] = [];
  for (let n = 0; n < 8; n++) if (written & (1 << n)) stores.push(...store(4, k32(0), get(R0 + n), state + S.REGS + 4 * n));
  const o: number[] = [];
  for (let i = 0; i < code.length; i++) {
    const b = code[i]!;
    if (b === SPILL_MARK) for (const x of stores) o.push(x);
    else o.push(b);
  }
  return o;
}

/**
 * chain(room, tlb, done, eip) → retired: the block at `eip` next, by a tail
 * call — while nothing set breakLoop, `room` is not used up, and the
 * chaining cache (state.ts CACHE, filled by wasm/tier.ts when the run loop
 * enters a block; cleared when CPU.codeEpoch changes, which sets breakLoop
 * inside a chain) holds a block of the current table for `eip` that fits in
 * what is left of `room`. Otherwise it returns `done`, and the run loop
 * goes on from the EIP in the state area. Tail calls (return_call*) keep
 * the WebAssembly stack flat however long the chain, and cost less than a
 * driver function calling each block and looping (what the tier did
 * before: about 17 ns against 6 per transition in a micro-benchmark).
 */
function chainBody(state: number): number[] {
  const ROOM_ = 0, TLB_ = 1, DONE_ = 2, EIP_ = 3, H = 4, IDX = 5;
  const slot = (off: number) => load(4, k32(0), state + off);
  const ret: number[] = [...get(DONE_), Op.return];
  const o: number[] = [];
  o.push(...or(slot(S.BREAK), bin(Op.i32_ge_s, get(DONE_), get(ROOM_))), Op.if, VOID, ...ret, Op.end);
  // The cache entry of the EIP: (EIP * 0x9e3779b1) >>> (32 - CACHE_BITS), 16 bytes each.
  o.push(...set(H, shl(bin(Op.i32_shr_u, bin(Op.i32_mul, get(EIP_), k32(0x9e3779b1 | 0)), k32(32 - S.CACHE_BITS)), 4)));
  // Another EIP, an entry of another table (an older generation) or an empty one (index 0) ends the chain.
  o.push(...or(bin(Op.i32_ne, load(4, get(H), state + S.CACHE), get(EIP_)), bin(Op.i32_ne, load(4, get(H), state + S.CACHE + 12), slot(S.GEN))), Op.if, VOID, ...ret, Op.end);
  o.push(...set(IDX, load(4, get(H), state + S.CACHE + 4)));
  o.push(...or(eqz(get(IDX)), bin(Op.i32_gt_s, add(get(DONE_), load(4, get(H), state + S.CACHE + 8)), get(ROOM_))), Op.if, VOID, ...ret, Op.end);
  o.push(...store(4, k32(0), get(IDX), state + S.CUR));
  o.push(...get(ROOM_), ...get(TLB_), ...get(DONE_), ...get(IDX), Op.return_call_indirect, BLOCK_TYPE, 0);
  return o;
}

// ---- expressions ----------------------------------------------------------

export function k32(v: number): Ex {
  const o = [Op.i32_const];
  sleb(o, v);
  return o;
}
/** local.get of locals 0–127 (one byte of index each), made once: the generators ask for them most (and only ever copy them). */
const GETS: readonly Ex[] = Array.from({ length: 128 }, (_, i) => [Op.local_get, i]);
export function get(i: number): Ex {
  if (i < 128) return GETS[i]!;
  const o = [Op.local_get];
  uleb(o, i);
  return o;
}
/**
 * Registers (locals R0..R0+7) assigned by set() since the generator of the
 * current function began (BlockGen's constructor clears it): what its exits
 * store back. Generation is synchronous, one function at a time.
 */
let regsWritten = 0;
/**
 * The code of the function being generated (BlockGen.emit), one buffer for
 * every function: a number array grown one push at a time was most of what
 * the generators allocated. 32-bit: it holds SPILL_MARK too.
 */
let buf = new Int32Array(1 << 16);
export function set(i: number, v: Ex): Ex {
  if (i >= R0 && i < R0 + 8) regsWritten |= 1 << (i - R0);
  return setLocal(i, v);
}
function setLocal(i: number, v: Ex): Ex {
  const o = [...v, Op.local_set];
  uleb(o, i);
  return o;
}
export const bin = (op: Op, a: Ex, b: Ex): Ex => [...a, ...b, op];
export const add = (a: Ex, b: Ex) => bin(Op.i32_add, a, b);
export const sub = (a: Ex, b: Ex) => bin(Op.i32_sub, a, b);
export const and = (a: Ex, b: Ex) => bin(Op.i32_and, a, b);
export const or = (a: Ex, b: Ex) => bin(Op.i32_or, a, b);
export const xor = (a: Ex, b: Ex) => bin(Op.i32_xor, a, b);
export const shl = (a: Ex, n: number) => bin(Op.i32_shl, a, k32(n));
export const shrU = (a: Ex, n: number) => bin(Op.i32_shr_u, a, k32(n));
export const shrS = (a: Ex, n: number) => bin(Op.i32_shr_s, a, k32(n));
export const eqz = (a: Ex): Ex => [...a, Op.i32_eqz];
export const ne0 = (a: Ex): Ex => bin(Op.i32_ne, a, k32(0));

function memarg(o: number[], align: number, offset: number): void {
  uleb(o, align);
  uleb(o, offset);
}
const LOAD = { 1: [Op.i32_load8_u, 0], 2: [Op.i32_load16_u, 1], 4: [Op.i32_load, 2] } as const;
const STORE = { 1: [Op.i32_store8, 0], 2: [Op.i32_store16, 1], 4: [Op.i32_store, 2] } as const;
export function load(size: Size, addr: Ex, offset = 0): Ex {
  const o = [...addr, LOAD[size][0]];
  memarg(o, LOAD[size][1], offset);
  return o;
}
export function store(size: Size, addr: Ex, v: Ex, offset = 0): Ex {
  const o = [...addr, ...v, STORE[size][0]];
  memarg(o, STORE[size][1], offset);
  return o;
}
export function call(fn: number, ...args: Ex[]): Ex {
  const o: number[] = [];
  for (const a of args) o.push(...a);
  o.push(Op.call);
  uleb(o, fn);
  return o;
}

export const mask = (size: number) => (size === 4 ? -1 : size === 2 ? 0xffff : 0xff);
const signBit = (size: number) => (size === 4 ? 0x80000000 | 0 : size === 2 ? 0x8000 : 0x80);

/** The flags pending in the locals fd/fs/fr (as jit/flags.ts): null when the state area holds them. */
export interface PendingFlags {
  readonly kind: Lazy;
  readonly size: Size;
  readonly mask: number;
}

/**
 * The flags at the top of a block, known only at run time: a branch inside
 * the function leaves them in the locals fd/fs/fr (and CIN) with the DESC
 * local describing them (descriptor()), or DESC = 0 when the state area
 * holds them (the function's entry). They reach the state area only where
 * something looks at them there (settleCode).
 */
export const DYN = 'dyn';
export type LazyState = PendingFlags | null | typeof DYN;

/** DESC for pending flags: kind | carry in? 0x80 | size << 8 | mask << 16 (never 0: every mask has a bit). */
export function descriptor(p: PendingFlags): number {
  const cin = p.kind === Lazy.Adc || p.kind === Lazy.Sbb ? 0x80 : 0;
  return p.kind | cin | (p.size << 8) | (p.mask << 16);
}

/**
 * One function being generated: a region of blocks (../jit.ts formRegion:
 * the entry block first, then blocks on its page that its direct branches
 * reach), each entered at the top of the function's dispatch loop
 * (./region.ts), with the registers in locals throughout.
 */
export class BlockGen {
  /** Elements of `buf` holding the function's code so far. */
  private size = 0;
  pending: LazyState = null;
  /** Open structured constructs around the code being emitted (the loop is the outermost). */
  depth = 0;
  /** Open `if`s in the current instruction's code: a settle inside one leaves the flags DYN for the other path. */
  private nest = 0;
  /**
   * The label of the current block's own `loop` (a self-loop branches to
   * it; ./region.ts), as its depth from the outermost construct; -1 if none.
   */
  selfLabel = -1;
  /** The current instruction's index in its block, the instruction. */
  k = 0;
  ins!: Instr;
  /** The current instruction may have written memory through a slow path (then BRK is tested). */
  wrote = false;
  /**
   * Temporaries in use by the current instruction (they live within one
   * instruction: region.ts starts each at 0), and the most any used — the
   * function's temporary locals, which every call zeroes, so a region
   * of hundreds of instructions does not get thousands of them.
   */
  temps = 0;
  maxTemps = 0;
  /** The block being generated: its index in the region, first address, length, and the region index of its first instruction. */
  block = 0;
  start: number;
  count: number;
  base = 0;
  /**
   * For each block, the blocks a direct branch from it continues inside the
   * function, by first address: their index (./region.ts: only blocks of a
   * region it belongs to, never one that must start in the run loop).
   */
  private readonly inside: readonly ReadonlyMap<number, number>[];

  /**
   * `helperBase` is the function index of the module's first helper
   * (helpers(): SPILL, LAZY, SETTLE, CHAIN, CARRY from it): the module defines
   * its functions first.
   */
  constructor(readonly blocks: readonly (readonly Instr[])[], inside: readonly ReadonlyMap<number, number>[], readonly state: number, readonly helperBase: number) {
    regsWritten = 0;
    this.inside = inside;
    this.start = blocks[0]![0]!.addr | 0;
    this.count = blocks[0]!.length;
  }

  /** Start block `j` of the region: it is entered with the flags where DESC says. */
  beginBlock(j: number, base: number): void {
    this.block = j;
    this.start = this.blocks[j]![0]!.addr | 0;
    this.count = this.blocks[j]!.length;
    this.base = base;
    this.pending = DYN;
    this.selfLabel = -1;
  }
  /** The current instruction's index in the region: what the imports get (./tier.ts maps it back to its block). */
  get at(): number {
    return this.base + this.k;
  }
  /** Registers the function's code writes (a bit each): what its exits (expandSpills) and the spill helper store back. */
  get written(): number {
    return regsWritten;
  }

  emit(code: Ex): void {
    let n = this.size;
    if (n + code.length > buf.length) {
      const grown = new Int32Array(Math.max(2 * buf.length, n + code.length));
      grown.set(buf.subarray(0, n));
      buf = grown;
    }
    for (let i = 0; i < code.length; i++) buf[n++] = code[i]!;
    this.size = n;
  }
  /** The function's code (a copy: the buffer is the next function's). */
  get code(): Int32Array {
    return buf.slice(0, this.size);
  }
  temp(): number {
    const t = FIRST_TEMP + this.temps++;
    if (this.temps > this.maxTemps) this.maxTemps = this.temps;
    return t;
  }
  /** A new temporary holding `v`. */
  let(v: Ex): number {
    const t = this.temp();
    this.emit(set(t, v));
    return t;
  }
  /** `if (cond) then [else otherwise]` as statements; the callbacks emit inside. */
  if(cond: Ex, then: () => void, otherwise?: () => void): void {
    this.emit([...cond, Op.if, VOID]);
    this.depth++;
    this.nest++;
    then();
    if (otherwise) {
      this.emit([Op.else]);
      otherwise();
    }
    this.nest--;
    this.depth--;
    this.emit([Op.end]);
  }
  /** `cond ? a : b` where a and b emit one i32 each (statements allowed before). */
  ifValue(cond: Ex, a: () => void, b: () => void): void {
    this.emit([...cond, Op.if, I32]);
    this.depth++;
    this.nest++;
    a();
    this.emit([Op.else]);
    b();
    this.nest--;
    this.depth--;
    this.emit([Op.end]);
  }

  // ---- state area -----------------------------------------------------------

  slot(off: number): Ex {
    return load(4, k32(0), this.state + off);
  }
  setSlot(off: number, v: Ex): Ex {
    return store(4, k32(0), v, this.state + off);
  }
  /** Store the registers (by the spill helper: slow paths, kept small). */
  spill(): Ex {
    const o: number[] = [];
    for (let n = 0; n < 8; n++) o.push(...get(R0 + n));
    o.push(Op.call);
    uleb(o, this.helperBase + SPILL);
    return o;
  }
  /** Store the registers the function writes, in place (a mark expandSpills replaces): for exits, a hot path. */
  spillInPlace(): Ex {
    return [SPILL_MARK];
  }
  reload(): Ex {
    const o: number[] = [];
    for (let n = 0; n < 8; n++) o.push(...setLocal(R0 + n, this.slot(S.REGS + 4 * n)));
    return o;
  }
  /**
   * The entry counter of a block's function (mutable global `global`):
   * incremented at each call, and at the `at`-th the gate is asked to
   * promote the block to a region (wasm/tier.ts). Once: a count past it
   * does not ask again.
   */
  countEntry(global: number, at: number): void {
    const o: number[] = [Op.global_get];
    uleb(o, global);
    o.push(...k32(1), Op.i32_add, Op.global_set);
    uleb(o, global);
    o.push(Op.global_get);
    uleb(o, global);
    o.push(...k32(at), Op.i32_eq, Op.if, VOID, ...gate(PR), Op.end);
    this.emit(o);
  }
  /** The function's prologue: the registers into locals; the flags in the state area (DESC 0 is a local's default). */
  prologue(): void {
    this.emit(this.reload());
    this.emit(set(D0, get(DONE)));
  }

  // ---- lazy flags -------------------------------------------------------------

  /** The pending state stored into the state area, leaving it pending (jit/flags.ts writeBack). */
  flushCode(): Ex {
    const p = this.pending;
    if (p === null) return [];
    if (p === DYN) return call(this.helperBase + SETTLE, get(DESC), get(FD), get(FS), get(FR), get(CIN));
    const o = call(this.helperBase + LAZY, k32(p.kind), get(FD), get(FS), get(FR), k32(p.size), k32(p.mask));
    if (p.kind === Lazy.Adc || p.kind === Lazy.Sbb) o.push(...this.setSlot(S.LF_CIN, get(CIN)));
    return o;
  }
  /** flushCode() as stores in place (for exits, a hot path). */
  flushInline(): Ex {
    const p = this.pending;
    if (p === null) return [];
    if (p === DYN) return this.settleCode();
    const o = [
      ...this.setSlot(S.LF_KIND, k32(p.kind)), ...this.setSlot(S.LF_DST, get(FD)), ...this.setSlot(S.LF_SRC, get(FS)), ...this.setSlot(S.LF_RES, get(FR)),
      ...this.setSlot(S.LF_SIZE, k32(p.size)), ...this.setSlot(S.LAZY_MASK, k32(p.mask)),
    ];
    if (p.kind === Lazy.Adc || p.kind === Lazy.Sbb) o.push(...this.setSlot(S.LF_CIN, get(CIN)));
    return o;
  }
  /**
   * The DYN flags stored into the state area if DESC says they are in the
   * locals (nothing when the block was entered from outside the function).
   */
  settleCode(): Ex {
    const kind = and(get(DESC), k32(0x7f)), size = and(shrU(get(DESC), 8), k32(0xff)), m = shrU(get(DESC), 16);
    const o = [...get(DESC), Op.if, VOID, ...call(this.helperBase + LAZY, kind, get(FD), get(FS), get(FR), size, m)];
    o.push(...and(get(DESC), k32(0x80)), Op.if, VOID, ...this.setSlot(S.LF_CIN, get(CIN)), Op.end, Op.end);
    return o;
  }
  /** The flags into the state area: after this (on every path, so not inside an `if` for DYN flags) they are there. */
  flush(): void {
    this.emit(this.flushCode());
    if (this.pending !== DYN || this.nest === 0) this.pending = null;
  }
  /** The pending flags, DYN ones stored into the state area first (null then: there they are, on this path). */
  private known(): PendingFlags | null {
    if (this.pending === DYN) this.flush();
    return this.pending === DYN ? null : this.pending;
  }
  /** The code a branch inside the function sets DESC with, for the flags as they are (nothing if already DYN). */
  private descCode(): Ex {
    const p = this.pending;
    if (p === DYN) return [];
    return set(DESC, k32(p === null ? 0 : descriptor(p)));
  }
  setFlags(kind: Lazy, size: Size, m: number, d: Ex, s: Ex, r: Ex): void {
    this.emit([...set(FD, d), ...set(FS, s), ...set(FR, r)]);
    this.pending = { kind, size, mask: m };
  }
  /** EFLAGS in the state area (the bits not pending). */
  flags(): Ex {
    return this.slot(S.FLAGS);
  }
  setEflagsBits(clear: number, bits: Ex): void {
    this.emit(this.setSlot(S.FLAGS, or(and(this.flags(), k32(~clear)), bits)));
  }
  /** INC/DEC keep CF: the current CF moves into EFLAGS before the new state replaces it. */
  keepCarry(): void {
    const p = this.known();
    if (p === null) {
      this.if(and(this.slot(S.LAZY_MASK), k32(CF)), () => this.setEflagsBits(CF, this.carryFromState()));
    } else if (p.mask & CF) this.setEflagsBits(CF, this.flagBit(p, CF));
  }
  /** CF as 0/1 from the state area's flags (the module's carry helper). */
  private carryFromState(): Ex {
    return call(this.helperBase + CARRY);
  }
  /** CF as 0/1 from the pending flags or the state area's. */
  carry(): Ex {
    const p = this.known();
    return p !== null ? this.flagBit(p, CF) : this.carryFromState();
  }

  /** One status flag of the pending state as 0/1 (jit/flags.ts flagExpr). */
  flagBit(p: PendingFlags, bit: number): Ex {
    if (!(p.mask & bit)) return ne0(and(this.flags(), k32(bit)));
    const s = p.size;
    const fr = get(FR), fd = get(FD), fs = get(FS);
    switch (bit) {
      case ZF: return s === 4 ? eqz(fr) : eqz(and(fr, k32(mask(s))));
      case SF: return s === 4 ? bin(Op.i32_lt_s, fr, k32(0)) : ne0(and(fr, k32(signBit(s))));
      case CF: {
        if (p.kind === Lazy.Logic) return k32(0);
        // The locals of 8/16-bit forms are masked like the CPU's fields.
        const cf = carryExpr(p.kind, () => get(FD), () => get(FS), () => get(FR), () => get(CIN));
        if (cf === null) throw new Error(`wasm: CF of lazy kind ${p.kind} is not derived inline`);
        return cf;
      }
      default: { // OF
        let x: Ex;
        switch (p.kind) {
          case Lazy.Add: case Lazy.Adc: case Lazy.Inc: x = and(xor(fd, fr), xor(fs, get(FR))); break;
          case Lazy.Sub: case Lazy.Sbb: case Lazy.Dec: x = and(xor(fd, fs), xor(get(FD), fr)); break;
          case Lazy.Logic: return k32(0);
          default: throw new Error(`wasm: OF of lazy kind ${p.kind} is not derived inline`);
        }
        return s === 4 ? bin(Op.i32_lt_s, x, k32(0)) : ne0(and(x, k32(signBit(s))));
      }
    }
  }

  /** Condition `cc` (Jcc/SETcc/CMOVcc low nibble) as 0/1 (SDM Vol. 1 Appendix B; jit/flags.ts condExpr). */
  cond(cc: number): Ex {
    const p = this.known();
    const t = cc >> 1;
    if (p === null || t === 5) {
      this.flush();
      return gate(CC, k32(cc));
    }
    let e: Ex;
    const fd = get(FD), fs = get(FS);
    if (p.kind === Lazy.Sub && p.mask === ARITH && (t === 1 || t === 3 || t === 6 || t === 7)) {
      // Straight from the operands of a CMP/SUB.
      const sh = 32 - p.size * 8;
      const sx = (v: Ex) => (sh === 0 ? v : shl(v, sh));
      if (t === 1) e = bin(Op.i32_lt_u, fd, fs);
      else if (t === 3) e = bin(Op.i32_le_u, fd, fs);
      else e = bin(t === 6 ? Op.i32_lt_s : Op.i32_le_s, sx(fd), sx(fs));
    } else {
      const f = (bit: number) => this.flagBit(p, bit);
      switch (t) {
        case 0: e = f(OF); break;
        case 1: e = f(CF); break;
        case 2: e = f(ZF); break;
        case 3: e = or(f(CF), f(ZF)); break;
        case 4: e = f(SF); break;
        case 6: e = bin(Op.i32_ne, f(SF), f(OF)); break;
        default: e = or(f(ZF), bin(Op.i32_ne, f(SF), f(OF))); break;
      }
    }
    return cc & 1 ? eqz(e) : e;
  }

  // ---- registers ----------------------------------------------------------------

  /** A general register of `size` bytes (8-bit 4–7 are AH..BH). */
  reg(size: number, n: number): Ex {
    if (size === 4) return get(R0 + n);
    if (size === 2) return and(get(R0 + n), k32(0xffff));
    return n < 4 ? and(get(R0 + n), k32(0xff)) : and(shrU(get(R0 + n - 4), 8), k32(0xff));
  }
  /** Write `v` (evaluated once) to a register of `size` bytes. */
  setReg(size: number, n: number, v: Ex): Ex {
    if (size === 4) return set(R0 + n, v);
    if (size === 2) return set(R0 + n, or(and(get(R0 + n), k32(-65536)), and(v, k32(0xffff))));
    if (n < 4) return set(R0 + n, or(and(get(R0 + n), k32(-256)), and(v, k32(0xff))));
    return set(R0 + n - 4, or(and(get(R0 + n - 4), k32(-65281)), shl(and(v, k32(0xff)), 8)));
  }

  // ---- exits ----------------------------------------------------------------------

  /** Code before a call that may fault or look at the CPU: registers and flags stored (jit sync()). */
  sync(): Ex {
    return [...this.spill(), ...this.flushCode()];
  }
  /** Leave with EIP = `eip` (side-effect free: evaluated twice) after `retired` instructions of this trip, chaining to the next block. */
  exit(eip: Ex, retired: number): Ex {
    const o = [...this.flushInline(), ...this.spillInPlace(), ...this.setSlot(S.EIP, eip), ...get(ROOM), ...get(TLB), ...add(get(DONE), k32(retired)), ...eip, Op.return_call];
    uleb(o, this.helperBase + CHAIN);
    return o;
  }
  /**
   * A direct branch to `target` after `retired` instructions of this block:
   * to a block of the region (this one included), go on inside the function
   * while a whole pass through it fits in `room` and nothing set breakLoop;
   * otherwise leave. The flags stay in the locals (DESC says which). The
   * branch is structured where it can be (./region.ts): to the block's own
   * loop, or forward out of the `block` the target's code follows; only a
   * branch back to another block sets PC and goes through the dispatch
   * loop's br_table.
   */
  goto(target: number, retired: number): Ex {
    const j = this.inside[this.block]!.get(target | 0);
    if (j === undefined) return this.exit(k32(target), retired);
    const o: number[] = [...set(DONE, add(get(DONE), k32(retired))), ...set(D0, get(DONE))];
    o.push(...or(bin(Op.i32_gt_s, add(get(DONE), k32(this.blocks[j]!.length)), get(ROOM)), this.slot(S.BREAK)), Op.if, VOID);
    o.push(...this.flushCode(), ...this.spill(), ...this.setSlot(S.EIP, k32(target)), ...get(DONE), Op.return, Op.end);
    o.push(...this.descCode());
    // Labels by depth from the outermost construct, the dispatch loop (0): a later block j's is
    // blocks.length - j (region.ts); `br` counts from the innermost (depth - 1).
    let label: number;
    if (j === this.block && this.selfLabel >= 0) label = this.selfLabel;
    else if (j > this.block) label = this.blocks.length - j;
    else {
      if (this.blocks.length > 1) o.push(...setLocal(PC, k32(j)));
      label = 0;
    }
    o.push(Op.br);
    uleb(o, this.depth - 1 - label);
    return o;
  }

  // ---- memory ------------------------------------------------------------------------

  /** The TLB entry of L's page: the read TLB's, or (offset TLB_W) the write TLB's. */
  private entry(offset = 0): Ex {
    return load(4, add(get(TLB), shl(shrU(get(L), 12), 2)), offset);
  }
  /** Entry `e` is (page base | 1): nonzero and the access inside the page. */
  private fast(size: Size): Ex {
    return size === 1 ? get(E) : and(get(E), bin(Op.i32_le_u, and(get(L), k32(4095)), k32(4096 - size)));
  }
  private phys(): Ex {
    return add(and(get(E), k32(-4096)), and(get(L), k32(4095)));
  }
  /** Read `size` bytes at `lin` (zero-extended); returns the temporary holding the value. */
  read(size: Size, lin: Ex): number {
    const v = this.temp();
    this.emit(set(L, lin));
    this.emit(set(E, this.entry()));
    this.ifValue(this.fast(size), () => this.emit(load(size, this.phys())), () => {
      this.emit(this.sync());
      this.emit(gate(RD[size], get(L), k32(this.at), get(DONE)));
    });
    this.emit(set(v, []));
    return v;
  }
  /** Write `value` (side-effect free, evaluated on one path) as `size` bytes at `lin`. */
  write(size: Size, lin: Ex, value: Ex): void {
    this.wrote = true;
    this.emit(set(L, lin));
    this.emit(set(E, this.entry(S.TLB_W)));
    this.if(this.fast(size), () => this.emit(store(size, this.phys(), value)), () => {
      this.emit(this.sync());
      this.emit(set(BRK, gate(WR[size], get(L), value, k32(this.at), get(DONE))));
    });
  }
  /**
   * Read-modify-write (the destination is checked for write before it is
   * read, as CPU.probeWrite does). `modify` gets the old value's temporary
   * and returns the new value's.
   */
  modify(size: Size, lin: Ex, modify: (old: number) => number): void {
    const p = this.temp();
    this.emit(set(L, lin));
    this.emit(set(p, k32(-1)));
    this.emit(set(E, this.entry(S.TLB_W)));
    this.if(this.fast(size), () => this.emit(set(p, this.phys())), () => {
      this.emit(this.sync());
      this.emit(gate(PW, get(L), k32(size), k32(this.at), get(DONE)));
    });
    const d = this.temp();
    // After a successful probe neither slow access below can fault.
    this.ifValue(bin(Op.i32_ge_s, get(p), k32(0)), () => this.emit(load(size, get(p))), () => this.emit(gate(RD[size], get(L), k32(this.at), get(DONE))));
    this.emit(set(d, []));
    const r = modify(d);
    this.wrote = true;
    this.if(bin(Op.i32_ge_s, get(p), k32(0)), () => this.emit(store(size, get(p), get(r))), () => {
      this.emit(set(BRK, gate(WR[size], get(L), get(r), k32(this.at), get(DONE))));
    });
  }
  /** PUSH of a dword; ESP changes only once the store succeeded. */
  push32(value: Ex): void {
    const sp = this.let(sub(get(R0 + 4), k32(4)));
    this.write(4, get(sp), value);
    this.emit(set(R0 + 4, get(sp)));
  }
  /** POP of a dword; returns the temporary holding it (ESP already incremented). */
  pop32(): number {
    const v = this.read(4, get(R0 + 4));
    this.emit(set(R0 + 4, add(get(R0 + 4), k32(4))));
    return v;
  }

  // ---- executors ----------------------------------------------------------------------

  /**
   * On one path only (inside an `if`), the instruction left to its executor
   * (for a case the inline code does not handle, such as the #DE of a DIV):
   * then leave, as after an executor that stopped. The pending flags stay
   * pending for the other path.
   */
  executorExit(): void {
    this.emit([...this.flushCode(), ...this.spill()]);
    this.emit([...gate(EX, k32(this.at), get(DONE), get(D0)), Op.drop]);
    this.emit([...get(DONE), ...k32(this.k + 1), Op.i32_add, Op.return]);
  }
  /** The instruction left to its executor: flags and registers stored, the executor called, registers reloaded. Returns the stop flag's temporary. */
  executor(): number {
    this.flush();
    this.emit(this.spill());
    const stop = this.let(gate(EX, k32(this.at), get(DONE), get(D0)));
    this.emit(this.reload());
    return stop;
  }
}
