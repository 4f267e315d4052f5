/**
 * A kernel-module run with Ingo's stack poisoning (`--stack ftrace`): the
 * module runner (src/kernel/module-run.ts) with the kernel API installed,
 * and a StackPoisoner attached in onLoad — after the module is loaded and
 * before init_module() runs — so every traced call of init and cleanup is
 * seen. The module should be compiled with `-pg -mfentry` (compileModule's
 * `ftrace: true`; its CompileResult.stackUsage is the `.su` data to pass
 * here). A module without fentry sites runs untraced and finds nothing.
 */
import { runModule, type ModuleRunOptions, type ModuleRunResult } from '../kernel/module-run.js';
import { installKernelApi, type KernelApi } from '../kernel/kapi.js';
import type { LoadedModule } from '../kernel/module.js';
import type { Finding, SymbolInfo, Symbolizer } from '../shadow/report.js';
import { StackPoisoner, type FrameSize, type StackPoisonerOptions } from './poison.js';

export interface StackPoisoningRunOptions extends Omit<ModuleRunOptions, 'exports' | 'kernel'> {
  /** The module's -fstack-usage text (CompileResult.stackUsage); without it frame sizes come from prologue analysis. */
  stackUsage?: string | null;
  /** Poisoner options (pattern, checkNarrow, ...); false: a plain run with the same kernel API (for comparing). */
  poison?: Omit<StackPoisonerOptions, 'stackUsage' | 'symbolize'> | false;
}

export interface StackPoisoningRunResult {
  /** The module run; null when it threw (see `error`). */
  run: ModuleRunResult | null;
  error: unknown;
  module: LoadedModule | null;
  api: KernelApi | null;
  poisoner: StackPoisoner | null;
  findings: Finding[];
  /** One kernel-log style report per finding. */
  reports: string[];
  /** Per function seen: the frame size poisoned at its return and where it came from. */
  frameSources: Map<string, FrameSize | null>;
  symbolize: Symbolizer;
}

/** Run a module like runModule() with the stack poisoner attached. Never throws for the run itself: see `error`. */
export function runModuleWithStackPoisoning(object: Uint8Array | { path: string }, opts: StackPoisoningRunOptions = {}): StackPoisoningRunResult {
  const { stackUsage, poison = {}, ...runOpts } = opts;
  let api: KernelApi | null = null;
  let mod: LoadedModule | null = null;
  let poisoner: StackPoisoner | null = null;
  const symbolize: Symbolizer = (addr): SymbolInfo | null => {
    const m = mod?.symbolize(addr >>> 0);
    if (m) return { function: m.name, offset: m.offset, size: m.size };
    const h = api?.symbolize(addr >>> 0);
    if (h) return { function: h.name, offset: h.offset, size: h.size };
    return null;
  };
  let run: ModuleRunResult | null = null;
  let error: unknown = null;
  try {
    run = runModule(object, {
      ...runOpts,
      exports: (k, io) => (api = installKernelApi(k, { console: (text) => io.console(text) })),
      onLoad: (k, m) => {
        mod = m;
        api?.symbolizers.push((a) => m.symbolize(a));
        if (poison !== false) poisoner = StackPoisoner.attach(k, m, { ...poison, stackUsage, symbolize });
        runOpts.onLoad?.(k, m);
      },
    });
  } catch (e) {
    error = e;
  }
  const p = poisoner as StackPoisoner | null;
  return {
    run, error, module: mod, api, poisoner: p,
    findings: p ? [...p.findings] : [],
    reports: p ? [...p.reports] : [],
    frameSources: p ? p.frameSources : new Map(),
    symbolize,
  };
}
