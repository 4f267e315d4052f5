/**
 * A fast-check generator of guest C kernel modules for the stack checkers
 * (`--stack precise|cpl1|ftrace`), with the ground truth of every
 * uninitialized stack read.
 *
 * A generated module is a call tree of 1-5 functions f0..fn (fi calls only
 * fj with j > i, plus optional self-recursion bounded by a control
 * parameter), each with a frame of random size: an accumulator, 0-4 int
 * locals and 0-2 int arrays of 1-12 elements. Their bodies write and read
 * locals in random orders: plain writes, conditional writes (`if (p0 > K)`,
 * where p0 is the control parameter whose value the generator knows at
 * every call), reads into the accumulator, values passed to calls
 * (arguments) and returned, stores into and loads from heap objects
 * (kmalloc/kzalloc'd in init_module, globals). init_module calls f0 and
 * prints the result; with `prime` (random unless GenOptions says) it first
 * calls prime(), whose 64-int frame is fully written and then dies, so
 * the stack below has been a returned frame before f0 runs (what ftrace's
 * poisoning needs to have poisoned something).
 *
 * API: genStackModule(opts) → StackModule {source, truth, suppressed, lost,
 * uninitArgs, program, lines}; truth(program, lines) recomputes it;
 * garbageFlow(program, lines) says where dead-stack garbage flows (whether
 * init_module prints some, every call passing some: for ftrace's soundness
 * and transparency properties); compileStackModule(source, {opt, flags})
 * compiles (cached), compileStackModuleWithUsage(source, {ftrace}) also
 * returns the -fstack-usage text (ftrace's frame sizes); ModeRunner /
 * ModeRun are the per-mode runner shape property-tests/stack.test.ts uses.
 *
 * Every function takes 1-3 int parameters: p0 is the control value (always
 * a constant, or p0 - 1 for recursion: known), p1/p2 carry data (possibly
 * uninitialized values). At most three parameters, so with -mregparm=3
 * every argument travels in a register: the read of an uninitialized local
 * passed as an argument is a load in the caller (a stack argument would be
 * a shadow copy, reported in the callee instead).
 *
 * The modules are compiled at -O0, so every local lives in its own stack
 * slot and every use of a local in the source is a load from that slot at
 * that line (at -O2 gcc keeps values in registers and folds reads of
 * uninitialized locals away: the truth would be the compiler's, not the
 * source's). The generator keeps at most one read of a possibly
 * uninitialized local per source line, so a line stands for one EIP.
 *
 * The truth (`truth()`) follows kmemcheck's rules as the precise oracle
 * applies them: a local's slot is uninitialized at function entry (the
 * frame was dead); a write initializes it; a read of an uninitialized slot
 * is a finding at that line, and marks the slot initialized (so the next
 * read is silent); an error from the same EIP as the previous error is
 * dropped (ErrorQueue: a recursion or a repeated call reading the same
 * uninitialized local twice in a row reports once); at most 64 errors are
 * kept, the rest are lost.
 *
 * `uninitArgs` lists, for the ftrace strategy, every call whose data
 * argument is a raw uninitialized value (bytes of a dead stack slot that
 * nobody wrote: an unwritten local, or such a value passed on through a
 * parameter or a return), whether or not the precise oracle reported its
 * read (a reported read marks the shadow initialized, not the value).
 */
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FTRACE_CFLAGS, MODULE_CFLAGS, moduleCompileCommand } from '../src/cli/compile.js';
import type { Finding } from '../src/shadow/report.js';

// ---- the program model ---------------------------------------------------------------

/** A stack slot: local `local` (a scalar when `index` is null, else an array element). */
export interface Slot {
  local: number;
  index: number | null;
}

export interface LocalDecl {
  /** 0 for a scalar, else an array length. */
  length: number;
}

/** A data value: a constant, a parameter (1 or 2) or a local's slot (a read). */
export type Value = { t: 'const'; v: number } | { t: 'param'; i: number } | { t: 'slot'; slot: Slot };

