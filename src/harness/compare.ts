/**
 * `kmemsim compare FILE|DIR`: every strategy on the same programs.
 *
 * Each program is compiled once, with the ftrace flags (`-pg -mfentry`,
 * whose call sites the loader turns into 5-byte NOPs unless ftrace is on,
 * as a CONFIG_DYNAMIC_FTRACE kernel does) and `-fstack-usage`, so every
 * strategy runs the very same object. Then it runs
 *
 *   plain      no checker
 *   kmemcheck  the fault-driven heap checker
 *   cpl1       the kernel at CPL 1 with its stack pages hidden (Vegard's plan)
 *   ftrace     function-graph tracing with stack-frame poisoning (Ingo's)
 *   precise    the oracle: the inline heap checker and exact stack liveness
 *
 * and scores each against the oracle (./score.ts). Wall times are the
 * median of `runs` runs (default 1) after one warm-up run of the program
 * in plain mode, so the first strategy does not pay for JIT warm-up.
 */
import type { Finding } from '../shadow/report.js';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runChecked, type CheckedRunOptions, type CheckedRunResult } from './checked-run.js';
import { score, type Strategy, STRATEGIES } from './score.js';
import { describeStop } from '../cli/describe.js';
import { aggregate, type CompareReport, type ProgramResult, type StrategyResult } from '../report/compare-output.js';

export interface CompiledProgram {
  /** Name in the tables (the path as given). */
  name: string;
  object: Uint8Array;
  /** gcc's -fstack-usage output for the object (frame sizes for ftrace's poisoning). */
  stackUsage: string | null;
}

export interface CompareOptions {
  /** Runs per strategy (the median wall time is reported). Default 1. */
  runs?: number;
  /** Instruction budget per run. */
  maxInstructions?: number;
  strategies?: readonly Strategy[];
  /**
   * Called as each run of a program begins: `strategy` is the one starting,
   * `step` how many of the program's `steps` runs are done (the warm-up
   * counts as one). Called once more with `strategy` null when it is done.
   */
  onProgress?(ev: ProgramProgress): void;
  /** Each compared strategy's findings on a program (the last run's), e.g. for a SARIF log. */
  findings?(program: string, strategy: Strategy, findings: Finding[]): void;
}

export interface ProgramProgress {
  strategy: Strategy | 'warm-up' | null;
  step: number;
  steps: number;
}

/**
 * The modules a FILE|DIR argument names: the file itself; for a directory,
 * every *.c file under it (subdirectories included, in name order) that
 * defines a module entry point (`init_module` or `module_init`), so
 * `kmemsim compare examples/` skips the user-program examples beside the
 * module ones.
 */
