/**
 * `kmemsim run FILE [ARGS]`: its options and their usage errors, then the
 * run — a static i386 program (./run-program.ts) or a kernel module
 * (./run-module.ts), chosen by the file's content. Thin on purpose: it
 * parses arguments, calls the kernel and CPU layers, and turns their typed
 * results into output and exit statuses. No stack trace of ours reaches a
 * user: every failure is a one-line message on stderr and a documented
 * exit status.
 *
 * Exit statuses of a program: the guest's own status; 124 when the
 * instruction budget ran out (like timeout(1)); 125 when the guest died of
 * an unhandled fault, an unsupported instruction or a triple fault; 126
 * when the file cannot be run (not a regular file of at most 256 MiB,
 * malformed or unsupported ELF, dynamically linked, more guest memory than
 * it may have) — whatever the checker flags; 127 when it does not exist;
 * 2 for usage errors (numeric options go through src/cli/options.ts).
 *
 * A kernel module is a relocatable object (ET_REL, whatever its name) or a
 * .c file, compiled first (src/cli/compile.ts). It exits 0 when it loaded
 * and unloaded, 1 when init_module returned a negative errno (insmod
 * fails), 124/125 as above, 126 when it cannot be compiled or loaded
 * (unresolved symbols, unsupported relocations).
 */
import * as fs from 'node:fs';
import type { GenSuppressions } from './check-command.js';
import type { SuppressionSet } from '../report/suppressions.js';
import type { GdbSession } from '../gdb/session.js';
import { MAX_MEMORY_SIZE, DEFAULT_BUDGET } from '../kernel/process.js';
import { hostPathInRoot } from '../linux/start.js';
import { ACCESS_SIZE_STRATEGIES, DEFAULT_ERROR_EXITCODE, STACK_MODES, type AccessSizeStrategy, type HeapMode, type StackMode } from '../harness/modes.js';
import { GEN_SUPPRESSIONS, GEN_SUPPRESSIONS_HELP, REPORT_SARIF_HELP, SUPPRESSIONS_HELP, genSuppressions, loadSuppressions, sarifFile } from './report-options.js';
import { commandLine, type CliCommand, type CommandArgs } from './command.js';
import { compilerFlags, compilerOptions, list } from './compiler-options.js';
import { MAX_INSTRUCTIONS_HELP, parseCount, parseSize, UsageError } from './options.js';
import { readInput } from './input.js';
import { errLine } from './io.js';
import { isRelocatable } from './module-input.js';
import { runProgramCommand } from './run-program.js';
import { runModuleCommand } from './run-module.js';
import { VERSION } from './version.js';

/** `kmemsim run`'s checker options (null: no checker). */
export interface CheckCliOptions {
  heap: HeapMode | null;
  stack: StackMode | null;
  kernelRing: 0 | 1 | undefined;
  poison: number | undefined;
  errorExitcode: number;
  reportJson: string | undefined;
  oneShot: boolean;
  partialOk: boolean;
  checkWrites: boolean;
  reportSarif: string | undefined;
  sarif: { version: string; commandLine: string };
  suppressions: SuppressionSet | undefined;
  genSuppressions: GenSuppressions;
}

/** How a program's guest sees memory and the host file system (--memory, --root, --read-only), and the rest of run's options. */
export interface ProgramOptions {
  memorySize?: number;
  root?: string;
  readOnly?: boolean;
  /** --module FILE [PARAMS]: kernel modules loaded before the program. */
  modules?: string[];
  /** -I/-D/-O/--cflags for compiling modules (.c files). */
  cflags?: string[];
  /** Kernel modules: a bpftrace program (file or text) and boot parameters. */
  bpftrace?: string;
  kernelParams?: string[];
  /** Kernel modules: `--overlay-save FILE`. */
  overlaySave?: string;
  /** Kernel modules: `--mmiotrace FILE`. */
  mmiotrace?: string;
  /** Kernel modules: `--vdev "PROGRAM [ARGS]"`. */
  vdev?: string;
  /** Kernel modules: `--access-size`. */
  accessSize?: AccessSizeStrategy;
  /** Kernel modules: the status when the watch framework reported overflows (--error-exitcode). */
  errorExitcode?: number;
  /** `--gdb PORT`: the debugging session (src/gdb), listening already. */
  gdb?: GdbSession | null;
}

