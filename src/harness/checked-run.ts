/**
 * One checked module run, whatever the combination of checkers: the wiring
 * behind `kmemsim run FILE --kmemcheck --stack cpl1|ftrace|precise` and
 * `kmemsim compare`.
 *
 * The order of attachment follows what each mechanism needs:
 *  1. runModule() boots the kernel and installs the oops handlers;
 *  2. with `kernelRing: 1` (the default for `--stack cpl1`), the kernel
 *     switches to the ring-1 layout (src/rings/ring1.ts) before anything
 *     else, so module code runs at CPL 1 and every trap switches stacks;
 *  3. the heap checker attaches (kmemcheck to the kernel's page-hiding
 *     service, or the inline checker to the compiled checks), then the
 *     stack checker (the CPL-1 tracker hides the CPL-1 stack; the precise
 *     oracle joins the compiled checks); both before the kernel API is
 *     installed, so the allocator hooks see every slab;
 *  4. the kernel API's natives get one accessor (`checkedAccessor`) that
 *     reaches hidden pages and tells every checker about their reads and
 *     writes;
 *  5. after loading, ftrace patches the module's `__fentry__` sites and the
 *     poisoner starts (it needs the module's functions and frame sizes);
 *  6. init_module() and cleanup_module() run; every checker's queue is
 *     drained whatever happened, and the findings are symbolized with the
 *     module's symbols and DWARF line tables, each tagged with its checker
 *     and region (filter them to split heap from stack). The attached
 *     objects are in the result's `checkers`, for their statistics.
 */
import { startModule, finishModule, sessionStep, type ModuleRunOptions, type ModuleRunResult, type ModuleSession } from '../kernel/module-run.js';
import { installKernelApi, type KernelApi } from '../kernel/kapi.js';
import type { LoadedModule } from '../kernel/module.js';
import type { Kernel } from '../kernel/kernel.js';
import type { GuestAccessor } from '../kernel/printk.js';
import { PageHidingService } from '../kernel/page-hiding.js';
import type { StopReason } from '../cpu/stop.js';
import { Kmemcheck } from '../shadow/kmemcheck.js';
import { InlineChecker } from '../shadow/inline.js';
import { PreciseStack } from '../shadow/stack-precise.js';
import { kmemcheckSlabHooks, type ShadowRules, type ShadowRuleOptions } from '../shadow/rules.js';
import type { ErrorQueue, KmemcheckError } from '../shadow/errors.js';
import { StackRules } from '../shadow/stack.js';
import { findingFrame, formatPosition, formatSymbol, formatLost, formatReport, toFinding, type CheckerName, type Finding, type FindingRegion, type SourceLocator, type Symbolizer } from '../shadow/report.js';
import { moduleLocator, moduleSymbolizer } from '../kernel/symbols.js';
import { checkedAccessor, type NativeAccessObserver } from '../shadow/accessor.js';
import { ObjectOwners } from '../shadow/object-owner.js';
import { enterRing1, ring0Stack, type Ring1Layout } from '../rings/ring1.js';
import { Cpl1StackTracker, explainStackTripleFault } from '../rings/stack-tracker.js';
import { Ring1Tasks } from '../rings/ring1-tasks.js';
import { StackPoisoner } from '../ftrace/poison.js';
import type { HeapMode, StackMode } from './modes.js';
import { finishModuleServices, installModuleServices, type ModuleServiceOptions } from './module-services.js';

export { checkedAccessor, type NativeAccessObserver };

export { STACK_MODES, type HeapMode, type StackMode } from './modes.js';

/** What a `whileLoaded` client gets: the kernel, the module, its API, the checked accessor and the heap checker. */
export interface LoadedContext {
  kernel: Kernel;
  module: LoadedModule;
  api: KernelApi;
  /** Guest memory as the natives see it: reaches hidden pages and tells the checkers (writes initialize). */
  memory: GuestAccessor;
  /** The heap checker, when one runs (its shadow: markUnallocated, markInitialized). */
  heap: Kmemcheck | InlineChecker | null;
}

