/**
 * `kmemsim compare --jobs N`: the programs spread over N worker threads
 * (./compare-worker.ts), each running every strategy on one program at a
 * time, as `make -j` spreads targets. The report lists the programs in the
 * same order as without --jobs, so the tables and JSON differ only in the
 * measured times. Times measured while other workers run share the CPU with
 * them: the slowdown column is a ratio within one worker, but use --jobs 1
 * (the default) for figures to publish.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { compare, compareReport, failedProgram, type CompareInput, type CompareOptions, type CompiledProgram, type ProgramProgress } from './compare.js';
import type { CompareReport, ProgramResult } from '../report/compare-output.js';
import type { Strategy } from './score.js';
import type { Finding } from '../shadow/report.js';

/** One program for a worker. */
export interface CompareJob {
  index: number;
  program: CompiledProgram;
  options: Omit<CompareOptions, 'onProgress' | 'findings'>;
  /** Whether the worker sends each strategy's findings back (CompareOptions.findings is set). */
  wantFindings: boolean;
}

export type CompareWorkerMessage =
  | { kind: 'progress'; index: number; ev: ProgramProgress }
  | { kind: 'findings'; program: string; strategy: Strategy; findings: Finding[] }
  | { kind: 'result'; index: number; result: ProgramResult };

export interface ParallelCompareOptions extends Omit<CompareOptions, 'onProgress'> {
  /** Worker threads; 1 runs everything in this thread. */
  jobs: number;
  onProgram?(index: number, ev: ProgramProgress): void;
}

/**
 * The worker's script: beside this module once compiled (dist/harness/), or
 * beside the bundle's chunks (dist/bundle/, scripts/bundle.mjs makes it an
 * entry point of its own). Null when running from the TypeScript sources.
 */
export function compareWorkerScript(): URL | null {
  const url = new URL('./compare-worker.js', import.meta.url);
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : null;
}

/** Compare the programs on `jobs` worker threads; the result is in the programs' order. */
export async function compareInWorkers(programs: readonly CompareInput[], opts: ParallelCompareOptions): Promise<CompareReport> {
  const { jobs, onProgram, findings, ...options } = opts;
  const script = compareWorkerScript();
  const todo = programs.flatMap((p, index) => ('error' in p ? [] : [{ index, program: p, options, wantFindings: findings !== undefined }]));
  if (jobs <= 1 || todo.length <= 1 || script === null) return compare(programs, { ...options, onProgram, findings });
  const results: (ProgramResult | undefined)[] = programs.map((p) => ('error' in p ? failedProgram(p) : undefined));
  const workers = Array.from({ length: Math.min(jobs, todo.length) }, () => new Worker(script));
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const next = (): void => {
              const job = todo.shift();
              if (job === undefined) resolve();
              else w.postMessage(job);
            };
            w.on('message', (m: CompareWorkerMessage) => {
              if (m.kind === 'progress') onProgram?.(m.index, m.ev);
              else if (m.kind === 'findings') findings?.(m.program, m.strategy, m.findings);
              else {
                results[m.index] = m.result;
                next();
              }
            });
            w.on('error', reject);
            w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`a compare worker exited with status ${code}`))));
            next();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return compareReport(results.map((r, i) => r ?? failedProgram({ name: programs[i]!.name, error: 'not compared' })), options.strategies);
}
