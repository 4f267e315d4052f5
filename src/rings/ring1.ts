/**
 * The ring-1 kernel layout: step 1–4 of Vegard Nossum's 2008 plan for
 * tracking the kernel stack with kmemcheck (seeds/004), as the hardware
 * allows it.
 *
 * After `enterRing1()` guest kernel code (everything callGuest() runs:
 * init_module(), cleanup_module(), the functions they call) runs at CPL 1:
 *
 *  - CS = KERNEL1_CS and SS/DS/ES = KERNEL1_DS, flat DPL-1 segments the
 *    kernel's GDT already holds (layout.ts);
 *  - on a CPL-1 kernel stack of its own (16 KiB by default from the
 *    kernel's frame allocator, in the direct map) with an unmapped guard
 *    page below it, so an overflow is a clean #PF oops and not a silent
 *    overwrite; TSS.SS1:ESP1 names it (only a gate to a DPL-1 handler would
 *    use it), TSS.SS0:ESP0 stays the 16 KiB ring-0 stack;
 *  - EFLAGS.IOPL = 1, so CLI, STI, IN and OUT keep working at CPL 1
 *    (SDM Vol. 3 §6.8.1, §19.5.1 — Xen's ring-1 guests used the same);
 *  - the instructions that #GP at CPL > 0 (MOV CRn, INVLPG, LGDT, HLT, …)
 *    are emulated by the ring-0 #GP handler (./privileged.ts), paravirt
 *    style, and counted;
 *  - native kernel routines (kmalloc, printk, …) called from CPL-1 code
 *    run on the CPU state as it is, i.e. as ring-1 code: they read their
 *    arguments from the CPL-1 stack and return with a RET at CPL 1. The
 *    direct map is supervisor-only, which CPL 1 is (paging's U/S bit only
 *    tells CPL 3 apart, as the plan says).
 *
 * Every IDT entry stays an interrupt gate to a DPL-0 code segment
 * (KERNEL_CS), so every exception and interrupt taken at CPL 1 — #PF, #DB,
 * #GP, an IRQ — is an inter-privilege delivery: the CPU loads SS0:ESP0
 * from the TSS and pushes the interrupted SS:ESP, EFLAGS, CS, EIP (and
 * the error code) there, never touching the CPL-1 stack (SDM Vol. 3
 * §6.12.1). That is what lets the CPL-1 stack pages be hidden
 * (./stack-tracker.ts).
 *
 * The difference from the 2008 plan. The plan wanted "a Call Gate for
 * Page Faults in the GDT with DPL = 0" and the IDT entry for #PF pointing
 * to it. The IDT can hold only task gates, interrupt gates and trap gates
 * (SDM Vol. 3 §6.11, Figure 6-2); a call-gate type there makes the CPU
 * raise #GP on delivery (src/cpu/exceptions.ts checks the same). No call
 * gate is needed: an interrupt gate whose selector names a DPL-0 code
 * segment already switches to the ring-0 stack when the interrupted code
 * runs at CPL 1, pushing SS and ESP as the plan expected of the call gate
 * ("page_fault() will have to take care of handling the extra SS/ESP
 * parameters"): here dispatchTrap() reads them (TrapFrame.userEsp/userSs).
 * And, as the plan feared, a fault taken while already at CPL 0 uses the
 * current stack — which is why the ring-0 kernel with a hidden stack
 * double-faults (stack-tracker.ts, explainStackTripleFault()).
 */
import { CS, DS, ES, SS } from '../cpu/instr.js';
import { parseDescriptor, setSegmentCache } from '../cpu/segments.js';
import type { Kernel } from '../kernel/kernel.js';
import { addGuestCallHooks } from '../kernel/call.js';
import { allocContiguousFrames } from '../kernel/module.js';
import { KERNEL1_CS, KERNEL1_DS, PAGE_SIZE, PHYS_KSTACK_TOP, kva } from '../kernel/layout.js';
import { installPrivilegedEmulation, type EmulationCounters, type PrivilegedEmulation } from './privileged.js';

export interface Ring1Options {
  /** Pages of CPL-1 kernel stack (default 4: 16 KiB, THREAD_SIZE of i386 with 4K stacks off). */
  stackPages?: number;
  /**
   * Move the CPU to CPL 1 now (default true: a module run's kernel is between guest calls). False when
   * the CPU is busy in ring 0 (a program's system call installed the module kernel): the next guest
   * call enters ring 1.
   */
  switchNow?: boolean;
}

/** A CPL-1 kernel stack, [low, high) (unsigned linear addresses): one record per stack, named by its identity. */
export interface Cpl1Stack {
  readonly low: number;
  readonly high: number;
}

