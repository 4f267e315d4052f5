/**
 * The Linux personality of kmemsim's kernel: one system with its tasks, its
 * file systems (host files through vfs.ts, /dev, /proc), the deterministic
 * clock and random bytes, and the int $0x80 system-call dispatcher
 * (arch/x86/entry/syscalls/syscall_32.tbl numbering; arguments in EBX, ECX,
 * EDX, ESI, EDI, EBP; result or -errno in EAX). Unknown calls return
 * -ENOSYS, reported once per number with --verbose.
 */
import { debugfs, DEBUGFS_MOUNT } from './debugfs.js';
import * as os from 'node:os';
import type { Kernel, TrapFrame } from '../kernel/kernel.js';
import { OutOfMemory } from '../kernel/pages.js';
import type { AddressSpace } from '../kernel/paging.js';
import { signalForVector } from '../kernel/traps.js';
import { SYSCALL_VECTOR } from '../kernel/layout.js';
import { Vec } from '../cpu/stop.js';
import { cpuid } from '../cpu/exec/system.js';
import { Clock } from './clock.js';
import { DeterministicRandom } from './random.js';
import { ENOSYS } from './errno.js';
import { UserAccess } from './uaccess.js';
import { Vfs } from './fs/vfs.js';
import { devfs } from './fs/devfs.js';
import { procfs, type ProcView } from './fs/procfs.js';
import { tracefs, type TraceMarkerSink } from './fs/tracefs.js';
import { WOULD_BLOCK } from './fs/file.js';
import type { VNode } from './fs/vnode.js';
import { LinuxModules, type KernelApiHook } from './sys-module.js';
import { GuestCallRequest, KernelCalls, errnoResult, type SyscallResult } from './kcall.js';
import type { Task } from './task.js';
import { memorySyscalls } from './sys-mm.js';
import { fileSyscalls } from './sys-fs.js';
import { miscSyscalls } from './sys-misc.js';
import { processSyscalls } from './processes.js';
import { SIGPIPE, SIGCHLD, SIGKILL, SIGCONT, SIGSTOP, defaultAction, SIG_IGN, SIG_DFL, signalExitStatus } from './signals.js';
import { BrokenPipe } from './pipe.js';
import { setupFrame, restoreFrame, SA_RESTART, type UserRegs, type FaultInfo } from './sigframe.js';
import { runTasks, type Scheduler, type SliceState } from './sched.js';
import type { ProcessTasks } from './process-tasks.js';
import type { StopReason } from '../cpu/stop.js';

/** The kernel-internal restart codes a system call may end with (include/linux/errno.h). */
const ERESTARTSYS = 512, ERESTARTNOINTR = 513, ERESTARTNOHAND = 514;

export type Syscall = (b: number, c: number, d: number, si: number, di: number, bp: number) => SyscallResult;
export type SyscallTable = Record<number, Syscall>;

export interface LinuxIO {
  diagnostic(line: string): void;
  verbose: boolean;
  /** The kernel console (printk of loaded modules); default: kmemsim's stderr through diagnostic(). */
  console?(text: string): void;
}

export interface LinuxOptions {
  /** Host directory that is the guest's "/" (--root). */
  root?: string;
  /** Refuse every write to the host file system with EROFS (--read-only). */
  readOnly?: boolean;
  /** A checker's options for the module kernel's API (src/linux/sys-module.ts). */
  kernelApi?: KernelApiHook;
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
  /** Where writes to trace_marker go (./fs/tracefs.ts): the tracer that runs (`--mmiotrace`), else nowhere. */
  readonly tracing: TraceMarkerSink = { marker: null };
  /** Device nodes kmemsim's services add under /dev (a device process's /dev/vdev, src/mmio/process-device.ts). */
  readonly devices = new Map<string, VNode>();
  /** Told before a process's user memory goes (exit, exec): the watch framework shows the pages it hid there. */
  readonly mmReleased: ((as: AddressSpace) => void)[] = [];
  /** Loaded kernel modules, their devices and /proc entries. */
  readonly modules: LinuxModules;
  /** System calls waiting in guest kernel code (a module's file operations). */
  readonly kcalls: KernelCalls;
  /** Processes as tasks of the module kernel's scheduler, once a module kernel is installed (src/linux/process-tasks.ts). */
  processTasks: ProcessTasks | null = null;
  private readonly table: SyscallTable;
  private readonly reported = new Set<number>();

