/**
 * The embedding API: `import { Machine } from 'kmemsim'`. A facade over
 * what `kmemsim run` uses — the user-program loader and the Linux
 * personality's scheduler (src/kernel/process.ts, src/linux) for a static
 * i386 program, the checked module session (src/harness/checked-run.ts:
 * startChecked/finishChecked) for a kernel module — so a program runs here
 * exactly as on the command line, with no second run loop. On top of it:
 * registers and memory (through the one guest-memory accessor and the page
 * tables), and Unicorn-style hooks compiled into the blocks (./hooks.ts).
 *
 * A program's run is resumable: `run({ instructions })` stops when the
 * budget is spent, the program exits or dies, or a hook stops it, and the
 * next `run()` goes on from there — in as many pieces as you like, with
 * the same result as one run (the machine is deterministic). A module runs
 * as `insmod` + `rmmod` do, in one `run()`: a budget, hook or fault stop
 * inside init_module() or cleanup_module() ends the module's run (the
 * kernel calls them as functions; there is no returning into them later).
 */
import * as fs from 'node:fs';
import { basename } from 'node:path';
import type { CPU } from '../cpu/cpu.js';
import type { StopReason } from '../cpu/stop.js';
import type { JitInstrumentation } from '../cpu/jit.js';
import type { Kernel } from '../kernel/kernel.js';
import { loadUserProgram, DEFAULT_BUDGET, exitCodeFor, LoadError, type Process } from '../kernel/process.js';
import { signalForVector } from '../kernel/traps.js';
import { ModuleLoadError, type LoadedModule } from '../kernel/module.js';
import { ElfError, findSymbol, parseElf32, type Elf32 } from '../elf/elf32.js';
import { hostPathInRoot } from '../linux/start.js';
import { DEFAULT_ERROR_EXITCODE } from '../harness/modes.js';
import { startChecked, finishChecked, type CheckedRunResult, type CheckedSession, type StackMode } from '../harness/checked-run.js';
import type { Finding } from '../shadow/report.js';
import { isRelocatable } from '../cli/module-input.js';
import { compileModule, CompileError, FTRACE_CFLAGS } from '../cli/compile.js';
import { buildModule, BuildError, modname } from '../cli/cc-command.js';
import { describeStop } from '../cli/describe.js';
import { GuestFault } from '../kernel/guest-memory.js';
import { REGISTERS, readRegister, writeRegister } from '../gdb/registers.js';
import { composeInstrumentation } from '../cpu/jit.js';
import { HookSet, type AddressRange, type CodeHook, type HookHandle, type InterruptHook, type MemoryHook } from './hooks.js';

export type { AddressRange, CodeHook, HookHandle, InterruptHook, InterruptEvent, MemoryHook } from './hooks.js';
export type { Finding, FindingFrame, FindingKind, FindingRegion, CheckerName } from '../shadow/report.js';
export type { FindingObject } from '../shadow/object-owner.js';
export type { StopReason } from '../cpu/stop.js';
export type { StackMode } from '../harness/checked-run.js';

/** A bad argument or a file kmemsim cannot run: the message is one line, `status` what `kmemsim run` would exit with. */
export class KmemsimError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = 'KmemsimError';
  }
}

/** How to load: what `kmemsim run FILE [-- ARGS]` takes on its command line. */
export interface LoadOptions {
  /** The program's arguments after argv[0] (argv[0] is the file name as given). */
  args?: string[];
  /** The environment, `NAME=VALUE` each (default: none — unlike the CLI, which passes the host's). */
  env?: string[];
  /** The guest's stdin (default: empty). */
  stdin?: Uint8Array | string;
  /** Host directory that is the guest's "/" (`--root`): the file is then a guest path inside it. */
  root?: string;
  /** Refuse writes to the host file system (`--read-only`). */
  readOnly?: boolean;
  /** Guest RAM in bytes (`--memory`). */
  memory?: number;
  /** The guest's output, as it is written (it is collected in `stdout`/`stderr` as well). */
  onStdout?(bytes: Uint8Array): void;
  onStderr?(bytes: Uint8Array): void;
  /** kmemsim's own messages (a module's "init_module returned ...", oops reports), one line each. */
  onDiagnostic?(line: string): void;
  /** Kernel modules: the kernel console (printk); also collected in `console`. */
  onConsole?(text: string): void;
  /** Kernel modules: the heap checker — kmemcheck (`--kmemcheck`) or the inline checker (`--kmemcheck-inline`). */
  heap?: 'kmemcheck' | 'inline';
  /** Kernel modules: the stack strategy (`--stack`). */
  stack?: StackMode;
  /** Kernel modules given as C: extra gcc flags after the module flags (`--cflags`, -I, -D, -O). */
  cflags?: string[];
  /**
   * Kernel modules: stop at the first finding a shadow checker saves
   * (kmemcheck, the inline checker, the cpl1 and precise stack checkers),
   * as `--gdb-on-finding` does without gdb: run() returns with reason
   * 'finding' once the faulting instruction's check is done; the module's
   * run ends there (it is not unloaded).
   */
  stopOnFinding?: boolean;
  /** Block-compiler threshold (0: compile every block at once; Infinity: interpret). */
  jitThreshold?: number;
}

