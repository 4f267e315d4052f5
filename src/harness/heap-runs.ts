/**
 * The heap-checker runs tests and the benchmark use by name:
 * `runModuleWithKmemcheck` (the fault-driven engine) and
 * `runModuleWithInlineChecker` (the precise inline checker). Both are
 * runChecked() (./checked-run.ts) with one heap checker and no stack
 * checker, their results in the shape those callers read (the engine, its
 * errors, findings, reports and counters).
 */
import type { ModuleRunOptions, ModuleRunResult } from '../kernel/module-run.js';
import type { KernelApi } from '../kernel/kapi.js';
import type { LoadedModule } from '../kernel/module.js';
import type { Kmemcheck, KmemcheckOptions } from '../shadow/kmemcheck.js';
import type { InlineChecker, InlineOptions } from '../shadow/inline.js';
import type { KmemcheckError } from '../shadow/errors.js';
import type { Finding, SourceLocator, Symbolizer } from '../shadow/report.js';
import { runChecked, type CheckedRunResult } from './checked-run.js';

interface HeapRunResult<E> {
  /** The module run; null when it threw (the error is in `error`). */
  run: ModuleRunResult | null;
  /** What runModule() threw (a ModuleLoadError, or an internal error), after the queue was drained. */
  error: unknown;
  /** The engine (null for a plain run). */
  engine: E | null;
  api: KernelApi | null;
  module: LoadedModule | null;
  /** The drained errors, oldest first. */
  errors: KmemcheckError[];
  findings: Finding[];
  /** Each report in kmemcheck's text format, then the "Lost N error reports" line if any. */
  reports: string[];
  symbolize: Symbolizer;
  /** Source positions from the module's (and runtime's) DWARF line tables. */
  locate: SourceLocator;
}

export interface KmemcheckRunOptions extends Omit<ModuleRunOptions, 'exports' | 'kernel' | 'onLoad' | 'whileLoaded'> {
  /** Run with kmemcheck (default true); options for the engine, or false for a plain run. */
  kmemcheck?: boolean | KmemcheckOptions;
}

export interface KmemcheckSummary {
  findings: number;
  lost: number;
  /** Faults on hidden pages handled. */
  faults: number;
  /** Single steps completed after them. */
  singleSteps: number;
}

export interface KmemcheckRunResult extends HeapRunResult<Kmemcheck> {
  summary: KmemcheckSummary;
}

export interface InlineRunOptions extends Omit<ModuleRunOptions, 'exports' | 'kernel' | 'onLoad' | 'whileLoaded'> {
  /** Run with the inline checker (default true); its options, or false for a plain run. */
  inline?: boolean | InlineOptions;
}

export interface InlineSummary {
  findings: number;
  lost: number;
  /** Guest instructions decoded and checked. */
  instructions: number;
}

export interface InlineRunResult extends HeapRunResult<InlineChecker> {
  summary: InlineSummary;
}

function common<E>(r: CheckedRunResult): HeapRunResult<E> {
  return {
    run: r.run, error: r.error, engine: r.checkers.heap as E | null, api: r.api, module: r.module,
    errors: r.errors, findings: r.findings, reports: r.reports, symbolize: r.symbolize, locate: r.locate,
  };
}

/** Run a module like runModule(), with kmemcheck attached, and drain its reports. Never throws for the run itself: see `error`. */
export function runModuleWithKmemcheck(object: Uint8Array | { path: string }, opts: KmemcheckRunOptions = {}): KmemcheckRunResult {
  const { kmemcheck = true, ...runOpts } = opts;
  const r = runChecked(object, { ...runOpts, heap: kmemcheck === false ? null : 'kmemcheck', rules: typeof kmemcheck === 'object' ? kmemcheck : {} });
  const s = r.summary;
  return { ...common<Kmemcheck>(r), summary: { findings: s.findings, lost: s.lost, faults: s.faults, singleSteps: s.singleSteps } };
}

/** Run a module like runModuleWithKmemcheck(), with the inline checker. Never throws for the run itself. */
export function runModuleWithInlineChecker(object: Uint8Array | { path: string }, opts: InlineRunOptions = {}): InlineRunResult {
  const { inline = true, ...runOpts } = opts;
  const r = runChecked(object, { ...runOpts, heap: inline === false ? null : 'inline', rules: typeof inline === 'object' ? inline : {} });
  const engine = r.checkers.heap as InlineChecker | null;
  return { ...common<InlineChecker>(r), summary: { findings: r.summary.findings, lost: r.summary.lost, instructions: engine?.stats.instructions ?? 0 } };
}
