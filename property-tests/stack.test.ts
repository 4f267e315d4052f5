/**
 * Stack checkers on generated modules (property-tests/stack-gen.ts): call
 * trees with frames of random sizes, locals written and read in random
 * orders, conditional writes, values flowing into calls and returns, heap
 * objects — each with the ground truth of every uninitialized stack read.
 * Compiled at -O0 (every local in its own stack slot; see stack-gen.ts).
 *
 * Properties, per module:
 *  - `precise` (src/shadow/stack-precise.ts) finds exactly the truth:
 *    the same (function, file:line) sequence, every finding
 *    `kind: uninitialized`, `region: stack`, `checker: precise`, the same
 *    suppressed and lost counts;
 *  - every mode leaves the architectural results (console, init_module's
 *    return, exit status, stop) identical to a plain run; `precise` also
 *    the kernel stack's bytes (the dead garbage included) and registers;
 *  - with a heap checker in the same run (the inline checker in the same
 *    single-step loop, or the fault-driven kmemcheck), `precise` finds the
 *    same, and the heap checker's findings and console are what they are
 *    without the oracle. (kmemcheck itself is not transparent for programs
 *    that read uninitialized stack: its #PF/#DB frames are pushed into the
 *    dead part of the ring-0 stack and change the garbage they read.)
 *
 *  - `cpl1` (src/rings/stack-tracker.ts, the kernel at CPL 1), run with
 *    runChecked() as `kmemsim run --stack cpl1` does: the same findings as
 *    `precise` run on the same ring-1 layout, compared by reading
 *    instruction (function+offset, file:line: the ring-1 layout loads the
 *    module elsewhere than ring 0), in the same order, and the same
 *    (function, line) sequence as the truth (so as precise at ring 0);
 *    the same lost count; no stop at all — in particular never a #DF or
 *    triple fault (the ring-1 layout takes every #PF/#DB on the ring-0
 *    stack); console, init return, exit status and stop identical to a
 *    plain run with the same layout (`kernelRing: 1`), and to a plain
 *    ring-0 run when nothing printed depends on dead-stack garbage;
 *  - `ftrace` (src/ftrace/poison.ts), on the module compiled with
 *    `-pg -mfentry` and -fstack-usage as `kmemsim run --stack ftrace`
 *    builds it: every finding is `poisoned` at a call (caller, call line,
 *    callee) passing a value derived from dead-stack garbage
 *    (garbageFlow().taintedArgs; a multiset: no more findings at a call
 *    site than such calls); every raw uninitialized stack value (an
 *    unwritten local, passed on through parameters or returned by a
 *    callee: `uninitArgs` of origin local/return) reaching an argument is
 *    found; init return, exit status and stop identical to a plain run of
 *    the same object, and the console too when nothing printed depends on
 *    dead-stack garbage (garbageFlow().printsStackGarbage).
 *
 * Systematic differences (each kept as a regression test in
 * test/regressions/stack-counterexamples.test.ts, modules
 * test/modules/stack-regress-*.c):
 *  - cpl1 against precise: none found (0 differences in 430 modules:
 *    200 through this property with KMEMSIM_STACK_RUNS=200, 3729
 *    findings, and 230 explored by hand);
 *  - the ring-1 layout moves the kernel stack: a program that prints
 *    dead-stack garbage prints other garbage than at ring 0 (often a stale
 *    stack address) — with or without the tracker, which is transparent
 *    on its own layout (stack-regress-ring-garbage.c);
 *  - ftrace fills dead frames with 0xA5A5A5A5: a program that prints
 *    dead-stack garbage prints poison-derived values ("r -1515870811")
 *    instead (stack-regress-garbage.c); of 300 modules, 110 printed no
 *    garbage and all of those printed the same as plain;
 *  - ftrace cannot see uninitialized heap values passed as arguments (a
 *    kmalloc'd element never written is never the poison): 18 of 2221
 *    uninitialized arguments in 300 modules (stack-regress-heap-arg.c);
 *  - ftrace sees garbage that went through arithmetic only while the
 *    arithmetic left it unchanged (acc = 0 * 31 + x, then returned and
 *    passed: a true finding outside `uninitArgs`); once changed
 *    (1 * 31 + x) it is missed (stack-regress-arith.c). In 300 modules:
 *    2 such findings, 13 such calls missed;
 *  - found by this property and fixed: a dead word last written by a
 *    native's CALL (kzalloc(), a traced module function, calling the
 *    native kmalloc) held the return address, not the poison, so a later
 *    frame's unwritten local there was missed; natives' return slots are
 *    now poisoned when they return (src/ftrace/poison.ts,
 *    stack-regress-untraced.c). Before the fix: 7 of 2203 raw
 *    uninitialized stack arguments missed in 300 modules;
 *  - no poison collision is possible in generated modules (clean values
 *    are small constants), so every ftrace finding must be true.
 *  Otherwise init_module's dead stack is poisoned at attach and every dead
 *  frame below it was a traced function's, so recall on raw uninitialized
 *  stack arguments is complete (see the report's numbers).
 *
 * KMEMSIM_STACK_RUNS sets the number of modules (default 40) per test;
 * KMEMSIM_STACK_TIME_MS the time after which generation stops in the
 * precise test (default 30000; the runs done so far must all have
 * passed), KMEMSIM_STACK_CPL1_TIME_MS and KMEMSIM_STACK_FTRACE_TIME_MS
 * those of the cpl1 and ftrace tests (default 12000 each).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { kernelStackBounds, type PreciseStack } from '../src/shadow/stack-precise.js';
import { hasGcc, runtimeObject } from '../test/module/helpers.js';
import { runChecked, type CheckedRunResult } from '../src/harness/checked-run.js';
import { defaultJitTier, setDefaultJitTier, wasmTierSupported } from '../src/cpu/wasm/state.js';
import type { Finding } from '../src/shadow/report.js';
import {
  compileStackModule, compileStackModuleWithUsage, findingSites, garbageFlow, genStackModule,
  type ModeRun, type ModeRunner, type StackMode,
} from './stack-gen.js';

const RUNS = Math.max(1, Number(process.env['KMEMSIM_STACK_RUNS'] ?? 40) | 0);

/** The precise property's shrunk counterexample with the WebAssembly tier as the default (see its test below). */
const WASM_DIGEST_MODULE = `/* Generated by property-tests/stack-gen.ts: compiled at -O0 (every local in its own stack slot). */
#include <kmemsim/kernel.h>

static __attribute__((noinline)) int f0(int p0);

static __attribute__((noinline)) int prime(void)
{
	volatile int pad[64];
	int i;

	for (i = 0; i < 64; i++)
		pad[i] = i;
	return pad[7];
}

static __attribute__((noinline)) int f0(int p0)
{
	int acc = 0;

	if (p0 > 0)
		acc = acc * 31 + f0(p0 - 1);
	return acc;
}

int init_module(void)
{
	int r;

	r = prime();
	r = f0(0);
	printk(KERN_INFO "r %d\\n", r);
	return 0;
}
`;
const TIME_MS = Math.max(1000, Number(process.env['KMEMSIM_STACK_TIME_MS'] ?? 30_000) | 0);
/** cpl1's and ftrace's own time budgets (default 12 s each; KMEMSIM_STACK_RUNS still caps the count). */
const CPL1_TIME_MS = Math.max(1000, Number(process.env['KMEMSIM_STACK_CPL1_TIME_MS'] ?? 12_000) | 0);
const FTRACE_TIME_MS = Math.max(1000, Number(process.env['KMEMSIM_STACK_FTRACE_TIME_MS'] ?? 12_000) | 0);

