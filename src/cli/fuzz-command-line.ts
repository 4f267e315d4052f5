/**
 * The command lines of `kmemsim fuzz`, `tmin` and `cmin`: their options,
 * their usage errors, and the calls into ./fuzz-command.ts — a chunk
 * loaded only when one of them runs (README "Start-up"), hence this file
 * of its own.
 */
import * as tty from 'node:tty';
import type { Argv } from 'yargs';
import { MAX_MEMORY_SIZE } from '../kernel/process.js';
import { DEFAULT_ERROR_EXITCODE, STACK_MODES, type StackMode } from '../harness/modes.js';
import { commandLine, type CliCommand, type CommandArgs } from './command.js';
import { errLine, errOut } from './io.js';
import { parseCount, parseSize, UsageError } from './options.js';
import { REPORT_SARIF_HELP, sarifFile } from './report-options.js';
import { VERSION } from './version.js';

export const fuzzCli: CliCommand = {
  command: 'fuzz <target>',
  describe: 'Fuzz a kernel module that defines libFuzzer\'s int LLVMFuzzerTestOneInput(const u8 *data, size_t size), or a static i386 program: coverage-guided (AFL edge counts), every checker as the oracle, AFL++\'s output layout and sync directory',
  builder: (y) =>
    y
      .epilogue(
        [
          'The machine is initialized once (boot, insmod, init_module, LLVMFuzzerInitialize if defined) and snapshotted; every input restores the snapshot (only the pages it dirtied are copied back), goes into a kmalloc(size) object whose tail past size is unallocated, runs LLVMFuzzerTestOneInput, then cleanup_module. A checker finding, an oops, BUG, triple fault or unsupported instruction is a crash; running out of --timeout-instructions is a hang. A static i386 program target gets each input on stdin, or in the file whose path replaces @@ in its arguments after --; a death by a signal is a crash. Output: OUT/NAME/{queue,crashes,hangs}/, fuzzer_stats, plot_data (AFL++\'s formats; NAME is default, or the -M/-S name); next to each crash FILE.json and FILE.txt, its report.',
          '',
          'Exit status:',
          '  0    nothing found within the limits',
          '  99   a crash (or a hang) was found (--error-exitcode)',
          '  1    init_module returned a negative errno',
          '  124  init_module never returned within the budget',
          '  125  the module oopsed in init_module or LLVMFuzzerInitialize',
          '  126  the module cannot be compiled or loaded, or defines no LLVMFuzzerTestOneInput; the program cannot run',
          '  127  no such file',
          '  2    usage error, unreadable -i or seed, bad -x dictionary, -o holding an earlier run (resume with -i -)',
        ].join('\n'),
      )
      .positional('target', { type: 'string', describe: 'kernel module: source (.c) or relocatable object (.o, .ko); or a static i386 program (input on stdin, or in the file @@ names after --)', demandOption: true })
      .option('i', { type: 'string', describe: 'seed directory (missing or empty: one generated input); - resumes OUT\'s earlier run' })
      .option('o', { type: 'string', describe: 'output directory (AFL++ layout)', demandOption: true })
      .option('kmemcheck', { type: 'boolean', describe: 'heap checker: uninitialized, unallocated and freed reads are crashes', default: false })
      .option('stack', { type: 'string', choices: STACK_MODES as string[], describe: 'stack checker: its findings are crashes' })
      .option('max-time', { type: 'string', describe: 'stop after this many seconds (wall time)' })
      .option('runs', { type: 'string', describe: 'stop after this many executions (seeds included; deterministic)' })
      .option('x', { type: 'string', describe: 'dictionary in AFL\'s format (name="value" lines)' })
      .option('seed', { type: 'string', describe: 'seed of the mutation PRNG (same seed, same run)', default: '0' })
      .option('keep-going', { type: 'boolean', describe: 'do not stop at the first crash', default: false })
      .option('auto-dict', { type: 'boolean', describe: 'add the 2- and 4-byte constants the module\'s code compares with to the dictionary (--no-auto-dict: only -x)', default: true })
      .option('timeout-instructions', { type: 'string', describe: 'instructions LLVMFuzzerTestOneInput may run per input before it is a hang', default: '10M' })
      .option('max-len', { type: 'string', describe: 'longest input in bytes', default: '4096' })
      .option('error-exitcode', { type: 'string', describe: 'exit status when something was found', default: String(DEFAULT_ERROR_EXITCODE) })
      .option('status-interval', { type: 'string', describe: 'seconds between status lines on stderr', default: '5' })
      .option('report-sarif', { type: 'string', describe: `${REPORT_SARIF_HELP}: every saved crash's findings, rewritten after each crash` })
      .option('memory', { type: 'string', describe: 'guest RAM of a program target (QEMU -m style: 256M, 1G)' })
      .option('M', { type: 'string', describe: 'main instance NAME in -o OUT (AFL++ sync directory: imports the other instances\' finds)' })
      .option('S', { type: 'string', describe: 'secondary instance NAME in -o OUT (AFL++ sync directory)' })
      .option('D', { type: 'boolean', describe: 'run AFL\'s deterministic stages (bit and byte flips, arithmetic, interesting values, dictionary) on each queue entry before havoc', default: false })
      .option('cmplog', { type: 'boolean', describe: 'run each queue entry once with its compares logged and try their operands in place of the input\'s bytes (AFL++\'s -c, input-to-state; --no-cmplog: off)', default: true })
      .option('jobs', { type: 'string', describe: 'run N instances on this machine: this one (-M main) and N-1 secondaries' })
      .option('sync-interval', { type: 'string', describe: 'seconds between imports of the other instances\' queue entries', default: '30' })
      .example('$0 fuzz examples/fuzz/record-type.c --kmemcheck -o out --max-time 60', '')
      .example('$0 fuzz build/fuzz/tlv -o out -- @@', 'a program reading the file named by @@ (without @@: its stdin)'),
  async run(a, argv) {
    if (a.o === undefined || String(a.o) === '') throw new UsageError('fuzz needs -o DIR');
    const { fuzzCommand } = await import('./fuzz-command.js');
    return fuzzCommand({
      target: a.target as string,
      seeds: (a.i as string | undefined) ?? null,
      out: String(a.o),
      heap: a.kmemcheck ? 'kmemcheck' : null,
      stack: (a.stack as StackMode | undefined) ?? null,
      maxTimeSeconds: a['max-time'] === undefined ? Infinity : parseCount(a['max-time'], '--max-time'),
      runs: a.runs === undefined ? Infinity : parseCount(a.runs, '--runs', { min: 1 }),
      dictionary: (a.x as string | undefined) ?? null,
      seed: parseCount(a.seed, '--seed', { max: 0xffff_ffff }),
      keepGoing: a['keep-going'] as boolean,
      timeoutInstructions: parseCount(a['timeout-instructions'], '--timeout-instructions', { min: 1 }),
      maxLength: parseCount(a['max-len'], '--max-len', { min: 1, max: 1 << 20 }),
      autoDictionary: a['auto-dict'] as boolean,
      errorExitcode: parseCount(a['error-exitcode'], '--error-exitcode', { max: 255 }),
      statusInterval: parseCount(a['status-interval'], '--status-interval', { min: 1 }),
      reportSarif: sarifFile(a['report-sarif']),
      commandLine: commandLine(argv),
      version: VERSION,
      args: programArgs(a),
      ...(a.memory !== undefined ? { memorySize: parseSize(a.memory, '--memory', { min: 4 * 2 ** 20, max: MAX_MEMORY_SIZE }) } : {}),
      deterministic: a.D as boolean,
      cmplog: a.cmplog as boolean,
      ...(a.M !== undefined ? { main: String(a.M) } : {}),
      ...(a.S !== undefined ? { secondary: String(a.S) } : {}),
      ...(a.jobs !== undefined ? { jobs: parseCount(a.jobs, '--jobs', { min: 1, max: 256 }) } : {}),
      syncInterval: parseCount(a['sync-interval'], '--sync-interval', { min: 1 }),
      argv: [...argv],
      statusTty: tty.isatty(2) && process.stderr.isTTY === true && !statusIntervalGiven(argv),
      errRaw: (t) => errOut(t),
      err: errLine,
    });
  },
};

