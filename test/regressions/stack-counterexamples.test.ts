/**
 * Counterexamples shrunk by property-tests/stack.test.ts, kept as
 * regressions of the documented differences between the stack strategies
 * (see that file's header): test/modules/stack-regress-*.c, compiled at -O0
 * as the generated modules are (with `-pg -mfentry` and -fstack-usage for
 * ftrace, as `kmemsim run --stack ftrace` builds them), run through
 * runChecked() as `kmemsim run --stack MODE` does.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { compileModule } from '../../src/cli/compile.js';
import { runChecked, type CheckedRunOptions, type CheckedRunResult } from '../../src/harness/checked-run.js';
import type { Finding } from '../../src/shadow/report.js';
import { hasGcc, MODULES, NO_GCC, runtimeObject } from '../module/helpers.js';

if (!hasGcc) console.log(`test/regressions/stack-counterexamples.test.ts: ${NO_GCC}`);

/** The reading instruction, symbolically, and its source line. */
const site = (f: Finding): string => `${f.kind} ${f.function}+${f.offset} line ${f.line}`;
/** An ftrace finding: caller (its call line) → callee. */
const call = (f: Finding): string => `${f.kind} ${f.stack[1]?.function}:${f.stack[1]?.line} -> ${f.function}`;

describe.skipIf(!hasGcc)('stack strategies: shrunk counterexamples', () => {
  const runtime = hasGcc ? runtimeObject() : null;
  const run = (name: string, opts: Omit<CheckedRunOptions, 'name' | 'runtime' | 'stackUsage'> = {}): CheckedRunResult => {
    const src = join(MODULES, `${name}.c`);
    const c = compileModule(src, { ftrace: opts.stack === 'ftrace', cflags: ['-O0'] });
    const r = runChecked(c.object, { ...opts, name: src, runtime, stackUsage: c.stackUsage });
    expect(r.error).toBeNull();
    expect(r.run?.stop ?? null).toBeNull();
    expect(r.run?.exitCode).toBe(0);
    return r;
  };
  const plainFtraceBuild = (name: string): CheckedRunResult => {
    const src = join(MODULES, `${name}.c`);
    return runChecked(compileModule(src, { ftrace: true, cflags: ['-O0'] }).object, { name: src, runtime });
  };

  it('ftrace replaces printed dead-stack garbage with the poison; cpl1 and precise find the read', () => {
    const name = 'stack-regress-garbage';
    expect(run(name, { stack: 'ftrace' }).run!.console).toBe('r -1515870811\n'); // 0xA5A5A5A5
    expect(plainFtraceBuild(name).run!.console).not.toBe('r -1515870811\n');
    const precise = run(name, { stack: 'precise' });
    expect(precise.findings.map(site)).toEqual(['uninitialized f0+22 line 21']);
    expect(run(name, { stack: 'cpl1' }).findings.map(site)).toEqual(precise.findings.map(site));
    expect(run(name, { stack: 'ftrace' }).findings).toEqual([]); // the value is printed, never passed
  });

  it('cpl1 prints the garbage of the ring-1 layout (as a plain ring-1 run), not the ring-0 one', () => {
    const name = 'stack-regress-ring-garbage';
    const plain0 = run(name);
    const plain1 = run(name, { kernelRing: 1 });
    const cpl1 = run(name, { stack: 'cpl1' });
    expect(cpl1.run!.console).toBe(plain1.run!.console);
    // The garbage is a stack address left by an earlier frame: another stack, another address.
    expect(plain1.run!.console).not.toBe(plain0.run!.console);
    const want = ['uninitialized f1+58 line 35'];
    expect(cpl1.findings.map(site)).toEqual(want);
    expect(run(name, { stack: 'precise' }).findings.map(site)).toEqual(want);
    expect(run(name, { stack: 'precise', kernelRing: 1 }).findings.map(site)).toEqual(want);
  });

  it('ftrace cannot see an uninitialized heap value passed as an argument (never the poison)', () => {
    const name = 'stack-regress-heap-arg';
    expect(run(name, { stack: 'ftrace' }).findings).toEqual([]);
    expect(run(name, { stack: 'precise' }).findings).toEqual([]);
    expect(run(name, { stack: 'cpl1' }).findings).toEqual([]);
    // The heap checker finds the read of h0[0] in f0.
    const heap = run(name, { heap: 'inline' }).findings;
    expect(heap.map((f) => `${f.region} ${f.function} line ${f.line}`)).toEqual(['heap f0 line 26']);
  });

  it('ftrace finds an uninitialized local lying where a native call\'s return address was (kzalloc → kmalloc): natives\' dead return slots are poisoned too', () => {
    const name = 'stack-regress-untraced';
    const want = ['uninitialized f0+16 line 24'];
    const precise = run(name, { stack: 'precise' }).findings.map(site);
    expect(precise).toEqual(want);
    expect(run(name, { stack: 'cpl1' }).findings.map(site)).toEqual(want);
    const f = run(name, { stack: 'ftrace' });
    expect(f.summary.tracedCalls).toBeGreaterThan(0);
    // Before natives' return slots were poisoned the word was kzalloc+0x23 and this was missed.
    expect(f.findings.map(call)).toEqual(['poisoned f0:24 -> f1']);
  });

  it('ftrace finds garbage that arithmetic left unchanged (0 * 31 + x), and misses it once changed (1 * 31 + x)', () => {
    const name = 'stack-regress-arith';
    const f = run(name, { stack: 'ftrace' });
    expect(f.findings.map(call)).toEqual(['poisoned f0:40 -> f2']);
    const precise = run(name, { stack: 'precise' }).findings.map(site);
    expect(precise).toEqual(['uninitialized f1+28 line 21', 'uninitialized f3+28 line 30']);
    expect(run(name, { stack: 'cpl1' }).findings.map(site)).toEqual(precise);
  });
});
