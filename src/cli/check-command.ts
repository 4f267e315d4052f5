/**
 * `kmemsim run mod.c --kmemcheck` and `--stack cpl1|ftrace|precise`: run
 * the module with the chosen checkers (src/harness/checked-run.ts), print
 * every report on stderr (kmemcheck's text format; stack findings say
 * "stack memory"; ftrace prints its own lines), optionally write them as
 * JSON (`--report-json FILE`), and choose the exit status: the module's own
 * when there is nothing to report, `--error-exitcode` (default 99, like
 * valgrind) when there is.
 */
import * as fs from 'node:fs';
import { ModuleLoadError } from '../kernel/module.js';
import type { ModuleRunResult } from '../kernel/module-run.js';
import type { Finding, FindingFrame } from '../shadow/report.js';
import type { StopReason } from '../cpu/stop.js';
import { runChecked, type CheckedRunOptions, type CheckedRunResult, type CheckSummary, type HeapMode, type StackMode } from '../harness/checked-run.js';
import { describeStop } from './describe.js';
import { DEFAULT_ERROR_EXITCODE } from '../harness/modes.js';

export { DEFAULT_ERROR_EXITCODE };

export interface CheckCommandOptions {
  /** The heap checker (`--kmemcheck`, `--kmemcheck-inline`), or none. */
  heap?: HeapMode | null;
  /** `--stack MODE`. */
  stack?: StackMode | null;
  /** `--kernel-ring`: privilege level of kernel code (default: 1 for cpl1, else 0). */
  kernelRing?: 0 | 1;
  /** `--ftrace-poison`. */
  poison?: number;
  /** -fstack-usage output for the module (ftrace's frame sizes). */
  stackUsage?: string | null;
  /** Exit status when there are findings (default 99). */
  errorExitcode?: number;
  /** Write the JSON report here. */
  reportJson?: string;
  oneShot?: boolean;
  partialOk?: boolean;
  /** `--kmemcheck-writes`: also report writes into unallocated and freed heap memory. */
  checkWrites?: boolean;
  verbose?: boolean;
  /** Passed to the module runner (name, budget, output callbacks, tracing). */
  run: Omit<CheckedRunOptions, 'heap' | 'stack' | 'kernelRing' | 'rules' | 'poison' | 'stackUsage'>;
  /** stderr lines. */
  err(line: string): void;
}

/** A finding in the JSON report, with the source position (null when unknown), also per stack frame. */
export type JsonFinding = Omit<Finding, 'file' | 'line' | 'stack'> & {
  file: string | null;
  line: number | null;
  stack: (Omit<FindingFrame, 'file' | 'line'> & { file: string | null; line: number | null })[];
};

export interface JsonReport {
  findings: JsonFinding[];
  summary: CheckSummary;
  exit: { status: number; stop: { kind: StopReason['kind']; message: string } | null };
}

/** What the JSON document is made from. */
export interface CheckedRun {
  run: ModuleRunResult | null;
  findings: Finding[];
  summary: CheckSummary;
}

/** The JSON document for a finished run. */
export function jsonReport(r: CheckedRun, status: number): JsonReport {
  const stop = r.run?.stop ?? null;
  return {
    findings: r.findings.map(({ stack, ...f }) => ({
      ...f,
      file: f.file ?? null,
      line: f.line ?? null,
      stack: stack.map((s) => ({ ...s, file: s.file ?? null, line: s.line ?? null })),
    })),
    summary: r.summary,
    exit: {
      status,
      stop: stop ? { kind: stop.kind, message: ('message' in stop ? stop.message : undefined) ?? describeStop(stop, r.run?.instructions ?? 0).replace(/^kmemsim: /, '') } : null,
    },
  };
}

/** The checkers' names for the summary line. */
function checkerNames(opts: Pick<CheckCommandOptions, 'heap' | 'stack'>): string {
  const names: string[] = [];
  if (opts.heap === 'kmemcheck') names.push('kmemcheck');
  if (opts.heap === 'inline') names.push('kmemcheck (inline checker)');
  if (opts.stack) names.push(`stack ${opts.stack}`);
  return names.join(' + ');
}

