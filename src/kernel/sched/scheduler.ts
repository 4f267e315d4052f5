/**
 * Tasks and the scheduler of the simulated kernel (Linux's kernel/sched/):
 * every task has its own kernel stack and a `struct task_struct` in guest
 * memory (include/linux/sched.h gives its layout); `schedule()` is a real
 * kernel function that switches kernel stacks the way i386 Linux's
 * `__switch_to_asm` does — it pushes EBP, EBX, EDI, ESI on the old task's
 * stack, saves ESP, loads the new task's ESP and pops them — so the native
 * that called it returns, through its RET, into the other task's call of
 * `schedule()` (or into a new kernel thread's first instruction).
 *
 * The truth about a task's state is its `__state` word in guest memory, as
 * in Linux: `set_current_state(TASK_INTERRUPTIBLE)` is a guest store,
 * `schedule()` takes a task whose state is not TASK_RUNNING off the run
 * queue, `wake_up_process()` stores TASK_RUNNING. The run queue is
 * round robin in pid order (deterministic). Time is the instruction count
 * (100 M instructions per second, as the Linux personality's clock) plus the
 * idle time skipped when every task sleeps on a timer. Kernel code is not
 * preempted at arbitrary instructions (CONFIG_PREEMPT_VOLUNTARY): the
 * preemption points are cond_resched() and every sleeping call (and, for a
 * process, its return to user mode), where a task whose tick (QUANTUM
 * instructions, the PIT's 100 Hz) has run out gives the processor to the
 * next runnable task — or, when a wake-up set its TIF_NEED_RESCHED (CFS's
 * wake-up preemption by vruntime: wake()), to the task it woke.
 *
 * `current_task` and `__preempt_count` are per-CPU variables in guest
 * memory, as on x86 (`current` and `preempt_count()` read them); a sleeping
 * call with a non-zero preempt count or interrupts disabled gets Linux's
 * "BUG: sleeping function called from invalid context" report.
 */
import type { CPU } from '../../cpu/cpu.js';
import type { Kernel } from '../kernel.js';
import type { GuestAccessor } from '../printk.js';
import type { Printk } from '../printk.js';
import { __GFP_NOTRACK, __GFP_ZERO, type MemoryManager } from '../mm/index.js';
import { PHYS_KDATA, kva } from '../layout.js';

export const TASK_RUNNING = 0;
export const TASK_INTERRUPTIBLE = 1;
export const TASK_UNINTERRUPTIBLE = 2;
export const TASK_DEAD = 0x80;
export const TASK_WAKEKILL = 0x100;
export const TASK_NOLOAD = 0x400;
/** The states wake_up_process() and wake_up() end (TASK_NORMAL). */
export const TASK_NORMAL = TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE;
export const PF_KTHREAD = 0x00200000;
export const TASK_COMM_LEN = 16;

/** struct task_struct as include/linux/sched.h lays it out (offsets in bytes). */
export const TS = {
  state: 0, stack: 4, flags: 8, prio: 12, mm: 16, exitCode: 20, pid: 24, tgid: 28, parent: 32, groupLeader: 36, comm: 40,
  size: 64,
} as const;

/** i386 THREAD_SIZE: two pages (THREAD_SIZE_ORDER 1). */
export const THREAD_SIZE_ORDER = 1;
export const THREAD_SIZE = 4096 << THREAD_SIZE_ORDER;
/** Instructions per timer tick: the PIT's 100 Hz at 100 M instructions per second. */
export const QUANTUM = 1_000_000;
export const HZ = 100;
const NS_PER_INSTRUCTION = 10;
/** CFS's sysctl_sched_latency (6 ms on one CPU): a sleeper is placed at most half of it behind min_vruntime. */
export const SCHED_LATENCY_NS = 6_000_000;
/** CFS's sysctl_sched_wakeup_granularity (1 ms on one CPU): how far ahead a woken task must be to preempt. */
export const WAKEUP_GRANULARITY_NS = 1_000_000;
export const NS_PER_JIFFY = 1e9 / HZ;

/** A 32-bit store through an accessor that only has byte-array writes. */
export function write32(mem: GuestAccessor, addr: number, v: number): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v | 0, true);
  mem.write(addr | 0, b);
}

