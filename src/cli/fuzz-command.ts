/**
 * `kmemsim fuzz TARGET -o OUT [-i DIR] [--kmemcheck] [--stack MODE] ...`:
 * coverage-guided fuzzing of a kernel module with libFuzzer's entry point
 * (src/fuzz/target-module.ts), every checker as the oracle, AFL++'s output
 * layout (src/fuzz/afl-output.ts).
 *
 * Exit status: 0 nothing found within the limits (or interrupted with
 * nothing found); --error-exitcode (99) a crash was found (stopping at the
 * first one, or at the end with --keep-going) or a hang was saved; 1 init_module returned a negative errno; 125 the module
 * oopsed (or hung) in init_module/LLVMFuzzerInitialize; 126 the module
 * cannot be compiled or loaded, or defines no LLVMFuzzerTestOneInput;
 * 127 no such file; 2 usage errors, an unreadable -i directory or seed, a
 * bad dictionary, an -o directory holding an earlier run (resume it with
 * `-i -`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { basename, join } from 'node:path';
import { compileModule, CompileError } from './compile.js';
import { readModuleInput } from './module-input.js';
import { checkCommand, reportChecked, type CheckCommandOptions } from './check-command.js';
import { ModuleTarget, FuzzTargetError, inputStep, ENTRY, type Execution, type InputCall, type TargetRunOptions } from '../fuzz/target-module.js';
import { fuzz, readSeeds, SeedError, type FuzzTarget } from '../fuzz/fuzzer.js';
import { ProgramTarget, ProgramTargetError, type ProgramRun } from '../fuzz/target-program.js';
import { ElfError } from '../elf/elf32.js';
import { LoadError } from '../kernel/process.js';
import { OutputError, INSTANCE } from '../fuzz/afl-output.js';
import { readDictionary, DictionaryError } from '../fuzz/dictionary.js';
import { minimize, minimizeCorpus } from '../fuzz/minimize.js';
import { autoDictionary } from '../fuzz/auto-dictionary.js';
import { DEFAULT_BUDGET } from '../kernel/process.js';
import type { HeapMode, StackMode } from '../harness/modes.js';
import { readInputFile, InputError } from './input.js';
import { formatSarif, type SarifFinding } from '../report/sarif.js';

/**
 * The guest RAM of a fuzzing run, and of `kmemsim run --input` (the replay
 * must lay memory out the same way, so its addresses match): 8 MiB, not a
 * module run's default 64 MiB, because every input boots a machine and
 * allocating and collecting its RAM was most of that (29 → 42 executions
 * per second on examples/fuzz/clean.c with --kmemcheck). The kmalloc()
 * pool is then about 3 MiB.
 */
export const FUZZ_MEMORY_SIZE = 8 * 2 ** 20;

export interface FuzzCommandOptions {
  target: string;
  seeds: string | null;
  out: string;
  heap: HeapMode | null;
  stack: StackMode | null;
  maxTimeSeconds: number;
  runs: number;
  dictionary: string | null;
  seed: number;
  keepGoing: boolean;
  timeoutInstructions: number;
  maxLength: number;
  /** Add the constants the module's code compares with to the dictionary (src/fuzz/auto-dictionary.ts). */
  autoDictionary: boolean;
  errorExitcode: number;
  commandLine: string;
  version: string;
  /** Seconds between status lines. */
  statusInterval: number;
  /** `--report-sarif FILE`: every saved crash's findings in one SARIF log, rewritten after each crash. */
  reportSarif?: string;
  /** A program target's arguments (after `--`; `@@` is the input file's path). */
  args: string[];
  /** Guest RAM of a program target (--memory), in bytes; default: sized from the program. */
  memorySize?: number;
  /** -D: AFL's deterministic stages before havoc. */
  deterministic?: boolean;
  /** The cmplog stage (src/fuzz/cmplog.ts; default on, --no-cmplog). */
  cmplog?: boolean;
  /** -M NAME: this instance is a main one, in OUT/NAME. */
  main?: string;
  /** -S NAME: a secondary instance, in OUT/NAME. */
  secondary?: string;
  /** --jobs N: this process and N-1 secondaries started by it. */
  jobs?: number;
  /** Seconds between imports of the other instances' queues. */
  syncInterval?: number;
  /** The command line as given (argv after `kmemsim`), for --jobs to start its secondaries. */
  argv?: string[];
  /** stderr is a terminal: the status is one line refreshed in place (at most once a second). */
  statusTty?: boolean;
  /** Raw text to stderr (the in-place status line). */
  errRaw?(text: string): void;
  err(line: string): void;
}

