/**
 * Running a kernel module from start to end, as `insmod mod.ko; rmmod mod`
 * does on Linux: boot the simulated kernel, install its exported API, load
 * the module (src/kernel/module.ts: load_module()), call init_module()
 * (do_init_module()), and if that succeeded call cleanup_module()
 * (delete_module()) and free the module.
 *
 * What init_module()'s return value means follows do_init_module():
 *  - negative: the load fails (insmod prints "could not insert module:
 *    <strerror>"); the module is freed without cleanup_module(), and the
 *    run's exit status is 1;
 *  - positive: Linux warns "'init' suspiciously returned N, it should
 *    follow 0/-E convention" and loads the module anyway; so does kmemsim
 *    (with the warning, exit status 0 if nothing else goes wrong);
 *  - 0: loaded.
 * A module without init_module() loads (Linux allows it); without
 * cleanup_module() it is simply not called (Linux would refuse rmmod).
 * With neither, the run says there was nothing to run (a .c file without
 * module_init() is the usual cause).
 *
 * Faults in module code are kernel oopses: the machine stops with a
 * 'fault' stop whose message names the fault and the function
 * ("init_module+0x12/0x40 [hello]"), exit status 125. The instruction
 * budget covers init and cleanup together (124 when it runs out). A HLT
 * nothing can end is "init_module never returned" (neverReturned()):
 * 125 with interrupts disabled, 124 with them enabled.
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { StopReason } from '../cpu/stop.js';
import type { CPU, CpuObserver } from '../cpu/cpu.js';
import { Vec, vectorName } from '../cpu/stop.js';
import { hexBytes, unsupportedStop } from '../cpu/disasm.js';
import { Kernel } from './kernel.js';
import { ExportTable } from './exports.js';
import { callGuest } from './call.js';
import { schedulerOf } from './sched/scheduler.js';
import { loadModule, unloadModule, ModuleLoadError, type LoadedModule } from './module.js';
import { describePageFault } from './traps.js';
import { formatRegisters, formatTrace, readStackWords, walkFramePointers, TRACE_DEPTH, type RegisterDump, type SourceLocator, type Symbolizer } from './dumpstack.js';
import { moduleLocator, moduleSymbolizer } from './symbols.js';
import type { TrapFrame } from './kernel.js';
import { PageHidingService } from './page-hiding.js';
import { exitCodeFor, DEFAULT_BUDGET } from './process.js';

/** Where `npm run build` puts the guest runtime (scripts/build-guests.mjs, kind "runtime"). */
export const DEFAULT_RUNTIME_PATH = fileURLToPath(new URL('../../build/runtime/runtime.o', import.meta.url));
/** The Linux library for modules (seq_file, kstrto*, ...), linked in when a module uses it (scripts/build-guests.mjs). */
export const DEFAULT_LIBRARY_PATH = fileURLToPath(new URL('../../build/runtime/linux.o', import.meta.url));

/** The Linux library's bytes, or null when it is not built. */
export function readLibrary(): Uint8Array | null {
  return fs.existsSync(DEFAULT_LIBRARY_PATH) ? new Uint8Array(fs.readFileSync(DEFAULT_LIBRARY_PATH)) : null;
}

/** The module's ways to the outside, handed to the export installer (printk's console). */
export interface ModuleIO {
  /** Kernel console output (what printk prints, after its log-level prefix is handled). */
  console(text: string): void;
  /** kmemsim's own messages about the run ("init_module returned -12 (ENOMEM)"). */
  diagnostic(line: string): void;
}

/** Exported symbols: name → guest address (what `installKernelApi()` returns). */
export type ExportSource = ReadonlyMap<string, number> | Iterable<readonly [string, number]>;

