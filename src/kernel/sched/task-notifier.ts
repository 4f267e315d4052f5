/**
 * Who wants to hear of task switches and of kernel stacks going away:
 * clients above the kernel (the ring-1 layout's per-task part and the
 * CPL-1 stack tracker, src/rings/ring1-tasks.ts) subscribe here, so the
 * scheduler knows nothing of them — as Linux's preempt notifiers
 * (`preempt_notifier_register()`: sched_in/sched_out) keep KVM out of
 * kernel/sched/core.c.
 *
 * - `switched(prev, next)`: after __switch_to_asm() loaded `next`'s stack
 *   and callee-saved registers and the personality's own switch hook ran
 *   (page directory, TSS.ESP0 of a process), before the native that called
 *   schedule() returns into `next`;
 * - `stackFreed(task)`: a dead task was switched away from for good and its
 *   kernel stack is about to go back to the page allocator
 *   (free_thread_stack()).
 */
import type { KernelTask } from './scheduler.js';

export interface TaskListener {
  switched?(prev: KernelTask, next: KernelTask): void;
  stackFreed?(task: KernelTask): void;
}

export class TaskNotifier {
  private readonly listeners: TaskListener[] = [];

  /** Subscribe (in order: earlier subscribers hear first); returns the unsubscribe function. */
  subscribe(l: TaskListener): () => void {
    this.listeners.push(l);
    return () => {
      const i = this.listeners.indexOf(l);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  switched(prev: KernelTask, next: KernelTask): void {
    for (const l of this.listeners) l.switched?.(prev, next);
  }

  stackFreed(task: KernelTask): void {
    for (const l of this.listeners) l.stackFreed?.(task);
  }
}
