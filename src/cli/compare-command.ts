/**
 * `kmemsim compare FILE|DIR`: plain, kmemcheck and every stack strategy on
 * the same kernel modules (src/harness/compare.ts), as a table per program
 * and in aggregate, as JSON (`--json`), and as an SVG chart of slowdown
 * against recall (`--svg FILE`).
 */
import * as fs from 'node:fs';
import { compileModule, CompileError } from './compile.js';
import { compare, programsIn, type CompiledProgram } from '../harness/compare.js';
import { formatCompareSvg, formatCompareTable } from '../report/compare-output.js';

export interface CompareCommandOptions {
  json: boolean;
  svg: string | undefined;
  runs: number;
  maxInstructions: number;
  out(text: string): void;
  err(line: string): void;
}

/** Compile every program with the ftrace flags and -fstack-usage; failures are kept as per-program errors. */
export function compilePrograms(paths: readonly string[]): (CompiledProgram | { name: string; error: string })[] {
  return paths.map((path) => {
    try {
      const c = compileModule(path, { ftrace: true });
      return { name: path, object: c.object, stackUsage: c.stackUsage ?? null };
    } catch (e) {
      if (!(e instanceof CompileError)) throw e;
      return { name: path, error: e.message + (e.output ? `\n${e.output.trimEnd()}` : '') };
    }
  });
}

/** Returns the exit status: 0, 2 (usage: nothing to compare), 127 (no such path), 126 (a program could not be compared). */
export function compareCommand(path: string, opts: CompareCommandOptions): number {
  let paths: string[];
  try {
    paths = programsIn(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    opts.err(`kmemsim: cannot read ${path}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
    return err.code === 'ENOENT' ? 127 : 126;
  }
  if (paths.length === 0) {
    opts.err(`kmemsim: ${path} has no .c files to compare`);
    return 2;
  }
  const programs = compilePrograms(paths);
  const report = compare(programs, { runs: opts.runs, maxInstructions: opts.maxInstructions, progress: (l) => opts.err(l) });
  if (opts.json) opts.out(JSON.stringify(report, null, 2) + '\n');
  else opts.out(formatCompareTable(report));
  if (opts.svg) {
    try {
      fs.writeFileSync(opts.svg, formatCompareSvg(report));
    } catch (e) {
      opts.err(`kmemsim: cannot write ${opts.svg}: ${e instanceof Error ? e.message : String(e)}`);
      return 2;
    }
  }
  return report.programs.some((p) => p.error) ? 126 : 0;
}
