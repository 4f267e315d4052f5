/**
 * The `kmemsim` command line. Thin on purpose: it parses arguments, calls
 * the kernel and CPU layers, and turns their typed results into output and
 * exit statuses. No stack trace of ours reaches a user: every failure is a
 * one-line message on stderr and a documented exit status.
 *
 * Exit statuses of `kmemsim run`: the guest's own status; 124 when the
 * instruction budget ran out (like timeout(1)); 125 when the guest died of
 * an unhandled fault, an unsupported instruction or a triple fault; 126
 * when the file cannot be run (not a regular file of at most 256 MiB,
 * malformed or unsupported ELF, dynamically linked, more guest memory than
 * it may have) — whatever the checker flags; 127 when it does not exist;
 * 2 for usage errors (numeric options go through src/cli/options.ts).
 * `kmemsim boot` (src/cli/boot-command.ts) documents its own. Every command
 * reads its file with src/cli/input.ts and writes through src/cli/io.ts,
 * so `main(argv, io)` also runs in-process with captured output.
 *
 * `kmemsim run` also runs kernel modules: a relocatable object (ET_REL,
 * whatever its name) or a .c file, compiled first (src/cli/compile.ts). A
 * module exits 0 when it loaded and unloaded, 1 when init_module returned
 * a negative errno (insmod fails), 124/125 as above, 126 when it cannot be
 * compiled or loaded (unresolved symbols, unsupported relocations).
 */
import { BpftraceSession, bpftraceFailure } from './bpftrace-option.js';
import type { AttachedContext } from '../harness/checked-run.js';
import * as fs from 'node:fs';
import * as tty from 'node:tty';
import { createRequire } from 'node:module';
import { yargs } from './argv-parser.js';
import { basename } from 'node:path';
import { runUserProgram, parseUserProgram, LoadError, MAX_MEMORY_SIZE, type RunOptions } from '../kernel/process.js';
import { hostPathInRoot } from '../linux/start.js';
import { runModule } from '../kernel/module-run.js';
import { installKernelApi, type KernelApi } from '../kernel/kapi.js';
import { ModuleLoadError } from '../kernel/module.js';
import { compileModule, CompileError, FTRACE_CFLAGS } from './compile.js';
import { buildModule, BuildError, modname } from './cc-command.js';
import { ModulePreloadError, type PreloadModule } from '../linux/sys-module.js';
import { ElfError } from '../elf/elf32.js';
import { describeStop } from './describe.js';
import { disassembleFile, DisasmError } from './disasm-command.js';
import { bootCommand } from './boot-command.js';
import { eventTracer } from '../trace/events.js';
import { isRelocatable } from './module-input.js';
import { openServiceOutputs } from './run-output.js';
import { moduleLocator, moduleSymbolizer } from '../kernel/symbols.js';
import type { LoadedModule } from '../kernel/module.js';
import { ACCESS_SIZE_STRATEGIES, DEFAULT_ERROR_EXITCODE, STACK_MODES, type AccessSizeStrategy, type HeapMode, type StackMode } from '../harness/modes.js';
import type { checkCommand as CheckCommand, GenSuppressions } from './check-command.js';
import type { SuppressionSet } from '../report/suppressions.js';
import type { GdbSession } from '../gdb/session.js';
import { DEFAULT_RUNTIME_PATH } from '../kernel/module-run.js';
import { addSymbolFileCommand } from '../gdb/symbol-file.js';
import { resolve as resolvePath } from 'node:path';
import { GEN_SUPPRESSIONS, GEN_SUPPRESSIONS_HELP, REPORT_SARIF_HELP, SUPPRESSIONS_HELP, genSuppressions, loadSuppressions, sarifFile } from './report-options.js';
import type { checkProgramCommand as CheckProgramCommand } from './check-program-command.js';

/*
 * Start-up time (README "Start-up"): what only some commands need — the
 * checkers (check-command → src/harness, src/shadow, src/rings,
 * src/ftrace) and compare — is imported by the handler that needs it, so
 * `kmemsim run prog` loads the CPU, the kernel, the ELF reader and yargs
 * (boot and disasm are small and share those).
 * yargs comes from src/cli/argv-parser.ts.
 */
const require = createRequire(import.meta.url);

/** kmemsim's version, from its own package.json (dist/cli/ and dist/bundle/ are both two levels down), wherever it runs. */
const VERSION = (require('../../package.json') as { version: string }).version;

/** `run --gdb PORT`: the debugging session (src/gdb), loaded only then. */
let gdb: GdbSession | null = null;

/** The checkers' entry point, loaded by `run` when a checker option is given. */
let checkCommand: typeof CheckCommand | null = null;
/** `run --kmemcheck --module ... PROGRAM` (src/cli/check-program-command.ts), loaded with the checkers. */
let checkProgramCommand: typeof CheckProgramCommand | null = null;

import { parseCount, parseSize, UsageError } from './options.js';
import { environmentError } from './environment.js';
import { readInputFile, InputError } from './input.js';
import { processIO, withCliIO, out, errOut, errLine, stdinBytes, stderrColumns, type CliIO } from './io.js';
import { DEFAULT_BUDGET } from '../kernel/process.js';
import { DEFAULT_BOOT_MEMORY_MIB, MIN_BOOT_MEMORY_MIB, MAX_BOOT_MEMORY_MIB } from '../boot/machine.js';

