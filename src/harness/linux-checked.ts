/**
 * kmemcheck over a whole system: a user program and the kernel modules it
 * drives (`kmemsim run --kmemcheck --module m.ko PROGRAM`; also
 * `--kmemcheck-inline`, `--stack precise` and `--stack ftrace`, whose
 * poisoner follows every module and task: startSystemPoisoner()). The heap checker
 * is attached to the kernel before the module kernel's API is installed, so
 * every slab object a module allocates is tracked, and module code reached
 * from the program's system calls (a driver's read, write, ioctl) is checked
 * through the same fault-driven path as in a module run; the findings name
 * the module's functions and source lines, also after rmmod.
 */
import { runUserProgram, type RunOptions, type RunResult } from '../kernel/process.js';
import type { KernelApi, KernelApiOptions } from '../kernel/kapi.js';
import type { Kernel } from '../kernel/kernel.js';
import { Kmemcheck } from '../shadow/kmemcheck.js';
import { InlineChecker } from '../shadow/inline.js';
import { PreciseStack } from '../shadow/stack-precise.js';
import { kmemcheckSlabHooks, type ShadowRuleOptions } from '../shadow/rules.js';
import { checkedAccessor } from '../shadow/accessor.js';
import { formatLost, formatReport, toFinding, type Finding, type SourceLocator, type Symbolizer } from '../shadow/report.js';
import { moduleLocator } from '../kernel/symbols.js';
import type { ModuleLoader } from '../linux/lkm.js';
import { PageHidingService } from '../kernel/page-hiding.js';
import { enterRing1, type Ring1Layout } from '../rings/ring1.js';
import { Ring1Tasks } from '../rings/ring1-tasks.js';
import { Cpl1StackTracker } from '../rings/stack-tracker.js';
import { StackPoisoner } from '../ftrace/poison.js';
import { registerModuleNotifier } from '../kernel/module-notifier.js';

export interface CheckedProgramResult {
  run: RunResult;
  findings: Finding[];
  /** kmemcheck's text reports, then a "Lost N" line when the queue overflowed. */
  reports: string[];
  summary: { findings: number; lost: number; faults: number; singleSteps: number; tracedCalls: number };
}

/** Which checkers watch the system: the heap checker (fault-driven or inline) and/or a stack checker. */
export interface ProgramCheckers {
  heap: 'kmemcheck' | 'inline' | null;
  /**
   * `precise`: the oracle on every task's kernel stack; `cpl1`: the kernel's guest code at CPL 1, each task
   * on its own tracked CPL-1 stack; `ftrace`: Ingo Molnar's frame poisoning in every module and task.
   */
  stack: 'precise' | 'cpl1' | 'ftrace' | null;
  /** ftrace's poison word (default: the poisoner's). */
  poison?: number;
  /** ftrace's frame sizes: each module's gcc -fstack-usage output, by module name (as the loader names it). */
  stackUsage?: ReadonlyMap<string, string>;
}

/**
 * Run `elf` with its modules under the heap checker and/or a stack
 * checker: precise on the kernel stack of every task the system calls and
 * the module code they reach run on — each process's and each kernel
 * thread's (src/shadow/task-stacks.ts); cpl1 with the kernel's guest code
 * at CPL 1, each task on its own CPL-1 stack, every one of them tracked
 * (src/rings/ring1-tasks.ts); or ftrace's poisoning (every module, every
 * task's kernel stack).
 */
