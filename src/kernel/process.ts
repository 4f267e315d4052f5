/**
 * User programs: load a static i386 ELF executable, build the initial stack
 * as Linux's create_elf_tables() does (argc, argv, envp, auxv, the strings
 * and AT_RANDOM bytes above them), enter it at CPL 3 with IRET, and serve
 * its int $0x80 system calls until it exits.
 */
import type { KernelApi } from './kapi.js';
import type { StopReason } from '../cpu/stop.js';
import type { CPU, CpuObserver } from '../cpu/cpu.js';
import { parseElf32, ElfError, validateLoadable, ET_DYN, ET_EXEC, PT_LOAD, PF_W, type Elf32 } from '../elf/elf32.js';
import type { AddressSpace } from './paging.js';
import { Kernel } from './kernel.js';
import { installUserTraps, signalForVector } from './traps.js';
import { PAGE_SIZE, PHYS_POOL_START, TASK_SIZE } from './layout.js';
import { startLinuxProcess, type LinuxProcess } from '../linux/start.js';
import type { KernelApiHook, PreloadModule } from '../linux/sys-module.js';

export interface RunOptions {
  /** argv[0] first. */
  argv: string[];
  env?: string[];
  stdin?: Uint8Array;
  /** Instruction budget; the run stops with kind 'budget' when it runs out. */
  maxInstructions?: number;
  verbose?: boolean;
  /** Called with guest output as it is written; when absent, output is only collected. */
  onStdout?(bytes: Uint8Array): void;
  onStderr?(bytes: Uint8Array): void;
  /** kmemsim's own diagnostics (--verbose). */
  onDiagnostic?(line: string): void;
  /** Guest RAM in bytes (`--memory`); default: sized from the program (guestMemorySize). */
  memorySize?: number;
  /** Host directory that is the guest's "/" (--root); `exePath` and file names are then guest paths. */
  root?: string;
  /** Refuse writes to the host file system with EROFS (--read-only). */
  readOnly?: boolean;
  /** The program's guest path (/proc/self/exe, AT_EXECFN); default argv[0] made absolute. */
  exePath?: string;
  /** The guest's initial working directory (default: the host's, or "/" under --root). */
  cwd?: string;
  /** Whether the host's stdin/stdout/stderr are terminals (the guest then sees a tty); default: not. */
  stdioIsTty?: [boolean, boolean, boolean];
  /** Block-compiler threshold (CPU.jitThreshold): tests use 0 to run every block compiled, Infinity to interpret. */
  jitThreshold?: number;
  /** Observe the machine before it runs (tracing, tests). */
  onBoot?(k: Kernel): void;
  /**
   * Exception/interrupt tracing (`kmemsim run --trace-events`): called once
   * with the CPU before the program runs; the observer it returns (the
   * tracer of src/trace/events.ts) becomes `cpu.observer`.
   */
  traceEvents?(cpu: CPU): CpuObserver;
  /** Kernel modules to load (insmod) before the first instruction of the program (`--module`). */
  modules?: PreloadModule[];
  /** Kernel boot parameters for the module kernel (`--kernel-param page_owner=on`). */
  kernelParams?: readonly string[];
  /** The kernel console: printk of loaded modules (default: kmemsim's diagnostics, stderr). */
  onConsole?(text: string): void;
  /** A checker's options for the module kernel's API (src/harness/linux-checked.ts). */
  kernelApi?: KernelApiHook;
  /**
   * The kernel API once the --module modules are loaded, before the program's first instruction (the kernel API
   * is installed for it when no module was): `--bpftrace` attaches here.
   */
  onKernelApi?(api: KernelApi): void;
}

export interface RunResult {
  stop: StopReason;
  /** The guest's exit status when stop.kind === 'exited'; 128+N for a fatal fault (its signal N); else 124 (budget) or 125 (unsupported instruction, deadlock, triple fault). */
  exitCode: number;
  instructions: number;
  stdout: Uint8Array;
  stderr: Uint8Array;
}

export const DEFAULT_BUDGET = 10_000_000_000;

/** Auxiliary vector types (include/uapi/linux/auxvec.h). */
const AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7, AT_FLAGS = 8, AT_ENTRY = 9,
  AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14, AT_PLATFORM = 15, AT_HWCAP = 16, AT_CLKTCK = 17,
  AT_SECURE = 23, AT_RANDOM = 25, AT_EXECFN = 31;