const MAX_INSTRUCTIONS_HELP = 'stop after N guest instructions (exit status 124); N is a whole number: 1000000, 1e9, or with a decimal suffix K/M/G/T (10M, 2G); default 10G';

/** `kmemsim run`'s checker options (null: no checker). */
interface CheckCliOptions {
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

/**
 * Run the command line `argv` (without `node kmemsim`); returns the exit
 * status. `io` receives stdout and stderr and supplies the guest's stdin
 * (default: the process's own).
 */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  return withCliIO(io, () => mainWithIO(argv));
}

async function mainWithIO(argv: string[]): Promise<number> {
  const envError = environmentError(process.env);
  if (envError !== null) {
    errLine(envError);
    return 2;
  }
  let code = 0;
  const parser = yargs(compilerStyleFlags(argv))
    .scriptName('kmemsim')
    .usage('$0 <command> [options]\n\nA simulated IA-32 machine that runs real 32-bit x86 code and finds reads of uninitialized, unallocated and freed memory the way Linux\'s kmemcheck did.')
    .command(
      'run <file> [args..]',
      'Run a static i386 ELF program (Linux int $0x80 ABI) on the simulated machine, or a kernel module (a relocatable .o, or a .c file compiled with gcc) like insmod + rmmod. Arguments after -- go to the guest program.',
      (y) =>
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
          .option('module', { type: 'string', describe: 'programs: load this kernel module (.ko, .o or .c) before the program starts, as insmod does; "FILE NAME=VALUE ..." passes parameters; repeatable' })
          .option('I', { type: 'string', describe: 'compiling modules: add an include directory' })
          .option('D', { type: 'string', describe: 'compiling modules: define a macro, NAME or NAME=VALUE' })
          .option('O', { type: 'string', describe: 'compiling modules: optimization level (default 2)' })
          .option('cflags', { type: 'string', describe: 'compiling modules: more gcc flags, after the module flags' })
          // Without descriptions: yargs gives a described example only half the width.
          .example('$0 run build/examples/hello-O2 -- world', '')
          .example('$0 run build/examples/hello-O2 --trace-events', '')
          .example('$0 run examples/kmemcheck/uninit-kmalloc.c', '')
          .example('$0 run examples/kmemcheck/uninit-kmalloc.c --kmemcheck', '')
          .example('$0 run examples/stack/uninit-local.c --stack cpl1', ''),
      async (a) => {
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
            sarif: { version: VERSION, commandLine: ['kmemsim', ...argv].join(' ') },
            suppressions: suppressions ?? undefined,
            genSuppressions: genSuppressions(a['gen-suppressions']),
          }
          : null;
        const input = a.input === undefined ? null : String(a.input);
        if (input !== null && gdbPort !== null) throw new UsageError('--gdb does not combine with --input');
        if (input !== null) {
          const { replayCommand } = await import('./fuzz-command.js');
          // Every checker option of `run` applies to the replay (the fuzzer's own runs use their defaults).
          code = replayCommand(a.file as string, input, {
            ...kmem,
            heap: kmem?.heap ?? null,
            stack: kmem?.stack ?? null,
            errorExitcode,
            budget,
            err: errLine,
          });
          return;
        }
        if (memory !== undefined && checking) throw new UsageError('--memory sizes a program\'s guest RAM; kernel modules run in the kernel\'s');
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
        if (kmem) ({ checkCommand } = await import('./check-command.js'));
        if (kmem) ({ checkProgramCommand } = await import('./check-program-command.js'));
        const { userCflags } = await import('./cc-command.js');
        const cflags = userCflags({ include: list(a.I), define: list(a.D), opt: a.O as string | undefined, cflags: a.cflags as string | undefined });
        if (gdbPort !== null) {
          const { GdbSession, GdbListenError } = await import('../gdb/session.js');
          try {
            gdb = GdbSession.listen({ port: gdbPort, onFinding: a['gdb-on-finding'] as boolean, log: errLine });
          } catch (e) {
            if (e instanceof GdbListenError) throw new UsageError(`--gdb: ${e.message}`);
            throw e;
          }
        }
        try {
          code = await runCommand(a.file as string, [...((a.args as string[] | undefined) ?? []), ...(((a as Record<string, unknown>)['--'] as string[] | undefined) ?? [])].map(String), budget, a.verbose as boolean, a['trace-events'] as boolean, kmem, {
            memorySize: memory, root, readOnly: a['read-only'] as boolean,
            modules: list(a.module), cflags, bpftrace, kernelParams,
            overlaySave: a['overlay-save'] as string | undefined, mmiotrace: a.mmiotrace as string | undefined, vdev: a.vdev as string | undefined, accessSize: a['access-size'] as AccessSizeStrategy | undefined, errorExitcode,
          });
        } finally {
          gdb?.finish(code);
          gdb = null;
        }
      },
    )
    .command(
      'boot <kernel>',
      'Boot a Multiboot kernel on a bare simulated PC, as qemu-system-i386 -kernel does',
      (y) =>
        y
          .epilogue(
            [
              'Boot a Multiboot (v1) kernel (an i386 ELF executable, or an image with the header\'s',
              'address fields) on a bare simulated PC, as qemu-system-i386 -kernel does. The debug',
              'console (port 0xE9) and COM1 go to stdout.',
              '',
              'Exit status:',
              '  (v << 1) | 1  the kernel wrote v to isa-debug-exit (port 0xF4)',
              '  0             HLT with nothing left to wake the processor',
              '  124           the instruction budget ran out',
              '  125           triple fault, unhandled exception, unsupported instruction (explained on stderr)',
              '  126           not a bootable Multiboot kernel',
              '  127           no such file',
              '  2             usage error',
            ].join('\n'),
          )
          .positional('kernel', { type: 'string', describe: 'Multiboot kernel image (i386 ELF executable)', demandOption: true })
          .option('memory', { type: 'string', describe: `RAM, like qemu -m: 128M, 1G, or a plain number of MiB (${MIN_BOOT_MEMORY_MIB} MiB to ${MAX_BOOT_MEMORY_MIB} MiB, whole MiB)`, default: String(DEFAULT_BOOT_MEMORY_MIB) })
          .option('max-instructions', { type: 'string', describe: MAX_INSTRUCTIONS_HELP })
          .option('trace-events', { type: 'boolean', describe: 'one line per exception or interrupt on stderr', default: false })
          .option('append', { type: 'string', describe: 'kernel command line (Multiboot cmdline)' })
          .option('verbose', { type: 'boolean', describe: 'say how the machine stopped, on stderr', default: false })
          .option('s', { type: 'boolean', describe: 'serve gdb on 127.0.0.1:1234, as qemu -s (shorthand for --gdb 1234)', default: false })
          .option('S', { type: 'boolean', describe: 'with -s or --gdb: stop before the first instruction until gdb connects and continues, as qemu -S', default: false })
          .option('gdb', { type: 'string', describe: 'serve the GDB remote protocol on 127.0.0.1:PORT (0: any free port, printed)' })
          .example('$0 boot build/kernels/hello.elf', 'exits with status 33')
          .example('$0 boot k.elf --trace-events', 'trace interrupts'),
      async (a) => {
        const memory = parseSize(a.memory, '--memory', { min: MIN_BOOT_MEMORY_MIB * 2 ** 20, max: MAX_BOOT_MEMORY_MIB * 2 ** 20 });
        if (memory % 2 ** 20 !== 0) throw new UsageError(`--memory must be a whole number of MiB (got ${String(a.memory)})`);
        if (a.s && a.gdb !== undefined) throw new UsageError('-s is --gdb 1234: give one of them');
        const gdbPort = a.s ? 1234 : a.gdb === undefined ? null : parseCount(a.gdb, '--gdb', { max: 65535 });
        if (a.S && gdbPort === null) throw new UsageError('-S needs -s or --gdb PORT (there is no monitor to continue from)');
        code = await bootCommand(a.kernel as string, {
          gdb: gdbPort === null ? undefined : { port: gdbPort, stop: a.S as boolean },
          memoryMiB: memory / 2 ** 20,
          maxInstructions: a['max-instructions'] === undefined ? DEFAULT_BUDGET : parseCount(a['max-instructions'], '--max-instructions'),
          traceEvents: a['trace-events'] as boolean,
          verbose: a.verbose as boolean,
          cmdline: a.append as string | undefined,
        });
      },
    )
    .command(
      'compare <paths..>',
      'Run kernel modules plain, with kmemcheck and with each stack strategy (cpl1, ftrace, precise); print findings, true and false positives against the precise oracle, faults, single steps, instructions, wall time and slowdown',
      (y) =>
        y
          .epilogue(
            [
              'A .c file is compiled with -pg -mfentry -fstack-usage (so ftrace has call sites); a relocatable object (.o, .ko) runs as it is (without __fentry__ sites ftrace traces nothing: the table says so). A directory: every .c module under it.',
              '',
              'Exit status:',
              '  0    every program compared (findings do not change the status)',
              '  126  a program could not be compiled, loaded or compared, or the file is',
              '       neither a .c module source nor a relocatable ELF object',
              '  127  no such file or directory',
              '  2    usage error, or a directory without .c modules',
            ].join('\n'),
          )
          .positional('paths', { type: 'string', array: true, describe: 'a module source (.c), a module object (.o, .ko), a directory of .c modules or with a Kbuild/Makefile (its modules), or several .c files of one module', demandOption: true })
          .option('I', { type: 'string', describe: 'compiling modules: add an include directory' })
          .option('D', { type: 'string', describe: 'compiling modules: define a macro, NAME or NAME=VALUE' })
          .option('O', { type: 'string', describe: 'compiling modules: optimization level (default 2)' })
          .option('cflags', { type: 'string', describe: 'compiling modules: more gcc flags, after the module flags' })
          .option('verbose', { type: 'boolean', describe: 'print each gcc (and ld) command on stderr', default: false })
          .option('json', { type: 'boolean', describe: 'print the measurements as JSON instead of tables', default: false })
          .option('svg', { type: 'string', describe: 'write a chart of slowdown against recall per strategy to this file' })
          .option('runs', { type: 'string', describe: 'runs per strategy, 1 to 100 (the median wall time is reported)', default: '1' })
          .option('access-size', { type: 'boolean', describe: 'compare the access-size strategies (decode, debugreg, emulate) instead, with kmemcheck and --stack cpl1 on: accesses, exceptions per access, accesses of unknown size, findings, host CPU µs per access', default: false })
          .option('max-instructions', { type: 'string', describe: 'instruction budget per run (as for run: 1e9, 10M, ...; default 10G)' })
          .option('jobs', { alias: 'j', type: 'string', describe: 'compare this many programs at once, each in a worker thread (the tables keep the programs\' order; times measured side by side share the CPU: publish figures from --jobs 1)', default: '1' })
          .option('report-sarif', { type: 'string', describe: `${REPORT_SARIF_HELP}: one SARIF run per strategy (category kmemsim/compare/STRATEGY/)` })
          .example('$0 compare examples/stack --svg chart.svg', 'compare the strategies on the stack examples'),
      async (a) => {
        const runs = parseCount(a.runs, '--runs', { min: 1, max: 100 });
        const jobs = parseCount(a.jobs, '--jobs', { min: 1, max: 64 });
        const { compareCommand } = await import('./compare-command.js');
        if (a['access-size'] && a.svg !== undefined) throw new UsageError('--svg charts the stack strategies; it does not go with --access-size');
        const { userCflags } = await import('./cc-command.js');
        code = await compareCommand((a.paths as string[]).map(String), {
          cflags: userCflags({ include: list(a.I), define: list(a.D), opt: a.O as string | undefined, cflags: a.cflags as string | undefined }),
          verbose: a.verbose as boolean,
          json: a.json as boolean,
          accessSize: a['access-size'] as boolean,
          svg: a.svg as string | undefined,
          runs,
          jobs,
          errRaw: (t) => errOut(t),
          errColumns: stderrColumns(),
          maxInstructions: a['max-instructions'] === undefined ? DEFAULT_BUDGET : parseCount(a['max-instructions'], '--max-instructions'),
          out: (t) => out(t),
          err: (l) => errLine(l),
          reportSarif: sarifFile(a['report-sarif']),
          sarif: { version: VERSION, commandLine: ['kmemsim', ...argv].join(' ') },
        });
      },
    )
    .command(
      'fuzz <target>',
      'Fuzz a kernel module that defines libFuzzer\'s int LLVMFuzzerTestOneInput(const u8 *data, size_t size), or a static i386 program: coverage-guided (AFL edge counts), every checker as the oracle, AFL++\'s output layout and sync directory',
      (y) =>
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
      async (a) => {
        if (a.o === undefined || String(a.o) === '') throw new UsageError('fuzz needs -o DIR');
        const { fuzzCommand } = await import('./fuzz-command.js');
        code = await fuzzCommand({
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
          commandLine: ['kmemsim', ...argv].join(' '),
          version: VERSION,
          args: programArgs(a),
          ...(a.memory !== undefined ? { memorySize: parseSize(a.memory, '--memory', { min: 4 * 2 ** 20, max: MAX_MEMORY_SIZE }) } : {}),
          deterministic: a.D as boolean,
          cmplog: a.cmplog as boolean,
          ...(a.M !== undefined ? { main: String(a.M) } : {}),
          ...(a.S !== undefined ? { secondary: String(a.S) } : {}),
          ...(a.jobs !== undefined ? { jobs: parseCount(a.jobs, '--jobs', { min: 1, max: 256 }) } : {}),
          syncInterval: parseCount(a['sync-interval'], '--sync-interval', { min: 1 }),
          argv,
          statusTty: tty.isatty(2) && process.stderr.isTTY === true && !statusIntervalGiven(argv),
          errRaw: (t) => errOut(t),
          err: errLine,
        });
      },
    )
    .command(
      'tmin <target> <input> <output>',
      'Minimize a crashing input of a kmemsim fuzz target, keeping its crash signature (afl-tmin\'s block deletion and normalization)',
      (y) =>
        fuzzTarget(y)
          .epilogue('Exit status: 0 minimized input written; 1 the input does not crash the target with these checkers; 2 usage error or OUTPUT not writable; 125/126/127 as for kmemsim fuzz.')
          .positional('input', { type: 'string', describe: 'the crashing input (a crashes/ file)', demandOption: true })
          .positional('output', { type: 'string', describe: 'where the minimized input goes', demandOption: true }),
      async (a) => {
        const { tminCommand } = await import('./fuzz-command.js');
        code = tminCommand(a.target as string, a.input as string, a.output as string, {
          ...fuzzTargetRun(a),
        });
      },
    )
    .command(
      'cmin <target> <input-dir> <output-dir>',
      'Copy the smallest inputs of a corpus that keep its edge coverage (afl-cmin) for a kmemsim fuzz target',
      (y) =>
        fuzzTarget(y)
          .epilogue('Exit status: 0 done; 2 usage error, INPUT-DIR unreadable, OUTPUT-DIR not empty or not writable; 125/126/127 as for kmemsim fuzz. Crashing and hanging inputs are left out.')
          .positional('input-dir', { type: 'string', describe: 'the corpus (e.g. OUT/default/queue)', demandOption: true })
          .positional('output-dir', { type: 'string', describe: 'where the kept inputs go (new or empty)', demandOption: true }),
      async (a) => {
        const { cminCommand } = await import('./fuzz-command.js');
        code = cminCommand(a.target as string, a['input-dir'] as string, a['output-dir'] as string, {
          ...fuzzTargetRun(a),
        });
      },
    )
    .command(
      'cc [inputs..]',
      'Build a kernel module like kbuild: C files (one module), or a directory with a Kbuild file or Makefile (obj-m += NAME.o, NAME-y := a.o b.o)',
      (y) =>
        y
          .epilogue('Exit status: 0 built; 1 gcc or ld failed (their messages are shown); 2 usage error (no sources, a missing file, no obj-m); 127 gcc or ld not found.')
          .positional('inputs', { type: 'string', array: true, describe: 'C files of one module, or one directory with a Kbuild/Makefile' })
          .option('o', { type: 'string', describe: 'output file (default: NAME.ko, NAME from the first C file; DIR/NAME.ko for a directory)' })
          .option('I', { type: 'string', describe: 'add an include directory (after kmemsim\'s include/)' })
          .option('D', { type: 'string', describe: 'define a macro, NAME or NAME=VALUE' })
          .option('O', { type: 'string', describe: 'optimization level (default 2: -O0, -O1, -O2, -O3, -Os, -Og)' })
          .option('cflags', { type: 'string', describe: 'more compiler flags, after the module flags (quoted as in a shell)' })
          .option('verbose', { type: 'boolean', describe: 'print each gcc and ld command', default: false })
          .example('$0 cc hello.c -o hello.ko', '')
          .example('$0 cc examples/linux/tracer', ''),
      async (a) => {
        const { ccCommand, userCflags } = await import('./cc-command.js');
        code = ccCommand(((a.inputs as string[] | undefined) ?? []).map(String), {
          output: a.o as string | undefined,
          cflags: userCflags({ include: list(a.I), define: list(a.D), opt: a.O as string | undefined, cflags: a.cflags as string | undefined }),
          verbose: a.verbose as boolean,
          err: errLine,
          errOut,
        });
      },
    )
    .command(
      'disasm <file>',
      'Disassemble an ELF file (Intel syntax) with kmemsim\'s own decoder',
      (y) =>
        y
          .positional('file', { type: 'string', describe: 'ELF32 file (executable or object)', demandOption: true })
          .option('function', { type: 'string', describe: 'only this function (symbol name)' }),
      (a) => {
        code = disasmCommand(a.file as string, a.function as string | undefined);
      },
    )
    .demandCommand(1, 'Give a command: run, fuzz, tmin, cmin, compare, boot or disasm (see --help).')
    .strict()
    .parserConfiguration({ 'populate--': true })
    .help()
    .alias('h', 'help')
    .version(VERSION)
    .wrap(helpWidth())
    .fail((msg, err, y) => {
      if (err) throw err;
      void y;
      // Throwing stops yargs here: the command's handler must not run with missing arguments.
      throw new UsageError(msg);
    });
  skipHelpCache(parser);
  try {
    await parser.parseAsync();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    errOut(`kmemsim: ${e.message}\nRun 'kmemsim --help' for usage.\n`);
    return 2;
  }
  return code;
}