export interface ModuleRunOptions {
  /** Module name in messages (default: the file's base name, or "module"). */
  name?: string;
  /**
   * The kernel's exported symbols. Either ready-made (when `kernel` is
   * given and its routines are already bound there), or a function that
   * installs them in the fresh kernel and returns the map, e.g.
   * `(k, io) => installKernelApi(k, { ... })`. Default: nothing exported.
   */
  exports?: ExportSource | ((kernel: Kernel, io: ModuleIO) => ExportSource);
  /** Run in this kernel instead of booting a new one. */
  kernel?: Kernel;
  /**
   * The guest runtime object: bytes, a path, or null for none. Default:
   * DEFAULT_RUNTIME_PATH if it exists, else none (a module that needs it
   * then fails to load with a message saying the runtime is not built).
   */
  runtime?: Uint8Array | { path: string } | null;
  /** Instruction budget for init_module() and cleanup_module() together (default 10^10). */
  maxInstructions?: number;
  memorySize?: number;
  /** Say where the module was loaded (diagnostics). */
  verbose?: boolean;
  onConsole?(text: string): void;
  onDiagnostic?(line: string): void;
  /** After loading, before init_module(): attach checkers or tracers, replace trap handlers. */
  onLoad?(kernel: Kernel, mod: LoadedModule): void;
  /**
   * After init_module() succeeded (returned >= 0), before cleanup_module():
   * the module's work while it is loaded — a fuzz input calling
   * LLVMFuzzerTestOneInput() (src/fuzz/target-module.ts), a test poking an
   * entry point. Gets the budget left; returns the instructions it used and
   * the stop when the machine stopped (null: everything it called returned).
   * A stop ends the run as a stop in init_module does (oops, 124/125).
   */
  whileLoaded?(kernel: Kernel, mod: LoadedModule, budget: number): { instructions: number; stop: StopReason | null; what?: string };
  /** Exception/interrupt tracing (`--trace-events`): the observer becomes `cpu.observer`. */
  traceEvents?(cpu: CPU): CpuObserver;
  /** Block-compiler threshold (tests: 0 = compile every block, Infinity = interpret). */
  jitThreshold?: number;
}

export interface ModuleRunResult {
  kernel: Kernel;
  module: LoadedModule;
  /** init_module() exists and was called. */
  initCalled: boolean;
  /** Its return value as a C int, when it returned. */
  initReturn: number | undefined;
  /** cleanup_module() was called (it exists and init succeeded). */
  cleanupCalled: boolean;
  /** It returned (void: there is no value). */
  cleanupReturned: boolean;
  /** Why the machine stopped inside the module; null when every call returned. */
  stop: StopReason | null;
  /** 0 loaded and unloaded; 1 init_module failed (< 0); 124 budget; 125 oops, unsupported instruction, triple fault. */
  exitCode: number;
  /** Everything printed on the kernel console. */
  console: string;
  /** kmemsim's messages (also passed to onDiagnostic). */
  diagnostics: string[];
  /** Instructions retired in module code (and the kernel routines it called). */
  instructions: number;
}

/** Names for the errno values init functions return most (asm-generic/errno-base.h), with insmod's strerror text. */
const ERRNO: Record<number, [string, string]> = {
  1: ['EPERM', 'Operation not permitted'], 2: ['ENOENT', 'No such file or directory'], 5: ['EIO', 'Input/output error'],
  6: ['ENXIO', 'No such device or address'], 7: ['E2BIG', 'Argument list too long'], 11: ['EAGAIN', 'Resource temporarily unavailable'],
  12: ['ENOMEM', 'Cannot allocate memory'], 13: ['EACCES', 'Permission denied'], 14: ['EFAULT', 'Bad address'],
  16: ['EBUSY', 'Device or resource busy'], 17: ['EEXIST', 'File exists'], 19: ['ENODEV', 'No such device'],
  22: ['EINVAL', 'Invalid argument'], 28: ['ENOSPC', 'No space left on device'], 34: ['ERANGE', 'Numerical result out of range'],
  38: ['ENOSYS', 'Function not implemented'],
};

/**
 * Load `object` into a kernel and run it like insmod + rmmod. Throws
 * ModuleLoadError when the module cannot be loaded (nothing ran then);
 * everything that happens once guest code runs is in the result.
 */
export function runModule(object: Uint8Array | { path: string }, opts: ModuleRunOptions = {}): ModuleRunResult {
  const s = startModule(object, opts);
  return 'exitCode' in s ? s : finishModule(s, opts.whileLoaded);
}

/**
 * A module loaded and initialized (insmod done), not yet removed: what
 * startModule() leaves for finishModule(). Everything the rest of the run
 * needs is here (no state hides in closures), so a machine snapshot taken
 * with the session as a root (src/boot/snapshot.ts) restores it too and
 * finishModule() can run again from the same point.
 */
