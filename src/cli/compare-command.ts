/**
 * `kmemsim compare FILE|DIR`: plain, kmemcheck and every stack strategy on
 * the same kernel modules (src/harness/compare.ts), as a table per program
 * and in aggregate, as JSON (`--json`), and as an SVG chart of slowdown
 * against recall (`--svg FILE`).
 */
import * as fs from 'node:fs';
import { compileModule, CompileError, FTRACE_CFLAGS } from './compile.js';
import { buildModule, BuildError, modname, parseKbuild } from './cc-command.js';
import { readModuleInput, type ModuleInput } from './module-input.js';
import { programsIn, type CompiledProgram, type ProgramProgress } from '../harness/compare.js';
import { compareInWorkers } from '../harness/compare-jobs.js';
import { formatCompareSvg, formatCompareTable } from '../report/compare-output.js';
import { StatusLine } from './status-line.js';
import { formatSarif, type SarifFinding } from '../report/sarif.js';
import type { Strategy } from '../harness/score.js';
import type { Finding } from '../shadow/report.js';
import { compareAccessSize, formatAccessSizeTable } from '../harness/access-size-compare.js';

export interface CompareCommandOptions {
  json: boolean;
  /** `--access-size`: the access-size strategies' table instead of the stack strategies'. */
  accessSize?: boolean;
  svg: string | undefined;
  runs: number;
  maxInstructions: number;
  /** Programs compared at once, each in a worker thread (1: in this thread). */
  jobs?: number;
  /** The user's compile flags (-I, -D, -O, --cflags), after the module flags, for every C file. */
  cflags?: readonly string[];
  /** `--verbose`: print each gcc (and ld) command before it runs. */
  verbose?: boolean;
  /** `--report-sarif FILE`: the findings, one SARIF run per strategy. */
  reportSarif?: string;
  sarif?: { version: string; commandLine: string };
  out(text: string): void;
  err(line: string): void;
  /** Raw stderr writes and its terminal width (null: not a terminal) for the live status line. */
  errRaw?(text: string): void;
  errColumns?: number | null;
}

/**
 * What `compare` shows while it works: on a terminal a status line redrawn in
 * place (which programs are running, on which strategy, how many are done);
 * a line per finished program in every case, so a log without a terminal
 * still shows where a long comparison is.
 */
function progressReporter(names: readonly string[], opts: CompareCommandOptions): (index: number, ev: ProgramProgress) => void {
  const tty = opts.errColumns !== undefined && opts.errColumns !== null && opts.errRaw !== undefined;
  const status = new StatusLine({ write: (t) => (opts.errRaw ?? opts.err)(t), tty, columns: opts.errColumns ?? 80 });
  const running = new Map<number, ProgramProgress>();
  let finished = 0;
  const total = names.length;
  return (index, ev) => {
    if (ev.strategy === null) {
      running.delete(index);
      finished++;
      const line = `kmemsim compare: [${finished}/${total}] ${names[index]} done`;
      if (!tty) opts.err(line);
      else {
        if (running.size === 0) status.clear(); // nothing left to show under it
        status.line(line);
      }
    } else running.set(index, ev);
    if (!tty || running.size === 0) return;
    const now = [...running].map(([i, e]) => `${names[i]}: ${e.strategy} (${e.step + 1}/${e.steps})`).join(', ');
    status.update(`kmemsim compare: ${finished}/${total} done; ${now}`);
  };
}

/** One module built from several C files, kbuild's way (`compare a.c b.c`, a directory's Kbuild `NAME-y := a.o b.o`). */
export interface ProgramSources {
  name: string;
  sources: readonly string[];
  /** Flags of its Kbuild file (ccflags-y), before the user's. */
  cflags?: readonly string[];
}

/**
 * Each program as the strategies run it: a `.c` file compiled with the ftrace
 * flags and -fstack-usage, then the user's flags (`cflags`); several C files
 * (ProgramSources) compiled the same way each and linked into one module
 * (src/cli/cc-command.ts buildModule); a relocatable object (`.o`, `.ko`, by
 * its ELF type) as it is — when it was not built with -pg -mfentry, ftrace has
 * no call sites to trace (the table says so). Failures are kept as per-program
 * errors; `refused` marks a file that is no module at all.
 */
export function compilePrograms(
  programs: readonly (string | ProgramSources)[],
  cflags: readonly string[] = [],
  onCommand?: (argv: readonly string[]) => void,
): (CompiledProgram | { name: string; error: string; refused?: true })[] {
  return programs.map((path) => {
    if (typeof path !== 'string') return buildProgram(path, cflags, onCommand);
    let input: ModuleInput;
    try {
      input = readModuleInput(path);
    } catch (e) {
      return { name: path, error: `cannot read ${path}: ${(e as Error).message}` };
    }
    if (input.kind === 'other') return { name: path, error: input.reason, refused: true };
    if (input.kind === 'object') return { name: path, object: input.bytes, stackUsage: null };
    try {
      const c = compileModule(path, { ftrace: true, cflags });
      onCommand?.(c.command);
      return { name: path, object: c.object, stackUsage: c.stackUsage ?? null };
    } catch (e) {
      if (!(e instanceof CompileError)) throw e;
      return { name: path, error: e.message + (e.output ? `\n${e.output.trimEnd()}` : '') };
    }
  });
}

