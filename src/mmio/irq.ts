/**
 * Device interrupts for modules: request_irq()/free_irq() (Linux's
 * kernel/irq/manage.c) and the delivery of an IRQ a virtual device raises
 * (MmioDevice.raiseIrq, src/mmio/device.ts) to the handlers registered on
 * its line, in interrupt context.
 *
 * kmemsim's module kernel has no interrupt controller wired to its devices
 * (the PC's 8259 serves the bare-machine boot, not modules), so an IRQ is
 * not delivered through the IDT. It is taken at the next instruction
 * boundary kmemsim's kernel controls: the end of the MMIO access that
 * raised it (the #DB after the single step, or the #PF that emulated the
 * access). There the trap's return is diverted into each handler
 * (src/watch/trap-call.ts, the watch framework's way of calling guest code
 * from a trap): it runs at CPL 0 with IF clear on the trap's stack, with
 * HARDIRQ_OFFSET added to the preempt count as irq_enter() does — so
 * in_interrupt() and in_irq() are true, and a sleeping call in it gets
 * the scheduler's "BUG: sleeping function called from invalid context" —
 * and the count drops again (irq_exit()) before the interrupted code
 * resumes. An IRQ raised while handlers run, or outside any MMIO access
 * (a TypeScript device raising it on its own), stays pending until the
 * next one. A line without a handler, or whose handlers all return
 * IRQ_NONE, is counted `unhandled` and reported once ("irq N: nobody
 * cared", Linux's note_interrupt()).
 */
import type { Kernel, TrapFrame } from '../kernel/kernel.js';
import { TrapGuestCall, type PendingCall } from '../watch/trap-call.js';

/** <linux/interrupt.h>: IRQF_SHARED; irqreturn_t values. */
export const IRQF_SHARED = 0x80;
export const IRQ_NONE = 0, IRQ_HANDLED = 1;
/** <linux/preempt.h>: the hard-IRQ part of the preempt count (bits 16–19). */
export const HARDIRQ_OFFSET = 1 << 16;
/** Lines 0–15, as the PC's two 8259s have. */
export const NR_IRQS = 16;
const EINVAL = 22, EBUSY = 16;

interface IrqAction {
  handler: number;
  flags: number;
  name: number;
  dev: number;
}

const controllers = new WeakMap<Kernel, IrqLines>();

export class IrqLines {
  readonly counters = { raised: 0, delivered: 0, handlerCalls: 0, unhandled: 0 };
  private readonly actions = new Map<number, IrqAction[]>();
  private readonly pending = new Set<number>();
  private readonly reported = new Set<number>();
  private caller: TrapGuestCall | null = null;
  /** Called around the handlers (the scheduler's preempt count: irq_enter()/irq_exit()). */
  preempt: (delta: number) => void = () => {};
  /** Kernel log lines ("<3>irq 11: nobody cared"). */
  log: (line: string) => void = () => {};

  private constructor(readonly kernel: Kernel) {}

  static of(kernel: Kernel): IrqLines {
    let c = controllers.get(kernel);
    if (c === undefined) controllers.set(kernel, (c = new IrqLines(kernel)));
    return c;
  }

  /** request_irq(): 0, -EINVAL (no such line, no handler), -EBUSY (taken, and not shared by both). */
  request(irq: number, handler: number, flags: number, name: number, dev: number): number {
    if (irq >>> 0 >= NR_IRQS || handler === 0) return -EINVAL;
    // Linux: a shared line needs a dev_id to tell the handlers apart at free_irq().
    if (flags & IRQF_SHARED && dev === 0) return -EINVAL;
    const list = this.actions.get(irq) ?? [];
    if (list.length > 0 && !(flags & IRQF_SHARED && list.every((a) => a.flags & IRQF_SHARED))) return -EBUSY;
    list.push({ handler, flags, name, dev });
    this.actions.set(irq, list);
    return 0;
  }

  /** free_irq(): the action's name pointer, or 0 with Linux's warning when no handler with `dev` is on the line. */
  free(irq: number, dev: number): number {
    const list = this.actions.get(irq) ?? [];
    const i = list.findIndex((a) => a.dev === dev);
    if (i < 0) {
      this.log(`<4>WARNING: Trying to free already-free IRQ ${irq}`);
      return 0;
    }
    const [a] = list.splice(i, 1);
    if (list.length === 0) this.actions.delete(irq);
    return a!.name;
  }

  /** Handlers on `irq`. */
  handlers(irq: number): number {
    return this.actions.get(irq)?.length ?? 0;
  }

  /** A device raised `irq`: delivered at the next instruction boundary (deliver()). */
  raise(irq: number): void {
    this.counters.raised++;
    this.pending.add(irq);
  }

  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  /**
   * At an instruction boundary inside a trap handler (frame `f`, the interrupted code complete):
   * run the pending lines' handlers before it resumes. Nothing happens while handlers already run.
   */
  deliver(f: TrapFrame): void {
    if (this.pending.size === 0) return;
    const caller = (this.caller ??= new TrapGuestCall(this.kernel, 'irq_handler'));
    if (caller.busy) return;
    const lines = [...this.pending].sort((a, b) => a - b);
    this.pending.clear();
    const calls: PendingCall[] = [];
    const handled = new Map<number, boolean>();
    for (const irq of lines) {
      this.counters.delivered++;
      const list = this.actions.get(irq) ?? [];
      handled.set(irq, false);
      for (const a of list) {
        calls.push({
          fn: a.handler,
          args: () => [irq, a.dev, 0],
          returned: (eax) => {
            this.counters.handlerCalls++;
            if (eax & IRQ_HANDLED) handled.set(irq, true);
          },
        });
      }
    }
    const unhandled = (): void => {
      for (const [irq, ok] of handled) if (!ok) this.nobodyCared(irq);
    };
    if (calls.length === 0) {
      unhandled();
      return;
    }
    // irq_enter(): in_interrupt() from here until the last handler returned.
    this.preempt(HARDIRQ_OFFSET);
    caller.divert(f, calls[0]!.fn!, calls, () => {
      this.preempt(-HARDIRQ_OFFSET);
      unhandled();
    });
  }

  private nobodyCared(irq: number): void {
    this.counters.unhandled++;
    if (this.reported.has(irq)) return;
    this.reported.add(irq);
    this.log(`<3>irq ${irq}: nobody cared (${this.handlers(irq) ? 'every handler returned IRQ_NONE' : 'no handler registered'})`);
  }
}