export type Stmt =
  | { t: 'write'; slot: Slot; value: Exclude<Value, { t: 'slot' }> }
  /** `if (p0 > k) slot = v;` */
  | { t: 'cwrite'; slot: Slot; k: number; v: number }
  /** `acc = acc * 31 + slot;` */
  | { t: 'read'; slot: Slot }
  /** `[into =|acc = acc * 31 +] fN(ctl, arg, ...)`: arg may read a slot. */
  | { t: 'call'; callee: number; ctl: number; arg: Value; into: Slot | null }
  /** `if (p0 > 0) acc = acc * 31 + self(p0 - 1, arg, ...)`. */
  | { t: 'rec'; arg: Value }
  /** `hN[idx] = slot;` */
  | { t: 'hstore'; heap: number; idx: number; slot: Slot }
  /** `slot = hN[idx];` */
  | { t: 'hload'; heap: number; idx: number; slot: Slot };

export interface GenFunction {
  /** 1-3: p0 (control), p1, p2 (data). */
  params: number;
  locals: LocalDecl[];
  body: Stmt[];
  /** `return acc;`, `return p1;` or `return slot;` (a read). */
  ret: { t: 'acc' } | { t: 'param'; i: number } | { t: 'slot'; slot: Slot };
}

export interface HeapObject {
  /** Ints. */
  length: number;
  zeroed: boolean;
}

export interface StackProgram {
  functions: GenFunction[];
  heap: HeapObject[];
  /** The control value init_module passes to f0. */
  ctl: number;
  /**
   * init_module first calls prime(), whose 64-int frame is written in full
   * and then dies: the stack below init_module has been a (returned) frame
   * before f0 runs (for ftrace, whose poison fills returned frames). No
   * finding: prime() reads only what it wrote.
   */
  prime: boolean;
}

export interface GenOptions {
  /** Call prime() first (default: random). */
  prime?: boolean;
  /** At most this many functions f0..fn (1-5, default 5). */
  maxFunctions?: number;
}

/**
 * How a raw uninitialized value was made: `local`, an unwritten local (maybe
 * passed on through parameters since); `return`, an unwritten local a callee
 * returned; `heap`, a never-written element of a kmalloc'd object.
 */
export type UninitOrigin = 'local' | 'return' | 'heap';

export interface UninitArg {
  /** Caller and callee function names, the call's source line. */
  caller: string;
  callee: string;
  line: number;
  /** The parameter receiving it (1: p1, in EDX). */
  param: number;
  origin: UninitOrigin;
  /** The precise oracle reported the read at this call (false: silent, the slot had been reported before, or a parameter/return). */
  reported: boolean;
}

export interface TruthFinding {
  function: string;
  line: number;
}

export interface StackTruth {
  /** The findings kept in the queue, in program order. */
  findings: TruthFinding[];
  /** Errors dropped for having the previous error's EIP. */
  suppressed: number;
  /** Errors that did not fit in the 64-record queue. */
  lost: number;
  /** Calls receiving a raw uninitialized value (for ftrace). */
  uninitArgs: UninitArg[];
  /** Function invocations. */
  calls: number;
}

export interface StackModule {
  program: StackProgram;
  /** The C source. */
  source: string;
  /** The file name its findings' `file` ends with (gen.c). */
  name: string;
  /** The ground truth (what `precise` must find). */
  truth: TruthFinding[];
  suppressed: number;
  lost: number;
  uninitArgs: UninitArg[];
  /** Source line of every statement: lines[f][s], and of each function's return. */
  lines: { body: number[][]; ret: number[] };
}

export const fnName = (i: number): string => `f${i}`;
const localName = (f: GenFunction, l: number): string => `${f.locals[l]!.length === 0 ? 'l' : 'a'}${l}`;
const slotExpr = (f: GenFunction, s: Slot): string => (s.index === null ? localName(f, s.local) : `${localName(f, s.local)}[${s.index}]`);

// ---- the generator --------------------------------------------------------------------