export interface ModuleSession {
  kernel: Kernel;
  module: LoadedModule;
  name: string;
  io: ModuleIO;
  describe: (addr: number) => string | null;
  dump: OopsDump;
  consoleParts: string[];
  diagnostics: string[];
  budget: number;
  /** Instructions retired so far (init_module, then whatever ran while loaded). */
  used: number;
  initCalled: boolean;
  initReturn: number | undefined;
}

/**
 * Boot, load and run init_module(): a session to continue with
 * finishModule(), or the run's result when it is already over (init failed
 * or stopped).
 */
export function startModule(object: Uint8Array | { path: string }, opts: ModuleRunOptions = {}): ModuleSession | ModuleRunResult {
  const name = opts.name ?? ('path' in object ? baseName(object.path) : 'module');
  const bytes = 'path' in object ? readObject(object.path, name) : object;
  const diagnostics: string[] = [];
  const consoleParts: string[] = [];
  const io: ModuleIO = {
    console: (text) => {
      consoleParts.push(text);
      opts.onConsole?.(text);
    },
    diagnostic: (line) => {
      diagnostics.push(line);
      opts.onDiagnostic?.(line);
    },
  };

  const kernel = opts.kernel ?? new Kernel({ memorySize: opts.memorySize });
  let mod: LoadedModule | null = null;
  const describe = (addr: number): string | null => mod?.describe(addr) ?? null;
  const dump: OopsDump = {
    symbolize: moduleSymbolizer(() => mod, () => null, kernel),
    locate: moduleLocator(() => mod),
    print: (text) => io.diagnostic(text),
  };
  installKernelOops(kernel, describe, dump);
  const src = typeof opts.exports === 'function' ? opts.exports(kernel, io) : opts.exports;
  const exports = ExportTable.from(src ?? []);

  let runtime: Uint8Array | null = null;
  let hint: string | undefined;
  if (opts.runtime === undefined) {
    if (fs.existsSync(DEFAULT_RUNTIME_PATH)) runtime = readObject(DEFAULT_RUNTIME_PATH, 'runtime');
    else hint = `the guest runtime (memcpy, memset, strlen, ...) is not built: ${DEFAULT_RUNTIME_PATH} is missing (run npm run build with gcc installed)`;
  } else if (opts.runtime !== null) {
    runtime = 'path' in opts.runtime ? readObject(opts.runtime.path, 'runtime') : opts.runtime;
  }
  const loaded = loadModule(kernel, bytes, { name, exports, runtime, runtimeMissingHint: hint, library: opts.runtime === undefined ? readLibrary() : null });
  mod = loaded;
  if (opts.verbose) {
    const secs = loaded.object.sections.filter((s) => s.size > 0).map((s) => `${s.name} 0x${s.address.toString(16)}`).join(', ');
    io.diagnostic(`kmemsim: loaded ${name} at 0x${loaded.object.base.toString(16)} (${loaded.object.size} bytes${secs ? `: ${secs}` : ''})`);
  }

  if (opts.jitThreshold !== undefined) kernel.cpu.jitThreshold = opts.jitThreshold;
  if (opts.traceEvents) kernel.cpu.observer = opts.traceEvents(kernel.cpu);
  opts.onLoad?.(kernel, loaded);

  const session: ModuleSession = {
    kernel, module: loaded, name, io, describe, dump, consoleParts, diagnostics,
    budget: opts.maxInstructions ?? DEFAULT_BUDGET, used: 0, initCalled: false, initReturn: undefined,
  };

  // insmod: do_init_module() → do_one_initcall(mod->init)
  const init = loaded.object.globals.get('init_module');
  if (init === undefined && !loaded.object.globals.has('cleanup_module') && !opts.whileLoaded) {
    io.diagnostic(`kmemsim: ${name} defines neither init_module nor cleanup_module: nothing to run (name them with module_init() and module_exit())`);
  }
  if (init !== undefined) {
    session.initCalled = true;
    const r = callGuest(kernel, init, [], session.budget);
    session.used += r.instructions;
    if (!r.returned) {
      const stop = neverReturned(kernel, 'init_module', stackOverflowStop(kernel, r.stop!, describe, dump), describe);
      return sessionResult(session, { cleanupCalled: false, cleanupReturned: false, stop, exitCode: moduleExitCode(stop) });
    }
    const initReturn = r.value;
    session.initReturn = initReturn;
    if (initReturn < 0) {
      const e = ERRNO[-initReturn];
      io.diagnostic(
        `kmemsim: ${name}: init_module returned ${initReturn}${e ? ` (-${e[0]})` : ''}: insmod fails${e ? ` ("${e[1]}")` : ''}; the module is freed without calling cleanup_module`,
      );
      unloadModule(kernel, loaded);
      return sessionResult(session, { cleanupCalled: false, cleanupReturned: false, stop: null, exitCode: 1 });
    }
    if (initReturn > 0) {
      io.diagnostic(`kmemsim: ${name}: init_module suspiciously returned ${initReturn}, it should follow 0/-E convention; loading module anyway (as Linux does)`);
    }
  }
  // insmod has returned: the kernel threads the module started run until every task sleeps.
  const settled = letTasksRun(kernel, Math.max(0, session.budget - session.used));
  session.used += settled.instructions;
  if (settled.stop) {
    const stop = neverReturned(kernel, 'the kernel threads', stackOverflowStop(kernel, settled.stop, describe, dump), describe);
    return sessionResult(session, { cleanupCalled: false, cleanupReturned: false, stop, exitCode: moduleExitCode(stop) });
  }
  return session;
}

