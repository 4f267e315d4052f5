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
 * - on a fault it records the faulting instruction's index in
 *   `cpu.jitIndex`, puts back the flags as they were before that
 *   instruction, and rethrows, so the run loop delivers the exception
 *   exactly as it does for interpreted code (EIP, count, flags).
 *
 * Compile-time inputs (`CompileOptions`, part of the factory cache key):
 * `edges` emits the edge counting of compiled self-loops (CPU.edgeCounts;
 * without it a loop pays nothing for coverage), `instrumentation` the
 * client's code. With neither, the code is the compiler's fastest.
 */
import type { CPU } from './cpu.js';
import type { Instr } from './instr.js';
import * as ctl from './exec/control.js';
import { BlockEmitter } from './jit/emitter.js';
import { TEMPLATES } from './jit/templates.js';
import { emitPush32 } from './jit/memory.js';
import { WRITE_BACK_DYNAMIC } from './jit/flags.js';
import type { JitInstrumentation } from './jit/instrumentation.js';

export type { JitInstrumentation, JitAccess, JitCompare, JitSite, JitInstructionSite } from './jit/instrumentation.js';

/** Executions before a block is compiled: cold code is not worth the compile time. */
export const JIT_THRESHOLD = 50;

/**
 * `room` is how many instructions may retire before the run loop must look
 * at the budget or the devices again; a block that loops onto itself keeps
 * looping inside the function while a whole further iteration fits (each
 * time round counting its block-entry edge when compiled with `edges`).
 */
export type CompiledBlock = (cpu: CPU, room: number) => number;

export interface CompileOptions {
  /** Count the block-entry edge of each trip round a self-loop (CPU.edgeCounts is on). */
  edges?: boolean;
  instrumentation?: JitInstrumentation | null;
}

/** Compiled block factories by source text, shared by every CPU in the process. */
const factories = new Map<string, (...a: unknown[]) => CompiledBlock>();
const MAX_FACTORIES = 50_000;

/** A branch back to the block's first instruction: go round again inside the function if a whole trip fits. */
function again(c: BlockEmitter, k: number, edges: boolean): string {
  const n = c.count;
  const edge = edges ? `{ const ec = cpu.edgeCounts; if (ec !== null) cpu.countEdge(ec, ${c.start}); }` : '';
  return `done += ${k + 1}; ${c.flushCode()} if (done + ${n} > room || cpu.breakLoop) { cpu.eip = ${c.start}; return done; } ${edge} continue loop;`;
}

/** One instruction; returns false when the block ends here. */
function emitInstruction(c: BlockEmitter, ins: Instr, k: number, edges: boolean): boolean {
  const n = c.count;
  const last = k === n - 1;
  const start = c.start;
  if (ins.exec === ctl.jcc) {
    const cond = c.cond(ins.op & 0xf);
    const target = ins.imm | 0;
    c.emit(target === start ? `if (${cond}) { ${again(c, k, edges)} }` : `if (${cond}) { ${c.exit(target, k + 1)} }`);
    if (last) c.emit(c.exit(ins.next | 0, n));
    return true;
  }
  if (ins.exec === ctl.jmpRel && (ins.imm | 0) === start) {
    c.emit(again(c, k, edges));
    return false;
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
    if (last) c.emit(c.exit(ins.next | 0, n));
    else if (c.wrote) c.emit(`if (brk) { ${c.exit(ins.next | 0, k + 1)} }`);
    return true;
  }
  // Left to its executor, with the flags where it expects them.
  c.emit(c.flush());
  // The executor leaves the flags as the interpreter would, even when it faults: the catch keeps them.
  c.pendingAt[k] = -1;
  const f = c.bind(ins.exec);
  const i = c.bind(ins);
  c.emit(`cpu.eip = ${ins.next | 0};`);
  const hook = c.instr?.executor?.(c.site());
  if (hook) c.emit(hook);
  c.emit(`${f}(cpu, ${i});`);
  c.emit(last ? `return done + ${n};` : `if (cpu.eip !== ${ins.next | 0} || cpu.breakLoop) return done + ${k + 1};`);
  return true;
}

/**
 * Compile `instrs` (a whole block) into a function. Returns null for
 * blocks that contain something the compiler leaves to the interpreter
 * (native routines) or that the instrumentation declines.
 */
export function compileBlock(instrs: readonly Instr[], options: CompileOptions = {}): CompiledBlock | null {
  if (instrs.some((i) => i.native !== null)) return null;
  const inst = options.instrumentation ?? null;
  if (inst?.compiles && !inst.compiles(instrs)) return null;
  const edges = options.edges === true;
  const n = instrs.length;
  const start = instrs[0].addr | 0;
  const c = new BlockEmitter(start, n, inst);
  c.emit(`// kmemsim block at 0x${(start >>> 0).toString(16)}`);
  c.emit('const r = cpu.regs, m8 = cpu.mem8, m16 = cpu.mem.u16, m32 = cpu.mem32;');
  c.emit('let k = 0, done = 0, fd = 0, fs = 0, fr = 0, l = 0, e = 0, brk = false;');
  c.emit('try {');
  c.emit('loop: for (;;) {');
  // The TLB arrays of the current privilege: an instruction that changes CPL also changes EIP and ends the block.
  c.emit('const tR = cpu.tlbR, tW = cpu.tlbW;');
  for (let k = 0; k < n; k++) {
    const ins = instrs[k];
    c.markInstruction(k, ins);
    c.emit(`k = ${k}; {`);
    if (inst?.instruction) c.emit(inst.instruction({ ...c.site(), flags: c.flushCode() }));
    const goOn = emitInstruction(c, ins, k, edges);
    c.emit('}');
    if (!goOn) break;
  }
  c.emit('}');
  const pk = c.bind(Int32Array.from(c.pendingAt, (v) => v ?? -1));
  c.emit(`} catch (x) { cpu.jitIndex = k; cpu.jitDone = done; const p = ${pk}[k]; ${WRITE_BACK_DYNAMIC} throw x; }`);
  const names = [...c.names];
  const values = [...c.values];
  if (inst?.bindings) {
    for (const [name, v] of Object.entries(inst.bindings)) {
      names.push(name);
      values.push(v);
    }
  }
  const body = `return function block(cpu, room) {\n${c.lines.filter((x) => x !== '').join('\n')}\n};`;
  // The same code (same addresses, same instructions) in another run or another CPU of this
  // process reuses the factory, and with it V8's optimized code and type feedback.
  const key = `${inst?.key ?? ''}\n${names.join(',')}\n${body}`;
  let factory = factories.get(key);
  if (factory === undefined) {
    if (factories.size >= MAX_FACTORIES) factories.clear();
    factory = new Function(...names, body) as (...a: unknown[]) => CompiledBlock;
    factories.set(key, factory);
  }
  return factory(...values);
}
