/**
 * Block compiler: a decoded block that has run often enough becomes one
 * JavaScript function (`new Function`), which V8 then compiles to machine
 * code. The semantics stay in the executors: the hottest integer forms
 * (32-bit MOV, ALU, LEA, PUSH/POP, Jcc, CALL, ...) are emitted inline from
 * the same rules their executors follow, and every other instruction is a
 * direct call of its executor. Direct calls from a function made for this
 * block alone are monomorphic, so V8 can inline them — the interpreter's one
 * indirect `ins.exec(...)` call site cannot be.
 *
 * The generated code keeps the interpreter's contract (see CPU.run):
 * - it returns how many instructions retired, having left EIP at the next
 *   one to execute;
 * - it stops after any instruction that changed EIP or set `breakLoop`
 *   (a write to a code page, a mode change);
 * - on a fault it records the faulting instruction's index in
 *   `cpu.jitIndex` and rethrows, so the run loop delivers the exception
 *   exactly as it does for interpreted code.
 * Memory accesses go through the CPU's read/write functions (TLB, paging,
 * faults, code-page invalidation), never to RAM directly.
 */
import type { CPU } from './cpu.js';
import type { Instr, ExecFn } from './instr.js';
import { ARITH, Lazy, CF, OF, AF } from './flags.js';
import * as shift from './exec/shift.js';
import * as data from './exec/data.js';
import * as alu from './exec/alu.js';
import * as stack from './exec/stack.js';
import * as ctl from './exec/control.js';
import type { Instrumentation } from './instrument.js';

/** Executions before a block is compiled: cold code is not worth the compile time. */
export const JIT_THRESHOLD = 50;

/**
 * `room` is how many instructions may retire before the run loop must look
 * at the budget or the devices again; a block that loops onto itself keeps
 * looping inside the function while a whole further iteration fits (each
 * time round counting its block-entry edge when `cpu.edgeCounts` is on).
 */
export type CompiledBlock = (cpu: CPU, room: number) => number;

const ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7;

/** Result expression and lazy kind of an ALU op on int32 operands `d`, `s` (ADC/SBB are not inlined). */
function aluExpr(op: number): [string, number] | null {
  switch (op) {
    case ADD: return ['(d + s) | 0', Lazy.Add];
    case OR: return ['d | s', Lazy.Logic];
    case AND: return ['d & s', Lazy.Logic];
    case XOR: return ['d ^ s', Lazy.Logic];
    case SUB: case CMP: return ['(d - s) | 0', Lazy.Sub];
    default: return null;
  }
}

/** Record the flags of `res = d op s` the way CPU.setLazy does. */
function lazy(kind: number, res: string): string {
  // fd/fs/fr keep the operands in locals too, for a Jcc right after (see fusedCondition).
  return `cpu.lfKind = ${kind}; cpu.lfDst = d; cpu.lfSrc = s; cpu.lfRes = ${res}; cpu.lfSize = 4; cpu.lazyMask = ${ARITH}; fd = d; fs = s; fr = ${res};`;
}

/**
 * Jcc condition computed from the operands of the 32-bit ALU instruction
 * just before it (still in fd/fs/fr), instead of from the lazy flags: the
 * same answers CPU.cond gives (SDM Vol. 1 Appendix B), for the kinds where
 * they are simple. Null to fall back to cpu.cond.
 */
function fusedCondition(kind: number, cc: number): string | null {
  const neg = cc & 1;
  let e: string | null = null;
  if (kind === Lazy.Sub) {
    switch (cc >> 1) {
      case 1: e = '(fd >>> 0) < (fs >>> 0)'; break; // B: CF
      case 2: e = 'fr === 0'; break; // E: ZF
      case 3: e = '(fd >>> 0) <= (fs >>> 0)'; break; // BE: CF | ZF
      case 4: e = 'fr < 0'; break; // S
      case 6: e = 'fd < fs'; break; // L: SF != OF
      case 7: e = 'fd <= fs'; break; // LE
    }
  } else if (kind === Lazy.Logic) {
    switch (cc >> 1) {
      case 1: e = 'false'; break; // CF = 0
      case 2: e = 'fr === 0'; break;
      case 3: e = 'fr === 0'; break;
      case 4: e = 'fr < 0'; break;
      case 6: e = 'fr < 0'; break; // OF = 0
      case 7: e = 'fr <= 0'; break;
    }
  } else if (kind === Lazy.Add) {
    if (cc >> 1 === 2) e = 'fr === 0';
    else if (cc >> 1 === 4) e = 'fr < 0';
  }
  if (e === null) return null;
  return neg ? `!(${e})` : `(${e})`;
}

