/**
 * The Linux personality of kmemsim's kernel: one system with its tasks, its
 * file systems (host files through vfs.ts, /dev, /proc), the deterministic
 * clock and random bytes, and the int $0x80 system-call dispatcher
 * (arch/x86/entry/syscalls/syscall_32.tbl numbering; arguments in EBX, ECX,
 * EDX, ESI, EDI, EBP; result or -errno in EAX). Unknown calls return
 * -ENOSYS, reported once per number with --verbose.
 */
import * as os from 'node:os';
import type { Kernel, TrapFrame } from '../kernel/kernel.js';
import { GuestFault } from '../kernel/guest-memory.js';
import { OutOfMemory } from '../kernel/pages.js';
import { SYSCALL_VECTOR } from '../kernel/layout.js';
import { Vec } from '../cpu/stop.js';
import { cpuid } from '../cpu/exec/system.js';
import { Clock } from './clock.js';
import { DeterministicRandom } from './random.js';
import { ENOMEM, ENOSYS, EFAULT, LinuxError } from './errno.js';
import { UserAccess } from './uaccess.js';
import { Vfs } from './fs/vfs.js';
import { devfs } from './fs/devfs.js';
import { procfs, type ProcView } from './fs/procfs.js';
import { WOULD_BLOCK } from './fs/file.js';
import type { Task } from './task.js';
import { memorySyscalls } from './sys-mm.js';
import { fileSyscalls } from './sys-fs.js';
import { miscSyscalls } from './sys-misc.js';
import { SIGPIPE, defaultAction, SIG_IGN, signalExitStatus } from './signals.js';
import { BrokenPipe } from './pipe.js';

export type Syscall = (b: number, c: number, d: number, si: number, di: number, bp: number) => number | typeof WOULD_BLOCK;
export type SyscallTable = Record<number, Syscall>;

export interface LinuxIO {
  diagnostic(line: string): void;
  verbose: boolean;
}

export interface LinuxOptions {
  /** Host directory that is the guest's "/" (--root). */
  root?: string;
  /** Refuse every write to the host file system with EROFS (--read-only). */
  readOnly?: boolean;
}

/** The user and group a process runs as: the host's, as under qemu-user. */
export const HOST_UID = process.getuid?.() ?? 0;
export const HOST_GID = process.getgid?.() ?? 0;

export class LinuxSystem {
  readonly clock: Clock;
  readonly random = new DeterministicRandom();
  readonly vfs: Vfs;
  readonly ua: UserAccess;
  readonly tasks = new Map<number, Task>();
  task!: Task;
  private readonly table: SyscallTable;
  private readonly reported = new Set<number>();

  constructor(readonly k: Kernel, readonly io: LinuxIO, opts: LinuxOptions = {}) {
    this.clock = new Clock(k.cpu);
    this.ua = new UserAccess(k, () => this.task.mm);
    const sys = this;
    this.vfs = new Vfs({
      root: opts.root,
      readOnly: opts.readOnly,
      mounts: new Map([
        ['dev', devfs(this.random)],
        ['proc', procfs({
          process: (pid) => sys.procView(pid),
          pids: () => [...sys.tasks.keys()],
          self: () => sys.task.pid,
          cpuinfo: () => cpuinfo(k),
          version: 'Linux version 6.1.0-kmemsim (kmemsim) #1 SMP PREEMPT_DYNAMIC',
          uptimeSeconds: () => sys.clock.monotonicNs() / 1e9,
          memTotalKiB: k.cpu.mem.size / 1024,
          memFreeKiB: () => Math.max(0, k.cpu.mem.size / 1024 - k.frames.allocated * 4),
        })],
      ]),
    });
    this.table = { ...memorySyscalls(this), ...fileSyscalls(this), ...miscSyscalls(this) };
  }

  private procView(pid: number): ProcView | undefined {
    const t = this.tasks.get(pid);
    if (!t) return undefined;
    return { pid, exe: t.exe, cwd: t.cwd, argv: t.argv, env: t.env, maps: () => t.mm.maps(), fds: () => t.files.entries() };
  }

  /** Install the int $0x80 gate's handler and the demand-paging #PF handler (ahead of the fatal-fault policy). */
  install(): void {
    const k = this.k;
    const fallback = k.getTrapHandler(Vec.PF);
    k.setTrapHandler(Vec.PF, (kern, f: TrapFrame) => {
      if (f.fromUser && this.task.mm.handleFault(kern.cpu.cr2, ((f.errorCode ?? 0) & 2) !== 0, f.userEsp)) return;
      fallback?.(kern, f);
    });
    k.setTrapHandler(SYSCALL_VECTOR, () => this.syscall());
  }