/** A module object ready to run: compiled when the target is C source. */
export interface PreparedModule {
  object: Uint8Array;
  stackUsage: string | null;
}

/** Compile or read the target; on failure the message is printed and the status returned. */
export function prepareModule(file: string, ftrace: boolean, err: (line: string) => void): PreparedModule | number {
  try {
    const input = readModuleInput(file);
    if (input.kind === 'other') {
      err(`kmemsim: ${file}: ${input.reason}`);
      return 126;
    }
    if (input.kind === 'object') return { object: input.bytes, stackUsage: null };
    if (!fs.existsSync(file)) {
      err(`kmemsim: cannot read ${file}: no such file`);
      return 127;
    }
    const c = compileModule(file, { ftrace });
    if (c.warnings) err(c.warnings.replace(/\n$/, ''));
    return { object: c.object, stackUsage: c.stackUsage || null };
  } catch (e) {
    if (e instanceof CompileError) {
      if (e.output) err(e.output.replace(/\n$/, ''));
      err(`kmemsim: ${e.message}`);
      return 126;
    }
    const er = e as NodeJS.ErrnoException;
    if (er.code === 'ENOENT') {
      err(`kmemsim: cannot read ${file}: no such file`);
      return 127;
    }
    err(`kmemsim: cannot read ${file}: ${er.code ?? er.message}`);
    return 126;
  }
}

/**
 * Replay one input with the checkers through `kmemsim run`'s own report
 * path (check-command.ts): the text report lines (stderr of `kmemsim run
 * TARGET --input FILE`) and, with `reportJson`, the JSON report. Returns
 * the exit status `kmemsim run` would give.
 */
/** The checker options a replay honours: those of `kmemsim run` (the fuzzer itself uses their defaults). */
export type ReplayChecks = Pick<CheckCommandOptions, 'kernelRing' | 'poison' | 'oneShot' | 'partialOk' | 'checkWrites' | 'reportJson' | 'reportSarif' | 'sarif' | 'suppressions' | 'genSuppressions' | 'onFindings'> & { heap: HeapMode | null; stack: StackMode | null; errorExitcode: number };

export function replayInput(mod: PreparedModule, name: string, data: Uint8Array, o: ReplayChecks & { timeout: number }, line: (l: string) => void, seen?: InputCall): number {
  const { timeout: _timeout, ...checks } = o;
  return checkCommand(mod.object, {
    ...checks,
    stackUsage: mod.stackUsage,
    err: line,
    run: {
      name,
      maxInstructions: DEFAULT_BUDGET,
      memorySize: FUZZ_MEMORY_SIZE,
      onDiagnostic: line,
      whileLoaded: inputStep(data, o.timeout, null, seen),
    },
  });
}

