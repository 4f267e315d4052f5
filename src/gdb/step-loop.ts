/**
 * The gdb stub's step loop (./stub.ts): the machine run one instruction at
 * a time with the stub called around each, so a breakpoint, a watchpoint
 * or a finding stops the guest exactly between two instructions. Only
 * attached while gdb is; without `--gdb` the CPU runs compiled as usual.
 */
import type { CPU, CpuObserver, ExceptionEvent } from '../cpu/cpu.js';
import { REP_CHUNK } from '../cpu/cpu.js';
import type { StopReason } from '../cpu/stop.js';
import type { Kernel } from '../kernel/kernel.js';
import { HiddenFault, PageHidingService } from '../kernel/page-hiding.js';
import { decodeAccesses } from '../shadow/access.js';

const CS = 1;

/** The CPU already has a run driver of another kind. */
export class StepLoopBusy extends Error {}

/**
 * A client of the step loop (the gdb stub): it sees each instruction's
 * decoded accesses before the instruction runs, and is called again after
 * every step (instructions, native routine steps, exception and interrupt
 * deliveries).
 */
export interface StepClient {
  /** Does this client want the instruction at CS:EIP decoded now (the decode is shared and done at most once a step)? */
  wantsDecode(): boolean;
  /**
   * Before one step. `f` holds the decoded instruction and its accesses
   * (the CPU state in `f.context`) when some client wanted the decode and
   * the step is a guest instruction; null for a native routine step or
   * when nobody wanted it decoded.
   */
  beforeStep(cpu: CPU, f: HiddenFault | null): void;
  /** After the step (the instruction retired, faulted, or a native ran; ESP may have moved). */
  afterStep?(cpu: CPU): void;
  /** An exception or interrupt was delivered (from the CPU's observer): the frame the hardware pushed. */
  onException?(ev: ExceptionEvent): void;
}

export interface SingleStepperStats {
  /** Steps taken (instructions, native routine steps, deliveries). */
  steps: number;
  /** Guest instructions decoded for the clients. */
  decoded: number;
}

const steppers = new WeakMap<Kernel, SingleStepper>();

/**
 * The debugger's step loop: while it has clients, it is `cpu.runDriver`, a
 * loop of `runDirect(1, true)` (REP limit 1, as with TF), and each client
 * is called before and after every step, so a stop is the stub serving
 * packets between two instructions. With the fault-driven kmemcheck on as
 * well, kmemcheck's own #PF/#DB steps simply happen inside this loop. The
 * precise checkers are compiled into the blocks instead
 * (src/shadow/instrument.ts) and drive the CPU themselves: the two cannot
 * be attached to one CPU at once (attach() says so).
 */
export class SingleStepper {
  readonly clients: StepClient[] = [];
  readonly stats: SingleStepperStats = { steps: 0, decoded: 0 };
  /**
   * A page-hiding service that is never installed and hides nothing: used
   * only for its instruction decoder cache and its page-table peeks (what
   * ErrorQueue.save() reads the memory dump and the stack with).
   */
  readonly peeker: PageHidingService;
  private readonly fault = new HiddenFault();
  private driving = false;
  private innerObserver: CpuObserver | null = null;
  private readonly observer: CpuObserver;

  constructor(readonly kernel: Kernel) {
    this.peeker = new PageHidingService(kernel);
    this.observer = {
      onException: (ev) => {
        for (const c of this.clients) c.onException?.(ev);
        this.innerObserver?.onException?.(ev);
      },
    };
  }

  /** The kernel's stepper (created on first use; attached only while it has clients). */
  static of(kernel: Kernel): SingleStepper {
    let s = steppers.get(kernel);
    if (!s) steppers.set(kernel, (s = new SingleStepper(kernel)));
    return s;
  }

  get attached(): boolean {
    return this.driving;
  }

  /** Add a client (attaching the loop if it is the first). */
  add(c: StepClient): void {
    if (!this.clients.includes(c)) this.clients.push(c);
    this.attach();
  }

  /** Remove a client (giving the CPU its own loop back after the last). */
  remove(c: StepClient): void {
    const i = this.clients.indexOf(c);
    if (i >= 0) this.clients.splice(i, 1);
    if (this.clients.length === 0) this.detach();
  }

  has(c: StepClient): boolean {
    return this.clients.includes(c);
  }

  private attach(): void {
    if (this.driving) return;
    const cpu = this.kernel.cpu;
    if (cpu.runDriver !== null) throw new StepLoopBusy('the CPU is already driven by another run loop (--kmemcheck-inline or --stack precise): gdb cannot single-step it as well');
    this.driving = true;
    // One REP iteration per step, as with TF set.
    cpu.repLimit = 1;
    cpu.repChunk = 1;
    cpu.runDriver = (budget: number, single: boolean) => this.run(cpu, budget, single);
  }

  private detach(): void {
    if (!this.driving) return;
    const cpu = this.kernel.cpu;
    cpu.runDriver = null;
    cpu.repLimit = REP_CHUNK;
    cpu.repChunk = REP_CHUNK;
    if (cpu.observer === this.observer) cpu.observer = this.innerObserver;
    this.innerObserver = null;
    this.driving = false;
  }

  /** cpu.run() with the clients called around every step. Same budget and stop semantics. */
  private run(cpu: CPU, budget: number, single: boolean): StopReason | null {
    // Watch exception deliveries, chaining to whatever observer is set (a tracer may be set after attaching).
    if (cpu.observer !== this.observer) {
      this.innerObserver = cpu.observer;
      cpu.observer = this.observer;
    }
    const clients = this.clients;
    let limit = cpu.icount + budget;
    let lastNoProgress = -1;
    while (cpu.stopReason === null) {
      if (cpu.icount >= limit) return single ? null : { kind: 'budget', executed: cpu.icount };
      // Deliver pending device events first, so the instruction checked is the one that runs.
      for (let g = 0; g < 16 && cpu.icount >= cpu.attentionAt && cpu.stopReason === null; g++) {
        cpu.runDirect(0, true);
        for (let i = 0; i < clients.length; i++) clients[i]!.afterStep?.(cpu);
      }
      if (cpu.stopReason !== null) break;
      const before = cpu.icount;
      const f = this.decode(cpu);
      for (let i = 0; i < clients.length; i++) clients[i]!.beforeStep(cpu, f);
      cpu.runDirect(1, true);
      this.stats.steps++;
      for (let i = 0; i < clients.length; i++) clients[i]!.afterStep?.(cpu);
      if (cpu.icount === before) {
        // Nothing retired (an exception delivered): as cpu.run, a fault storm still uses budget.
        if (lastNoProgress === before) limit--;
        lastNoProgress = before;
      }
      if (single) break;
    }
    return cpu.stopReason;
  }

  /** Decode the instruction at CS:EIP and its accesses, when a client wants it and it is not a native routine. */
  private decode(cpu: CPU): HiddenFault | null {
    let want = false;
    for (let i = 0; i < this.clients.length && !want; i++) want = this.clients[i]!.wantsDecode();
    if (!want) return null;
    const lin = (cpu.segBase[CS] + cpu.eip) | 0;
    if (cpu.nativeAt(lin)) return null; // a native kernel routine: its accesses go through the accessor
    const f = this.fault;
    const ins = this.peeker.decodeAt(lin);
    if (ins.def === null) return null;
    f.ins = ins;
    f.eip = cpu.eip;
    f.errorCode = 0;
    f.context.fromCpu(cpu);
    f.accesses.clear();
    try {
      decodeAccesses(ins, f.context, f.accesses);
    } catch {
      f.accesses.clear();
    }
    this.stats.decoded++;
    return f;
  }
}
