/**
 * Wait queues (kernel/sched/wait.c) and completions (kernel/sched/completion.c).
 *
 * A wait queue is Linux's: `struct wait_queue_head { spinlock_t lock;
 * struct list_head head; }` with `struct wait_queue_entry { unsigned int
 * flags; void *private; wait_queue_func_t func; struct list_head entry; }`
 * entries linked into it in guest memory, so `waitqueue_active()` and a
 * debugger see the real list. The wait_event*() macros of
 * include/linux/wait.h loop over prepare_to_wait_event(), the condition and
 * schedule() exactly as Linux's ___wait_event() does; __wake_up() walks the
 * list in order, waking every non-exclusive waiter and `nr_exclusive`
 * exclusive ones. The wake function an entry names is Linux's when it is
 * one of the kernel's (autoremove_wake_function removes the entry,
 * default_wake_function and woken_wake_function leave it); any other
 * function pointer is treated as default_wake_function (kmemsim does not
 * call guest wake callbacks).
 *
 * A completion is `struct completion { unsigned int done; struct
 * swait_queue_head wait; }`: `done` lives in guest memory, its waiters in
 * FIFO order on the host.
 */
import type { CPU } from '../../cpu/cpu.js';
import type { KapiContext } from '../kapi.js';
import { KernelBug } from '../mm/index.js';
import { NS_PER_JIFFY, TASK_INTERRUPTIBLE, TASK_NORMAL, TASK_UNINTERRUPTIBLE, TASK_WAKEKILL, type KernelTask, type Scheduler, write32 } from './scheduler.js';

const WQ_FLAG_EXCLUSIVE = 0x01;
const WQ_FLAG_WOKEN = 0x02;
/** struct wait_queue_entry offsets. */
const WE = { flags: 0, private: 4, func: 8, entry: 12 } as const;
/** struct wait_queue_head: the list head after the lock word. */
const WQ_HEAD = 4;
const UINT_MAX = 0xffffffff;
const MAX_SCHEDULE_TIMEOUT = 0x7fffffff;
const ERESTARTSYS = 512;