/** Why run() returned. */
export type RunReason =
  /** The instruction budget given to run() is spent; run() again goes on. */
  | 'budget'
  /** A hook called stop(); run() again goes on. */
  | 'hook'
  /** The program exited, or the module's init_module()/cleanup_module() ran (insmod + rmmod). */
  | 'exit'
  /** A checker found something and `stopOnFinding` was set (modules). */
  | 'finding'
  /** The program died of a fault it did not handle, or module code oopsed. */
  | 'fault'
  /** An unsupported instruction, a triple fault, a deadlock, an internal error. */
  | 'error';

export interface RunResult {
  reason: RunReason;
  /** The machine's own stop (src/cpu/stop.ts). */
  stop: StopReason;
  /** What `kmemsim run` would exit with now: 124 after a budget or hook stop; for a module with findings 99 (`--error-exitcode`'s default). */
  exitCode: number;
  /** Instructions retired by this call. */
  instructions: number;
  /** kmemsim's one-line description of the stop ("the instruction budget ran out after ..."), null for an exit. */
  message: string | null;
  /** The machine can run on (a budget or hook stop of a program). */
  resumable: boolean;
}

/** The general, segment and control registers by their SDM names. */
export type RegisterName =
  | 'eax' | 'ecx' | 'edx' | 'ebx' | 'esp' | 'ebp' | 'esi' | 'edi' | 'eip' | 'eflags'
  | 'cs' | 'ss' | 'ds' | 'es' | 'fs' | 'gs' | 'cr0' | 'cr2' | 'cr3' | 'cr4';

const REGISTER_NUMBERS = new Map(REGISTERS.map((r, i) => [r.name, i]));
const NAMES = new Set<string>(['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip', 'eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs', 'cr0', 'cr2', 'cr3', 'cr4']);

/** A simulated i386 machine running one program or module. */
export class Machine {
  /** What the guest wrote on stdout/stderr so far (programs), and the kernel console (modules). */
  readonly stdout: Uint8Array[] = [];
  readonly stderr: Uint8Array[] = [];
  private consoleParts: string[] = [];
  /** The checkers' findings, in the project's report schema (src/shadow/report.ts), when the run is over. */
  findings: Finding[] = [];
  /** The checkers' text reports (kmemcheck's format), one per finding, when the run is over. */
  reports: string[] = [];
  private readonly hooks = new HookSet();
  private process: Process | null = null;
  private kernelOrNull: Kernel | null = null;
  private finished: RunResult | null = null;
  private module: { object: Uint8Array; name: string; stackUsage: string | null } | null = null;
  private elf: Elf32 | null = null;
  /** The module once loaded (symbols for the hooks). */
  private loaded: LoadedModule | null = null;
  private stoppedOnFinding = false;
  /** Hooks on a module's symbols, added before it was loaded: resolved when it is. */
  private deferred: { name: string; add: (range: AddressRange) => HookHandle; handle: { inner: HookHandle | null; removed: boolean } }[] = [];

  private constructor(private readonly opts: LoadOptions) {}