const EAX = 0, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;
const IF = 0x200;

/** A kernel thread's part (struct kthread). */
export interface KthreadInfo {
  fn: number;
  data: number;
  shouldStop: boolean;
  started: boolean;
}

export class KernelTask {
  /** Saved ESP while switched out (the top of its __switch_to_asm frame). */
  sp = 0;
  /** Monotonic time (ns) a timed sleep ends, or null. */
  wakeAt: number | null = null;
  /**
   * A sleep that ends on a condition the host evaluates (a process blocked
   * in one of the personality's own system calls: a pipe, wait4, a futex):
   * polled when the scheduler looks for a task to run; true wakes it.
   */
  wakeWhen: (() => boolean) | null = null;
  /** EAX when it is switched back in (what the sleeping call returns), computed at that moment. */
  resume: (() => number) | null = null;
  /** insmod after init_module(): runs again once every other task sleeps. */
  waitingForIdle = false;
  dead = false;
  exitCode = 0;
  /** Tasks waiting in kthread_stop() for this one to exit. */
  readonly exitWaiters: KernelTask[] = [];
  kthread: KthreadInfo | null = null;
  /** The icount when it was last switched in (its tick). */
  switchedInAt = 0;
  /** CFS's se->vruntime: the CPU time it ran (ns of instructions), placed forward on wake-ups (placeWoken()). */
  vruntime = 0;
  /** The icount its vruntime was last brought up to date at (se->exec_start). */
  execStart = 0;
  /** TIF_NEED_RESCHED: a task it woke should run; it gives way at its next preemption point. */
  needResched = false;
  /**
   * The task runs with interrupts enabled unless it disabled them: kernel
   * threads do (as Linux's); the first task runs as the kernel booted —
   * the module runner's kernel has no interrupt source and runs with IF
   * clear, which is not "interrupts disabled" by the module.
   */
  irqsOnByDefault = true;
  constructor(
    public pid: number,
    public comm: string,
    /** Guest address of its struct task_struct. */
    readonly struct: number,
    /** Its kernel stack: [low, high) and the physical block to free (null: the boot stack). */
    readonly stack: { low: number; high: number; phys: number | null },
  ) {}
}

const schedulers = new WeakMap<Kernel, Scheduler>();
const waitingForScheduler = new WeakMap<Kernel, ((s: Scheduler) => void)[]>();

/** The scheduler installed on `kernel` (by installKernelApi), if any. */
export function schedulerOf(kernel: Kernel): Scheduler | undefined {
  return schedulers.get(kernel);
}

/**
 * Call `fn` with `kernel`'s scheduler: now if it is installed, else when it
 * is (a client attached before the module kernel, such as a stack checker,
 * hooks its task switches this way).
 */
export function withScheduler(kernel: Kernel, fn: (s: Scheduler) => void): void {
  const s = schedulers.get(kernel);
  if (s) {
    fn(s);
    return;
  }
  const list = waitingForScheduler.get(kernel);
  if (list) list.push(fn);
  else waitingForScheduler.set(kernel, [fn]);
}