/**
 * yargs 17 renders the whole help text after running a command's handler,
 * to cache it for a `showHelp()` from inside the handler (lib/command.js,
 * cacheHelpMessage). kmemsim never shows help from a handler, and the
 * rendering (wrapping every description) is a third of a short run's
 * start-up, so the cache is not filled: `--help` and usage errors render
 * the text as before. Reached through yargs's internal methods, hence the
 * checks; without them nothing changes.
 */
function skipHelpCache(parser: unknown): void {
  const usage = (parser as { getInternalMethods?(): { getUsageInstance?(): { cacheHelpMessage?: unknown } } })
    .getInternalMethods?.().getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = (): void => {};
}

/**
 * Width of --help: the terminal's (at most 100 columns) when stdout is
 * one; else $COLUMNS when set (as GNU ls and man use it), else 80.
 */
function helpWidth(): number {
  if (process.stdout.isTTY && process.stdout.columns) return Math.max(40, Math.min(100, process.stdout.columns));
  const env = Number.parseInt(process.env['COLUMNS'] ?? '', 10);
  return Number.isInteger(env) && env >= 40 ? env : 80;
}

/** The input file through the one reader (src/cli/input.ts); on failure the message is printed and its status returned. */
function readInput(file: string): Uint8Array | number {
  try {
    return readInputFile(file);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    errLine(`kmemsim: ${e.message}`);
    return e.status;
  }
}

