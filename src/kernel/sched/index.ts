/**
 * The scheduler's exported functions (include/linux/sched.h, kthread.h,
 * delay.h): schedule() and its timeouts, cond_resched(), wake_up_process(),
 * kernel threads, sleeps and delays; wait queues and locks come from
 * ./wait.ts and ./locks.ts. Every one is a function with a kernel-text
 * entry (kprobes can probe it); a call that sleeps switches kernel stacks
 * inside its native (./scheduler.ts), so it "returns" when its task runs
 * again, with the value the waker or the timer decided.
 *
 * | symbol | C prototype (Linux) |
 * | --- | --- |
 * | schedule | `void schedule(void)` |
 * | schedule_timeout, schedule_timeout_interruptible, schedule_timeout_uninterruptible | `long schedule_timeout(long timeout)` (jiffies; returns what is left) |
 * | __cond_resched, _cond_resched | `int __cond_resched(void)` (cond_resched()) |
 * | wake_up_process | `int wake_up_process(struct task_struct *p)` |
 * | signal_pending, fatal_signal_pending | `int signal_pending(struct task_struct *p)` (the personality's processes; 0 for kernel threads) |
 * | kthread_create_on_node | `struct task_struct *kthread_create_on_node(int (*fn)(void *), void *data, int node, const char *namefmt, ...)` |
 * | kthread_stop, kthread_should_stop, do_exit | `int kthread_stop(struct task_struct *k)` … |
 * | msleep, msleep_interruptible, usleep_range_state, usleep_range, __udelay, __ndelay, __const_udelay | delay.h |
 * | preempt_count_add, preempt_count_sub | CONFIG_DEBUG_PREEMPT's out-of-line forms |
 * | current_task, __preempt_count, jiffies | per-CPU variables (data) |
 */
import type { CPU } from '../../cpu/cpu.js';
import type { KapiContext } from '../kapi.js';
import { KernelBug } from '../mm/index.js';
import { Scheduler, TASK_INTERRUPTIBLE, TASK_UNINTERRUPTIBLE, NS_PER_JIFFY, HZ, TASK_COMM_LEN } from './scheduler.js';
import { installWaitQueues } from './wait.js';
import { installLocks } from './locks.js';
import { installRcu } from '../rcu.js';
import { hostPushed } from '../call.js';

export { Scheduler, schedulerOf } from './scheduler.js';
export type { KernelTask } from './scheduler.js';

const MAX_SCHEDULE_TIMEOUT = 0x7fffffff;
const ENOMEM = 12, EINTR = 4;