export function installWaitQueues(ctx: KapiContext, s: Scheduler): void {
  const { mem, bind, arg, ret, api, caller } = ctx;
  const r32 = (a: number): number => mem.read32(a) >>> 0;
  const w32 = (a: number, v: number): void => write32(mem, a, v);

  // ---- the guest list (include/linux/list.h) -----------------------------------------------------
  const listInit = (node: number): void => {
    w32(node, node);
    w32(node + 4, node);
  };
  const listEmpty = (node: number): boolean => r32(node) === node >>> 0;
  const listAdd = (node: number, prev: number, next: number): void => {
    w32(next + 4, node);
    w32(node, next);
    w32(node + 4, prev);
    w32(prev, node);
  };
  const listDelInit = (node: number): void => {
    const next = r32(node), prev = r32(node + 4);
    w32(next + 4, prev);
    w32(prev, next);
    listInit(node);
  };

  const autoremove = bind('autoremove_wake_function', (cpu) => ret(cpu, wakeEntry(arg(cpu, 0), arg(cpu, 1), true)));
  bind('default_wake_function', (cpu) => ret(cpu, wakeEntry(arg(cpu, 0), arg(cpu, 1), false)));
  const woken = bind('woken_wake_function', (cpu) => ret(cpu, wakeEntry(arg(cpu, 0), arg(cpu, 1), false)));

  /** Wake the task an entry names; returns 1 when it was woken. */
  function wakeEntry(entry: number, mode: number, remove: boolean): number {
    const func = r32(entry + WE.func);
    if (func === woken) w32(entry + WE.flags, r32(entry + WE.flags) | WQ_FLAG_WOKEN);
    const t = s.taskByStruct(r32(entry + WE.private));
    const woke = t ? s.wake(t, mode || TASK_NORMAL) : false;
    if (woke && remove) listDelInit(entry + WE.entry);
    return woke ? 1 : 0;
  }

  bind('__init_waitqueue_head', (cpu) => {
    w32(arg(cpu, 0), 0);
    listInit(arg(cpu, 0) + WQ_HEAD);
  });
  bind('init_wait_entry', (cpu) => {
    const e = arg(cpu, 0);
    w32(e + WE.flags, arg(cpu, 1));
    w32(e + WE.private, s.current.struct);
    w32(e + WE.func, autoremove);
    listInit(e + WE.entry);
  });

  /** Queue an entry (at the tail for exclusive waiters, at the head for the others, as __add_wait_queue*()). */
  const enqueue = (wq: number, e: number): void => {
    const head = wq + WQ_HEAD;
    if (!listEmpty(e + WE.entry)) return;
    if (r32(e + WE.flags) & WQ_FLAG_EXCLUSIVE) listAdd(e + WE.entry, r32(head + 4), head);
    else listAdd(e + WE.entry, head, r32(head));
  };
  bind('prepare_to_wait_event', (cpu) => {
    const e = arg(cpu, 1), state = arg(cpu, 2);
    // A signal for an interruptible (or, fatal, a killable) sleep: off the queue, -ERESTARTSYS (kernel threads get none).
    if (s.signalEndsSleep(state)) {
      if (!listEmpty(e + WE.entry)) listDelInit(e + WE.entry);
      ret(cpu, -ERESTARTSYS);
      return;
    }
    enqueue(arg(cpu, 0), e);
    s.setState(s.current, state);
    ret(cpu, 0);
  });
  bind('prepare_to_wait', (cpu) => {
    const e = arg(cpu, 1);
    w32(e + WE.flags, r32(e + WE.flags) & ~WQ_FLAG_EXCLUSIVE);
    enqueue(arg(cpu, 0), e);
    s.setState(s.current, arg(cpu, 2));
  });
  bind('prepare_to_wait_exclusive', (cpu) => {
    const e = arg(cpu, 1);
    w32(e + WE.flags, r32(e + WE.flags) | WQ_FLAG_EXCLUSIVE);
    enqueue(arg(cpu, 0), e);
    s.setState(s.current, arg(cpu, 2));
    ret(cpu, 1);
  });
  bind('finish_wait', (cpu) => {
    s.setState(s.current, 0);
    const e = arg(cpu, 1);
    if (!listEmpty(e + WE.entry)) listDelInit(e + WE.entry);
  });
  bind('add_wait_queue', (cpu) => {
    const e = arg(cpu, 1);
    w32(e + WE.flags, r32(e + WE.flags) & ~WQ_FLAG_EXCLUSIVE);
    enqueue(arg(cpu, 0), e);
  });
  bind('remove_wait_queue', (cpu) => {
    const e = arg(cpu, 1);
    if (!listEmpty(e + WE.entry)) listDelInit(e + WE.entry);
  });

  /** __wake_up(wq_head, mode, nr_exclusive, key): every waiter, and nr_exclusive exclusive ones (0: all). */
  const wakeUp = (wq: number, mode: number, nr: number): number => {
    const head = wq + WQ_HEAD;
    let node = r32(head);
    let woke = 0;
    let guard = 0;
    while (node !== head >>> 0) {
      if (++guard > 100_000) throw new KernelBug('__wake_up', wq, 'the wait queue list is corrupted (it does not end)');
      const next = r32(node);
      const e = node - WE.entry;
      const flags = r32(e + WE.flags);
      const ok = wakeEntry(e, mode, r32(e + WE.func) === autoremove);
      woke += ok;
      if (ok && flags & WQ_FLAG_EXCLUSIVE && nr > 0 && --nr === 0) break;
      node = next;
    }
    return woke;
  };
  bind('__wake_up', (cpu) => ret(cpu, wakeUp(arg(cpu, 0), arg(cpu, 1), arg(cpu, 2))));
  bind('__wake_up_sync', (cpu) => ret(cpu, wakeUp(arg(cpu, 0), arg(cpu, 1), 1)));

  // ---- completions --------------------------------------------------------------------------------
  const waiters = new Map<number, KernelTask[]>();
  const queue = (x: number): KernelTask[] => {
    let q = waiters.get(x >>> 0);
    if (!q) waiters.set(x >>> 0, (q = []));
    return q;
  };
  const complete = (x: number, all: boolean): void => {
    const done = r32(x);
    w32(x, all ? UINT_MAX : done === UINT_MAX ? done : done + 1);
    const q = queue(x);
    // Each woken waiter takes one `done` (or none after complete_all()).
    for (const t of all ? q.splice(0) : q.splice(0, 1)) s.wake(t);
  };
  bind('complete', (cpu) => complete(arg(cpu, 0), false));
  bind('complete_all', (cpu) => complete(arg(cpu, 0), true));
  /** wait_for_common(): take one `done`, or sleep until complete() hands one over (or the timeout). */
  const waitFor = (cpu: CPU, x: number, state: number, timeout: number, result: (left: number) => number): void => {
    const done = r32(x);
    if (done > 0) {
      if (done !== UINT_MAX) w32(x, done - 1);
      ret(cpu, result(timeout === MAX_SCHEDULE_TIMEOUT ? timeout : Math.max(timeout, 1)));
      return;
    }
    s.mightSleep(cpu, 'kernel/sched/completion.c (wait_for_completion)', caller(cpu));
    if (s.signalEndsSleep(state)) {
      ret(cpu, -ERESTARTSYS);
      return;
    }
    const t = s.current;
    queue(x).push(t);
    const end = timeout === MAX_SCHEDULE_TIMEOUT ? null : s.nowNs() + timeout * NS_PER_JIFFY;
    s.sleepVia(cpu, state, end, () => {
      const q = queue(x);
      const i = q.indexOf(t);
      if (i >= 0) {
        q.splice(i, 1); // the timer or a signal woke it: no completion
        return s.signalEndsSleep(state, t) ? -ERESTARTSYS : result(0);
      }
      const d = r32(x);
      if (d !== UINT_MAX && d > 0) w32(x, d - 1);
      return result(end === null ? MAX_SCHEDULE_TIMEOUT : Math.max(1, Math.ceil((end - s.nowNs()) / NS_PER_JIFFY)));
    });
  };
  bind('wait_for_completion', (cpu) => waitFor(cpu, arg(cpu, 0), TASK_UNINTERRUPTIBLE, MAX_SCHEDULE_TIMEOUT, () => 0));
  bind('wait_for_completion_interruptible', (cpu) => waitFor(cpu, arg(cpu, 0), TASK_INTERRUPTIBLE, MAX_SCHEDULE_TIMEOUT, () => 0));
  bind('wait_for_completion_killable', (cpu) => waitFor(cpu, arg(cpu, 0), TASK_UNINTERRUPTIBLE | TASK_WAKEKILL, MAX_SCHEDULE_TIMEOUT, () => 0));
  bind('wait_for_completion_timeout', (cpu) => waitFor(cpu, arg(cpu, 0), TASK_UNINTERRUPTIBLE, arg(cpu, 1) | 0, (left) => left));
  bind('wait_for_completion_interruptible_timeout', (cpu) => waitFor(cpu, arg(cpu, 0), TASK_INTERRUPTIBLE, arg(cpu, 1) | 0, (left) => left));
  bind('try_wait_for_completion', (cpu) => {
    const x = arg(cpu, 0);
    const d = r32(x);
    if (d === 0) return ret(cpu, 0);
    if (d !== UINT_MAX) w32(x, d - 1);
    ret(cpu, 1);
  });
  bind('completion_done', (cpu) => ret(cpu, r32(arg(cpu, 0)) !== 0 ? 1 : 0));
  void api;
}