export class Scheduler {
  /** A routine the host calls (callGuest) to let the other tasks run until every one sleeps. */
  waitIdleRoutine = 0;
  readonly tasks: KernelTask[] = [];
  current: KernelTask;
  /** Idle time skipped (ns). */
  private skippedNs = 0;
  private nextPid = 2;
  /** Per-CPU variables in guest memory (kernel static data): current_task (+0) and __preempt_count (+4); init_task at +64. */
  readonly percpu: number;
  /**
   * In the Linux personality the first task stands for the process whose
   * system call is running module code: its pid and name come from there
   * (syncUserTask()), and kernel threads take pids from the personality's
   * pid allocator, so user processes and kernel threads never share a pid.
   */
  userContext: { pid(): number; comm(): string; allocPid(): number } | null = null;
  /** schedule()'s kernel-text entry (sleepVia() goes through it). */
  scheduleEntry = 0;
  /** The native every new kernel thread starts in (set by ./index.ts). */
  kthreadEntry = 0;
  /**
   * Called when a task is switched in (kprobes, ftrace's return stacks and
   * the stack checkers keep per-task state), after ESP is the new task's.
   */
  readonly onSwitch: ((prev: KernelTask, next: KernelTask) => void)[] = [];
  /**
   * Called when an exited task's kernel stack goes back to the page
   * allocator (free_thread_stack()), before the pages are freed: whoever
   * kept state about the stack forgets it.
   */
  readonly onStackFreed: ((t: KernelTask) => void)[] = [];
  /** do_exit()'s kernel-text entry (set by ./index.ts): where an exiting user process's task goes. */
  doExitEntry = 0;
  /**
   * Set when user processes are tasks of this scheduler (the Linux
   * personality, src/linux/process-tasks.ts): every process has its own
   * task, so the first task no longer stands for whichever process calls.
   */
  perProcessTasks = false;
  /** The system's clock when there is one (the personality's): idle time skipped here shows there too. */
  clock: { nowNs(): number; advance(ns: number): void } | null = null;
  /**
   * Signals pending for a task: 0 none, 1 one its mask lets through, 2 a
   * fatal one (SIGKILL). Kernel threads receive none; the personality
   * answers for its processes.
   */
  signalPending: (t: KernelTask) => number = () => 0;
  /** What a hung system does instead of halting the machine (the personality ends the run as a deadlock). */
  onHung: ((message: string) => void) | null = null;
  /** cfs_rq->min_vruntime: never decreases. */
  private minVruntime = 0;
  /** The task a wake-up preempted the current one for: it runs next (CFS's next buddy). */
  private nextBuddy: KernelTask | null = null;

  constructor(
    readonly kernel: Kernel,
    readonly mem: GuestAccessor,
    readonly mm: MemoryManager,
    readonly log: Printk,
    bootStack: { low: number; high: number },
  ) {
    // Static kernel data, as Linux's per-CPU area and init_task: booting takes nothing from the allocators.
    this.percpu = kva(PHYS_KDATA) >>> 0;
    const struct = (this.percpu + 64) >>> 0;
    write32(mem, this.percpu, 0);
    write32(mem, this.percpu + 4, 0);
    mem.write(struct, new Uint8Array(TS.size));
    this.current = new KernelTask(1, 'insmod', struct, { ...bootStack, phys: null });
    this.current.irqsOnByDefault = (kernel.cpu.getEflags() & IF) !== 0;
    this.current.execStart = kernel.cpu.icount;
    this.initStruct(this.current, 0);
    this.tasks.push(this.current);
    this.publishCurrent();
    schedulers.set(kernel, this);
    for (const fn of waitingForScheduler.get(kernel)?.splice(0) ?? []) fn(this);
  }

  /**
   * Before module code runs in a system call: the task's task_struct names
   * the calling process (the first task, which stands for every process,
   * or — with per-process tasks — the current one, renamed after execve).
   */
  syncUserTask(): void {
    const u = this.userContext;
    const t = this.perProcessTasks ? this.current : this.tasks[0]!;
    if (!u || this.current !== t) return;
    this.rename(t, u.pid(), u.comm());
  }

  /** A task's `mm` pointer (NULL for kernel threads and exited tasks). */
  setMm(t: KernelTask, mm: number): void {
    write32(this.mem, t.struct + TS.mm, mm);
  }

  /** A task's pid (and tgid) and comm, in its task_struct too. */
  rename(t: KernelTask, pid: number, name: string): void {
    const comm = name.slice(0, TASK_COMM_LEN - 1);
    if (pid === t.pid && comm === t.comm) return;
    t.pid = pid;
    t.comm = comm;
    write32(this.mem, t.struct + TS.pid, pid);
    write32(this.mem, t.struct + TS.tgid, pid);
    const b = new Uint8Array(TASK_COMM_LEN);
    b.set(Buffer.from(comm, 'latin1'));
    this.mem.write(t.struct + TS.comm, b);
  }

  /** signal_pending_state(): does a pending signal end (or forbid) a sleep in `state`? */
  signalEndsSleep(state: number, t: KernelTask = this.current): boolean {
    if (!(state & (TASK_INTERRUPTIBLE | TASK_WAKEKILL))) return false;
    const p = this.signalPending(t);
    return p !== 0 && ((state & TASK_INTERRUPTIBLE) !== 0 || p === 2);
  }