/** Run `step` while the module is loaded (the budget left is its limit); a stop ends the run as an oops in init_module does. */
export function sessionStep(s: ModuleSession, step: NonNullable<ModuleRunOptions['whileLoaded']>): ModuleRunResult | null {
  const w = step(s.kernel, s.module, Math.max(0, s.budget - s.used));
  s.used += w.instructions;
  if (!w.stop) return null;
  const stop = neverReturned(s.kernel, w.what ?? 'the module', stackOverflowStop(s.kernel, w.stop, s.describe, s.dump), s.describe);
  return sessionResult(s, { cleanupCalled: false, cleanupReturned: false, stop, exitCode: moduleExitCode(stop) });
}

/** The rest of the run: `whileLoaded`, then rmmod (cleanup_module(), the module freed). */
export function finishModule(s: ModuleSession, whileLoaded?: ModuleRunOptions['whileLoaded']): ModuleRunResult {
  if (whileLoaded) {
    const stopped = sessionStep(s, whileLoaded);
    if (stopped) return stopped;
  }
  const { kernel, module: loaded } = s;
  // rmmod: delete_module() → mod->exit()
  const cleanup = loaded.object.globals.get('cleanup_module');
  if (cleanup === undefined) {
    unloadModule(kernel, loaded);
    return sessionResult(s, { cleanupCalled: false, cleanupReturned: false, stop: null, exitCode: 0 });
  }
  const r = callGuest(kernel, cleanup, [], Math.max(0, s.budget - s.used));
  s.used += r.instructions;
  if (!r.returned) {
    const stop = neverReturned(kernel, 'cleanup_module', stackOverflowStop(kernel, r.stop!, s.describe, s.dump), s.describe);
    return sessionResult(s, { cleanupCalled: true, cleanupReturned: false, stop, exitCode: moduleExitCode(stop) });
  }
  const left = schedulerOf(kernel)?.liveKthreads() ?? [];
  if (left.length) {
    s.io.diagnostic(`kmemsim: ${s.name}: cleanup_module returned with kernel thread${left.length > 1 ? 's' : ''} ${left.map((t) => `${t.comm}/${t.pid}`).join(', ')} still alive: their code is freed with the module (kthread_stop() them in cleanup_module)`);
  }
  unloadModule(kernel, loaded);
  return sessionResult(s, { cleanupCalled: true, cleanupReturned: true, stop: null, exitCode: 0 });
}

function sessionResult(s: ModuleSession, partial: Pick<ModuleRunResult, 'cleanupCalled' | 'cleanupReturned' | 'stop' | 'exitCode'>): ModuleRunResult {
  return {
    kernel: s.kernel, module: s.module, initCalled: s.initCalled, initReturn: s.initReturn, ...partial,
    console: s.consoleParts.join(''), diagnostics: s.diagnostics.slice(), instructions: s.used,
  };
}

/**
 * After init_module() returned: let the other tasks (kernel threads the
 * module started) run until every one sleeps, as they would while insmod
 * exits and before anything else happens — time does not skip ahead.
 */
