/**
 * A user-program fuzz target: a static i386 Linux executable (the project's
 * freestanding runtime, glibc's `gcc -m32 -static`, busybox) that reads its
 * input from stdin, or — AFL's convention — from a file whose path replaces
 * `@@` in its arguments (the file is `OUT/NAME/.cur_input`, as afl-fuzz's).
 *
 * The program is loaded once (execve: segments mapped, the initial stack
 * and auxiliary vector built) and the machine snapshotted at its entry
 * point (src/boot/snapshot.ts; AFL's fork server stops at the same place
 * when it is started before main); every input restores the snapshot,
 * gives stdin the input's bytes (or rewrites the file), and runs the
 * program with the CPU's edge counters on until it exits.
 *
 * Outcomes, as afl-fuzz judges a native run: death by a signal — an
 * unhandled fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP), abort()'s
 * SIGABRT, any fatal signal — is a crash (signature: the signal and where
 * the program was, `SIGSEGV at parse+0x1c`); running past the per-input
 * budget (--timeout-instructions, every process counted) or deadlocking is
 * a hang; an unsupported instruction or a triple fault is a crash (SIGILL,
 * SIGABRT); any exit status is a normal end.
 */
import * as fs from 'node:fs';
import { concat, loadUserProgram, parseUserProgram, type Process, type RunOptions } from '../kernel/process.js';
import { signalForVector } from '../kernel/traps.js';
import { makeSymbolizer, type Elf32 } from '../elf/elf32.js';
import { MachineSnapshot } from '../boot/snapshot.js';
import type { StopReason } from '../cpu/stop.js';
import { StdinFile } from '../linux/fs/stdio.js';
import { describeStop } from '../cli/describe.js';
import type { Execution } from './target-module.js';
import { compareRoutines, withCompareLog, type CompareLog, type CompareRoutine } from './cmplog.js';

/** Linux's signal names (asm/signal.h, i386), for signatures and reports. */
const SIGNALS: Record<number, string> = {
  1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 5: 'SIGTRAP', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL',
  10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM', 16: 'SIGSTKFLT', 17: 'SIGCHLD',
  24: 'SIGXCPU', 25: 'SIGXFSZ', 26: 'SIGVTALRM', 27: 'SIGPROF', 29: 'SIGIO', 30: 'SIGPWR', 31: 'SIGSYS',
};
export const signalName = (n: number): string => SIGNALS[n] ?? `signal ${n}`;

/** The vector int $0x80 stops with when every task waits for ever (README: a deadlock is 125, not 128+N). */
const SYSCALL_VECTOR = 0x80;

export interface ProgramTargetOptions {
  /** argv, argv[0] first; an argument `@@` (or containing it) is replaced by `inputFile`. */
  argv: string[];
  env: string[];
  /** The file `@@` names (written before every input); required when argv has `@@`. */
  inputFile: string | null;
  /** Instructions per input (every process); past it the input is a hang. */
  timeout: number;
  memorySize?: number;
  root?: string;
  readOnly?: boolean;
  /** Boot a fresh machine for every input instead of restoring the snapshot (the reference the snapshot is tested against). */
  snapshot?: boolean;
}

/** What a program run left, for the crash's text and JSON reports. */
export interface ProgramRun {
  stop: StopReason;
  /** The status `kmemsim run PROGRAM` exits with (128+N for a signal). */
  exitCode: number;
  /** The fatal signal, or 0 when the program exited. */
  signal: number;
  instructions: number;
  stdout: Uint8Array;
  stderr: Uint8Array;
  /** One line: what happened ("killed by SIGSEGV at parse+0x1c (…)"). */
  message: string;
}

export class ProgramTargetError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = 'ProgramTargetError';
  }
}

export class ProgramTarget {
  readonly elf: Elf32;
  private readonly symbolize: (addr: number) => string;
  private proc: Process | null = null;
  private snap: MachineSnapshot | null = null;
  private stdin: StdinFile | null = null;
  private readonly usesFile: boolean;

  constructor(readonly program: Uint8Array, readonly opts: ProgramTargetOptions) {
    this.elf = parseUserProgram(program);
    this.usesFile = opts.argv.some((a) => a.includes('@@'));
    if (this.usesFile && opts.inputFile === null) throw new ProgramTargetError('@@ in the arguments needs an input file', 2);
    const sym = makeSymbolizer(this.elf);
    this.symbolize = (addr) => {
      const m = sym(addr >>> 0);
      return m ? `${m.name}+0x${m.offset.toString(16)}` : `0x${(addr >>> 0).toString(16).padStart(8, '0')}`;
    };
  }

  get snapshot(): MachineSnapshot | null {
    return this.snap;
  }

  private runOptions(stdin: Uint8Array): RunOptions {
    const argv = this.opts.argv.map((a) => (this.opts.inputFile !== null ? a.split('@@').join(this.opts.inputFile) : a));
    return { argv, env: this.opts.env, stdin, maxInstructions: this.opts.timeout, memorySize: this.opts.memorySize, root: this.opts.root, readOnly: this.opts.readOnly };
  }

