/**
 * A kernel-module run with the precise inline checker (./inline.ts): the
 * same wiring as runModuleWithKmemcheck() (./session.ts) — same kernel API,
 * same allocator-hook policy, same symbolizer, the queue drained whatever
 * happened — but no page-hiding service: the checker is attached in the
 * `exports` step and single-steps every guest instruction, checking its
 * accesses before it runs.
 *
 * Also runModuleWithPreciseStack(): the precise stack oracle alone, or
 * with the inline checker (both clients of one single-step loop) or the
 * fault-driven kmemcheck, its findings split into stack and heap. `kmemsim
 * run --stack precise` and the tests use src/harness/checked-run.ts's
 * runChecked() instead (the one runner for every checker combination);
 * this one stays for property-tests/stack.test.ts, and src/shadow cannot
 * wrap runChecked (src/harness sits above it).
 */
import type { ModuleRunOptions, ModuleRunResult } from '../kernel/module-run.js';
import type { KernelApi } from '../kernel/kapi.js';
import type { Kernel } from '../kernel/kernel.js';
import type { GuestAccessor } from '../kernel/printk.js';
import type { LoadedModule } from '../kernel/module.js';
import { InlineChecker, toInlineFinding, type InlineFinding, type InlineOptions } from './inline.js';
import type { KmemcheckError } from './errors.js';
import type { SourceLocator, Symbolizer } from './report.js';
import { kmemcheckAccessor, runCheckedModule, type CheckedModuleRun } from './session.js';
import { checkedAccessor } from './accessor.js';
import { Kmemcheck } from './kmemcheck.js';
import type { ShadowRuleOptions, ShadowRules } from './rules.js';
import { PreciseStack, toStackFinding, type PreciseStackOptions } from './stack-precise.js';
import { formatLost, formatReport, toFinding, type Finding } from './report.js';

/** The natives' accessor under the inline checker: the one checked accessor, with the checker's shadow. */
export function inlineAccessor(kernel: Kernel, c: InlineChecker): GuestAccessor {
  return checkedAccessor(kernel, [c], []);
}

export type HeapCheckerChoice =
  | false
  | 'inline'
  | 'kmemcheck'
  | { checker: 'inline' | 'kmemcheck'; options?: ShadowRuleOptions };

export interface PreciseRunOptions extends Omit<ModuleRunOptions, 'exports' | 'kernel'> {
  /** The stack oracle (default true): its options, or false for a run without it. */
  stack?: boolean | PreciseStackOptions;
  /**
   * A heap checker in the same run (default none): `inline` (the
   * InlineChecker, a second client of the same single-step loop, as
   * `--kmemcheck-inline --stack precise`) or `kmemcheck` (fault-driven:
   * its #PF/#DB round trips happen inside the stack oracle's loop).
   */
  heap?: HeapCheckerChoice;
}

export interface PreciseSummary {
  /** Stack findings drained. */
  findings: number;
  /** Stack errors that did not fit in the queue. */
  lost: number;
  /** Guest instructions whose accesses the stack oracle checked. */
  instructions: number;
  /** Steps of the single-step loop. */
  steps: number;
  /** Times ESP rose and killed stack bytes. */
  kills: number;
  /** Heap findings (0 without a heap checker). */
  heapFindings: number;
}

export interface PreciseRunResult {
  run: ModuleRunResult | null;
  error: unknown;
  /** The stack oracle (null without it, or when the run threw before it was attached). */
  stack: PreciseStack | null;
  /** The heap checker when one ran. */
  heap: InlineChecker | Kmemcheck | null;
  api: KernelApi | null;
  module: LoadedModule | null;
  /** The stack oracle's errors, oldest first. */
  errors: KmemcheckError[];
  /** As JSON findings: checker "precise", region "stack". */
  findings: Finding[];
  /** kmemcheck's text format, saying "stack memory"; then the "Lost N" line if any. */
  reports: string[];
  /** The heap checker's (checker "inline" or "kmemcheck", region "heap"). */
  heapFindings: Finding[];
  heapReports: string[];
  summary: PreciseSummary;
  symbolize: Symbolizer;
  locate: SourceLocator;
}

/**
 * The natives' accessor under the stack oracle: `inner` (the heap
 * checker's, or the kernel's page walk), plus the oracle's view: 32-bit
 * reads of stack arguments are checked, writes initialize.
 */
