/**
 * The precise stack oracle (`--stack precise`, src/shadow/stack-precise.ts)
 * on compiled C (test/modules/stack-*.c, at -O0 and -O2): the expected
 * findings (function and file:line, marked `FINDING <function>` in the
 * sources) and nothing else; architectural results equal to a plain run;
 * the same stack findings alone, with the inline heap checker in the same
 * single-step loop, and with the fault-driven kmemcheck. Plus unit checks
 * of the oracle's liveness rules and its wiring.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { moduleCompileCommand } from '../../src/cli/compile.js';
import { runChecked, type CheckedRunResult } from '../../src/harness/checked-run.js';
import { PreciseStack, kernelStackBounds } from '../../src/shadow/stack-precise.js';
import { InlineChecker } from '../../src/shadow/inline.js';
import { CheckInstrumentation } from '../../src/shadow/instrument.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { returnStubAddress } from '../../src/kernel/call.js';
import { REP_CHUNK } from '../../src/cpu/cpu.js';
import { SHADOW_INITIALIZED, SHADOW_UNINITIALIZED } from '../../src/shadow/shadow.js';
import { hasGcc, MODULES, runtimeObject } from '../module/helpers.js';

if (!hasGcc) console.log('test/shadow/stack-precise.test.ts: gcc not found: the stack-*.c modules are skipped');

type Opt = '-O0' | '-O2';
const objects = new Map<string, Uint8Array>();

/** test/modules/NAME.c compiled with the module flags at `opt` (gcc takes the last -O). */
function object(name: string, opt: Opt): Uint8Array {
  const key = `${name}${opt}`;
  let o = objects.get(key);
  if (o) return o;
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-stack-'));
  try {
    const out = join(dir, `${name}.o`);
    const cmd = moduleCompileCommand(join(MODULES, `${name}.c`), out);
    cmd.splice(cmd.indexOf('-c'), 0, opt);
    const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr}`);
    o = new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  objects.set(key, o);
  return o;
}

/** The `FINDING <function>` markers of a source: [{function, line}]. */
function markers(name: string): { function: string; line: number }[] {
  const lines = readFileSync(join(MODULES, `${name}.c`), 'utf8').split('\n');
  const out: { function: string; line: number }[] = [];
  lines.forEach((l, i) => {
    const m = /FINDING (\w+)/.exec(l);
    if (m) out.push({ function: m[1]!, line: i + 1 });
  });
  return out;
}

/** A `--stack precise` run (runChecked, as `kmemsim run`), with the stack findings and the oracle split out. */
interface PreciseRun extends CheckedRunResult {
  /** The oracle's findings (region "stack"). */
  stackFindings: CheckedRunResult['findings'];
  /** The heap checker's (region "heap"). */
  heapFindings: CheckedRunResult['findings'];
  oracle: PreciseStack | null;
}

function precise(r: CheckedRunResult): PreciseRun {
  return {
    ...r,
    stackFindings: r.findings.filter((f) => f.region === 'stack'),
    heapFindings: r.findings.filter((f) => f.region === 'heap'),
    oracle: r.checkers.stack as PreciseStack | null,
  };
}

function run(name: string, opt: Opt, heap: false | 'inline' | 'kmemcheck' = false, stack = true, checkNatives?: boolean): PreciseRun {
  return precise(runChecked(object(name, opt), {
    name: `${name}.c`, runtime: runtimeObject(), heap: heap || null, stack: stack ? 'precise' : null, checkNatives,
  }));
}

const key = (f: { kind: string; access: string; size: number; eip: number; address: number; function: string | null; line?: number | null }) => ({
  kind: f.kind, access: f.access, size: f.size, eip: f.eip, address: f.address, function: f.function, line: f.line,
});

/** Architectural results equal a plain run's. */
function expectSameArchitecture(r: PreciseRun, plain: PreciseRun, what: string): void {
  expect(r.error, what).toBeNull();
  expect(r.run!.console, what).toBe(plain.run!.console);
  expect(r.run!.initReturn, what).toBe(plain.run!.initReturn);
  expect(r.run!.exitCode, what).toBe(plain.run!.exitCode);
  expect(r.run!.stop?.kind ?? null, what).toBe(plain.run!.stop?.kind ?? null);
  expect(r.run!.instructions, what).toBe(plain.run!.instructions);
  // callGuest()'s return stub is bound at the same address (its value is on the stack).
  expect(returnStubAddress(r.run!.kernel), what).toBe(returnStubAddress(plain.run!.kernel));
}

const cases: { name: string; what: string; console?: RegExp }[] = [
  { name: 'stack-uninit', what: 'an uninitialized local' },
  { name: 'stack-cond', what: 'conditional initialization (the dead slot still holds the earlier value)', console: /cond: 21/ },
  { name: 'stack-arg', what: 'an uninitialized value passed to a function' },
  { name: 'stack-sibling', what: 'sibling calls reusing a dead frame', console: /sibling: 4242/ },
  { name: 'stack-recursion', what: 'recursion (and same-EIP suppression)' },
  { name: 'stack-deep', what: 'a clean deep call tree: no findings' },
];

describe.skipIf(!hasGcc)('--stack precise on compiled C', () => {
  for (const c of cases) {
    for (const opt of ['-O0', '-O2'] as const) {
      it(`${c.name} ${opt}: ${c.what}`, () => {
        const plain = run(c.name, opt, false, false);
        const r = run(c.name, opt);
        expectSameArchitecture(r, plain, c.name);
        if (c.console) expect(plain.run!.console).toMatch(c.console);
        const want = markers(c.name);
        expect(r.stackFindings.map((f) => ({ function: f.function, line: f.line }))).toEqual(want);
        for (const f of r.stackFindings) {
          expect(f).toMatchObject({ kind: 'uninitialized', region: 'stack', checker: 'precise', access: 'read', size: 4 });
          expect(f.file).toMatch(new RegExp(`${c.name}\\.c$`));
          // The address is a byte of the ring-0 kernel stack; the caller is in the backtrace.
          const b = kernelStackBounds();
          expect(f.address >= b.low && f.address < b.high).toBe(true);
          expect(f.stack.some((s) => s.function === 'init_module')).toBe(true);
        }
        expect(r.reports).toHaveLength(want.length);
        for (const t of r.reports) {
          expect(t).toMatch(/^WARNING: kmemcheck: Caught 32-bit read from uninitialized stack memory \([0-9a-f]{8}\)/);
          expect(t).toContain(`${c.name}.c:`);
        }
        expect(r.summary.findings).toBe(want.length);
        expect(r.summary.lost).toBe(0);
        expect(r.oracle!.stats.instructions).toBeGreaterThan(0);
        expect(r.oracle!.kills).toBeGreaterThan(0);
        // The CPU's own run loop is back after the run.
        expect(Object.prototype.hasOwnProperty.call(r.run!.kernel.cpu, 'run')).toBe(false);
      });
    }
  }

  it('recursion: only the innermost call reads uninitialized, and the repeat from the same EIP is dropped', () => {
    const r = run('stack-recursion', '-O0');
    expect(r.stackFindings).toHaveLength(1);
    // depth(5) → ... → depth(0): six frames of depth, then init_module.
    expect(r.stackFindings[0]!.stack.filter((s) => s.function === 'depth')).toHaveLength(6);
    expect(r.oracle!.errors.suppressed).toBe(1);
  });

  it('sibling -O0: a plain run sees the dead frame\'s old value; precise reports it', () => {
    const r = run('stack-sibling', '-O0');
    expect(r.run!.console).toBe('sibling: 4242\n');
    expect(r.stackFindings.map((f) => f.function)).toEqual(['reader']);
  });

  for (const name of ['stack-uninit', 'stack-cond', 'stack-arg', 'stack-sibling', 'stack-recursion', 'stack-deep']) {
    it(`${name}: the same stack findings with the inline heap checker and with kmemcheck in the same run`, () => {
      for (const opt of ['-O0', '-O2'] as const) {
        const plain = run(name, opt, false, false);
        const alone = run(name, opt);
        for (const heap of ['inline', 'kmemcheck'] as const) {
          const both = run(name, opt, heap);
          expectSameArchitecture(both, plain, `${name} ${opt} ${heap}`);
          expect(both.stackFindings.map(key), `${name} ${opt} ${heap}`).toEqual(alone.stackFindings.map(key));
          expect(both.heapFindings, `${name} ${opt} ${heap}`).toEqual([]);
          expect(both.checkers.heap).not.toBeNull();
        }
      }
    });
  }

  it('stack-deep with kmemcheck: its #PF/#DB frames land on the tracked stack and are initialized, no false findings', () => {
    const r = run('stack-deep', '-O0', 'kmemcheck');
    expect(r.stackFindings).toEqual([]);
    expect(r.oracle!.stats.exceptionFrames).toBeGreaterThan(0);
  });

  it('stack-kmemcheck-frames: kmemcheck\'s fault frames change the stack garbage; the oracle\'s findings do not change', () => {
    for (const opt of ['-O0', '-O2'] as const) {
      const plain = run('stack-kmemcheck-frames', opt, false, false);
      const kmcOnly = run('stack-kmemcheck-frames', opt, 'kmemcheck', false);
      const alone = run('stack-kmemcheck-frames', opt);
      const inl = run('stack-kmemcheck-frames', opt, 'inline');
      const kmc = run('stack-kmemcheck-frames', opt, 'kmemcheck');
      // The 16 reads of the loop come from one EIP: one finding, 15 dropped.
      expect(alone.stackFindings.map((f) => ({ function: f.function, line: f.line })), opt).toEqual(markers('stack-kmemcheck-frames'));
      expect(alone.oracle!.errors.suppressed, opt).toBe(15);
      for (const r of [inl, kmc]) expect(r.stackFindings.map(key), opt).toEqual(alone.stackFindings.map(key));
      // The oracle and the inline checker are transparent; kmemcheck is not, with or without the oracle.
      expectSameArchitecture(alone, plain, opt);
      expectSameArchitecture(inl, plain, opt);
      expect(kmc.run!.console, opt).toBe(kmcOnly.run!.console);
      expect(kmcOnly.run!.console, opt).not.toBe(plain.run!.console);
      expect(kmc.oracle!.stats.exceptionFrames, opt).toBeGreaterThan(0);
    }
  });

  it('a native routine reading an uninitialized stack argument: finding attributed to printk', () => {
    for (const opt of ['-O0', '-O2'] as const) {
      const plain = run('stack-native', opt, false, false);
      const r = run('stack-native', opt);
      expectSameArchitecture(r, plain, opt);
      expect(r.stackFindings.map((f) => f.function), opt).toEqual(['printk']);
      expect(r.stackFindings[0]).toMatchObject({ kind: 'uninitialized', region: 'stack', checker: 'precise', size: 4 });
      expect(r.oracle!.stats.nativeReads).toBeGreaterThan(0);
      // Switched off: no finding.
      const off = run('stack-native', opt, false, true, false);
      expect(off.stackFindings).toEqual([]);
    }
  });
});

describe('PreciseStack', () => {
  it('attaches to the shared compiled checks and detaches without leaving traces on the CPU', () => {
    const k = new Kernel();
    const s = PreciseStack.attach(k);
    const h = InlineChecker.attach(k);
    const checks = CheckInstrumentation.of(k);
    expect(checks.clients).toEqual([s, h]);
    expect(k.cpu.repChunk).toBe(1);
    expect(k.cpu.jitInstrumentation).toBe(checks);
    s.detach();
    expect(checks.attached).toBe(true);
    h.detach();
    expect(checks.attached).toBe(false);
    expect(k.cpu.jitInstrumentation).toBe(null);
    expect(k.cpu.runDriver).toBe(null);
    expect(k.cpu.repChunk).toBe(REP_CHUNK);
    expect(Object.prototype.hasOwnProperty.call(k.cpu, 'run')).toBe(false);
  });

  it('tracks only the stack: heap ranges from the allocator hooks are ignored', () => {
    const k = new Kernel();
    const s = new PreciseStack(k);
    const b = kernelStackBounds();
    expect(s.low).toBe(b.low);
    expect(s.high).toBe(b.high);
    expect(s.stateAt(b.high - 4)).toBe(SHADOW_UNINITIALIZED);
    const pages = s.shadow.trackedPages;
    s.track(0xc0100000 | 0, 4096);
    expect(s.shadow.trackedPages).toBe(pages);
  });

  it('liveness: bytes die when ESP rises over them, host pushes and writes initialize', () => {
    const k = new Kernel();
    const s = new PreciseStack(k);
    const top = s.high;
    s.hostPushed(top - 8, 8);
    expect(s.isInitialized(top - 8, 8)).toBe(true);
    s.espChanged(top - 32);
    s.markInitialized(top - 32, 24);
    expect(s.isInitialized(top - 32, 24)).toBe(true);
    // ESP rises by 16: the 16 bytes above the old ESP die.
    s.espChanged(top - 16);
    expect(s.stateAt(top - 32)).toBe(SHADOW_UNINITIALIZED);
    expect(s.stateAt(top - 17)).toBe(SHADOW_UNINITIALIZED);
    expect(s.stateAt(top - 16)).toBe(SHADOW_INITIALIZED);
    expect(s.kills).toBe(1);
  });

  it('stacks by record: useStack() keeps the other stack\'s liveness; forgetStack() may drop the stack in use', () => {
    const k = new Kernel();
    const s = new PreciseStack(k);
    const boot = s.stack!;
    s.espChanged(s.high - 16);
    s.markInitialized(s.high - 16, 16);
    // A second stack, [0xc0200000, 0xc0202000): begun, it is the one in use.
    const other = s.beginStack(0xc0200000, 0xc0202000);
    expect(s.stack).toBe(other);
    expect(s.stateAt(0xc0201ffc)).toBe(SHADOW_UNINITIALIZED);
    s.espChanged(0xc0201ff0);
    // Back to the boot stack: its live bytes are still initialized, its ESP is remembered (no kill).
    s.useStack(boot);
    expect([s.low, s.high]).toEqual([boot.low, boot.high]);
    s.espChanged(boot.high - 16);
    expect(s.kills).toBe(0);
    expect(s.isInitialized(boot.high - 16, 16)).toBe(true);
    // Forgetting a stack not in use untracks it; the stack in use stays.
    s.forgetStack(other);
    expect(s.shadow.isTracked(0xc0201ffc)).toBe(false);
    expect(s.stack).toBe(boot);
    // Forgetting the stack in use: no stack in use, ESP moves change nothing, its shadow is gone.
    s.forgetStack(boot);
    expect(s.stack).toBe(null);
    expect(s.onStack(boot.high - 4)).toBe(false);
    s.espChanged(boot.high - 4);
    expect(s.kills).toBe(0);
    expect(s.shadow.isTracked(boot.high - 4)).toBe(false);
    // Forgetting it again does nothing; a new stack can be begun.
    s.forgetStack(boot);
    expect(s.beginStack(boot.low, boot.high)).not.toBe(boot);
    expect(s.stateAt(boot.high - 4)).toBe(SHADOW_UNINITIALIZED);
  });
});