function letTasksRun(kernel: Kernel, budget: number): { instructions: number; stop: StopReason | null } {
  const sched = schedulerOf(kernel);
  if (!sched || sched.tasks.length < 2 || sched.waitIdleRoutine === 0) return { instructions: 0, stop: null };
  const r = callGuest(kernel, sched.waitIdleRoutine, [], budget);
  return { instructions: r.instructions, stop: r.returned ? null : r.stop };
}

/**
 * A guest call that stopped on a HLT nothing can end. The CPU stops
 * with 'halted' when no interrupt could ever wake it: IF = 0 (`cli; hlt`),
 * or IF = 1 with no interrupt source — the module kernel has no timer or
 * other device, so `sti; hlt` would wait forever. On Linux the first is a
 * hard lockup (the NMI watchdog's "Watchdog detected hard LOCKUP"), the
 * second idles until the next timer tick. Either way init_module never
 * returns, which is not a successful load:
 *  - IF = 0: the guest is dead, exit status 125 ("the CPU halted with
 *    interrupts disabled");
 *  - IF = 1: a hung task waiting for an interrupt that cannot come, exit
 *    status 124 — what waiting until the instruction budget runs out would
 *    give, detected at once instead of burning the budget.
 */
function neverReturned(kernel: Kernel, fn: string, stop: StopReason, describe: (addr: number) => string | null): StopReason {
  if (stop.kind !== 'halted' || stop.message !== undefined) return stop;
  const cpu = kernel.cpu;
  // The saved EIP is past the HLT (F4), as after any trap.
  let eip = cpu.eip >>> 0;
  try {
    if (kernel.mem.read(eip - 1, 1)[0] === 0xf4) eip = (eip - 1) >>> 0;
  } catch {
    /* unreadable: keep the EIP after it */
  }
  const at = `EIP 0x${eip.toString(16).padStart(8, '0')}${where(describe, eip)}`;
  const ifSet = (cpu.getEflags() & 0x200) !== 0;
  const message = ifSet
    ? `${fn} never returned: the CPU halted at ${at} with interrupts enabled, waiting for an interrupt, and the kernel has no interrupt source (no timer): it would wait forever (a hung task; exit status 124, as when the budget runs out)`
    : `${fn} never returned: the CPU halted with interrupts disabled at ${at}: nothing can wake it (a hard lockup)`;
  return { kind: 'halted', message, eip, interruptsEnabled: ifSet };
}

/** A module run's exit status for a stop: a halt that cannot end is 124 (waiting, IF = 1) or 125 (dead, IF = 0). */
function moduleExitCode(stop: StopReason): number {
  if (stop.kind === 'halted' && stop.message !== undefined) return stop.interruptsEnabled ? 124 : 125;
  return exitCodeFor(stop);
}

/**
 * Where an oops report goes, and how its addresses are named: the module's
 * symbols and DWARF line table (./symbols.ts), the kernel's routines.
 */
export interface OopsDump {
  symbolize?: Symbolizer;
  locate?: SourceLocator;
  /** The report, lines joined with '\n' (the module runner's diagnostics: stderr). */
  print(text: string): void;
}

/** Linux's die() titles (arch/x86/kernel/traps.c DO_ERROR names) for the exceptions that are not page faults. */
const DIE_NAMES: Record<number, string> = {
  0: 'divide error', 1: 'debug', 3: 'int3', 4: 'overflow', 5: 'bounds', 6: 'invalid opcode', 7: 'device not available',
  8: 'double fault', 10: 'invalid TSS', 11: 'segment not present', 12: 'stack segment', 13: 'general protection fault',
  16: 'coprocessor error', 17: 'alignment check', 18: 'machine check',
};

const hex8 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');

/**
 * A dword of guest memory, or null where it cannot be read (the stack walk
 * stops there); through the page-hiding service when one is installed, so a
 * stack hidden by a tracker is still readable.
 */
function peek32(kernel: Kernel): (lin: number) => number | null {
  if (PageHidingService.isInstalledOn(kernel)) return PageHidingService.of(kernel).peek32Fn;
  return (lin) => {
    try {
      return kernel.mem.read32(lin | 0);
    } catch {
      return null;
    }
  };
}

/**
 * The register dump and call trace of the interrupted code (i386 Linux's
 * show_regs() in die()): the registers as the CPU left them, with the
 * frame's EIP, CS, EFLAGS and the interrupted SS:ESP.
 */
