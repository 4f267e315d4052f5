/**
 * User processes as tasks of the kernel's scheduler: once a module kernel
 * is installed (`--module`, or the first init_module(2)), Linux's one task
 * list. Every process has a task of src/kernel/sched — its own kernel stack
 * (THREAD_SIZE, the TSS's ESP0 while it runs) and `struct task_struct` (pid,
 * tgid, comm) — and the scheduler's `schedule()`, the guest-callable,
 * probe-able function that switches kernel stacks, decides for kernel
 * threads and processes alike:
 *
 * - a process that sleeps in module code (a wait queue, a semaphore, a
 *   mutex, msleep) sleeps in its own task, on its own kernel stack, and
 *   other processes and kernel threads run; a wake-up from anyone makes it
 *   runnable, and when it is switched back in its system call goes on and
 *   returns to user mode;
 * - at the return to user mode after the PIT's tick (QUANTUM instructions
 *   since the task was switched in) a process whose tick ran out calls
 *   `schedule()` if another task can run (exit_to_user_mode_loop() with
 *   TIF_NEED_RESCHED), and so does one whose system call woke a task that
 *   should run first (wake-up preemption, Scheduler.wake()); cond_resched()
 *   and the sleeping calls are the preemption points inside the kernel;
 * - a process that blocks in one of the personality's own system calls (a
 *   pipe, wait4, nanosleep, a futex) sleeps TASK_INTERRUPTIBLE in
 *   `schedule()` with its int $0x80 rewound; the condition it waits for is
 *   polled whenever the scheduler looks for a task (its deadline, if any,
 *   is a timer), and the call restarts when it wakes;
 * - a process that exits runs the guest-visible `do_exit(code)` on its
 *   kernel stack (code as wait4's status word: `(status & 0xff) << 8` or the
 *   signal), so a kprobe on do_exit sees every exit but the run's first
 *   process, whose exit ends the run.
 *
 * A process switched out at a return to user mode has, on its kernel stack,
 * the frame schedule() saved and a return into `exit_to_user_mode`, which
 * puts back its user registers (kept by the host, as the entry code's
 * pt_regs) and IRETs; a new process's stack starts with that frame
 * (copy_thread(): the child returns from fork through it). The user part
 * of a switch — page directory, TLS descriptors, segment registers, x87
 * state, ESP0 — happens in the scheduler's switch hook. Kernel threads run
 * on the kernel's own page directory (init_mm). Everything is host-side
 * bookkeeping in a fixed order: the interleaving is the same every run.
 */
import type { Kernel } from '../kernel/kernel.js';
import type { KernelTask, Scheduler } from '../kernel/sched/scheduler.js';
import { TASK_INTERRUPTIBLE, TASK_WAKEKILL } from '../kernel/sched/scheduler.js';
import { X87State } from '../cpu/fpu/x87-state.js';
import { kva } from '../kernel/layout.js';
import { DS, ES, FS, GS } from '../cpu/instr.js';
import type { LinuxSystem } from './linux.js';
import type { Task } from './task.js';
import { loadUserSegments, restoreContext, saveContext } from './sched.js';

const EFLAGS_IF = 0x200, EFLAGS_DF = 0x400, EFLAGS_TF = 0x100;
const SIGKILL_BIT = 1 << (9 - 1);

/** The part of a process that lives with its kernel task while it is switched out in the kernel. */
interface KernelSide {
  fpu: X87State;
  segs: [number, number, number, number];
}

export class ProcessTasks {
  private readonly kernelTask = new Map<Task, KernelTask>();
  private readonly process = new Map<KernelTask, Task>();
  private readonly saved = new Map<Task, KernelSide>();
  /** exit_to_user_mode: where a process's kernel stack returns to user mode after a switch. */
  private readonly exitToUser: number;

