/**
 * The `kmemsim` command line. Thin on purpose: it parses arguments, calls
 * the kernel and CPU layers, and turns their typed results into output and
 * exit statuses. No stack trace of ours reaches a user: every failure is a
 * one-line message on stderr and a documented exit status.
 *
 * Exit statuses of `kmemsim run`: the guest's own status; 124 when the
 * instruction budget ran out (like timeout(1)); 125 when the guest died of
 * an unhandled fault, an unsupported instruction or a triple fault; 126
 * when the file cannot be run (malformed or unsupported ELF); 127 when it
 * does not exist; 2 for usage errors. `kmemsim boot` (src/cli/boot-command.ts)
 * documents its own.
 *
 * `kmemsim run` also runs kernel modules: a relocatable object (ET_REL,
 * whatever its name) or a .c file, compiled first (src/cli/compile.ts). A
 * module exits 0 when it loaded and unloaded, 1 when init_module returned
 * a negative errno (insmod fails), 124/125 as above, 126 when it cannot be
 * compiled or loaded (unresolved symbols, unsupported relocations).
 */
import * as fs from 'node:fs';
import * as tty from 'node:tty';
import yargs from 'yargs';
import { basename } from 'node:path';
import { runUserProgram } from '../kernel/process.js';
import { hostPathInRoot } from '../linux/start.js';
import { runModule } from '../kernel/module-run.js';
import { installKernelApi, type KernelApi } from '../kernel/kapi.js';
import { ModuleLoadError } from '../kernel/module.js';
import { compileModule, CompileError } from './compile.js';
import { ElfError } from '../elf/elf32.js';
import { describeStop } from './describe.js';
import { disassembleFile } from './disasm-command.js';
import { bootCommand } from './boot-command.js';
import { eventTracer } from '../trace/events.js';
import { DEFAULT_BOOT_MEMORY_MIB } from '../boot/machine.js';
import { DEFAULT_ERROR_EXITCODE, checkCommand } from './check-command.js';
import { STACK_MODES, type HeapMode, type StackMode } from '../harness/checked-run.js';
import { compareCommand } from './compare-command.js';

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
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const parser = yargs(argv)
    .scriptName('kmemsim')
    .usage('$0 <command> [options]\n\nA simulated IA-32 machine that runs real 32-bit x86 code and finds reads of uninitialized, unallocated and freed memory the way Linux\'s kmemcheck did.')
    .command(
      'run <file> [args..]',
      'Run a static i386 ELF program (Linux int $0x80 ABI) on the simulated machine, or a kernel module (a relocatable .o, or a .c file compiled with gcc) like insmod + rmmod. Arguments after -- go to the guest program.',
      (y) =>
        y
          .positional('file', { type: 'string', describe: 'static i386 ELF executable, kernel module object (.o) or module source (.c)', demandOption: true })
          .positional('args', { type: 'string', array: true, describe: 'arguments passed to the guest (argv[1..])' })
          .option('max-instructions', { type: 'number', describe: 'stop after N guest instructions (exit status 124)', default: 10_000_000_000 })
          .option('verbose', { type: 'boolean', describe: 'report kmemsim diagnostics (unimplemented system calls, instruction count) on stderr', default: false })
          .option('trace-events', { type: 'boolean', describe: 'one line per exception or interrupt on stderr', default: false })
          .option('root', { type: 'string', describe: 'programs: confine the guest to this host directory (guest / is DIR; the program path is a guest path)' })
          .option('read-only', { type: 'boolean', describe: 'programs: refuse every write to the host file system (EROFS)', default: false })
          .option('kmemcheck', { type: 'boolean', describe: 'kernel modules: check reads of uninitialized, unallocated and freed heap memory (reports on stderr)', default: false })
          .option('error-exitcode', { type: 'number', describe: 'with --kmemcheck: exit status when there are findings', default: DEFAULT_ERROR_EXITCODE })
          .option('report-json', { type: 'string', describe: 'with --kmemcheck: write the findings as JSON to this file' })
          .option('kmemcheck-one-shot', { type: 'boolean', describe: 'with --kmemcheck: stop checking after the first report (Linux kmemcheck=2)', default: false })
          .option('kmemcheck-inline', { type: 'boolean', describe: 'with --kmemcheck: use the precise inline checker (same shadow rules, every access checked before it runs, no hidden pages or faults) instead of the fault-driven path', default: false })
          .option('kmemcheck-partial-ok', { type: 'boolean', describe: 'with --kmemcheck: a read passes when any of its bytes is initialized (--no-kmemcheck-partial-ok: every byte must be)', default: true })
          .option('stack', { type: 'string', choices: STACK_MODES as string[], describe: 'kernel modules: track the kernel stack — cpl1 (the kernel at CPL 1, its stack pages hidden: Vegard Nossum\'s plan), ftrace (stack-frame poisoning on function return: Ingo Molnar\'s), precise (every access and ESP change checked: the oracle); combinable with --kmemcheck' })
          .option('kernel-ring', { type: 'number', choices: [0, 1], describe: 'privilege level of kernel code (default 1 with --stack cpl1, else 0); --stack cpl1 --kernel-ring 0 shows why the plan needs ring 1 (double fault)' })
          .option('ftrace-poison', { type: 'string', describe: 'with --stack ftrace: the 32-bit poison word dead stack frames are filled with (hex, e.g. 0x5a5a5a5a)' })
          .example('$0 run build/examples/hello-O2 -- world', 'run a program with one argument')
          .example('$0 run build/examples/hello-O2 --trace-events', 'show every int $0x80')
          .example('$0 run mymodule.c', 'compile a kernel module, call init_module and cleanup_module')
          .example('$0 run mymodule.c --kmemcheck --report-json out.json', 'the same under kmemcheck')
          .example('$0 run mymodule.c --stack cpl1', 'uninitialized stack reads, kernel at CPL 1'),
      (a) => {
        const stack = (a.stack as StackMode | undefined) ?? null;
        const checking = (a.kmemcheck as boolean) || stack !== null;
        if (!a.kmemcheck && (a['kmemcheck-one-shot'] || a['kmemcheck-inline'])) {
          throw new UsageError('--kmemcheck-one-shot and --kmemcheck-inline need --kmemcheck');
        }
        if (!checking && a['report-json'] !== undefined) throw new UsageError('--report-json needs --kmemcheck or --stack');
        if (a['kernel-ring'] !== undefined && stack === null) throw new UsageError('--kernel-ring needs --stack');
        if (a['ftrace-poison'] !== undefined && stack !== 'ftrace') throw new UsageError('--ftrace-poison needs --stack ftrace');
        let poison: number | undefined;
        if (a['ftrace-poison'] !== undefined) {
          const t = String(a['ftrace-poison']);
          if (!/^(0x)?[0-9a-f]{1,8}$/i.test(t)) throw new UsageError(`--ftrace-poison: ${t} is not a 32-bit hex word`);
          poison = Number.parseInt(t.replace(/^0x/i, ''), 16) | 0;
        }
        if (checking && (!Number.isInteger(a['error-exitcode']) || (a['error-exitcode'] as number) < 0 || (a['error-exitcode'] as number) > 255)) {
          throw new UsageError('--error-exitcode must be an integer from 0 to 255');
        }
        const kmem: CheckCliOptions | null = checking
          ? {
            heap: a.kmemcheck ? (a['kmemcheck-inline'] ? 'inline' : 'kmemcheck') : null,
            stack,
            kernelRing: a['kernel-ring'] as 0 | 1 | undefined,
            poison,
            errorExitcode: a['error-exitcode'] as number,
            reportJson: a['report-json'] as string | undefined,
            oneShot: a['kmemcheck-one-shot'] as boolean,
            partialOk: a['kmemcheck-partial-ok'] as boolean,
          }
          : null;
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
        code = runCommand(a.file as string, [...((a.args as string[] | undefined) ?? []), ...(((a as Record<string, unknown>)['--'] as string[] | undefined) ?? [])].map(String), a['max-instructions'] as number, a.verbose as boolean, a['trace-events'] as boolean, kmem, { root, readOnly: a['read-only'] as boolean });
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
          .option('memory', { type: 'number', describe: 'RAM in MiB (2 to 1024)', default: DEFAULT_BOOT_MEMORY_MIB })
          .option('max-instructions', { type: 'number', describe: 'stop after N guest instructions (exit status 124)', default: 10_000_000_000 })
          .option('trace-events', { type: 'boolean', describe: 'one line per exception or interrupt on stderr', default: false })
          .option('append', { type: 'string', describe: 'kernel command line (Multiboot cmdline)' })
          .option('verbose', { type: 'boolean', describe: 'say how the machine stopped, on stderr', default: false })
          .example('$0 boot build/kernels/hello.elf', 'exits with status 33')
          .example('$0 boot k.elf --trace-events', 'trace interrupts'),
      (a) => {
        code = bootCommand(a.kernel as string, {
          memoryMiB: a.memory as number,
          maxInstructions: a['max-instructions'] as number,
          traceEvents: a['trace-events'] as boolean,
          verbose: a.verbose as boolean,
          cmdline: a.append as string | undefined,
        });
      },
    )
    .command(
      'compare <path>',
      'Run kernel modules plain, with kmemcheck and with each stack strategy (cpl1, ftrace, precise); print findings, true and false positives against the precise oracle, faults, single steps, instructions, wall time and slowdown',
      (y) =>
        y
          .positional('path', { type: 'string', describe: 'a module source (.c) or a directory of them', demandOption: true })
          .option('json', { type: 'boolean', describe: 'print the measurements as JSON instead of tables', default: false })
          .option('svg', { type: 'string', describe: 'write a chart of slowdown against recall per strategy to this file' })
          .option('runs', { type: 'number', describe: 'runs per strategy (the median wall time is reported)', default: 1 })
          .option('max-instructions', { type: 'number', describe: 'instruction budget per run', default: 10_000_000_000 })
          .example('$0 compare examples/stack --svg chart.svg', 'compare the strategies on the stack examples'),
      (a) => {
        const runs = a.runs as number;
        if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new UsageError('--runs must be an integer from 1 to 100');
        code = compareCommand(a.path as string, {
          json: a.json as boolean,
          svg: a.svg as string | undefined,
          runs,
          maxInstructions: a['max-instructions'] as number,
          out: (t) => void process.stdout.write(t),
          err: (l) => void process.stderr.write(l + '\n'),
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
    .demandCommand(1, 'Give a command: run, compare, boot or disasm (see --help).')
    .strict()
    .parserConfiguration({ 'populate--': true })
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((msg, err, y) => {
      if (err) throw err;
      void y;
      // Throwing stops yargs here: the command's handler must not run with missing arguments.
      throw new UsageError(msg);
    });
  try {
    await parser.parseAsync();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`kmemsim: ${e.message}\nRun 'kmemsim --help' for usage.\n`);
    return 2;
  }
  return code;
}

/** A command-line mistake: one message, exit status 2. */
class UsageError extends Error {}

function readInput(file: string): Uint8Array | number {
  try {
    return new Uint8Array(fs.readFileSync(file));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    process.stderr.write(`kmemsim: cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}\n`);
    return err.code === 'ENOENT' ? 127 : 126;
  }
}

function runCommand(file: string, args: string[], budget: number, verbose: boolean, traceEvents: boolean, kmem: CheckCliOptions | null = null, fsOpts: { root?: string; readOnly?: boolean } = {}): number {
  let hostFile = file;
  if (fsOpts.root !== undefined) {
    // Under --root the program is a guest path, resolved inside the root.
    const h = hostPathInRoot(fsOpts.root, file);
    if (h === null) {
      process.stderr.write(`kmemsim: cannot read ${file} in ${fsOpts.root}: no such file\n`);
      return 127;
    }
    hostFile = h;
  }
  const bytes = readInput(hostFile);
  if (typeof bytes === 'number') return bytes;
  if (file.endsWith('.c') || isRelocatable(bytes)) return runModuleCommand(file, bytes, args, budget, verbose, traceEvents, kmem);
  if (kmem) {
    process.stderr.write(`kmemsim: --kmemcheck and --stack check kernel modules (a .c file or a relocatable .o); ${file} is a program\n`);
    return 2;
  }
  const write = (fd: number) => (b: Uint8Array): void => {
    let off = 0;
    while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off);
  };
  try {
    const r = runUserProgram(bytes, {
      argv: [file, ...args],
      env: Object.entries(process.env).map(([k, v]) => `${k}=${v}`),
      root: fsOpts.root,
      readOnly: fsOpts.readOnly,
      stdioIsTty: [0, 1, 2].map((fd) => tty.isatty(fd)) as [boolean, boolean, boolean],
      maxInstructions: budget,
      verbose,
      onStdout: write(1),
      onStderr: write(2),
      onDiagnostic: (line) => process.stderr.write(line + '\n'),
      stdin: readStdin(),
      traceEvents: traceEvents ? (cpu) => eventTracer(cpu, (line) => write(2)(Buffer.from(line + '\n', 'utf8'))) : undefined,
    });
    if (r.stop.kind !== 'exited') process.stderr.write(describeStop(r.stop, r.instructions) + '\n');
    if (verbose) process.stderr.write(`kmemsim: ${r.instructions} instructions executed\n`);
    return r.exitCode;
  } catch (e) {
    if (e instanceof ElfError || (e instanceof Error && e.name === 'LoadError')) {
      process.stderr.write(`kmemsim: cannot run ${file}: ${e.message}\n`);
      return 126;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`kmemsim: internal error: ${msg}\n`);
    return 125;
  }
}

/** ELF with e_type ET_REL: a kernel module object. */
function isRelocatable(b: Uint8Array): boolean {
  return b.length >= 18 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46 && b[16] === 1 && b[17] === 0;
}

/** `kmemsim run mod.c|mod.o`: compile if needed, then insmod + rmmod (src/kernel/module-run.ts). */
function runModuleCommand(file: string, bytes: Uint8Array, args: string[], budget: number, verbose: boolean, traceEvents: boolean, kmem: CheckCliOptions | null): number {
  if (args.length) {
    process.stderr.write(`kmemsim: ${file} is a kernel module; module parameters (${args.join(' ')}) are not supported\n`);
    return 2;
  }
  let object = bytes;
  let stackUsage: string | null = null;
  if (file.endsWith('.c')) {
    try {
      // --stack ftrace needs the __fentry__ call sites (-pg -mfentry); the .su data sizes the frames it poisons.
      const c = compileModule(file, { ftrace: kmem?.stack === 'ftrace' });
      if (c.warnings) process.stderr.write(c.warnings);
      object = c.object;
      stackUsage = c.stackUsage || null;
    } catch (e) {
      if (!(e instanceof CompileError)) throw e;
      if (e.output) process.stderr.write(e.output);
      process.stderr.write(`kmemsim: ${e.message}\n`);
      return 126;
    }
  }
  const err = (line: string): void => void process.stderr.write(line + '\n');
  const writeConsole = (text: string): void => {
    const b = Buffer.from(text, 'latin1');
    let off = 0;
    while (off < b.length) off += fs.writeSync(1, b, off, b.length - off);
  };
  if (kmem) {
    return checkCommand(object, {
      ...kmem,
      stackUsage,
      verbose,
      err,
      run: {
        name: basename(file),
        maxInstructions: budget,
        verbose,
        onConsole: writeConsole,
        onDiagnostic: err,
        traceEvents: traceEvents ? (cpu) => eventTracer(cpu, err) : undefined,
      },
    });
  }
  let api: KernelApi | null = null;
  try {
    const r = runModule(object, {
      name: basename(file),
      // The kernel API (kmalloc, printk, ...); %pS in printk also knows the module's functions.
      exports: (k, io) => (api = installKernelApi(k, { console: (text) => io.console(text) })),
      onLoad: (_k, mod) => void api?.symbolizers.push((a) => mod.symbolize(a)),
      maxInstructions: budget,
      verbose,
      onConsole: (text) => {
        const b = Buffer.from(text, 'latin1');
        let off = 0;
        while (off < b.length) off += fs.writeSync(1, b, off, b.length - off);
      },
      onDiagnostic: err,
      traceEvents: traceEvents ? (cpu) => eventTracer(cpu, err) : undefined,
    });
    if (r.stop) err(describeStop(r.stop, r.instructions));
    if (verbose) err(`kmemsim: ${r.instructions} instructions executed`);
    return r.exitCode;
  } catch (e) {
    if (e instanceof ModuleLoadError) {
      err(`kmemsim: cannot load module ${e.message}`);
      return 126;
    }
    err(`kmemsim: internal error: ${e instanceof Error ? e.message : String(e)}`);
    return 125;
  }
}

/** The guest's stdin: the host's, when it is a file or pipe (never blocks on a terminal). */
function readStdin(): Uint8Array {
  try {
    const st = fs.fstatSync(0);
    if (st.isFile() || st.isFIFO()) return new Uint8Array(fs.readFileSync(0));
  } catch {
    /* no stdin */
  }
  return new Uint8Array(0);
}

function disasmCommand(file: string, fn: string | undefined): number {
  const bytes = readInput(file);
  if (typeof bytes === 'number') return bytes;
  try {
    process.stdout.write(disassembleFile(bytes, fn));
    return 0;
  } catch (e) {
    if (e instanceof ElfError || (e instanceof Error && e.name === 'DisasmError')) {
      process.stderr.write(`kmemsim: ${e.message}\n`);
      return e instanceof ElfError ? 126 : 2;
    }
    throw e;
  }
}