  /**
   * Load a static i386 Linux program (an ELF file or its bytes) or a kernel
   * module (a `.c` file — or several — compiled as `kmemsim run` compiles
   * them, or a relocatable `.o`/`.ko`). Throws KmemsimError for a file that
   * cannot be run (the message and exit status `kmemsim run` gives).
   */
  static load(file: string | string[] | Uint8Array, opts: LoadOptions = {}): Machine {
    const m = new Machine(opts);
    const sources = typeof file === 'string' ? [file] : Array.isArray(file) ? file : null;
    if (sources !== null && sources.length === 0) throw new KmemsimError('kmemsim: nothing to load', 2);
    if (sources !== null && sources.every((s) => s.endsWith('.c'))) {
      m.module = compile(sources, opts);
      return m;
    }
    if (sources !== null && sources.length > 1) throw new KmemsimError('kmemsim: several files make one module only when they are all .c files', 2);
    const name = sources ? sources[0]! : 'program';
    const bytes = sources ? readFile(name, opts.root) : (file as Uint8Array);
    if (isRelocatable(bytes)) {
      m.module = { object: bytes, name: basename(name), stackUsage: null };
      return m;
    }
    if (opts.heap !== undefined || opts.stack !== undefined) {
      throw new KmemsimError(`kmemsim: the heap and stack checkers check kernel modules (a .c file or a relocatable .o); ${name} is a program`, 2);
    }
    m.startProgram(bytes, name);
    return m;
  }

  private startProgram(bytes: Uint8Array, name: string): void {
    const o = this.opts;
    try {
      this.process = loadUserProgram(bytes, {
        argv: [name, ...(o.args ?? [])],
        env: o.env ?? [],
        stdin: typeof o.stdin === 'string' ? new TextEncoder().encode(o.stdin) : o.stdin,
        root: o.root,
        readOnly: o.readOnly,
        memorySize: o.memory,
        onStdout: (b) => {
          this.stdout.push(b);
          o.onStdout?.(b);
        },
        onStderr: (b) => {
          this.stderr.push(b);
          o.onStderr?.(b);
        },
        onDiagnostic: o.onDiagnostic,
        onConsole: (t) => {
          this.consoleParts.push(t);
          o.onConsole?.(t);
        },
        jitThreshold: o.jitThreshold,
      });
    } catch (e) {
      if (e instanceof ElfError || e instanceof LoadError) throw new KmemsimError(`kmemsim: cannot run ${name}: ${e.message}`, 126);
      throw e;
    }
    this.attach(this.process.kernel);
    this.process.linux.system.paused = () => this.hooks.stopped;
    this.elf = parseElf32(bytes, { sectionHeaders: 'optional' });
  }

  /**
   * A symbol by name as an address range for the hooks, [value, value +
   * size) (one byte for a symbol without a size): a program's from its ELF
   * symbol table (what `nm -S` shows), a module's once it is loaded (its own
   * symbols, then the guest runtime's). Null when there is no such symbol or
   * the module is not loaded yet — the hooks take a symbol's name as their
   * range too, resolved when the module is loaded.
   */
  symbol(name: string): AddressRange | null {
    if (this.elf) {
      const s = findSymbol(this.elf, name);
      if (s === null || s.shndx === 0) return null;
      return { start: s.value >>> 0, end: (s.value >>> 0) + Math.max(1, s.size) };
    }
    const mod = this.loaded;
    if (mod === null) return null;
    for (const o of [mod.object, mod.runtime, mod.library]) {
      const a = o?.symbolAddress(name);
      // The size from the object's symbol table (the loader chose the address).
      if (o && a !== undefined) return { start: a >>> 0, end: (a >>> 0) + Math.max(1, findSymbol(o.elf, name)?.size ?? 1) };
    }
    return null;
  }

  /** The machine exists: hooks go into its CPU (composed with a precise checker's instrumentation, when one is attached). */
  private attach(kernel: Kernel): void {
    this.kernelOrNull = kernel;
    const cpu = kernel.cpu;
    const base: JitInstrumentation | null = cpu.jitInstrumentation;
    this.hooks.attach(cpu, (inst) => cpu.setJitInstrumentation(inst === null ? base : base === null ? inst : composeInstrumentation(base, inst)));
  }

  /** Is the guest a kernel module? */
  get isModule(): boolean {
    return this.module !== null;
  }

  /** Everything the kernel console printed (modules: printk). */
  get console(): string {
    return this.consoleParts.join('');
  }

  // ---- running ----------------------------------------------------------------------