  constructor(readonly k: Kernel, readonly io: LinuxIO, opts: LinuxOptions = {}) {
    this.clock = new Clock(k.cpu);
    this.ua = new UserAccess(k, () => this.task.mm);
    this.kcalls = new KernelCalls(k, (res) => this.complete(res), {
      current: () => this.task,
      exiting: (t) => (t as Task).state === 'zombie',
      getFrame: () => this.frame,
      setFrame: (f) => {
        this.frame = f as UserRegs | null;
      },
    });
    const sys = this;
    this.vfs = new Vfs({
      root: opts.root,
      readOnly: opts.readOnly,
      mounts: new Map([
        ['dev', devfs(this.random, () => sys.devices.size ? new Map([...sys.modules.devNodes(), ...sys.devices]) : sys.modules.devNodes())],
        ['proc', procfs({
          process: (pid) => sys.procView(pid),
          pids: () => [...sys.tasks.keys()],
          self: () => sys.task.pid,
          cpuinfo: () => cpuinfo(k),
          version: 'Linux version 6.1.0-kmemsim (kmemsim) #1 SMP PREEMPT_DYNAMIC',
          uptimeSeconds: () => sys.clock.monotonicNs() / 1e9,
          memTotalKiB: k.cpu.mem.size / 1024,
          memFreeKiB: () => Math.max(0, k.cpu.mem.size / 1024 - k.frames.allocated * 4),
          extra: () => sys.modules.procNodes(),
        })],
        ['sys/kernel/tracing', tracefs(this.tracing, 300)],
        ['sys/kernel/debug/tracing', tracefs(this.tracing, 310)],
        [DEBUGFS_MOUNT, debugfs({ kernelParams: () => sys.modules.kernelParams, ensure: () => sys.modules.ensure() })],
      ]),
    });
    // A split of the kernel's direct map (a page hidden by kmemcheck or a stack tracker) reaches every process's
    // page directory, as Linux's sync_global_pgds() does: each copied the kernel half when it was made.
    k.as.kernelPdeChanged.push((i, pde) => {
      for (const t of this.tasks.values()) if (t.mm.as.pgdir !== k.as.pgdir) k.mem.writePhys32(t.mm.as.pgdir + i * 4, pde);
    });
    this.modules = new LinuxModules(this, k, (text) => (io.console ? io.console(text) : io.diagnostic(text.replace(/\n$/, ''))), opts.kernelApi);
    this.table = {
      ...this.modules.syscalls(),
      ...memorySyscalls(this), ...fileSyscalls(this), ...miscSyscalls(this), ...processSyscalls(this),
      179: (mask, size) => this.sigsuspend(mask, size),
      119: () => restoreFrame(this.k, this.ua, this.task.signals, this.frame!, false),
      173: () => restoreFrame(this.k, this.ua, this.task.signals, this.frame!, true),
    };
  }

  /** The user registers of the system call or fault being served (the trap frame on the kernel stack). */
  frame: UserRegs | null = null;
  /** The embedder's pause (src/api/machine.ts): true when a hook stopped the machine, so run() returns. */
  paused: (() => boolean) | null = null;
  /** The time slice the last run() left (budget or pause): the next run goes on with it. */
  readonly slice: SliceState = { quantumEnd: null, finishing: false };
  private nextPid = 2;

  allocPid(): number {
    while (this.tasks.has(this.nextPid)) this.nextPid++;
    return this.nextPid++;
  }

  /** The current call cannot complete: sleep until `ready()` (or the monotonic time `wakeAt`), then restart it. */
  block(ready: () => boolean, wakeAt: number | null = null): typeof WOULD_BLOCK {
    this.task.wakeWhen = ready;
    this.task.wakeAt = wakeAt;
    return WOULD_BLOCK;
  }

  /** A timed wait of `ns` from its first call (kept across restarts): 'expired', or sleep until then or `ready()`. */
  sleepFor(ns: number, ready: () => boolean = () => false): 'expired' | typeof WOULD_BLOCK {
    const t = this.task;
    const now = this.clock.monotonicNs();
    if (t.sleepUntil === null) t.sleepUntil = now + Math.max(0, ns);
    if (now >= t.sleepUntil) {
      t.sleepUntil = null;
      return 'expired';
    }
    const until = t.sleepUntil;
    return this.block(() => ready() || this.clock.monotonicNs() >= until, until);
  }

  /** Write a word into another task's memory (CLONE_CHILD_SETTID), through its page tables. */
  writeInTask(t: Task, addr: number, v: number): void {
    const pte = t.mm.as.readPte(addr & ~0xfff);
    if (pte < 0 || !(pte & 1)) return;
    this.k.mem.writePhys32((pte & ~0xfff) + (addr & 0xfff), v);
  }