  private syscall(): void {
    const r = this.k.cpu.regs;
    const nr = r[0] >>> 0;
    const fn = this.table[nr];
    if (!fn) {
      if (this.io.verbose && !this.reported.has(nr)) {
        this.reported.add(nr);
        this.io.diagnostic(`kmemsim: system call ${nr} is not implemented; returning -ENOSYS`);
      }
      r[0] = -ENOSYS;
      return;
    }
    let res: number | typeof WOULD_BLOCK;
    try {
      res = fn(r[3], r[1], r[2], r[6], r[7], r[5]);
    } catch (e) {
      if (e instanceof BrokenPipe) this.sendSignalToSelf(SIGPIPE);
      if (e instanceof LinuxError) res = -e.errno;
      else if (e instanceof GuestFault) res = -EFAULT;
      else if (e instanceof OutOfMemory) res = -ENOMEM;
      else throw e;
    }
    if (res === WOULD_BLOCK) {
      // One task, nothing else to run: it would sleep forever, as it would on Linux. kmemsim stops instead of hanging.
      this.k.cpu.stop({ kind: 'fault', vector: SYSCALL_VECTOR, errorCode: null, eip: this.k.cpu.eip, message: `deadlock: system call ${nr} would block forever (no other task can wake it)` });
      return;
    }
    if (!this.k.cpu.stopReason) r[0] = res;
  }

  /** A signal to the current task with no handler run (stage without signal frames): default action or ignore. */
  sendSignalToSelf(sig: number): void {
    const act = this.task.signals.actions[sig]!;
    if (act.handler === SIG_IGN) return;
    const def = defaultAction(sig);
    if (act.handler !== 0) {
      this.io.diagnostic(`kmemsim: signal ${sig} has a handler, but signal delivery to handlers is not modelled; terminating`);
    } else if (def === 'ign' || def === 'cont' || def === 'stop') return;
    this.exit(signalExitStatus(sig), `killed by signal ${sig}`);
  }

  /** The process ends: exit_group(), or death by a signal (status 128+N as a shell shows it). */
  exit(status: number, why?: string): void {
    if (why && this.io.verbose) this.io.diagnostic(`kmemsim: ${why}`);
    this.task.files.closeAll();
    this.k.cpu.stop({ kind: 'exited', status: status & 0xff });
  }
}

/** CPUID leaf 1's EDX, as the simulated processor answers it (AT_HWCAP, /proc/cpuinfo flags). */
export function cpuidLeaf(k: Kernel, leaf: number): { eax: number; ebx: number; ecx: number; edx: number } {
  const r = k.cpu.regs;
  const saved = [r[0], r[1], r[2], r[3]];
  r[0] = leaf;
  r[1] = 0;
  cpuid(k.cpu);
  const out = { eax: r[0] >>> 0, ebx: r[3] >>> 0, ecx: r[1] >>> 0, edx: r[2] >>> 0 };
  [r[0], r[1], r[2], r[3]] = saved as [number, number, number, number];
  return out;
}

/** The feature flags' names, bit by bit (arch/x86/include/asm/cpufeatures.h, word 0). */
const EDX_FLAGS = ['fpu', 'vme', 'de', 'pse', 'tsc', 'msr', 'pae', 'mce', 'cx8', 'apic', '', 'sep', 'mtrr', 'pge', 'mca', 'cmov',
  'pat', 'pse36', 'pn', 'clflush', '', 'dts', 'acpi', 'mmx', 'fxsr', 'sse', 'sse2', 'ss', 'ht', 'tm', 'ia64', 'pbe'];

/** /proc/cpuinfo (arch/x86/kernel/cpu/proc.c's show_cpuinfo()), from the simulated CPU's CPUID. */
export function cpuinfo(k: Kernel): string {
  const l0 = cpuidLeaf(k, 0);
  const l1 = cpuidLeaf(k, 1);
  const vendor = Buffer.alloc(12);
  vendor.writeUInt32LE(l0.ebx, 0);
  vendor.writeUInt32LE(l0.edx, 4);
  vendor.writeUInt32LE(l0.ecx, 8);
  const flags = EDX_FLAGS.filter((n, i) => n && l1.edx & (1 << i)).join(' ');
  const fpu = l1.edx & 1 ? 'yes' : 'no';
  return [
    'processor\t: 0',
    `vendor_id\t: ${vendor.toString('latin1')}`,
    `cpu family\t: ${(l1.eax >> 8) & 0xf}`,
    `model\t\t: ${(l1.eax >> 4) & 0xf}`,
    'model name\t: kmemsim simulated IA-32 processor',
    `stepping\t: ${l1.eax & 0xf}`,
    'cpu MHz\t\t: 100.000',
    `fdiv_bug\t: no`,
    `f00f_bug\t: no`,
    `coma_bug\t: no`,
    `fpu\t\t: ${fpu}`,
    `fpu_exception\t: ${fpu}`,
    `cpuid level\t: ${l0.eax}`,
    'wp\t\t: yes',
    `flags\t\t: ${flags}`,
    'bogomips\t: 200.00',
    'clflush size\t: 32',
    'cache_alignment\t: 32',
    'address sizes\t: 32 bits physical, 32 bits virtual',
    'power management:',
    '',
    '',
  ].join('\n');
}

export const HOSTNAME = 'kmemsim';
void os;