/** "kmemsim: warning: FILE: ..." when a program's section headers were unusable (it still runs, without symbols). */
function warnSections(file: string, sectionError: string | null): void {
  if (sectionError !== null) errLine(`kmemsim: warning: ${file}: section headers ignored (${sectionError}); no symbols`);
}

/**
 * gcc's attached forms for `cc`, `run` and `compare` (-Iinclude, -DNAME=1, -O0) as yargs reads them (-I include,
 * -D NAME=1, -O 0): yargs would take -DNAME for a group of one-letter flags. Arguments after `--` stay.
 */
function compilerStyleFlags(argv: string[]): string[] {
  if (argv[0] !== 'cc' && argv[0] !== 'run' && argv[0] !== 'compare') return argv;
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return [...out, ...argv.slice(i)];
    if (a === '--cflags' && i + 1 < argv.length) {
      out.push(`--cflags=${argv[++i]}`); // its value starts with '-', which yargs would take for an option
      continue;
    }
    const m = /^-([IDO])(.+)$/.exec(a);
    if (m) out.push(`-${m[1]}`, m[2]!);
    else out.push(a);
  }
  return out;
}

/** A repeatable option's values (yargs gives one value as a string, several as an array). */
function list(v: unknown): string[] {
  return v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String);
}

/** tmin's and cmin's target and checkers, given as for fuzz. */
function fuzzTarget<T>(y: import('yargs').Argv<T>) {
  return y
    .positional('target', { type: 'string', describe: 'kernel module: source (.c) or relocatable object (.o, .ko)', demandOption: true })
    .option('kmemcheck', { type: 'boolean', describe: 'heap checker, as for fuzz', default: false })
    .option('stack', { type: 'string', choices: STACK_MODES as string[], describe: 'stack checker, as for fuzz' })
    .option('timeout-instructions', { type: 'string', describe: 'per-input instruction budget (a hang)', default: '10M' });
}