  /** Post `sig` to task `t` (send_signal()): SIGKILL and SIGCONT act at once; ignored signals are dropped. */
  sendSignal(t: Task, sig: number, fromPid: number): void {
    void fromPid;
    if (t.state === 'zombie') return;
    if (sig === SIGKILL) {
      // A task asleep in module code finishes that call first (its sleep is not interruptible here) and dies on
      // its way back to user mode, where the pending SIGKILL is delivered.
      if (t !== this.task && this.kcalls.activeFor(t)) {
        t.pending[0] = (t.pending[0] | (1 << (SIGKILL - 1))) >>> 0;
        this.processTasks?.signalWakeUp(t, true);
      } else {
        this.exitTask(t, SIGKILL);
      }
      return;
    }
    // SIGCONT discards pending stop signals and resumes; a stop signal discards a pending SIGCONT (prepare_signal()).
    const STOPS = (1 << (SIGSTOP - 1)) | (1 << 19) | (1 << 20) | (1 << 21); // SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU
    if (sig === SIGCONT) {
      t.pending[0] = (t.pending[0] & ~STOPS) >>> 0;
      if (t.state === 'stopped') t.state = t.context && t.wakeWhen ? 'blocked' : 'runnable';
    } else if ((1 << (sig - 1)) & STOPS && sig <= 32) {
      t.pending[0] = (t.pending[0] & ~(1 << (SIGCONT - 1))) >>> 0;
    }
    const act = t.signals.actions[sig]!;
    if (act.handler === SIG_IGN || (act.handler === SIG_DFL && (defaultAction(sig) === 'ign' || sig === SIGCONT))) return;
    const w = sig <= 32 ? 0 : 1, bit = 1 << ((sig - 1) & 31);
    t.pending[w] = (t.pending[w] | bit) >>> 0;
    // A sleeping task with the signal unblocked wakes: its call restarts, and if it would sleep again it is
    // interrupted (see syscall()) — a wait4 whose child just died returns the child, as do_wait() does.
    if (t.state === 'blocked' && !(t.signals.blocked[w] & bit)) {
      t.state = 'runnable';
      t.wakeWhen = null;
      t.wakeAt = null;
    }
    if (!(t.signals.blocked[w] & bit)) this.processTasks?.signalWakeUp(t, false);
  }

  /** The lowest pending signal the task's mask lets through, or 0. */
  nextDeliverable(t: Task): number {
    for (let sig = 1; sig <= 64; sig++) {
      const w = sig <= 32 ? 0 : 1, bit = 1 << ((sig - 1) & 31);
      if (t.pending[w] & bit && !(t.signals.blocked[w] & bit)) return sig;
    }
    return 0;
  }

  /** Is a signal pending that the task's mask lets through? */
  hasDeliverable(t: Task): boolean {
    return ((t.pending[0] & ~t.signals.blocked[0]) | (t.pending[1] & ~t.signals.blocked[1])) !== 0;
  }

  /** Deliver the first pending unblocked signal of the current task into `u` (returning to user mode). */
  deliverPending(u: UserRegs, fault: FaultInfo | null = null, savedMask: [number, number] | null = null): void {
    const t = this.task;
    for (let sig = 1; sig <= 64; sig++) {
      const w = sig <= 32 ? 0 : 1, bit = 1 << ((sig - 1) & 31);
      if (!(t.pending[w] & bit) || t.signals.blocked[w] & bit) continue;
      t.pending[w] = (t.pending[w] & ~bit) >>> 0;
      const act = t.signals.actions[sig]!;
      if (act.handler === SIG_IGN) continue;
      if (act.handler === SIG_DFL) {
        const d = defaultAction(sig);
        if (d === 'ign' || d === 'cont') continue;
        if (d === 'stop') {
          t.state = 'stopped';
          t.stopReport = sig;
          if (t.context === null) this.k.cpu.stop({ kind: 'yield' });
          return;
        }
        this.exitTask(t, sig | (d === 'core' ? 0x80 : 0));
        return;
      }
      if (!setupFrame(this.k, this.ua, t.signals, sig, u, fault, t.pid, savedMask)) this.exitTask(t, 11 /* SIGSEGV */);
      return;
    }
    if (savedMask) t.signals.blocked = savedMask;
  }

