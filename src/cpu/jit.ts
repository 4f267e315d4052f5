/**
 * Block compiler: a decoded block that has run often enough becomes one
 * JavaScript function (`new Function`), which V8 then compiles to machine
 * code. The semantics stay in the executors: the hottest integer forms are
 * emitted inline by templates (jit/templates.ts) that follow the same rules
 * as their executors, and every other instruction is a direct call of its
 * executor. Direct calls from a function made for this block alone are
 * monomorphic, so V8 can inline them — the interpreter's one indirect
 * `ins.exec(...)` call site cannot be.
 *
 * The pieces, one concept each:
 * - jit/memory.ts: the one emission point per kind of memory access
 *   (read, write, read-modify-write, push, pop), with the TLB fast path
 *   inlined;
 * - jit/flags.ts: lazy flags kept in locals, written back to the CPU only at
 *   exits, executor calls, CPU.cond and faults;
 * - jit/emitter.ts: the block being generated;
 * - jit/templates.ts: the inline instructions;
 * - jit/instrumentation.ts: what a client (a precise checker, the fuzzer)
 *   can add around accesses, ESP changes and compares, at compile time.
 *
 * The generated code keeps the interpreter's contract (see CPU.run):
 * - it returns how many instructions retired, having left EIP at the next
 *   one to execute and the lazy flags in the CPU's fields;
 * - it stops after any instruction that changed EIP or set `breakLoop`
 *   (a write to a code page, a mode change);
 * - when something that may fault throws (an access's slow path, an
 *   executor call), the function's one exception handler records the
 *   instruction's index in `cpu.jitIndex` (and the trips round a self-loop
 *   in `cpu.jitDone`) and, for a slow path, stores the registers and flags
 *   as they were before that instruction (an executor ran with them stored
 *   already), then rethrows, so the run loop delivers the exception exactly
 *   as it does for interpreted code (EIP, count, flags). The slow path only
 *   sets two locals (`at`, `fk`: jit/emitter.ts) around its call, and every
 *   exit only sets three before jumping to the one epilogue: code that has
 *   not run when V8 optimizes the function needs no type feedback, so
 *   running it later does not deoptimize the function, and the function is
 *   small (V8 optimizes it sooner: its tier-up budget grows with bytecode
 *   length). The fast paths cannot fault.
 *
 * Compile-time inputs (`CompileOptions`, part of the factory cache key):
 * `edges` emits the edge counting of compiled self-loops (CPU.edgeCounts;
 * without it a loop pays nothing for coverage), `instrumentation` the
 * client's code. With neither, the code is the compiler's fastest.
 */
import type { CPU } from './cpu.js';
import type { Instr } from './instr.js';
import * as ctl from './exec/control.js';
import { AT_BLOCK, AT_SYNCED, BlockEmitter, RELOAD, SPILL, WRITE_BACK_FK } from './jit/emitter.js';
import { TEMPLATES } from './jit/templates.js';
import { emitPush32 } from './jit/memory.js';
import type { JitInstrumentation, JitReplay } from './jit/instrumentation.js';
import { recipeOf, replayKey, replayValues, type Recipe } from './jit/replay.js';
import type { WasmTier } from './wasm/tier.js';

export type { JitInstrumentation, JitAccess, JitCompare, JitSite, JitInstructionSite, JitReplay } from './jit/instrumentation.js';
export { composeInstrumentation } from './jit/instrumentation.js';

/** Executions before a block is compiled: cold code is not worth the compile time. */
export const JIT_THRESHOLD = 50;

/**
 * `room` is how many instructions may retire before the run loop must look
 * at the budget or the devices again; a block that loops onto itself keeps
 * looping inside the function while a whole further iteration fits (each
 * time round counting its block-entry edge when compiled with `edges`).
 * `left` is what is left of the run's budget (≥ room): the WebAssembly tier,
 * which runs further blocks without returning, sets the REP chunk from it as
 * the run loop does before each block.
 */