  /** Kernel threads that have not exited. */
  liveKthreads(): KernelTask[] {
    return this.tasks.filter((t) => t.kthread && !t.dead);
  }

  get cpu(): CPU {
    return this.kernel.cpu;
  }

  // ---- time ------------------------------------------------------------------------------------

  nowNs(): number {
    return this.clock ? this.clock.nowNs() : this.cpu.icount * NS_PER_INSTRUCTION + this.skippedNs;
  }
  /** Time passes without instructions (an idle skip, a busy wait). */
  private skip(ns: number): void {
    if (ns <= 0) return;
    if (this.clock) this.clock.advance(ns);
    else this.skippedNs += ns;
  }
  jiffies(): number {
    return Math.floor(this.nowNs() / NS_PER_JIFFY);
  }
  /** udelay(): a busy wait, which on this clock is time passing without instructions. */
  busyWait(ns: number): void {
    this.skip(ns);
  }

  // ---- guest-visible state ----------------------------------------------------------------------

  private allocStruct(): number {
    const p = this.mm.slab.kmalloc(TS.size, 0xd0 | __GFP_ZERO);
    if (!p) throw new Error('out of memory for a task_struct');
    return p;
  }

  private initStruct(t: KernelTask, flags: number): void {
    const m = this.mem;
    write32(m, t.struct + TS.state, t.kthread && !t.kthread.started ? TASK_UNINTERRUPTIBLE : TASK_RUNNING);
    write32(m, t.struct + TS.stack, t.stack.low);
    write32(m, t.struct + TS.flags, flags);
    write32(m, t.struct + TS.prio, 120);
    write32(m, t.struct + TS.pid, t.pid);
    write32(m, t.struct + TS.tgid, t.pid);
    write32(m, t.struct + TS.parent, this.tasks[0]?.struct ?? t.struct);
    write32(m, t.struct + TS.groupLeader, t.struct);
    const comm = new Uint8Array(TASK_COMM_LEN);
    comm.set(Buffer.from(t.comm.slice(0, TASK_COMM_LEN - 1), 'latin1'));
    m.write(t.struct + TS.comm, comm);
  }

  private publishCurrent(): void {
    write32(this.mem, this.percpu, this.current.struct);
  }

  state(t: KernelTask): number {
    return this.mem.read32(t.struct + TS.state) >>> 0;
  }
  setState(t: KernelTask, s: number): void {
    write32(this.mem, t.struct + TS.state, s);
  }
  preemptCount(): number {
    return this.mem.read32(this.percpu + 4) | 0;
  }
  addPreemptCount(n: number): void {
    write32(this.mem, this.percpu + 4, (this.preemptCount() + n) | 0);
  }
  taskByStruct(addr: number): KernelTask | undefined {
    return this.tasks.find((t) => t.struct === addr >>> 0);
  }

  // ---- creating tasks -------------------------------------------------------------------------

  /**
   * A new kernel thread, not yet running (kthread_create()): its stack
   * holds a __switch_to_asm frame whose return address is the kthread
   * entry, so the first switch to it starts `fn(data)`.
   */
  createKthread(fn: number, data: number, comm: string): KernelTask | null {
    const pid = this.userContext ? this.userContext.allocPid() : this.nextPid++;
    return this.createTask(pid, comm, this.kthreadEntry, { fn, data, shouldStop: false, started: false });
  }