  /** rt_sigsuspend(mask): wait under `mask` for a signal; its handler returns to the old mask; the call returns EINTR. */
  sigsuspend(maskAddr: number, size: number): number | typeof WOULD_BLOCK {
    if (size !== 8) return -22;
    const t = this.task;
    if (t.suspendSaved === null) {
      const b = Buffer.from(this.ua.read(maskAddr, 8));
      t.suspendSaved = t.signals.blocked;
      t.signals.blocked = [(b.readUInt32LE(0) & ~((1 << 8) | (1 << 18))) >>> 0, b.readUInt32LE(4)];
    }
    if (!this.hasDeliverable(t)) return this.block(() => this.hasDeliverable(t) || t.state === 'zombie');
    const saved = t.suspendSaved;
    t.suspendSaved = null;
    this.k.cpu.regs[0] = -4;
    this.deliverPending(this.frame!, null, saved);
    return -4; // EINTR
  }

  /** The task ends (exit_group, or killed: `status` is wait4's status word). */
  exitTask(t: Task, status: number): void {
    if (t.state === 'zombie') return;
    if (t.clearChildTid && t === this.task) {
      try {
        this.ua.write32(t.clearChildTid, 0);
      } catch {
        /* gone */
      }
    }
    t.files.closeAll();
    for (const f of this.mmReleased) f(t.mm.as);
    t.mm.destroy(true);
    t.state = 'zombie';
    t.exitStatus = status;
    t.context = null;
    for (const c of this.tasks.values()) if (c.ppid === t.pid) c.ppid = 1;
    const parent = this.tasks.get(t.ppid);
    if (t.pid === this.initPid) {
      const code = status & 0x7f ? signalExitStatus(status & 0x7f) : (status >> 8) & 0xff;
      if (status & 0x7f && this.io.verbose) this.io.diagnostic(`kmemsim: killed by signal ${status & 0x7f}`);
      this.k.cpu.stop({ kind: 'exited', status: code });
      return;
    }
    if (parent) {
      const act = parent.signals.actions[SIGCHLD]!;
      if (act.handler === SIG_IGN || act.flags & 2 /* SA_NOCLDWAIT */) this.reap(t);
      else this.sendSignal(parent, SIGCHLD, t.pid);
    } else {
      this.reap(t);
    }
    if (t === this.task) this.k.cpu.stop({ kind: 'yield' });
  }

  /** Release a zombie for good (wait4 collected it). */
  reap(t: Task): void {
    this.tasks.delete(t.pid);
    this.kcalls.forget(t);
    this.processTasks?.reaped(t);
    if (t.mm.as.pgdir !== this.k.as.pgdir) this.k.frames.release(t.mm.as.pgdir);
  }

  /** The pid whose exit ends the run (the program kmemsim was asked to run). */
  initPid = 1;

  /** Run every task until the first one ends, the budget runs out, or the machine stops. */
  run(budget: number): StopReason {
    const sys = this;
    const sched: Scheduler = {
      tasks: () => [...sys.tasks.values()].sort((a, b) => a.pid - b.pid),
      current: () => sys.task,
      setCurrent: (t) => {
        sys.task = t;
      },
      advanceClockTo: (ns) => sys.clock.advance(ns - sys.clock.monotonicNs()),
      nowNs: () => sys.clock.monotonicNs(),
      onSwitchIn: () => sys.switchedIn(),
      kernelTasks: () => sys.processTasks,
      paused: () => sys.paused?.() ?? false,
      slice: sys.slice,
    };
    return runTasks(this.k, sched, budget, (t, stop) => {
      if (stop.kind === 'exited') return stop;
      const inKthread = this.processTasks?.kernelThreadRunning();
      if (inKthread) {
        // An oops in a kernel thread: there is no process to kill; the run ends with it.
        this.modules.oops(inKthread.pid, stop);
        return stop;
      }
      this.kcalls.reset(); // a call into module code that stopped (an oops) does not come back
      this.modules.oops(t.pid, stop);
      if (stop.kind === 'fault' && t.pid !== this.initPid && stop.vector < 32) {
        // An unhandled fault kills the task with its signal (core-dumping signals carry 0x80), as on Linux.
        this.exitTask(t, signalForVector(stop.vector) | 0x80);
        return null;
      }
      return stop;
    });
  }

  /** A task is back in user mode after a switch: deliver its pending signals (unless its call restarts first). */
  switchedIn(): void {
    if (!this.task.restarting && this.hasDeliverable(this.task)) this.deliverPending(liveRegs(this.k));
  }

