/**
 * The ring-1 kernel with tasks: Vegard Nossum's layout (./ring1.ts) for a
 * system of user processes and kernel threads (`kmemsim run --stack cpl1
 * --module m.ko PROGRAM`), where every task has its own kernel stack and
 * `schedule()` switches between them (src/kernel/sched).
 *
 * - A process enters the kernel as before: `int $0x80` from CPL 3 through
 *   the DPL-0 gate, onto its ring-0 kernel stack (TSS.ESP0, its
 *   THREAD_SIZE stack), where the system call's native part runs. When the
 *   call reaches guest kernel code (a module's file operation, init or
 *   exit: src/linux/kcall.ts) the CPU moves to CPL 1 on the process's own
 *   CPL-1 stack, and TSS.ESP0 is lowered to the ring-0 ESP of that moment,
 *   so an exception taken at CPL 1 (the tracker's #PF and #DB, a kprobe's
 *   int3, the #GP emulation) lands below the system call's frame instead
 *   of on it. When the call's guest work is over the CPU goes back to CPL 0
 *   on the ring-0 stack and the trap returns with IRET, as it would have.
 *   This is how a ring-1 kernel under a ring-0 monitor works (Xen's 32-bit
 *   PV guests: the guest kernel's stack is its TSS.SS1:ESP1 one, the ring-0
 *   one belongs to the monitor's trap handlers); here the monitor is the
 *   kernel's own native trap code.
 * - The first process (the boot task) uses the layout's CPL-1 stack (16
 *   KiB with a guard page); every other process gets a THREAD_SIZE CPL-1
 *   stack the first time it calls guest code, freed with its task.
 * - A kernel thread runs only kernel code: its THREAD_SIZE kernel stack is
 *   its CPL-1 stack from its first instruction, and its exceptions land on
 *   one shared ring-0 trap stack (nothing stays on it: every handler
 *   returns, or moves to the interrupted stack as kprobes do).
 * - At a task switch (the scheduler's onSwitch, after the personality's own switch hook)
 *   the privilege level of the task switched out is remembered and the one
 *   switched in gets its own back (CS/SS and CPL: a process may sleep in
 *   module code at CPL 1 while another returns to user mode from CPL 0),
 *   with its TSS.ESP0; listeners (the CPL-1 stack tracker) hear which CPL-1
 *   stack is now the current one, and when one is freed.
 *
 * The kernel knows nothing of this: it calls the guest-call hooks and the
 * task notifier, this file answers.
 */
import { CS, SS, DS, ES } from '../cpu/instr.js';
import { parseDescriptor, setSegmentCache } from '../cpu/segments.js';
import type { Kernel } from '../kernel/kernel.js';
import { addGuestCallHooks } from '../kernel/call.js';
import { KERNEL1_CS, KERNEL1_DS, KERNEL_CS, KERNEL_DS } from '../kernel/layout.js';
import { __GFP_NOTRACK, __GFP_ZERO } from '../kernel/mm/index.js';
import { THREAD_SIZE, THREAD_SIZE_ORDER, type KernelTask, type Scheduler } from '../kernel/sched/scheduler.js';
import { switchToRing1, type Cpl1Stack, type Ring1Layout } from './ring1.js';

/** Who wants to know which CPL-1 stack is in use (the CPL-1 stack tracker). */
export interface Cpl1StackListener {
  /** `stack` is now the current task's CPL-1 stack (a switch, or a process's first guest call). */
  stackInUse(stack: Cpl1Stack): void;
  /** `stack` goes back to the page allocator (its task is gone). */
  stackFreed(stack: Cpl1Stack): void;
}

interface TaskRing {
  /** The privilege level it was switched out at (0 or 1). */
  cpl: number;
  /** Its CPL-1 stack, once it has one (one record for its life: listeners know the stack by it). */
  stack: Cpl1Stack | null;
  /** The physical block of `stack` to free with the task (null: not ours to free). */
  phys: number | null;
  /** The ring-0 ESP its system call's guest work left (where it returns, and TSS.ESP0 meanwhile); null at CPL 0. */
  ring0Esp: number | null;
}

const IOPL = 0x3000;
const EFLAGS_IOPL1 = 0x1000;

export class Ring1Tasks {
  private readonly rings = new Map<KernelTask, TaskRing>();
  private readonly listeners: Cpl1StackListener[] = [];
  /** The ring-0 stack kernel threads' exceptions land on (TSS.ESP0 while one runs); made when the first one runs. */
  private trapStackTop = 0;
  /** CPL-1 stacks handed out for processes (besides the boot task's). */
  stacksAllocated = 0;

  private constructor(readonly kernel: Kernel, readonly layout: Ring1Layout, readonly sched: Scheduler) {
    // The boot task (the first process, or the module run's insmod) uses the layout's stack, its very record.
    this.rings.set(sched.tasks[0]!, { cpl: kernel.cpu.cpl === 1 ? 1 : 0, stack: layout.stack, phys: null, ring0Esp: null });
    layout.enterFromRing0 = () => this.enterFromRing0();
    addGuestCallHooks(kernel, { returnToTrap: () => this.returnToRing0() });
    // After the personality's own switch hook (registered when the scheduler was made): page directory, TSS.ESP0.
    sched.onSwitch.push((prev, next) => this.switched(prev, next));
    sched.onStackFreed.push((t) => this.freed(t));
  }

  /** Give `layout`'s kernel tasks a ring each (after the scheduler and the personality's process tasks exist). */
  static attach(kernel: Kernel, layout: Ring1Layout, sched: Scheduler): Ring1Tasks {
    return new Ring1Tasks(kernel, layout, sched);
  }

