/**
 * The simulated kernel's boot: it builds its GDT, IDT, TSS and page tables
 * in guest memory the way i386 Linux does (and as a real CPU expects them),
 * then the CPU runs with paging on, the kernel at CPL 0 and user programs at
 * CPL 3. Its handlers and routines are native: bound to addresses in the
 * kernel's text page, they run in TypeScript against the CPU state and
 * return architecturally (IRET for a handler, RET for a routine).
 */
import { CPU } from '../cpu/cpu.js';
import { PhysicalMemory } from '../cpu/memory.js';
import { Instr, CS, DS, ES, FS, GS, SS } from '../cpu/instr.js';
import { makeDescriptor, parseDescriptor, setSegmentCache } from '../cpu/segments.js';
import { iret as execIret, iretSameLevel } from '../cpu/exec/system.js';
import { hasErrorCode } from '../cpu/exceptions.js';
import { GuestMemory } from './guest-memory.js';
import { PageFrameAllocator } from './pages.js';
import { AddressSpace } from './paging.js';
import {
  GDT_ENTRIES, KERNEL_CS, KERNEL_DS, USER_CS, USER_DS, TSS_SEL, KERNEL1_CS, KERNEL1_DS,
  PHYS_GDT, PHYS_IDT, PHYS_TSS, PHYS_PGDIR, PHYS_NATIVE, PHYS_KSTACK_TOP, PHYS_KSTACK_GUARD, PHYS_LOW_PT, KERNEL_STACK_SIZE, PHYS_POOL_START, PHYS_KTEXT, kva,
} from './layout.js';

/** What a trap handler sees: the hardware frame on the kernel stack. Valid until the handler returns (the object is reused). */
export interface TrapFrame {
  vector: number;
  errorCode: number | null;
  eip: number;
  cs: number;
  eflags: number;
  /** The interrupted context was at CPL 3 (the frame holds its SS:ESP). */
  fromUser: boolean;
  /**
   * The interrupted ESP: from the frame when the event came from an outer
   * ring (CPL 3, or CPL 1 in the ring-1 layout: the gate's DPL-0 handler
   * switched to SS0:ESP0, SDM Vol. 3 §6.12.1), else just above the frame.
   */
  userEsp: number;
  /** The interrupted SS (from the frame for an outer ring, else the handler's own). */
  userSs: number;
  /** Linear address of the EIP slot of the frame (handlers that resume elsewhere rewrite it, e.g. the ring-1 #GP emulation). */
  frameAddress: number;
  /**
   * Physical address of that slot, when the frame (up to the interrupted SS) lies within one page and
   * it is known; -1 (or absent) otherwise. Valid while the handler runs: it writes the frame there
   * without a page walk.
   */
  framePhys?: number;
}

/**
 * The TrapFrame dispatchTrap fills for one nesting level of traps: reused by every trap at that
 * level (a kmemcheck run takes two per tracked access), so a handler must not keep it once it returned.
 */
class TrapFrameSlot implements TrapFrame {
  vector = 0;
  errorCode: number | null = null;
  eip = 0;
  cs = 0;
  eflags = 0;
  fromUser = false;
  userEsp = 0;
  userSs = 0;
  frameAddress = 0;
  framePhys = -1;
}

/** Called around every native routine bound with bindRoutine (the CPL-1 stack tracker shows its hidden stack to them). */
export interface RoutineHooks {
  /** Before the routine runs (ESP points at its return address). */
  enter?(k: Kernel): void;
  /** After it returned (its return address popped) or stopped the machine. */
  exit?(k: Kernel): void;
}

export type TrapHandler = (k: Kernel, f: TrapFrame) => void;

export interface KernelOptions {
  memorySize?: number;
}