  /** Run one input; `edges` (a zeroed 64 KiB map) receives the edge counts. */
  execute(data: Uint8Array, edges: Uint8Array | null, cmplog: CompareLog | null = null): Execution & { program: ProgramRun } {
    if (this.usesFile) fs.writeFileSync(this.opts.inputFile!, data);
    const stdin = this.usesFile ? new Uint8Array(0) : data;
    let p: Process;
    if (this.opts.snapshot === false) {
      p = loadUserProgram(this.program, this.runOptions(stdin));
    } else {
      if (this.proc === null) {
        this.proc = loadUserProgram(this.program, this.runOptions(new Uint8Array(0)));
        const f = this.proc.linux.system.task.files.get(0);
        this.stdin = f instanceof StdinFile ? f : null;
        this.snap = new MachineSnapshot(this.proc.kernel.cpu, [this.proc]);
      } else {
        this.snap!.restore();
      }
      p = this.proc;
      this.stdin?.refill(stdin);
    }
    const run = this.run(p, edges, cmplog);
    return { ...this.classify(run), program: run };
  }

  private compareRoutines: CompareRoutine[] | null = null;
  /** The program's memcmp-likes (its static symbol table's functions), for a cmplog run. */
  private get routines(): CompareRoutine[] {
    if (this.compareRoutines === null) {
      const funcs = new Map<string, number>();
      for (const sym of this.elf.symbols) if (sym.name && sym.value !== 0 && sym.type === 2 /* STT_FUNC */) funcs.set(sym.name, sym.value);
      this.compareRoutines = compareRoutines((n) => funcs.get(n));
    }
    return this.compareRoutines;
  }

  private run(p: Process, edges: Uint8Array | null, cmplog: CompareLog | null): ProgramRun {
    const cpu = p.kernel.cpu;
    const sys = p.linux.system;
    const before = cpu.icount;
    cpu.edgeCounts = edges;
    cpu.prevBlockId = 0;
    let stop: StopReason;
    try {
      const go = () => sys.run(this.opts.timeout);
      stop = cmplog === null ? go() : withCompareLog(cpu, cmplog, this.routines, 'cdecl', go);
    } catch (e) {
      stop = { kind: 'internal-error', eip: cpu.eip, message: `internal error: ${e instanceof Error ? e.message : String(e)}` };
    } finally {
      cpu.edgeCounts = null;
    }
    const instructions = cpu.icount - before;
    const init = sys.tasks.get(sys.initPid);
    let signal = 0;
    if (stop.kind === 'exited' && init?.state === 'zombie' && (init.exitStatus & 0x7f) !== 0) signal = init.exitStatus & 0x7f;
    else if (stop.kind === 'fault' && stop.vector < 32) signal = signalForVector(stop.vector);
    const eip = stop.kind === 'fault' || stop.kind === 'unsupported' ? stop.eip : userEip(p);
    // Whatever the program left open on the host is closed (its descriptors die with the machine state).
    for (const t of sys.tasks.values()) t.files.closeAll();
    const exitCode = signal ? 128 + signal : stop.kind === 'exited' ? stop.status : stop.kind === 'budget' ? 124 : 125;
    const message = signal
      ? `killed by ${signalName(signal)} at ${this.symbolize(eip)}${stop.kind === 'fault' ? ` (${stop.message.replace(/^kmemsim: /, '')})` : ''}`
      : stop.kind === 'exited' ? `exited with status ${stop.status}` : describeStop(stop, instructions).replace(/^kmemsim: /, '');
    return { stop, exitCode, signal, instructions, stdout: concat(p.stdout.splice(0)), stderr: concat(p.stderr.splice(0)), message };
  }

  private classify(r: ProgramRun): Execution {
    const base = { instructions: r.instructions, result: null };
    const stop = r.stop;
    const eip = stop.kind === 'fault' || stop.kind === 'unsupported' ? stop.eip : null;
    if (r.signal) {
      const at = r.message.match(/ at (\S+)/)?.[1] ?? '';
      return { ...base, outcome: 'crash', signature: `${signalName(r.signal)} at ${at}`, signal: r.signal };
    }
    if (stop.kind === 'exited') return { ...base, outcome: 'ok', signature: null, signal: 0 };
    if (stop.kind === 'budget' || (stop.kind === 'fault' && stop.vector === SYSCALL_VECTOR)) {
      return { ...base, outcome: 'hang', signature: stop.kind === 'budget' ? 'hang' : 'deadlock', signal: 9 };
    }
    const sig = stop.kind === 'unsupported' ? 4 : 6;
    return { ...base, outcome: 'crash', signature: `${stop.kind}${eip !== null ? ` at ${this.symbolize(eip)}` : ''}`, signal: sig };
  }
}

/**
 * Where the program was when it died: the CPU's EIP when it stopped in user
 * mode; inside the kernel (a signal acted on at a system call's return,
 * abort()'s kill), the user EIP in the hardware frame the interrupt pushed
 * at the top of the kernel stack (TSS.ESP0: EIP, CS, EFLAGS, ESP, SS).
 */
function userEip(p: Process): number {
  const cpu = p.kernel.cpu;
  if (cpu.cpl === 3) return cpu.eip;
  try {
    const esp0 = p.kernel.mem.read32((cpu.trBase + 4) | 0);
    return p.kernel.mem.read32((esp0 - 20) | 0);
  } catch {
    return cpu.eip;
  }
}
