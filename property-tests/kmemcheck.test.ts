/**
 * The inline checker and the fault-driven kmemcheck engine agree, and both
 * agree with a ground truth, on random small kernel modules.
 *
 * Each generated module kmalloc()s or kzalloc()s 1-3 objects of random
 * sizes (4-40 bytes), prints their addresses, then runs a random sequence
 * of `volatile` 1/2/4-byte writes and reads of random fields, memcpy()s
 * between objects (the runtime's REP MOVSL/MOVSB, which carry the shadow),
 * and kfree()s followed by further reads of the freed object; it prints a
 * checksum of everything read and frees what is left. Every module is
 * compiled with gcc through src/cli/compile.ts (objects cached by source
 * hash in os.tmpdir()) and run three times: without a checker, with
 * kmemcheck and with the inline checker (src/harness/heap-runs.ts: both
 * are runChecked() with one heap checker). Properties:
 *
 * (a) both checkers report exactly the same findings (every field of the
 *     JSON finding but `checker`: kind, access, size, address, eip,
 *     function, offset, backtrace);
 * (b) the findings are the generator's ground truth: a byte-level model of
 *     the shadow (kmalloc → uninitialized, kzalloc → initialized, write →
 *     initialized, memcpy → states copied, kfree → freed; a read with no
 *     initialized byte is a finding of the first byte's state and then
 *     initializes its bytes — the partial-ok rule), in program order, with
 *     the address computed from the printed object addresses; (a) and
 *     (b) are checked a second time with `partialOk: false` (a read is a
 *     finding when any of its bytes is not initialized), and a third time
 *     with `checkWrites` (`--kmemcheck-writes`): writes into freed objects
 *     (the generator makes some) are findings of kind "freed", access
 *     "write", in the model too;
 * (c) a checked run's console output, init_module return and exit status
 *     equal the unchecked run's.
 *
 * KMEMSIM_KMEMCHECK_RUNS sets the number of modules (default 25);
 * KMEMSIM_KMEMCHECK_TIME_MS the time after which generation stops
 * (default 30000; the runs done so far must all have passed).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileModule, MODULE_CFLAGS } from '../src/cli/compile.js';
import { runModuleWithInlineChecker, runModuleWithKmemcheck } from '../src/harness/heap-runs.js';
import { hasGcc, runtimeObject } from '../test/module/helpers.js';

const RUNS = Math.max(1, Number(process.env['KMEMSIM_KMEMCHECK_RUNS'] ?? 25) | 0);
const TIME_MS = Math.max(1000, Number(process.env['KMEMSIM_KMEMCHECK_TIME_MS'] ?? 30_000) | 0);
const CACHE = join(tmpdir(), 'kmemsim-kmemcheck-prop-cache');

if (!hasGcc) console.log('property-tests/kmemcheck.test.ts: gcc not found: the generated C modules cannot be compiled; skipped');

// ---- the generated program --------------------------------------------------------

interface Obj { size: number; zeroed: boolean }
type Sz = 1 | 2 | 4;
interface RawOp { t: 'w' | 'r' | 'c' | 'f'; a: number; b: number; c: number; d: number; sz: Sz }
interface Program { objs: Obj[]; ops: RawOp[] }

/** A resolved operation (always valid for the program's state at that point). */
type Op =
  | { t: 'w'; o: number; off: number; sz: Sz; value: number }
  | { t: 'r'; o: number; off: number; sz: Sz }
  | { t: 'c'; dst: number; dOff: number; src: number; sOff: number; n: number }
  | { t: 'f'; o: number };

const arbProgram: fc.Arbitrary<Program> = fc.record({
  objs: fc.array(fc.record({ size: fc.integer({ min: 4, max: 40 }), zeroed: fc.boolean() }), { minLength: 1, maxLength: 3 }),
  ops: fc.array(
    fc.record({
      t: fc.constantFrom('w' as const, 'r' as const, 'r' as const, 'c' as const, 'f' as const),
      a: fc.nat(1000), b: fc.nat(1000), c: fc.nat(1000), d: fc.nat(1000),
      sz: fc.constantFrom(1 as const, 2 as const, 4 as const),
    }),
    { minLength: 1, maxLength: 12 },
  ),
});

/**
 * Turn raw choices into valid operations: nothing is copied into a freed
 * object, nothing is freed twice; a write may land in a freed object (a
 * use after free the shadow sees; `--kmemcheck-writes` reports it, and the
 * slab keeps no metadata in guest memory, so it changes nothing else).
 */