  private procView(pid: number): ProcView | undefined {
    const t = this.tasks.get(pid);
    if (!t) return undefined;
    return { pid, exe: t.exe, comm: t.comm, cwd: t.cwd, argv: t.argv, env: t.env, maps: () => t.mm.maps(), fds: () => t.files.entries() };
  }

  /** Install the int $0x80 handler, signal delivery for user faults, and demand paging ahead of both (and of the fatal-fault policy). */
  install(): void {
    const k = this.k;
    k.setTrapHandler(SYSCALL_VECTOR, (_k, f) => this.syscall(f));
    // A fault in user mode with a handler installed for its signal runs the handler (force_sig_fault()).
    for (let v = 0; v < 32; v++) {
      const prev = k.getTrapHandler(v);
      k.setTrapHandler(v, (kern, f) => {
        if (f.fromUser && !(v === Vec.UD && kern.cpu.unsupported) && this.handleFaultSignal(f)) return;
        prev?.(kern, f);
      });
    }
    // Demand paging comes first: a fault the VMAs allow is no signal at all.
    const fallback = k.getTrapHandler(Vec.PF);
    k.setTrapHandler(Vec.PF, (kern, f: TrapFrame) => {
      try {
        if (f.fromUser && this.task.mm.handleFault(kern.cpu.cr2, ((f.errorCode ?? 0) & 2) !== 0, f.userEsp)) return;
      } catch (e) {
        if (!(e instanceof OutOfMemory)) throw e;
        // No frame left for the page: the OOM killer ends the faulting process (SIGKILL), as Linux's would.
        this.io.diagnostic(`kmemsim: out of memory: killed process ${this.task.pid} (simulated RAM is ${kern.cpu.mem.size >> 20} MiB; see --memory)`);
        this.exitTask(this.task, SIGKILL);
        return;
      }
      fallback?.(kern, f);
    });
  }

  private handleFaultSignal(f: TrapFrame): boolean {
    const sig = signalForVector(f.vector);
    const t = this.task;
    const w = sig <= 32 ? 0 : 1, bit = 1 << ((sig - 1) & 31);
    const act = t.signals.actions[sig]!;
    if (act.handler === SIG_DFL || act.handler === SIG_IGN || t.signals.blocked[w] & bit) return false;
    const u = frameRegs(this.k, f);
    const cr2 = f.vector === Vec.PF ? this.k.cpu.cr2 : 0;
    const code = f.vector === Vec.PF ? (t.mm.find(cr2) ? 2 /* SEGV_ACCERR */ : 1 /* SEGV_MAPERR */) : 0x80 /* SI_KERNEL */;
    const fault: FaultInfo = { trapno: f.vector, err: f.errorCode ?? 0, cr2, code, addr: f.vector === Vec.PF ? cr2 : f.eip };
    if (!setupFrame(this.k, this.ua, t.signals, sig, u, fault, 0)) return false;
    return true;
  }

  private syscall(f: TrapFrame): void {
    const r = this.k.cpu.regs;
    this.frame = frameRegs(this.k, f);
    this.task.restarting = false;
    const nr = r[0] >>> 0;
    this.task.syscallNr = nr;
    const fn = this.table[nr];
    if (!fn) {
      if (this.io.verbose && !this.reported.has(nr)) {
        this.reported.add(nr);
        this.io.diagnostic(`kmemsim: system call ${nr} is not implemented; returning -ENOSYS`);
      }
      r[0] = -ENOSYS;
      return;
    }
    let res: SyscallResult;
    try {
      res = fn(r[3], r[1], r[2], r[6], r[7], r[5]);
    } catch (e) {
      if (e instanceof BrokenPipe) this.sendSignalToSelf(SIGPIPE);
      res = errnoResult(e);
    }
    if (res instanceof GuestCallRequest) {
      this.kcalls.start(res);
      return;
    }
    this.complete(res);
  }

  /**
   * Work to run in guest code before the next return to user mode (Linux's
   * task_work: the ____fput() of a module file's last reference runs the
   * driver's release() there, not inside close()).
   */
  readonly taskWork: GuestCallRequest[] = [];

