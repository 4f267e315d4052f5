/**
 * RCU on kmemsim's uniprocessor, non-preemptible kernel: Linux's Tiny RCU
 * (kernel/rcu/tiny.c).
 *
 * | symbol | C prototype (Linux) |
 * | --- | --- |
 * | synchronize_rcu | `void synchronize_rcu(void)` — returns at once (after might_sleep()): readers cannot sleep, so every other task is past a quiescent state |
 * | call_rcu | `void call_rcu(struct rcu_head *head, rcu_callback_t func)` |
 * | kvfree_call_rcu | `void kvfree_call_rcu(struct rcu_head *head, void *ptr)` (kfree_rcu()) |
 * | rcu_barrier | `void rcu_barrier(void)` — every queued callback has run when it returns |
 *
 * call_rcu() writes `head->func` and `head->next` and queues the head, as
 * Tiny RCU's list does; kvfree_call_rcu() queues `head` with the offset of
 * the head in its object as the "function", and the callback step frees
 * `head - offset` (Linux's __is_kvfree_rcu_offset()). A context switch is
 * a quiescent state: Tiny RCU's rcu_qs() raises RCU_SOFTIRQ there, and the
 * softirq runs the callbacks as soon as the switched-in task goes on. So
 * here: the first switch after callbacks were queued makes the new task
 * run them (rcu_process_callbacks()) before it continues where it slept,
 * in softirq context (preempt count + SOFTIRQ_OFFSET: a callback that
 * sleeps is reported). Each callback is a guest call `func(head)`; the
 * task's registers are as the sleeping call left them afterwards.
 * rcu_barrier() runs what is queued, in the caller, before it returns.
 * A process returning to user mode is not a quiescent state here (no
 * scheduler tick in user mode): callbacks queued from a system call run
 * at the next context switch or rcu_barrier().
 */
import type { CPU } from '../cpu/cpu.js';
import type { KapiContext } from './kapi.js';
import { hostPushed } from './call.js';
import { write32, type Scheduler } from './sched/scheduler.js';

/** struct callback_head: next at 0, func at 4 (include/linux/types.h). */
const RCU_HEAD = { next: 0, func: 4 };
/** __is_kvfree_rcu_offset(): a "function" below 4096 is the head's offset in a kfree_rcu()'d object. */
const KVFREE_OFFSET_LIMIT = 4096;
/** SOFTIRQ_OFFSET: in_softirq() while callbacks run. */
const SOFTIRQ_OFFSET = 0x100;
const EAX = 0, ECX = 1, EDX = 2;

export function installRcu(ctx: KapiContext, s: Scheduler): void {
  const { kernel, mm, mem, bind, arg, caller } = ctx;
  /** Queued rcu_heads, oldest first (rcu_ctrlblk's list). */
  const queue: number[] = [];
  /** A task is running callbacks: its registers as the interrupted code had them. */
  let running: { eax: number; ecx: number; edx: number } | null = null;

  const enqueue = (head: number, func: number): void => {
    write32(mem, head + RCU_HEAD.next, 0);
    write32(mem, head + RCU_HEAD.func, func);
    if (queue.length) write32(mem, queue[queue.length - 1]! + RCU_HEAD.next, head);
    queue.push(head >>> 0);
  };

  /**
   * rcu_process_callbacks(): entered by RET (its return address is where
   * the task goes on afterwards). Frees kfree_rcu() objects at once; calls
   * the next guest callback with this routine as its return address; when
   * the queue is empty, puts the registers back and returns.
   */
  const processCallbacks = bind('rcu_process_callbacks', (cpu: CPU) => {
    if (running === null) {
      running = { eax: cpu.regs[EAX]!, ecx: cpu.regs[ECX]!, edx: cpu.regs[EDX]! };
      s.addPreemptCount(SOFTIRQ_OFFSET);
    }
    while (queue.length) {
      const head = queue.shift()!;
      const func = mem.read32(head + RCU_HEAD.func) >>> 0;
      if (func < KVFREE_OFFSET_LIMIT) {
        mm.slab.kfree((head - func) >>> 0);
        continue;
      }
      const top = cpu.regs[4]!;
      cpu.push32(processCallbacks); // the callback returns here for the next one
      cpu.push32(func); // this routine's RET enters func(head)
      hostPushed(kernel, top);
      cpu.regs[EAX] = head | 0;
      return;
    }
    s.addPreemptCount(-SOFTIRQ_OFFSET);
    const r = running;
    running = null;
    cpu.regs[EAX] = r.eax;
    cpu.regs[ECX] = r.ecx;
    cpu.regs[EDX] = r.edx;
  }, ctx.api.internal);

  /** Make the current native's RET go through rcu_process_callbacks first (unless a task is already in it). */
  const raiseSoftirq = (cpu: CPU): void => {
    if (queue.length === 0 || running !== null) return;
    const top = cpu.regs[4]!;
    cpu.push32(processCallbacks);
    hostPushed(kernel, top);
  };

  bind('synchronize_rcu', (cpu) => s.mightSleep(cpu, 'kernel/rcu/tiny.c (synchronize_rcu)', caller(cpu)));
  bind('call_rcu', (cpu) => enqueue(arg(cpu, 0), arg(cpu, 1)));
  bind('kvfree_call_rcu', (cpu) => {
    const head = arg(cpu, 0), ptr = arg(cpu, 1);
    const offset = (head - ptr) >>> 0;
    if (head === 0 || offset >= KVFREE_OFFSET_LIMIT) {
      // The headless form (or a head too far into its object): Linux synchronizes and frees at once.
      mm.slab.kfree(ptr);
      return;
    }
    enqueue(head, offset);
  });
  bind('rcu_barrier', (cpu) => {
    s.mightSleep(cpu, 'kernel/rcu/tiny.c (rcu_barrier)', caller(cpu));
    raiseSoftirq(cpu);
  });
  // rcu_qs() at a context switch: the switched-in task runs the callbacks when the switching native returns.
  s.onSwitch.push(() => raiseSoftirq(kernel.cpu));
}
