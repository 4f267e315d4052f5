/**
 * `kmemsim run PROGRAM [ARGS]`: a static i386 Linux program on the
 * simulated machine (src/kernel/process.ts), with the kernel modules
 * `--module` loads before it starts, their services (src/harness/
 * module-services.ts), bpftrace, gdb and — with --kmemcheck or --stack —
 * the checkers over the modules (./check-program-command.ts). Exit
 * statuses: ./run-command.ts.
 */
import * as tty from 'node:tty';
import { basename } from 'node:path';
import { runUserProgram, parseUserProgram, LoadError, type RunOptions } from '../kernel/process.js';
import { ModulePreloadError, type PreloadModule } from '../linux/sys-module.js';
import { ElfError } from '../elf/elf32.js';
import { eventTracer } from '../trace/events.js';
import { BpftraceSession, bpftraceFailure } from './bpftrace-option.js';
import { FTRACE_CFLAGS } from './compile.js';
import { buildModule, BuildError, modname } from './cc-command.js';
import { describeStop, warnSections } from './describe.js';
import { readInput } from './input.js';
import { out, errOut, errLine, stdinBytes } from './io.js';
import { openServiceOutputs } from './run-output.js';
import type { CheckCliOptions, ProgramOptions } from './run-command.js';

/** Run the program `file` (`hostFile` on the host, its `bytes` read) with its arguments; its exit status. */
export async function runProgramCommand(file: string, hostFile: string, bytes: Uint8Array, args: string[], budget: number, verbose: boolean, traceEvents: boolean, kmem: CheckCliOptions | null, prog: ProgramOptions): Promise<number> {
  const gdb = prog.gdb ?? null;
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
      onBoot: gdb ? (k) => gdb.attachProgram(k, hostFile) : undefined,
      modules,
      kernelParams: prog.kernelParams,
      onConsole: (text) => errOut(Buffer.from(text, 'latin1')),
      kernelApi: outputs ? moduleServicesHook(outputs.services) : undefined,
      onKernelApi: bt ? (api) => bt.attach(api) : undefined,
    };
    const finishServices = outputs ? outputs.finish : (status: number): number => status;
    const finish = (status: number): number => finishServices(bt ? bt.finish(status) : status);
    if (kmem) {
      // The checkers are loaded only now (README "Start-up").
      const { checkProgramCommand } = await import('./check-program-command.js');
      const checkers = { ...kmem, stack: kmem.stack as 'precise' | 'cpl1' | 'ftrace' | null };
      return finish(checkProgramCommand(bytes, runOpts, checkers, verbose));
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
export function preloadModules(specs: readonly string[], cflags: readonly string[], verbose: boolean, ftrace = false): PreloadModule[] | number {
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