/** The linear address of a 32-bit-address-size memory operand, or null when not inlinable. */
function linExpr(ins: Instr): string | null {
  // FS/GS may be null and are always checked (CPU.lin); compiled code runs only while the others are flat.
  if (ins.asize !== 4 || ins.seg >= 4) return null;
  let e = `sb[${ins.seg}] + ${ins.disp | 0}`;
  if (ins.base >= 0) e += ` + r[${ins.base}]`;
  if (ins.index >= 0) e += ins.scale ? ` + (r[${ins.index}] << ${ins.scale})` : ` + r[${ins.index}]`;
  return `((${e}) | 0)`;
}

function eaExpr(ins: Instr): string | null {
  if (ins.asize !== 4) return null;
  let e = `${ins.disp | 0}`;
  if (ins.base >= 0) e += ` + r[${ins.base}]`;
  if (ins.index >= 0) e += ins.scale ? ` + (r[${ins.index}] << ${ins.scale})` : ` + r[${ins.index}]`;
  return `((${e}) | 0)`;
}

/** Source of the 32-bit E operand as a read, or null. */
function readE32(ins: Instr): string | null {
  if (ins.mod === 3) return `r[${ins.rm}]`;
  const l = linExpr(ins);
  return l && `cpu.read32(${l})`;
}

/** One inlined instruction: the code and whether it may write memory (then breakLoop must be checked). */
interface Emitted {
  code: string;
  /** The lazy-flag kind a 32-bit ALU template recorded (its operands are in fd/fs/fr). */
  flagKind?: number;
  writesMemory: boolean;
  /** Ends the block by itself (sets EIP and returns). */
  transfers: boolean;
}

type Template = (ins: Instr, k: number) => Emitted | null;

const plain = (code: string, writesMemory = false): Emitted => ({ code, writesMemory, transfers: false });

function aluTo(op: number, dst: string, src: string, write: (v: string) => string): Emitted | null {
  const a = aluExpr(op);
  if (!a) return null;
  const [expr, kind] = a;
  const store = op === CMP ? '' : write('res');
  return { code: `{ const d = ${dst}, s = ${src}, res = ${expr}; ${lazy(kind, 'res')} ${store} }`, writesMemory: false, transfers: false, flagKind: kind };
}

/** Executor → inline template; a template returns null (or '') to leave the instruction to its executor. */
/** AL..BH as an expression (SDM register encoding: 4–7 are the high bytes of EAX..EBX). */
function reg8(n: number): string {
  return n < 4 ? `(r[${n}] & 0xff)` : `((r[${n - 4}] >> 8) & 0xff)`;
}

/**
 * op [mem32], src. A destination that is written is probed for write
 * before it is read, so a not-present page reports a write fault, as the
 * executor (aluToE) does.
 */
function aluToMem(ins: Instr, op: number, src: string): Emitted | null {
  const l = linExpr(ins);
  const a = aluExpr(op);
  if (!l || !a) return null;
  const [expr, kind] = a;
  if (op === CMP) return { ...plain(`{ const d = cpu.read32(${l}), s = ${src}, res = ${expr}; ${lazy(kind, 'res')} }`), flagKind: kind };
  return { ...plain(`{ const l = ${l}; cpu.probeWrite(l, 4); const d = cpu.read32(l), s = ${src}, res = ${expr}; ${lazy(kind, 'res')} cpu.write32(l, res); }`, true), flagKind: kind };
}