if (!hasGcc) console.log('property-tests/stack.test.ts: gcc not found: the generated C modules cannot be compiled; skipped');

/**
 * A digest of the ring-0 kernel stack's bytes and the architectural registers (the eight general
 * registers, EIP, EFLAGS) after the run (transparency down to the garbage). Only the registers' own
 * bytes: on the WebAssembly tier `regs` is a view on the WebAssembly memory (src/cpu/wasm/state.ts),
 * whose state area past RAM also holds the tier's private slots and chaining cache, which differ with
 * the blocks compiled and are no part of the machine.
 */
function machineDigest(r: CheckedRunResult): string {
  const k = r.run?.kernel;
  if (!k) return '';
  const b = kernelStackBounds();
  const regs = k.cpu.regs;
  return createHash('sha256').update(k.mem.read(b.low | 0, b.high - b.low))
    .update(new Uint8Array(regs.buffer, regs.byteOffset, regs.byteLength))
    .update(new Uint8Array(Int32Array.of(k.cpu.eip, k.cpu.getEflags()).buffer)).digest('hex');
}

const asModeRun = (r: CheckedRunResult, stats?: Record<string, number>): ModeRun => ({
  machine: machineDigest(r),
  findings: r.findings,
  console: r.run?.console ?? '',
  initReturn: r.run?.initReturn,
  exitCode: r.run?.exitCode ?? -1,
  stopKind: r.run?.stop?.kind ?? null,
  error: r.error,
  stats,
});