/** Access bytes: present, DPL, code/data, type. */
const CODE = (dpl: number): number => 0x9a | (dpl << 5);
const DATA = (dpl: number): number => 0x92 | (dpl << 5);
/** Bytes between bound routines (each is a native entry point, not code). */
const ROUTINE_SLOT = 8;
/** Bytes of kernel text per function entry (bindFunction). */
export const FUNCTION_SLOT = 16;

export class Kernel {
  readonly cpu: CPU;
  readonly mem: GuestMemory;
  readonly frames: PageFrameAllocator;
  readonly as: AddressSpace;
  private readonly handlers: (TrapHandler | undefined)[] = new Array(256);
  /** Hooks around native routines (see RoutineHooks); empty unless a stack tracker is attached. */
  readonly routineHooks: RoutineHooks[] = [];
  private nextRoutine = kva(PHYS_NATIVE) + 0x800;
  private nextFunction = kva(PHYS_KTEXT);
  /** Function entries (bindFunction): entry address → name. */
  private readonly functionNames = new Map<number, string>();
  /** Names of bound routines that are not exported functions (the guest-call return stub, ftrace's trampolines), for stack traces. */
  private readonly routineNames = new Map<number, string>();
  /**
   * Kernel stacks with an unmapped guard page below them: the ring-0 stack
   * from boot, and any other kernel stack (the ring-1 layout's). A page
   * fault in a guard page is a stack overflow (handle_stack_overflow()).
   */
  readonly stackGuards: { guard: number; low: number; high: number }[] = [];

  constructor(opts: KernelOptions = {}) {
    const phys = new PhysicalMemory(opts.memorySize);
    this.cpu = new CPU({ memory: phys });
    this.mem = new GuestMemory(this.cpu);
    this.frames = new PageFrameAllocator(PHYS_POOL_START, phys.size);
    this.as = new AddressSpace(this.cpu, this.mem, this.frames, PHYS_PGDIR);
    this.boot();
  }