export type CompiledBlock = (cpu: CPU, room: number, left?: number) => number;

export interface CompileOptions {
  /** Count the block-entry edge of each branch inside the compiled code (CPU.edgeCounts is on). */
  edges?: boolean;
  instrumentation?: JitInstrumentation | null;
  /**
   * The already-decoded block at a linear address on the entry block's page,
   * or null: with it the compiler makes a region (formRegion) whose internal
   * branches do not return to the run loop.
   */
  successor?: (eip: number) => readonly Instr[] | null;
  /** The CPU the block is for: its blocks keep V8's optimized code alive for the next CPU (retainOptimizedCode). */
  owner?: object;
  /**
   * The CPU's WebAssembly tier (wasm/tier.ts), or null: a block compiled
   * without edges, instrumentation or a region goes to it first, and stays
   * JavaScript when it declines.
   */
  wasm?: WasmTier | null;
}

/**
 * Make V8 optimize the block functions a factory makes for every closure
 * at once. While a function literal has made only one closure, TurboFan
 * specializes the optimized code to that closure's context (the bound
 * values become constants) and keeps it for that closure alone; the next
 * closure of the same code (the same block in a later run, another CPU, a
 * block compiled again after its page was written) starts over in the
 * interpreter and is optimized a second time. A throw-away second closure,
 * made as the factory is created, turns off that specialization: the
 * optimized code goes into the literal's shared feedback and every later
 * closure starts with it. Measured on bench/workload in one process: the
 * second 120 M-instruction run took 2.2–2.3 CPU s before, 0.9–1.0 after
 * (the third 0.6–0.9 either way).
 */
function shareOptimizedCode(factory: (...a: unknown[]) => CompiledBlock, values: readonly unknown[]): void {
  factory(...values);
}

/**
 * Keep the optimized code of a CPU's blocks alive after the CPU is gone,
 * until a second CPU after it compiles. V8 holds a function's optimized
 * code weakly in the literal's shared feedback: when every closure of a
 * block is garbage (the machine that ran it was dropped), the next
 * collection discards the code, and the same block in the next machine of
 * the process (the next run of a benchmark, a test, a fuzzer's next
 * target) is interpreted and optimized again — on bench/workload that was
 * most of a run's CPU time after the first, and more with the checkers'
 * larger blocks. Retaining the closures of the two most recent owners
 * keeps the code while bounding what stays reachable to two machines.
 */
const retained: { owner: object | null; now: Map<unknown, CompiledBlock>; before: Map<unknown, CompiledBlock> } = { owner: null, now: new Map(), before: new Map() };
/** Keep `block` (made by `factory` for `owner`): one closure per factory and owner, so a CPU that recompiles a block forever (code it keeps writing) keeps no more. */
function retainOptimizedCode(owner: object | undefined, factory: unknown, block: CompiledBlock): void {
  if (owner === undefined) return;
  if (owner !== retained.owner) {
    retained.before = retained.now;
    retained.now = new Map();
    retained.owner = owner;
  }
  retained.now.set(factory, block);
}
/** Closures kept by retainOptimizedCode (for tests: it stays bounded). */
export function retainedBlockCount(): number {
  return retained.now.size + retained.before.size;
}

/** Compiled block factories by source text, shared by every CPU in the process. */
const factories = new Map<string, (...a: unknown[]) => CompiledBlock>();
const MAX_FACTORIES = 50_000;

/** Regions compiled before, by replay key (./jit/replay.ts): the factory, where its values come from, the counters' advance. */
interface Replay {
  factory: (...a: unknown[]) => CompiledBlock;
  recipe: Recipe;
  counted: readonly number[] | null;
}
const replays = new Map<string, Replay>();
/** The replay of a block compiled without instrumentation. */
const UNINSTRUMENTED: JitReplay = { key: '', roots: [] };

/** A factory's block for `owner`. */
function instantiate(factory: (...a: unknown[]) => CompiledBlock, values: readonly unknown[], owner: object | undefined): CompiledBlock {
  const block = factory(...values);
  retainOptimizedCode(owner, factory, block);
  return block;
}