function stackAccessor(kernel: Kernel, stack: PreciseStack, inner?: GuestAccessor): GuestAccessor {
  const base: GuestAccessor = inner ?? {
    read: (lin, len) => kernel.mem.read(lin, len),
    read32(lin) {
      const b = kernel.mem.read(lin, 4);
      return b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24);
    },
    write: (lin, data) => kernel.mem.write(lin, data),
  };
  return {
    read: (lin, len) => base.read(lin, len),
    read32(lin) {
      const v = base.read32(lin);
      stack.nativeRead(lin, 4);
      return v;
    },
    write(lin, data) {
      base.write(lin, data);
      stack.nativeWrote(lin, data.length);
    },
  };
}

/**
 * Run a module with the precise stack oracle (and optionally a heap
 * checker): the wiring of runCheckedModule() — same kernel API, allocator
 * hooks, symbolizer and locator — with the oracle's queue drained whatever
 * happened. Never throws for the run itself: see `error`.
 */
export function runModuleWithPreciseStack(object: Uint8Array | { path: string }, opts: PreciseRunOptions = {}): PreciseRunResult {
  const { stack = true, heap = false, ...rest } = opts;
  const stackOpts: PreciseStackOptions | null = stack === false ? null : { ...(stack === true ? {} : stack), hookGuestCalls: false };
  const heapChoice = heap === false ? null : typeof heap === 'string' ? { checker: heap, options: {} } : heap;
  let st: PreciseStack | null = null;
  let heapEngine: InlineChecker | Kmemcheck | null = null;
  const attachStack = (k: Kernel): PreciseStack | null => (st = stackOpts ? PreciseStack.attach(k, stackOpts) : null);
  // The guest-call hooks bind callGuest()'s return stub: after the kernel API, as in a plain run (same address).
  const runOpts: typeof rest = {
    ...rest,
    onLoad: (k, m) => {
      (st as PreciseStack | null)?.hookGuestCalls();
      rest.onLoad?.(k, m);
    },
  };

  let stackErrors: KmemcheckError[] = [];
  let stackLost = 0;
  let heapErrors: KmemcheckError[] = [];
  let heapLost = 0;
  let r: CheckedModuleRun<ShadowRules>;
  if (heapChoice === null) {
    // The oracle is the run's engine: runCheckedModule drains its queue.
    r = runCheckedModule<ShadowRules>(object, runOpts, {
      attach: (k) => attachStack(k),
      accessor: (k, e) => stackAccessor(k, e as PreciseStack),
      finish: (e) => (e as PreciseStack).detach(),
    });
    stackErrors = r.errors;
    stackLost = r.lost;
  } else {
    r = runCheckedModule<ShadowRules>(object, runOpts, {
      attach: (k) => {
        const h = heapChoice.checker === 'inline' ? InlineChecker.attach(k, heapChoice.options ?? {}) : Kmemcheck.attach(k, heapChoice.options ?? {});
        heapEngine = h;
        attachStack(k);
        return h;
      },
      accessor: (k, e) => {
        const inner = e instanceof InlineChecker ? inlineAccessor(k, e) : kmemcheckAccessor(k, e as Kmemcheck);
        const s = st as PreciseStack | null;
        return s ? stackAccessor(k, s, inner) : inner;
      },
      finish: (e) => {
        if (e instanceof InlineChecker) e.detach();
        (st as PreciseStack | null)?.detach();
      },
    });
    heapErrors = r.errors;
    heapLost = r.lost;
    const s = st as PreciseStack | null;
    if (s) {
      stackErrors = s.errors.drain();
      stackLost = s.errors.takeLost();
    }
  }
  const s = st as PreciseStack | null;
  const h = heapEngine as InlineChecker | Kmemcheck | null;
  const reports = stackErrors.map((e) => formatReport(e, { symbolize: r.symbolize, locate: r.locate, region: 'stack' }));
  if (stackLost > 0) reports.push(formatLost(stackLost));
  const heapReports = heapErrors.map((e) => formatReport(e, { symbolize: r.symbolize, locate: r.locate }));
  if (heapLost > 0) heapReports.push(formatLost(heapLost));
  const heapChecker = h instanceof InlineChecker ? 'inline' : 'kmemcheck';
  return {
    run: r.run,
    error: r.error,
    stack: s,
    heap: h,
    api: r.api,
    module: r.module,
    errors: stackErrors,
    findings: stackErrors.map((e) => toStackFinding(e, r.symbolize, r.locate)),
    reports,
    heapFindings: heapErrors.map((e) => toFinding(e, r.symbolize, r.locate, { checker: heapChecker })),
    heapReports,
    summary: {
      findings: stackErrors.length,
      lost: stackLost,
      instructions: s?.stats.instructions ?? 0,
      steps: s?.stats.steps ?? 0,
      kills: s?.kills ?? 0,
      heapFindings: heapErrors.length,
    },
    symbolize: r.symbolize,
    locate: r.locate,
  };
}