/** What run's checker options, budget, --gdb and --input say (usage errors thrown in the order they are checked). */
interface RunArgs {
  kmem: CheckCliOptions | null;
  errorExitcode: number;
  budget: number;
  memory: number | undefined;
  gdbPort: number | null;
  input: string | null;
}

export const runCli: CliCommand = {
  command: 'run <file> [args..]',
  describe: 'Run a static i386 ELF program (Linux int $0x80 ABI) on the simulated machine, or a kernel module (a relocatable .o, or a .c file compiled with gcc) like insmod + rmmod. Arguments after -- go to the guest program.',
  builder: (y) =>
    compilerOptions(
      y
        .epilogue(
          [
            'Exit status, a program:',
            '  N    the guest called exit(N) / exit_group(N)',
            '  124  the instruction budget (--max-instructions) ran out',
            '  128+N died of signal N (unhandled fault: 139 SIGSEGV; OOM killer: 137)',
            '  125  unsupported instruction, deadlock, triple fault',
            '  126  the file cannot be run (not a static i386 ELF executable)',
            '  127  no such file',
            '  2    usage error',
            'Exit status, a kernel module (.c or relocatable .o):',
            '  0    init_module returned 0 (or a positive value), cleanup_module returned',
            '  1    init_module returned a negative errno (insmod fails)',
            '  124  the instruction budget ran out',
            '  125  an oops, BUG/panic, unsupported instruction or triple fault',
            '  126  the module cannot be compiled or loaded',
            '  127  no such file',
            '  99   a checker (--kmemcheck, --stack) found something, or the watch framework reported an overflow (--error-exitcode)',
            '  2    usage error',
          ].join('\n'),
        )
        .positional('file', { type: 'string', describe: 'static i386 ELF executable, kernel module object (.o) or module source (.c)', demandOption: true })
        .positional('args', { type: 'string', array: true, describe: 'arguments passed to the guest (argv[1..])' })
        .option('max-instructions', { type: 'string', describe: MAX_INSTRUCTIONS_HELP })
        .option('memory', { type: 'string', describe: `programs: guest RAM, like qemu -m (256M, 1G; a plain number is MiB); default 64 MiB, or what the program needs to load plus 64 MiB when that is more than half of it; at most ${MAX_MEMORY_SIZE / 2 ** 20} MiB` })
        .option('verbose', { type: 'boolean', describe: 'report kmemsim diagnostics (unimplemented system calls, instruction count) on stderr', default: false })
        .option('trace-events', { type: 'boolean', describe: 'one line per exception or interrupt on stderr', default: false })
        .option('root', { type: 'string', describe: 'programs: confine the guest to this host directory (guest / is DIR; the program path is a guest path)' })
        .option('read-only', { type: 'boolean', describe: 'programs: refuse every write to the host file system (EROFS)', default: false })
        .option('kmemcheck', { type: 'boolean', describe: 'kernel modules: check reads of uninitialized, unallocated and freed heap memory (reports on stderr)', default: false })
        .option('error-exitcode', { type: 'string', describe: 'with --kmemcheck: exit status when there are findings', default: String(DEFAULT_ERROR_EXITCODE) })
        .option('report-json', { type: 'string', describe: 'with --kmemcheck: write the findings as JSON to this file' })
        .option('report-sarif', { type: 'string', describe: `with --kmemcheck or --stack: ${REPORT_SARIF_HELP}` })
        .option('suppressions', { type: 'string', array: true, describe: `with --kmemcheck or --stack: ${SUPPRESSIONS_HELP}` })
        .option('gen-suppressions', { type: 'string', choices: GEN_SUPPRESSIONS as unknown as string[], describe: `with --kmemcheck or --stack: ${GEN_SUPPRESSIONS_HELP}`, default: 'no' })
        .option('kmemcheck-one-shot', { type: 'boolean', describe: 'with --kmemcheck: stop checking after the first report (Linux kmemcheck=2)', default: false })
        .option('kmemcheck-inline', { type: 'boolean', describe: 'with --kmemcheck: use the precise inline checker (same shadow rules, every access checked before it runs, no hidden pages or faults) instead of the fault-driven path', default: false })
        .option('kmemcheck-writes', { type: 'boolean', describe: 'with --kmemcheck: also report writes into unallocated and freed heap memory (beyond Linux\'s kmemcheck, which checked reads; KASAN reports them)', default: false })
        .option('kmemcheck-partial-ok', { type: 'boolean', describe: 'with --kmemcheck: a read passes when any of its bytes is initialized (--no-kmemcheck-partial-ok: every byte must be)', default: true })
        .option('stack', { type: 'string', choices: STACK_MODES as string[], describe: 'kernel modules: track the kernel stack — cpl1 (the kernel at CPL 1, its stack pages hidden: Vegard Nossum\'s plan), ftrace (stack-frame poisoning on function return: Ingo Molnar\'s), precise (every access and ESP change checked: the oracle); combinable with --kmemcheck' })
        .option('kernel-ring', { type: 'number', choices: [0, 1], describe: 'privilege level of kernel code (default 1 with --stack cpl1, else 0); --stack cpl1 --kernel-ring 0 shows why the plan needs ring 1 (double fault)' })
        .option('gdb', { type: 'string', describe: 'serve the GDB remote protocol on 127.0.0.1:PORT (0: any free port) and wait for gdb before the first instruction (a module: before init_module; the add-symbol-file commands are printed)' })
        .option('gdb-on-finding', { type: 'boolean', describe: 'with --gdb and a checker: stop at the instruction of each finding, its report printed', default: false })
        .option('input', { type: 'string', describe: 'kernel modules with LLVMFuzzerTestOneInput: replay this input (a kmemsim fuzz queue or crash file) as kmemsim fuzz runs it, with the same checkers and report' })
        .option('bpftrace', { type: 'string', describe: 'kernel modules: run a bpftrace program (a .bt file, or the program text) on the simulated kernel while the module runs: kprobe:/kretprobe: probes with * wildcards, BEGIN/END, /filters/, printf, maps with count()/sum() printed at the end (README "bpftrace")' })
        .option('kernel-param', { type: 'string', array: true, describe: 'kernel modules: a kernel boot parameter, e.g. page_owner=on (repeatable)' })
        .option('overlay-save', { type: 'string', describe: 'kernel modules: write every write overlay (kmcf_overlay) as it ends, and those live after the run, to this file: offsets, original and overlay bytes' })
        .option('access-size', { type: 'string', choices: ACCESS_SIZE_STRATEGIES as unknown as string[], describe: 'kernel modules: how faults on hidden pages (kmemcheck, --stack cpl1, the watch framework, MMIO) learn an access\'s size — decode (the decoder, then a single step; default), debugreg (DR0–DR3 data breakpoints during the step tell the size: Brendan\'s scheme, more passes for sizes they cannot tell apart), emulate (the #PF handler completes MOV, MOVZX/MOVSX and whole REP MOVS/STOS/LODS itself, else decode)' })
        .option('mmiotrace', { type: 'string', describe: 'kernel modules: write every access to ioremap()ped device windows to this file in Linux\'s mmiotrace format (MAP, R, W, UNMAP, MARK lines)' })
        .option('vdev', { type: 'string', describe: 'kernel modules: "PROGRAM [ARGS]": a static i386 program serving the counter device over /dev/vdev (include/kmemsim/vdev.h) instead of the built-in one' })
        .option('ftrace-poison', { type: 'string', describe: 'with --stack ftrace: the 32-bit poison word dead stack frames are filled with (hex, e.g. 0x5a5a5a5a)' })
        .option('module', { type: 'string', describe: 'programs: load this kernel module (.ko, .o or .c) before the program starts, as insmod does; "FILE NAME=VALUE ..." passes parameters; repeatable' }),
    )
      // Without descriptions: yargs gives a described example only half the width.
      .example('$0 run build/examples/hello-O2 -- world', '')
      .example('$0 run build/examples/hello-O2 --trace-events', '')
      .example('$0 run examples/kmemcheck/uninit-kmalloc.c', '')
      .example('$0 run examples/kmemcheck/uninit-kmalloc.c --kmemcheck', '')
      .example('$0 run examples/stack/uninit-local.c --stack cpl1', ''),
  async run(a, argv) {
    const r = await runArgs(a, argv);
    if (r.input !== null) {
      const { replayCommand } = await import('./fuzz-command.js');
      // Every checker option of `run` applies to the replay (the fuzzer's own runs use their defaults).
      return replayCommand(a.file as string, r.input, {
        ...r.kmem,
        heap: r.kmem?.heap ?? null,
        stack: r.kmem?.stack ?? null,
        errorExitcode: r.errorExitcode,
        budget: r.budget,
        err: errLine,
      });
    }
    const prog = programOptions(a, r);
    const gdb = r.gdbPort === null ? null : await listenForGdb(r.gdbPort, a['gdb-on-finding'] as boolean);
    let code = 0;
    try {
      code = await runFile(a.file as string, [...((a.args as string[] | undefined) ?? []), ...((a['--'] as string[] | undefined) ?? [])].map(String), r.budget, a.verbose as boolean, a['trace-events'] as boolean, r.kmem, { ...prog, gdb });
    } finally {
      gdb?.finish(code);
    }
    return code;
  },
};