/** One instruction; returns false when the block ends here. */
function emitInstruction(c: BlockEmitter, ins: Instr, k: number): boolean {
  const n = c.count;
  const last = k === n - 1;
  if (ins.exec === ctl.jcc) {
    const cond = c.cond(ins.op & 0xf);
    c.emit(`if (${cond}) { ${c.goto(ins.imm | 0, k + 1)} }`);
    if (last) c.emit(c.goto(ins.next | 0, n));
    return true;
  }
  if (ins.cont !== ins.next && !last) {
    // A JMP or CALL the block follows (decodeBlock): only the CALL's push remains.
    if (ins.exec === ctl.callRel) {
      emitPush32(c, `${ins.next | 0}`);
      c.emit(`if (brk) { ${c.exit(ins.imm | 0, k + 1)} }`);
    }
    return true;
  }
  const t = TEMPLATES.get(ins.exec);
  const done = t ? t(c, ins) : false;
  if (done === 'transfer') return false;
  if (done) {
    if (last) c.emit(c.goto(ins.next | 0, n));
    else if (c.wrote) c.emit(`if (brk) { ${c.exit(ins.next | 0, k + 1)} }`);
    return true;
  }
  // Left to its executor, with the flags where it expects them.
  c.emit(c.flush());
  // The registers and flags are the CPU's while it runs: a fault is delivered with what the executor left.
  const f = c.bind(ins.exec);
  const i = c.bind(ins);
  c.emit(`cpu.eip = ${ins.next | 0}; ${c.executorSite()} ${SPILL}`);
  const hook = c.instr?.executor?.(c.site());
  if (hook) c.emit(hook);
  const eip = c.temp('eip');
  c.emit(`${f}(cpu, ${i}); ${c.after()} ${RELOAD}`);
  c.emit(`const ${eip} = cpu.eip; if (${eip} !== ${ins.next | 0} || cpu.breakLoop) { ${c.exit(eip, k + 1)} }`);
  if (last) c.emit(c.goto(ins.next | 0, n));
  return true;
}

/** Most blocks and instructions in one region (compile time and code size grow with it). */
const REGION_BLOCKS = 16;
const REGION_INSTRUCTIONS = 320;

/**
 * The blocks compiled together with the entry block: those its direct
 * branches (Jcc, JMP, CALL, the fall-through) reach on the same page,
 * transitively, that were already decoded (`successor` only looks in the
 * code cache, so compiling has no side effect on the machine). A block
 * starting with an instruction that must see the exact retired count
 * (decodeBlock's startsBlock: RDTSC, IN/OUT, INT) is always entered
 * through the run loop, and so is one with a native routine.
 */
export function formRegion(entry: readonly Instr[], successor: ((eip: number) => readonly Instr[] | null) | undefined): (readonly Instr[])[] {
  const region = [entry];
  if (!successor) return region;
  const page = entry[0].addr >>> 12;
  const seen = new Set<number>([entry[0].addr | 0]);
  let total = entry.length;
  for (let b = 0; b < region.length && region.length < REGION_BLOCKS; b++) {
    const instrs = region[b];
    const targets: number[] = [];
    for (let k = 0; k < instrs.length; k++) {
      const ins = instrs[k];
      const last = k === instrs.length - 1;
      if (ins.exec === ctl.jcc) targets.push(ins.imm | 0);
      if (last && (ins.exec === ctl.jmpRel || (ins.exec === ctl.callRel && ins.size === 4))) targets.push(ins.imm | 0);
      if (last && ins.exec !== ctl.jmpRel && !ins.def?.endsBlock) targets.push(ins.next | 0);
    }
    for (const t of targets) {
      if (t >>> 12 !== page || seen.has(t)) continue;
      seen.add(t);
      const s = successor(t);
      if (s === null || s.length === 0 || total + s.length > REGION_INSTRUCTIONS) continue;
      if (s.some((i) => i.native !== null) || s[0].def?.startsBlock) continue;
      region.push(s);
      total += s.length;
      if (region.length >= REGION_BLOCKS) break;
    }
  }
  return region;
}

