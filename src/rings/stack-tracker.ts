/**
 * The CPL-1 stack tracker: step 5–6 of Vegard Nossum's 2008 plan
 * (seeds/004) on kmemsim's page-hiding service.
 *
 * With the kernel at CPL 1 (./ring1.ts) its stack pages can be hidden:
 * every instruction that touches the stack — PUSH/POP, CALL/RET,
 * ENTER/LEAVE, PUSHA/POPA, PUSHF/POPF, IRET, any ESP/EBP-relative load or
 * store, an access straddling two stack pages — raises #PF, and the #PF
 * goes through a DPL-0 interrupt gate to the ring-0 stack (SS0:ESP0), so the
 * CPU never needs the hidden stack to report it. The page-hiding service
 * decodes the instruction (src/shadow/access.ts) and calls `onFault`:
 *
 *   1. `espChanged(ESP before the instruction)`: bytes below ESP are dead;
 *      if ESP rose since the tracker last saw it, the bytes in between died
 *      (they become uninitialized, so a frame that reuses them later reads
 *      garbage as the program would);
 *   2. the accesses are applied with kmemcheck's rules (ShadowRules): a
 *      write initializes, a read of uninitialized bytes is a finding
 *      (kind "uninitialized", region "stack", the function whose code did
 *      the read), a stack-to-stack copy (PUSH m, POP m, MOVS) carries the
 *      shadow; an access the decoder missed is taken from CR2 (Linux's
 *      fallback_address);
 *
 * then the service single-steps the instruction, and on the #DB `onStepDone`
 * calls `espChanged(ESP after the instruction)` — POP, RET, LEAVE and IRET
 * kill what they popped right away.
 *
 * What it cannot see: ESP changes by instructions that do not touch the
 * stack (SUB/ADD ESP, MOV ESP,EBP) are learnt only at the next stack access
 * — a frame popped and pushed again between two stack accesses keeps its
 * old shadow (the precise oracle sees every ESP change; `kmemsim compare`
 * measures the difference).
 *
 * The host's side: callGuest() pushes the stack arguments and the return
 * address with the pages shown (guest-call hooks; they count as initialized,
 * `hostPushed`), native routines (kmalloc, printk, …) run with the stack
 * pages shown (Kernel.routineHooks), and their reads and writes through the
 * kernel API's accessor (checkedAccessor() in src/shadow/accessor.ts,
 * which reaches the hidden pages through the service) are reported to
 * `nativeRead`/`nativeWrote`: argument-sized reads of the stack are checked
 * — printk() of an uninitialized local that the caller pushed is a finding
 * attributed to printk, with the caller in the stack — and writes
 * initialize.
 *
 * With the kernel at ring 0 (`--kernel-ring 0`) the same configuration
 * cannot work: the #PF on the hidden stack is delivered without a privilege
 * change, on the same hidden stack, which faults again → #DF → triple
 * fault. `explainStackTripleFault()` turns that stop into the explanation.
 */
import type { StopReason } from '../cpu/stop.js';
import { Vec, vectorName } from '../cpu/stop.js';
import { SS } from '../cpu/instr.js';
import type { Kernel } from '../kernel/kernel.js';
import { addGuestCallHooks } from '../kernel/call.js';
import { HiddenFault, PageHidingService, type PageHidingClient } from '../kernel/page-hiding.js';
import { decodeAccesses } from '../shadow/access.js';
import { StackRules, type StackLiveness } from '../shadow/stack.js';
import type { RuleStats, ShadowRuleOptions } from '../shadow/rules.js';
import { SHADOW_UNINITIALIZED, type ShadowState } from '../shadow/shadow.js';
import type { PrivilegedEmulation } from './privileged.js';
import type { Cpl1Stack } from './ring1.js';
import type { Ring1Tasks } from './ring1-tasks.js';