  /**
   * Run until `instructions` more have retired (default: kmemsim's 10^10),
   * the guest exits or dies, or a hook stops it. A program can be run on
   * after a budget or hook stop; once it has exited, run() returns the same
   * result again.
   */
  run(opts: { instructions?: number } = {}): RunResult {
    if (this.released) throw releasedError();
    if (this.finished) return { ...this.finished, instructions: 0 };
    const budget = opts.instructions ?? DEFAULT_BUDGET;
    if (!Number.isSafeInteger(budget) || budget < 0) throw new KmemsimError(`kmemsim: run({ instructions: ${budget} }): a whole number of instructions >= 0`, 2);
    this.hooks.beginRun();
    try {
      return this.process ? this.runProgram(this.process, budget) : this.runModule(budget);
    } finally {
      this.hooks.endRun();
    }
  }

  private runProgram(p: Process, budget: number): RunResult {
    const cpu = p.kernel.cpu;
    const before = cpu.icount;
    let stop: StopReason;
    try {
      stop = p.linux.system.run(budget);
    } catch (e) {
      stop = { kind: 'internal-error', eip: cpu.eip, message: `internal error: ${e instanceof Error ? e.message : String(e)}` };
    }
    const instructions = cpu.icount - before;
    if (stop.kind === 'yield' && this.hooks.stopped) return { reason: 'hook', stop, exitCode: 124, instructions, message: null, resumable: true };
    if (stop.kind === 'budget') return { reason: 'budget', stop, exitCode: 124, instructions, message: describeStop(stop, cpu.icount), resumable: true };
    // As `kmemsim run`: death by a fault's signal is 128 + N.
    const fault = stop.kind === 'fault' && stop.vector < 32;
    const r: RunResult = {
      reason: stop.kind === 'exited' ? 'exit' : fault ? 'fault' : 'error',
      stop,
      exitCode: fault ? 128 + signalForVector((stop as { vector: number }).vector) : exitCodeFor(stop),
      instructions,
      message: stop.kind === 'exited' ? null : describeStop(stop, cpu.icount),
      resumable: false,
    };
    this.finished = r;
    return r;
  }

  /** insmod + rmmod with the chosen checkers (the session `kmemsim run MODULE` runs), under one budget. */
  private runModule(budget: number): RunResult {
    const mod = this.module!;
    const o = this.opts;
    let session: CheckedSession | CheckedRunResult;
    session = startChecked(mod.object, {
      name: mod.name,
      heap: o.heap ?? null,
      stack: o.stack ?? null,
      stackUsage: mod.stackUsage,
      maxInstructions: budget,
      memorySize: o.memory,
      jitThreshold: o.jitThreshold,
      onConsole: (t) => {
        this.consoleParts.push(t);
        o.onConsole?.(t);
      },
      onDiagnostic: o.onDiagnostic,
      onAttached: (ctx) => {
        this.loaded = ctx.module;
        this.attach(ctx.kernel);
        this.resolveDeferred();
        if (o.stopOnFinding) {
          for (const q of ctx.queues) {
            const save = q.errors.save.bind(q.errors);
            q.errors.save = (...args) => {
              const saved = save(...args);
              if (saved) {
                this.stoppedOnFinding = true;
                this.hooks.stopAtNextCheck();
              }
              return saved;
            };
          }
        }
      },
    });
    if (!('summary' in session)) session = finishChecked(session);
    return this.moduleResult(session);
  }

  private moduleResult(r: CheckedRunResult): RunResult {
    this.releaseRun = r.release;
    this.findings = r.findings;
    this.reports = r.findingReports;
    if (r.run === null) {
      const e = r.error;
      if (e instanceof ModuleLoadError) throw new KmemsimError(`kmemsim: cannot load module ${e.message}`, 126);
      throw e instanceof Error ? e : new Error(String(e));
    }
    const run = r.run;
    const stop: StopReason = run.stop ?? { kind: 'exited', status: run.exitCode };
    const instructions = run.instructions;
    let reason: RunReason;
    if (this.stoppedOnFinding) reason = 'finding';
    else if (this.hooks.stopped) reason = 'hook';
    else if (run.stop === null) reason = 'exit';
    else if (run.stop.kind === 'budget' || run.exitCode === 124) reason = 'budget';
    else if (run.stop.kind === 'fault') reason = 'fault';
    else reason = 'error';
    const result: RunResult = {
      reason,
      stop,
      exitCode: reason === 'hook' ? 124 : r.findings.length > 0 ? DEFAULT_ERROR_EXITCODE : run.exitCode,
      instructions,
      message: reason === 'finding' ? 'stopped at a finding' : run.stop ? (reason === 'hook' ? 'a hook stopped the module run' : describeStop(run.stop, instructions)) : null,
      resumable: false,
    };
    this.finished = result;
    return result;
  }