function oopsBody(kernel: Kernel, regs: { eip: number; cs: number; eflags: number; esp: number; ss: number }, dump: OopsDump): string[] {
  const cpu = kernel.cpu;
  const r = cpu.regs;
  const u = (v: number): number => v >>> 0;
  const d: RegisterDump = {
    eip: u(regs.eip),
    eflags: u(regs.eflags),
    regs: { eax: u(r[0]!), ecx: u(r[1]!), edx: u(r[2]!), ebx: u(r[3]!), esp: u(regs.esp), ebp: u(r[5]!), esi: u(r[6]!), edi: u(r[7]!) },
    sregs: { es: cpu.segSel[0]!, cs: regs.cs & 0xffff, ss: regs.ss & 0xffff, ds: cpu.segSel[3]!, fs: cpu.segSel[4]!, gs: cpu.segSel[5]! },
    cr: { cr0: u(cpu.cr0), cr2: u(cpu.cr2), cr3: u(cpu.cr3), cr4: u(cpu.cr4) },
    dr: Array.from(cpu.dr, u),
  };
  // Flat kernel segments: SS's base is 0 (the ring-1 layout's too).
  const trace = new Int32Array(TRACE_DEPTH);
  const words = new Int32Array(256);
  // An ESP in a guard page (the overflow) is unreadable: the frames start at the stack's bottom.
  const from = kernel.stackGuardAt(regs.esp) ? ((regs.esp | 0xfff) + 1) >>> 0 : regs.esp >>> 0;
  const nt = walkFramePointers(peek32(kernel), r[5]!, from, 0, trace);
  const nw = readStackWords(peek32(kernel), from, 0, words);
  const stack = { trace: Array.from(trace.subarray(0, nt), u), stack: Array.from(words.subarray(0, nw), u) };
  const lines = formatRegisters(d, dump);
  const calls = formatTrace(stack, dump.symbolize, dump.locate);
  if (calls.length) lines.push('Call Trace:', ...calls);
  return lines;
}

/** handle_stack_overflow()'s first line: "BUG: stack guard page was hit at … (stack is …)". */
function guardPageHit(addr: number, g: { low: number; high: number }): string {
  return `BUG: stack guard page was hit at ${hex8(addr)} (stack is ${hex8(g.low)}..${hex8(g.high - 1)})`;
}

/** The one-line stop message of a stack overflow. */
function overflowMessage(addr: number, g: { low: number; high: number }, eip: number, describe: (addr: number) => string | null): string {
  return `kernel stack overflow: stack guard page was hit at 0x${hex8(addr)} (stack is 0x${hex8(g.low)}..0x${hex8(g.high - 1)}) at EIP 0x${hex8(eip)}${where(describe, eip)}`;
}

/**
 * A module that recurses until its stack overflows, on the ring-0 kernel:
 * the push that runs into the guard page raises #PF, and delivering it at
 * CPL 0 pushes onto the same stack — #DF, whose frame cannot be pushed
 * either: the processor shuts down (SDM Vol. 3 §6.15, interrupt 8). i386
 * Linux takes #DF through a task gate onto a known-good stack and reports
 * "BUG: stack guard page was hit" (handle_stack_overflow()); kmemsim has no
 * task switches, so it recognizes the chain instead: a triple fault that
 * began with a #PF in a kernel stack's guard page is reported as that
 * stack overflow, with the registers and the frames (a 'fault' stop, exit
 * status 125). Any other stop is returned as it is.
 */
function stackOverflowStop(kernel: Kernel, stop: StopReason, describe: (addr: number) => string | null, dump: OopsDump): StopReason {
  if (stop.kind !== 'triple-fault') return stop;
  const first = stop.chain[0];
  const cpu = kernel.cpu;
  const g = kernel.stackGuardAt(cpu.cr2);
  if (!first || first.vector !== Vec.PF || g === null) return stop;
  const cr2 = cpu.cr2 >>> 0;
  dump.print([
    guardPageHit(cr2, g),
    'kernel stack overflow (double-fault): 0000 [#1]',
    ...oopsBody(kernel, { eip: first.eip, cs: cpu.segSel[1]!, eflags: cpu.getEflags(), esp: cpu.regs[4]!, ss: cpu.segSel[2]! }, dump),
  ].join('\n'));
  return { kind: 'fault', vector: Vec.DF, errorCode: 0, eip: first.eip, message: overflowMessage(cr2, g, first.eip, describe) };
}