/** partialOk, checkReadModifyWrite, oneShot, enabled, queueSize (ShadowRuleOptions). */
export type Cpl1StackOptions = ShadowRuleOptions;

export interface Cpl1StackStats extends RuleStats {
  /** Faults on the hidden stack handled. */
  faults: number;
  /** Single steps completed after them. */
  steps: number;
  /** Stack dwords native routines read through the kernel API's accessor (nativeRead). */
  nativeReads: number;
  /** Native routine calls (the stack shown around each). */
  nativeCalls: number;
  /** Most CPL-1 stacks tracked at once (one per task that ran kernel code: followTasks()). */
  stacks: number;
}

/** The stack to track: a Ring1Layout, or ring0Stack() for the double-fault demonstration. */
export interface TrackedStack {
  /** The boot stack's record (Ring1Layout.stack: the boot task's CPL-1 stack for ./ring1-tasks.ts too). */
  stack: Cpl1Stack;
  /** The ring-1 #GP emulation: given, it reads memory operands on the hidden stack through the service. */
  emulation?: PrivilegedEmulation;
}

export class Cpl1StackTracker extends StackRules implements PageHidingClient {
  readonly name = 'cpl1-stack';
  readonly checker = 'cpl1' as const;
  readonly stats: Cpl1StackStats = { faults: 0, steps: 0, reads: 0, writes: 0, copies: 0, errors: 0, nativeReads: 0, nativeCalls: 0, stacks: 1 };
  private attached = true;
  private nativeEsp = 0;
  private nativeEip = 0;
  private inNative = false;
  /** Each CPL-1 stack tracked (the boot stack, then one per task: followTasks()) and its liveness record. */
  private readonly byStack = new Map<Cpl1Stack, StackLiveness>();

  constructor(readonly kernel: Kernel, readonly hiding: PageHidingService, stack: TrackedStack, opts: Cpl1StackOptions = {}) {
    super(opts);
    hiding.register(this);
    hiding.setAccessDecoder(decodeAccesses);
    if (!hiding.isInstalled) hiding.install();
    this.byStack.set(stack.stack, this.beginStack(stack.stack.low, stack.stack.high));
    if (stack.emulation) {
      stack.emulation.peek = (lin) => hiding.peek8(lin);
      stack.emulation.onRead = (lin, n, eip, esp) => {
        if (this.attached && this.on && this.onStack(lin, n)) this.checkedHostRead(kernel.cpu, lin, n, eip, esp);
      };
    }
    const cpu = kernel.cpu;
    // The host's pushes for a guest call land on the shown stack and are initialized (hostPushed).
    addGuestCallHooks(kernel, {
      beforePush: () => {
        if (this.attached) this.hiding.suspend(this);
      },
      pushed: (_k, esp, bytes) => {
        if (!this.attached) return;
        this.hostPushed((cpu.segBase[SS] + esp) | 0, bytes);
        // A native's own pushes (src/kernel/call.ts hostPushed()): the stack stays shown until the native returns.
        if (this.on && !this.inNative) this.hiding.resume(this);
      },
      finished: () => {
        if (this.attached && this.on) this.hiding.resume(this);
      },
    });
    // Native routines run on the CPU state with the stack shown: they pop their return address with the CPU's
    // own POP, and the ctor trampoline of kmem_cache_alloc() pushes.
    kernel.routineHooks.push({
      enter: (k) => {
        if (!this.attached) return;
        this.stats.nativeCalls++;
        this.inNative = true;
        this.nativeEip = k.cpu.eip;
        this.nativeEsp = (k.cpu.segBase[SS] + k.cpu.regs[4]) | 0;
        this.hiding.suspend(this);
      },
      exit: (k) => {
        if (!this.attached || !this.inNative) return;
        this.inNative = false;
        const esp = (k.cpu.segBase[SS] + k.cpu.regs[4]) | 0;
        // What the native pushed (below the ESP it was entered with) is initialized; what it popped is dead.
        if ((esp >>> 0) < (this.nativeEsp >>> 0) && this.onStack(esp, 1)) this.shadow.markInitialized(esp, (this.nativeEsp - esp) | 0);
        this.espChanged(esp);
        if (this.on) this.hiding.resume(this);
      },
    });
    if (opts.enabled === false) this.setEnabled(false);
  }