  constructor(private readonly sys: LinuxSystem, private readonly s: Scheduler) {
    const k = sys.k;
    this.exitToUser = k.bindEntry(() => this.returnToUser(), 'exit_to_user_mode');
    s.perProcessTasks = true;
    s.clock = { nowNs: () => sys.clock.monotonicNs(), advance: (ns) => sys.clock.advance(ns) };
    // A hung system ends the run as the personality's deadlock does (the INFO line on the console names the tasks).
    s.onHung = () => k.cpu.stop({ kind: 'fault', vector: 0x80, errorCode: null, eip: 0, message: 'deadlock: every task is blocked and none can be woken (a process waits for something that can never happen)' });
    s.onSwitch.push((prev, next) => this.switched(prev, next));
    s.signalPending = (kt) => {
      const t = this.process.get(kt);
      if (!t) return 0;
      return t.pending[0] & SIGKILL_BIT ? 2 : sys.hasDeliverable(t) ? 1 : 0;
    };
    // The first task runs on the boot kernel stack, where the current process's entries land so far: it is that
    // process's task. The others are at a user instruction boundary: each gets a stack that returns to user mode.
    this.link(sys.task, s.tasks[0]!);
    for (const t of [...sys.tasks.values()].sort((a, b) => a.pid - b.pid)) {
      if (t !== sys.task && t.state !== 'zombie' && !this.add(t)) throw new Error('out of memory for the kernel stacks of the running processes');
    }
  }

  /** A new process (fork) or one already running when the module kernel came: its task; null when out of memory. */
  add(t: Task): KernelTask | null {
    const kt = this.s.createTask(t.pid, t.comm, this.exitToUser, null);
    if (!kt) return null;
    this.link(t, kt);
    if (t.state !== 'runnable') this.sleepOn(t, kt);
    return kt;
  }

  private link(t: Task, kt: KernelTask): void {
    this.kernelTask.set(t, kt);
    this.process.set(kt, t);
    this.publishMm(t, kt);
  }

  /**
   * current->mm: non-NULL for a live process, so `if (current->mm)` tells it
   * from a kernel thread as in Linux. kmemsim has no struct mm_struct (the
   * type is opaque to modules): the pointer is the address space's identity,
   * its page directory's kernel address; NULL once do_exit() ran (exit_mm()).
   */
  private publishMm(t: Task, kt: KernelTask): void {
    this.s.setMm(kt, kt.dead ? 0 : kva(t.mm.as.pgdir));
  }

  /**
   * signal_wake_up(): a signal for a process asleep in module code wakes an
   * interruptible sleep (and, fatal, a killable one); the sleeping call sees
   * signal_pending() and returns -ERESTARTSYS or -EINTR.
   */
  signalWakeUp(t: Task, fatal: boolean): void {
    const kt = this.kernelTask.get(t);
    if (!kt || kt === this.s.current || !this.sys.kcalls.activeFor(t)) return;
    const st = this.s.state(kt);
    if (st & TASK_INTERRUPTIBLE || (fatal && st & TASK_WAKEKILL)) this.s.wake(kt, st);
  }

  /** The kernel thread on the CPU, if it is one (not a process's task). */
  kernelThreadRunning(): KernelTask | null {
    const cur = this.s.current;
    return this.process.has(cur) ? null : cur;
  }

  /** wait4 collected `t`: once its task has run do_exit, its task_struct goes (release_task()). */
  reaped(t: Task): void {
    const kt = this.kernelTask.get(t);
    if (!kt || !kt.dead) return;
    this.forget(t, kt);
  }

  private forget(t: Task, kt: KernelTask): void {
    this.kernelTask.delete(t);
    this.process.delete(kt);
    this.saved.delete(t);
    this.s.release(kt);
  }

  /** Can the process run (its state, or its blocked call's condition now holds)? */
  private ready(t: Task): boolean {
    switch (t.state) {
      case 'runnable': case 'zombie': return true;
      case 'stopped': return false;
      case 'blocked':
        if (!t.wakeWhen?.()) return false;
        t.state = 'runnable';
        t.wakeWhen = null;
        t.wakeAt = null;
        return true;
    }
  }

  /** The task sleeps (TASK_INTERRUPTIBLE) until the process can run; a blocked call's deadline is its timer. */
  private sleepOn(t: Task, kt: KernelTask): void {
    this.s.setState(kt, TASK_INTERRUPTIBLE);
    kt.wakeWhen = () => this.ready(t);
    kt.wakeAt = t.state === 'blocked' ? t.wakeAt : null;
  }