export interface CheckedRunOptions extends Omit<ModuleRunOptions, 'exports' | 'kernel' | 'onLoad' | 'whileLoaded'> {
  /** After init_module() succeeded, before cleanup_module() (ModuleRunOptions.whileLoaded), with the checkers' context. */
  whileLoaded?(ctx: LoadedContext, budget: number): { instructions: number; stop: StopReason | null; what?: string };
  /** The heap checker: fault-driven kmemcheck, the inline checker, or none (null, the default). */
  heap?: HeapMode | null;
  /** The stack strategy, or none (null, the default). */
  stack?: StackMode | null;
  /** Privilege level of kernel code: 1 by default with `stack: 'cpl1'`, else 0. */
  kernelRing?: 0 | 1;
  /** Shadow rule options of the heap checker and the stack checkers (partialOk, oneShot). */
  rules?: ShadowRuleOptions;
  /** ftrace's poison word (default: the poisoner's). */
  poison?: number;
  /** gcc -fstack-usage output for the module (frame sizes for ftrace's poisoning). */
  stackUsage?: string | null;
  /** The precise oracle checks natives' 32-bit stack-argument reads (printk's varargs); default true. */
  checkNatives?: boolean;
  /** After the module is loaded and every checker attached, before init_module() runs (a debugger attaches here: src/gdb). */
  onAttached?(ctx: AttachedContext): void;
  /** The watch framework's and virtual MMIO's options (`--overlay-save`, `--mmiotrace`). */
  services?: ModuleServiceOptions;
  /** Kernel boot parameters (`--kernel-param page_owner=on`). */
  kernelParams?: readonly string[];
}

/** What `onAttached` gets: the machine, the module, the checkers' error queues and the symbolizers reports use. */
export interface AttachedContext {
  kernel: Kernel;
  module: LoadedModule;
  /** The kernel API (kprobes, kallsyms: --bpftrace attaches here). */
  api: KernelApi;
  queues: { checker: CheckerName; region: FindingRegion; errors: ErrorQueue }[];
  symbolize: Symbolizer;
  locate: SourceLocator;
}

export interface CheckSummary {
  /** Findings drained, all checkers. */
  findings: number;
  /** Errors that did not fit in a queue. */
  lost: number;
  /** #PF on hidden pages handled (kmemcheck and the CPL-1 tracker share the service). */
  faults: number;
  /** Single steps after them. */
  singleSteps: number;
  /** Privileged instructions the ring-0 #GP handler emulated for CPL-1 code. */
  emulated: number;
  /** Function entries ftrace saw. */
  tracedCalls: number;
}

/**
 * The objects the run attached, for their statistics and state after the
 * run (each null when not chosen, or when the run threw before attaching
 * it). Their queues are already drained into `findings`/`reports`.
 */
export interface CheckerHandles {
  /** The heap checker: Kmemcheck (`heap: 'kmemcheck'`) or InlineChecker (`heap: 'inline'`). */
  heap: Kmemcheck | InlineChecker | null;
  /** The stack checker: Cpl1StackTracker (`stack: 'cpl1'`) or PreciseStack (`stack: 'precise'`). */
  stack: Cpl1StackTracker | PreciseStack | null;
  /** ftrace's stack poisoner (`stack: 'ftrace'`), detached after the run. */
  poisoner: StackPoisoner | null;
  /** The ring-1 layout when the kernel ran at CPL 1. */
  ring1: Ring1Layout | null;
}

export interface CheckedRunResult {
  /** The module run; null when it threw (see `error`). */
  run: ModuleRunResult | null;
  error: unknown;
  module: LoadedModule | null;
  api: KernelApi | null;
  findings: Finding[];
  /** The shadow checkers' drained error records (kmemcheck's queue format), oldest first per checker; the same errors as `findings` minus ftrace's. */
  errors: KmemcheckError[];
  /** Text reports (kmemcheck's format; ftrace's own lines), then "Lost N" lines. */
  reports: string[];
  /** The text report of each finding: `findingReports[i]` is `findings[i]`'s (suppressions drop both). */
  findingReports: string[];
  summary: CheckSummary;
  /** Why the machine stopped, when a strategy can explain it better than the stop itself (the #DF of cpl1 at ring 0). */
  explanation: string | null;
  symbolize: Symbolizer;
  locate: SourceLocator;
  checkers: CheckerHandles;
  /**
   * Give the machine's RAM back for the next run in this process
   * (CPU.release: zeroed and pooled; not detached, so nothing may read it
   * through this result afterwards), with the checkers' shadows
   * (Shadow.release) and the saved allocation stacks, so a loop of runs
   * reuses them instead of making V8 collect garbage for each new one. What the result holds as data stays (findings, reports,
   * summary, the run's console and stop); `api`, `checkers` and `module`
   * must not touch the machine afterwards, and a session that goes on
   * (the fuzzer's snapshot) must not be released. Optional: an unreleased
   * machine is simply collected.
   */
  release(): void;
}