interface RawStmt { t: number; a: number; b: number; c: number; d: number }
interface RawFunction { params: number; scalars: number; arrays: number[]; body: RawStmt[]; ret: number; retSlot: number }
interface RawProgram { fns: RawFunction[]; heap: HeapObject[]; ctl: number; prime: boolean }

const rawStmt: fc.Arbitrary<RawStmt> = fc.record({ t: fc.nat(99), a: fc.nat(1000), b: fc.nat(1000), c: fc.nat(1000), d: fc.nat(1000) });
const rawFunction: fc.Arbitrary<RawFunction> = fc.record({
  params: fc.integer({ min: 1, max: 3 }),
  scalars: fc.integer({ min: 0, max: 4 }),
  arrays: fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 2 }),
  body: fc.array(rawStmt, { minLength: 1, maxLength: 10 }),
  ret: fc.nat(9),
  retSlot: fc.nat(1000),
});
const rawProgram = (o: GenOptions): fc.Arbitrary<RawProgram> =>
  fc.record({
    fns: fc.array(rawFunction, { minLength: 1, maxLength: Math.max(1, Math.min(5, o.maxFunctions ?? 5)) }),
    heap: fc.array(fc.record({ length: fc.integer({ min: 1, max: 8 }), zeroed: fc.boolean() }), { maxLength: 2 }),
    ctl: fc.integer({ min: 0, max: 3 }),
    prime: o.prime === undefined ? fc.boolean() : fc.constant(o.prime),
  });

/** Turn raw choices into a valid program (every choice maps to something meaningful). */
export function resolveProgram(raw: RawProgram): StackProgram {
  const n = raw.fns.length;
  const functions: GenFunction[] = raw.fns.map((rf, fi) => {
    const locals: LocalDecl[] = [...Array.from({ length: rf.scalars }, () => ({ length: 0 })), ...rf.arrays.map((length) => ({ length }))];
    const slotOf = (x: number): Slot | null => {
      if (locals.length === 0) return null;
      const l = x % locals.length;
      const len = locals[l]!.length;
      return { local: l, index: len === 0 ? null : Math.floor(x / locals.length) % len };
    };
    const dataValue = (x: number, y: number): Value => {
      const s = slotOf(y);
      const k = x % 4;
      if (k <= 1 && s) return { t: 'slot', slot: s };
      if (k === 2 && rf.params > 1) return { t: 'param', i: 1 + (y % (rf.params - 1)) };
      return { t: 'const', v: (y % 97) + 1 };
    };
    const body: Stmt[] = [];
    let calls = 0;
    for (const r of rf.body) {
      const s = slotOf(r.a);
      const t = r.t;
      if (t < 18 && s) {
        const k = r.c % 3;
        const value: Exclude<Value, { t: 'slot' }> = k === 0 && rf.params > 1 ? { t: 'param', i: 1 + (r.d % (rf.params - 1)) } : { t: 'const', v: (r.d % 1000) + 1 };
        body.push({ t: 'write', slot: s, value });
      } else if (t < 30 && s) {
        body.push({ t: 'cwrite', slot: s, k: r.c % 4, v: (r.d % 1000) + 1 });
      } else if (t < 55 && s) {
        body.push({ t: 'read', slot: s });
      } else if (t < 75 && fi + 1 < n && calls < 3) {
        calls++;
        const callee = fi + 1 + (r.b % (n - fi - 1));
        const into = r.c % 3 === 0 ? slotOf(r.d) : null;
        body.push({ t: 'call', callee, ctl: r.c % 4, arg: dataValue(r.a, r.d), into });
      } else if (t < 82 && calls < 3) {
        calls++;
        body.push({ t: 'rec', arg: dataValue(r.a, r.d) });
      } else if (t < 91 && s && raw.heap.length > 0) {
        const h = r.b % raw.heap.length;
        body.push({ t: 'hstore', heap: h, idx: r.c % raw.heap[h]!.length, slot: s });
      } else if (s && raw.heap.length > 0) {
        const h = r.b % raw.heap.length;
        body.push({ t: 'hload', heap: h, idx: r.c % raw.heap[h]!.length, slot: s });
      } else if (s) {
        body.push({ t: 'read', slot: s });
      }
    }
    const rs = slotOf(rf.retSlot);
    const ret: GenFunction['ret'] = rf.ret < 4 && rs ? { t: 'slot', slot: rs } : rf.ret < 6 && rf.params > 1 ? { t: 'param', i: 1 + (rf.retSlot % (rf.params - 1)) } : { t: 'acc' };
    return { params: rf.params, locals, body, ret };
  });
  // Every function is reached: one not called from an earlier function gets a call from one of them.
  for (let i = 1; i < n; i++) {
    if (functions.slice(0, i).some((f) => f.body.some((st) => st.t === 'call' && st.callee === i))) continue;
    const rf = raw.fns[i]!;
    const caller = functions[rf.retSlot % i]!;
    const at = rf.ret % (caller.body.length + 1);
    caller.body.splice(at, 0, { t: 'call', callee: i, ctl: rf.retSlot % 4, arg: { t: 'const', v: i }, into: null });
  }
  return { functions, heap: raw.heap, ctl: raw.ctl, prime: raw.prime };
}