  /**
   * copy_process() + copy_thread(): a task with its own kernel stack (THREAD_SIZE)
   * and task_struct, whose first switch-in "returns" to `entry` (a kernel
   * thread's start, or a user process's return to user mode). It is
   * TASK_RUNNING unless it is a kernel thread not yet woken.
   */
  createTask(pid: number, comm: string, entry: number, kthread: KthreadInfo | null): KernelTask | null {
    const buddy = this.mm.buddy;
    const phys = buddy.allocPages(THREAD_SIZE_ORDER, 0xd0 | __GFP_NOTRACK | __GFP_ZERO);
    if (!phys) return null;
    const low = buddy.pageAddress(phys) >>> 0;
    const high = (low + THREAD_SIZE) >>> 0;
    const t = new KernelTask(pid, comm, this.allocStruct(), { low, high, phys });
    t.kthread = kthread;
    // place_entity() for a new task: min_vruntime plus a slice (START_DEBIT, half the latency with two tasks),
    // so a task just created does not preempt its creator.
    this.updateCurr();
    t.vruntime = this.minVruntime + SCHED_LATENCY_NS / 2;
    this.initStruct(t, kthread ? PF_KTHREAD : 0);
    // EFLAGS (interrupts on), ESI, EDI, EBX, EBP (0: the end of the frame-pointer chain), then the return address.
    t.sp = (high - 4 - 24) >>> 0;
    write32(this.mem, t.sp, 0x202);
    for (let i = 1; i < 5; i++) write32(this.mem, t.sp + 4 * i, 0);
    write32(this.mem, t.sp + 20, entry);
    this.tasks.push(t);
    return t;
  }

  /** Forget a task that has exited and been switched away from for good (release_task()): its task_struct goes back. */
  release(t: KernelTask): void {
    if (!t.dead || t === this.current || t === this.tasks[0]) return;
    const i = this.tasks.indexOf(t);
    if (i < 0) return;
    this.tasks.splice(i, 1);
    this.mm.slab.kfree(t.struct);
  }

  // ---- waking ---------------------------------------------------------------------------------

  /**
   * try_to_wake_up() by the running task: a task sleeping in one of
   * `states` becomes TASK_RUNNING; true if it was woken. Then
   * wakeup_preempt() (check_preempt_wakeup_fair(), CFS before EEVDF): when
   * the woken task's vruntime is more than the wakeup granularity behind
   * the waker's, the waker gets TIF_NEED_RESCHED and the woken task runs at
   * the waker's next preemption point (the kernel is not preemptible).
   */
  wake(t: KernelTask, states = TASK_NORMAL): boolean {
    if (!this.activate(t, states)) return false;
    const cur = this.current;
    if (t !== cur && !cur.dead && this.state(cur) === TASK_RUNNING) {
      this.updateCurr();
      if (cur.vruntime - t.vruntime > WAKEUP_GRANULARITY_NS) {
        cur.needResched = true;
        this.nextBuddy = t;
      }
    }
    return true;
  }

  /** ttwu_do_activate() without a waker (a timer, a condition polled): TASK_RUNNING, placed as a sleeper. */
  private activate(t: KernelTask, states: number): boolean {
    if (t.dead) return false;
    const s = this.state(t);
    if (!(s & states)) return false;
    this.setState(t, TASK_RUNNING);
    t.wakeAt = null;
    t.wakeWhen = null;
    this.placeWoken(t);
    return true;
  }

  /**
   * place_entity() for a waking sleeper (GENTLE_FAIR_SLEEPERS): its vruntime
   * is at least min_vruntime minus half the latency — a task that slept
   * long is a little ahead of those that ran, never by more.
   */
  private placeWoken(t: KernelTask): void {
    this.updateCurr();
    t.vruntime = Math.max(t.vruntime, this.minVruntime - SCHED_LATENCY_NS / 2);
  }

  /** update_curr(): the running task's vruntime grows by the time it ran; min_vruntime follows the run queue. */
  private updateCurr(): void {
    const cur = this.current;
    const now = this.cpu.icount;
    if (!cur.dead) cur.vruntime += (now - cur.execStart) * NS_PER_INSTRUCTION;
    cur.execStart = now;
    let min = Infinity;
    for (const t of this.tasks) {
      if (t.dead || t.waitingForIdle || (t !== cur && this.state(t) !== TASK_RUNNING)) continue;
      if (t.vruntime < min) min = t.vruntime;
    }
    if (min !== Infinity && min > this.minVruntime) this.minVruntime = min;
  }

  /** Can `t` run now? A task whose host condition (wakeWhen) holds is woken here. */
  runnable(t: KernelTask): boolean {
    if (t.dead || t.waitingForIdle) return false;
    if (this.state(t) === TASK_RUNNING) return true;
    return t.wakeWhen !== null && t.wakeWhen() && this.activate(t, TASK_NORMAL);
  }

