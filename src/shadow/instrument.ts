/**
 * The precise checkers compiled into the blocks: the kernel's one
 * instrumentation (src/cpu/instrument.ts) shared by the heap's InlineChecker
 * (./inline.ts) and the precise stack oracle (./stack-precise.ts), as a
 * Valgrind tool instruments the IR instead of single-stepping the program.
 *
 * - **Decided at compile time**: the block compiler asks `wants(ins)` once
 *   per instruction; only instructions that make a memory access (decoded
 *   with `decodeAccesses` against a register file where every count is
 *   non-zero) or that a client wants for another reason (the stack oracle:
 *   instructions that may move ESP, `mayWriteEsp`) get the call emitted
 *   ahead of them. Every other instruction runs as in plain mode.
 * - **Registers read only for a finding**: the accesses are computed from
 *   the live register file (no copy); the context an error record needs
 *   (registers, EFLAGS, selectors) is taken from the CPU only when an
 *   error is saved (`CheckedInstruction.fill`, called by ShadowRules.error).
 * - **One test for untracked pages**: each shadow keeps a tracked byte per
 *   virtual page (Shadow.tracked); the rules look at nothing else for an
 *   access to an untracked page.
 * - **Liveness where ESP changes**: the stack oracle sees ESP ahead of
 *   every instruction that may move it and every instruction that touches
 *   memory, at each exception delivery (the CPU observer) and at the end of
 *   every run; between two of those ESP cannot change, so bytes die
 *   exactly as when every instruction was observed.
 *
 * REP string instructions run one iteration per execution while the
 * instrumentation is on (cpu.repLimit = 1, as with TF), so each iteration
 * is checked at its own addresses, as under kmemcheck where each one faults.
 * Native kernel routines are not guest instructions: their accesses go
 * through the kernel API's accessor (./accessor.ts).
 */
import type { CPU, CpuObserver, ExceptionEvent } from '../cpu/cpu.js';
import { REP_CHUNK } from '../cpu/cpu.js';
import type { Instr } from '../cpu/instr.js';
import type { Instrumentation } from '../cpu/instrument.js';
import type { StopReason } from '../cpu/stop.js';
import type { Kernel } from '../kernel/kernel.js';
import { HiddenFault, PageHidingService } from '../kernel/page-hiding.js';
import { AccessList, decodeAccesses, type AccessContext } from './access.js';

/**
 * One instruction about to run, with its decoded accesses: a HiddenFault
 * (the shape the shadow rules take) whose `context` is filled from the CPU
 * only when an error is saved (`fill`).
 */
export class CheckedInstruction extends HiddenFault {
  cpu: CPU | null = null;
  /** Copy the CPU's registers into `context`: the instruction has not run yet, so they are its inputs. */
  fill(): void {
    if (this.cpu === null) return;
    this.context.fromCpu(this.cpu);
    this.context.eip = this.eip;
  }
}

/** A client of the compiled checks: a precise checker. */
export interface CheckClient {
  /** Is it on, with something to check? (Otherwise it is not called.) */
  checking(): boolean;
  /** Compile time: does it want to see `ins` even when `ins` makes no memory access? */
  wantsInstruction(ins: Instr): boolean;
  /** Before a wanted instruction (a guest instruction, not a native routine): `f` holds it and its accesses. */
  beforeInstruction(cpu: CPU, f: CheckedInstruction): void;
  /** Before a native kernel routine runs (it is reached by a CALL or a gate; its RET or IRET moves ESP). */
  beforeNative?(cpu: CPU): void;
  /** A run of the CPU ended (budget, stop, or a single step): ESP may have moved since the last instruction seen. */
  afterRun?(cpu: CPU): void;
  /** An exception or interrupt was delivered (from the CPU's observer): the frame the hardware pushed. */
  onException?(ev: ExceptionEvent): void;
}

export interface CheckStats {
  /** Instructions the checks ran ahead of. */
  checked: number;
  /** Blocks' instructions the compiler asked about, and how many got the call. */
  asked: number;
  instrumented: number;
}

const instrumentations = new WeakMap<Kernel, CheckInstrumentation>();

/** A register file where every count register is non-zero, for the compile-time question "does it access memory?". */
const STATIC_CONTEXT: AccessContext = { regs: new Int32Array(8).fill(1), segBase: new Int32Array(6) };
const staticAccesses = new AccessList();

/** Does `ins` make a memory access (whatever its registers hold)? Conservative when the decoder cannot say. */
export function accessesMemory(ins: Instr): boolean {
  if (ins.def === null || ins.native !== null) return false;
  if (ins.mem || ins.def.string) return true;
  try {
    decodeAccesses(ins, STATIC_CONTEXT, staticAccesses);
    return staticAccesses.count > 0;
  } catch {
    return true;
  }
}