/** The file is an ELF executable kmemsim cannot run (dynamically linked, too big for guest memory, ...): exit status 126. */
export class LoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoadError';
  }
}

/** Guest RAM when the program needs less, as before `--memory` existed. */
export const DEFAULT_MEMORY_SIZE = 64 * 1024 * 1024;
/**
 * The most guest RAM `kmemsim run` gives a program (`--memory` included):
 * the kernel maps all of it at PAGE_OFFSET, and the 3G/1G split leaves 1 GiB
 * there (i386 Linux kept 128 MiB of it for vmalloc: its lowmem is 896 MiB).
 */
export const MAX_MEMORY_SIZE = 1024 * 1024 * 1024;
/** Room the kernel keeps for what a program allocates at run time (brk, mmap, stack) when sizing memory itself. */
export const MEMORY_HEADROOM = 64 * 1024 * 1024;

/** A loaded process ready to run: the kernel, the Linux personality serving it, and its collected output. */
export interface Process {
  kernel: Kernel;
  linux: LinuxProcess;
  stdout: Uint8Array[];
  stderr: Uint8Array[];
}

/**
 * What Linux's load_elf_binary() checks before it commits to a file, from
 * the ELF header and program headers only (section headers are never
 * needed to run a program; damaged ones only cost symbols): an i386
 * ET_EXEC, no PT_INTERP (kmemsim has no dynamic loader), loadable segments
 * inside the user address space. Throws ElfError or LoadError (exit 126).
 */
export function parseUserProgram(elfBytes: Uint8Array): Elf32 {
  const elf = parseElf32(elfBytes, { sectionHeaders: 'optional' });
  checkLoadable(elf);
  return elf;
}

/** Refuse what kmemsim cannot run (exec and execve alike): dynamically linked, not ET_EXEC, segments outside the user space. */
export function checkLoadable(elf: Elf32): void {
  // The interpreter first: a default gcc build is a dynamically linked PIE (ET_DYN), and that is what to tell.
  if (elf.interpreter !== null) {
    const interp = elf.interpreter === '' ? 'with an empty PT_INTERP path' : `interpreter ${elf.interpreter}`;
    throw new LoadError(`dynamically linked program (${interp}); kmemsim runs static executables only (link with -static)`);
  }
  if (elf.header.type === ET_DYN) {
    throw new LoadError('ELF type ET_DYN (a position-independent executable or shared object) is not supported; kmemsim runs static ET_EXEC executables (link with -static -no-pie)');
  }
  if (elf.header.type !== ET_EXEC) throw new ElfError(`ELF type ${elf.header.typeName} is not a static executable (ET_EXEC)`);
  validateLoadable(elf, { lo: PAGE_SIZE, hi: TASK_SIZE - 16 * 1024 * 1024 });
}

/**
 * Guest RAM the program needs at load time: the kernel's own low memory,
 * one frame per page its PT_LOAD segments cover (.bss included: the loader
 * maps it, zeroed, as Linux's set_brk() does), their page tables, and the
 * initial stack.
 */
export function loadFootprint(elf: Elf32): number {
  const pages = new Set<number>();
  const tables = new Set<number>();
  for (const ph of elf.programHeaders) {
    if (ph.type !== PT_LOAD || ph.memsz === 0) continue;
    for (let p = Math.floor(ph.vaddr / PAGE_SIZE); p * PAGE_SIZE < ph.vaddr + ph.memsz; p++) pages.add(p);
    for (let t = Math.floor(ph.vaddr / 0x400000); t * 0x400000 < ph.vaddr + ph.memsz; t++) tables.add(t);
  }
  const stackPages = STACK_PAGES + 1; // and a page table for them
  return PHYS_POOL_START + (pages.size + tables.size + stackPages) * PAGE_SIZE;
}

/**
 * The guest's RAM size: `requested` (`--memory`) when given; else
 * DEFAULT_MEMORY_SIZE while the program's load footprint leaves at least
 * half of it free, and otherwise the footprint plus MEMORY_HEADROOM,
 * rounded up to 4 MiB (the kernel direct map's page size), at most
 * MAX_MEMORY_SIZE. LoadError (exit 126) when the program needs more than
 * the memory it may have.
 */