  /** Is a task other than `t` ready to run (timers that expired count)? */
  othersRunnable(t: KernelTask): boolean {
    this.expireTimers();
    return this.tasks.some((o) => o !== t && this.runnable(o));
  }

  // ---- scheduling -------------------------------------------------------------------------------

  /** need_resched() at a preemption point: a wake-up asked for it, or the current task's tick has run out. */
  needResched(): boolean {
    return this.current.needResched || this.cpu.icount - this.current.switchedInAt >= QUANTUM;
  }

  /**
   * __schedule(): called from a native whose return address is at [ESP].
   * Picks the next task (round robin after the current one), waking the
   * timers that have expired and skipping idle time when every task
   * sleeps; switches stacks. Returns false when nothing can ever run
   * again: the machine is stopped (a hung system).
   */
  schedule(): boolean {
    const prev = this.current;
    for (;;) {
      this.expireTimers();
      const next = this.pickNext(prev);
      if (next) {
        if (next !== prev) this.switchTo(prev, next);
        else this.resumeValue(prev);
        return true;
      }
      const idle = this.tasks.find((t) => t.waitingForIdle && !t.dead);
      if (idle) {
        idle.waitingForIdle = false;
        this.setState(idle, TASK_RUNNING);
        continue;
      }
      const timers = this.tasks.filter((t) => !t.dead && t.wakeAt !== null).map((t) => t.wakeAt!);
      if (timers.length === 0) {
        this.hung(prev);
        return false;
      }
      const at = Math.min(...timers);
      if (at > this.nowNs()) this.skip(at - this.nowNs());
    }
  }

  private expireTimers(): void {
    const now = this.nowNs();
    for (const t of this.tasks) {
      if (!t.dead && t.wakeAt !== null && t.wakeAt <= now) {
        t.wakeAt = null;
        this.activate(t, TASK_NORMAL);
      }
    }
  }

  /** Round robin after `prev` — except that a task a wake-up preempted a still-running `prev` for goes first. */
  private pickNext(prev: KernelTask): KernelTask | null {
    const buddy = this.nextBuddy;
    this.nextBuddy = null;
    if (buddy && buddy !== prev && prev.needResched && !prev.dead && this.state(prev) === TASK_RUNNING && this.tasks.includes(buddy) && this.runnable(buddy)) return buddy;
    const i = this.tasks.indexOf(prev);
    const order = [...this.tasks.slice(i + 1), ...this.tasks.slice(0, i + 1)];
    return order.find((t) => this.runnable(t)) ?? null;
  }

  private resumeValue(t: KernelTask): void {
    const r = t.resume;
    t.resume = null;
    if (r) this.cpu.regs[EAX] = r() | 0;
    t.switchedInAt = this.cpu.icount;
    t.needResched = false; // __schedule() clears TIF_NEED_RESCHED
  }

  /** __switch_to_asm(): the old task's callee-saved registers and ESP, the new task's. */
  private switchTo(prev: KernelTask, next: KernelTask): void {
    const cpu = this.cpu;
    const r = cpu.regs;
    this.updateCurr();
    prev.needResched = false;
    next.execStart = cpu.icount;
    if (!prev.dead) {
      cpu.push32(r[EBP]!);
      cpu.push32(r[EBX]!);
      cpu.push32(r[EDI]!);
      cpu.push32(r[ESI]!);
      cpu.push32(cpu.getEflags()); // pushfl, as i386's switch_to did
      prev.sp = r[ESP]! >>> 0;
    }
    r[ESP] = next.sp | 0;
    cpu.setEflags(cpu.pop32(), 0x200 | 0x400 | 0xcd5);
    r[ESI] = cpu.pop32();
    r[EDI] = cpu.pop32();
    r[EBX] = cpu.pop32();
    r[EBP] = cpu.pop32();
    this.current = next;
    this.publishCurrent();
    for (const f of this.onSwitch) f(prev, next);
    this.resumeValue(next);
    if (prev.dead && prev.stack.phys !== null) this.freeStack(prev);
  }

  /** free_thread_stack(): an exited task's stack goes back once it is switched away from for good. */
  private freeStack(t: KernelTask): void {
    for (const f of this.onStackFreed) f(t);
    this.mm.buddy.freePages(t.stack.phys!, THREAD_SIZE_ORDER);
    t.stack.phys = null;
  }

