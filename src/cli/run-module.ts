/**
 * `kmemsim run MODULE`: a kernel module (a relocatable object, or one or
 * more .c files compiled first) loaded and unloaded like insmod + rmmod
 * (src/kernel/module-run.ts), with the kernel API, the module services,
 * bpftrace, gdb, and — with --kmemcheck or --stack — the checkers
 * (./check-command.ts). Exit statuses: ./run-command.ts.
 */
import { basename, resolve as resolvePath } from 'node:path';
import type { AttachedContext } from '../harness/checked-run.js';
import { runModule, DEFAULT_RUNTIME_PATH } from '../kernel/module-run.js';
import { installKernelApi, type KernelApi } from '../kernel/kapi.js';
import { ModuleLoadError, type LoadedModule } from '../kernel/module.js';
import { moduleLocator, moduleSymbolizer } from '../kernel/symbols.js';
import { DEFAULT_ERROR_EXITCODE } from '../harness/modes.js';
import { eventTracer } from '../trace/events.js';
import { addSymbolFileCommand } from '../gdb/symbol-file.js';
import { BpftraceSession, bpftraceFailure } from './bpftrace-option.js';
import { compileModule, CompileError, FTRACE_CFLAGS } from './compile.js';
import { buildModule, BuildError, modname } from './cc-command.js';
import { describeStop } from './describe.js';
import { readInput } from './input.js';
import { out, errOut, errLine } from './io.js';
import { openServiceOutputs } from './run-output.js';
import type { CheckCliOptions, ProgramOptions } from './run-command.js';

/** `kmemsim run mod.c [more.c ...]|mod.o`: compile if needed, then insmod + rmmod (src/kernel/module-run.ts). */
export async function runModuleCommand(file: string, bytes: Uint8Array, args: string[], budget: number, verbose: boolean, traceEvents: boolean, kmem: CheckCliOptions | null, cflags: readonly string[], prog: ProgramOptions = {}): Promise<number> {
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
  const session = prog.gdb ?? null;
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
    // The checkers are loaded only now (README "Start-up").
    const { checkCommand } = await import('./check-command.js');
    const attached = session ? (ctx: AttachedContext) => session.attachModule(ctx.kernel, ctx.module, debugObject, ctx, DEFAULT_RUNTIME_PATH) : printSymbolFiles ? (ctx: AttachedContext) => printSymbolFiles(ctx.module) : undefined;
    const status = finishOverlays(checkCommand(object, {
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