  /** Hear of CPL-1 stacks coming into use (at a switch or a first guest call) and freed. */
  listen(l: Cpl1StackListener): void {
    this.listeners.push(l);
  }

  /** The CPL-1 stack of `t`, if it has one yet. */
  stackOf(t: KernelTask): Cpl1Stack | null {
    return this.rings.get(t)?.stack ?? null;
  }

  private ringOf(t: KernelTask): TaskRing {
    let r = this.rings.get(t);
    if (!r) {
      // A kernel thread runs at CPL 1 from its first instruction, on its own kernel stack.
      r = t.kthread ? { cpl: 1, stack: { low: t.stack.low, high: t.stack.high }, phys: null, ring0Esp: null } : { cpl: 0, stack: null, phys: null, ring0Esp: null };
      this.rings.set(t, r);
    }
    return r;
  }

  /** A guest call from ring 0 (a system call's, or the host's module init at boot): CPL 1 on the task's CPL-1 stack. */
  private enterFromRing0(): void {
    const k = this.kernel;
    const cpu = k.cpu;
    const t = this.sched.current;
    const r = this.ringOf(t);
    if (!r.stack) {
      const low = this.allocStack(`the CPL-1 kernel stack of ${t.comm}/${t.pid}`);
      r.stack = { low, high: (low + THREAD_SIZE) >>> 0 };
      r.phys = this.sched.mm.buddy.virtToPhys(low);
      this.stacksAllocated++;
    }
    r.ring0Esp = cpu.regs[4]! >>> 0;
    // Exceptions at CPL 1 land below the system call's frame (SDM Vol. 3 §6.12.1: the new stack is TSS.SS0:ESP0).
    k.setKernelStack(r.ring0Esp);
    for (const l of this.listeners) l.stackInUse(r.stack);
    const ds = cpu.segSel[DS]!, es = cpu.segSel[ES]!;
    switchToRing1(k, r.stack.high);
    // A process's DS/ES stay __USER_DS as the entry code leaves them (usable at CPL 1; a DPL-1 selector
    // would be nulled by the IRET to user mode, SDM Vol. 3 §6.12.1).
    if (this.sched.current.kthread === null && (ds & 3) === 3) {
      this.load(DS, ds);
      this.load(ES, es);
    }
  }

  /** The system call's guest work is over: CPL 0 on the ring-0 stack where it left, TSS.ESP0 back at the top. */
  private returnToRing0(): void {
    const cpu = this.kernel.cpu;
    const t = this.sched.current;
    const r = this.rings.get(t);
    if (cpu.cpl !== 1 || !r || r.ring0Esp === null) return;
    this.toCpl(0);
    cpu.regs[4] = r.ring0Esp | 0;
    r.ring0Esp = null;
    this.kernel.setKernelStack(t.stack.high);
  }

  /** After the switch: `prev` keeps its level, `next` gets its own (and its TSS.ESP0), the listeners its CPL-1 stack. */
  private switched(prev: KernelTask, next: KernelTask): void {
    const k = this.kernel;
    this.ringOf(prev).cpl = k.cpu.cpl;
    const r = this.ringOf(next);
    if (r.cpl !== k.cpu.cpl) this.toCpl(r.cpl);
    if (r.cpl === 1) {
      if (next.kthread) {
        k.setKernelStack(this.trapStack());
        this.load(DS, KERNEL1_DS);
        this.load(ES, KERNEL1_DS);
      } else if (r.ring0Esp !== null) {
        k.setKernelStack(r.ring0Esp);
      }
      if (r.stack) for (const l of this.listeners) l.stackInUse(r.stack);
    }
  }

  private trapStack(): number {
    if (this.trapStackTop === 0) this.trapStackTop = (this.allocStack('the ring-0 trap stack of kernel threads') + THREAD_SIZE) >>> 0;
    return this.trapStackTop;
  }

  /** THREAD_SIZE from the page allocator (not tracked by kmemcheck: a stack, as alloc_thread_stack_node()'s); its address. */
  private allocStack(what: string): number {
    const phys = this.sched.mm.buddy.allocPages(THREAD_SIZE_ORDER, 0xd0 | __GFP_NOTRACK | __GFP_ZERO);
    if (!phys) throw new Error(`out of memory for ${what}`);
    return this.sched.mm.buddy.pageAddress(phys) >>> 0;
  }

  private freed(t: KernelTask): void {
    const r = this.rings.get(t);
    this.rings.delete(t);
    if (!r?.stack) return;
    for (const l of this.listeners) l.stackFreed(r.stack);
    if (r.phys !== null) this.sched.mm.buddy.freePages(r.phys, THREAD_SIZE_ORDER);
  }

  /** CPL, CS and SS of the kernel at `cpl` (0 or 1); IOPL 1 at CPL 1 so CLI/STI/IN/OUT work. */
  private toCpl(cpl: number): void {
    const cpu = this.kernel.cpu;
    cpu.setCpl(cpl);
    this.load(CS, cpl === 1 ? KERNEL1_CS : KERNEL_CS);
    this.load(SS, cpl === 1 ? KERNEL1_DS : KERNEL_DS);
    if (cpl === 1) cpu.setEflags(EFLAGS_IOPL1, IOPL);
  }

  private load(seg: number, sel: number): void {
    const k = this.kernel;
    const cpu = k.cpu;
    const lo = k.mem.read32((cpu.gdtrBase + (sel & ~7)) | 0);
    const hi = k.mem.read32((cpu.gdtrBase + (sel & ~7) + 4) | 0);
    setSegmentCache(cpu, seg, sel, parseDescriptor(lo, hi));
  }
}