  /** Nothing runnable and no timer: every task waits for something that cannot happen. */
  private hung(prev: KernelTask): void {
    const cpu = this.cpu;
    const blocked = this.tasks.filter((t) => !t.dead).map((t) => `${t.comm}:${t.pid}`).join(', ');
    const message = `INFO: task ${prev.comm}:${prev.pid} blocked for ever: every task sleeps (${blocked}) and no timer or other task can wake one (a hung system; ${this.onHung ? 'the run ends as a deadlock, exit status 125' : 'exit status 124, as when the budget runs out'})`;
    this.log.emit(`<3>${message}\n`);
    if (this.onHung) {
      this.onHung(message);
      return;
    }
    cpu.stop({ kind: 'halted', message, eip: cpu.eip, interruptsEnabled: true });
  }

  /**
   * The current task goes to sleep in `state` (optionally until `wakeAt`
   * ns; `resume` gives what the sleeping call returns) through schedule():
   * the calling native's RET goes to schedule()'s entry with the caller's
   * return address still on the stack — a tail call — so every sleep is a
   * call of the guest-visible schedule(), as in Linux (msleep(), down(),
   * mutex_lock() … all end in schedule()), and a probe on schedule sees it.
   */
  sleepVia(cpu: CPU, state: number, wakeAt: number | null, resume: (() => number) | null): void {
    const t = this.current;
    this.setState(t, state);
    t.wakeAt = wakeAt;
    t.resume = resume;
    if (this.scheduleEntry !== 0) cpu.push32(this.scheduleEntry);
    else this.schedule();
  }

  /** The current task sleeps in `state` (optionally until `wakeAt` ns); resume gives what the call returns. */
  sleep(state: number, wakeAt: number | null, resume: (() => number) | null): boolean {
    const t = this.current;
    this.setState(t, state);
    t.wakeAt = wakeAt;
    t.resume = resume;
    return this.schedule();
  }

  /** do_exit() for the current kernel thread: wake kthread_stop() waiters and switch away for good. */
  exit(code: number): void {
    const t = this.current;
    t.dead = true;
    t.exitCode = code | 0;
    this.setState(t, TASK_DEAD);
    write32(this.mem, t.struct + TS.exitCode, code | 0);
    write32(this.mem, t.struct + TS.mm, 0); // exit_mm()
    for (const w of t.exitWaiters.splice(0)) this.wake(w, TASK_NORMAL);
    this.schedule();
  }

  // ---- atomic context ----------------------------------------------------------------------------

  /**
   * __might_sleep(): a sleeping call in atomic context (preempt count or
   * interrupts disabled) is reported as Linux reports it, and goes on.
   */
  mightSleep(cpu: CPU, where: string, caller: string): void {
    const pc = this.preemptCount();
    const t = this.current;
    // In a hard IRQ handler (HARDIRQ_OFFSET in the count, src/mmio/irq.ts) interrupts are off as on Linux.
    const irqsOff = (cpu.getEflags() & IF) === 0 && (t.irqsOnByDefault || (pc & 0xf0000) !== 0);
    if (pc === 0 && !irqsOff) return;
    for (const line of [
      `<3>BUG: sleeping function called from invalid context at ${where}`,
      `<3>in_atomic(): ${pc !== 0 ? 1 : 0}, irqs_disabled(): ${irqsOff ? 1 : 0}, non_block: 0, pid: ${t.pid}, name: ${t.comm}`,
      `<3>preempt_count: ${pc.toString(16)}, expected: 0`,
      '<4>Call Trace:',
      `<4>  ${caller}`,
    ]) this.log.emit(`${line}\n`);
  }

  /** __schedule_bug(): schedule() with a non-zero preempt count. */
  checkScheduleAtomic(): void {
    const pc = this.preemptCount();
    if (pc === 0) return;
    const t = this.current;
    this.log.emit(`<3>BUG: scheduling while atomic: ${t.comm}/${t.pid}/0x${(pc >>> 0).toString(16).padStart(8, '0')}\n`);
  }
}
