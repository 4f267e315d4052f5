/**
 * The precise stack oracle (`--stack precise`): the stack shadow of
 * ./stack.ts with exact liveness, as the reference the two 2008 strategies
 * (Vegard's CPL-1 tracker, Ingo's ftrace poisoning) are measured against.
 *
 * It is a client of the kernel's compiled checks (CheckInstrumentation in
 * ./instrument.ts, shared with the heap's InlineChecker), so it sees
 *
 *  - ESP where compiled code moves it (espMovedCode, emitted inline),
 *    ahead of the next checked instruction after one that may move it
 *    (decided when the block is compiled: mayWriteEsp), ahead of every
 *    native routine, at every exception or interrupt delivery and at the
 *    end of every run: every value ESP takes, since ESP changes nowhere
 *    else (a CALL to kmalloc pushes the return address, seen ahead of the
 *    native; the native's RET pops it, seen at the next instruction, and
 *    the popped word dies). When ESP rises over bytes they die
 *    (StackRules.espChanged: uninitialized when the stack grows over them
 *    again);
 *  - every access of every guest instruction, decoded just before it runs
 *    (decodeAccesses, the decoder kmemcheck uses), applied with kmemcheck's
 *    rules (ShadowRules.applyAccesses): writes initialize, a read of bytes
 *    that are not initialized is a finding and initializes them, copies
 *    (PUSH m, POP m, MOVS) carry the states, read-modify-write counts as a
 *    write unless `checkReadModifyWrite`; errors go through kmemcheck's
 *    ErrorQueue (same-EIP suppression, 64 records, lost count);
 *  - the frame the CPU pushes when it delivers an exception or interrupt
 *    onto the tracked stack (through the CPU observer): written by the
 *    hardware, so initialized;
 *  - the words the host pushes for a guest call (callGuest: stack
 *    arguments, return address): initialized (addGuestCallHooks);
 *  - native routines' reads of 32-bit stack arguments through the kernel
 *    API's accessor (printk's varargs, stack arguments 4 and up): checked
 *    like a guest read, attributed to the native (its bound address, so the
 *    finding names `printk`). Natives' string reads (`%s` of a stack buffer)
 *    are checked byte by byte up to the NUL (GuestAccessor.used →
 *    ShadowRules.nativeUse, through src/shadow/accessor.ts).
 *
 * Only stacks are tracked: the allocator hooks may call track() with
 * heap memory (the same hook policy as every checker), which is ignored.
 * The first stack is the ring-0 kernel stack, 16 KiB below
 * kva(PHYS_KSTACK_TOP), unless `low`/`high` say otherwise; once the kernel
 * has a scheduler, every task's kernel stack is tracked and the running
 * task's is the one ESP is measured against (./task-stacks.ts): liveness
 * per task, a new task's stack all dead, an exited task's forgotten when
 * it is freed.
 *
 * With the fault-driven kmemcheck on as well, an instruction that faults on
 * a hidden heap page is checked here before its first attempt and again
 * before its single-stepped retry (a read error marks the bytes
 * initialized, so the retry does not report again).
 */
import type { CPU, ExceptionEvent } from '../cpu/cpu.js';
import type { Instr } from '../cpu/instr.js';
import type { Kernel } from '../kernel/kernel.js';
import { addGuestCallHooks } from '../kernel/call.js';
import type { PageHidingService } from '../kernel/page-hiding.js';
import { KERNEL_STACK_SIZE, PHYS_KSTACK_TOP, kva } from '../kernel/layout.js';
import type { ShadowRuleOptions, RuleStats } from './rules.js';
import { StackRules } from './stack.js';
import { TaskStacks } from './task-stacks.js';
import { CheckInstrumentation, type CheckClient, type CheckedInstruction } from './instrument.js';
import { mayWriteEsp } from './esp-writers.js';
import { SHADOW_INITIALIZED, SHADOW_UNINITIALIZED, type ShadowState } from './shadow.js';
import type { KmemcheckError } from './errors.js';
import { toFinding, type Finding, type SourceLocator, type Symbolizer } from './report.js';

/** The ring-0 kernel stack's size (src/kernel/layout.ts). */
export { KERNEL_STACK_SIZE };

export interface PreciseStackOptions extends ShadowRuleOptions {
  /** The tracked stack [low, high) (default: the ring-0 kernel stack). */
  low?: number;
  high?: number;
  /** Check natives' 32-bit stack-argument reads (default true). */
  checkNatives?: boolean;
}