/** `r[n]` → the local `rn`; SPILL, RELOAD and the entry load expanded for the registers the code uses. */
function registersInLocals(code: string): string {
  const used = new Set<number>();
  const written = new Set<number>();
  const out = code.replace(/(?<![\w$.])r\[([0-7])\]/g, (_m, n: string) => {
    used.add(Number(n));
    return `r${n}`;
  });
  for (const m of out.matchAll(/(?<![\w$.])r([0-7]) = (?!=)/g)) written.add(Number(m[1]));
  const spill = [...written].sort().map((n) => `R[${n}] = r${n};`).join(' ');
  const reload = [...used].sort().map((n) => `r${n} = R[${n}];`).join(' ');
  const load = used.size ? `let ${[...used].sort().map((n) => `r${n} = R[${n}]`).join(', ')};` : '';
  return out.split(SPILL).join(spill).split(RELOAD).join(reload).replace('/*load*/', load);
}

/** The RAM views and TLB arrays the code uses, loaded once at entry (the views and tlb markers). */
function localsUsed(code: string): string {
  const pick = (pairs: [string, string][]) => {
    const used = pairs.filter(([name]) => code.includes(`${name}[`)).map(([name, from]) => `${name} = ${from}`);
    return used.length ? `const ${used.join(', ')};` : '';
  };
  const views = pick([['R', 'cpu.regs'], ['m8', 'cpu.mem8'], ['m16', 'cpu.mem.u16'], ['m32', 'cpu.mem32']]);
  const tlb = pick([['tR', 'cpu.tlbR'], ['tW', 'cpu.tlbW']]);
  return code.replace('/*views*/', views).replace('/*tlb*/', tlb);
}

/**
 * Compile `instrs` (a whole block) into a function. Returns null for
 * blocks that contain something the compiler leaves to the interpreter
 * (native routines) or that the instrumentation declines.
 */