/** A checker whose findings the run drains at the end. */
interface Drainable {
  checker: CheckerName;
  region: FindingRegion;
  rules: ShadowRules;
}

/** Run a module with the chosen checkers. Never throws for the run itself: see `error`. */
export function runChecked(object: Uint8Array | { path: string }, opts: CheckedRunOptions = {}): CheckedRunResult {
  const s = startChecked(object, opts);
  return 'summary' in s ? s : finishChecked(s, opts.whileLoaded);
}

/**
 * A checked run with its module loaded and initialized (init_module()
 * returned), the checkers attached: what startChecked() leaves for
 * checkedStep() and finishChecked(). Like ModuleSession, it holds all the
 * run's state, so a machine snapshot with the session as a root restores it.
 */
export interface CheckedSession {
  module: ModuleSession;
  ctx: LoadedContext;
  stack: StackMode | null;
  kernelRing: 0 | 1;
  drainables: Drainable[];
  finishers: (() => void)[];
  hiding: PageHidingService | null;
  checkers: CheckerHandles;
  symbolize: Symbolizer;
  locate: SourceLocator;
  /** The machine (null when it never booted): the watch framework's services are finished on it. */
  kernel: Kernel | null;
  /** Heap objects' allocation and free stacks (kmemcheck runs), for the heap findings' reports. */
  owners: ObjectOwners | null;
}

/**
 * Boot, attach the checkers, load and initialize: a session, or the
 * result when the run is already over (the module did not load, init
 * failed or stopped).
 */