export function runProgramChecked(elf: Uint8Array, opts: RunOptions, rules: ShadowRuleOptions = {}, checkers: ProgramCheckers = { heap: 'kmemcheck', stack: null }): CheckedProgramResult {
  let engine: Kmemcheck | InlineChecker | null = null;
  let stackEngine: PreciseStack | Cpl1StackTracker | null = null;
  let ring1: Ring1Layout | null = null;
  let api: KernelApi | null = null;
  let loader: ModuleLoader | null = null;
  let kernel: Kernel | null = null;
  let poisoner: StackPoisoner | null = null;
  let stopPoisoner = (): void => {};
  const symbolize = systemSymbolizer(() => api, () => loader);
  const locate = systemLocator(() => loader);
  // Kmemcheck on the kernel before the module kernel's API exists, so every slab object is tracked.
  const checkerOptions = (k: Kernel): Partial<KernelApiOptions> => {
    kernel = k;
    const e = checkers.heap === 'kmemcheck' ? Kmemcheck.attach(k, rules) : checkers.heap === 'inline' ? InlineChecker.attach(k, rules) : null;
    engine = e;
    // cpl1: the ring-1 layout (entered at the first guest call: the CPU may be in a system call now) and its tracker.
    if (checkers.stack === 'cpl1') ring1 = enterRing1(k, { switchNow: false });
    const st = checkers.stack === 'precise' ? PreciseStack.attach(k, rules) : ring1 ? Cpl1StackTracker.attach(k, ring1, rules) : null;
    stackEngine = st;
    return {
      hooks: e ? kmemcheckSlabHooks(e) : undefined,
      memory: checkedAccessor(k, e ? [e] : [], st ? [st] : []),
      kmemcheck: e ? { markInitialized: (a, n) => e.markInitialized(a, n), setEnabled: (on) => e.setEnabled(on) } : undefined,
    };
  };
  const run = runUserProgram(elf, {
    ...opts,
    kernelApi: {
      // The checker's options over another hook's (the module services', which install after the checker).
      options: (k) => ({ ...opts.kernelApi?.options(k), ...checkerOptions(k) }),
      exports: (a, sys) => {
        // Every task's kernel code at CPL 1 on its own stack, each stack tracked (after the processes became tasks).
        const r1 = ring1 as Ring1Layout | null;
        if (r1) (stackEngine as Cpl1StackTracker).followTasks(Ring1Tasks.attach(a.kernel, r1, a.sched));
        opts.kernelApi?.exports?.(a, sys);
      },
      installed: (a, l) => {
        api = a;
        loader = l;
        if (checkers.stack === 'ftrace') ({ poisoner, stopPoisoner } = startSystemPoisoner(a.kernel, checkers, symbolize, locate, opts.onDiagnostic));
        opts.kernelApi?.installed?.(a, l);
      },
    },
  });
  const findings: Finding[] = [];
  const reports: string[] = [];
  const e = engine as Kmemcheck | InlineChecker | null;
  const st = stackEngine as PreciseStack | Cpl1StackTracker | null;
  const p = poisoner as StackPoisoner | null;
  stopPoisoner();
  if (!e && !st && !p) return { run, findings, reports, summary: { findings: 0, lost: 0, faults: 0, singleSteps: 0, tracedCalls: 0 } };
  let lost = 0;
  for (const [rules, checker, region] of [[e, checkers.heap, 'heap'], [st, checkers.stack, 'stack']] as const) {
    if (!rules) continue;
    for (const err of rules.errors.drain()) {
      findings.push(toFinding(err, symbolize, locate, { checker: checker!, region }));
      reports.push(formatReport(err, { symbolize, locate, region }));
    }
    lost += rules.errors.takeLost();
  }
  if (lost > 0) reports.push(formatLost(lost));
  if (p) {
    findings.push(...p.findings);
    reports.push(...p.reports);
  }
  const hs = kernel && (e || st) ? PageHidingService.of(kernel).stats : null;
  return { run, findings, reports, summary: { findings: findings.length, lost, faults: hs?.faults ?? 0, singleSteps: hs?.steps ?? 0, tracedCalls: p?.stats.entries ?? 0 } };
}

/**
 * `--stack ftrace` over a system: one poisoner for every module — those
 * `--module` preloads and those insmod loads later — told of each by the
 * module notifier (traced from before its init function runs, forgotten
 * before it is freed); every task's kernel stack is poisoned when it is
 * first switched in (src/ftrace/poison.ts), and ftrace keeps a return stack
 * per task, so the hooks follow whichever process or kernel thread runs
 * module code.
 */
function startSystemPoisoner(k: Kernel, checkers: ProgramCheckers, symbolize: Symbolizer, locate: SourceLocator, diagnostic?: (line: string) => void): { poisoner: StackPoisoner; stopPoisoner(): void } {
  const p = StackPoisoner.start(k, { ...(checkers.poison !== undefined ? { pattern: checkers.poison } : {}), symbolize, locate });
  const unregister = registerModuleNotifier(k, {
    coming: (m) => {
      if (m.object.fentrySites.length === 0) {
        diagnostic?.(`kmemsim: ${m.name}: no __fentry__ call sites: --stack ftrace traces nothing in it (build it with -pg -mfentry: kmemsim cc --cflags '-pg -mfentry', or give its .c file to --module)`);
      }
      p.addModule(m, checkers.stackUsage?.get(m.name) ?? null);
    },
    going: (m) => p.removeModule(m),
  });
  return {
    poisoner: p,
    stopPoisoner: () => {
      unregister();
      p.detach();
    },
  };
}

/** Functions of every module ever loaded (the newest first), then the kernel's natives. */
function systemSymbolizer(getApi: () => KernelApi | null, getLoader: () => ModuleLoader | null): Symbolizer {
  return (addr) => {
    const a = addr >>> 0;
    for (const m of [...(getLoader()?.history ?? [])].reverse()) {
      const s = m.mod.symbolize(a);
      if (s) return { function: s.name, offset: s.offset, size: s.size };
    }
    const h = getApi()?.symbolize(a);
    return h ? { function: h.name, offset: h.offset, size: h.size } : null;
  };
}

function systemLocator(getLoader: () => ModuleLoader | null): SourceLocator {
  const locators = new Map<object, SourceLocator>();
  return (addr) => {
    for (const m of [...(getLoader()?.history ?? [])].reverse()) {
      if (!m.mod.object.contains(addr) && !m.mod.runtime?.contains(addr)) continue;
      let l = locators.get(m);
      if (!l) {
        l = moduleLocator(() => m.mod);
        locators.set(m, l);
      }
      return l(addr);
    }
    return null;
  };
}