  private boot(): void {
    const cpu = this.cpu;
    const m = this.mem;
    // GDT: flat 4 GiB segments at DPL 0, 1 and 3, and the TSS.
    const gdt: [number, number][] = new Array(GDT_ENTRIES).fill([0, 0]);
    gdt[KERNEL_CS >> 3] = makeDescriptor(0, 0xffffffff, CODE(0), 0xc);
    gdt[KERNEL_DS >> 3] = makeDescriptor(0, 0xffffffff, DATA(0), 0xc);
    gdt[USER_CS >> 3] = makeDescriptor(0, 0xffffffff, CODE(3), 0xc);
    gdt[USER_DS >> 3] = makeDescriptor(0, 0xffffffff, DATA(3), 0xc);
    gdt[KERNEL1_CS >> 3] = makeDescriptor(0, 0xffffffff, CODE(1), 0xc);
    gdt[KERNEL1_DS >> 3] = makeDescriptor(0, 0xffffffff, DATA(1), 0xc);
    // 32-bit available TSS (type 9); the limit covers the I/O bitmap offset field and one byte past it.
    gdt[TSS_SEL >> 3] = makeDescriptor(kva(PHYS_TSS), 0x67 + 0x2000 + 1, 0x89, 0);
    gdt.forEach(([lo, hi], i) => {
      m.writePhys32(PHYS_GDT + i * 8, lo);
      m.writePhys32(PHYS_GDT + i * 8 + 4, hi);
    });
    // TSS: SS0:ESP0 for entries from ring 3; the I/O bitmap (all ones: no user port access) right after it.
    m.writePhys32(PHYS_TSS + 4, kva(PHYS_KSTACK_TOP));
    m.writePhys32(PHYS_TSS + 8, KERNEL_DS);
    m.writePhys32(PHYS_TSS + 0x64, 0x68 << 16);
    m.writePhys(PHYS_TSS + 0x68, new Uint8Array(0x2001).fill(0xff));
    // IDT: every vector an interrupt gate to its native handler stub; int $0x80, int3 and into are
    // DPL-3 trap gates ("system gates", as Linux's set_system_trap_gate()).
    for (let v = 0; v < 256; v++) {
      const off = this.handlerAddress(v);
      const user = v === 0x80 || v === 3 || v === 4;
      const type = user ? 0xf : 0xe;
      const dpl = user ? 3 : 0;
      m.writePhys32(PHYS_IDT + v * 8, ((KERNEL_CS << 16) | (off & 0xffff)) | 0);
      m.writePhys32(PHYS_IDT + v * 8 + 4, ((off & 0xffff0000) | 0x8000 | (dpl << 13) | (type << 8)) | 0);
      cpu.bindNative(off, (c) => this.dispatchTrap(c, v));
    }
    // Paging: the kernel direct map.
    m.zeroPhysPage(PHYS_PGDIR);
    this.as.mapKernelDirect(this.cpu.mem.size);
    // The kernel stack's guard page: the first 4 MiB in 4 KiB pages (the table is a fixed low page,
    // so the allocator's pool is untouched) and the page below the stack not present.
    this.as.splitLargePage(kva(PHYS_KSTACK_GUARD), PHYS_LOW_PT);
    this.as.writePte(kva(PHYS_KSTACK_GUARD), 0);
    this.stackGuards.push({ guard: kva(PHYS_KSTACK_GUARD) >>> 0, low: (kva(PHYS_KSTACK_TOP) - KERNEL_STACK_SIZE) >>> 0, high: kva(PHYS_KSTACK_TOP) >>> 0 });

    // Processor state as after the kernel's own startup code: protected mode, paging, WP, PSE, PGE;
    // the FPU as i386 Linux sets it up (CR0.MP and NE set, EM clear: x87 instructions run and report
    // their unmasked exceptions as #MF; TS stays clear, the FPU state is never switched lazily).
    cpu.gdtrBase = kva(PHYS_GDT);
    cpu.gdtrLimit = GDT_ENTRIES * 8 - 1;
    cpu.idtrBase = kva(PHYS_IDT);
    cpu.idtrLimit = 256 * 8 - 1;
    cpu.cr3 = PHYS_PGDIR;
    cpu.cr4 = 0x10 | 0x80;
    cpu.cr0 = 0x80010011 | 0x20 | 0x2;
    // FNINIT, as Linux's fpu__init_cpu() does at boot; a kernel runs one program (runUserProgram), which thus
    // starts with FNINIT's state as after Linux's fpu__clear() at exec.
    cpu.fpu.init();
    cpu.flushTlb();
    const load = (seg: number, sel: number): void => {
      const lo = m.read32(cpu.gdtrBase + (sel & ~7));
      const hi = m.read32(cpu.gdtrBase + (sel & ~7) + 4);
      setSegmentCache(cpu, seg, sel, parseDescriptor(lo, hi));
    };
    cpu.setCpl(0);
    load(CS, KERNEL_CS);
    for (const s of [SS, DS, ES]) load(s, KERNEL_DS);
    setSegmentCache(cpu, FS, 0, null);
    setSegmentCache(cpu, GS, 0, null);
    // LTR: the TSS descriptor becomes busy.
    const tssHi = m.read32(cpu.gdtrBase + TSS_SEL + 4);
    m.write32(cpu.gdtrBase + TSS_SEL + 4, tssHi | 0x200);
    const tssDesc = parseDescriptor(m.read32(cpu.gdtrBase + TSS_SEL), tssHi);
    cpu.tr = TSS_SEL;
    cpu.trBase = tssDesc.base;
    cpu.trLimit = tssDesc.limit;
    cpu.regs[4] = kva(PHYS_KSTACK_TOP);
  }

  handlerAddress(vector: number): number {
    return (kva(PHYS_NATIVE) + vector * 8) | 0;
  }

  /** Install the policy for a vector (page faults, system calls, ...). */
  setTrapHandler(vector: number, h: TrapHandler): void {
    this.handlers[vector] = h;
  }
  /** The current policy for a vector, so a new one can chain to it (the page-hiding service does). */
  getTrapHandler(vector: number): TrapHandler | undefined {
    return this.handlers[vector];
  }