async function runArgs(a: CommandArgs, argv: readonly string[]): Promise<RunArgs> {
  const stack = (a.stack as StackMode | undefined) ?? null;
  const checking = (a.kmemcheck as boolean) || stack !== null;
  if (!a.kmemcheck && (a['kmemcheck-one-shot'] || a['kmemcheck-inline'] || a['kmemcheck-writes'])) {
    throw new UsageError('--kmemcheck-one-shot, --kmemcheck-inline and --kmemcheck-writes need --kmemcheck');
  }
  if (!checking && a['report-json'] !== undefined) throw new UsageError('--report-json needs --kmemcheck or --stack');
  for (const o of ['report-sarif', 'suppressions'] as const) if (!checking && a[o] !== undefined) throw new UsageError(`--${o} needs --kmemcheck or --stack`);
  if (!checking && a['gen-suppressions'] !== 'no') throw new UsageError('--gen-suppressions needs --kmemcheck or --stack');
  const reportSarif = sarifFile(a['report-sarif']);
  const gdbPort = a.gdb === undefined ? null : parseCount(a.gdb, '--gdb', { max: 65535 });
  if (a['gdb-on-finding'] && (gdbPort === null || !checking)) throw new UsageError('--gdb-on-finding needs --gdb and --kmemcheck or --stack');
  const suppressions = await loadSuppressions(a.suppressions);
  if (a['kernel-ring'] !== undefined && stack === null) throw new UsageError('--kernel-ring needs --stack');
  if (a['ftrace-poison'] !== undefined && stack !== 'ftrace') throw new UsageError('--ftrace-poison needs --stack ftrace');
  let poison: number | undefined;
  if (a['ftrace-poison'] !== undefined) {
    const t = String(a['ftrace-poison']);
    if (!/^(0x)?[0-9a-f]{1,8}$/i.test(t)) throw new UsageError(`--ftrace-poison: ${t} is not a 32-bit hex word`);
    poison = Number.parseInt(t.replace(/^0x/i, ''), 16) | 0;
  }
  const errorExitcode = parseCount(a['error-exitcode'], '--error-exitcode', { max: 255 });
  const budget = a['max-instructions'] === undefined ? DEFAULT_BUDGET : parseCount(a['max-instructions'], '--max-instructions');
  const memory = a.memory === undefined ? undefined : parseSize(a.memory, '--memory', { min: 4 * 2 ** 20, max: MAX_MEMORY_SIZE });
  if (a['report-json'] !== undefined && String(a['report-json']) === '') throw new UsageError('--report-json needs a file name (got an empty string)');
  const kmem: CheckCliOptions | null = checking
    ? {
      heap: a.kmemcheck ? (a['kmemcheck-inline'] ? 'inline' : 'kmemcheck') : null,
      stack,
      kernelRing: a['kernel-ring'] as 0 | 1 | undefined,
      poison,
      errorExitcode,
      reportJson: a['report-json'] as string | undefined,
      oneShot: a['kmemcheck-one-shot'] as boolean,
      partialOk: a['kmemcheck-partial-ok'] as boolean,
      checkWrites: a['kmemcheck-writes'] as boolean,
      reportSarif,
      sarif: { version: VERSION, commandLine: commandLine(argv) },
      suppressions: suppressions ?? undefined,
      genSuppressions: genSuppressions(a['gen-suppressions']),
    }
    : null;
  const input = a.input === undefined ? null : String(a.input);
  if (input !== null && gdbPort !== null) throw new UsageError('--gdb does not combine with --input');
  return { kmem, errorExitcode, budget, memory, gdbPort, input };
}