export const tminCli: CliCommand = {
  command: 'tmin <target> <input> <output>',
  describe: 'Minimize a crashing input of a kmemsim fuzz target, keeping its crash signature (afl-tmin\'s block deletion and normalization)',
  builder: (y) =>
    fuzzTarget(y)
      .epilogue('Exit status: 0 minimized input written; 1 the input does not crash the target with these checkers; 2 usage error or OUTPUT not writable; 125/126/127 as for kmemsim fuzz.')
      .positional('input', { type: 'string', describe: 'the crashing input (a crashes/ file)', demandOption: true })
      .positional('output', { type: 'string', describe: 'where the minimized input goes', demandOption: true }),
  async run(a) {
    const { tminCommand } = await import('./fuzz-command.js');
    return tminCommand(a.target as string, a.input as string, a.output as string, fuzzTargetRun(a));
  },
};

export const cminCli: CliCommand = {
  command: 'cmin <target> <input-dir> <output-dir>',
  describe: 'Copy the smallest inputs of a corpus that keep its edge coverage (afl-cmin) for a kmemsim fuzz target',
  builder: (y) =>
    fuzzTarget(y)
      .epilogue('Exit status: 0 done; 2 usage error, INPUT-DIR unreadable, OUTPUT-DIR not empty or not writable; 125/126/127 as for kmemsim fuzz. Crashing and hanging inputs are left out.')
      .positional('input-dir', { type: 'string', describe: 'the corpus (e.g. OUT/default/queue)', demandOption: true })
      .positional('output-dir', { type: 'string', describe: 'where the kept inputs go (new or empty)', demandOption: true }),
  async run(a) {
    const { cminCommand } = await import('./fuzz-command.js');
    return cminCommand(a.target as string, a['input-dir'] as string, a['output-dir'] as string, fuzzTargetRun(a));
  },
};