const TEMPLATE_LIST: [ExecFn, (ins: Instr, k: number) => Emitted | string | null][] = [
  [data.movGE32, (ins) => {
    const src = readE32(ins);
    return src && plain(`r[${ins.reg}] = ${src};`);
  }],
  [data.movEG32, (ins) => {
    if (ins.mod === 3) return plain(`r[${ins.rm}] = r[${ins.reg}];`);
    const l = linExpr(ins);
    return l && plain(`cpu.write32(${l}, r[${ins.reg}]);`, true);
  }],
  [data.movRI, (ins) => (ins.size === 4 ? plain(`r[${ins.op & 7}] = ${ins.imm | 0};`) : null)],
  [data.movEI, (ins) => {
    if (ins.size !== 4) return null;
    if (ins.mod === 3) return plain(`r[${ins.rm}] = ${ins.imm | 0};`);
    const l = linExpr(ins);
    return l && plain(`cpu.write32(${l}, ${ins.imm | 0});`, true);
  }],
  [data.lea, (ins) => {
    const ea = ins.size === 4 ? eaExpr(ins) : null;
    return ea && plain(`r[${ins.reg}] = ${ea};`);
  }],
  [data.movzxB, (ins) => {
    if (ins.size !== 4) return null;
    if (ins.mod === 3) return plain(ins.rm < 4 ? `r[${ins.reg}] = r[${ins.rm}] & 0xff;` : `r[${ins.reg}] = (r[${ins.rm - 4}] >> 8) & 0xff;`);
    const l = linExpr(ins);
    return l && plain(`r[${ins.reg}] = cpu.read8(${l});`);
  }],
  [alu.aluEG32reg, (ins) => {
    const op = (ins.op >> 3) & 7;
    const c = aluTo(op, `r[${ins.rm}]`, `r[${ins.reg}]`, (v) => `r[${ins.rm}] = ${v};`);
    return c;
  }],
  [alu.aluGE, (ins) => {
    if (ins.size !== 4) return null;
    const src = readE32(ins);
    const c = src && aluTo((ins.op >> 3) & 7, `r[${ins.reg}]`, src, (v) => `r[${ins.reg}] = ${v};`);
    return c;
  }],
  [alu.aluAI, (ins) => {
    if (ins.size !== 4) return null;
    const c = aluTo((ins.op >> 3) & 7, 'r[0]', `${ins.imm | 0}`, (v) => `r[0] = ${v};`);
    return c;
  }],
  [alu.aluEI, (ins) => {
    if (ins.size !== 4) return null;
    if (ins.mod === 3) {
      const c = aluTo(ins.reg, `r[${ins.rm}]`, `${ins.imm | 0}`, (v) => `r[${ins.rm}] = ${v};`);
      return c;
    }
    return aluToMem(ins, ins.reg, `${ins.imm | 0}`);
  }],
  [alu.aluEG, (ins) => (ins.size === 4 && ins.mod !== 3 ? aluToMem(ins, (ins.op >> 3) & 7, `r[${ins.reg}]`) : null)],
  [data.movEG, (ins) => {
    if (ins.size !== 1) return null;
    if (ins.mod === 3) return plain(`cpu.setReg8(${ins.rm}, ${reg8(ins.reg)});`);
    const l = linExpr(ins);
    return l && plain(`cpu.write8(${l}, ${reg8(ins.reg)});`, true);
  }],
  [data.movGE, (ins) => {
    if (ins.size !== 1) return null;
    if (ins.mod === 3) return plain(`cpu.setReg8(${ins.reg}, ${reg8(ins.rm)});`);
    const l = linExpr(ins);
    return l && plain(`cpu.setReg8(${ins.reg}, cpu.read8(${l}));`);
  }],
  [alu.testEG, (ins) => {
    if (ins.size !== 4) return null;
    const src = readE32(ins);
    return src && { ...plain(`{ const d = ${src}, s = r[${ins.reg}], res = d & s; ${lazy(Lazy.Logic, 'res')} }`), flagKind: Lazy.Logic };
  }],
  [shift.shiftEI, (ins) => {
    // SHL/SHR/SAR r32, imm8 with a non-zero masked count: the executor's result and flags, inlined.
    const c = ins.imm & 0x1f;
    if (ins.size !== 4 || ins.mod !== 3 || c === 0) return null;
    const d = `r[${ins.rm}]`;
    let code: string;
    switch (ins.reg) {
      case 4: case 6:
        code = `const d = ${d}, res = d << ${c}, cf = (d >>> ${32 - c}) & 1, of = (res >>> 31) ^ cf; cpu.setLazyResult(res, 4, cf | (of << 11), ${CF | OF | AF});`;
        break;
      case 5:
        code = `const d = ${d}, res = (d >>> ${c}) | 0, cf = (d >>> ${c - 1}) & 1; cpu.setLazyResult(res, 4, cf | ((d >>> 31) << 11), ${CF | OF | AF});`;
        break;
      case 7:
        code = `const d = ${d}, res = d >> ${c}, cf = (d >> ${c - 1}) & 1; cpu.setLazyResult(res, 4, cf, ${CF | OF | AF});`;
        break;
      default:
        return null;
    }
    return plain(`{ ${code} ${d} = res; }`);
  }],
  [alu.incReg, (ins) => (ins.size === 4 ? plain(incDec(ins.op & 7, false)) : null)],
  [alu.decReg, (ins) => (ins.size === 4 ? plain(incDec(ins.op & 7, true)) : null)],
  [stack.pushReg32, (ins) => plain(`cpu.push32(r[${ins.op & 7}]);`, true)],
  [stack.popReg32, (ins) => plain(`{ const v = cpu.pop32(); r[${ins.op & 7}] = v; }`)],
  [ctl.jmpRel, (ins, k) => ({ code: `cpu.eip = ${ins.imm | 0}; return done + ${k + 1};`, writesMemory: false, transfers: true })],
  [ctl.callRel, (ins, k) => (ins.size === 4 ? { code: `cpu.push32(${ins.next | 0}); cpu.eip = ${ins.imm | 0}; return done + ${k + 1};`, writesMemory: true, transfers: true } : null)],
  [ctl.ret, (ins, k) => (ins.size === 4 ? { code: `cpu.eip = cpu.pop32(); return done + ${k + 1};`, writesMemory: false, transfers: true } : null)],
];
const TEMPLATES = new Map<ExecFn, Template>(
  TEMPLATE_LIST.map(([f, t]): [ExecFn, Template] => [f, (ins, k) => {
    const e = t(ins, k);
    return typeof e === 'string' || e === null ? null : e;
  }]),
);