export function guestMemorySize(elf: Elf32, requested?: number): number {
  const need = loadFootprint(elf);
  const mib = (n: number): string => `${Math.ceil(n / (1024 * 1024))} MiB`;
  if (requested !== undefined) {
    if (need > requested) {
      throw new LoadError(`the program needs ${mib(need)} of guest memory to load (its segments, .bss included), more than --memory ${mib(requested)}`);
    }
    return requested;
  }
  if (need > MAX_MEMORY_SIZE) {
    throw new LoadError(`the program needs ${mib(need)} of guest memory to load (its segments, .bss included), more than kmemsim's limit of ${mib(MAX_MEMORY_SIZE)}`);
  }
  if (need <= DEFAULT_MEMORY_SIZE / 2) return DEFAULT_MEMORY_SIZE;
  return Math.min(MAX_MEMORY_SIZE, Math.ceil((need + MEMORY_HEADROOM) / 0x400000) * 0x400000);
}

/** Map the PT_LOAD segments into `as` (the current address space), writable only where PF_W says so, as Linux's elf_map() does. */
export function mapSegments(k: Kernel, as: AddressSpace, elf: Elf32): void {
  for (const ph of elf.programHeaders) {
    if (ph.type !== PT_LOAD || ph.memsz === 0) continue;
    as.mapRange(ph.vaddr, ph.vaddr + ph.memsz, true);
    k.mem.write(ph.vaddr, elf.segmentData(ph));
  }
  for (const ph of elf.programHeaders) {
    if (ph.type !== PT_LOAD || ph.memsz === 0 || ph.flags & PF_W) continue;
    for (let p = (ph.vaddr & ~(PAGE_SIZE - 1)) >>> 0; p < ph.vaddr + ph.memsz; p += PAGE_SIZE) {
      // A page shared with a writable segment stays writable.
      const sharedWithWritable = elf.programHeaders.some(
        (o) => o.type === PT_LOAD && o.flags & PF_W && o.vaddr < p + PAGE_SIZE && p < o.vaddr + o.memsz,
      );
      if (!sharedWithWritable) as.mapUser(p, false, k.cpu.lookupPhys(p, false, false));
    }
  }
}

export function loadUserProgram(elfBytes: Uint8Array, opts: RunOptions): Process {
  const elf = parseUserProgram(elfBytes);
  const k = new Kernel({ memorySize: guestMemorySize(elf, opts.memorySize) });
  const stdout: Uint8Array[] = [];
  const stderr: Uint8Array[] = [];
  mapSegments(k, k.as, elf);

  installUserTraps(k);
  const linux = startLinuxProcess(k, elf, opts, {
    stdout: (b) => {
      stdout.push(b);
      opts.onStdout?.(b);
    },
    stderr: (b) => {
      stderr.push(b);
      opts.onStderr?.(b);
    },
  }, STACK_PAGES);

  linux.system.modules.kernelParams = opts.kernelParams ?? [];
  if (opts.modules?.length) {
    linux.system.modules.preload(opts.modules, opts.maxInstructions ?? DEFAULT_BUDGET);
    // ELF_PLAT_INIT(): the program starts with zeroed registers (EDX is the rtld_fini glibc registers with atexit).
    for (const r of [0, 1, 2, 3, 5, 6, 7]) k.cpu.regs[r] = 0;
  }
  if (opts.onKernelApi) opts.onKernelApi(linux.system.modules.ensure().api);
  const sp = buildInitialStack(k, k.as, elf, { argv: opts.argv, env: opts.env ?? [] }, linux);
  linux.system.task.tls.load(k);
  // The return from execve starts in the kernel's own mode (a module's init may have left the CPU at CPL 1).
  if (k.cpu.cpl !== 0) k.kernelMode();
  k.enterUser(elf.header.entry, sp);
  if (opts.jitThreshold !== undefined) k.cpu.jitThreshold = opts.jitThreshold;
  if (opts.traceEvents) k.cpu.observer = opts.traceEvents(k.cpu);
  opts.onBoot?.(k);
  return { kernel: k, linux, stdout, stderr };
}

/** Pages of initial stack mapped at exec time (the stack VMA grows below them on demand). */
export const STACK_PAGES = 32;