export function compileBlock(instrs: readonly Instr[], options: CompileOptions = {}): CompiledBlock | null {
  if (instrs.some((i) => i.native !== null)) return null;
  const inst = options.instrumentation ?? null;
  // The tier choice: WebAssembly for plain blocks when the CPU has it; everything else JavaScript.
  if (options.wasm && !options.edges && inst === null) {
    const f = options.wasm.compile(instrs);
    if (f !== null) return f;
  }
  if (inst?.compiles && !inst.compiles(instrs)) return null;
  const start = instrs[0].addr | 0;
  let region = formRegion(instrs, options.successor);
  if (inst?.compiles) region = region.filter((b, i) => i === 0 || inst.compiles!(b));
  // Compiled before in this process (the same bytes at the same addresses): the same factory, this run's values.
  const replay = inst === null ? UNINSTRUMENTED : inst.replay?.() ?? null;
  const bindingNames = inst?.bindings ? Object.keys(inst.bindings) : [];
  const rkey = replay === null ? null : replayKey(region, `${options.edges === true ? 'e' : ''}\n${replay.key}\n${bindingNames.join(',')}\n`);
  if (rkey !== null) {
    const r = replays.get(rkey);
    if (r !== undefined) {
      if (r.counted !== null) replay!.counters?.add(r.counted);
      const values = replayValues(r.recipe, region, replay!.roots);
      for (const name of bindingNames) values.push(inst!.bindings![name]);
      return instantiate(r.factory, values, options.owner);
    }
  }
  const countedBefore = replay?.counters?.read() ?? null;
  // Branch targets continued inside the function (never a block that must start in the run loop: see formRegion).
  const inside = new Map(region.filter((b) => !b[0].def?.startsBlock).map((b) => [b[0].addr | 0, b.length]));
  const c = new BlockEmitter(start, inst, options.edges === true, inside);
  // Each block of the region is one `case` (its first line and the line after its end recorded).
  let entryEnd = 0;
  for (const block of region) {
    c.beginBlock(block);
    c.emit(`case ${block[0].addr | 0}: {`);
    for (let k = 0; k < block.length; k++) {
      const ins = block[k];
      c.markInstruction(k, ins);
      c.emit('{');
      if (inst?.instruction) c.emit(inst.instruction({ ...c.site(), flags: c.flushCode() }));
      const goOn = emitInstruction(c, ins, k);
      c.emit('}');
      if (!goOn) break;
    }
    c.emit('}');
    if (entryEnd === 0) entryEnd = c.lines.length;
  }
  const head = [
    `// kmemsim block at 0x${(start >>> 0).toString(16)}${region.length > 1 ? ` (a region of ${region.length} blocks)` : ''}`,
    '/*views*/',
    '/*load*/',
    `let done = 0, fd = 0, fs = 0, fr = 0, l = 0, e = 0, brk = false, at = -1, fk = -1, nx = 0, n = 0${c.loops ? `, pc = ${start}` : ''};`,
  ];
  // The TLB arrays of the current privilege: an instruction that changes CPL also changes EIP and ends the block.
  const tlb = '/*tlb*/';
  // Straight-line code when no branch continues inside the function: only the entry block's case
  // can run, and every path through it leaves — no loop for V8 to peel and analyse.
  const body = c.loops
    ? ['loop: for (;;) {', tlb, 'switch (pc) {', ...c.lines, 'default: fk = -1; nx = pc; n = 0; break out;', '}', '}']
    : [tlb, ...c.lines.slice(1, entryEnd - 1)];
  const instrsAt = c.blockNames.length === 1 ? c.blockNames[0] : `[${c.blockNames.join(', ')}][(at >> ${AT_BLOCK}) & 255]`;
  const lines = [
    ...head,
    'try {',
    'out: {',
    ...body,
    '}',
    '} catch (x) {',
    // A slow path or an executor threw (a fault): where, and the state as it was before the instruction.
    `if (at !== -1) { cpu.jitInstrs = ${instrsAt}; cpu.jitIndex = at & ${(1 << AT_BLOCK) - 1}; cpu.jitDone = done; if ((at & ${AT_SYNCED}) === 0) { ${SPILL} ${WRITE_BACK_FK} } }`,
    'throw x;',
    '}',
    // The one epilogue: every exit set fk, nx and n.
    `${SPILL} ${WRITE_BACK_FK} cpu.eip = nx; return done + n;`,
  ];
  const names = [...c.names, ...bindingNames];
  const values = [...c.values, ...bindingNames.map((name) => inst!.bindings![name])];
  // Parenthesized: V8 compiles the inner function with the factory instead of pre-parsing it there
  // and parsing it again at its first call.
  const source = `return (function block(cpu, room) {\n${localsUsed(registersInLocals(lines.filter((x) => x !== '').join('\n')))}\n});`;
  // The same code (same addresses, same instructions) in another run or another CPU of this
  // process reuses the factory, and with it V8's optimized code and type feedback.
  const key = `${inst?.key ?? ''}\n${names.join(',')}\n${source}`;
  let factory = factories.get(key);
  if (factory === undefined) {
    if (factories.size >= MAX_FACTORIES) {
      factories.clear();
      replays.clear();
      retained.now.clear();
      retained.before.clear();
    }
    factory = new Function(...names, source) as (...a: unknown[]) => CompiledBlock;
    factories.set(key, factory);
    shareOptimizedCode(factory, values);
  }
  if (rkey !== null && replays.size < MAX_FACTORIES) {
    const recipe = recipeOf(c.values, region, replay!.roots);
    const after = replay!.counters?.read() ?? null;
    const counted = countedBefore !== null && after !== null ? after.map((v, i) => v - countedBefore[i]!) : null;
    if (recipe !== null) replays.set(rkey, { factory, recipe, counted });
  }
  return instantiate(factory, values, options.owner);
}