export function startChecked(object: Uint8Array | { path: string }, opts: Omit<CheckedRunOptions, 'whileLoaded'> & { whileLoaded?: unknown } = {}): CheckedSession | CheckedRunResult {
  const { heap = null, stack = null, rules = {}, poison, stackUsage, checkNatives, kernelRing: ring, whileLoaded: _w, onAttached, services, kernelParams, ...runOpts } = opts;
  const kernelRing = ring ?? (stack === 'cpl1' ? 1 : 0);

  let api: KernelApi | null = null;
  let mod: LoadedModule | null = null;
  const symbolize = moduleSymbolizer(() => mod, () => api);
  const locate = moduleLocator(() => mod, (line) => runOpts.onDiagnostic?.(line));
  const drainables: Drainable[] = [];
  let heapEngine: Kmemcheck | InlineChecker | null = null;
  let stackChecker: Cpl1StackTracker | PreciseStack | null = null;
  let ring1: Ring1Layout | null = null;
  let hiding: PageHidingService | null = null;
  const finishers: (() => void)[] = [];
  let poisoner: StackPoisoner | null = null;
  let memory: GuestAccessor | null = null;
  let owners: ObjectOwners | null = null;
  let kernel: Kernel | null = null;

  let started: ModuleSession | ModuleRunResult | null = null;
  let error: unknown = null;
  try {
    started = startModule(object, {
      ...runOpts,
      // Whether a client will run while the module is loaded (startModule() warns about a module with nothing to run otherwise).
      ...(_w ? { whileLoaded: () => ({ instructions: 0, stop: null }) } : {}),
      exports: (k, io) => {
        kernel = k;
        if (kernelRing === 1) ring1 = enterRing1(k);
        if (heap === 'kmemcheck') {
          const e = Kmemcheck.attach(k, rules);
          hiding = e.hiding;
          heapEngine = e;
          drainables.push({ checker: 'kmemcheck', region: 'heap', rules: e });
        } else if (heap === 'inline') {
          const e = InlineChecker.attach(k, rules);
          heapEngine = e;
          drainables.push({ checker: 'inline', region: 'heap', rules: e });
          finishers.push(() => e.detach());
        }
        const observers: NativeAccessObserver[] = [];
        if (stack === 'precise') {
          const s = PreciseStack.attach(k, {
            ...rules,
            ...(checkNatives !== undefined ? { checkNatives } : {}),
            ...(ring1 ? { low: (ring1 as Ring1Layout).stackLow, high: (ring1 as Ring1Layout).stackHigh } : {}),
          });
          stackChecker = s;
          observers.push(s);
          drainables.push({ checker: 'precise', region: 'stack', rules: s });
          finishers.push(() => s.detach());
        } else if (stack === 'cpl1') {
          // At ring 0 the tracker hides the ring-0 kernel stack: the demonstration of why the plan needs CPL 1.
          const t = Cpl1StackTracker.attach(k, (ring1 as Ring1Layout | null) ?? ring0Stack(), rules);
          stackChecker = t;
          hiding = t.hiding;
          observers.push(t);
          drainables.push({ checker: 'cpl1', region: 'stack', rules: t });
          finishers.push(() => t.detach());
        }
        // --stack ftrace attaches in onLoad: it patches the module's __fentry__ sites.
        const h = heapEngine as Kmemcheck | InlineChecker | null;
        // Always the checked accessor: the watch framework may hide pages the natives read (printk of a watched buffer).
        memory = checkedAccessor(k, h ? [h] : [], observers);
        api = installKernelApi(k, {
          console: (text) => io.console(text),
          hooks: h ? kmemcheckSlabHooks(h) : undefined,
          memory: memory ?? undefined,
          kmemcheck: h ? { markInitialized: (a, n) => h.markInitialized(a, n), setEnabled: (on) => h.setEnabled(on) } : undefined,
          kernelParams,
        });
        // Heap findings name the object and the stacks that allocated and freed it.
        if (h) owners = ObjectOwners.attach(k, api.mm.hooks);
        // Kernel threads run at CPL 1 on their own kernel stacks: the tracker follows the task switches to them.
        if (stackChecker instanceof Cpl1StackTracker && ring1) stackChecker.followTasks(Ring1Tasks.attach(k, ring1, api.sched));
        installModuleServices(k, api, services);
        return api;
      },
      onLoad: (k, m) => {
        mod = m;
        api?.symbolizers.push((a) => m.symbolize(a));
        if (stack === 'ftrace') {
          if (m.object.fentrySites.length === 0) {
            runOpts.onDiagnostic?.(
              `kmemsim: ${runOpts.name ?? 'module'}: no __fentry__ call sites: --stack ftrace traces nothing (compile the module with -pg -mfentry, as kmemsim run FILE.c --stack ftrace does)`,
            );
          }
          const r1 = ring1 as Ring1Layout | null;
          poisoner = StackPoisoner.attach(k, m, {
            stackUsage,
            ...(poison !== undefined ? { pattern: poison } : {}),
            ...(r1 ? { stackBottom: r1.stackLow } : {}),
            symbolize,
            locate,
          });
        }
        onAttached?.({ kernel: k, module: m, api: api!, queues: drainables.map((d) => ({ checker: d.checker, region: d.region, errors: d.rules.errors })), symbolize, locate });
      },
    });
  } catch (e) {
    error = e;
  }
  const session: CheckedSession = {
    module: null as unknown as ModuleSession,
    ctx: null as unknown as LoadedContext,
    stack,
    kernelRing,
    drainables,
    finishers,
    hiding: hiding as PageHidingService | null,
    checkers: {
      heap: heapEngine as Kmemcheck | InlineChecker | null,
      stack: stackChecker as Cpl1StackTracker | PreciseStack | null,
      poisoner: poisoner as StackPoisoner | null,
      ring1: ring1 as Ring1Layout | null,
    },
    symbolize,
    locate,
    kernel: kernel as Kernel | null,
    owners: owners as ObjectOwners | null,
  };
  if (started === null || 'exitCode' in started) return checkedResult(session, started, error, mod, api);
  session.module = started;
  session.ctx = { kernel: started.kernel, module: started.module, api: api!, memory: (memory as GuestAccessor | null) ?? started.kernel.mem, heap: heapEngine as Kmemcheck | InlineChecker | null };
  return session;
}