  /** From a hook: stop the machine (see ./hooks.ts for where exactly), as Unicorn's uc_emu_stop(). */
  stop(): void {
    this.hooks.requestStop();
  }

  // ---- hooks ------------------------------------------------------------------------

  /**
   * Call `fn` before every instruction in `range` (all when omitted; a
   * symbol's name for the symbol's bytes); returns a handle to remove it.
   */
  onCode(range: AddressRange | string | undefined, fn: CodeHook): HookHandle {
    return this.withRange(range, (r) => this.hooks.addCode(r, fn));
  }

  /** Call `fn` at every read or write of guest memory (by guest instructions) overlapping `range` (or a symbol's bytes). */
  onMemory(type: 'read' | 'write', range: AddressRange | string | undefined, fn: MemoryHook): HookHandle {
    if (type !== 'read' && type !== 'write') throw new KmemsimError(`kmemsim: onMemory('${String(type)}'): 'read' or 'write'`, 2);
    return this.withRange(range, (r) => this.hooks.addMemory(type, r, fn));
  }

  /** A range, or a symbol resolved now (a program, a loaded module) or when the module is loaded. */
  private withRange(range: AddressRange | string | undefined, add: (r: AddressRange | undefined) => HookHandle): HookHandle {
    if (typeof range !== 'string') return add(range);
    if (this.module !== null && this.loaded === null) {
      const handle = { inner: null as HookHandle | null, removed: false };
      this.deferred.push({ name: range, add, handle });
      return {
        remove: () => {
          handle.removed = true;
          handle.inner?.remove();
        },
      };
    }
    return add(this.resolve(range));
  }

  private resolve(name: string): AddressRange {
    const r = this.symbol(name);
    if (r === null) throw new KmemsimError(`kmemsim: no symbol ${JSON.stringify(name)} in ${this.module?.name ?? 'the program'}`, 2);
    return r;
  }

  private resolveDeferred(): void {
    for (const d of this.deferred.splice(0)) {
      if (!d.handle.removed) d.handle.inner = d.add(this.resolve(d.name));
    }
  }

  /** Call `fn` at every exception and interrupt the CPU delivers (faults, INT n, external interrupts). */
  onInterrupt(fn: InterruptHook): HookHandle {
    return this.hooks.addInterrupt(fn);
  }

  // ---- registers and memory -----------------------------------------------------------

  private released = false;
  /** The finished module run's release (the RAM, the checkers' shadows). */
  private releaseRun: (() => void) | null = null;
  /**
   * Give the machine's RAM back (CPU.release): the next machine of the same
   * memory size loaded in this process reuses it, zeroed, instead of
   * allocating another — which V8 answers with garbage collections, so a
   * loop over many machines runs noticeably faster when each is released.
   * `findings`, `reports`, `stdout`, `stderr` and `console` stay; run(),
   * the registers and memory throw KmemsimError afterwards. A second call
   * does nothing; a machine never released is simply collected.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    // A module's run releases its checkers' shadows with the RAM (CheckedRunResult.release).
    if (this.releaseRun !== null) this.releaseRun();
    else this.kernelOrNull?.cpu.release();
  }

  private get cpu(): CPU {
    if (this.released) throw releasedError();
    if (this.kernelOrNull === null) throw new KmemsimError('kmemsim: a module\'s machine boots on its first run(): registers and memory exist from then on (in hooks too)', 2);
    return this.kernelOrNull.cpu;
  }

  /** A register by its SDM name, as an unsigned 32-bit value (segment registers: the selector). */
  reg(name: RegisterName): number {
    const n = registerNumber(name);
    const b = readRegister(this.cpu, n)!;
    return new DataView(b.buffer).getUint32(0, true);
  }