  /**
   * Track `stack` (a Ring1Layout, or ring0Stack() for the #DF demonstration) on the kernel's page-hiding
   * service: its pages are hidden from now on, every byte dead until the host or the guest writes it.
   */
  static attach(kernel: Kernel, stack: TrackedStack, opts: Cpl1StackOptions = {}): Cpl1StackTracker {
    return new Cpl1StackTracker(kernel, PageHidingService.of(kernel), stack, opts);
  }

  /** Stop tracking: the pages are shown for good; the queued errors stay. */
  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    this.hiding.unregister(this);
    for (const s of this.byStack.values()) this.shadow.untrack(s.low | 0, s.high - s.low);
  }

  // ---- several tasks (src/rings/ring1-tasks.ts: a program's processes and kernel threads) -----------

  /**
   * Track every task's CPL-1 stack: each is hidden from the first time it is used; the one in use is the
   * stack whose liveness ESP moves (useStack()), the others keep theirs until their task runs again.
   */
  followTasks(tasks: Ring1Tasks): void {
    tasks.listen({
      stackInUse: (st) => this.stackInUse(st),
      stackFreed: (st) => this.stackFreed(st),
    });
  }

  /** `st` is the current task's CPL-1 stack now (a task switch, inside schedule(); or a first guest call). */
  private stackInUse(st: Cpl1Stack): void {
    if (!this.attached) return;
    const s = this.byStack.get(st);
    if (s === undefined) {
      this.byStack.set(st, this.beginStack(st.low, st.high));
      this.stats.stacks = Math.max(this.stats.stacks, this.byStack.size);
    } else if (s !== this.stack) {
      this.useStack(s);
    }
    // A native that switched tasks returns on the new task's stack: what it pushed is measured from there.
    if (this.inNative) this.nativeEsp = (this.kernel.cpu.segBase[SS] + this.kernel.cpu.regs[4]) | 0;
  }

  /** `st` goes back to the page allocator: forgotten (stackForgotten()), even if it is the stack in use. */
  private stackFreed(st: Cpl1Stack): void {
    if (!this.attached) return;
    const s = this.byStack.get(st);
    if (s === undefined) return;
    this.byStack.delete(st);
    this.forgetStack(s);
  }

  /** A forgotten stack's pages are shown, and its shadow goes. */
  protected override stackForgotten(s: StackLiveness): void {
    this.eachPage(s.low, s.high - s.low, (page) => this.hiding.showPage(page, this));
    super.stackForgotten(s);
  }

  setEnabled(on: boolean): void {
    this.on = on;
    if (on) this.hiding.resume(this);
    else this.hiding.suspend(this);
  }

  /** Track [virt, virt + bytes) of the stack and hide its pages. Ranges outside the stack are ignored (the allocator hooks). */
  track(virt: number, bytes: number, initial: ShadowState = SHADOW_UNINITIALIZED): void {
    if (bytes <= 0 || !this.onStack(virt, bytes)) return;
    this.shadow.track(virt, bytes, initial);
    this.eachPage(virt, bytes, (page) => this.hiding.hidePage(page, this));
  }

  untrack(virt: number, bytes: number): void {
    if (bytes <= 0 || !this.onStack(virt, bytes)) return;
    this.eachPage(virt, bytes, (page) => this.hiding.showPage(page, this));
    this.shadow.untrack(virt, bytes);
  }

  /** `f` on the linear address of each page of [virt, virt + bytes) (bytes > 0). */
  private eachPage(virt: number, bytes: number, f: (page: number) => void): void {
    for (let p = virt >>> 12, last = ((virt + bytes - 1) | 0) >>> 12; ; p = (p + 1) >>> 0) {
      f((p * 4096) | 0);
      if (p === last) break;
    }
  }

  protected memorySource(): PageHidingService {
    return this.hiding;
  }

  // ---- the fault path (run in the ring-0 #PF and #DB handlers) ---------------------------------------

  onFault(f: HiddenFault): void {
    this.stats.faults++;
    const ctx = f.context;
    this.espChanged((ctx.segBase[SS] + ctx.regs[4]) | 0);
    this.applyFault(f);
  }

  onStepDone(f: HiddenFault): void {
    this.stats.steps++;
    const ctx = f.after;
    this.espChanged((ctx.segBase[SS] + ctx.regs[4]) | 0);
  }

  // ---- native routines --------------------------------------------------------------------------------

  /**
   * A native routine read the stack dword(s) [lin, lin + n) (an argument): checked like a guest read,
   * reported at the native's address with the guest's registers (so the caller is in the stack).
   * Longer reads (strings) are checked by nativeUse() on the bytes the routine consumed.
   */
  nativeRead(lin: number, n: number): void {
    // Only argument-sized reads: string reads (readGuestString) run past the NUL in page-sized chunks and
    // are checked through nativeUse() on the bytes actually consumed.
    if (n > 8 || !this.attached || !this.on || !this.onStack(lin, n)) return;
    this.stats.nativeReads++;
    this.checkedHostRead(this.kernel.cpu, lin, n, this.inNative ? this.nativeEip : this.kernel.cpu.eip);
  }

  /**
   * A native routine wrote [lin, lin + n): initialized if on the stack. (nativeRead/nativeWrote make the
   * tracker a NativeAccessObserver of the natives' accessor, checkedAccessor() in src/shadow/accessor.ts.)
   */
  nativeWrote(lin: number, n: number): void {
    if (this.attached && this.onStack(lin, n)) this.shadow.markInitialized(lin, n);
  }
}

