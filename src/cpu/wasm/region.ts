/**
 * The body of one generated function: a region of blocks (../jit.ts
 * formRegion — the entry block, then the already-decoded blocks on its page
 * that its direct branches reach), as v86 compiles a hot page: a branch from
 * one of the region's blocks to another goes on inside the function instead
 * of returning to the driver. Branches are structured where they can be: a
 * block that branches to itself is its own `loop`; a branch forward to a
 * later block is a `br` out of the `block` whose end that block's code
 * follows; a branch back to another block sets PC and goes round the
 * dispatch loop, whose `br_table` (also the function's entry: PC, a local, is
 * 0 then, the entry block) selects the block. The registers and the lazy flags
 * (codegen.ts DYN) stay in locals across those branches. The count, `room`,
 * faults and breakLoop are the single block's contract (./codegen.ts), per
 * block: a branch inside goes on only while the whole target block fits in
 * `room` and nothing set breakLoop, and every import gets the instruction's
 * index in the region, which the tier maps back to its block and index for
 * cpu.jitInstrs and cpu.jitIndex. Layout, for blocks 0..n-1:
 *
 *     loop                       ;; the dispatch loop: label depth 0
 *       block ... block          ;; n of them: block j's label is at depth n - j
 *         br_table 0 1 … n-1 (PC)
 *       end  [loop] <block 0's code> [end]  ;; a self-loop's own loop (depth n - j + 1 inside)
 *       end  <block 1's code> …             ;; each block ends in a return or a br
 *     end unreachable
 */
import type { Instr } from '../instr.js';
import * as ctl from '../exec/control.js';
import { Op, VOID, uleb } from './encoder.js';
import { BlockGen, BRK, DONE, FIRST_TEMP, PARAMS, PC, expandSpills, get, k32 } from './codegen.js';
import { GENERATORS } from './instructions.js';

/** One instruction; returns false when the block ends here (jit.ts emitInstruction). */
function emitInstruction(g: BlockGen, ins: Instr, k: number): boolean {
  const n = g.count;
  const last = k === n - 1;
  if (ins.exec === ctl.jcc) {
    g.if(g.cond(ins.op & 0xf), () => g.emit(g.goto(ins.imm | 0, k + 1)));
    if (last) g.emit(g.goto(ins.next | 0, n));
    return true;
  }
  if (ins.cont !== ins.next && !last) {
    // A JMP or CALL the block follows (decodeBlock): only the CALL's push remains.
    if (ins.exec === ctl.callRel) {
      g.push32(k32(ins.next | 0));
      g.if(get(BRK), () => g.emit(g.exit(k32(ins.imm | 0), k + 1)));
    }
    return true;
  }
  const gen = GENERATORS.get(ins.exec);
  const done = gen ? gen(g, ins) : false;
  if (done === 'transfer') return false;
  if (done) {
    if (last) g.emit(g.goto(ins.next | 0, n));
    else if (g.wrote) g.if(get(BRK), () => g.emit(g.exit(k32(ins.next | 0), k + 1)));
    return true;
  }
  // Left to its executor (called from the generated code; EIP and the flags stored by the import).
  const stop = g.executor();
  g.if(get(stop), () => g.emit([...get(DONE), ...k32(k + 1), Op.i32_add, Op.return]));
  if (last) g.emit(g.goto(ins.next | 0, n));
  return true;
}

/** The code of one block; it ends in a return or a branch to the dispatch loop. */
function emitBlock(g: BlockGen, instrs: readonly Instr[]): void {
  for (let k = 0; k < instrs.length; k++) {
    const ins = instrs[k]!;
    g.k = k;
    g.ins = ins;
    g.wrote = false;
    g.temps = 0;
    if (!emitInstruction(g, ins, k)) break;
  }
  g.emit([Op.unreachable]);
}

/** The generated function (its code, locals past the parameters, and the registers it writes). */
export interface RegionBody {
  code: number[];
  locals: number;
  written: number;
}

/** Whether block `j` may branch to its own first instruction inside the function (then it gets its own loop). */
function selfLoops(blocks: readonly (readonly Instr[])[], inside: ReadonlyMap<number, number>, j: number): boolean {
  const b = blocks[j]!;
  const start = b[0]!.addr | 0;
  if (inside.get(start) !== j) return false;
  return b.some((ins, k) => (ins.imm | 0) === start || (k === b.length - 1 && (ins.next | 0) === start));
}

/**
 * The function of a block or a region (its blocks: the entry first, then
 * blocks on its page, ../jit.ts formRegion), in a module whose helpers start
 * at function index `helperBase`: (room, tlb, done) → retired, starting with
 * the entry block. A direct branch to any of the blocks (the entry included:
 * a self-loop) continues inside the function, except to one that must start
 * in the run loop (decodeBlock's startsBlock): a write to the page drops the
 * entry block with every block of the region, which all lie on its page.
 * With `counter`, the entry counter of a block's function (BlockGen
 * countEntry): mutable global `counter.global`, promotion at `counter.at`.
 */
export function generateFunction(blocks: readonly (readonly Instr[])[], state: number, helperBase: number, counter?: { global: number; at: number }): RegionBody {
  const inside = new Map<number, number>();
  blocks.forEach((b, j) => {
    if (!b[0]!.def?.startsBlock) inside.set(b[0]!.addr | 0, j);
  });
  const g = new BlockGen(blocks, blocks.map(() => inside), state, helperBase);
  if (counter) g.countEntry(counter.global, counter.at);
  g.prologue();
  g.emit([Op.loop, VOID]);
  const n = blocks.length;
  if (n > 1) {
    for (let j = 0; j < n; j++) g.emit([Op.block, VOID]);
    const table: number[] = [...get(PC), Op.br_table];
    uleb(table, n - 1);
    for (let j = 0; j < n - 1; j++) uleb(table, j);
    uleb(table, n - 1);
    g.emit(table);
    g.emit([Op.end]);
  }
  let base = 0;
  for (let j = 0; j < n; j++) {
    // Inside: the loop and the blocks of the later region blocks.
    g.depth = n - j;
    g.beginBlock(j, base);
    // With one block the dispatch loop is its loop (goto: no PC to set).
    const own = n > 1 && selfLoops(blocks, inside, j);
    if (own) {
      g.emit([Op.loop, VOID]);
      g.selfLabel = g.depth++;
    }
    emitBlock(g, blocks[j]!);
    if (own) g.emit([Op.end]);
    if (j < n - 1) g.emit([Op.end]);
    base += blocks[j]!.length;
  }
  g.emit([Op.end, Op.unreachable]);
  return { code: expandSpills(g.code, g.written, state), locals: FIRST_TEMP - PARAMS + g.maxTemps, written: g.written };
}
