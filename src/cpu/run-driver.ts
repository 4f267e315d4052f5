/**
 * The one run driver of a CPU: what sits around `cpu.run()` when something
 * must see the run from outside the instructions — the precise checkers
 * compiled into the blocks (src/shadow/instrument.ts: they need the
 * exception deliveries and ESP as a run leaves it) and the debugger's step
 * loop (src/gdb/step-loop.ts: it needs to be called between every two
 * instructions). Both at once is one loop, not two drivers fighting over
 * `cpu.runDriver`: while any client steps, the run is one instruction at a
 * time (`runDirect(1, true)`, which still calls the block compiler's
 * instrumentation through its interpreter hook, so the checks run as they
 * do compiled); otherwise it is the CPU's own loop, compiled blocks and all.
 *
 * The budget and no-progress rules are cpu.run()'s: the run returns when
 * `budget` more instructions retired; a delivery that retires nothing (a
 * fault storm) still uses budget the second time at the same count.
 *
 * REP string instructions run one iteration per execution while a client
 * is attached (cpu.repLimit = 1, as with TF set), so each iteration is
 * checked and each can be a stop — unless every client takes whole chunks
 * (`wholeRepChunks`: it lowers cpu.repChunk to 1 itself, just before an
 * execution whose iterations it must see one by one; the run loop sets the
 * chunk again for the next block).
 *
 * This file is CPU-level: it knows the clients only by this interface.
 */
import type { CPU, CpuObserver, ExceptionEvent } from './cpu.js';
import { REP_CHUNK } from './cpu.js';
import type { StopReason } from './stop.js';

export interface RunClient {
  /** Does it need the run one instruction at a time, with beforeStep/afterStep around each? (Asked at every run.) */
  stepping(): boolean;
  /**
   * Before one step (a guest instruction, a native routine, or a delivery
   * about to happen), while stepping. Clients are called in the order they
   * were added: checkers attach before a debugger, so the debugger sees
   * what they found at this instruction.
   */
  beforeStep?(cpu: CPU): void;
  /** After the step (the instruction retired, faulted, or a native ran; a pending interrupt was delivered). */
  afterStep?(cpu: CPU): void;
  /** An exception or interrupt was delivered (the CPU's observer): the frame the hardware pushed. */
  onException?(ev: ExceptionEvent): void;
  /** The run returned (whatever the reason): the state is as the run left it. */
  runEnded?(cpu: CPU): void;
  /**
   * May REP string instructions run whole chunks of iterations per execution while it is
   * attached? (Default: no, one iteration per execution.) A client that says yes sets
   * cpu.repChunk = 1 itself before an execution whose iterations it must see one at a time.
   */
  readonly wholeRepChunks?: boolean;
}

const drivers = new WeakMap<CPU, RunDriver>();

export class RunDriver {
  readonly clients: RunClient[] = [];
  /** Steps taken one at a time (instructions, native routine steps, deliveries). */
  steps = 0;
  private installed = false;
  private innerObserver: CpuObserver | null = null;
  private readonly observer: CpuObserver;

  private constructor(readonly cpu: CPU) {
    this.observer = {
      onException: (ev) => {
        const cs = this.clients;
        for (let i = 0; i < cs.length; i++) cs[i]!.onException?.(ev);
        this.innerObserver?.onException?.(ev);
      },
    };
  }

  /** The CPU's driver (created on first use; installed only while it has clients). */
  static of(cpu: CPU): RunDriver {
    let d = drivers.get(cpu);
    if (!d) drivers.set(cpu, (d = new RunDriver(cpu)));
    return d;
  }

  get attached(): boolean {
    return this.installed;
  }

  /** Add a client (installing the driver if it is the first). */
  add(c: RunClient): void {
    if (!this.clients.includes(c)) this.clients.push(c);
    this.install();
    this.setRepLimit();
  }

  /** Remove a client (the CPU gets its own loop back after the last). */
  remove(c: RunClient): void {
    const i = this.clients.indexOf(c);
    if (i >= 0) this.clients.splice(i, 1);
    if (this.clients.length === 0) this.uninstall();
    else this.setRepLimit();
  }

  /** One iteration per execution unless every client takes whole chunks. */
  private setRepLimit(): void {
    const cpu = this.cpu;
    cpu.repLimit = this.clients.every((c) => c.wholeRepChunks === true) ? REP_CHUNK : 1;
    cpu.repChunk = Math.min(cpu.repChunk, cpu.repLimit);
  }

  has(c: RunClient): boolean {
    return this.clients.includes(c);
  }

  private install(): void {
    if (this.installed) return;
    const cpu = this.cpu;
    if (cpu.runDriver !== null) throw new Error('the CPU already has a run driver of another kind');
    this.installed = true;
    cpu.repLimit = 1;
    cpu.repChunk = 1;
    cpu.runDriver = (budget: number, single: boolean) => this.run(budget, single);
  }

  private uninstall(): void {
    if (!this.installed) return;
    const cpu = this.cpu;
    cpu.runDriver = null;
    cpu.repLimit = REP_CHUNK;
    cpu.repChunk = REP_CHUNK;
    if (cpu.observer === this.observer) cpu.observer = this.innerObserver;
    this.innerObserver = null;
    this.installed = false;
  }

  /** cpu.run() with the clients around it: same budget and stop semantics. */
  private run(budget: number, single: boolean): StopReason | null {
    const cpu = this.cpu;
    // Watch exception deliveries, chaining to whatever observer is set (a tracer may be set after attaching).
    if (cpu.observer !== this.observer) {
      this.innerObserver = cpu.observer;
      cpu.observer = this.observer;
    }
    let stepping = false;
    for (let i = 0; i < this.clients.length && !stepping; i++) stepping = this.clients[i]!.stepping();
    const stop = stepping ? this.stepLoop(budget, single) : cpu.runDirect(budget, single);
    const cs = this.clients;
    for (let i = 0; i < cs.length; i++) cs[i]!.runEnded?.(cpu);
    return stop;
  }

  /** One step at a time, every client called around each. */
  private stepLoop(budget: number, single: boolean): StopReason | null {
    const cpu = this.cpu;
    const cs = this.clients;
    let limit = cpu.icount + budget;
    let lastNoProgress = -1;
    while (cpu.stopReason === null) {
      if (cpu.icount >= limit) return single ? null : { kind: 'budget', executed: cpu.icount };
      // Deliver pending device events first, so the instruction the clients see is the one that runs.
      for (let g = 0; g < 16 && cpu.icount >= cpu.attentionAt && cpu.stopReason === null; g++) {
        cpu.runDirect(0, true);
        for (let i = 0; i < cs.length; i++) cs[i]!.afterStep?.(cpu);
      }
      if (cpu.stopReason !== null) break;
      const before = cpu.icount;
      for (let i = 0; i < cs.length; i++) cs[i]!.beforeStep?.(cpu);
      if (cpu.stopReason !== null) break; // a client ended the run (gdb's kill)
      cpu.runDirect(1, true);
      this.steps++;
      for (let i = 0; i < cs.length; i++) cs[i]!.afterStep?.(cpu);
      if (cpu.icount === before) {
        // Nothing retired (an exception delivered): as cpu.run, a fault storm still uses budget.
        if (lastNoProgress === before) limit--;
        lastNoProgress = before;
      }
      if (single) break;
    }
    return cpu.stopReason;
  }
}