function buildProgram(p: ProgramSources, cflags: readonly string[], onCommand?: (argv: readonly string[]) => void): CompiledProgram | { name: string; error: string } {
  const name = `${p.name}.ko (${p.sources.join(' ')})`;
  try {
    const b = buildModule({ name: p.name, sources: p.sources, cflags: [...FTRACE_CFLAGS, ...(p.cflags ?? []), ...cflags], stackUsage: true, onCommand });
    return { name, object: b.object, stackUsage: b.stackUsage || null };
  } catch (e) {
    if (!(e instanceof BuildError)) throw e;
    return { name, error: e.message + (e.output ? `\n${e.output.trimEnd()}` : '') };
  }
}

/**
 * What `compare PATH...` compares: one path as before (a file; a directory's
 * .c modules) unless it is a directory with a Kbuild file or Makefile, whose
 * modules (`obj-m`, `NAME-y`) are the programs, as `kmemsim cc DIR` builds
 * them; several paths are C files of one module, as `kmemsim run a.c b.c`.
 * Throws BuildError (status 2) for a bad combination.
 */
export function comparePrograms(paths: readonly string[]): { programs: (string | ProgramSources)[]; directory: boolean } {
  if (paths.length > 1) {
    for (const f of paths) {
      if (!f.endsWith('.c')) throw new BuildError(`${f}: several inputs are the C files of one module (a .c file each); give a directory or one file otherwise`, 2);
      if (!fs.existsSync(f)) throw new BuildError(`${f}: no such file`, 127);
    }
    return { programs: [{ name: modname(paths[0]!), sources: paths }], directory: false };
  }
  const path = paths[0]!;
  const directory = fs.statSync(path).isDirectory();
  if (directory && ['Kbuild', 'Makefile', 'makefile'].some((f) => fs.existsSync(`${path}/${f}`))) {
    const kb = parseKbuild(path);
    return { programs: kb.modules.map((m) => ({ name: m.name, sources: m.sources, cflags: kb.cflags })), directory: true };
  }
  return { programs: programsIn(path), directory };
}

/**
 * A user flag gcc does not know fails every program the same way: one line
 * (gcc's own) instead of a table of failures, and a usage error, since the
 * command line is what is wrong. Null when the flags are not the cause.
 */
function userFlagRejected(programs: readonly (CompiledProgram | { name: string; error: string })[], cflags: readonly string[]): string | null {
  if (cflags.length === 0 || programs.length === 0 || !programs.every((p) => 'error' in p)) return null;
  const gcc = (programs[0] as { error: string }).error.split('\n').find((l) => /error: (unrecognized|invalid|missing)\b/.test(l));
  return gcc === undefined ? null : `gcc rejects the compile flags (${cflags.join(' ')}): ${gcc.trim()}`;
}

/**
 * Returns the exit status: 0; 2 (usage: a directory with nothing to compare); 127 (no such path);
 * 126 (the file is neither a .c module source nor a relocatable object, or a program could not be
 * compiled, loaded or compared).
 */
export async function compareCommand(inputs: string | readonly string[], opts: CompareCommandOptions): Promise<number> {
  const list = typeof inputs === 'string' ? [inputs] : inputs;
  const path = list[0]!;
  let paths: (string | ProgramSources)[];
  let directory: boolean;
  try {
    ({ programs: paths, directory } = comparePrograms(list));
  } catch (e) {
    if (e instanceof BuildError) {
      opts.err(`kmemsim: ${e.message}`);
      return e.status;
    }
    const err = e as NodeJS.ErrnoException;
    opts.err(`kmemsim: cannot read ${path}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
    return err.code === 'ENOENT' ? 127 : 126;
  }
  if (paths.length === 0) {
    opts.err(`kmemsim: ${path} has no .c files to compare`);
    return 2;
  }
  const programs = compilePrograms(paths, opts.cflags ?? [], opts.verbose ? (argv) => opts.err(argv.join(' ')) : undefined);
  const rejected = userFlagRejected(programs, opts.cflags ?? []);
  if (rejected !== null) {
    opts.err(`kmemsim: ${rejected}`);
    return 2;
  }
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
  // Findings arrive per program (from worker threads in any order): kept by program, laid out in the programs' order.
  const found = new Map<string, [Strategy, Finding[]][]>();
  const report = await compareInWorkers(programs, {
    jobs: opts.jobs ?? 1,
    runs: opts.runs,
    maxInstructions: opts.maxInstructions,
    onProgram: progressReporter(programs.map((p) => p.name), opts),
    findings: opts.reportSarif === undefined ? undefined : (program, strategy, findings) => {
      if (strategy === 'plain') return;
      if (!found.has(program)) found.set(program, []);
      found.get(program)!.push([strategy, findings]);
    },
  });
  const byStrategy = new Map<Strategy, SarifFinding[]>();
  for (const p of programs) {
    for (const [strategy, findings] of found.get(p.name) ?? []) {
      if (!byStrategy.has(strategy)) byStrategy.set(strategy, []);
      byStrategy.get(strategy)!.push(...findings.map((finding) => ({ finding })));
    }
  }
  if (opts.json) opts.out(JSON.stringify(report, null, 2) + '\n');
  else opts.out(formatCompareTable(report));
  if (opts.reportSarif !== undefined) {
    // One run per strategy, each its own category: a dashboard keeps their alerts apart.
    const runs = [...byStrategy].map(([strategy, findings]) => ({ findings, category: `kmemsim/compare/${strategy}/`, commandLine: opts.sarif?.commandLine }));
    try {
      fs.writeFileSync(opts.reportSarif, formatSarif(runs, { version: opts.sarif?.version ?? '0.0.0' }));
    } catch (e) {
      opts.err(`kmemsim: cannot write ${opts.reportSarif}: ${e instanceof Error ? e.message : String(e)}`);
      return 2;
    }
  }
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