function resolve(p: Program): Op[] {
  const n = p.objs.length;
  const freed = new Array<boolean>(n).fill(false);
  const ops: Op[] = [];
  p.ops.forEach((r, i) => {
    const o = r.a % n;
    const size = p.objs[o]!.size;
    const off = r.b % (size - r.sz + 1);
    const read: Op = { t: 'r', o, off, sz: r.sz };
    if (r.t === 'w') {
      ops.push({ t: 'w', o, off, sz: r.sz, value: (Math.imul(i + 1, 0x1f3d5b79) & (r.sz === 4 ? -1 : (1 << (8 * r.sz)) - 1)) >>> 0 });
    } else if (r.t === 'r') {
      ops.push(read);
    } else if (r.t === 'f') {
      if (freed[o]) ops.push(read);
      else {
        freed[o] = true;
        ops.push({ t: 'f', o });
      }
    } else {
      if (n < 2 || freed[o]) {
        ops.push(read);
        return;
      }
      const src = (o + 1 + (r.c % (n - 1))) % n;
      const max = Math.min(size, p.objs[src]!.size);
      const len = 1 + (r.d % max);
      ops.push({ t: 'c', dst: o, dOff: r.b % (size - len + 1), src, sOff: r.c % (p.objs[src]!.size - len + 1), n: len });
    }
  });
  return ops;
}

const CTYPE: Record<Sz, string> = { 1: 'unsigned char', 2: 'unsigned short', 4: 'unsigned int' };

function source(p: Program, ops: Op[]): string {
  const n = p.objs.length;
  const L: string[] = ['#include <kmemsim/kernel.h>', '', 'int init_module(void)', '{'];
  for (let i = 0; i < n; i++) L.push(`\tunsigned char *o${i};`);
  L.push('\tunsigned int acc = 0;', '');
  for (let i = 0; i < n; i++) {
    const o = p.objs[i]!;
    L.push(`\to${i} = ${o.zeroed ? 'kzalloc' : 'kmalloc'}(${o.size}, GFP_KERNEL);`);
    L.push(`\tif (!o${i})`, '\t\treturn -ENOMEM;');
    L.push(`\tprintk(KERN_INFO "o${i} %x\\n", (unsigned int)o${i});`);
  }
  const freed = new Array<boolean>(n).fill(false);
  for (const op of ops) {
    switch (op.t) {
      case 'w':
        L.push(`\t*(volatile ${CTYPE[op.sz]} *)(o${op.o} + ${op.off}) = 0x${op.value.toString(16)}u;`);
        break;
      case 'r':
        L.push(`\tacc = acc * 31 + *(volatile ${CTYPE[op.sz]} *)(o${op.o} + ${op.off});`);
        break;
      case 'c':
        L.push(`\tmemcpy(o${op.dst} + ${op.dOff}, o${op.src} + ${op.sOff}, ${op.n});`);
        break;
      case 'f':
        L.push(`\tkfree(o${op.o});`);
        freed[op.o] = true;
        break;
    }
  }
  L.push(`\tprintk(KERN_INFO "acc %x\\n", acc);`);
  for (let i = 0; i < n; i++) if (!freed[i]) L.push(`\tkfree(o${i});`);
  L.push('\treturn 0;', '}', '');
  return L.join('\n');
}

// ---- ground truth -------------------------------------------------------------------

const U = 'uninitialized', I = 'initialized', F = 'freed';
interface Expect { kind: string; size: number; address: number; access?: 'write' }

/**
 * The model's findings in program order. With `checkWrites`
 * (`--kmemcheck-writes`), a write touching a freed byte is a finding of
 * kind "freed" too (access "write"); every write then initializes its
 * bytes; and a copy does not carry "freed" into a live object (the bytes
 * arrive uninitialized).
 */
function groundTruth(p: Program, ops: Op[], bases: number[], partialOk = true, checkWrites = false): Expect[] {
  const sh = p.objs.map((o) => new Array<string>(o.size).fill(o.zeroed ? I : U));
  const out: Expect[] = [];
  for (const op of ops) {
    switch (op.t) {
      case 'w':
        if (checkWrites && sh[op.o]!.slice(op.off, op.off + op.sz).includes(F)) {
          out.push({ kind: F, size: op.sz, address: (bases[op.o]! + op.off) >>> 0, access: 'write' });
        }
        for (let i = 0; i < op.sz; i++) sh[op.o]![op.off + i] = I;
        break;
      case 'r': {
        const bytes = sh[op.o]!.slice(op.off, op.off + op.sz);
        const bad = bytes.filter((b) => b !== I);
        if (partialOk ? bad.length === op.sz : bad.length > 0) {
          out.push({ kind: bad[0]!, size: op.sz, address: (bases[op.o]! + op.off) >>> 0 });
          for (let i = 0; i < op.sz; i++) sh[op.o]![op.off + i] = I;
        }
        break;
      }
      case 'c': {
        // With checkWrites a copied "freed" state arrives as uninitialized (src/shadow/rules.ts copy()).
        const s = sh[op.src]!.slice(op.sOff, op.sOff + op.n);
        for (let i = 0; i < op.n; i++) sh[op.dst]![op.dOff + i] = checkWrites && s[i] === F ? U : s[i]!;
        break;
      }
      case 'f':
        sh[op.o]!.fill(F);
        break;
    }
  }
  return out;
}