/** INC/DEC r32 keep CF (CPU.setLazyKeepCF), as the executor does. */
function incDec(reg: number, dec: boolean): string {
  return `{ const d = r[${reg}], res = (d ${dec ? '-' : '+'} 1) | 0; cpu.setLazyKeepCF(${dec ? Lazy.Dec : Lazy.Inc}, d, res, 4); r[${reg}] = res; }`;
}

/**
 * The instrumentation ahead of instruction k, when it wants that
 * instruction (./instrument.ts): the code it emits, or a call to its
 * `before` with EIP set to the instruction's (compiled code runs only with
 * a flat CS, so EIP is the linear address).
 */
function instrumentCall(instrumentation: Instrumentation, ins: Instr, k: number, lines: string[], names: string[], values: unknown[]): void {
  if (!instrumentation.wants(ins)) return;
  if (!names.includes('ih')) {
    names.push('ih');
    values.push(instrumentation);
  }
  let bound = 0;
  const bind = (value: unknown): string => {
    const name = `h${k}_${bound++}`;
    names.push(name);
    values.push(value);
    return name;
  };
  const code = instrumentation.emit?.(ins, bind) ?? null;
  lines.push(code ?? `cpu.eip = ${ins.addr | 0}; ih.before(cpu, ${bind(ins)});`);
}

/** Compiled block factories by source text, shared by every CPU in the process. */
const factories = new Map<string, (...a: unknown[]) => CompiledBlock>();
const MAX_FACTORIES = 50_000;

