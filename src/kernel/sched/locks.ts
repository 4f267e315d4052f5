/**
 * Sleeping locks (kernel/locking/mutex.c, semaphore.c) and the spinlock
 * entry points (kernel/locking/spinlock.c) on one processor.
 *
 * - `struct mutex { atomic_long_t owner; raw_spinlock_t wait_lock; struct
 *   list_head wait_list; }`: `owner` in guest memory is the owning
 *   task_struct (0: unlocked), as Linux's. With lock debugging
 *   (CONFIG_DEBUG_LOCK_ALLOC, which include/linux/mutex.h assumes, as a
 *   course VM's kernel has it) mutex_lock() is mutex_lock_nested(lock, 0):
 *   that is the function a tracer probes. A contended lock puts the task
 *   to sleep in FIFO order; mutex_unlock() hands the lock to the first
 *   waiter (Linux's handoff), so the order is deterministic. Locking a
 *   mutex the task already holds is lockdep's "possible recursive locking
 *   detected" and a hang; unlocking one it does not hold is
 *   DEBUG_LOCKS_WARN_ON(owner != current).
 * - `struct semaphore { raw_spinlock_t lock; unsigned int count; struct
 *   list_head wait_list; }`: `count` in guest memory; down() sleeps when it
 *   is 0, up() wakes the first waiter (handing the unit over) or increments
 *   it — __down_common()/__up() as Linux.
 * - `_raw_spin_lock*`/`_raw_spin_unlock*`: the out-of-line spinlock
 *   functions. On a uniprocessor a spinlock is preempt_disable() (and
 *   local_irq_save() for the _irqsave forms) plus the lock word, which
 *   CONFIG_DEBUG_SPINLOCK checks: taking a lock that is held is "BUG:
 *   spinlock recursion" (nothing else could ever release it: the machine
 *   stops, exit status 125).
 */
import type { CPU } from '../../cpu/cpu.js';
import { Vec } from '../../cpu/stop.js';
import type { KapiContext } from '../kapi.js';
import { KernelBug } from '../mm/index.js';
import { NS_PER_JIFFY, TASK_INTERRUPTIBLE, TASK_UNINTERRUPTIBLE, TASK_WAKEKILL, type KernelTask, type Scheduler, write32 } from './scheduler.js';

const ETIME = 62;
const EINTR = 4;
const TASK_KILLABLE = TASK_UNINTERRUPTIBLE | TASK_WAKEKILL;
const IF = 0x200;