/** tmin's and cmin's target and checkers, given as for fuzz. */
function fuzzTarget<T>(y: Argv<T>) {
  return y
    .positional('target', { type: 'string', describe: 'kernel module: source (.c) or relocatable object (.o, .ko)', demandOption: true })
    .option('kmemcheck', { type: 'boolean', describe: 'heap checker, as for fuzz', default: false })
    .option('stack', { type: 'string', choices: STACK_MODES as string[], describe: 'stack checker, as for fuzz' })
    .option('timeout-instructions', { type: 'string', describe: 'per-input instruction budget (a hang)', default: '10M' });
}

/** What fuzzTarget()'s options say, as tmin and cmin take it. */
function fuzzTargetRun(a: CommandArgs): import('./fuzz-command.js').FuzzToolOptions {
  return {
    args: programArgs(a),
    heap: a.kmemcheck ? 'kmemcheck' : null,
    stack: (a.stack as StackMode | undefined) ?? null,
    timeoutInstructions: parseCount(a['timeout-instructions'], '--timeout-instructions', { min: 1 }),
    err: errLine,
  };
}

/** --status-interval on the command line: plain lines at that interval even on a terminal. */
function statusIntervalGiven(argv: readonly string[]): boolean {
  return argv.some((a) => a === '--status-interval' || a.startsWith('--status-interval='));
}

/** The arguments after the target (`-- ARGS`, with `@@` for the input file), as strings. */
function programArgs(a: CommandArgs): string[] {
  return [...((a['--'] as unknown[] | undefined) ?? []), ...((a._ as unknown[] | undefined) ?? []).slice(1)].map(String);
}