export function programsIn(path: string): string[] {
  const st = statSync(path);
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  for (const e of readdirSync(path, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = join(path, e.name);
    if (e.isDirectory()) out.push(...programsIn(p));
    else if (e.name.endsWith('.c') && /\b(init_module|module_init)\b/.test(readFileSync(p, 'latin1'))) out.push(p);
  }
  return out;
}

/** The run options of each strategy. */
export function strategyOptions(s: Strategy): Pick<CheckedRunOptions, 'heap' | 'stack'> {
  switch (s) {
    case 'plain': return { heap: null, stack: null };
    case 'kmemcheck': return { heap: 'kmemcheck', stack: null };
    case 'cpl1': return { heap: null, stack: 'cpl1' };
    case 'ftrace': return { heap: null, stack: 'ftrace' };
    case 'precise': return { heap: 'inline', stack: 'precise' };
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Run every strategy on one compiled program and score it. */
export function compareProgram(p: CompiledProgram, opts: CompareOptions = {}): ProgramResult {
  const runs = Math.max(1, opts.runs ?? 1);
  const strategies = opts.strategies ?? STRATEGIES;
  const once = (s: Strategy): { r: CheckedRunResult; ms: number } => {
    const t0 = process.hrtime.bigint();
    const r = runChecked(p.object, {
      ...strategyOptions(s),
      name: p.name,
      stackUsage: p.stackUsage,
      maxInstructions: opts.maxInstructions,
    });
    return { r, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
  };
  const order = [...new Set<Strategy>(['plain', 'precise', ...strategies])];
  const steps = 1 + order.length * runs;
  let step = 0;
  opts.onProgress?.({ strategy: 'warm-up', step: step++, steps });
  // Each run's machine goes back to the RAM pool once its result is read (CheckedRunResult.release): the
  // next run reuses it instead of allocating another, which V8 would answer with a garbage collection.
  once('plain').r.release(); // warm-up
  const measured = new Map<Strategy, { r: CheckedRunResult; ms: number }>();
  for (const s of order) {
    const times: number[] = [];
    let last: CheckedRunResult | null = null;
    for (let i = 0; i < runs; i++) {
      opts.onProgress?.({ strategy: s, step: step++, steps });
      const m = once(s);
      times.push(m.ms);
      last?.release();
      last = m.r;
    }
    measured.set(s, { r: last!, ms: median(times) });
  }
  opts.onProgress?.({ strategy: null, step, steps });
  try {
    return scoreProgram(p, strategies, measured, opts.findings);
  } finally {
    for (const m of measured.values()) m.r.release();
  }
}

/** The strategies' scores from their last runs (`measured`), against the precise oracle. */
function scoreProgram(p: CompiledProgram, strategies: readonly Strategy[], measured: Map<Strategy, { r: CheckedRunResult; ms: number }>, onFindings: CompareOptions['findings']): ProgramResult {
  const plain = measured.get('plain')!;
  // The strategies' findings: a module's own watch-framework reports (kmcf_set_overflow_report) are the same under every strategy.
  const checked = (r: CheckedRunResult): CheckedRunResult['findings'] => r.findings.filter((f) => f.checker !== 'watch');
  const oracle = checked(measured.get('precise')!.r);
  const failed = [...measured.values()].find((m) => m.r.error !== null);
  if (failed) {
    return { program: p.name, results: [], error: failed.r.error instanceof Error ? failed.r.error.message : String(failed.r.error) };
  }
  const results: StrategyResult[] = strategies.map((s) => {
    const { r, ms } = measured.get(s)!;
    onFindings?.(p.name, s, r.findings);
    return {
      strategy: s,
      findings: checked(r).length,
      ...score(s, checked(r), oracle),
      faults: r.summary.faults,
      singleSteps: r.summary.singleSteps,
      instructions: r.run?.instructions ?? 0,
      wallMs: ms,
      slowdown: plain.ms > 0 ? ms / plain.ms : 1,
      exitCode: r.run?.exitCode ?? 125,
      sameConsole: (r.run?.console ?? null) === (plain.r.run?.console ?? null),
      stop: r.run?.stop ? { kind: r.run.stop.kind, message: describeStop(r.run.stop, r.run.instructions).replace(/^kmemsim: /, '') } : null,
    };
  });
  const notes: string[] = [];
  const ftrace = measured.get('ftrace')?.r.module;
  if (ftrace && ftrace.object.fentrySites.length === 0) {
    notes.push('ftrace: the object has no __fentry__ call sites (not built with -pg -mfentry): ftrace traced nothing');
  }
  return { program: p.name, results, ...(notes.length ? { notes } : {}) };
}

/** A program to compare, or the reason it cannot be (a compile failure: reported per program, not fatal). */
export type CompareInput = CompiledProgram | { name: string; error: string };

/** The result row of a program that could not be compiled. */
export function failedProgram(p: { name: string; error: string }): ProgramResult {
  return { program: p.name, results: [], error: p.error };
}

/** The report of per-program results, in the programs' order. */
export function compareReport(results: ProgramResult[], strategies: readonly Strategy[] = STRATEGIES): CompareReport {
  return { programs: results, aggregate: aggregate(results.filter((r) => !r.error), strategies) };
}

/** Compare every program in this thread, one after another (`compareInWorkers` runs them in parallel). */
export function compare(programs: readonly CompareInput[], opts: CompareOptions & { onProgram?(index: number, ev: ProgramProgress): void } = {}): CompareReport {
  const results = programs.map((p, i) =>
    'error' in p ? failedProgram(p) : compareProgram(p, { ...opts, onProgress: opts.onProgram && ((ev: ProgramProgress) => opts.onProgram!(i, ev)) }),
  );
  return compareReport(results, opts.strategies);
}