/** The options of a program or module run (not a replay), their usage errors checked. */
function programOptions(a: CommandArgs, r: RunArgs): ProgramOptions {
  if (r.memory !== undefined && r.kmem !== null) throw new UsageError('--memory sizes a program\'s guest RAM; kernel modules run in the kernel\'s');
  const root = a.root as string | undefined;
  if (root !== undefined) {
    let dir = false;
    try {
      dir = fs.statSync(root).isDirectory();
    } catch {
      /* reported below */
    }
    if (!dir) throw new UsageError(`--root ${root}: not a directory`);
  }
  const bpftrace = a.bpftrace === undefined ? undefined : String(a.bpftrace);
  const kernelParams = ((a['kernel-param'] as string[] | undefined) ?? []).map(String);
  for (const o of ['overlay-save', 'mmiotrace', 'vdev']) {
    if (a[o] !== undefined && String(a[o]) === '') throw new UsageError(`--${o} needs a file name (got an empty string)`);
  }
  return {
    memorySize: r.memory, root, readOnly: a['read-only'] as boolean,
    modules: list(a.module), cflags: compilerFlags(a), bpftrace, kernelParams,
    overlaySave: a['overlay-save'] as string | undefined, mmiotrace: a.mmiotrace as string | undefined, vdev: a.vdev as string | undefined, accessSize: a['access-size'] as AccessSizeStrategy | undefined, errorExitcode: r.errorExitcode,
  };
}