export class CheckInstrumentation implements Instrumentation {
  readonly clients: CheckClient[] = [];
  readonly stats: CheckStats = { checked: 0, asked: 0, instrumented: 0 };
  /**
   * A page-hiding service that is never installed and hides nothing: used
   * only for its page-table peeks (what ErrorQueue.save() reads the memory
   * dump and the stack with, and the dead-load rule the code bytes).
   */
  readonly peeker: PageHidingService;
  private readonly fault = new CheckedInstruction();
  /** The live register file the accesses are decoded against (no copy). */
  private readonly live: AccessContext;
  private installed = false;
  private innerObserver: CpuObserver | null = null;
  private readonly observer: CpuObserver;

  constructor(readonly kernel: Kernel) {
    this.peeker = new PageHidingService(kernel);
    const cpu = kernel.cpu;
    this.live = { regs: cpu.regs, segBase: cpu.segBase };
    this.fault.cpu = cpu;
    this.observer = {
      onException: (ev) => {
        for (const c of this.clients) c.onException?.(ev);
        this.innerObserver?.onException?.(ev);
      },
    };
  }

  /** The kernel's instrumentation (created on first use; installed only while it has clients). */
  static of(kernel: Kernel): CheckInstrumentation {
    let s = instrumentations.get(kernel);
    if (!s) instrumentations.set(kernel, (s = new CheckInstrumentation(kernel)));
    return s;
  }

  get attached(): boolean {
    return this.installed;
  }

  /** Add a client (installing the instrumentation if it is the first). */
  add(c: CheckClient): void {
    if (!this.clients.includes(c)) this.clients.push(c);
    this.install();
  }

  /** Remove a client (the CPU runs uninstrumented again after the last). */
  remove(c: CheckClient): void {
    const i = this.clients.indexOf(c);
    if (i >= 0) this.clients.splice(i, 1);
    if (this.clients.length === 0) this.uninstall();
    else this.kernel.cpu.flushCode(); // what the others want may differ
  }

  has(c: CheckClient): boolean {
    return this.clients.includes(c);
  }

  // ---- src/cpu's Instrumentation --------------------------------------------------

  wants(ins: Instr): boolean {
    this.stats.asked++;
    if (ins.def === null || ins.native !== null) return false;
    let want = accessesMemory(ins);
    for (let i = 0; !want && i < this.clients.length; i++) want = this.clients[i]!.wantsInstruction(ins);
    if (want) this.stats.instrumented++;
    return want;
  }

  before(cpu: CPU, ins: Instr): void {
    const clients = this.clients;
    if (ins.native !== null) {
      // A native routine: its accesses go through the accessor; ESP as the CALL left it.
      for (let i = 0; i < clients.length; i++) {
        const c = clients[i]!;
        if (c.checking()) c.beforeNative?.(cpu);
      }
      return;
    }
    if (ins.def === null) return;
    const f = this.fault;
    f.ins = ins;
    f.eip = cpu.eip;
    f.cr2 = 0;
    f.errorCode = 0;
    try {
      decodeAccesses(ins, this.live, f.accesses);
    } catch {
      f.accesses.clear();
    }
    this.stats.checked++;
    for (let i = 0; i < clients.length; i++) {
      const c = clients[i]!;
      if (c.checking()) c.beforeInstruction(cpu, f);
    }
  }

  // ---- installing -----------------------------------------------------------------

  private install(): void {
    if (this.installed) return;
    const cpu = this.kernel.cpu;
    this.installed = true;
    // One REP iteration per execution, as with TF set: each iteration is checked.
    cpu.repLimit = 1;
    cpu.repChunk = 1;
    cpu.runDriver = (budget: number, single: boolean) => this.run(cpu, budget, single);
    cpu.setInstrumentation(this);
  }

  private uninstall(): void {
    if (!this.installed) return;
    const cpu = this.kernel.cpu;
    cpu.runDriver = null;
    cpu.setInstrumentation(null);
    cpu.repLimit = REP_CHUNK;
    cpu.repChunk = REP_CHUNK;
    if (cpu.observer === this.observer) cpu.observer = this.innerObserver;
    this.innerObserver = null;
    this.installed = false;
  }

  /** cpu.run(): the CPU's own loop, with the exception observer chained in and the clients told when it ends. */
  private run(cpu: CPU, budget: number, single: boolean): StopReason | null {
    // Watch exception deliveries, chaining to whatever observer is set (a tracer may be set after attaching).
    if (cpu.observer !== this.observer) {
      this.innerObserver = cpu.observer;
      cpu.observer = this.observer;
    }
    const stop = cpu.runDirect(budget, single);
    for (const c of this.clients) c.afterRun?.(cpu);
    return stop;
  }
}