/**
 * The kernel's answer to an exception in kernel code with nobody to fix
 * it up: an oops (Linux's die() from do_page_fault()/do_general_protection()
 * ...). The machine stops with a 'fault' stop naming the fault, the address
 * for a page fault, and the function via `describe` (%pS style); with
 * `dump`, the oops report — the fault, the registers and the call trace
 * with `file:line` (./dumpstack.ts, the same dump kmemcheck's reports use)
 * — is printed first. A page fault in a kernel stack's guard page is a
 * stack overflow ("BUG: stack guard page was hit at …", as
 * handle_stack_overflow()). An unsupported instruction (#UD raised for an
 * instruction kmemsim does not model) stops as 'unsupported'. Checkers
 * install their own #PF/#DB handlers over these afterwards
 * (ModuleRunOptions.onLoad).
 */
export function installKernelOops(kernel: Kernel, describe: (addr: number) => string | null, dump?: OopsDump): void {
  for (let v = 0; v < 32; v++) {
    kernel.setTrapHandler(v, (k, f) => {
      const cpu = k.cpu;
      if (f.vector === Vec.UD && cpu.unsupported) {
        const ins = cpu.unsupported;
        cpu.unsupported = null;
        cpu.stop(unsupportedStop(ins, f.eip, where(describe, f.eip)));
        return;
      }
      const guard = f.vector === Vec.PF ? k.stackGuardAt(cpu.cr2) : null;
      if (guard !== null) {
        const cr2 = cpu.cr2 >>> 0;
        dump?.print([guardPageHit(cr2, guard), `stack guard page: ${(f.errorCode ?? 0).toString(16).padStart(4, '0')} [#1]`, ...oopsBody(k, frameRegs(f), dump)].join('\n'));
        cpu.stop({ kind: 'fault', vector: f.vector, errorCode: f.errorCode, eip: f.eip, message: overflowMessage(cr2, guard, f.eip, describe) });
        return;
      }
      let what: string;
      let title: string;
      if (f.vector === Vec.PF) {
        const addr = cpu.cr2 >>> 0;
        what = `BUG: unable to handle kernel ${addr < 4096 ? 'NULL pointer dereference' : 'paging request'} at 0x${addr.toString(16).padStart(8, '0')} (${describePageFault(f.errorCode ?? 0)})`;
        title = `BUG: unable to handle kernel ${addr < 4096 ? 'NULL pointer dereference' : 'paging request'} at ${hex8(addr)}\nOops: ${(f.errorCode ?? 0).toString(16).padStart(4, '0')} [#1]`;
      } else {
        what = `${vectorName(f.vector)}${f.errorCode !== null ? ` (error code 0x${f.errorCode.toString(16)})` : ''}`;
        title = `${DIE_NAMES[f.vector] ?? vectorName(f.vector)}: ${(f.errorCode ?? 0).toString(16).padStart(4, '0')} [#1]`;
      }
      let bytes: string;
      try {
        bytes = hexBytes([...k.mem.read(f.eip, 8)]);
      } catch {
        bytes = '(unreadable)';
      }
      dump?.print([title, ...oopsBody(k, frameRegs(f), dump)].join('\n'));
      cpu.stop({
        kind: 'fault', vector: f.vector, errorCode: f.errorCode, eip: f.eip,
        message: `Oops: ${what} at EIP 0x${(f.eip >>> 0).toString(16)}${where(describe, f.eip)} (bytes ${bytes}) in kernel mode (CPL ${f.cs & 3})`,
      });
    });
  }
}

/** The interrupted code's EIP, CS, EFLAGS and SS:ESP from a trap frame. */
function frameRegs(f: TrapFrame): { eip: number; cs: number; eflags: number; esp: number; ss: number } {
  return { eip: f.eip, cs: f.cs, eflags: f.eflags, esp: f.userEsp, ss: f.userSs };
}

function where(describe: (addr: number) => string | null, eip: number): string {
  const d = describe(eip);
  return d ? ` ${d}` : '';
}

function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || 'module';
}

function readObject(path: string, who: string): Uint8Array {
  try {
    return new Uint8Array(fs.readFileSync(path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ModuleLoadError('unreadable', `${who}: cannot read ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  }
}