  /**
   * The kernel stack whose guard page holds `lin`, or null (handle_stack_overflow()'s
   * question: did this fault hit a guard page?).
   */
  stackGuardAt(lin: number): { guard: number; low: number; high: number } | null {
    const a = lin >>> 0;
    return this.stackGuards.find((g) => a - g.guard < 4096 && a >= g.guard) ?? null;
  }

  /** The name a bound routine was given (bindRoutine's `name`) and the offset into it, or null. */
  routineSymbol(addr: number): { name: string; offset: number; size: number } | null {
    const a = addr >>> 0;
    const text = kva(PHYS_KTEXT) >>> 0;
    if (a >= text && a < this.nextFunction >>> 0) {
      const entry = (a - ((a - text) % FUNCTION_SLOT)) >>> 0;
      const fname = this.functionNames.get(entry);
      return fname === undefined ? null : { name: fname, offset: a - entry, size: FUNCTION_SLOT };
    }
    const base = (a - ((a - (kva(PHYS_NATIVE) >>> 0)) & 7)) >>> 0;
    const name = this.routineNames.get(base);
    return name === undefined ? null : { name, offset: a - base, size: ROUTINE_SLOT };
  }

  /** Bind a native routine (called with CALL, returns with RET) and return its guest address; `name` labels it in stack traces. */
  bindRoutine(fn: (k: Kernel) => void, name?: string): number {
    const addr = this.nextRoutine;
    this.nextRoutine += ROUTINE_SLOT;
    if (name !== undefined) this.routineNames.set(addr >>> 0, name);
    const hooks = this.routineHooks;
    this.cpu.bindNative(addr, (cpu) => {
      for (let i = 0; i < hooks.length; i++) hooks[i]!.enter?.(this);
      try {
        fn(this);
        if (!cpu.stopReason) cpu.eip = cpu.pop32();
      } finally {
        for (let i = hooks.length - 1; i >= 0; i--) hooks[i]!.exit?.(this);
      }
    });
    return addr;
  }

  /**
   * Bind `fn` as a kernel function with a real entry in kernel text: the
   * returned address holds i386 code — `nopl 0x0(%eax,%eax,1); jmp <native>`,
   * the 5-byte NOP being what Linux's functions start with when their
   * `call __fentry__` is patched out (CONFIG_FUNCTION_TRACER) — and the
   * native routine runs when the jump reaches it. Callers see an ordinary
   * function (arguments, return address, RET as bindRoutine's); the entry
   * touches neither registers nor the stack, and gives kprobes an
   * instruction to replace with int3 and single-step out of line.
   */
  bindFunction(fn: (k: Kernel) => void, name: string): number {
    return this.functionEntry(this.bindRoutine(fn, name), name);
  }

  /** The kernel-text entry of bindFunction for a routine already bound at `native`. */
  functionEntry(native: number, name: string): number {
    const entry = this.nextFunction;
    if ((entry >>> 0) + FUNCTION_SLOT > (kva(PHYS_KTEXT) >>> 0) + 4096) throw new Error(`kernel text is full: cannot bind ${name}`);
    this.nextFunction += FUNCTION_SLOT;
    const code = new Uint8Array(FUNCTION_SLOT).fill(0xcc); // int3 padding, as Linux's alignment fill
    code.set([0x0f, 0x1f, 0x44, 0x00, 0x00, 0xe9]);
    new DataView(code.buffer).setInt32(6, (native - (entry + 10)) | 0, true);
    this.mem.write(entry, code);
    this.functionNames.set(entry >>> 0, name);
    return entry;
  }