/** A static i386 executable (ELF ET_EXEC) by its header: a user-program target. */
function isProgram(file: string): boolean {
  if (file.endsWith('.c')) return false;
  try {
    if (!fs.statSync(file).isFile()) return false;
    const fd = fs.openSync(file, 'r');
    try {
      const h = new Uint8Array(18);
      const n = fs.readSync(fd, h, 0, 18, 0);
      return n === 18 && h[0] === 0x7f && h[1] === 0x45 && h[2] === 0x4c && h[3] === 0x46 && h[16] === 2 && h[17] === 0;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** A fuzz target ready to run, with how its crashes are reported. */
interface OpenedTarget {
  target: FuzzTarget;
  /** Write the crash's PATH.txt and PATH.json, and return its text report's lines. */
  /** Writes PATH.txt and PATH.json; the findings also go to `onFindings` (the SARIF log). */
  report(path: string, data: Uint8Array, exec: Execution, onFindings?: (f: SarifFinding[]) => void): string[];
  /** How to replay a crash file, for the message at the end. */
  replay(path: string): string;
  /** The dictionary's automatic part (constants compared with in the code). */
  autoTokens(): Uint8Array[];
}

/** The options opening a target needs (shared by fuzz, tmin and cmin). */
interface TargetChoice {
  target: string;
  heap: HeapMode | null;
  stack: StackMode | null;
  timeoutInstructions: number;
  args?: string[];
  memorySize?: number;
  /** The file `@@` names. */
  inputFile?: string;
  errorExitcode?: number;
}

/**
 * Open TARGET as a fuzz target: a kernel module (.c compiled, or a
 * relocatable object) or a static i386 program. On failure the message is
 * printed and the exit status returned.
 */
function openTarget(o: TargetChoice, err: (line: string) => void): OpenedTarget | number {
  const name = basename(o.target);
  if (isProgram(o.target)) {
    if (o.heap || o.stack) {
      err(`kmemsim: --kmemcheck and --stack check kernel modules; ${o.target} is a program (its oracle is a fatal signal)`);
      return 2;
    }
    const bytes = readFuzzInput(o.target, err);
    if (typeof bytes === 'number') return bytes;
    const argv = [o.target, ...(o.args ?? [])];
    let t: ProgramTarget;
    try {
      t = new ProgramTarget(bytes, {
        argv, env: programEnvironment(), inputFile: o.inputFile ?? null, timeout: o.timeoutInstructions,
        ...(o.memorySize !== undefined ? { memorySize: o.memorySize } : {}),
      });
    } catch (e) {
      if (e instanceof ProgramTargetError) {
        err(`kmemsim: ${e.message}`);
        return e.status;
      }
      if (e instanceof ElfError || e instanceof LoadError) {
        err(`kmemsim: cannot run ${o.target}: ${e.message}`);
        return 126;
      }
      throw e;
    }
    const usesFile = argv.some((a) => a.includes('@@'));
    return {
      target: t,
      report: (path, _data, exec) => programReport(path, (exec as Execution & { program: ProgramRun }).program, o.errorExitcode ?? 99),
      replay: (path) => `kmemsim run ${o.target}${usesFile ? ` -- ${(o.args ?? []).map((a) => a.split('@@').join(`'${path}'`)).join(' ')}` : `${o.args?.length ? ` -- ${o.args.join(' ')}` : ''} < '${path}'`}`,
      autoTokens: () => [],
    };
  }
  const mod = prepareModule(o.target, o.stack === 'ftrace', err);
  if (typeof mod === 'number') return mod;
  if (o.args?.length) {
    err(`kmemsim: ${o.target} is a kernel module; arguments after -- (${o.args.join(' ')}) are for program targets`);
    return 2;
  }
  const run: TargetRunOptions = { name, heap: o.heap, stack: o.stack, stackUsage: mod.stackUsage, maxInstructions: DEFAULT_BUDGET, memorySize: FUZZ_MEMORY_SIZE };
  const target = new ModuleTarget(mod.object, run, o.timeoutInstructions);
  try {
    // A first run: a target that cannot be fuzzed fails here, before anything is written.
    target.execute(new Uint8Array(0), null);
  } catch (e) {
    if (!(e instanceof FuzzTargetError)) throw e;
    err(`kmemsim: ${e.message}`);
    return e.status;
  }
  return {
    target,
    // The crash's reports come from the execution that found it (no second run): the same text and JSON
    // `kmemsim run TARGET --input FILE` gives, since a snapshot-restored input runs as a fresh machine does.
    report: (path, _data, exec, onFindings) => {
      const lines: string[] = [];
      reportChecked(exec.result!, { heap: o.heap, stack: o.stack, stackUsage: mod.stackUsage, errorExitcode: o.errorExitcode ?? 99, reportJson: `${path}.json`, err: (l) => lines.push(l), onFindings }, true);
      fs.writeFileSync(`${path}.txt`, lines.join('\n') + '\n');
      return lines;
    },
    replay: (path) => `kmemsim run ${o.target}${o.heap ? ' --kmemcheck' : ''}${o.stack ? ` --stack ${o.stack}` : ''} --input '${path}'`,
    autoTokens: () => autoDictionary(mod.object),
  };
}

/** The guest's environment: the host's, as `kmemsim run` gives it (and AFL++ gives its target). */
function programEnvironment(): string[] {
  return Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
}

/** A program crash's reports: PATH.txt (what happened, then the guest's stderr) and PATH.json (the report schema, no findings). */
function programReport(path: string, r: ProgramRun, _errorExitcode: number): string[] {
  const lines = [`kmemsim: ${r.message}`];
  const stderr = Buffer.from(r.stderr).toString('latin1').replace(/\n$/, '');
  const text = (stderr ? stderr + '\n' : '') + lines.join('\n') + '\n';
  fs.writeFileSync(`${path}.txt`, text);
  const json = {
    findings: [],
    summary: { findings: 0, lost: 0, faults: 0, singleSteps: 0, emulated: 0, tracedCalls: 0 },
    exit: { status: r.exitCode, signal: r.signal || null, stop: { kind: r.stop.kind, message: r.message } },
  };
  fs.writeFileSync(`${path}.json`, JSON.stringify(json, null, 2) + '\n');
  return lines;
}

export async function fuzzCommand(o: FuzzCommandOptions): Promise<number> {
  if (o.main !== undefined && o.secondary !== undefined) {
    o.err('kmemsim: -M and -S exclude each other (one instance is either the main one or a secondary)');
    return 2;
  }
  const instanceName = o.main ?? o.secondary ?? ((o.jobs ?? 1) > 1 ? 'main' : INSTANCE);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(instanceName)) {
    o.err(`kmemsim: instance name ${JSON.stringify(instanceName)}: use letters, digits, - and _ (it is a directory in -o)`);
    return 2;
  }
  const status = statusPrinter(o);
  const err = status.line;
  let tokens: Uint8Array[] = [];
  if (o.dictionary !== null) {
    try {
      tokens = readDictionary(o.dictionary);
    } catch (e) {
      if (!(e instanceof DictionaryError)) throw e;
      err(`kmemsim: ${e.message}`);
      return 2;
    }
  }
  const name = basename(o.target);
  const opened = openTarget({ ...o, inputFile: join(o.out, instanceName, '.cur_input') }, err);
  if (typeof opened === 'number') return opened;
  if (o.autoDictionary) tokens = [...tokens, ...opened.autoTokens()];
  let firstCrashReport: string[] = [];
  // --report-sarif: written now (an empty log: nothing found yet, and a path that cannot be written fails
  // before fuzzing), and again after each crash, so an interrupted run leaves a current log.
  const sarifFindings: SarifFinding[] = [];
  const writeSarif = (): boolean => {
    if (o.reportSarif === undefined) return true;
    try {
      fs.writeFileSync(o.reportSarif, formatSarif([{ findings: sarifFindings, commandLine: o.commandLine }], { version: o.version }));
      return true;
    } catch (e) {
      err(`kmemsim: cannot write ${o.reportSarif}: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  };
  if (!writeSarif()) return 2;
  const jobs = (o.jobs ?? 1) > 1 ? startJobs(o, instanceName, err) : null;
  try {
    const summary = await fuzz(opened.target, {
      seeds: o.seeds,
      out: o.out,
      seed: o.seed,
      runs: o.runs,
      maxTimeMs: o.maxTimeSeconds * 1000,
      tokens,
      keepGoing: o.keepGoing,
      maxLength: o.maxLength,
      timeoutInstructions: o.timeoutInstructions,
      commandLine: o.commandLine,
      target: name,
      version: o.version,
      statusIntervalMs: o.statusTty ? 1000 : o.statusInterval * 1000,
      status: status.status,
      instance: instanceName,
      deterministic: o.deterministic ?? false,
      cmplog: o.cmplog ?? true,
      main: o.main !== undefined || (o.jobs ?? 1) > 1,
      syncIntervalMs: (o.syncInterval ?? 30) * 1000,
      targetMode: isProgram(o.target) ? 'kmemsim user program' : 'kmemsim kernel module',
      shouldStop: () => jobs !== null && !o.keepGoing && jobs.crashed(),
      crashSaved: (path, data, exec) => {
        const lines = opened.report(path, data, exec, (f) => void sarifFindings.push(...f));
        writeSarif();
        err(`kmemsim fuzz: crash: ${path} (${exec.signature})`);
        if (firstCrashReport.length === 0) firstCrashReport = lines;
      },
    });
    if (summary.crashes.length > 0 && !o.keepGoing) {
      err(`kmemsim fuzz: stopped at the first crash (--keep-going continues); replay it with: ${opened.replay(summary.crashes[0]!.path)}`);
      for (const l of firstCrashReport) err(l);
    }
    if (summary.interrupted) err('kmemsim fuzz: interrupted; the output directory is consistent (resume with -i -)');
    // The secondaries run to their own limits (the same --runs/--max-time), unless this run was cut short.
    const others = jobs ? await jobs.stop(summary.interrupted || (summary.crashes.length > 0 && !o.keepGoing)) : 0;
    status.end();
    return summary.crashes.length > 0 || summary.hangs > 0 || others > 0 ? o.errorExitcode : 0;
  } catch (e) {
    await jobs?.stop(true);
    status.end();
    if (e instanceof OutputError || e instanceof SeedError) {
      err(`kmemsim: ${e.message}`);
      return 2;
    }
    if (e instanceof FuzzTargetError) {
      err(`kmemsim: ${e.message}`);
      return e.status;
    }
    throw e;
  }
}

/**
 * Where status goes: on a terminal, one line rewritten in place (carriage
 * return, erase to the end of the line) and kept below the other messages;
 * otherwise every status is a line of its own (a log keeps them all).
 */
export function statusPrinter(o: FuzzCommandOptions): { status(line: string): void; line(line: string): void; end(): void } {
  let live = false;
  const raw = o.errRaw;
  if (!o.statusTty || !raw) return { status: o.err, line: o.err, end: () => undefined };
  return {
    status: (l) => {
      raw(`\r${l}\x1b[K`);
      live = true;
    },
    line: (l) => {
      if (live) raw('\r\x1b[K');
      live = false;
      o.err(l);
    },
    end: () => {
      if (live) raw('\n');
      live = false;
    },
  };
}

/** The kmemsim launcher, to start --jobs secondaries with (src/cli → repo/bin, dist/cli and dist/bundle alike). */
const LAUNCHER = fileURLToPath(new URL('../../bin/kmemsim.js', import.meta.url));

/**
 * --jobs N: start N-1 secondaries (`-S secondaryK`, the mutation seed plus
 * K, the same target, options and -o), as `afl-fuzz -S` instances beside
 * this main one. Their crash messages are passed on, prefixed with their
 * names; `stop(true)` ends them with SIGTERM (each finishes its input and
 * leaves its directory consistent), `stop(false)` waits for them to reach
 * their limits; both return how many found something (exit status 99).
 */
function startJobs(o: FuzzCommandOptions, mainName: string, err: (line: string) => void): { crashed(): boolean; stop(kill: boolean): Promise<number> } {
  const argv = stripJobs(o.argv ?? []);
  const children: { name: string; proc: ChildProcess; done: Promise<number> }[] = [];
  let found = 0;
  for (let k = 1; k < (o.jobs ?? 1); k++) {
    const name = `secondary${k}`;
    const args = [LAUNCHER, ...argv.before, '-S', name, '--seed', String((o.seed + k) >>> 0), '--status-interval', '3600', ...argv.after];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let buf = '';
    proc.stderr!.setEncoding('latin1');
    proc.stderr!.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!/^kmemsim fuzz: \d+s, /.test(l)) err(`[${name}] ${l}`);
      }
    });
    const done = new Promise<number>((resolve) => proc.on('exit', (code) => {
      if (code === o.errorExitcode) found++;
      resolve(code ?? 1);
    }));
    children.push({ name, proc, done });
  }
  err(`kmemsim fuzz: ${mainName} and ${children.length} secondar${children.length === 1 ? 'y' : 'ies'} (${children.map((c) => c.name).join(', ')}) in ${o.out}`);
  return {
    crashed: () => found > 0,
    stop: async (kill) => {
      if (kill) for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGTERM');
      await Promise.all(children.map((c) => c.done));
      return found;
    },
  };
}

/** The command line without --jobs, -M/-S and --seed, split where the target's `--` arguments start (-S and --seed go before them). */
function stripJobs(argv: string[]): { before: string[]; after: string[] } {
  const dd = argv.indexOf('--');
  const head = dd >= 0 ? argv.slice(0, dd) : argv;
  const after = dd >= 0 ? argv.slice(dd) : [];
  const before: string[] = [];
  for (let i = 0; i < head.length; i++) {
    const a = head[i]!;
    if (a === '--jobs' || a === '-M' || a === '-S') {
      i++;
      continue;
    }
    if (a.startsWith('--jobs=') || a.startsWith('-M=') || a.startsWith('-S=')) continue;
    if (a === '--seed') {
      i++;
      continue;
    }
    if (a.startsWith('--seed=')) continue;
    before.push(a);
  }
  return { before, after };
}

/**
 * One input file through the one input reader (src/cli/input.ts: regular
 * files within its size limit; a FIFO or /dev/zero is refused, not read for
 * ever); on failure the message is printed and the status returned.
 */
function readFuzzInput(file: string, err: (line: string) => void): Uint8Array | number {
  try {
    return readInputFile(file);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    err(`kmemsim: ${e.message.replace(/^cannot read /, 'cannot read input ')}`);
    return e.status;
  }
}

/**
 * `kmemsim run TARGET --input FILE [--kmemcheck] [--stack MODE]`: one
 * input as `kmemsim fuzz` runs it, with the same report (stderr) and exit
 * status as `kmemsim run` with those checkers.
 */
export function replayCommand(target: string, inputFile: string, o: ReplayChecks & { budget: number; err(line: string): void }): number {
  const data = readFuzzInput(inputFile, o.err);
  if (typeof data === 'number') return data;
  const mod = prepareModule(target, o.stack === 'ftrace', o.err);
  if (typeof mod === 'number') return mod;
  const seen: InputCall = { reached: false, hang: false, instructions: 0 };
  const { budget, err, ...checks } = o;
  const status = replayInput(mod, basename(target), data, { ...checks, timeout: budget }, err, seen);
  if (seen.loaded && !seen.reached) {
    o.err(`kmemsim: ${basename(target)} defines no ${ENTRY}(const u8 *data, size_t size): --input has nothing to go to`);
    return 126;
  }
  return status;
}

/** tmin's and cmin's target options: the checkers and the budget fuzz runs the target with, its arguments (a program). */
export interface FuzzToolOptions {
  heap: HeapMode | null;
  stack: StackMode | null;
  timeoutInstructions: number;
  args?: string[];
  err(line: string): void;
}

/**
 * `kmemsim tmin TARGET IN OUT [--kmemcheck] [--stack MODE]`: minimize a
 * crashing input keeping its signature (src/fuzz/minimize.ts). Exit
 * status: 0 written; 1 the input does not crash (nothing to keep); 2 the
 * output cannot be written; 126/127/125/1 as for `kmemsim fuzz`'s target.
 */
export function tminCommand(target: string, input: string, output: string, o: FuzzToolOptions): number {
  const data = readFuzzInput(input, o.err);
  if (typeof data === 'number') return data;
  const opened = openTarget({ target, ...o, inputFile: tempInputFile() }, o.err);
  if (typeof opened === 'number') return opened;
  const t = opened.target;
  let r;
  try {
    r = minimize(t, data);
  } catch (e) {
    if (!(e instanceof FuzzTargetError)) throw e;
    o.err(`kmemsim: ${e.message}`);
    return e.status;
  }
  if (r === null) {
    o.err(`kmemsim: ${input} does not crash ${basename(target)} with these checkers: nothing to minimize`);
    return 1;
  }
  try {
    fs.writeFileSync(output, r.data);
  } catch (e) {
    o.err(`kmemsim: cannot write ${output}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return 2;
  }
  o.err(`kmemsim tmin: ${data.length} -> ${r.data.length} bytes in ${r.execs} executions, keeping ${r.signature}`);
  return 0;
}

/**
 * `kmemsim cmin TARGET IN_DIR OUT_DIR [--kmemcheck] [--stack MODE]`: copy
 * to OUT_DIR the smallest inputs of IN_DIR that keep its coverage
 * (src/fuzz/minimize.ts). Exit status: 0 done; 2 IN_DIR unreadable or
 * OUT_DIR not empty or not writable; 125/126/127/1 as for `kmemsim fuzz`'s
 * target.
 */
export function cminCommand(target: string, inDir: string, outDir: string, o: FuzzToolOptions): number {
  let inputs;
  try {
    if (!fs.existsSync(inDir)) throw new SeedError(`cannot read input directory ${inDir}: no such directory`);
    inputs = readSeeds(inDir, 1 << 20).map((s) => ({ name: s.name, data: s.data }));
  } catch (e) {
    if (!(e instanceof SeedError)) throw e;
    o.err(`kmemsim: ${e.message.replace('seed directory', 'input directory')}`);
    return 2;
  }
  if (fs.existsSync(outDir) && fs.readdirSync(outDir).length > 0) {
    o.err(`kmemsim: ${outDir} is not empty: cmin writes into a new or empty directory`);
    return 2;
  }
  const opened = openTarget({ target, ...o, inputFile: tempInputFile() }, o.err);
  if (typeof opened === 'number') return opened;
  const t = opened.target;
  let r;
  try {
    r = minimizeCorpus(t, inputs);
  } catch (e) {
    if (!(e instanceof FuzzTargetError)) throw e;
    o.err(`kmemsim: ${e.message}`);
    return e.status;
  }
  try {
    fs.mkdirSync(outDir, { recursive: true });
    for (const k of r.kept) fs.writeFileSync(join(outDir, k.name), k.data);
  } catch (e) {
    o.err(`kmemsim: cannot write ${outDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return 2;
  }
  o.err(`kmemsim cmin: ${inputs.length} -> ${r.kept.length} inputs${r.crashes ? ` (${r.crashes} crashing or hanging left out)` : ''}`);
  return 0;
}

/** The file `@@` names for tmin and cmin (a fresh temporary directory's, removed at exit). */
function tempInputFile(): string {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'kmemsim-input-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return join(dir, '.cur_input');
}
