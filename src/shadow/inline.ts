/**
 * The precise inline checker: kmemcheck's shadow semantics (./kmemcheck.ts)
 * applied to every guest memory access directly, without hidden pages or
 * faults.
 *
 * While attached, the CPU runs one instruction at a time (the kernel's
 * SingleStepper becomes `cpu.runDriver`: a loop of `runDirect(1, true)`;
 * the checker is one of its clients, the precise stack oracle in
 * ./stack-precise.ts another), and before each instruction its accesses
 * are decoded (decodeAccesses, the same decoder the page-hiding service uses) and checked against the
 * shadow, exactly as Kmemcheck.onFault() does for a faulting instruction:
 *
 * - a read of bytes that are not initialized queues an error (same
 *   ErrorQueue: same-EIP suppression, 64 records, lost count) and marks
 *   the bytes initialized; `partialOk` as in kmemcheck;
 * - a write marks the bytes initialized;
 * - MOVS, PUSH m, POP m copy the shadow and report only bytes whose
 *   destination is untracked;
 * - read-modify-write instructions count as writes unless
 *   `checkReadModifyWrite`.
 *
 * REP string instructions run one iteration per step (`cpu.repLimit` is
 * 1 while attached, as when single-stepping with TF), so each
 * iteration is decoded and checked, as under kmemcheck, where every
 * iteration faults. Native kernel routines are not guest instructions:
 * their accesses go through the kernel API's accessor (writes initialize).
 *
 * What the fault-driven engine can do and this cannot: handle accesses the
 * decoder does not predict (kmemcheck's CR2 fallback). The decoder covers
 * every data access module code makes; see src/shadow/access.ts.
 */
import type { CPU, CpuObserver, ExceptionEvent } from '../cpu/cpu.js';
import { REP_CHUNK } from '../cpu/cpu.js';
import type { StopReason } from '../cpu/stop.js';
import type { Kernel } from '../kernel/kernel.js';
import { HiddenFault, PageHidingService } from '../kernel/page-hiding.js';
import { decodeAccesses } from './access.js';
import { ShadowRules, type ShadowRuleOptions } from './rules.js';
import type { KmemcheckError } from './errors.js';
import { toFinding, type Finding, type SourceLocator, type Symbolizer } from './report.js';
import {
  SHADOW_UNINITIALIZED, type ShadowState,
} from './shadow.js';

/** partialOk, checkReadModifyWrite, oneShot, enabled, queueSize (see ShadowRuleOptions in rules.ts). */
export type InlineOptions = ShadowRuleOptions;

export interface InlineStats {
  /** Instructions decoded and checked. */
  instructions: number;
  /** Reads that touched tracked bytes. */
  reads: number;
  writes: number;
  copies: number;
  /** Invalid reads found (reported, suppressed or lost). */
  errors: number;
}

/** A finding of the inline checker: kmemcheck's JSON format with `checker: "inline"`. */
export type InlineFinding = Omit<Finding, 'checker'> & { checker: 'inline' };

const CS = 1;
const ESP = 4;


/**
 * A per-instruction checker driven by the SingleStepper: it sees each
 * instruction's decoded accesses before the instruction runs, and ESP
 * before and after every step (instructions, native routine steps,
 * exception and interrupt deliveries).
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
 * The one single-step loop every precise checker shares: while it has
 * clients, it is `cpu.runDriver`, a loop of `runDirect(1, true)` (REP
 * limit 1, as with TF), and each client is called before and after
 * every step. The heap's InlineChecker and the precise stack oracle
 * (./stack-precise.ts) are its clients; with the fault-driven kmemcheck on
 * as well, kmemcheck's own #PF/#DB steps simply happen inside this loop.
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

/** ESP now (for clients). */
export function espOf(cpu: CPU): number {
  return cpu.regs[ESP]! | 0;
}

export class InlineChecker extends ShadowRules implements StepClient {
  readonly origin = { checker: 'inline', region: 'heap' } as const;
  readonly name = 'inline';
  readonly stats: InlineStats = { instructions: 0, reads: 0, writes: 0, copies: 0, errors: 0 };
  /** The kernel's single-step loop (shared with the precise stack oracle). */
  readonly stepper: SingleStepper;
  /** The stepper's never-installed page-hiding service (decoder cache, page-table peeks). */
  readonly peeker: PageHidingService;

  constructor(readonly kernel: Kernel, opts: InlineOptions = {}) {
    super(opts);
    this.stepper = SingleStepper.of(kernel);
    this.peeker = this.stepper.peeker;
    if (opts.enabled === false) this.on = false;
  }

  /** A new checker on `kernel`, attached (the CPU single-steps through it from now on). */
  static attach(kernel: Kernel, opts: InlineOptions = {}): InlineChecker {
    const c = new InlineChecker(kernel, opts);
    c.attach();
    return c;
  }

  /** Run-time on/off: off, no checks and no shadow updates (as kmemcheck switched off). */
  setEnabled(on: boolean): void {
    this.on = on;
  }

  get attached(): boolean {
    return this.stepper.has(this);
  }

  /** Join the kernel's single-step loop (the CPU single-steps from now on). */
  attach(): void {
    this.stepper.add(this);
  }

  /** Leave it (the CPU gets its own run loop back when no other client is left). */
  detach(): void {
    this.stepper.remove(this);
  }

  wantsDecode(): boolean {
    return this.on && this.shadow.trackedPages !== 0;
  }

  beforeStep(_cpu: CPU, f: HiddenFault | null): void {
    if (f === null || !this.on || this.shadow.trackedPages === 0) return;
    this.stats.instructions++;
    this.apply(f);
  }

  /** The shadow work for one instruction (Kmemcheck.onFault() without the CR2 fallback). */
  apply(f: HiddenFault): void {
    this.applyAccesses(f, true);
  }

  protected memorySource(): PageHidingService {
    return this.peeker;
  }

  // ---- tracking -----------------------------------------------------------------

  /** Track [virt, virt + bytes) with `initial` (other bytes of new pages initialized). Nothing is hidden. */
  track(virt: number, bytes: number, initial: ShadowState = SHADOW_UNINITIALIZED): void {
    this.shadow.track(virt, bytes, initial);
  }
  untrack(virt: number, bytes: number): void {
    this.shadow.untrack(virt, bytes);
  }
}

/** A drained error as an inline-checker finding. */
export function toInlineFinding(e: KmemcheckError, symbolize?: Symbolizer, locate?: SourceLocator): InlineFinding {
  return { ...toFinding(e, symbolize, locate), checker: 'inline' };
}