  /** The end of a system call (directly, or after its calls into guest code): sleep, signals, the result in EAX. */
  private complete(res: number | typeof WOULD_BLOCK): void {
    const r = this.k.cpu.regs;
    if (res !== WOULD_BLOCK && this.taskWork.length) {
      const w = this.taskWork.shift()!;
      this.kcalls.start(new GuestCallRequest(w.fn, w.args, (eax, edx) => {
        const next = w.then(eax, edx);
        return next instanceof GuestCallRequest ? next : res;
      }));
      return;
    }
    const t = this.task;
    const frame = this.frame!;
    if (typeof res === 'number' && res <= -ERESTARTSYS && res >= -ERESTARTNOHAND) {
      // Module code ended a sleep for a signal (-ERESTARTSYS …): the call is restarted after the signal, or fails with EINTR.
      if (this.restartAfterSignal(t, frame, res)) return;
      res = -4; // EINTR
    }
    const sig = res === WOULD_BLOCK && t.suspendSaved === null ? this.nextDeliverable(t) : 0;
    if (sig) {
      // A signal interrupts the sleep. With SA_RESTART (or a stop signal, resumed by SIGCONT) the call runs again
      // after the handler (its int $0x80 rewound, EAX its number); otherwise it fails with EINTR.
      const act = t.signals.actions[sig]!;
      const restart = act.handler === SIG_DFL ? defaultAction(sig) === 'stop' : (act.flags & SA_RESTART) !== 0;
      t.wakeWhen = null;
      t.wakeAt = null;
      t.sleepUntil = null;
      if (restart) {
        frame.eip = (frame.eip - 2) | 0;
        t.restarting = true;
        this.deliverPending(frame);
        this.frame = null;
        return;
      }
      res = -4; // EINTR
    }
    if (res === WOULD_BLOCK) {
      // Sleep with the int $0x80 rewound: the call restarts when the task wakes (EAX still holds its number).
      if (!t.wakeWhen) t.wakeWhen = () => true;
      t.state = 'blocked';
      t.restarting = true;
      frame.eip = (frame.eip - 2) | 0;
      this.k.cpu.stop({ kind: 'yield' });
      this.frame = null;
      return;
    }
    t.sleepUntil = null;
    if (this.k.cpu.stopReason?.kind === 'exited') return;
    r[0] = res;
    if (t.state !== 'zombie' && (t.pending[0] | t.pending[1])) this.deliverPending(frame);
    this.frame = null;
    // The call woke a task that should run first (TIF_NEED_RESCHED): the run loop schedules at the return to user mode.
    if (this.processTasks?.reschedAtUserReturn()) this.k.cpu.stop({ kind: 'yield' });
  }

  /**
   * -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND from a system call
   * (arch/x86/kernel/signal.c's handle_signal()): the call runs again — its
   * int $0x80 rewound, EAX its number — unless the signal has a handler and
   * the code says not to (ERESTARTSYS without SA_RESTART, ERESTARTNOHAND);
   * then false (the caller returns EINTR). The signal is delivered either way.
   */
  private restartAfterSignal(t: Task, frame: UserRegs, code: number): boolean {
    const sig = this.nextDeliverable(t);
    const act = sig ? t.signals.actions[sig]! : null;
    const handler = act !== null && act.handler !== SIG_DFL && act.handler !== SIG_IGN;
    const restart = !handler || code === -ERESTARTNOINTR || (code === -ERESTARTSYS && (act!.flags & SA_RESTART) !== 0);
    if (!restart) return false;
    this.k.cpu.regs[0] = t.syscallNr | 0;
    frame.eip = (frame.eip - 2) | 0;
    t.restarting = true;
    if (sig) this.deliverPending(frame);
    this.frame = null;
    return true;
  }

  sendSignalToSelf(sig: number): void {
    this.sendSignal(this.task, sig, this.task.pid);
  }
}

/** The user's EIP/ESP/EFLAGS in the hardware frame of a trap from CPL 3. */
function frameRegs(k: Kernel, f: TrapFrame): UserRegs {
  const a = f.frameAddress;
  const m = k.mem;
  return {
    get eip() { return m.read32(a); },
    set eip(v) { m.write32(a, v); },
    get eflags() { return m.read32(a + 8); },
    set eflags(v) { m.write32(a + 8, v); },
    get esp() { return m.read32(a + 12); },
    set esp(v) { m.write32(a + 12, v); },
  };
}

/** The user's registers live in the CPU (at a user instruction boundary). */
function liveRegs(k: Kernel): UserRegs {
  const c = k.cpu;
  return {
    get eip() { return c.eip; },
    set eip(v) { c.eip = v; },
    get eflags() { return c.getEflags(); },
    set eflags(v) { c.setEflags(v, 0x254fd5); },
    get esp() { return c.regs[4]!; },
    set esp(v) { c.regs[4] = v; },
  };
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
void SIGSTOP; void SYSCALL_VECTOR;