/** `--gdb PORT`: the session, listening (src/gdb, loaded only then); a port it cannot listen on is a usage error. */
async function listenForGdb(port: number, onFinding: boolean): Promise<GdbSession> {
  const { GdbSession, GdbListenError } = await import('../gdb/session.js');
  try {
    return GdbSession.listen({ port, onFinding, log: errLine });
  } catch (e) {
    if (e instanceof GdbListenError) throw new UsageError(`--gdb: ${e.message}`);
    throw e;
  }
}

/** Read FILE (a guest path under --root) and run it: a kernel module (.c or relocatable) or a program. */
async function runFile(file: string, args: string[], budget: number, verbose: boolean, traceEvents: boolean, kmem: CheckCliOptions | null, prog: ProgramOptions): Promise<number> {
  let hostFile = file;
  if (prog.root !== undefined) {
    // Under --root the program is a guest path, resolved inside the root.
    const h = hostPathInRoot(prog.root, file);
    if (h === null) {
      errLine(`kmemsim: cannot read ${file} in ${prog.root}: no such file`);
      return 127;
    }
    hostFile = h;
  }
  const bytes = readInput(hostFile);
  if (typeof bytes === 'number') return bytes;
  if (file.endsWith('.c') || isRelocatable(bytes)) {
    if (prog.modules?.length) {
      errLine('kmemsim: --module loads modules before a program; to run a module on its own give it as the file');
      return 2;
    }
    return runModuleCommand(file, bytes, args, budget, verbose, traceEvents, kmem, prog.cflags ?? [], prog);
  }
  return runProgramCommand(file, hostFile, bytes, args, budget, verbose, traceEvents, kmem, prog);
}
