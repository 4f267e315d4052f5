/**
 * `kmemsim run mod.c --kmemcheck` and `--stack cpl1|ftrace|precise`: run
 * the module with the chosen checkers (src/harness/checked-run.ts), print
 * every report on stderr (kmemcheck's text format; stack findings say
 * "stack memory"; ftrace prints its own lines), optionally write them as
 * JSON (`--report-json FILE`), and choose the exit status: the module's own
 * when there is nothing to report, `--error-exitcode` (default 99, like
 * valgrind) when there is.
 */
import { BpftraceError } from '../bpftrace/parse.js';
import * as fs from 'node:fs';
import { ModuleLoadError } from '../kernel/module.js';
import type { ModuleRunResult } from '../kernel/module-run.js';
import type { Finding, FindingFrame } from '../shadow/report.js';
import type { StopReason } from '../cpu/stop.js';
import { runChecked, type CheckedRunOptions, type CheckedRunResult, type CheckSummary, type HeapMode, type StackMode } from '../harness/checked-run.js';
import { describeStop } from './describe.js';
import { DEFAULT_ERROR_EXITCODE } from '../harness/modes.js';
import { formatSarif, type SarifFinding } from '../report/sarif.js';
import { formatSuppression, KERNEL_OBJ, type SuppressionSet } from '../report/suppressions.js';
import type { LoadedModule } from '../kernel/module.js';

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
  /** Write the findings as SARIF 2.1.0 here (src/report/sarif.ts). */
  reportSarif?: string;
  /** kmemsim's version and command line, for the SARIF log's tool and invocation. */
  sarif?: { version: string; commandLine: string };
  /** `--suppressions FILE...`, read already: matching findings are counted, not reported. */
  suppressions?: SuppressionSet;
  /** `--gen-suppressions`: print a ready suppression after each report (`yes`: ask first on a terminal). */
  genSuppressions?: GenSuppressions;
  /** Called with the run's findings (suppressed ones marked), e.g. to collect them into one SARIF log. */
  onFindings?(findings: SarifFinding[]): void;
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

/** `--gen-suppressions=no|yes|all` (Valgrind's). */
export type GenSuppressions = 'no' | 'yes' | 'all';

export interface JsonReport {
  findings: JsonFinding[];
  /** `findings` counts the reported ones; `suppressed` those a suppression silenced (not in `findings`). */
  summary: CheckSummary & { suppressed: number };
  exit: { status: number; stop: { kind: StopReason['kind']; message: string } | null };
}

/** What the JSON document is made from: the reported findings (suppressed ones left out, counted in `suppressed`). */
export interface CheckedRun {
  run: ModuleRunResult | null;
  findings: Finding[];
  summary: CheckSummary;
  suppressed?: number;
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
    summary: { ...r.summary, findings: r.findings.length, suppressed: r.suppressed ?? 0 },
    exit: {
      status,
      stop: stop ? { kind: stop.kind, message: ('message' in stop ? stop.message : undefined) ?? describeStop(stop, r.run?.instructions ?? 0).replace(/^kmemsim: /, '') } : null,
    },
  };
}

