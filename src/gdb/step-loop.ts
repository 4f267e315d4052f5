/**
 * The gdb stub's step loop (./stub.ts): the debugger's client of the CPU's
 * one run driver (src/cpu/run-driver.ts), which runs the machine one
 * instruction at a time while the debugger is attached, so a breakpoint,
 * a watchpoint or a finding stops the guest exactly between two
 * instructions. Only attached while gdb is; without `--gdb` the CPU runs
 * compiled as usual.
 *
 * The precise checkers (--kmemcheck-inline, --stack precise) are clients
 * of the same driver (src/shadow/instrument.ts): while the debugger steps,
 * their checks run through the interpreter's instrumentation hook, and
 * they check each instruction before the debugger sees it, so
 * `--gdb-on-finding` stops at the instruction they report, before it runs.
 */
import type { CPU } from '../cpu/cpu.js';
import type { ExceptionEvent } from '../cpu/cpu.js';
import type { Instr } from '../cpu/instr.js';
import { RunDriver, type RunClient } from '../cpu/run-driver.js';
import { HiddenFault } from '../kernel/page-hiding.js';
import { decodeAccesses } from '../shadow/access.js';
import type { DebugMemory } from './stub.js';

const CS = 1;

/** Guest memory and code as the debugger sees them (linear addresses through the current page tables). */
export interface DebugView extends DebugMemory {
  /** The instruction at a linear address (its `def` null when it cannot be decoded). */
  decodeAt(lin: number): Instr;
}

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

const steppers = new WeakMap<CPU, SingleStepper>();

/**
 * The debugger's stepping: while it has clients it is a stepping client of
 * the CPU's run driver, and each of its clients is called before and after
 * every step, so a stop is the stub serving packets between two
 * instructions. With the fault-driven kmemcheck on as well, kmemcheck's own
 * #PF/#DB steps simply happen inside this loop.
 */
export class SingleStepper implements RunClient {
  readonly clients: StepClient[] = [];
  private readonly fault = new HiddenFault();
  private decoded = 0;

  private constructor(readonly cpu: CPU, readonly view: DebugView) {}

  /** The CPU's stepper (created on first use, with the view it decodes through; attached only while it has clients). */
  static of(cpu: CPU, view: DebugView): SingleStepper {
    let s = steppers.get(cpu);
    if (!s) steppers.set(cpu, (s = new SingleStepper(cpu, view)));
    return s;
  }

  get stats(): SingleStepperStats {
    return { steps: RunDriver.of(this.cpu).steps, decoded: this.decoded };
  }

  get attached(): boolean {
    return RunDriver.of(this.cpu).has(this);
  }

  /** Add a client (attaching to the run driver if it is the first). */
  add(c: StepClient): void {
    if (!this.clients.includes(c)) this.clients.push(c);
    RunDriver.of(this.cpu).add(this);
  }

  /** Remove a client (leaving the run driver after the last). */
  remove(c: StepClient): void {
    const i = this.clients.indexOf(c);
    if (i >= 0) this.clients.splice(i, 1);
    if (this.clients.length === 0) RunDriver.of(this.cpu).remove(this);
  }

  has(c: StepClient): boolean {
    return this.clients.includes(c);
  }

  // ---- RunClient ---------------------------------------------------------------------

  stepping(): boolean {
    return this.clients.length > 0;
  }

  beforeStep(cpu: CPU): void {
    const f = this.decode(cpu);
    const cs = this.clients;
    for (let i = 0; i < cs.length; i++) cs[i]!.beforeStep(cpu, f);
  }

  afterStep(cpu: CPU): void {
    const cs = this.clients;
    for (let i = 0; i < cs.length; i++) cs[i]!.afterStep?.(cpu);
  }

  onException(ev: ExceptionEvent): void {
    const cs = this.clients;
    for (let i = 0; i < cs.length; i++) cs[i]!.onException?.(ev);
  }

  /** Decode the instruction at CS:EIP and its accesses, when a client wants it and it is not a native routine. */
  private decode(cpu: CPU): HiddenFault | null {
    let want = false;
    for (let i = 0; i < this.clients.length && !want; i++) want = this.clients[i]!.wantsDecode();
    if (!want) return null;
    const lin = (cpu.segBase[CS] + cpu.eip) | 0;
    if (cpu.nativeAt(lin)) return null; // a native kernel routine: its accesses go through the accessor
    const f = this.fault;
    const ins = this.view.decodeAt(lin);
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
    this.decoded++;
    return f;
  }
}