// ---- the C source ---------------------------------------------------------------------

export function emitSource(p: StackProgram): { source: string; lines: StackModule['lines'] } {
  const L: string[] = [
    '/* Generated by property-tests/stack-gen.ts: compiled at -O0 (every local in its own stack slot). */',
    '#include <kmemsim/kernel.h>',
    '',
  ];
  for (let h = 0; h < p.heap.length; h++) L.push(`static int *h${h};`);
  const proto = (f: GenFunction, i: number) =>
    `static __attribute__((noinline)) int ${fnName(i)}(${Array.from({ length: f.params }, (_, k) => `int p${k}`).join(', ')})`;
  p.functions.forEach((f, i) => L.push(`${proto(f, i)};`));
  L.push('');
  if (p.prime) {
    L.push(
      'static __attribute__((noinline)) int prime(void)', '{', '\tvolatile int pad[64];', '\tint i;', '',
      '\tfor (i = 0; i < 64; i++)', '\t\tpad[i] = i;', '\treturn pad[7];', '}', '',
    );
  }
  const body: number[][] = [];
  const ret: number[] = [];
  const value = (f: GenFunction, v: Value): string => (v.t === 'const' ? String(v.v) : v.t === 'param' ? `p${v.i}` : slotExpr(f, v.slot));
  const args = (callee: GenFunction, ctl: string, arg: Value, f: GenFunction): string => {
    const a = [ctl];
    if (callee.params > 1) a.push(value(f, arg));
    if (callee.params > 2) a.push(f.params > 1 ? 'p1' : '3');
    return a.join(', ');
  };
  p.functions.forEach((f, i) => {
    const lines: number[] = [];
    L.push(proto(f, i), '{', '\tint acc = 0;');
    f.locals.forEach((d, l) => L.push(d.length === 0 ? `\tint ${localName(f, l)};` : `\tint ${localName(f, l)}[${d.length}];`));
    L.push('');
    for (const s of f.body) {
      switch (s.t) {
        case 'write':
          L.push(`\t${slotExpr(f, s.slot)} = ${value(f, s.value)};`);
          lines.push(L.length);
          break;
        case 'cwrite':
          L.push(`\tif (p0 > ${s.k})`);
          L.push(`\t\t${slotExpr(f, s.slot)} = ${s.v};`);
          lines.push(L.length);
          break;
        case 'read':
          L.push(`\tacc = acc * 31 + ${slotExpr(f, s.slot)};`);
          lines.push(L.length);
          break;
        case 'call': {
          const call = `${fnName(s.callee)}(${args(p.functions[s.callee]!, String(s.ctl), s.arg, f)})`;
          L.push(s.into ? `\t${slotExpr(f, s.into)} = ${call};` : `\tacc = acc * 31 + ${call};`);
          lines.push(L.length);
          break;
        }
        case 'rec':
          L.push('\tif (p0 > 0)');
          L.push(`\t\tacc = acc * 31 + ${fnName(i)}(${args(f, 'p0 - 1', s.arg, f)});`);
          lines.push(L.length);
          break;
        case 'hstore':
          L.push(`\th${s.heap}[${s.idx}] = ${slotExpr(f, s.slot)};`);
          lines.push(L.length);
          break;
        case 'hload':
          L.push(`\t${slotExpr(f, s.slot)} = h${s.heap}[${s.idx}];`);
          lines.push(L.length);
          break;
      }
    }
    L.push(`\treturn ${f.ret.t === 'acc' ? 'acc' : f.ret.t === 'param' ? `p${f.ret.i}` : slotExpr(f, f.ret.slot)};`);
    ret.push(L.length);
    L.push('}', '');
    body.push(lines);
  });
  L.push('int init_module(void)', '{', '\tint r;', '');
  p.heap.forEach((h, i) => {
    L.push(`\th${i} = ${h.zeroed ? 'kzalloc' : 'kmalloc'}(${4 * h.length}, GFP_KERNEL);`);
    L.push(`\tif (!h${i})`, '\t\treturn -ENOMEM;');
  });
  const f0 = p.functions[0]!;
  if (p.prime) L.push('\tr = prime();');
  L.push(`\tr = f0(${[String(p.ctl), '5', '7'].slice(0, f0.params).join(', ')});`);
  L.push('\tprintk(KERN_INFO "r %d\\n", r);');
  p.heap.forEach((_, i) => L.push(`\tkfree(h${i});`));
  L.push('\treturn 0;', '}', '');
  return { source: L.join('\n'), lines: { body, ret } };
}