/** The checkers' names for the summary line. */
export function checkerNames(opts: Pick<CheckCommandOptions, 'heap' | 'stack'>): string {
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
  for (const file of [opts.reportJson, opts.reportSarif]) {
    if (file === undefined) continue;
    try {
      fs.writeFileSync(file, '');
    } catch (e) {
      opts.err(`kmemsim: cannot write ${file}: ${e instanceof Error ? e.message : String(e)}`);
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
export function reportChecked(r: CheckedRunResult, opts: Omit<CheckCommandOptions, 'run'> & { run?: { name?: string } }, diagnostics = false): number {
  const { err } = opts;
  if (diagnostics) for (const d of r.run?.diagnostics ?? []) err(d);
  let status: number;
  if (r.error !== null) {
    if (r.error instanceof ModuleLoadError) {
      err(`kmemsim: cannot load module ${r.error.message}`);
      status = 126;
    } else if (r.error instanceof BpftraceError) {
      err(`kmemsim: --bpftrace: ${r.error.message}`); // --bpftrace naming a function kallsyms does not know
      status = 2;
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
  // Suppressions (src/report/suppressions.ts): a silenced finding is counted, not printed or reported.
  const objOf = moduleObjOf(r.module, opts.run?.name ?? 'module');
  const marked: SarifFinding[] = r.findings.map((finding) => {
    const s = opts.suppressions?.match(finding, objOf) ?? null;
    return s === null ? { finding } : { finding, suppressedBy: s.name };
  });
  const kept = marked.filter((m) => m.suppressedBy === undefined).map((m) => m.finding);
  const suppressed = marked.length - kept.length;
  // Reports come after the run, as kmemcheck's tasklet printed them after the fact. `findingReports` is
  // the subsequence of `reports` that belongs to findings, in order; the rest are "Lost N" lines.
  const ask = askForSuppressions(opts.genSuppressions ?? 'no', err);
  let j = 0;
  for (const text of r.reports) {
    if (j < r.findingReports.length && text === r.findingReports[j]) {
      const m = marked[j++]!;
      if (m.suppressedBy !== undefined) continue;
      err(text + '\n');
      if (ask(m.finding)) err(formatSuppression(m.finding, objOf));
    } else err(text + '\n');
  }
  const s = r.summary;
  const reported = kept.length;
  if (opts.verbose || reported + s.lost + suppressed > 0) {
    const how: string[] = [];
    if (s.faults) how.push(`${s.faults} faults on hidden pages, ${s.singleSteps} single steps`);
    if (s.emulated) how.push(`${s.emulated} privileged instructions emulated for CPL 1`);
    if (s.tracedCalls) how.push(`${s.tracedCalls} traced calls`);
    err(`kmemsim: ${checkerNames(opts)}: ${reported} error${reported === 1 ? '' : 's'} reported${s.lost ? `, ${s.lost} lost` : ''}${suppressed ? `, ${suppressed} suppressed` : ''}${how.length ? ` (${how.join('; ')})` : ''}`);
  }
  if (opts.verbose && opts.suppressions) for (const l of opts.suppressions.usedLines()) err(`kmemsim: ${l}`);
  if (reported + s.lost > 0) status = opts.errorExitcode ?? DEFAULT_ERROR_EXITCODE;
  opts.onFindings?.(marked);
  const outputs: [string | undefined, () => string][] = [
    [opts.reportJson, () => JSON.stringify(jsonReport({ run: r.run, findings: kept, summary: r.summary, suppressed }, status), null, 2) + '\n'],
    [opts.reportSarif, () => formatSarif([{ findings: marked, commandLine: opts.sarif?.commandLine, exitCode: status }], { version: opts.sarif?.version ?? '0.0.0' })],
  ];
  for (const [file, text] of outputs) {
    if (file === undefined) continue;
    try {
      fs.writeFileSync(file, text());
    } catch (e) {
      err(`kmemsim: cannot write ${file}: ${e instanceof Error ? e.message : String(e)}`);
      if (reported + s.lost === 0) status = 2;
    }
  }
  return status;
}

/** `obj:` of an address for suppressions: the module's name inside the module or its runtime, else the kernel. */
export function moduleObjOf(mod: LoadedModule | null, name: string): (address: number) => string {
  return (a) => (mod !== null && (mod.object.contains(a) || (mod.runtime?.contains(a) ?? false)) ? name : KERNEL_OBJ);
}

/**
 * Whether to print a suppression after a report: `all` always; `yes` asks as
 * Valgrind does ("---- Print suppression ? --- [Return/N/n/Y/y/C/c] ----",
 * C: stop asking) when stdin is a terminal, and without one (no one to ask)
 * prints every suppression like `all`.
 */
function askForSuppressions(mode: GenSuppressions, err: (line: string) => void): (f: Finding) => boolean {
  if (mode === 'no') return () => false;
  if (mode === 'all' || !process.stdin.isTTY) return () => true;
  let cancelled = false;
  return () => {
    if (cancelled) return false;
    err('---- Print suppression ? --- [Return/N/n/Y/y/C/c] ----');
    const buf = Buffer.alloc(256);
    let n = 0;
    try {
      n = fs.readSync(0, buf, 0, buf.length, null);
    } catch {
      return false;
    }
    const answer = buf.toString('utf8', 0, n).trim().toLowerCase();
    if (answer === 'c') cancelled = true;
    return answer === 'y';
  };
}
