/**
 * `kmemsim compare FILE|DIR`: plain, kmemcheck and every stack strategy on
 * the same kernel modules (src/harness/compare.ts), as a table per program
 * and in aggregate, as JSON (`--json`), and as an SVG chart of slowdown
 * against recall (`--svg FILE`).
 */
import * as fs from 'node:fs';
import { compileModule, CompileError } from './compile.js';
import { readModuleInput, type ModuleInput } from './module-input.js';
import { compare, programsIn, type CompiledProgram } from '../harness/compare.js';
import { formatCompareSvg, formatCompareTable } from '../report/compare-output.js';
import { compareAccessSize, formatAccessSizeTable } from '../harness/access-size-compare.js';

export interface CompareCommandOptions {
  json: boolean;
  /** `--access-size`: the access-size strategies' table instead of the stack strategies'. */
  accessSize?: boolean;
  svg: string | undefined;
  runs: number;
  maxInstructions: number;
  out(text: string): void;
  err(line: string): void;
}

/**
 * Each program as the strategies run it: a `.c` file compiled with the ftrace
 * flags and -fstack-usage; a relocatable object (`.o`, `.ko`, by its ELF
 * type) as it is — when it was not built with -pg -mfentry, ftrace has no
 * call sites to trace (the table says so). Failures are kept as per-program
 * errors; `refused` marks a file that is no module at all.
 */
export function compilePrograms(paths: readonly string[]): (CompiledProgram | { name: string; error: string; refused?: true })[] {
  return paths.map((path) => {
    let input: ModuleInput;
    try {
      input = readModuleInput(path);
    } catch (e) {
      return { name: path, error: `cannot read ${path}: ${(e as Error).message}` };
    }
    if (input.kind === 'other') return { name: path, error: input.reason, refused: true };
    if (input.kind === 'object') return { name: path, object: input.bytes, stackUsage: null };
    try {
      const c = compileModule(path, { ftrace: true });
      return { name: path, object: c.object, stackUsage: c.stackUsage ?? null };
    } catch (e) {
      if (!(e instanceof CompileError)) throw e;
      return { name: path, error: e.message + (e.output ? `\n${e.output.trimEnd()}` : '') };
    }
  });
}

/**
 * Returns the exit status: 0; 2 (usage: a directory with nothing to compare); 127 (no such path);
 * 126 (the file is neither a .c module source nor a relocatable object, or a program could not be
 * compiled, loaded or compared).
 */
export function compareCommand(path: string, opts: CompareCommandOptions): number {
  let paths: string[];
  let directory: boolean;
  try {
    directory = fs.statSync(path).isDirectory();
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
  const only = programs[0]!;
  if (!directory && 'error' in only && only.refused) {
    opts.err(`kmemsim: cannot compare ${path}: ${only.error}`);
    return 126;
  }
  if (opts.accessSize) {
    const rows = compareAccessSize(programs, { runs: opts.runs, maxInstructions: opts.maxInstructions, progress: (l) => opts.err(l) });
    opts.out(opts.json ? JSON.stringify(rows, null, 2) + '\n' : formatAccessSizeTable(rows));
    return rows.some((r) => r.error !== null) ? 126 : 0;
  }
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