  /**
   * The run loop is at a return to user mode of the current process (after
   * its tick, a block, a stop or its death): schedule() or do_exit() on its
   * kernel stack, as the exit-to-user path would.
   */
  atUserBoundary(tick: boolean): void {
    const t = this.sys.task;
    const kt = this.kernelTask.get(t);
    const cpu = this.sys.k.cpu;
    if (!kt || kt !== this.s.current) return;
    if (t.state === 'zombie') {
      this.enter(t, kt, this.s.doExitEntry, t.exitStatus);
      return;
    }
    if (cpu.cpl !== 3) return; // still in the kernel (a handler that yielded without returning): it goes on
    if (t.state !== 'runnable') {
      this.sleepOn(t, kt);
      this.enter(t, kt, this.s.scheduleEntry, 0);
    } else if ((tick || kt.needResched) && this.s.needResched() && this.s.othersRunnable(kt)) {
      this.enter(t, kt, this.s.scheduleEntry, 0);
    }
  }

  /**
   * exit_to_user_mode_loop()'s _TIF_NEED_RESCHED check at the end of a
   * system call: a task the call woke should run first (Scheduler.wake()),
   * so the run loop is to stop at the return to user mode and call
   * atUserBoundary() (the caller stops the CPU).
   */
  reschedAtUserReturn(): boolean {
    const kt = this.kernelTask.get(this.sys.task);
    return kt !== undefined && kt === this.s.current && kt.needResched;
  }

  /** Enter the kernel on the process's own stack and call `fn` (EAX = `eax`), returning through exit_to_user_mode. */
  private enter(t: Task, kt: KernelTask, fn: number, eax: number): void {
    const k = this.sys.k;
    const cpu = k.cpu;
    if (t.state !== 'zombie') t.context = saveContext(k);
    this.s.rename(kt, t.pid, t.comm);
    this.publishMm(t, kt);
    k.kernelMode(kt.stack.high);
    cpu.push32(this.exitToUser);
    cpu.regs[0] = eax | 0;
    cpu.setEflags(EFLAGS_IF, EFLAGS_IF | EFLAGS_DF | EFLAGS_TF);
    cpu.eip = fn | 0;
  }

  /** exit_to_user_mode: the task was switched back in at a return to user mode. */
  private returnToUser(): void {
    const k = this.sys.k;
    const cpu = k.cpu;
    const kt = this.s.current;
    const t = this.process.get(kt);
    if (!t) {
      cpu.stop({ kind: 'internal-error', eip: cpu.eip, message: `internal error: kernel thread ${kt.comm}/${kt.pid} returned to user mode` });
      return;
    }
    if (t.state === 'zombie') {
      // Killed while it slept: it dies now, in do_exit().
      cpu.push32(this.exitToUser);
      cpu.regs[0] = t.exitStatus | 0;
      cpu.eip = this.s.doExitEntry | 0;
      return;
    }
    if (!this.ready(t)) {
      // Woken (a timer) while its call still cannot complete, or stopped: back to sleep.
      this.sleepOn(t, kt);
      cpu.push32(this.exitToUser);
      cpu.eip = this.s.scheduleEntry | 0;
      return;
    }
    restoreContext(k, t, kt.stack.high);
    this.sys.switchedIn();
  }

  /** The scheduler's switch hook: the user side of the processes switched out and in. */
  private switched(prev: KernelTask, next: KernelTask): void {
    const k: Kernel = this.sys.k;
    const cpu = k.cpu;
    const from = this.process.get(prev);
    if (from && !prev.dead) {
      const side = this.saved.get(from) ?? { fpu: new X87State(), segs: [0, 0, 0, 0] };
      side.fpu.copyFrom(cpu.fpu);
      side.segs = [cpu.segSel[DS], cpu.segSel[ES], cpu.segSel[FS], cpu.segSel[GS]];
      this.saved.set(from, side);
    } else if (from && this.sys.tasks.get(from.pid) !== from) {
      this.forget(from, prev); // it ran do_exit() after wait4 had reaped it (killed while asleep)
    }
    const to = this.process.get(next);
    if (!to) {
      cpu.writeControlRegister(3, k.as.pgdir); // a kernel thread: no user address space of its own
      return;
    }
    this.sys.task = to;
    cpu.writeControlRegister(3, to.state === 'zombie' ? k.as.pgdir : to.mm.as.pgdir);
    to.tls.load(k);
    const side = this.saved.get(to);
    if (side) {
      cpu.fpu.copyFrom(side.fpu);
      loadUserSegments(k, side.segs);
    }
    k.setKernelStack(next.stack.high);
    this.s.rename(next, to.pid, to.comm);
    this.publishMm(to, next);
  }
}