// ---- compiling (cached) -------------------------------------------------------------

function compileCached(src: string): Uint8Array {
  const hash = createHash('sha256').update(MODULE_CFLAGS.join(' ')).update('\0').update(src).digest('hex').slice(0, 32);
  mkdirSync(CACHE, { recursive: true });
  const file = join(CACHE, `${hash}.o`);
  if (existsSync(file)) return new Uint8Array(readFileSync(file));
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-prop-'));
  try {
    const c = join(dir, 'gen.c');
    writeFileSync(c, src);
    const obj = compileModule(c).object;
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, obj);
    renameSync(tmp, file);
    return obj;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the property -------------------------------------------------------------------

const strip = <T extends { checker: string }>(f: T): Omit<T, 'checker'> => {
  const { checker: _c, ...rest } = f;
  return rest;
};

describe.skipIf(!hasGcc)('kmemcheck vs inline checker on random modules', () => {
  it(`agree with each other and with the ground truth (${RUNS} modules)`, () => {
    const runtime = runtimeObject();
    const deadline = Date.now() + TIME_MS;
    let modules = 0, withFindings = 0, findings = 0, writeFindings = 0;
    fc.assert(
      fc.property(arbProgram, (p) => {
        const ops = resolve(p);
        const src = source(p, ops);
        const obj = compileCached(src);
        const name = 'gen.c';
        const plain = runModuleWithInlineChecker(obj, { name, runtime, inline: false });
        const fault = runModuleWithKmemcheck(obj, { name, runtime });
        const inl = runModuleWithInlineChecker(obj, { name, runtime });
        for (const r of [plain, fault, inl]) expect(r.error, src).toBeNull();

        // (c) checking changes nothing architectural.
        for (const r of [fault.run!, inl.run!]) {
          expect(r.console, src).toBe(plain.run!.console);
          expect(r.initReturn, src).toBe(plain.run!.initReturn);
          expect(r.exitCode, src).toBe(plain.run!.exitCode);
        }
        expect(plain.run!.exitCode, src).toBe(0);

        // (a) the same findings.
        expect(inl.findings.map(strip), src).toEqual(fault.findings.map(strip));
        expect(inl.summary.lost).toBe(fault.summary.lost);

        // (b) the ground truth.
        const bases = p.objs.map((_, i) => {
          const m = new RegExp(`o${i} ([0-9a-f]+)\\n`).exec(plain.run!.console);
          expect(m, plain.run!.console).not.toBeNull();
          return parseInt(m![1]!, 16);
        });
        const want = groundTruth(p, ops, bases);
        const got = inl.findings.map((f) => ({ kind: f.kind, size: f.size, address: f.address }));
        expect(got, src).toEqual(want);
        expect(inl.findings.every((f) => f.function === 'init_module' && f.access === 'read'), src).toBe(true);

        // (a) and (b) again without the partial-ok rule (every byte of a read must be initialized).
        const strictFault = runModuleWithKmemcheck(obj, { name, runtime, kmemcheck: { partialOk: false } });
        const strictInl = runModuleWithInlineChecker(obj, { name, runtime, inline: { partialOk: false } });
        expect(strictInl.findings.map(strip), src).toEqual(strictFault.findings.map(strip));
        expect(strictInl.findings.map((f) => ({ kind: f.kind, size: f.size, address: f.address })), src).toEqual(groundTruth(p, ops, bases, false));
        // (a) and (b) with --kmemcheck-writes: writes into freed objects are findings as well.
        const wFault = runModuleWithKmemcheck(obj, { name, runtime, kmemcheck: { checkWrites: true } });
        const wInl = runModuleWithInlineChecker(obj, { name, runtime, inline: { checkWrites: true } });
        expect(wInl.findings.map(strip), src).toEqual(wFault.findings.map(strip));
        const asModel = (f: { kind: string; size: number; address: number; access: string }): Expect =>
          (f.access === 'write' ? { kind: f.kind, size: f.size, address: f.address, access: 'write' } : { kind: f.kind, size: f.size, address: f.address });
        expect(wInl.findings.map(asModel), src).toEqual(groundTruth(p, ops, bases, true, true));
        writeFindings += wInl.findings.filter((f) => f.access === 'write').length;
        modules++;
        findings += want.length;
        if (want.length > 0) withFindings++;
      }),
      { numRuns: RUNS, interruptAfterTimeLimit: Math.max(1000, deadline - Date.now()) },
    );
    console.log(`property-tests/kmemcheck.test.ts: ${modules} modules checked, ${withFindings} with findings (${findings} findings; ${writeFindings} writes into freed objects with --kmemcheck-writes)`);
    expect(modules).toBeGreaterThan(0);
  }, TIME_MS + 90_000);
});