// ---- the ring-0 configuration: #DF ------------------------------------------------------------------

/**
 * The stop of a kernel whose stack is hidden while it runs at CPL 0 (`--stack cpl1 --kernel-ring 0`)
 * explained; null when `stop` is not that triple fault (#PF then #DF in its chain).
 */
export function explainStackTripleFault(stop: StopReason | null, stack?: { stackLow: number; stackHigh: number }): string | null {
  if (stop === null || stop.kind !== 'triple-fault') return null;
  const chain = stop.chain;
  const pf = chain.findIndex((c) => c.vector === Vec.PF);
  const df = chain.findIndex((c) => c.vector === Vec.DF);
  if (pf < 0 || df < pf) return null;
  const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;
  const where = stack ? ` [${hex(stack.stackLow)}, ${hex(stack.stackHigh)})` : '';
  return [
    `triple fault: ${chain.map((c) => vectorName(c.vector)).join(' → ')} at EIP ${hex(chain[0]!.eip)}.`,
    `The CPL-1 stack tracker hid the kernel stack pages${where}, but the kernel runs at CPL 0 (--kernel-ring 0).`,
    `The first stack access raised a page fault. Its IDT gate leads to a DPL-0 handler, and the kernel already runs at`,
    `CPL 0: no privilege change, so no stack switch (Intel SDM Vol. 3 §6.12.1) — the CPU must push the #PF frame onto the`,
    `current stack, the hidden one, and that push faults too. A page fault while delivering a page fault is a double`,
    `fault (SDM Vol. 3 §6.15, Table 6-5); the #DF frame cannot be pushed either, and a fault while delivering #DF shuts`,
    `the processor down (triple fault). That is why Vegard Nossum's plan runs the kernel at CPL 1: every exception from`,
    `CPL 1 switches to the ring-0 stack in TSS.SS0:ESP0 and never touches the hidden one. Use --kernel-ring 1.`,
  ].join('\n');
}
