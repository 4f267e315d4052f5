/**
 * A kernel-module run with kmemcheck: the wiring between the module runner
 * (src/kernel/module-run.ts), the kernel API (src/kernel/kapi.ts) and the
 * kmemcheck engine (./kmemcheck.ts), as `kmemsim run mod.c --kmemcheck`
 * uses it.
 *
 * The order matters:
 *  1. runModule() creates the kernel and installs the oops handlers
 *     (installKernelOops) for every vector;
 *  2. then, in the `exports` step, Kmemcheck.attach() installs the
 *     page-hiding service, which takes over #PF and #DB and chains to the
 *     handlers installed before it (the oops handlers): a fault that is not
 *     on a hidden page still oopses;
 *  3. installKernelApi() starts the memory manager with the engine's
 *     allocator hooks (kmemcheckSlabHooks), so the hooks see every slab
 *     from the first; the natives read and write guest pointers through an
 *     accessor that can reach hidden pages, and their writes (snprintf into
 *     a kmalloc'd buffer) mark the bytes initialized as kernel code writing
 *     them would;
 *  4. the module is loaded (with the runtime object), init_module() and
 *     cleanup_module() run;
 *  5. the error queue is drained (also when the run stopped abnormally or
 *     threw), each error symbolized with the module's symbols (module, then
 *     runtime) and the kernel API's routine names, and located with their
 *     DWARF line tables (`file:line`, see moduleLocator) when they have one.
 *
 * Without kmemcheck (`kmemcheck: false`) the same runner installs the same
 * API (the kmemcheck_* exports do nothing), for comparing runs.
 */
import { runModule, type ModuleRunOptions, type ModuleRunResult } from '../kernel/module-run.js';
import { installKernelApi, type KernelApi } from '../kernel/kapi.js';
import type { Kernel } from '../kernel/kernel.js';
import type { GuestAccessor } from '../kernel/printk.js';
import type { LoadedModule } from '../kernel/module.js';
import { Kmemcheck, type KmemcheckOptions } from './kmemcheck.js';
import { checkedAccessor } from './accessor.js';
import { kmemcheckSlabHooks, type ShadowRules } from './rules.js';
import type { KmemcheckError } from './errors.js';
import { formatLost, formatReport, toFinding, type Finding, type SourceLocator, type SymbolInfo, type Symbolizer } from './report.js';
import { lineTableFor, type LineTable } from '../elf/dwarf-line.js';

/**
 * The accessor the kernel API's natives use under kmemcheck: the one
 * checked accessor (./accessor.ts), which reaches hidden pages; writes
 * mark the bytes initialized.
 */
export function kmemcheckAccessor(kernel: Kernel, engine: Kmemcheck): GuestAccessor {
  return checkedAccessor(kernel, [engine], []);
}

/** Module symbols (module, runtime), then the kernel API's routines (with offsets), then exact export names. */
export function moduleSymbolizer(getModule: () => LoadedModule | null, getApi: () => KernelApi | null): Symbolizer {
  return (addr: number): SymbolInfo | null => {
    const a = addr >>> 0;
    const mod = getModule();
    const m = mod?.symbolize(a);
    if (m) return { function: m.name, offset: m.offset, size: m.size };
    const h = getApi()?.symbolize(a);
    if (h) return { function: h.name, offset: h.offset, size: h.size };
    const name = mod?.exports.nameAt(a);
    if (name) return { function: name, offset: 0, size: 0 };
    return null;
  };
}

/**
 * Code address → `file:line` from the DWARF line tables of the module's
 * object and of the runtime (each read once, on first use, from the
 * relocated .debug_line: its addresses are load addresses). Null for an
 * address no table covers (an object compiled without -g, the kernel API).
 */
export function moduleLocator(getModule: () => LoadedModule | null): SourceLocator {
  const tables = new Map<object, LineTable | null>();
  const tableOf = (o: { debugSection(name: string): Uint8Array | null }): LineTable | null => {
    if (!tables.has(o)) tables.set(o, lineTableFor(o));
    return tables.get(o)!;
  };
  return (addr: number) => {
    const mod = getModule();
    if (!mod) return null;
    const a = addr >>> 0;
    for (const o of [mod.object, mod.runtime]) {
      if (!o || !o.contains(a)) continue;
      const p = tableOf(o)?.lookup(a) ?? null;
      if (p) return { file: p.file, line: p.line };
    }
    return null;
  };
}

/** What a checked module run gives whichever checker it used. */
export interface CheckedModuleRun<E> {
  run: ModuleRunResult | null;
  error: unknown;
  engine: E | null;
  api: KernelApi | null;
  module: LoadedModule | null;
  errors: KmemcheckError[];
  lost: number;
  reports: string[];
  symbolize: Symbolizer;
  locate: SourceLocator;
}

/**
 * Run a module like runModule() with a shadow checker attached before the
 * kernel API is installed (so the allocator hooks see every slab), then
 * drain its reports whatever happened. The one runner behind
 * runModuleWithKmemcheck() and runModuleWithInlineChecker().
 */
export function runCheckedModule<E extends ShadowRules>(
  object: Uint8Array | { path: string },
  runOpts: Omit<ModuleRunOptions, 'exports' | 'kernel'>,
  checker: {
    /** Create and attach the checker (null: a plain run). */
    attach(k: Kernel): E | null;
    /** How the kernel API's natives read and write guest memory under this checker. */
    accessor(k: Kernel, e: E): GuestAccessor;
    /** Called before the queue is drained. */
    finish?(e: E): void;
  },
): CheckedModuleRun<E> {
  let engine: E | null = null;
  let api: KernelApi | null = null;
  let mod: LoadedModule | null = null;
  const symbolize = moduleSymbolizer(() => mod, () => api);
  const locate = moduleLocator(() => mod);

  let run: ModuleRunResult | null = null;
  let error: unknown = null;
  try {
    run = runModule(object, {
      ...runOpts,
      exports: (k, io) => {
        // The oops handlers are installed by now: kmemcheck's page-hiding service chains to them.
        const e = (engine = checker.attach(k));
        api = installKernelApi(k, {
          console: (text) => io.console(text),
          hooks: e ? kmemcheckSlabHooks(e) : undefined,
          memory: e ? checker.accessor(k, e) : undefined,
          kmemcheck: e ? { markInitialized: (a, n) => e.markInitialized(a, n), setEnabled: (on) => e.setEnabled(on) } : undefined,
        });
        return api;
      },
      onLoad: (k, m) => {
        mod = m;
        api?.symbolizers.push((a) => m.symbolize(a));
        runOpts.onLoad?.(k, m);
      },
    });
  } catch (e) {
    error = e;
  }

  // Drain the queue whatever happened.
  const eng = engine as E | null;
  if (eng) checker.finish?.(eng);
  const errors = eng ? eng.errors.drain() : [];
  const lost = eng ? eng.errors.takeLost() : 0;
  const reports = errors.map((e) => formatReport(e, { symbolize, locate }));
  if (lost > 0) reports.push(formatLost(lost));
  return { run, error, engine: eng, api, module: mod, errors, lost, reports, symbolize, locate };
}