  /**
   * Set a general register, EIP or EFLAGS (between runs). Segment and
   * control registers are read-only here, as in the gdb stub: loading them
   * behind the CPU's back would leave its descriptor caches and TLB stale.
   */
  setReg(name: RegisterName, value: number): void {
    const n = registerNumber(name);
    if (this.hooks.inHook) throw new KmemsimError('kmemsim: registers are written between runs, not from a hook (compiled code keeps them in locals while a block runs)', 2);
    if (/^(c|s|d|e|f|g)s$|^cr/.test(name)) throw new KmemsimError(`kmemsim: ${name} is read-only through the API (a selector or control register needs the CPU's own load)`, 2);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, value >>> 0, true);
    writeRegister(this.cpu, n, bytes);
  }

  /** Bytes at a linear address, through the current page tables (the kernel's accessor); throws KmemsimError where not mapped. */
  read(address: number, length: number): Uint8Array {
    try {
      return this.kernel.mem.read(address | 0, length);
    } catch (e) {
      throw memoryError(e);
    }
  }

  /** Write bytes at a linear address through the page tables (code written is retranslated, as the guest's own stores). */
  write(address: number, data: Uint8Array): void {
    try {
      this.kernel.mem.write(address | 0, data);
    } catch (e) {
      throw memoryError(e);
    }
  }

  read32(address: number): number {
    return new DataView(this.read(address, 4).buffer).getUint32(0, true);
  }

  write32(address: number, value: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    this.write(address, b);
  }

  /** The kernel under the machine (for what the API does not cover; not a stable interface). */
  get kernel(): Kernel {
    void this.cpu;
    return this.kernelOrNull!;
  }

  /** Instructions retired since the machine booted. */
  get instructions(): number {
    return this.kernelOrNull?.cpu.icount ?? 0;
  }
}

function releasedError(): KmemsimError {
  return new KmemsimError('kmemsim: this machine was released (release()): its memory belongs to the next machine', 2);
}

function registerNumber(name: string): number {
  const n = REGISTER_NUMBERS.get(name);
  if (!NAMES.has(name) || n === undefined) throw new KmemsimError(`kmemsim: unknown register ${JSON.stringify(name)} (eax..edi, eip, eflags, cs..gs, cr0..cr4)`, 2);
  return n;
}

function memoryError(e: unknown): unknown {
  return e instanceof GuestFault ? new KmemsimError(`kmemsim: ${e.message}`, 2) : e;
}

function readFile(file: string, root: string | undefined): Uint8Array {
  let host = file;
  if (root !== undefined) {
    const h = hostPathInRoot(root, file);
    if (h === null) throw new KmemsimError(`kmemsim: cannot read ${file} in ${root}: no such file`, 127);
    host = h;
  }
  try {
    return new Uint8Array(fs.readFileSync(host));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new KmemsimError(`kmemsim: cannot read ${file}: no such file`, 127);
    throw new KmemsimError(`kmemsim: cannot read ${file}: ${err.code === 'EISDIR' ? 'a directory' : err.message}`, 126);
  }
}

/** A module's C source(s) compiled as `kmemsim run` compiles them (with -pg -mfentry for `stack: 'ftrace'`). */
function compile(sources: string[], opts: LoadOptions): { object: Uint8Array; name: string; stackUsage: string | null } {
  const ftrace = opts.stack === 'ftrace';
  const cflags = opts.cflags ?? [];
  try {
    if (sources.length === 1) {
      const c = compileModule(sources[0]!, { ftrace, cflags });
      if (c.warnings) opts.onDiagnostic?.(c.warnings.replace(/\n$/, ''));
      return { object: c.object, name: basename(sources[0]!), stackUsage: c.stackUsage || null };
    }
    const b = buildModule({ name: modname(sources[0]!), sources, cflags: [...(ftrace ? FTRACE_CFLAGS : []), ...cflags] });
    if (b.warnings) opts.onDiagnostic?.(b.warnings.replace(/\n$/, ''));
    return { object: b.object, name: basename(sources[0]!), stackUsage: null };
  } catch (e) {
    // gcc's own messages go where kmemsim's diagnostics go; the error is one line.
    if (e instanceof CompileError || e instanceof BuildError) {
      if (e.output) opts.onDiagnostic?.(e.output.replace(/\n$/, ''));
      throw new KmemsimError(`kmemsim: ${e.message}`, 126);
    }
    throw e;
  }
}