// ---- the ground truth -----------------------------------------------------------------

/** The queue size of kmemcheck's error queue (errors.ts QUEUE_SIZE). */
const QUEUE = 64;

/** A value's provenance: null when it was computed or written (not raw dead-stack bytes). */
type Raw = UninitOrigin | null;

/**
 * Interpret the program as the precise oracle sees it (see the file
 * comment). `maxCalls`: give up (return null) past this many invocations.
 */
export function truth(p: StackProgram, lines: StackModule['lines'], maxCalls = 400): StackTruth | null {
  const out: StackTruth = { findings: [], suppressed: 0, lost: 0, uninitArgs: [], calls: 0 };
  let prevLine: number | null = null;
  let prevFn: string | null = null;
  const heapRaw: Raw[][] = p.heap.map((h) => new Array<Raw>(h.length).fill(h.zeroed ? null : 'heap'));
  const error = (fn: string, line: number): void => {
    if (line === prevLine && fn === prevFn) {
      out.suppressed++;
      return;
    }
    prevLine = line;
    prevFn = fn;
    if (out.findings.length >= QUEUE) out.lost++;
    else out.findings.push({ function: fn, line });
  };
  const invoke = (fi: number, ctl: number, params: Raw[]): Raw | undefined => {
    if (++out.calls > maxCalls) return undefined;
    const f = p.functions[fi]!;
    const name = fnName(fi);
    const key = (s: Slot) => `${s.local}:${s.index ?? 0}`;
    const shadowInit = new Set<string>();
    /** Raw provenance of each slot's value: 'local' until written. */
    const raw = new Map<string, Raw>();
    const rawOf = (s: Slot): Raw => (raw.has(key(s)) ? raw.get(key(s))! : 'local');
    const use = (s: Slot, line: number): { raw: Raw; reported: boolean } => {
      const r = rawOf(s);
      if (!shadowInit.has(key(s))) {
        error(name, line);
        shadowInit.add(key(s));
        return { raw: r, reported: true };
      }
      return { raw: r, reported: false };
    };
    const write = (s: Slot, r: Raw): void => {
      shadowInit.add(key(s));
      raw.set(key(s), r);
    };
    const evalArg = (v: Value, line: number): { raw: Raw; reported: boolean } =>
      v.t === 'const' ? { raw: null, reported: false } : v.t === 'param' ? { raw: params[v.i] ?? null, reported: false } : use(v.slot, line);
    const call = (callee: number, c: number, arg: Value, line: number): Raw | undefined => {
      const g = p.functions[callee]!;
      // Arguments are evaluated (and read) whether or not the callee takes them? No: only passed ones are emitted.
      let a: { raw: Raw; reported: boolean } = { raw: null, reported: false };
      if (g.params > 1) a = evalArg(arg, line);
      if (g.params > 1 && a.raw !== null) out.uninitArgs.push({ caller: name, callee: fnName(callee), line, param: 1, origin: a.raw, reported: a.reported });
      const p2: Raw = g.params > 2 && f.params > 1 ? params[1] ?? null : null;
      if (g.params > 2 && p2 !== null) out.uninitArgs.push({ caller: name, callee: fnName(callee), line, param: 2, origin: p2, reported: false });
      return invoke(callee, c, [null, a.raw, p2]);
    };
    f.body.forEach((s, si) => {
      if (out.calls > maxCalls) return;
      const line = lines.body[fi]![si]!;
      switch (s.t) {
        case 'write':
          write(s.slot, s.value.t === 'param' ? params[s.value.i] ?? null : null);
          break;
        case 'cwrite':
          if (ctl > s.k) write(s.slot, null);
          break;
        case 'read':
          use(s.slot, line);
          break;
        case 'call': {
          const r = call(s.callee, s.ctl, s.arg, line);
          if (r === undefined) return;
          if (s.into) write(s.into, r);
          break;
        }
        case 'rec':
          if (ctl > 0) call(fi, ctl - 1, s.arg, line);
          break;
        case 'hstore':
          heapRaw[s.heap]![s.idx] = use(s.slot, line).raw;
          break;
        case 'hload':
          write(s.slot, heapRaw[s.heap]![s.idx]!);
          break;
      }
    });
    const rl = lines.ret[fi]!;
    if (f.ret.t === 'slot') {
      const r = use(f.ret.slot, rl).raw;
      return r === null ? null : r === 'local' ? 'return' : r;
    }
    if (f.ret.t === 'param') return params[f.ret.i] ?? null;
    return null;
  };
  const f0 = p.functions[0]!;
  invoke(0, p.ctl, [null, null, null].slice(0, Math.max(1, f0.params)) as Raw[]);
  if (out.calls > maxCalls) return null;
  return out;
}

