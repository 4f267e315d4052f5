/**
 * A kernel-module run with the precise inline checker (./inline.ts): the
 * same wiring as runModuleWithKmemcheck() (./session.ts) — same kernel API,
 * same allocator-hook policy, same symbolizer, the queue drained whatever
 * happened — but no page-hiding service: the checker is attached in the
 * `exports` step and single-steps every guest instruction, checking its
 * accesses before it runs.
 */
import type { ModuleRunOptions, ModuleRunResult } from '../kernel/module-run.js';
import type { KernelApi } from '../kernel/kapi.js';
import type { Kernel } from '../kernel/kernel.js';
import type { GuestAccessor } from '../kernel/printk.js';
import type { LoadedModule } from '../kernel/module.js';
import { InlineChecker, toInlineFinding, type InlineFinding, type InlineOptions } from './inline.js';
import type { KmemcheckError } from './errors.js';
import type { SourceLocator, Symbolizer } from './report.js';
import { runCheckedModule } from './session.js';

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
  const r = runCheckedModule(object, runOpts, {
    attach: (k) => (checkerOpts ? InlineChecker.attach(k, checkerOpts) : null),
    accessor: inlineAccessor,
    finish: (c) => c.detach(),
  });
  return {
    run: r.run,
    error: r.error,
    engine: r.engine,
    api: r.api,
    module: r.module,
    errors: r.errors,
    findings: r.errors.map((e) => toInlineFinding(e, r.symbolize, r.locate)),
    reports: r.reports,
    summary: { findings: r.errors.length, lost: r.lost, instructions: r.engine?.stats.instructions ?? 0 },
    symbolize: r.symbolize,
    locate: r.locate,
  };
}