export interface PreciseStackStats extends RuleStats {
  /** Guest instructions whose accesses were checked (those that touch memory or may move ESP). */
  instructions: number;
  /** ESP observations (instructions checked, deliveries, ends of runs). */
  steps: number;
  /** Times ESP rose and killed bytes. */
  kills: number;
  /** Natives' stack-argument reads checked. */
  nativeReads: number;
  /** Exception/interrupt frames the CPU pushed onto the tracked stack. */
  exceptionFrames: number;
  /** Host pushes for guest calls. */
  hostPushes: number;
}

/** The ring-0 kernel stack's bounds, [low, high). */
export function kernelStackBounds(): { low: number; high: number } {
  const high = kva(PHYS_KSTACK_TOP) >>> 0;
  return { low: (high - KERNEL_STACK_SIZE) >>> 0, high };
}

export class PreciseStack extends StackRules implements CheckClient {
  readonly checker = 'precise' as const;
  readonly name = 'precise-stack';
  readonly stats: PreciseStackStats = {
    reads: 0, writes: 0, copies: 0, errors: 0, instructions: 0, steps: 0, kills: 0, nativeReads: 0, exceptionFrames: 0, hostPushes: 0,
  };
  readonly instrumentation: CheckInstrumentation;
  checkNatives: boolean;
  private hooked = false;
  private active = false;
  /** The kernel's tasks, once it has a scheduler: one stack shadow per task. */
  private readonly taskStacks: { tasks: TaskStacks | null };

  constructor(readonly kernel: Kernel, opts: PreciseStackOptions = {}) {
    super(opts);
    this.instrumentation = CheckInstrumentation.of(kernel);
    this.checkNatives = opts.checkNatives ?? true;
    const b = kernelStackBounds();
    this.beginStack(opts.low ?? b.low, opts.high ?? b.high);
    if (opts.enabled === false) this.on = false;
    this.taskStacks = TaskStacks.follow(kernel, this, () => this.instrumentation.forgetEsp());
  }

  /** The per-task stacks (null while the kernel has no scheduler). */
  get tasks(): TaskStacks | null {
    return this.taskStacks.tasks;
  }

  /** A new oracle on `kernel`'s ring-0 stack, attached. */
  static attach(kernel: Kernel, opts: PreciseStackOptions = {}): PreciseStack {
    const s = new PreciseStack(kernel, opts);
    s.attach();
    return s;
  }

  get attached(): boolean {
    return this.active;
  }

  /** Join the compiled checks and the guest-call hooks. */
  attach(): void {
    if (this.active) return;
    this.active = true;
    this.instrumentation.add(this);
    // Hear of callGuest()'s pushes (stack arguments, return address): initialized. Once per oracle.
    if (this.hooked) return;
    this.hooked = true;
    addGuestCallHooks(this.kernel, {
      pushed: (_k, esp, bytes) => {
        if (!this.active || !this.on) return;
        this.stats.hostPushes++;
        this.hostPushed(esp, bytes);
        this.instrumentation.forgetEsp();
      },
    });
  }

  detach(): void {
    if (!this.active) return;
    this.active = false;
    this.instrumentation.remove(this);
  }

  /** Run-time on/off: off, no checks and no shadow updates. */
  setEnabled(on: boolean): void {
    this.on = on;
  }

  /** Only the stack is tracked: heap ranges from the allocator hooks are ignored. */
  track(virt: number, bytes: number, initial: ShadowState = SHADOW_UNINITIALIZED): void {
    if (bytes <= 0) return;
    const a = virt >>> 0;
    const lo = Math.max(a, this.low);
    const hi = Math.min(a + bytes, this.high);
    if (lo < hi) this.shadow.track(lo | 0, hi - lo, initial);
  }

  untrack(virt: number, bytes: number): void {
    if (bytes <= 0 || !this.onStack(virt, bytes)) return;
    this.shadow.untrack(virt, bytes);
  }

  protected memorySource(): PageHidingService {
    return this.instrumentation.peeker;
  }

  // ---- the client of the compiled checks ---------------------------------------------

  checking(): boolean {
    return this.on;
  }

  /** Instructions that may move ESP, besides those that touch memory. */
  wantsInstruction(ins: Instr): boolean {
    return mayWriteEsp(ins);
  }

