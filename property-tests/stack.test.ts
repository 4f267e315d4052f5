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
 * Adding a mode (cpl1, ftrace): put its runner in MODES; the
 * architectural property covers it at once; its own finding property goes
 * in its own `it` (cpl1 against precise's findings, ftrace against
 * `uninitArgs`).
 *
 * KMEMSIM_STACK_RUNS sets the number of modules (default 40);
 * KMEMSIM_STACK_TIME_MS the time after which generation stops
 * (default 30000; the runs done so far must all have passed).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { runModuleWithPreciseStack, type PreciseRunResult } from '../src/shadow/inline-session.js';
import { kernelStackBounds } from '../src/shadow/stack-precise.js';
import { hasGcc, runtimeObject } from '../test/module/helpers.js';
import { compileStackModule, findingSites, genStackModule, type ModeRun, type ModeRunner, type StackMode } from './stack-gen.js';

const RUNS = Math.max(1, Number(process.env['KMEMSIM_STACK_RUNS'] ?? 40) | 0);
const TIME_MS = Math.max(1000, Number(process.env['KMEMSIM_STACK_TIME_MS'] ?? 30_000) | 0);

if (!hasGcc) console.log('property-tests/stack.test.ts: gcc not found: the generated C modules cannot be compiled; skipped');

/** A digest of the ring-0 kernel stack's bytes and the registers after the run (transparency down to the garbage). */
function machineDigest(r: PreciseRunResult): string {
  const k = r.run?.kernel;
  if (!k) return '';
  const b = kernelStackBounds();
  return createHash('sha256').update(k.mem.read(b.low | 0, b.high - b.low)).update(new Uint8Array(k.cpu.regs.buffer.slice(0))).digest('hex');
}

const asModeRun = (r: PreciseRunResult, stats?: Record<string, number>): ModeRun => ({
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
const plain: ModeRunner = (object, opts) => asModeRun(runModuleWithPreciseStack(object, { ...opts, stack: false }));

/** The stack modes under test (cpl1 and ftrace join here). */
const MODES: Partial<Record<StackMode, ModeRunner>> = {
  precise: (object, opts) => {
    const r = runModuleWithPreciseStack(object, opts);
    return asModeRun(r, {
      steps: r.summary.steps, kills: r.summary.kills, instructions: r.summary.instructions,
      suppressed: r.stack?.errors.suppressed ?? 0, lost: r.summary.lost,
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

  it('precise finds the same with a heap checker in the same run (inline or kmemcheck), and changes nothing the heap checker sees', () => {
    const runtime = runtimeObject();
    const deadline = Date.now() + Math.min(TIME_MS / 3, 10_000);
    let modules = 0;
    fc.assert(
      fc.property(genStackModule(), fc.constantFrom('inline' as const, 'kmemcheck' as const), (m, heap) => {
        const obj = compileStackModule(m.source);
        const what = `${heap}\n${m.source}`;
        const alone = runModuleWithPreciseStack(obj, { name: m.name, runtime });
        // The heap checker without the stack oracle. Its console can differ from a plain run's when the
        // program reads uninitialized stack: kmemcheck's #PF/#DB frames land in the dead part of the
        // ring-0 stack, changing the garbage (as on hardware); the inline checker takes no faults.
        const heapOnly = runModuleWithPreciseStack(obj, { name: m.name, runtime, stack: false, heap });
        const both = runModuleWithPreciseStack(obj, { name: m.name, runtime, heap });
        for (const r of [heapOnly, both]) expect(r.error, what).toBeNull();
        expect(both.run!.console, what).toBe(heapOnly.run!.console);
        if (heap === 'inline') expect(both.run!.console, what).toBe(alone.run!.console);
        expect(both.run!.exitCode, what).toBe(heapOnly.run!.exitCode);
        expect(findingSites(both.findings), what).toEqual(m.truth);
        expect(both.findings.map((f) => f.eip), what).toEqual(alone.findings.map((f) => f.eip));
        expect(both.heapFindings, what).toEqual(heapOnly.heapFindings);
        modules++;
      }),
      { numRuns: Math.max(1, RUNS >> 2), interruptAfterTimeLimit: Math.max(1000, deadline - Date.now()) },
    );
    expect(modules).toBeGreaterThan(0);
  }, 60_000);
});