  /** Put `code` (at most FUNCTION_SLOT bytes) in kernel text under `name`; returns its address (kprobes' IRET, trampolines). */
  reserveText(code: Uint8Array, name: string): number {
    const entry = this.nextFunction;
    if ((entry >>> 0) + FUNCTION_SLOT > (kva(PHYS_KTEXT) >>> 0) + 4096 || code.length > FUNCTION_SLOT) throw new Error(`kernel text is full: cannot place ${name}`);
    this.nextFunction += FUNCTION_SLOT;
    const slot = new Uint8Array(FUNCTION_SLOT).fill(0xcc);
    slot.set(code);
    this.mem.write(entry, slot);
    this.functionNames.set(entry >>> 0, name);
    return entry;
  }

  /** Is `addr` the entry of a function bound with bindFunction (its first byte)? */
  isFunctionEntry(addr: number): boolean {
    return this.functionNames.has(addr >>> 0);
  }

  /**
   * Bind a native entry point without bindRoutine's RET epilogue: the
   * routine leaves EIP (and the stack) where it wants them — a continuation
   * that chains another call or returns from a trap (returnFromTrap()).
   */
  bindEntry(fn: (k: Kernel) => void, name?: string): number {
    const addr = this.nextRoutine;
    this.nextRoutine += ROUTINE_SLOT;
    if (name !== undefined) this.routineNames.set(addr >>> 0, name);
    this.cpu.bindNative(addr, () => fn(this));
    return addr;
  }

  /**
   * Called by a trap handler that sent the CPU into kernel code (a module's
   * file operation called from a system call) instead of returning: the
   * trap frame stays on the kernel stack, and whoever continues the work
   * returns from the trap later with returnFromTrap().
   */
  deferTrapReturn(): void {
    this.trapReturnDeferred = true;
  }
  private trapReturnDeferred = false;

  /** IRET through the trap frame ESP points at (the end of a deferred trap return). */
  returnFromTrap(): void {
    this.iret();
  }

  /**
   * The processor as the kernel's own code has it (CPL 0, kernel segments, the empty kernel stack): where a
   * task switch starts from, whatever the CPU was doing (a stopped handler, a user instruction boundary).
   */
  kernelMode(stackTop: number = kva(PHYS_KSTACK_TOP)): void {
    const cpu = this.cpu;
    const load = (seg: number, sel: number): void => {
      const lo = this.mem.read32(cpu.gdtrBase + (sel & ~7));
      const hi = this.mem.read32(cpu.gdtrBase + (sel & ~7) + 4);
      setSegmentCache(cpu, seg, sel, parseDescriptor(lo, hi));
    };
    cpu.setCpl(0);
    load(CS, KERNEL_CS);
    load(SS, KERNEL_DS);
    cpu.regs[4] = stackTop | 0;
  }

  /** The kernel stack entries from user mode land on: the TSS's ESP0 (Linux's update_task_stack() at a task switch). */
  setKernelStack(top: number): void {
    this.mem.writePhys32(PHYS_TSS + 4, top | 0);
  }

  /** Enter user mode at `eip` with stack `esp`, as the kernel's return from execve does (IRET to CPL 3). */
  enterUser(eip: number, esp: number, eflags = 0x202): void {
    const cpu = this.cpu;
    cpu.push32(USER_DS);
    cpu.push32(esp);
    cpu.push32(eflags);
    cpu.push32(USER_CS);
    cpu.push32(eip);
    const load = (seg: number, sel: number): void => {
      const lo = this.mem.read32(cpu.gdtrBase + (sel & ~7));
      const hi = this.mem.read32(cpu.gdtrBase + (sel & ~7) + 4);
      setSegmentCache(cpu, seg, sel, parseDescriptor(lo, hi));
    };
    load(DS, USER_DS);
    load(ES, USER_DS);
    this.iret();
  }