/** What fuzzTarget()'s options say, as tmin and cmin take it. */
function fuzzTargetRun(a: Record<string, unknown>): import('./fuzz-command.js').FuzzToolOptions {
  return {
    args: programArgs(a),
    heap: a.kmemcheck ? 'kmemcheck' : null,
    stack: (a.stack as StackMode | undefined) ?? null,
    timeoutInstructions: parseCount(a['timeout-instructions'], '--timeout-instructions', { min: 1 }),
    err: errLine,
  };
}

/** --status-interval on the command line: plain lines at that interval even on a terminal. */
function statusIntervalGiven(argv: string[]): boolean {
  return argv.some((a) => a === '--status-interval' || a.startsWith('--status-interval='));
}

/** The arguments after the target (`-- ARGS`, with `@@` for the input file), as strings. */
function programArgs(a: Record<string, unknown>): string[] {
  return [...((a['--'] as unknown[] | undefined) ?? []), ...((a._ as unknown[] | undefined) ?? []).slice(1)].map(String);
}

/** How a program's guest sees memory and the host file system (--memory, --root, --read-only). */
interface ProgramOptions {
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
}

async function runCommand(file: string, args: string[], budget: number, verbose: boolean, traceEvents: boolean, kmem: CheckCliOptions | null, prog: ProgramOptions): Promise<number> {
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
  if (!prog.modules?.length && (prog.overlaySave !== undefined || prog.mmiotrace !== undefined || prog.accessSize !== undefined || prog.vdev !== undefined)) {
    errLine(`kmemsim: --overlay-save, --mmiotrace, --vdev and --access-size concern kernel modules; ${file} is a program (load modules with --module)`);
    return 2;
  }
  const modules = preloadModules(prog.modules ?? [], prog.cflags ?? [], verbose, kmem?.stack === 'ftrace');
  if (typeof modules === 'number') return modules;
  // The modules' services (kmcf_*, ioremap, mmiotrace and trace_marker): src/harness/module-services.ts.
  const outputs = modules.length ? openServiceOutputs(prog, errLine) : null;
  if (typeof outputs === 'string') {
    errLine(outputs);
    return 2;
  }
  const { moduleServicesHook } = await import('../harness/module-services.js');
  // bpftrace's output goes where the kernel console goes with a program: stderr, never the program's stdout.
  const bt = prog.bpftrace === undefined ? null : BpftraceSession.open(prog.bpftrace, (text) => errOut(Buffer.from(text, 'latin1')), errLine);
  if (typeof bt === 'number') return bt;
  try {
    // The same checks with or without checker options: a file that cannot run is 126 either way.
    const elf = parseUserProgram(bytes);
    if (kmem && !modules.length) {
      errLine(`kmemsim: --kmemcheck and --stack check kernel modules (a .c file or a relocatable .o, or --module with a program); ${file} is a program`);
      return 2;
    }
    if (kmem?.stack === 'cpl1' && kmem.kernelRing === 0) {
      errLine('kmemsim: --stack cpl1 --kernel-ring 0 (the double-fault demonstration) runs a module on its own, not a program');
      return 2;
    }
    if (kmem?.stack === 'ftrace' && kmem.kernelRing === 1) {
      errLine('kmemsim: --stack ftrace with a program runs the kernel at ring 0 (--kernel-ring 1 is for module runs)');
      return 2;
    }
    warnSections(file, elf.sectionError);
    const runOpts: RunOptions = {
      argv: [file, ...args],
      env: Object.entries(process.env).map(([k, v]) => `${k}=${v}`),
      root: prog.root,
      readOnly: prog.readOnly,
      stdioIsTty: [0, 1, 2].map((fd) => tty.isatty(fd)) as [boolean, boolean, boolean],
      maxInstructions: budget,
      memorySize: prog.memorySize,
      verbose,
      onStdout: out,
      onStderr: errOut,
      onDiagnostic: errLine,
      stdin: stdinBytes(),
      traceEvents: traceEvents ? (cpu) => eventTracer(cpu, errLine) : undefined,
      onBoot: gdb ? (k) => gdb!.attachProgram(k, hostFile) : undefined,
      modules,
      kernelParams: prog.kernelParams,
      onConsole: (text) => errOut(Buffer.from(text, 'latin1')),
      kernelApi: outputs ? moduleServicesHook(outputs.services) : undefined,
      onKernelApi: bt ? (api) => bt.attach(api) : undefined,
    };
    const finishServices = outputs ? outputs.finish : (status: number): number => status;
    const finish = (status: number): number => finishServices(bt ? bt.finish(status) : status);
    if (kmem) {
      const checkers = { ...kmem, stack: kmem.stack as 'precise' | 'cpl1' | 'ftrace' | null };
      return finish(checkProgramCommand!(bytes, runOpts, checkers, verbose));
    }
    const r = runUserProgram(bytes, runOpts);
    if (r.stop.kind !== 'exited') errLine(describeStop(r.stop, r.instructions));
    if (verbose) errLine(`kmemsim: ${r.instructions} instructions executed`);
    return finish(r.exitCode);
  } catch (e) {
    const b = bpftraceFailure(e, errLine);
    if (b !== null) return b;
    if (e instanceof ElfError || e instanceof LoadError) {
      errLine(`kmemsim: cannot run ${file}: ${e.message}`);
      return 126;
    }
    if (e instanceof ModulePreloadError) {
      errLine(`kmemsim: ${e.message}`);
      return e.status;
    }
    errLine(`kmemsim: internal error: ${e instanceof Error ? e.message : String(e)}`);
    return 125;
  }
}