export interface Ring1Layout {
  /** The CPL-1 kernel stack, [stackLow, stackHigh) (unsigned linear addresses). */
  readonly stackLow: number;
  readonly stackHigh: number;
  /**
   * The same stack's record: the boot task's CPL-1 stack (./ring1-tasks.ts), the one object by which the
   * CPL-1 stack tracker (./stack-tracker.ts) knows it.
   */
  readonly stack: Cpl1Stack;
  /** The unmapped guard page just below stackLow. */
  readonly guardPage: number;
  /** TSS.ESP0: the ring-0 stack every exception and interrupt from CPL 1 switches to. */
  readonly ring0StackTop: number;
  /** The ring-0 #GP handler emulating privileged instructions. */
  readonly emulation: PrivilegedEmulation;
  /** Its counters (per mnemonic, total, #GPs passed on to the oops). */
  readonly counters: EmulationCounters;
  /**
   * How a guest call made from ring 0 enters ring 1: by default on an empty CPL-1 stack (this layout's).
   * With tasks (a program's processes and kernel threads, ./ring1-tasks.ts) each task enters on its own.
   */
  enterFromRing0: (kernel: Kernel) => void;
}

/** The classic ring-0 kernel's stack (boot's 16 KiB below PHYS_KSTACK_TOP), for trackers configured at ring 0. */
export function ring0Stack(): { stackLow: number; stackHigh: number; stack: Cpl1Stack } {
  const high = kva(PHYS_KSTACK_TOP) >>> 0;
  const low = (high - 4 * PAGE_SIZE) >>> 0;
  return { stackLow: low, stackHigh: high, stack: { low, high } };
}

const IOPL = 0x3000;
const TSS_ESP1 = 12, TSS_SS1 = 16;

const layouts = new WeakMap<Kernel, Ring1Layout>();

/** The kernel's ring-1 layout, or null if enterRing1() was not called. */
export function ring1LayoutOf(kernel: Kernel): Ring1Layout | null {
  return layouts.get(kernel) ?? null;
}

/**
 * Run guest kernel code at CPL 1 from now on. Call after boot and after
 * the oops handlers are installed (runModule's `exports` step), before any
 * guest call; calling it again returns the same layout.
 */
export function enterRing1(kernel: Kernel, opts: Ring1Options = {}): Ring1Layout {
  const existing = layouts.get(kernel);
  if (existing) return existing;
  const pages = opts.stackPages ?? 4;
  if (!Number.isInteger(pages) || pages < 1) throw new RangeError(`enterRing1: stackPages must be a positive integer (got ${pages})`);
  const cpu = kernel.cpu;
  if (cpu.cpl !== 0) throw new Error(`enterRing1: the CPU is at CPL ${cpu.cpl}, expected the booted ring-0 kernel`);

  // Guard page + stack, physically contiguous so the stack is contiguous in the direct map.
  const frames = allocContiguousFrames(kernel, pages + 1, PAGE_SIZE, 'ring-1 kernel stack');
  const guardPage = kva(frames[0]!) >>> 0;
  const stackLow = (guardPage + PAGE_SIZE) >>> 0;
  const stackHigh = (stackLow + pages * PAGE_SIZE) >>> 0;
  for (let i = 1; i <= pages; i++) kernel.mem.zeroPhysPage(frames[i]!);
  // Unmap the guard page (splits the 4 MiB direct-map page; INVLPG): an overflow faults, a clean oops.
  kernel.as.writePte(guardPage, 0);
  kernel.stackGuards.push({ guard: guardPage, low: stackLow, high: stackHigh });

  // TSS.SS1:ESP1 (SDM Vol. 3 §7.2.1). SS0:ESP0 stays: every gate is DPL 0 and switches there.
  kernel.mem.write32((cpu.trBase + TSS_ESP1) | 0, stackHigh | 0);
  kernel.mem.write32((cpu.trBase + TSS_SS1) | 0, KERNEL1_DS);

  const emulation = installPrivilegedEmulation(kernel);
  const layout: Ring1Layout = {
    stackLow, stackHigh, guardPage,
    stack: { low: stackLow, high: stackHigh },
    ring0StackTop: kernel.mem.read32((cpu.trBase + 4) | 0) >>> 0,
    emulation,
    counters: emulation.counters,
    enterFromRing0: (k) => switchToRing1(k, stackHigh),
  };
  layouts.set(kernel, layout);
  if (opts.switchNow ?? true) switchToRing1(kernel, stackHigh);
  // A guest call that finds the CPU in ring 0 (an oops stopped it inside a ring-0 handler; a program's
  // system call calling a module's file operation) enters ring 1 first.
  addGuestCallHooks(kernel, {
    beforePush(k) {
      if (k.cpu.cpl !== 1) layout.enterFromRing0(k);
    },
  });
  return layout;
}

/** Load the DPL-1 segments, CPL 1, IOPL 1 and ESP = `esp`. */
export function switchToRing1(kernel: Kernel, esp: number): void {
  const cpu = kernel.cpu;
  const load = (seg: number, sel: number): void => {
    const lo = kernel.mem.read32((cpu.gdtrBase + (sel & ~7)) | 0);
    const hi = kernel.mem.read32((cpu.gdtrBase + (sel & ~7) + 4) | 0);
    setSegmentCache(cpu, seg, sel, parseDescriptor(lo, hi));
  };
  cpu.setCpl(1);
  load(CS, KERNEL1_CS);
  load(SS, KERNEL1_DS);
  load(DS, KERNEL1_DS);
  load(ES, KERNEL1_DS);
  cpu.setEflags(0x1000, IOPL);
  cpu.regs[4] = esp | 0;
}
