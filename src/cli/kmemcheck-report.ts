/**
 * `kmemsim run mod.c --kmemcheck`: run the module under kmemcheck
 * (src/shadow/session.ts), print every report on stderr in kmemcheck's text
 * format, optionally write them as JSON (`--report-json FILE`), and choose
 * the exit status: the module's own when there is nothing to report,
 * `--error-exitcode` (default 99, like valgrind) when there is.
 */
import * as fs from 'node:fs';
import { ModuleLoadError } from '../kernel/module.js';
import { runModuleWithKmemcheck, type KmemcheckRunOptions, type KmemcheckSummary } from '../shadow/session.js';
import { runModuleWithInlineChecker } from '../shadow/inline-session.js';
import type { ModuleRunResult } from '../kernel/module-run.js';
import type { Finding, FindingFrame } from '../shadow/report.js';
import type { StopReason } from '../cpu/stop.js';
import { describeStop } from './describe.js';

/** valgrind's convention: a distinct status when the checker found something. */
export const DEFAULT_ERROR_EXITCODE = 99;

export interface KmemcheckCommandOptions {
  /** Exit status when there are findings (default 99). */
  errorExitcode?: number;
  /** Write the JSON report here. */
  reportJson?: string;
  oneShot?: boolean;
  partialOk?: boolean;
  /** Use the precise inline checker (every instruction checked, no hidden pages) instead of the fault path. */
  inline?: boolean;
  verbose?: boolean;
  /** Passed to the module runner (name, budget, output callbacks, tracing). */
  run: Omit<KmemcheckRunOptions, 'kmemcheck'>;
  /** stderr lines. */
  err(line: string): void;
}

/** A finding in the JSON report: the engine's, with the source position from the module's DWARF line table (null when unknown), also per stack frame. */
export type JsonFinding = Omit<Finding, 'file' | 'line' | 'stack'> & {
  file: string | null;
  line: number | null;
  stack: (Omit<FindingFrame, 'file' | 'line'> & { file: string | null; line: number | null })[];
};

export interface JsonReport {
  findings: JsonFinding[];
  summary: KmemcheckSummary;
  exit: { status: number; stop: { kind: StopReason['kind']; message: string } | null };
}

/** The JSON document for a finished run. */
/** What the command needs from a checked run, whichever checker made it. */
export interface CheckedRun {
  run: ModuleRunResult | null;
  error: unknown;
  findings: Finding[];
  reports: string[];
  summary: KmemcheckSummary;
}

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
      stop: stop ? { kind: stop.kind, message: 'message' in stop ? stop.message : describeStop(stop, r.run?.instructions ?? 0).replace(/^kmemsim: /, '') } : null,
    },
  };
}

/** The run, the reports on stderr, the JSON file; returns the exit status. */
export function kmemcheckCommand(object: Uint8Array, opts: KmemcheckCommandOptions): number {
  const engineOpts = { oneShot: opts.oneShot ?? false, partialOk: opts.partialOk ?? true };
  let r: CheckedRun;
  if (opts.inline) {
    const i = runModuleWithInlineChecker(object, { ...opts.run, inline: engineOpts });
    r = { ...i, summary: { findings: i.summary.findings, lost: i.summary.lost, faults: 0, singleSteps: 0 } };
  } else {
    r = runModuleWithKmemcheck(object, { ...opts.run, kmemcheck: engineOpts });
  }
  const { err } = opts;
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
    if (run.stop) {
      err(describeStop(run.stop, run.instructions));
    }
    if (opts.verbose) err(`kmemsim: ${run.instructions} instructions executed`);
    status = run.exitCode;
  }
  // Reports come after the run, as kmemcheck's tasklet printed them after the fact.
  for (const text of r.reports) err(text + '\n');
  if (opts.verbose || r.summary.findings + r.summary.lost > 0) {
    const how = opts.inline ? 'inline checker' : `${r.summary.faults} faults on tracked pages, ${r.summary.singleSteps} single steps`;
    err(`kmemsim: kmemcheck: ${r.summary.findings} error${r.summary.findings === 1 ? '' : 's'} reported${r.summary.lost ? `, ${r.summary.lost} lost` : ''} (${how})`);
  }
  if (r.summary.findings + r.summary.lost > 0) status = opts.errorExitcode ?? DEFAULT_ERROR_EXITCODE;
  if (opts.reportJson) {
    try {
      fs.writeFileSync(opts.reportJson, JSON.stringify(jsonReport(r, status), null, 2) + '\n');
    } catch (e) {
      err(`kmemsim: cannot write ${opts.reportJson}: ${e instanceof Error ? e.message : String(e)}`);
      if (status === 0) status = 2;
    }
  }
  return status;
}