/** A run without any checker. */
const plain: ModeRunner = (object, opts) => asModeRun(runChecked(object, opts));

/** The stack modes under test (cpl1 and ftrace join here). */
const MODES: Partial<Record<StackMode, ModeRunner>> = {
  precise: (object, opts) => {
    const r = runChecked(object, { ...opts, stack: 'precise' });
    const st = r.checkers.stack as PreciseStack | null;
    return asModeRun(r, {
      steps: st?.stats.steps ?? 0, kills: st?.kills ?? 0, instructions: st?.stats.instructions ?? 0,
      suppressed: st?.errors.suppressed ?? 0, lost: r.summary.lost,
    });
  },
};

describe.skipIf(!hasGcc)('stack checkers on generated modules', () => {
  it(`precise finds exactly the truth; every mode is architecturally transparent (${RUNS} modules)`, () => {
    const runtime = runtimeObject();
    const deadline = Date.now() + TIME_MS;
    let modules = 0, withFindings = 0, findings = 0, suppressed = 0, args = 0;
    fc.assert(
      fc.property(genStackModule(), (m) => {
        const obj = compileStackModule(m.source);
        const opts = { name: m.name, runtime };
        const base = plain(obj, opts);
        expect(base.error, m.source).toBeNull();
        expect(base.exitCode, m.source).toBe(0);
        for (const [mode, runner] of Object.entries(MODES)) {
          const r = runner!(obj, opts);
          const what = `${mode}\n${m.source}`;
          expect(r.error, what).toBeNull();
          expect(r.console, what).toBe(base.console);
          expect(r.initReturn, what).toBe(base.initReturn);
          expect(r.exitCode, what).toBe(base.exitCode);
          expect(r.stopKind, what).toBe(base.stopKind);
          if (r.machine !== undefined) expect(r.machine, `${what}\n(the kernel stack's bytes or the registers differ)`).toBe(base.machine);
          if (mode === 'precise') {
            expect(findingSites(r.findings), what).toEqual(m.truth);
            expect(r.findings.every((f) => f.kind === 'uninitialized' && f.region === 'stack' && f.checker === 'precise' && f.access === 'read' && f.size === 4 && f.file?.endsWith(m.name)), what).toBe(true);
            expect(r.stats?.['suppressed'], what).toBe(m.suppressed);
            expect(r.stats?.['lost'], what).toBe(m.lost);
          }
        }
        modules++;
        findings += m.truth.length;
        suppressed += m.suppressed;
        args += m.uninitArgs.length;
        if (m.truth.length > 0) withFindings++;
      }),
      { numRuns: RUNS, interruptAfterTimeLimit: Math.max(1000, deadline - Date.now()) },
    );
    console.log(`property-tests/stack.test.ts: ${modules} modules, ${withFindings} with findings (${findings} findings, ${suppressed} suppressed, ${args} uninitialized arguments)`);
    expect(modules).toBeGreaterThan(0);
  }, TIME_MS + 60_000);

  // Found with the WebAssembly tier as the default (the property's shrunk counterexample): the plain run
  // compiled to WebAssembly, the precise run's instrumented blocks stayed on the JavaScript tier, and the
  // digest then hashed the whole WebAssembly memory (the tier's private state area included), not the
  // registers. Pinned here with the plain run on the WebAssembly tier whatever KMEMSIM_JIT says.
  it.skipIf(!wasmTierSupported())("the digest is the machine's: a plain run on the WebAssembly tier digests as precise on the JavaScript tier", () => {
    const obj = compileStackModule(WASM_DIGEST_MODULE);
    const opts = { name: 'gen.c', runtime: runtimeObject() };
    const before = defaultJitTier();
    let r: CheckedRunResult;
    try {
      setDefaultJitTier('wasm');
      r = runChecked(obj, opts);
    } finally {
      setDefaultJitTier(before);
    }
    expect(r.error).toBeNull();
    expect(r.run!.kernel.cpu.wasm?.compiled ?? 0, 'the plain run compiled blocks to WebAssembly').toBeGreaterThan(0);
    const precise = runChecked(obj, { ...opts, stack: 'precise' });
    expect(precise.error).toBeNull();
    expect(precise.run!.console).toBe(r.run!.console);
    expect(machineDigest(precise)).toBe(machineDigest(r));
  });

  it('precise finds the same with a heap checker in the same run (inline or kmemcheck), and changes nothing the heap checker sees', () => {
    const runtime = runtimeObject();
    const deadline = Date.now() + Math.min(TIME_MS / 3, 10_000);
    let modules = 0;
    fc.assert(
      fc.property(genStackModule(), fc.constantFrom('inline' as const, 'kmemcheck' as const), (m, heap) => {
        const obj = compileStackModule(m.source);
        const what = `${heap}\n${m.source}`;
        const stackOf = (r: CheckedRunResult): Finding[] => r.findings.filter((f) => f.region === 'stack');
        const heapOf = (r: CheckedRunResult): Finding[] => r.findings.filter((f) => f.region === 'heap');
        const alone = runChecked(obj, { name: m.name, runtime, stack: 'precise' });
        // The heap checker without the stack oracle. Its console can differ from a plain run's when the
        // program reads uninitialized stack: kmemcheck's #PF/#DB frames land in the dead part of the
        // ring-0 stack, changing the garbage (as on hardware); the inline checker takes no faults.
        const heapOnly = runChecked(obj, { name: m.name, runtime, heap });
        const both = runChecked(obj, { name: m.name, runtime, heap, stack: 'precise' });
        for (const r of [heapOnly, both]) expect(r.error, what).toBeNull();
        expect(both.run!.console, what).toBe(heapOnly.run!.console);
        if (heap === 'inline') expect(both.run!.console, what).toBe(alone.run!.console);
        expect(both.run!.exitCode, what).toBe(heapOnly.run!.exitCode);
        expect(findingSites(stackOf(both)), what).toEqual(m.truth);
        expect(stackOf(both).map((f) => f.eip), what).toEqual(alone.findings.map((f) => f.eip));
        expect(heapOf(both), what).toEqual(heapOf(heapOnly));
        modules++;
      }),
      { numRuns: Math.max(1, RUNS >> 2), interruptAfterTimeLimit: Math.max(1000, deadline - Date.now()) },
    );
    expect(modules).toBeGreaterThan(0);
  }, 60_000);

  it(`cpl1 finds exactly what precise finds, is transparent on its own layout, and never double-faults (${RUNS} modules)`, async () => {
    const runtime = runtimeObject();
    const deadline = Date.now() + CPL1_TIME_MS;
    const n = { modules: 0, findings: 0, faults: 0, emulated: 0, garbageFree: 0 };
    await fc.assert(
      fc.asyncProperty(genStackModule(), async (m) => {
        await turn(); // let vitest's RPC through between modules (long budgets run for minutes)
        const obj = compileStackModule(m.source);
        const opts = { name: m.name, runtime };
        const what = (mode: string) => `${mode}\n${m.source}`;
        const flow = garbageFlow(m.program, m.lines)!;
        // The baseline: the same ring-1 layout without a tracker (its stack sits elsewhere than ring 0's,
        // so a program printing dead-stack garbage prints other garbage than at ring 0).
        const plain1 = runChecked(obj, { ...opts, kernelRing: 1 });
        const cpl1 = runChecked(obj, { ...opts, stack: 'cpl1' });
        const precise1 = runChecked(obj, { ...opts, stack: 'precise', kernelRing: 1 });
        for (const [mode, r] of [['plain (ring 1)', plain1], ['cpl1', cpl1], ['precise (ring 1)', precise1]] as const) {
          expect(r.error, what(mode)).toBeNull();
          // Property 4: the ring-1 layout never double-faults (a #DF ends in a triple-fault or fault stop).
          expect(r.run?.stop ?? null, what(mode)).toBeNull();
          expect(r.explanation, what(mode)).toBeNull();
          expect(r.run?.exitCode, what(mode)).toBe(0);
        }
        expect(archOf(cpl1), what('cpl1 against plain at ring 1')).toEqual(archOf(plain1));
        if (!flow.printsStackGarbage) {
          // Nothing printed depends on the dead stack: the ring makes no difference either.
          const plain0 = runChecked(obj, opts);
          expect(archOf(cpl1), what('cpl1 against plain at ring 0')).toEqual(archOf(plain0));
          n.garbageFree++;
        }
        // Property 1: the same reading instructions (function+offset), in the same order, as the oracle
        // on the same layout; and the same source sites as the truth (hence as precise at ring 0).
        expect(cpl1.findings.map(site), what('cpl1')).toEqual(precise1.findings.map(site));
        expect(findingSites(cpl1.findings), what('cpl1')).toEqual(m.truth);
        expect(cpl1.findings.every((f) => f.kind === 'uninitialized' && f.region === 'stack' && f.checker === 'cpl1' && f.file?.endsWith(m.name)), what('cpl1')).toBe(true);
        expect(cpl1.summary.lost, what('cpl1')).toBe(m.lost);
        expect(cpl1.summary.faults, what('cpl1: the stack was tracked')).toBeGreaterThan(0);
        n.modules++;
        n.findings += cpl1.findings.length;
        n.faults += cpl1.summary.faults;
        n.emulated += cpl1.summary.emulated;
      }),
      { numRuns: RUNS, interruptAfterTimeLimit: Math.max(1000, deadline - Date.now()) },
    );
    console.log(`property-tests/stack.test.ts: cpl1: ${n.modules} modules (${n.garbageFree} printing no dead-stack garbage), ${n.findings} findings, all equal to precise's; ${n.faults} stack faults, ${n.emulated} privileged instructions emulated`);
    expect(n.modules).toBeGreaterThan(0);
  }, CPL1_TIME_MS + 40_000);

  it(`ftrace: every finding is a call passing dead-stack garbage, every raw uninitialized stack value reaching an argument is found where the design promises (${RUNS} modules)`, async () => {
    const runtime = runtimeObject();
    const deadline = Date.now() + FTRACE_TIME_MS;
    const n = { modules: 0, findings: 0, expected: 0, found: 0, heapArgs: 0, computed: 0, computedMissed: 0, garbageFree: 0, };
    await fc.assert(
      fc.asyncProperty(genStackModule(), async (m) => {
        await turn(); // let vitest's RPC through between modules (long budgets run for minutes)
        // As `kmemsim run --stack ftrace` builds it: -pg -mfentry, frame sizes from -fstack-usage.
        const ft = compileStackModuleWithUsage(m.source, { ftrace: true });
        const opts = { name: m.name, runtime };
        const what = (mode: string) => `${mode}\n${m.source}`;
        const flow = garbageFlow(m.program, m.lines)!;
        const fplain = runChecked(ft.object, opts);
        const r = runChecked(ft.object, { ...opts, stack: 'ftrace', stackUsage: ft.stackUsage });
        for (const [mode, x] of [['plain (-pg)', fplain], ['ftrace', r]] as const) {
          expect(x.error, what(mode)).toBeNull();
          expect(x.run?.stop ?? null, what(mode)).toBeNull();
          expect(x.run?.exitCode, what(mode)).toBe(0);
        }
        // Property 3: the poison replaces the dead stack's garbage, so only programs whose output does not
        // depend on it print the same; the rest differ in the printed text only.
        const a = archOf(r);
        expect({ ...a, console: null }, what('ftrace')).toEqual({ ...archOf(fplain), console: null });
        if (!flow.printsStackGarbage) {
          expect(a, what('ftrace against plain (-pg)')).toEqual(archOf(fplain));
          expect(a, what('ftrace against plain (no -pg)')).toEqual(archOf(runChecked(compileStackModule(m.source), opts)));
          n.garbageFree++;
        }
        expect(r.findings.every((f) => f.kind === 'poisoned' && f.region === 'stack' && f.checker === 'ftrace' && f.stack.length >= 2), what('ftrace')).toBe(true);
        expect(r.summary.tracedCalls, what('ftrace: the module was traced')).toBeGreaterThan(0);
        // Property 2a, soundness: each finding is a call (caller, call line, callee) one of whose
        // arguments depends on dead-stack garbage — as many findings per call site as such calls.
        // No poison collision is possible here: clean values are constants up to 1000, 5, 7, 3, 0.
        const found = multiset(r.findings.map(callSite));
        const tainted = multiset(flow.taintedArgs.map((u) => `${u.caller}:${u.line}->${u.callee}`));
        for (const [k, c] of found) expect(tainted.get(k) ?? 0, what(`ftrace: ${c} finding(s) at ${k}, no garbage passed there`)).toBeGreaterThanOrEqual(c);
        // Property 2b, recall: every raw uninitialized stack value (an unwritten local, passed on through
        // parameters or returned by a callee) reaching an argument is found. By design it cannot see
        // uninitialized heap values (origin 'heap': never poison), counted separately. (A dead word last
        // written by a native's CALL — kzalloc() calling kmalloc — is poisoned when the native returns;
        // stack-regress-untraced.c is the counterexample that found it.)
        const stackArgs = m.uninitArgs.filter((u) => u.origin !== 'heap');
        const want = multiset(stackArgs.map((u) => `${u.caller}:${u.line}->${u.callee}`));
        for (const [k, c] of want) expect(found.get(k) ?? 0, what(`ftrace: missed ${k}`)).toBeGreaterThanOrEqual(c);
        n.modules++;
        n.findings += r.findings.length;
        n.expected += stackArgs.length;
        n.found += stackArgs.length;
        n.heapArgs += m.uninitArgs.length - stackArgs.length;
        n.computed += r.findings.length - stackArgs.length;
        for (const [k, c] of tainted) n.computedMissed += Math.max(0, c - (found.get(k) ?? 0));
      }),
      { numRuns: RUNS, interruptAfterTimeLimit: Math.max(1000, deadline - Date.now()) },
    );
    console.log(`property-tests/stack.test.ts: ftrace: ${n.modules} modules (${n.garbageFree} printing no dead-stack garbage), ${n.findings} findings, all true; recall ${n.found}/${n.expected} raw uninitialized stack arguments; ${n.heapArgs} uninitialized heap values passed (not seen by design), ${n.computed} findings for garbage passed through arithmetic, ${n.computedMissed} such calls missed`);
    expect(n.modules).toBeGreaterThan(0);
  }, FTRACE_TIME_MS + 40_000);
});

/** One macrotask turn of the worker's event loop (test/setup/yield.ts does it between tests). */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The architectural results a checker must not change. */
function archOf(r: CheckedRunResult): { console: string | null; initReturn: number | undefined; exitCode: number | undefined; stop: string | null } {
  return { console: r.run?.console ?? null, initReturn: r.run?.initReturn, exitCode: r.run?.exitCode, stop: r.run?.stop?.kind ?? null };
}

/** The reading instruction, symbolically (the ring-1 layout loads the module elsewhere than ring 0). */
const site = (f: Finding): string => `${f.function}+${f.offset} ${f.file?.replace(/^.*\//, '')}:${f.line}`;

/** An ftrace finding's call: the caller (stack[1]) and its call line, the callee. */
const callSite = (f: Finding): string => `${f.stack[1]?.function}:${f.stack[1]?.line}->${f.function}`;

function multiset(keys: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}