/** A call passing a value computed from dead-stack garbage (see garbageFlow). */
export interface TaintedArg {
  caller: string;
  callee: string;
  line: number;
  param: number;
}

export interface GarbageFlow {
  /** init_module prints a value computed from dead-stack garbage (its text depends on what the dead stack held). */
  printsStackGarbage: boolean;
  /**
   * Every call one of whose data arguments depends on dead-stack garbage:
   * a raw uninitialized value (each `uninitArgs` entry of origin local or
   * return is here) or one computed from it (`acc = acc * 31 + l0` and
   * `return acc`: with acc 0 the garbage passes unchanged).
   */
  taintedArgs: TaintedArg[];
}

/**
 * Where dead-stack garbage flows, whatever the shadow says: a slot not
 * written in the current invocation holds garbage, and so does anything
 * computed from it (acc, returns, parameters, heap elements it is stored
 * into). Heap garbage (a kmalloc'd object's unwritten elements) is not
 * stack garbage: no stack strategy changes it. Null past `maxCalls`
 * invocations.
 */
export function garbageFlow(p: StackProgram, lines: StackModule['lines'], maxCalls = MAX_CALLS): GarbageFlow | null {
  const out: GarbageFlow = { printsStackGarbage: false, taintedArgs: [] };
  let calls = 0;
  const heap: boolean[][] = p.heap.map((h) => new Array<boolean>(h.length).fill(false));
  const invoke = (fi: number, ctl: number, params: boolean[]): boolean | undefined => {
    if (++calls > maxCalls) return undefined;
    const f = p.functions[fi]!;
    const name = fnName(fi);
    const key = (s: Slot) => `${s.local}:${s.index ?? 0}`;
    const slots = new Map<string, boolean>();
    const get = (s: Slot): boolean => slots.get(key(s)) ?? true;
    let acc = false;
    const val = (v: Value): boolean => (v.t === 'const' ? false : v.t === 'param' ? params[v.i] ?? false : get(v.slot));
    const call = (callee: number, c: number, arg: Value, line: number): boolean | undefined => {
      const g = p.functions[callee]!;
      const a1 = g.params > 1 ? val(arg) : false;
      const a2 = g.params > 2 && f.params > 1 ? params[1] ?? false : false;
      if (a1) out.taintedArgs.push({ caller: name, callee: fnName(callee), line, param: 1 });
      if (a2) out.taintedArgs.push({ caller: name, callee: fnName(callee), line, param: 2 });
      return invoke(callee, c, [false, a1, a2]);
    };
    for (let si = 0; si < f.body.length; si++) {
      const s = f.body[si]!;
      const line = lines.body[fi]![si]!;
      switch (s.t) {
        case 'write':
          slots.set(key(s.slot), val(s.value));
          break;
        case 'cwrite':
          if (ctl > s.k) slots.set(key(s.slot), false);
          break;
        case 'read':
          acc ||= get(s.slot);
          break;
        case 'call': {
          const r = call(s.callee, s.ctl, s.arg, line);
          if (r === undefined) return undefined;
          if (s.into) slots.set(key(s.into), r);
          else acc ||= r;
          break;
        }
        case 'rec':
          if (ctl > 0) {
            const r = call(fi, ctl - 1, s.arg, line);
            if (r === undefined) return undefined;
            acc ||= r;
          }
          break;
        case 'hstore':
          heap[s.heap]![s.idx] = get(s.slot);
          break;
        case 'hload':
          slots.set(key(s.slot), heap[s.heap]![s.idx]!);
          break;
      }
    }
    return f.ret.t === 'acc' ? acc : f.ret.t === 'param' ? params[f.ret.i] ?? false : get(f.ret.slot);
  };
  const r = invoke(0, p.ctl, [false, false, false]);
  if (r === undefined) return null;
  out.printsStackGarbage = r;
  return out;
}

