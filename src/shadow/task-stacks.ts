/**
 * One stack shadow per task: a stack checker (./stack.ts) follows the
 * kernel's tasks, each with its own kernel stack (src/kernel/sched: user
 * processes and kernel threads are one task list, THREAD_SIZE stacks from
 * the page allocator), as a client of the scheduler's notifiers — the
 * kernel knows nothing of the checker:
 *
 *  - a task switch (Scheduler.onSwitch, after ESP is the new task's) makes
 *    the new task's stack the one in use: the switched-out task keeps its
 *    shadow and its lowest live byte, so its live frames are still
 *    initialized when it runs again (a task that slept in module code reads
 *    its own locals without a finding);
 *  - a task's first switch-in begins its stack: every byte dead, nothing
 *    live (copy_thread()'s frame is popped by the switch itself, natively);
 *  - an exited task's stack going back to the page allocator
 *    (Scheduler.onStackFreed, free_thread_stack()) is forgotten: its pages
 *    are no longer tracked, so whoever gets them next — a new task's stack
 *    (begun afresh) or the heap — sees no stale state.
 *
 * The stack the checker was created on (the ring-0 boot stack, or the
 * ring-1 stack of a ring-1 layout) is the one of the task running when the
 * scheduler appears: the first process's, or the module run's insmod task.
 *
 * Bytes of a stack not in use stay tracked, so guest code that touches
 * another task's stack (a waker unlinking the sleeper's on-stack wait
 * queue entry) is checked against that stack's shadow as well.
 */
import { withScheduler, type KernelTask, type Scheduler } from '../kernel/sched/scheduler.js';
import type { Kernel } from '../kernel/kernel.js';
import type { StackLiveness, StackRules } from './stack.js';

export class TaskStacks {
  private readonly byTask = new Map<KernelTask, StackLiveness>();
  /** Task switches seen, stacks begun and stacks forgotten (tests, stats). */
  readonly stats = { switches: 0, begun: 0, forgotten: 0 };

  private constructor(private readonly rules: StackRules, s: Scheduler, private readonly switched: () => void) {
    if (rules.stack) this.byTask.set(s.current, rules.stack);
    s.onSwitch.push((_prev, next) => this.switchTo(next));
    s.onStackFreed.push((t) => this.freed(t));
  }

  /**
   * Make `rules` follow `kernel`'s tasks from the moment its scheduler
   * exists; `switched` is called after each switch (the checker forgets
   * the ESP it last saw).
   */
  static follow(kernel: Kernel, rules: StackRules, switched: () => void): { tasks: TaskStacks | null } {
    const ref: { tasks: TaskStacks | null } = { tasks: null };
    withScheduler(kernel, (s) => (ref.tasks = new TaskStacks(rules, s, switched)));
    return ref;
  }

  /** The stack shadow of `t`, if it has run under the checker. */
  stackOf(t: KernelTask): StackLiveness | undefined {
    return this.byTask.get(t);
  }

  private switchTo(next: KernelTask): void {
    this.stats.switches++;
    const s = this.byTask.get(next);
    if (s) this.rules.useStack(s);
    else {
      this.byTask.set(next, this.rules.beginStack(next.stack.low, next.stack.high));
      this.stats.begun++;
    }
    this.switched();
  }

  private freed(t: KernelTask): void {
    const s = this.byTask.get(t);
    if (!s) return;
    this.byTask.delete(t);
    this.rules.forgetStack(s);
    this.stats.forgotten++;
  }
}