/** Run `step` while the module is loaded; the run's result when it stopped the machine, else null. */
export function checkedStep(s: CheckedSession, step: NonNullable<CheckedRunOptions['whileLoaded']>): CheckedRunResult | null {
  let stopped: ModuleRunResult | null;
  try {
    stopped = sessionStep(s.module, (_k, _m, budget) => step(s.ctx, budget));
  } catch (e) {
    return checkedResult(s, null, e, s.module.module, s.ctx.api);
  }
  return stopped ? checkedResult(s, stopped, null, s.module.module, s.ctx.api) : null;
}

/** The rest of the run: `whileLoaded`, cleanup_module(), the checkers' findings drained. */
export function finishChecked(s: CheckedSession, whileLoaded?: CheckedRunOptions['whileLoaded']): CheckedRunResult {
  let run: ModuleRunResult | null = null;
  let error: unknown = null;
  try {
    run = finishModule(s.module, whileLoaded ? (_k, _m, budget) => whileLoaded(s.ctx, budget) : undefined);
  } catch (e) {
    error = e;
  }
  return checkedResult(s, run, error, s.module.module, s.ctx.api);
}

/** Detach what only lives for one run, drain every checker's queue and build the result. */
function checkedResult(s: CheckedSession, run: ModuleRunResult | null, error: unknown, mod: LoadedModule | null, api: KernelApi | null): CheckedRunResult {
  const { symbolize, locate } = s;
  for (const f of s.finishers) f();

  const findings: Finding[] = [];
  const reports: string[] = [];
  const findingReports: string[] = [];
  let lost = 0;
  const allErrors: KmemcheckError[] = [];
  for (const d of s.drainables) {
    const errs: KmemcheckError[] = d.rules.errors.drain();
    allErrors.push(...errs);
    const l = d.rules.errors.takeLost();
    lost += l;
    for (const e of errs) {
      const finding = toFinding(e, symbolize, locate, { checker: d.checker, region: d.region });
      let text = formatReport(e, { symbolize, locate, region: d.region });
      const o = d.region === 'heap' ? s.owners?.describe(e.address, e.icount, symbolize, locate) ?? null : null;
      if (o !== null) {
        finding.object = o.object;
        text += '\n' + o.lines.join('\n');
      }
      const originEip = d.region === 'stack' && finding.kind === 'uninitialized' && d.rules instanceof StackRules ? d.rules.originOf(e.address) : null;
      if (originEip !== null) {
        finding.origin = findingFrame(originEip, false, symbolize, locate);
        text += `\nUninit was created at: the stack frame of ${finding.origin.function ?? '?'}, grown by\n [<${originEip.toString(16).padStart(8, '0')}>] ${formatSymbol(originEip, symbolize)}${formatPosition(locate(originEip))}`;
      }
      findings.push(finding);
      reports.push(text);
      findingReports.push(text);
    }
    if (l > 0) reports.push(formatLost(l));
  }
  const w = finishModuleServices(s.kernel, s.symbolize, s.locate);
  findings.push(...w.findings);
  reports.push(...w.reports);
  lost += w.lost;
  const p = s.checkers.poisoner;
  if (p) {
    findings.push(...p.findings);
    reports.push(...p.reports);
    findingReports.push(...p.reports);
    p.detach();
  }
  const hs = s.hiding?.stats;
  const r1 = s.checkers.ring1;
  return {
    run,
    error,
    module: mod,
    api,
    findings,
    errors: allErrors,
    reports,
    findingReports,
    summary: {
      findings: findings.length,
      lost,
      faults: hs?.faults ?? 0,
      singleSteps: hs?.steps ?? 0,
      emulated: r1?.counters.total ?? 0,
      tracedCalls: p?.stats.entries ?? 0,
    },
    explanation: explainStop(run?.stop ?? null, s.stack, s.kernelRing),
    symbolize,
    locate,
    checkers: { ...s.checkers },
    release: () => {
      for (const d of s.drainables) d.rules.release();
      s.owners?.release();
      s.kernel?.cpu.release();
    },
  };
}

/** A stop a strategy explains: the triple fault of the CPL-1 tracker run with the kernel at ring 0. */
function explainStop(stop: StopReason | null, stack: StackMode | null, ring: number): string | null {
  if (stop === null || stack !== 'cpl1' || ring !== 0) return null;
  return explainStackTripleFault(stop);
}