/** The stack Linux's create_elf_tables() builds, from the top of the user address space down. */
export function buildInitialStack(k: Kernel, as: AddressSpace, elf: Elf32, opts: { argv: string[]; env: string[] }, linux: Pick<LinuxProcess, 'execfn' | 'hwcap' | 'uid' | 'gid' | 'system'>): number {
  const top = TASK_SIZE;
  as.mapRange(top - STACK_PAGES * PAGE_SIZE, top, true);
  let sp = top - 4;
  const pushBytes = (b: Uint8Array): number => {
    sp -= b.length;
    k.mem.write(sp, b);
    return sp;
  };
  const cstr = (s: string): Uint8Array => {
    const b = Buffer.from(s, 'utf8');
    const out = new Uint8Array(b.length + 1);
    out.set(b);
    return out;
  };
  const argv = opts.argv.length ? opts.argv : ['a.out'];
  const env = opts.env ?? [];
  const execfn = pushBytes(cstr(linux.execfn));
  const envPtrs = env.map((e) => pushBytes(cstr(e))).reverse().reverse();
  const argPtrs = argv.map((a) => pushBytes(cstr(a)));
  const platform = pushBytes(cstr('i686'));
  // AT_RANDOM: 16 bytes from the kernel's deterministic random stream (invariant 4), not host randomness.
  const random = pushBytes(linux.system.random.bytes(16));
  sp = (sp & ~15) >>> 0;
  const phdr = elf.programHeaders.length && elf.header.phoff
    ? firstLoadAddress(elf) + elf.header.phoff
    : 0;
  const auxv: [number, number][] = [
    // ELF_HWCAP on i386 is CPUID leaf 1's EDX: whatever the simulated processor reports.
    [AT_HWCAP, linux.hwcap],
    [AT_PAGESZ, PAGE_SIZE],
    [AT_CLKTCK, 100],
    [AT_PHDR, phdr],
    [AT_PHENT, elf.header.phentsize],
    [AT_PHNUM, elf.header.phnum],
    [AT_BASE, 0],
    [AT_FLAGS, 0],
    [AT_ENTRY, elf.header.entry],
    [AT_UID, linux.uid],
    [AT_EUID, linux.uid],
    [AT_GID, linux.gid],
    [AT_EGID, linux.gid],
    [AT_SECURE, 0],
    [AT_RANDOM, random],
    [AT_EXECFN, execfn],
    [AT_PLATFORM, platform],
    [AT_NULL, 0],
  ];
  const words: number[] = [argv.length, ...argPtrs, 0, ...envPtrs, 0];
  for (const [t, v] of auxv) words.push(t, v);
  sp -= words.length * 4;
  sp = (sp & ~15) >>> 0;
  const buf = new Uint8Array(words.length * 4);
  const dv = new DataView(buf.buffer);
  words.forEach((w, i) => dv.setUint32(i * 4, w >>> 0, true));
  k.mem.write(sp, buf);
  return sp;
}

/** AT_PHDR: where the program headers are in memory (inside the first PT_LOAD that covers offset phoff). */
function firstLoadAddress(elf: Elf32): number {
  for (const ph of elf.programHeaders) {
    if (ph.type === PT_LOAD && ph.offset <= elf.header.phoff && elf.header.phoff < ph.offset + ph.filesz) return ph.vaddr - ph.offset;
  }
  return 0;
}

/** Exit status conventions of `kmemsim run` (like timeout(1) and valgrind). */
export function exitCodeFor(stop: StopReason): number {
  switch (stop.kind) {
    case 'exited': return stop.status;
    case 'budget': return 124;
    case 'halted': return 0;
    default: return 125;
  }
}

/** Load and run a static ELF program to completion (or the budget); every process it forks runs within the same budget. */
export function runUserProgram(elf: Uint8Array, opts: RunOptions): RunResult {
  const p = loadUserProgram(elf, opts);
  const cpu = p.kernel.cpu;
  const budget = opts.maxInstructions ?? DEFAULT_BUDGET;
  let stop: StopReason;
  try {
    stop = p.linux.system.run(budget);
  } catch (e) {
    // The CPU converts instruction-level errors itself; anything reaching here is a kmemsim bug, reported as such.
    stop = { kind: 'internal-error', eip: cpu.eip, message: `internal error: ${e instanceof Error ? e.message : String(e)}` };
  }
  // A fatal fault in the program ends the run with the status a shell shows for death by its signal (128 + N).
  // (A deadlock is a stop at the system-call vector 0x80, not an exception: it stays 125.)
  const exitCode = stop.kind === 'fault' && stop.vector < 32
    ? 128 + signalForVector(stop.vector)
    : exitCodeFor(stop);
  return {
    stop,
    exitCode,
    instructions: cpu.icount,
    stdout: concat(p.stdout),
    stderr: concat(p.stderr),
  };
}

/** A guest stream's chunks as one buffer (stdout/stderr of a run). */
export function concat(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, b) => a + b.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