export function installLocks(ctx: KapiContext, s: Scheduler): void {
  const { mem, bind, arg, ret, caller, log } = ctx;
  const r32 = (a: number): number => mem.read32(a) >>> 0;
  const w32 = (a: number, v: number): void => write32(mem, a, v);
  const waitLists = new Map<number, KernelTask[]>();
  const waiters = (lock: number): KernelTask[] => {
    let q = waitLists.get(lock >>> 0);
    if (!q) waitLists.set(lock >>> 0, (q = []));
    return q;
  };

  // ---- mutexes ----------------------------------------------------------------------------------
  const MUTEX_OWNER = 0;
  bind('__mutex_init', (cpu) => {
    const m = arg(cpu, 0);
    w32(m + MUTEX_OWNER, 0);
    w32(m + 4, 0);
    w32(m + 8, m + 8);
    w32(m + 12, m + 8);
  });
  /** __mutex_lock_common(): take it, or sleep FIFO until mutex_unlock() hands it over. */
  const mutexLock = (cpu: CPU, m: number, state: number, fn: string): void => {
    s.mightSleep(cpu, `kernel/locking/mutex.c (${fn})`, caller(cpu));
    const owner = r32(m + MUTEX_OWNER);
    const me = s.current;
    if (owner === 0) {
      w32(m + MUTEX_OWNER, me.struct);
      ret(cpu, 0);
      return;
    }
    if (owner === me.struct) {
      log.emit('<4>WARNING: possible recursive locking detected\n');
      log.emit(`<4>${me.comm}/${me.pid} is trying to acquire lock at ${hex(m)} but already holds it (${caller(cpu)})\n`);
    }
    if (s.signalEndsSleep(state)) {
      ret(cpu, -EINTR);
      return;
    }
    waiters(m).push(me);
    s.sleepVia(cpu, state, null, () => {
      const q = waiters(m);
      const i = q.indexOf(me);
      if (i < 0) return 0; // mutex_unlock() handed it over
      q.splice(i, 1); // a signal woke it (interruptible, killable)
      return -EINTR;
    });
  };
  bind('mutex_lock_nested', (cpu) => mutexLock(cpu, arg(cpu, 0), TASK_UNINTERRUPTIBLE, 'mutex_lock_nested'));
  bind('mutex_lock', (cpu) => mutexLock(cpu, arg(cpu, 0), TASK_UNINTERRUPTIBLE, 'mutex_lock'));
  bind('mutex_lock_interruptible_nested', (cpu) => mutexLock(cpu, arg(cpu, 0), TASK_INTERRUPTIBLE, 'mutex_lock_interruptible_nested'));
  bind('mutex_lock_interruptible', (cpu) => mutexLock(cpu, arg(cpu, 0), TASK_INTERRUPTIBLE, 'mutex_lock_interruptible'));
  bind('mutex_lock_killable_nested', (cpu) => mutexLock(cpu, arg(cpu, 0), TASK_KILLABLE, 'mutex_lock_killable_nested'));
  bind('mutex_lock_killable', (cpu) => mutexLock(cpu, arg(cpu, 0), TASK_KILLABLE, 'mutex_lock_killable'));
  bind('mutex_trylock', (cpu) => {
    const m = arg(cpu, 0);
    if (r32(m + MUTEX_OWNER) !== 0) return ret(cpu, 0);
    w32(m + MUTEX_OWNER, s.current.struct);
    ret(cpu, 1);
  });
  bind('mutex_unlock', (cpu) => {
    const m = arg(cpu, 0);
    const owner = r32(m + MUTEX_OWNER);
    if (owner !== s.current.struct) {
      log.emit('<4>DEBUG_LOCKS_WARN_ON(__owner_task(owner) != current)\n');
      log.emit(`<4>WARNING: mutex_unlock of ${hex(m)} by ${s.current.comm}/${s.current.pid}, which does not hold it (called from ${caller(cpu)})\n`);
      if (owner === 0) return;
    }
    const next = waiters(m).shift();
    w32(m + MUTEX_OWNER, next ? next.struct : 0);
    if (next) s.wake(next);
  });
  bind('mutex_is_locked', (cpu) => ret(cpu, r32(arg(cpu, 0) + MUTEX_OWNER) !== 0 ? 1 : 0));

  // ---- semaphores -------------------------------------------------------------------------------
  const SEM_COUNT = 4;
  /** __down_common(): take a unit, or sleep FIFO until up() hands one over (or the timeout: -ETIME). */
  const down = (cpu: CPU, sem: number, state: number, fn: string, timeoutJiffies: number | null): void => {
    s.mightSleep(cpu, `kernel/locking/semaphore.c (${fn})`, caller(cpu));
    const count = r32(sem + SEM_COUNT);
    if (count > 0) {
      w32(sem + SEM_COUNT, count - 1);
      ret(cpu, 0);
      return;
    }
    const me = s.current;
    if (s.signalEndsSleep(state)) {
      ret(cpu, -EINTR);
      return;
    }
    waiters(sem).push(me);
    const end = timeoutJiffies === null ? null : s.nowNs() + timeoutJiffies * NS_PER_JIFFY;
    s.sleepVia(cpu, state, end, () => {
      const q = waiters(sem);
      const i = q.indexOf(me);
      if (i < 0) return 0; // up() handed it over
      q.splice(i, 1);
      return s.signalEndsSleep(state, me) ? -EINTR : -ETIME; // a signal woke it, or the timeout
    });
  };
  bind('down', (cpu) => down(cpu, arg(cpu, 0), TASK_UNINTERRUPTIBLE, 'down', null));
  bind('down_interruptible', (cpu) => down(cpu, arg(cpu, 0), TASK_INTERRUPTIBLE, 'down_interruptible', null));
  bind('down_killable', (cpu) => down(cpu, arg(cpu, 0), TASK_KILLABLE, 'down_killable', null));
  bind('down_timeout', (cpu) => down(cpu, arg(cpu, 0), TASK_UNINTERRUPTIBLE, 'down_timeout', arg(cpu, 1) | 0));
  bind('down_trylock', (cpu) => {
    const sem = arg(cpu, 0);
    const count = r32(sem + SEM_COUNT);
    if (count === 0) return ret(cpu, 1);
    w32(sem + SEM_COUNT, count - 1);
    ret(cpu, 0);
  });
  bind('up', (cpu) => {
    const sem = arg(cpu, 0);
    const next = waiters(sem).shift();
    if (next) s.wake(next);
    else w32(sem + SEM_COUNT, r32(sem + SEM_COUNT) + 1);
  });

  // ---- spinlocks ------------------------------------------------------------------------------------
  const spinLock = (cpu: CPU, lock: number, fn: string): void => {
    s.addPreemptCount(1);
    if (r32(lock) !== 0) {
      const t = s.current;
      const message = `BUG: spinlock recursion on CPU#0, ${t.comm}/${t.pid}: lock ${hex(lock)} is already held and nothing else can release it (${fn} called from ${caller(cpu)})`;
      log.emit(`<0>${message}\n`);
      cpu.stop({ kind: 'fault', vector: Vec.UD, errorCode: null, eip: ctx.returnAddress(cpu) ?? cpu.eip, message });
      return;
    }
    w32(lock, 1);
  };
  const spinUnlock = (lock: number, fn: string): void => {
    if (r32(lock) === 0) throw new KernelBug(fn, lock, 'spinlock already unlocked');
    w32(lock, 0);
    s.addPreemptCount(-1);
  };
  const irqSave = (cpu: CPU): number => {
    const flags = cpu.getEflags();
    cpu.setEflags(0, IF);
    return flags;
  };
  bind('_raw_spin_lock', (cpu) => spinLock(cpu, arg(cpu, 0), '_raw_spin_lock'));
  bind('_raw_spin_lock_bh', (cpu) => spinLock(cpu, arg(cpu, 0), '_raw_spin_lock_bh'));
  bind('_raw_spin_trylock', (cpu) => {
    const lock = arg(cpu, 0);
    if (r32(lock) !== 0) return ret(cpu, 0);
    s.addPreemptCount(1);
    w32(lock, 1);
    ret(cpu, 1);
  });
  bind('_raw_spin_unlock', (cpu) => spinUnlock(arg(cpu, 0), '_raw_spin_unlock'));
  bind('_raw_spin_unlock_bh', (cpu) => spinUnlock(arg(cpu, 0), '_raw_spin_unlock_bh'));
  bind('_raw_spin_lock_irq', (cpu) => {
    irqSave(cpu);
    spinLock(cpu, arg(cpu, 0), '_raw_spin_lock_irq');
  });
  bind('_raw_spin_unlock_irq', (cpu) => {
    spinUnlock(arg(cpu, 0), '_raw_spin_unlock_irq');
    cpu.setEflags(IF, IF);
  });
  bind('_raw_spin_lock_irqsave', (cpu) => {
    const flags = irqSave(cpu);
    spinLock(cpu, arg(cpu, 0), '_raw_spin_lock_irqsave');
    ret(cpu, flags);
  });
  bind('_raw_spin_unlock_irqrestore', (cpu) => {
    spinUnlock(arg(cpu, 0), '_raw_spin_unlock_irqrestore');
    cpu.setEflags(arg(cpu, 1) & IF, IF);
  });
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}