/**
 * Compile `instrs` (a whole block) into a function. Returns null for
 * blocks that contain something the compiler leaves to the interpreter
 * (native routines).
 */
export function compileBlock(instrs: readonly Instr[], instrumentation: Instrumentation | null = null): CompiledBlock | null {
  const names: string[] = [];
  const values: unknown[] = [];
  const lines: string[] = [];
  const n = instrs.length;
  const start = instrs[0].addr | 0;
  lines.push(`// kmemsim block at 0x${(start >>> 0).toString(16)}`);
  lines.push('const r = cpu.regs, sb = cpu.segBase;');
  lines.push('let k = 0, done = 0, fd = 0, fs = 0, fr = 0;');
  lines.push('try {');
  lines.push('loop: for (;;) {');
  /** A branch back to this block's first instruction: go round again inside the function if it fits. */
  const again = (k: number) =>
    `done += ${k + 1}; if (done + ${n} > room || cpu.breakLoop) { cpu.eip = ${start}; return done; } if (cpu.edgeCounts !== null) cpu.countEdge(cpu.edgeCounts, ${start}); continue loop;`;
  let prevKind = -1;
  for (let k = 0; k < n; k++) {
    const ins = instrs[k];
    if (ins.native !== null) return null;
    const last = k === n - 1;
    const kind = prevKind;
    prevKind = -1;
    lines.push(`k = ${k};`);
    if (instrumentation !== null) instrumentCall(instrumentation, ins, k, lines, names, values);
    if (ins.exec === ctl.jcc) {
      const cond = (kind >= 0 && fusedCondition(kind, ins.op & 0xf)) || `cpu.cond(${ins.op & 0xf})`;
      const target = ins.imm | 0;
      lines.push(target === start ? `if (${cond}) { ${again(k)} }` : `if (${cond}) { cpu.eip = ${target}; return done + ${k + 1}; }`);
      if (last) lines.push(`cpu.eip = ${ins.next | 0};`);
      continue;
    }
    if (ins.exec === ctl.jmpRel && (ins.imm | 0) === start) {
      lines.push(again(k));
      break;
    }
    if (ins.cont !== ins.next && !last) {
      // A JMP or CALL the block follows (decodeBlock): only the CALL's push remains.
      if (ins.exec === ctl.callRel) lines.push(`cpu.push32(${ins.next | 0});`, `if (cpu.breakLoop) { cpu.eip = ${ins.imm | 0}; return done + ${k + 1}; }`);
      continue;
    }
    const t = TEMPLATES.get(ins.exec);
    const e = t ? t(ins, k) : null;
    if (e !== null) {
      lines.push(e.code);
      if (e.flagKind !== undefined) prevKind = e.flagKind;
      if (e.transfers) break;
      if (e.writesMemory && !last) lines.push(`if (cpu.breakLoop) { cpu.eip = ${ins.next | 0}; return done + ${k + 1}; }`);
      if (last) lines.push(`cpu.eip = ${ins.next | 0};`);
      continue;
    }
    names.push(`f${k}`, `i${k}`);
    values.push(ins.exec, ins);
    lines.push(`cpu.eip = ${ins.next | 0};`);
    lines.push(`f${k}(cpu, i${k});`);
    if (!last) lines.push(`if (cpu.eip !== ${ins.next | 0} || cpu.breakLoop) return done + ${k + 1};`);
  }
  lines.push(`return done + ${n};`);
  lines.push('}');
  lines.push('} catch (e) { cpu.jitIndex = k; cpu.jitDone = done; throw e; }');
  const body = `return function block(cpu, room) {\n${lines.join('\n')}\n};`;
  // The same code (same addresses, same instructions) in another run or another CPU of this
  // process reuses the factory, and with it V8's optimized code and type feedback.
  const key = `${names.join(',')}\n${body}`;
  let factory = factories.get(key);
  if (factory === undefined) {
    if (factories.size >= MAX_FACTORIES) factories.clear();
    factory = new Function(...names, body) as (...a: unknown[]) => CompiledBlock;
    factories.set(key, factory);
  }
  return factory(...values);
}