  /** Return from a handler: pop the error code if the vector pushed one, then IRET. */
  private dispatchTrap(cpu: CPU, vector: number): void {
    const esp = cpu.regs[4];
    const hasErr = hasErrorCode(vector);
    const base = hasErr ? 4 : 0;
    // The frame the CPU just pushed: translated once when it lies within one page (it always does but at a page's end).
    const at = (cpu.segBase[SS] + esp) | 0;
    // The processor pushed it through the TLB: its translation first, a page walk when it holds none.
    const inPage = (at & 0xfff) <= 0x1000 - 24;
    let phys = inPage ? cpu.cachedPhys(at) : -1;
    if (inPage && phys < 0) phys = cpu.lookupPhys(at, false, false);
    if (phys + 24 > cpu.mem.size) phys = -1;
    const depth = this.trapDepth;
    const frame = this.trapFrames[depth] ?? (this.trapFrames[depth] = new TrapFrameSlot());
    frame.vector = vector;
    if (phys >= 0 && (phys & 3) === 0) {
      // Its dwords straight from RAM (an aligned frame in one page: every kernel stack's).
      const m = cpu.mem32;
      const p = (phys + base) >> 2;
      frame.errorCode = hasErr ? m[p - 1]! : null;
      frame.eip = m[p]!;
      frame.cs = m[p + 1]! & 0xffff;
      frame.eflags = m[p + 2]!;
    } else {
      frame.errorCode = hasErr ? this.frameWord(phys, at, 0) : null;
      frame.eip = this.frameWord(phys, at, base);
      frame.cs = this.frameWord(phys, at, base + 4) & 0xffff;
      frame.eflags = this.frameWord(phys, at, base + 8);
    }
    const cs = frame.cs;
    // Every gate targets a DPL-0 handler: an event from CPL 1–3 switched stacks and pushed SS:ESP.
    const outer = (cs & 3) > cpu.cpl;
    frame.fromUser = (cs & 3) === 3;
    frame.userEsp = outer ? this.frameWord(phys, at, base + 12) : (esp + base + 12) | 0;
    frame.userSs = outer ? this.frameWord(phys, at, base + 16) & 0xffff : cpu.segSel[SS];
    frame.frameAddress = (cpu.segBase[SS] + esp + base) | 0;
    frame.framePhys = phys < 0 ? -1 : phys + base;
    const h = this.handlers[vector];
    this.trapReturnDeferred = false;
    if (h) {
      // A handler that runs guest code (a call into the guest) can take a trap of its own: that one gets the next level's frame.
      this.trapDepth = depth + 1;
      try {
        h(this, frame);
      } finally {
        this.trapDepth = depth;
      }
    } else {
      cpu.stop({
        kind: 'fault',
        vector,
        errorCode: frame.errorCode,
        eip: frame.eip,
        message: `unexpected interrupt ${vector} at 0x${(frame.eip >>> 0).toString(16)}`,
      });
    }
    // A handler that stopped the machine leaves it in the handler; one that yielded (a task switch) returns to the task first.
    if (cpu.stopReason && cpu.stopReason.kind !== 'yield') return;
    if (this.trapReturnDeferred) {
      this.trapReturnDeferred = false;
      return;
    }
    if (hasErr) cpu.regs[4] = (cpu.regs[4] + 4) | 0;
    this.iret();
  }
  /** The dword at offset `o` of the trap frame at linear `at` (physical `phys`, or -1: through the page tables). */
  private frameWord(phys: number, at: number, o: number): number {
    return phys >= 0 ? this.cpu.mem.read32(phys + o) : this.mem.read32((at + o) | 0);
  }
  /** The TrapFrame of each nesting level of trap handlers (see TrapFrameSlot), and the level the next trap takes. */
  private readonly trapFrames: TrapFrameSlot[] = [];
  private trapDepth = 0;

  /** IRET, as the trap handler's last instruction: the common return (iretSameLevel) called directly, the full IRET otherwise. */
  private iret(): void {
    if (!iretSameLevel(this.cpu)) execIret(this.cpu, IRET32);
  }
}

const IRET32 = new Instr();
IRET32.size = 4;
IRET32.op = 0xcf;