export function installScheduler(ctx: KapiContext): Scheduler {
  const { kernel, api, mm, mem, log, bind, arg, stackArg, stackArgs, ret, caller, format } = ctx;
  const boot = kernel.stackGuards[0]!;
  const s = new Scheduler(kernel, mem, mm, log, { low: boot.low, high: boot.high });
  api.set('current_task', s.percpu);
  api.set('__preempt_count', (s.percpu + 4) >>> 0);
  api.dataSymbols.add('current_task').add('__preempt_count');

  /** A sleeping call: the might_sleep() check, then sleep (the native returns when the task runs again). */
  const sleepingCall = (cpu: CPU, where: string, state: number, wakeAt: number | null, resume: (() => number) | null): void => {
    s.mightSleep(cpu, where, caller(cpu));
    s.sleepVia(cpu, state, wakeAt, resume);
  };

  s.scheduleEntry = bind('schedule', () => {
    s.checkScheduleAtomic();
    s.schedule();
  });

  /** schedule_timeout(): sleep in the state the caller set, at most `timeout` jiffies; returns the jiffies left. */
  const scheduleTimeout = (cpu: CPU, timeout: number, state: number | null): void => {
    timeout |= 0;
    if (state !== null) s.setState(s.current, state);
    const st = s.state(s.current);
    if (timeout < 0) {
      log.emit(`<3>schedule_timeout: wrong timeout value ${timeout.toString(16)}\n`);
      s.setState(s.current, 0);
      ret(cpu, 0);
      return;
    }
    if (timeout === MAX_SCHEDULE_TIMEOUT) {
      s.sleepVia(cpu, st, null, () => MAX_SCHEDULE_TIMEOUT);
      return;
    }
    const end = s.nowNs() + timeout * NS_PER_JIFFY;
    s.sleepVia(cpu, st, st === 0 ? null : end, () => Math.max(0, Math.ceil((end - s.nowNs()) / NS_PER_JIFFY)));
  };
  bind('schedule_timeout', (cpu) => scheduleTimeout(cpu, arg(cpu, 0), null));
  bind('schedule_timeout_interruptible', (cpu) => scheduleTimeout(cpu, arg(cpu, 0), TASK_INTERRUPTIBLE));
  bind('schedule_timeout_uninterruptible', (cpu) => scheduleTimeout(cpu, arg(cpu, 0), TASK_UNINTERRUPTIBLE));

  const condResched = (cpu: CPU): void => {
    if (!s.needResched() || s.preemptCount() !== 0) {
      ret(cpu, 0);
      return;
    }
    s.sleep(0, null, () => 1); // preempt_schedule_common() → __schedule(), not schedule()
  };
  bind('__cond_resched', condResched);
  bind('_cond_resched', condResched);

  // The host's "let the system run": the caller sleeps until no other task can run (without skipping time).
  s.waitIdleRoutine = bind('kmemsim_wait_idle', () => {
    s.current.waitingForIdle = true;
    s.schedule();
  }, api.internal);

  bind('wake_up_process', (cpu) => {
    const t = s.taskByStruct(arg(cpu, 0));
    if (!t) throw new KernelBug('wake_up_process', arg(cpu, 0), 'not a task_struct');
    ret(cpu, s.wake(t) ? 1 : 0);
  });

  // signal_pending(), fatal_signal_pending() (out of line: the answer is the personality's, for its processes).
  const pendingOf = (cpu: CPU): number => {
    const t = s.taskByStruct(arg(cpu, 0));
    return t ? s.signalPending(t) : 0;
  };
  bind('signal_pending', (cpu) => ret(cpu, pendingOf(cpu) !== 0 ? 1 : 0));
  bind('fatal_signal_pending', (cpu) => ret(cpu, pendingOf(cpu) === 2 ? 1 : 0));

  bind('preempt_count_add', (cpu) => s.addPreemptCount(arg(cpu, 0)));
  bind('preempt_count_sub', (cpu) => s.addPreemptCount(-arg(cpu, 0)));

  // ---- kernel threads (kernel/kthread.c) --------------------------------------------------------

  // A new thread's first switch returns here: call fn(data) with do_exit as its return address.
  const doExit = bind('do_exit', (cpu) => s.exit(arg(cpu, 0)));
  s.doExitEntry = doExit;
  // threadfn returned: do_exit(its return value), through the guest-visible entry (kthread() in Linux calls do_exit()).
  const exitTrampoline = bind('kthread_exit_trampoline', (cpu) => cpu.push32(doExit), api.internal);
  s.kthreadEntry = bind('kthread', (cpu) => {
    const k = s.current.kthread!;
    k.started = true;
    if (k.shouldStop) {
      s.exit(-EINTR);
      return;
    }
    cpu.regs[0] = k.data | 0;
    const top = cpu.regs[4]!;
    cpu.push32(exitTrampoline);
    cpu.push32(k.fn); // the routine's RET pops it: fn runs with the trampoline as its return address
    hostPushed(kernel, top); // fn's RET reads the trampoline: initialized stack words for the stack checkers
  }, api.internal);

  bind('kthread_create_on_node', (cpu) => {
    const fn = stackArg(cpu, 0);
    const data = stackArg(cpu, 1);
    const name = format(stackArg(cpu, 3), stackArgs(cpu, 4));
    const t = s.createKthread(fn, data, name.slice(0, TASK_COMM_LEN - 1));
    ret(cpu, t ? t.struct : -ENOMEM);
  });
  bind('kthread_should_stop', (cpu) => ret(cpu, s.current.kthread?.shouldStop ? 1 : 0));
  bind('kthread_stop', (cpu) => {
    const t = s.taskByStruct(arg(cpu, 0));
    if (!t || !t.kthread) throw new KernelBug('kthread_stop', arg(cpu, 0), 'not a kernel thread');
    if (t === s.current) throw new KernelBug('kthread_stop', arg(cpu, 0), 'a kernel thread cannot stop itself');
    t.kthread.shouldStop = true;
    if (t.dead) {
      ret(cpu, t.exitCode);
      return;
    }
    s.wake(t);
    t.exitWaiters.push(s.current);
    sleepingCall(cpu, 'kernel/kthread.c (kthread_stop)', TASK_UNINTERRUPTIBLE, null, () => t.exitCode);
  });

  // ---- delays (kernel/time/timer.c, lib/delay.c) -------------------------------------------------

  const msecsToJiffies = (ms: number): number => Math.ceil((ms * HZ) / 1000);
  /** msleep(): schedule_timeout_uninterruptible(msecs_to_jiffies(ms) + 1), repeated until it is over. */
  bind('msleep', (cpu) => {
    const end = s.nowNs() + (msecsToJiffies(arg(cpu, 0)) + 1) * NS_PER_JIFFY;
    sleepingCall(cpu, 'kernel/time/timer.c (msleep)', TASK_UNINTERRUPTIBLE, end, () => 0);
  });
  bind('msleep_interruptible', (cpu) => {
    const end = s.nowNs() + (msecsToJiffies(arg(cpu, 0)) + 1) * NS_PER_JIFFY;
    // A signal (a process's; kernel threads get none) ends it early: the milliseconds left, in whole jiffies.
    sleepingCall(cpu, 'kernel/time/timer.c (msleep_interruptible)', TASK_INTERRUPTIBLE, end, () => Math.max(0, Math.ceil((end - s.nowNs()) / NS_PER_JIFFY)) * (1000 / HZ));
  });
  /** usleep_range_state(min, max, state): an hrtimer sleep of at least min µs. */
  const usleep = (cpu: CPU, state: number): void => {
    sleepingCall(cpu, 'kernel/time/timer.c (usleep_range)', state, s.nowNs() + arg(cpu, 0) * 1000, () => 0);
  };
  bind('usleep_range_state', (cpu) => usleep(cpu, arg(cpu, 2) || TASK_UNINTERRUPTIBLE));
  bind('usleep_range', (cpu) => usleep(cpu, TASK_UNINTERRUPTIBLE));
  bind('__udelay', (cpu) => s.busyWait(arg(cpu, 0) * 1000));
  bind('__ndelay', (cpu) => s.busyWait(arg(cpu, 0)));
  // __const_udelay(xloops): xloops = usecs * 0x10C7 (2^32 / 10^6).
  bind('__const_udelay', (cpu) => s.busyWait(Math.round((arg(cpu, 0) / 0x10c7) * 1000)));
  // __might_sleep(file, line): might_sleep()'s check (CONFIG_DEBUG_ATOMIC_SLEEP).
  bind('__might_sleep', (cpu) => s.mightSleep(cpu, `${ctx.fmtString(arg(cpu, 0))}:${arg(cpu, 1) | 0}`, caller(cpu)));

  installRcu(ctx, s); // kernel/rcu/tiny.c: ../rcu.ts
  installWaitQueues(ctx, s);
  installLocks(ctx, s);
  return s;
}