/**
 * --module FILE [PARAM=VALUE ...]: each module read (a .c file built as `kmemsim cc` does), or the exit
 * status when one cannot be.
 */
function preloadModules(specs: readonly string[], cflags: readonly string[], verbose: boolean, ftrace = false): PreloadModule[] | number {
  const out: PreloadModule[] = [];
  for (const spec of specs) {
    const m = /^\s*(\S+)\s*(.*)$/.exec(spec);
    if (!m) {
      errLine('kmemsim: --module needs a file');
      return 2;
    }
    const [, file, params] = m as unknown as [string, string, string];
    let bytes: Uint8Array;
    let stackUsage: string | undefined;
    if (file.endsWith('.c')) {
      try {
        // --stack ftrace: the __fentry__ call sites (-pg -mfentry) and the frame sizes (-fstack-usage).
        const b = buildModule({ name: modname(file), sources: [file], cflags: [...(ftrace ? FTRACE_CFLAGS : []), ...cflags], stackUsage: ftrace, onCommand: verbose ? (argv) => errLine(argv.join(' ')) : undefined });
        if (b.warnings) errOut(b.warnings);
        bytes = b.object;
        stackUsage = b.stackUsage || undefined;
      } catch (e) {
        if (!(e instanceof BuildError)) throw e;
        if (e.output) errOut(e.output);
        errLine(`kmemsim: --module ${file}: ${e.message}`);
        return e.status === 2 ? 127 : 126;
      }
    } else {
      const r = readInput(file);
      if (typeof r === 'number') return r;
      bytes = r;
    }
    out.push({ name: basename(file), bytes, args: params, stackUsage });
  }
  return out;
}

