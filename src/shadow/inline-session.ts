/**
 * A kernel-module run with the precise inline checker (./inline.ts): the
 * same wiring as runModuleWithKmemcheck() (./session.ts) — same kernel API,
 * same allocator-hook policy, same symbolizer, the queue drained whatever
 * happened — but no page-hiding service: the checker is attached in the
 * `exports` step and single-steps every guest instruction, checking its
 * accesses before it runs.
 */
import { runModule, type ModuleRunOptions, type ModuleRunResult } from '../kernel/module-run.js';
import { installKernelApi, type KernelApi } from '../kernel/kapi.js';
import type { Kernel } from '../kernel/kernel.js';
import type { GuestAccessor } from '../kernel/printk.js';
import type { LoadedModule } from '../kernel/module.js';
import { InlineChecker, inlineSlabHooks, toInlineFinding, type InlineFinding, type InlineOptions } from './inline.js';
import type { KmemcheckError } from './errors.js';
import { formatLost, formatReport, type SourceLocator, type Symbolizer } from './report.js';
import { moduleLocator, moduleSymbolizer } from './session.js';

export interface InlineRunOptions extends Omit<ModuleRunOptions, 'exports' | 'kernel'> {
  /** Run with the inline checker (default true); its options, or false for a plain run. */
  inline?: boolean | InlineOptions;
}

export interface InlineSummary {
  findings: number;
  lost: number;
  /** Guest instructions decoded and checked. */
  instructions: number;
}

export interface InlineRunResult {
  run: ModuleRunResult | null;
  error: unknown;
  engine: InlineChecker | null;
  api: KernelApi | null;
  module: LoadedModule | null;
  errors: KmemcheckError[];
  findings: InlineFinding[];
  reports: string[];
  summary: InlineSummary;
  symbolize: Symbolizer;
  /** Source positions from the module's (and runtime's) DWARF line tables. */
  locate: SourceLocator;
}

/** The natives' accessor: the kernel's page walk; writes initialize the bytes. */
export function inlineAccessor(kernel: Kernel, c: InlineChecker): GuestAccessor {
  return {
    read: (lin, len) => kernel.mem.read(lin, len),
    read32(lin) {
      const b = kernel.mem.read(lin, 4);
      return b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24);
    },
    write(lin, data) {
      kernel.mem.write(lin, data);
      c.markInitialized(lin, data.length);
    },
  };
}

/** Run a module like runModuleWithKmemcheck(), with the inline checker. Never throws for the run itself. */
export function runModuleWithInlineChecker(object: Uint8Array | { path: string }, opts: InlineRunOptions = {}): InlineRunResult {
  const { inline = true, ...runOpts } = opts;
  const checkerOpts: InlineOptions | null = inline === false ? null : inline === true ? {} : inline;
  let engine: InlineChecker | null = null;
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
        if (checkerOpts) engine = InlineChecker.attach(k, checkerOpts);
        const e = engine as InlineChecker | null;
        api = installKernelApi(k, {
          console: (text) => io.console(text),
          hooks: e ? inlineSlabHooks(e) : undefined,
          memory: e ? inlineAccessor(k, e) : undefined,
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

  const eng = engine as InlineChecker | null;
  eng?.detach();
  const errors = eng ? eng.recall() : [];
  const lost = eng ? eng.errors.takeLost() : 0;
  const reports = errors.map((e) => formatReport(e, { symbolize, locate }));
  if (lost > 0) reports.push(formatLost(lost));
  return {
    run,
    error,
    engine: eng,
    api,
    module: mod,
    errors,
    findings: errors.map((e) => toInlineFinding(e, symbolize, locate)),
    reports,
    summary: { findings: errors.length, lost, instructions: eng?.stats.instructions ?? 0 },
    symbolize,
    locate,
  };
}