/** Programs with at most this many invocations (recursion and fan-out are bounded by filtering). */
export const MAX_CALLS = 300;

/** The arbitrary: a module, its source and its ground truth. */
export function genStackModule(opts: GenOptions = {}): fc.Arbitrary<StackModule> {
  return rawProgram(opts)
    .map((raw) => {
      const program = resolveProgram(raw);
      const { source, lines } = emitSource(program);
      return { program, source, lines, t: truth(program, lines, MAX_CALLS) };
    })
    .filter((m) => m.t !== null)
    .map(({ program, source, lines, t }) => ({
      program, source, lines, name: 'gen.c',
      truth: t!.findings, suppressed: t!.suppressed, lost: t!.lost, uninitArgs: t!.uninitArgs,
    }));
}

// ---- compiling (cached by source hash) ---------------------------------------------------

/** The optimization level the truth holds for. */
export const STACK_GEN_OPT = '-O0';
const CACHE = join(tmpdir(), 'kmemsim-stack-prop-cache');

export interface CompileStackOptions {
  /** Optimization level (default -O0: the truth holds only there). */
  opt?: string;
  /** More gcc flags (ftrace: -pg -mfentry, -fstack-usage is not kept). */
  flags?: readonly string[];
  /** The source file's name (findings' `file` ends with it; default gen.c). */
  name?: string;
}