/** `kmemsim run mod.c [more.c ...]|mod.o`: compile if needed, then insmod + rmmod (src/kernel/module-run.ts). */
async function runModuleCommand(file: string, bytes: Uint8Array, args: string[], budget: number, verbose: boolean, traceEvents: boolean, kmem: CheckCliOptions | null, cflags: readonly string[], prog: ProgramOptions = {}): Promise<number> {
  // Several .c files are one module (issue 15): `kmemsim run a.c b.c`.
  const sources = file.endsWith('.c') ? [file, ...args.filter((x) => x.endsWith('.c'))] : [file];
  const params = file.endsWith('.c') ? args.filter((x) => !x.endsWith('.c')) : args;
  if (params.length) {
    errLine(`kmemsim: ${file} is a kernel module; module parameters (${params.join(' ')}) are not supported`);
    return 2;
  }
  // --overlay-save and --mmiotrace: created now, written after the run.
  const outputs = openServiceOutputs(prog, errLine);
  if (typeof outputs === 'string') {
    errLine(outputs);
    return 2;
  }
  const { services, finish: finishOverlays } = outputs;
  let object = bytes;
  let stackUsage: string | null = null;
  const fromSource = sources.length > 1 || file.endsWith('.c');
  if (sources.length > 1) {
    for (const s of sources.slice(1)) {
      const r = readInput(s);
      if (typeof r === 'number') return r;
    }
    try {
      // kbuild's way: each file compiled with the module flags, linked with ld -r.
      const b = buildModule({ name: modname(file), sources, cflags: [...(kmem?.stack === 'ftrace' ? FTRACE_CFLAGS : []), ...cflags], onCommand: verbose ? (argv) => errLine(argv.join(' ')) : undefined });
      if (b.warnings) errOut(b.warnings);
      object = b.object;
    } catch (e) {
      if (!(e instanceof BuildError)) throw e;
      if (e.output) errOut(e.output);
      errLine(`kmemsim: ${e.message}`);
      return 126;
    }
  } else if (fromSource) {
    try {
      // --stack ftrace needs the __fentry__ call sites (-pg -mfentry); the .su data sizes the frames it poisons.
      const c = compileModule(file, { ftrace: kmem?.stack === 'ftrace', cflags });
      if (verbose) errLine(c.command.join(' '));
      if (c.warnings) errOut(c.warnings);
      object = c.object;
      stackUsage = c.stackUsage || null;
    } catch (e) {
      if (!(e instanceof CompileError)) throw e;
      if (e.output) errOut(e.output);
      errLine(`kmemsim: ${e.message}`);
      return 126;
    }
  }
  const writeConsole = (text: string): void => out(Buffer.from(text, 'latin1'));
  const session = gdb;
  const debugObject = { path: fromSource ? null : resolvePath(file), bytes: object };
  // --verbose without --gdb: the add-symbol-file commands (with --gdb the session prints them, with the object's file).
  const printSymbolFiles = verbose && session === null
    ? (mod: LoadedModule): void => {
      errLine(`kmemsim: gdb: ${addSymbolFileCommand(debugObject.path ?? `${basename(file).replace(/\.c$/, '')}.o`, mod.object)}${fromSource ? ` (the object ${basename(file)} compiles to; --gdb writes it and prints its path)` : ''}`);
      if (mod.runtime) errLine(`kmemsim: gdb: ${addSymbolFileCommand(DEFAULT_RUNTIME_PATH, mod.runtime)}`);
    }
    : null;
  const bt = prog.bpftrace === undefined ? null : BpftraceSession.open(prog.bpftrace, writeConsole, errLine);
  if (typeof bt === 'number') return bt;
  if (kmem) {
    const attached = session ? (ctx: AttachedContext) => session.attachModule(ctx.kernel, ctx.module, debugObject, ctx, DEFAULT_RUNTIME_PATH) : printSymbolFiles ? (ctx: AttachedContext) => printSymbolFiles(ctx.module) : undefined;
    const status = finishOverlays(checkCommand!(object, {
      ...kmem,
      stackUsage,
      verbose,
      err: errLine,
      run: {
        services,
        kernelParams: prog.kernelParams,
        name: basename(file),
        maxInstructions: budget,
        verbose,
        onConsole: writeConsole,
        onDiagnostic: errLine,
        traceEvents: traceEvents ? (cpu) => eventTracer(cpu, errLine) : undefined,
        // bpftrace attaches once the module's functions are in kallsyms, before init_module runs.
        onAttached: (ctx) => {
          attached?.(ctx);
          bt?.attach(ctx.api);
        },
      },
    }));
    return bt ? bt.finish(status) : status;
  }
  let api: KernelApi | null = null;
  let mod: LoadedModule | null = null;
  // Loaded when a module runs (start-up time: README "Speed"): the watch framework, MMIO, the natives' accessor.
  const { finishModuleServices, installModuleServices } = await import('../harness/module-services.js');
  const { checkedAccessor } = await import('../shadow/accessor.js');
  try {
    const r = runModule(object, {
      name: basename(file),
      // The kernel API (kmalloc, printk, ...); %pS in printk also knows the module's functions. The natives reach
      // pages the watch framework hides; the watch framework's kmcf_* calls are exported too.
      exports: (k, io) => {
        api = installKernelApi(k, { console: (text) => io.console(text), memory: checkedAccessor(k, [], []), kernelParams: prog.kernelParams });
        installModuleServices(k, api, services);
        return api;
      },
      onLoad: (k, m) => {
        mod = m;
        api?.symbolizers.push((a) => m.symbolize(a));
        session?.attachModule(k, m, debugObject, null, DEFAULT_RUNTIME_PATH);
        printSymbolFiles?.(m);
        // bpftrace attaches once the module's functions are in kallsyms, before init_module runs.
        if (bt && api) bt.attach(api);
      },
      maxInstructions: budget,
      verbose,
      onConsole: writeConsole,
      onDiagnostic: errLine,
      traceEvents: traceEvents ? (cpu) => eventTracer(cpu, errLine) : undefined,
    });
    if (bt && bt.finish(0) !== 0) return 2;
    if (r.stop) errLine(describeStop(r.stop, r.instructions));
    if (verbose) errLine(`kmemsim: ${r.instructions} instructions executed`);
    // The watch framework's overflow reports (kmcf_set_overflow_report), after the run as kmemcheck's.
    const w = finishModuleServices(r.kernel, moduleSymbolizer(() => mod, () => api), moduleLocator(() => mod, errLine));
    for (const text of w.reports) errLine(text + '\n');
    const status = w.findings.length + w.lost > 0 ? (prog.errorExitcode ?? DEFAULT_ERROR_EXITCODE) : r.exitCode;
    return finishOverlays(status);
  } catch (e) {
    const b = bpftraceFailure(e, errLine);
    if (b !== null) return b;
    if (e instanceof ModuleLoadError) {
      errLine(`kmemsim: cannot load module ${e.message}`);
      return 126;
    }
    errLine(`kmemsim: internal error: ${e instanceof Error ? e.message : String(e)}`);
    return 125;
  }
}


function disasmCommand(file: string, fn: string | undefined): number {
  const bytes = readInput(file);
  if (typeof bytes === 'number') return bytes;
  try {
    const r = disassembleFile(bytes, fn);
    warnSections(file, r.sectionError);
    out(r.text);
    return 0;
  } catch (e) {
    if (e instanceof ElfError || e instanceof DisasmError) {
      errLine(`kmemsim: ${e.message}`);
      return e instanceof ElfError ? 126 : 2;
    }
    throw e;
  }
}