  beforeInstruction(_cpu: CPU, f: CheckedInstruction): void {
    this.stats.instructions++;
    this.applyAccesses(f, true);
  }

  /** ESP moved (the compiled checks tell ahead of the instructions and natives that may see it, and at the end of runs). */
  espMoved(esp: number, eip = 0): void {
    if (!this.on) return;
    // What ESP's move grows the stack over becomes the frame of the function running: the origin.
    this.growEip = eip === 0 ? null : eip >>> 0;
    this.stats.steps++;
    this.espChanged(esp);
    this.stats.kills = this.kills;
  }

  /**
   * espMoved() as code, for the compiled checks to emit where generated code
   * moves ESP (`esp`: the new value; `eip`: the instruction a grown frame
   * is attributed to): on/off, the counters and growEip as espMoved sets
   * them (growEip as an int32), then StackRules.espChangedCode.
   */
  espMovedCode(bind: (v: unknown) => string, esp: string, eip: number): string {
    const self = bind(this);
    if (eip === 0) return `${self}.espMoved(${esp}, 0);`; // no instruction to attribute a frame to: the call keeps growEip null
    const changed = this.espChangedCode(self, esp, eip, bind, `${self}.stats.kills = ${self}.kills;`);
    return `if (${self}.on) { ${self}.growEip = ${eip | 0}; ${self}.stats.steps++; ${changed} }`;
  }

  /** The CPU pushed an exception frame: if it is on the tracked stack, its bytes are initialized. */
  onException(ev: ExceptionEvent): void {
    if (!this.on) return;
    const newEsp = ev.newStack[1] >>> 0;
    const sameStack = ev.cplBefore === ev.cplAfter;
    // ESP as the interrupted code left it (it may have moved since the last instruction seen).
    if (sameStack) this.espChanged(ev.oldStack[1]);
    this.instrumentation.forgetEsp();
    const bytes = sameStack ? ((ev.oldStack[1] - newEsp) | 0) : (ev.errorCode !== null ? 24 : 20);
    if (bytes <= 0 || bytes > 64 || !this.onStack(newEsp, bytes)) return;
    this.stats.exceptionFrames++;
    this.espChanged(newEsp);
    this.shadow.markInitialized(newEsp | 0, bytes);
  }

  /**
   * A native routine read `n` bytes at `lin` through the kernel API's
   * accessor: a 4-byte read (a stack argument, read32) that touches the
   * tracked stack is checked as a guest read made by the native. Other
   * sizes are ignored: string reads come in chunks that run past the NUL.
   */
  nativeRead(lin: number, n: number): void {
    if (n !== 4 || !this.on || !this.checkNatives || !this.onTrackedStack(lin, n)) return;
    // Only while a native routine runs (cpu.eip is its bound address then), not a host-side read.
    const cpu = this.kernel.cpu;
    const nativeEip = (cpu.segBase[1] + cpu.eip) | 0;
    if (cpu.nativeAt(nativeEip) === undefined) return;
    this.stats.nativeReads++;
    this.checkedHostRead(cpu, lin, n, nativeEip);
  }

  /** A native wrote guest memory: stack bytes (of any task's stack) become initialized. */
  nativeWrote(lin: number, n: number): void {
    if (!this.on || !this.onTrackedStack(lin, n)) return;
    this.shadow.markInitialized(lin | 0, n);
  }

  /** Does [lin, lin + n) touch a tracked stack (the one in use or another task's)? Only stacks are tracked. */
  private onTrackedStack(lin: number, n: number): boolean {
    return this.onStack(lin, n) || this.shadow.isTracked(lin) || (n > 1 && this.shadow.isTracked((lin + n - 1) | 0));
  }

  /** The state of one stack byte (tests). */
  stateAt(addr: number): number {
    return this.shadow.get(addr | 0);
  }

  isInitialized(addr: number, n = 1): boolean {
    return this.shadow.test(addr | 0, n, false) === SHADOW_INITIALIZED;
  }
}

/** A drained error as a precise-stack finding (`checker: "precise"`, `region: "stack"`). */
export function toStackFinding(e: KmemcheckError, symbolize?: Symbolizer, locate?: SourceLocator): Finding {
  return toFinding(e, symbolize, locate, { checker: 'precise', region: 'stack' });
}