/** Compile generated C with the module flags (and `opts`), cached in os.tmpdir() by hash. */
export function compileStackModule(source: string, opts: CompileStackOptions = {}): Uint8Array {
  const opt = opts.opt ?? STACK_GEN_OPT;
  const flags = opts.flags ?? [];
  const name = opts.name ?? 'gen.c';
  const hash = createHash('sha256').update(MODULE_CFLAGS.join(' ')).update(opt).update('\0').update(flags.join(' ')).update('\0').update(name).update(source).digest('hex').slice(0, 32);
  mkdirSync(CACHE, { recursive: true });
  const file = join(CACHE, `${hash}.o`);
  if (existsSync(file)) return new Uint8Array(readFileSync(file));
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-stackgen-'));
  try {
    const c = join(dir, name);
    writeFileSync(c, source);
    const out = join(dir, 'gen.o');
    const cmd = moduleCompileCommand(c, out);
    cmd.splice(cmd.indexOf('-c'), 0, opt, ...flags);
    const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed:\n${r.stderr}\n${source}`);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, readFileSync(out));
    renameSync(tmp, file);
    return new Uint8Array(readFileSync(file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface CompiledStackModule {
  object: Uint8Array;
  /** gcc's -fstack-usage output (the `.su` text; src/ftrace/stack-usage.ts), '' when none. */
  stackUsage: string;
}

/**
 * Compile generated C with the module flags, `opts`, and -fstack-usage, as
 * `kmemsim run --stack ftrace` does (compileModule(..., {ftrace: true}) →
 * CompileResult.stackUsage); `ftrace` adds `-pg -mfentry`. Cached in
 * os.tmpdir() by hash (the object and its `.su`).
 */
export function compileStackModuleWithUsage(source: string, opts: CompileStackOptions & { ftrace?: boolean } = {}): CompiledStackModule {
  const opt = opts.opt ?? STACK_GEN_OPT;
  const flags = [...(opts.ftrace ? FTRACE_CFLAGS : []), ...(opts.flags ?? [])];
  const name = opts.name ?? 'gen.c';
  const hash = createHash('sha256').update('su\0').update(MODULE_CFLAGS.join(' ')).update(opt).update('\0').update(flags.join(' ')).update('\0').update(name).update(source).digest('hex').slice(0, 32);
  mkdirSync(CACHE, { recursive: true });
  const file = join(CACHE, `${hash}.o`);
  const suFile = join(CACHE, `${hash}.su`);
  if (existsSync(file) && existsSync(suFile)) return { object: new Uint8Array(readFileSync(file)), stackUsage: readFileSync(suFile, 'utf8') };
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-stackgen-'));
  try {
    const c = join(dir, name);
    writeFileSync(c, source);
    const out = join(dir, 'gen.o');
    const cmd = moduleCompileCommand(c, out, undefined, { stackUsage: true });
    cmd.splice(cmd.indexOf('-c'), 0, opt, ...flags);
    const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed:\n${r.stderr}\n${source}`);
    const su = join(dir, 'gen.su');
    const stackUsage = existsSync(su) ? readFileSync(su, 'utf8') : '';
    const tmpSu = `${suFile}.${process.pid}.tmp`;
    writeFileSync(tmpSu, stackUsage);
    renameSync(tmpSu, suFile);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, readFileSync(out));
    renameSync(tmp, file);
    return { object: new Uint8Array(readFileSync(file)), stackUsage };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- running a mode ------------------------------------------------------------------------

/** The stack strategies a property can run. */
export type StackMode = 'precise' | 'cpl1' | 'ftrace';

/** What a property compares: findings and the architectural results. */
export interface ModeRun {
  /** A digest of machine state after the run (e.g. the tracked stack's bytes and the registers), when the mode can give one. */
  machine?: string;
  findings: Finding[];
  console: string;
  initReturn: number | undefined;
  exitCode: number;
  stopKind: string | null;
  /** What the runner threw or reported as `error` (null when fine). */
  error: unknown;
  /** Mode-specific counters (steps, faults, kills, ...). */
  stats?: Record<string, number>;
}

/** Run one compiled module under a mode. `runtime`: the guest runtime object. */
export type ModeRunner = (object: Uint8Array, opts: { name: string; runtime: Uint8Array | null }) => ModeRun;

/** The (function, line) pairs of findings, for comparing with the truth. */
export function findingSites(findings: readonly Finding[]): TruthFinding[] {
  return findings.map((f) => ({ function: f.function ?? '?', line: f.line ?? -1 }));
}