/**
 * The run, the reports on stderr, the JSON file; returns the exit status.
 *
 * `--report-json FILE` is created before the run, as valgrind creates its
 * log and XML files before starting the program: a path that cannot be
 * written is a usage error (2) and nothing runs. Should writing fail after
 * the run anyway (a full disk), the message says so and the status is the
 * findings' (`--error-exitcode`) when there are findings — they were printed
 * on stderr, and a clean status must never hide them — else 2.
 */
export function checkCommand(object: Uint8Array, opts: CheckCommandOptions): number {
  if (opts.reportJson !== undefined) {
    try {
      fs.writeFileSync(opts.reportJson, '');
    } catch (e) {
      opts.err(`kmemsim: cannot write ${opts.reportJson}: ${e instanceof Error ? e.message : String(e)}`);
      return 2;
    }
  }
  const r = runChecked(object, {
    ...opts.run,
    heap: opts.heap ?? null,
    stack: opts.stack ?? null,
    kernelRing: opts.kernelRing,
    poison: opts.poison,
    stackUsage: opts.stackUsage,
    rules: { oneShot: opts.oneShot ?? false, partialOk: opts.partialOk ?? true, checkWrites: opts.checkWrites ?? false },
  });
  return reportChecked(r, opts);
}

/**
 * What `kmemsim run --kmemcheck/--stack` prints after a checked run — the
 * stop, the reports, the summary line — and the JSON report; returns the
 * exit status. With `diagnostics`, the run's own messages (an oops report,
 * printed live by a run with onDiagnostic) come first: a fuzz crash is
 * reported from the execution that found it, as its replay prints it.
 */
export function reportChecked(r: CheckedRunResult, opts: Omit<CheckCommandOptions, 'run'>, diagnostics = false): number {
  const { err } = opts;
  if (diagnostics) for (const d of r.run?.diagnostics ?? []) err(d);
  let status: number;
  if (r.error !== null) {
    if (r.error instanceof ModuleLoadError) {
      err(`kmemsim: cannot load module ${r.error.message}`);
      status = 126;
    } else {
      err(`kmemsim: internal error: ${r.error instanceof Error ? r.error.message : String(r.error)}`);
      status = 125;
    }
  } else {
    const run = r.run!;
    if (run.stop) err(describeStop(run.stop, run.instructions));
    if (r.explanation) err(r.explanation);
    if (opts.verbose) err(`kmemsim: ${run.instructions} instructions executed`);
    status = run.exitCode;
  }
  // Reports come after the run, as kmemcheck's tasklet printed them after the fact.
  for (const text of r.reports) err(text + '\n');
  const s = r.summary;
  if (opts.verbose || s.findings + s.lost > 0) {
    const how: string[] = [];
    if (s.faults) how.push(`${s.faults} faults on hidden pages, ${s.singleSteps} single steps`);
    if (s.emulated) how.push(`${s.emulated} privileged instructions emulated for CPL 1`);
    if (s.tracedCalls) how.push(`${s.tracedCalls} traced calls`);
    err(`kmemsim: ${checkerNames(opts)}: ${s.findings} error${s.findings === 1 ? '' : 's'} reported${s.lost ? `, ${s.lost} lost` : ''}${how.length ? ` (${how.join('; ')})` : ''}`);
  }
  if (s.findings + s.lost > 0) status = opts.errorExitcode ?? DEFAULT_ERROR_EXITCODE;
  if (opts.reportJson !== undefined) {
    try {
      fs.writeFileSync(opts.reportJson, JSON.stringify(jsonReport(r, status), null, 2) + '\n');
    } catch (e) {
      err(`kmemsim: cannot write ${opts.reportJson}: ${e instanceof Error ? e.message : String(e)}`);
      if (s.findings + s.lost === 0) status = 2;
    }
  }
  return status;
}
