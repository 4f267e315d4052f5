/**
 * Dynamic ftrace for guest modules built with `-pg -mfentry`, as Linux's
 * (arch/x86/kernel/ftrace.c, kernel/trace/ftrace.c,
 * kernel/trace/fgraph.c) does it on i386 — with the trampolines native.
 *
 * - **Call sites.** gcc starts every function with `call __fentry__`
 *   (5 bytes, before the prologue). The loader (src/kernel/module.ts)
 *   records them, as recordmcount's __mcount_loc does, and patches each to
 *   the 5-byte NOP `0F 1F 44 00 00` (ftrace_init() → ftrace_make_nop()).
 * - **Enabling** (ftrace_startup() → ftrace_replace_code()): each site
 *   becomes `call ftrace_caller` again (ftrace_make_call()), a native
 *   routine; disabling writes the NOP back. The writes go through the
 *   host accessor into the code page, which drops the CPU's decoded blocks
 *   and compiled code for that page (the code-cache invalidation a
 *   self-modifying store gets), so code that already ran hot sees the change.
 * - **Function tracer** (ftrace_ops_list_func()): every registered callback
 *   gets the traced function's address (`ip`: the site, which is the
 *   function's first byte), the return address into its caller
 *   (`parentIp`) and the CPU, with the function's arguments still in
 *   EAX/EDX/ECX and on the stack at [ESP+8] (the native runs "inside" the
 *   fentry call: [ESP] is its return address, [ESP+4] the function's own).
 * - **Function graph** (prepare_ftrace_return() / function_graph_enter() /
 *   return_to_handler / ftrace_return_to_handler()): at entry the
 *   function's return address in its stack slot is replaced by the
 *   address of a native return trampoline, and the real one is pushed on a
 *   shadow return stack together with the slot's address and the function.
 *   When the function returns into the trampoline, the entry is popped, the
 *   return callbacks run (EAX/EDX hold the return value, ESP is just above
 *   the popped slot), and execution continues at the real return address.
 *   Entries carry their slot so the stack stays consistent without
 *   frame-pointer checks: at entry, any entry whose slot is not above the
 *   new slot is stale (its function left without returning, e.g. the
 *   machine stopped) and is dropped; at return, the entry is the innermost
 *   one whose slot lies below ESP (so `ret $n` works too). longjmp is not
 *   handled (the kernel has none; a longjmp'd-over frame is simply dropped
 *   as stale later).
 * - **Sibling calls** (`jmp g` at the end of a traced f, gcc -O2): g's
 *   fentry finds f's slot already holding the trampoline. As in Linux, g
 *   gets a second entry for the same slot whose return address is the
 *   trampoline itself: g returns into the trampoline, which pops g's entry
 *   and "returns" into the trampoline again, which pops f's. Callbacks are
 *   given the real parent (f's caller) in both cases.
 *
 * The trampolines access the guest stack with the CPU's own memory unit,
 * as Linux's ftrace_caller and return_to_handler (real kernel code) do;
 * there is no allocation per traced call.
 */
import type { CPU } from '../cpu/cpu.js';
import { SS } from '../cpu/instr.js';
import type { Kernel } from '../kernel/kernel.js';
import { schedulerOf } from '../kernel/sched/scheduler.js';
import { FTRACE_NOP5, type LoadedModule, type LoadedObject } from '../kernel/module.js';

/** A function-tracer callback: the traced function (its entry), its caller's return address, the CPU at entry. */
export type FtraceFunc = (ip: number, parentIp: number, cpu: CPU) => void;

/** Function-graph callbacks (Linux's struct fgraph_ops: entryfunc / retfunc). */
export interface FtraceGraphOps {
  /**
   * At entry, after the return address was hijacked; `depth` is the
   * entry's index in the shadow return stack (0 = outermost traced call),
   * `slot` the stack address of the return address. Registers and stack
   * are as at the function's first instruction (arguments in EAX, EDX,
   * ECX and at slot+4...). Returning false asks not to trace this call's
   * return (it is not hijacked when no graph client wants it).
   */
  entry?(ip: number, parentIp: number, slot: number, depth: number, cpu: CPU): boolean | void;
  /**
   * At return: ESP is past the popped return address (slot+4, more after
   * `ret $n`), EAX (EDX:EAX) the return value. Execution continues at
   * `parentIp` afterwards.
   */
  return?(ip: number, parentIp: number, slot: number, depth: number, cpu: CPU): void;
}

export interface FtraceStats {
  /** fentry calls that reached ftrace_caller. */
  entries: number;
  /** Returns through the trampoline. */
  returns: number;
  /** Shadow-stack entries dropped as stale (their function never returned through the trampoline). */
  stale: number;
  /** Calls not hijacked because the shadow stack was full (Linux: -EBUSY, trace_overrun). */
  overruns: number;
  /** Site patches written (NOP ↔ CALL). */
  patches: number;
}

/** Shadow return stack depth (Linux's FTRACE_RETFUNC_DEPTH is 50; a simulated stack can afford more). */
export const SHADOW_STACK_DEPTH = 1024;

const hex = (n: number): string => '0x' + (n >>> 0).toString(16);

const perKernel = new WeakMap<Kernel, Ftrace>();

/** ftrace for one kernel: every module attached to it, one ftrace_caller, one return trampoline. */
export class Ftrace {
  /** The native `ftrace_caller` the sites call when enabled. */
  readonly callerAddress: number;
  /** The native `return_to_handler` hijacked return addresses point to. */
  readonly trampolineAddress: number;
  readonly stats: FtraceStats = { entries: 0, returns: 0, stale: 0, overruns: 0, patches: 0 };

  private readonly sites: number[] = [];
  private readonly siteSet = new Set<number>();
  /** Sites currently patched to CALL. */
  private readonly live = new Set<number>();
  private readonly objects: LoadedObject[] = [];
  private funcs: FtraceFunc[] = [];
  /**
   * What the word the fentry call pushed (just below the function's return
   * address; dead once ftrace_caller returns) is left holding: null keeps
   * the return address, as on hardware. The stack poisoner sets its
   * pattern, so that the first local below the return address does not
   * start out as a code address.
   */
  fentrySlotFill: number | null = null;
  private graphs: FtraceGraphOps[] = [];

  // Shadow return stack (struct ftrace_ret_stack[]): parallel typed arrays, no allocation per call.
  // One per task, as Linux's current->ret_stack: a context switch swaps them (switchRetStack()).
  private retFunc: Int32Array = new Int32Array(SHADOW_STACK_DEPTH);
  private retAddr: Int32Array = new Int32Array(SHADOW_STACK_DEPTH);
  private retSlot: Int32Array = new Int32Array(SHADOW_STACK_DEPTH);
  private depth = 0;
  private readonly taskStacks = new WeakMap<object, { retFunc: Int32Array; retAddr: Int32Array; retSlot: Int32Array; depth: number }>();
  private switchHooked = false;

  /** Hook the scheduler's context switches once it exists (kernel threads each have their own return stack). */
  private hookSwitches(): void {
    const s = schedulerOf(this.kernel);
    if (!s) return;
    this.switchHooked = true;
    s.onSwitch.push((prev, next) => this.switchRetStack(prev, next));
  }

  /** The switched-out task keeps its shadow return stack; the switched-in task gets its own back (a new one: empty). */
  private switchRetStack(prev: object, next: object): void {
    this.taskStacks.set(prev, { retFunc: this.retFunc, retAddr: this.retAddr, retSlot: this.retSlot, depth: this.depth });
    const n = this.taskStacks.get(next);
    this.retFunc = n?.retFunc ?? new Int32Array(SHADOW_STACK_DEPTH);
    this.retAddr = n?.retAddr ?? new Int32Array(SHADOW_STACK_DEPTH);
    this.retSlot = n?.retSlot ?? new Int32Array(SHADOW_STACK_DEPTH);
    this.depth = n?.depth ?? 0;
  }

  private constructor(readonly kernel: Kernel) {
    // Routine addresses of our own, rebound to natives that set EIP themselves (no RET after them).
    this.callerAddress = kernel.bindRoutine(() => {}, 'ftrace_caller');
    kernel.cpu.bindNative(this.callerAddress, () => this.ftraceCaller());
    this.trampolineAddress = kernel.bindRoutine(() => {}, 'return_to_handler');
    kernel.cpu.bindNative(this.trampolineAddress, (cpu) => this.returnToHandler(cpu));
  }

  /** The kernel's ftrace (created on first use). */
  static of(kernel: Kernel): Ftrace {
    let f = perKernel.get(kernel);
    if (!f) {
      f = new Ftrace(kernel);
      perKernel.set(kernel, f);
    }
    return f;
  }

  /**
   * Make a loaded module's fentry sites known to the kernel's ftrace
   * (ftrace_module_init()); they stay NOPs until enable(). Returns the ftrace.
   */
  static attach(kernel: Kernel, module: LoadedModule | LoadedObject): Ftrace {
    const f = Ftrace.of(kernel);
    f.addObject('object' in module ? module.object : module);
    if ('object' in module && module.runtime) f.addObject(module.runtime);
    return f;
  }

  addObject(obj: LoadedObject): void {
    if (this.objects.includes(obj)) return;
    this.objects.push(obj);
    for (const s of obj.fentrySites) {
      if (this.siteSet.has(s)) continue;
      this.siteSet.add(s);
      this.sites.push(s);
    }
  }

  /**
   * Forget an object's sites before its memory is freed (ftrace_release_mod()):
   * nothing is written to them any more.
   */
  removeObject(obj: LoadedObject): void {
    const i = this.objects.indexOf(obj);
    if (i < 0) return;
    this.objects.splice(i, 1);
    for (const s of obj.fentrySites) {
      this.siteSet.delete(s);
      this.live.delete(s);
    }
    const keep = this.sites.filter((s) => this.siteSet.has(s));
    this.sites.length = 0;
    this.sites.push(...keep);
  }

  /** Every known site (the functions' entry addresses). */
  get callSites(): readonly number[] {
    return this.sites;
  }
  get enabled(): boolean {
    return this.live.size > 0;
  }
  /** Is the site of the function at `ip` patched to call ftrace_caller? */
  isTraced(ip: number): boolean {
    return this.live.has(ip >>> 0);
  }

  /**
   * Patch the sites to `call ftrace_caller` (ftrace_make_call()); with a
   * filter only those whose function it accepts (set_ftrace_filter), the
   * others back to NOP.
   */
  enable(filter?: (ip: number) => boolean): void {
    for (const s of this.sites) {
      if (!filter || filter(s)) this.makeCall(s);
      else this.makeNop(s);
    }
  }

  /** Every site back to the 5-byte NOP (ftrace_make_nop()). Calls in flight still return through the trampoline. */
  disable(): void {
    for (const s of this.sites) this.makeNop(s);
  }

  /** register_ftrace_function(): returns the unregister function. */
  registerFunction(fn: FtraceFunc): () => void {
    this.funcs = [...this.funcs, fn];
    return () => {
      this.funcs = this.funcs.filter((f) => f !== fn);
    };
  }

  /** register_ftrace_graph(): returns the unregister function. */
  registerGraph(ops: FtraceGraphOps): () => void {
    this.graphs = [...this.graphs, ops];
    return () => {
      this.graphs = this.graphs.filter((g) => g !== ops);
    };
  }

  /** Entries on the shadow return stack (traced calls in flight). */
  get graphDepth(): number {
    return this.depth;
  }
  /** The shadow stack entry at `i` (0 = outermost): the function, its return address (the trampoline after a sibling call), its slot. */
  graphEntry(i: number): { ip: number; parentIp: number; slot: number } | null {
    if (i < 0 || i >= this.depth) return null;
    return { ip: this.retFunc[i]! >>> 0, parentIp: this.retAddr[i]! >>> 0, slot: this.retSlot[i]! >>> 0 };
  }
  /** Return addresses from the shadow stack, innermost first (the callers of the current traced function and up). */
  returnAddresses(max = SHADOW_STACK_DEPTH): number[] {
    const out: number[] = [];
    const tramp = this.trampolineAddress >>> 0;
    for (let i = this.depth - 1; i >= 0 && out.length < max; i--) {
      const r = this.retAddr[i]! >>> 0;
      if (r !== tramp) out.push(r); // a sibling call's entry: its caller's entry follows
    }
    return out;
  }
  /**
   * The call chain above the innermost traced function, from the shadow
   * return stack, innermost first: each caller's return address
   * (`entry: false`), and for a sibling call (the function was jumped to)
   * the entry address of the function that jumped (`entry: true`), which a
   * return-address walk cannot show.
   */
  stackTrace(max = 64): { address: number; entry: boolean }[] {
    const out: { address: number; entry: boolean }[] = [];
    const tramp = this.trampolineAddress >>> 0;
    for (let i = this.depth - 1; i >= 0 && out.length < max; i--) {
      const r = this.retAddr[i]! >>> 0;
      if (r === tramp) {
        if (i > 0) out.push({ address: this.retFunc[i - 1]! >>> 0, entry: true });
      } else out.push({ address: r, entry: false });
    }
    return out;
  }

  /**
   * The real return address for a stack word that may hold the trampoline
   * (Linux's ftrace_graph_ret_addr(), for stack dumps): the entry whose slot is `slot`.
   */
  realReturnAddress(slot: number, value: number): number {
    if ((value >>> 0) !== this.trampolineAddress >>> 0) return value >>> 0;
    const r = this.realParent(slot >>> 0);
    return r;
  }

  // ---- patching

  private patch(site: number, bytes: Uint8Array): void {
    this.kernel.mem.write(site, bytes);
    this.stats.patches++;
  }
  /** ftrace_make_call(): `E8 rel32` to ftrace_caller. */
  private makeCall(site: number): void {
    if (this.live.has(site)) return;
    const rel = (this.callerAddress - (site + 5)) | 0;
    this.patch(site, new Uint8Array([0xe8, rel, rel >> 8, rel >> 16, rel >> 24]));
    this.live.add(site);
  }
  /** ftrace_make_nop(). */
  private makeNop(site: number): void {
    if (!this.live.has(site)) return;
    this.patch(site, Uint8Array.from(FTRACE_NOP5));
    this.live.delete(site);
  }

  // ---- the trampolines

  /**
   * ftrace_caller: runs inside the fentry call ([ESP] = the site + 5,
   * [ESP+4] = the function's return address); it returns itself (pops
   * [ESP] into EIP) to the function's first real instruction.
   */
  private ftraceCaller(): void {
    if (!this.switchHooked) this.hookSwitches();
    const cpu = this.kernel.cpu;
    this.stats.entries++;
    const ssBase = cpu.segBase[SS]!;
    const esp = cpu.regs[4]!;
    const back = cpu.read32((ssBase + esp) | 0);
    const ip = (back - 5) >>> 0;
    const slot = ((esp + 4) | 0) >>> 0;
    const raw = cpu.read32((ssBase + slot) | 0) >>> 0;
    // A sibling call (`jmp g` at the end of a traced f) reaches g with f's hijacked slot: its real
    // parent is f's (Linux nests a second return_to_handler entry the same way).
    const parent = raw === this.trampolineAddress >>> 0 ? this.realParent(slot) : raw;
    const funcs = this.funcs;
    for (let i = 0; i < funcs.length; i++) funcs[i]!(ip, parent, cpu);
    if (this.graphs.length > 0) this.prepareReturn(ip, raw, parent, slot, cpu);
    if (cpu.stopReason) return;
    // RET back to the function's first real instruction.
    cpu.regs[4] = (esp + 4) | 0;
    cpu.eip = back;
    if (this.fentrySlotFill !== null) cpu.write32((ssBase + esp) | 0, this.fentrySlotFill);
  }

  /** The real return address behind a hijacked slot: the innermost entry for it that is not itself a sibling call's. */
  private realParent(slot: number): number {
    const tramp = this.trampolineAddress >>> 0;
    for (let i = this.depth - 1; i >= 0; i--) {
      if ((this.retSlot[i]! >>> 0) === slot && (this.retAddr[i]! >>> 0) !== tramp) return this.retAddr[i]! >>> 0;
    }
    return tramp;
  }

  /** prepare_ftrace_return() → function_graph_enter(): push on the shadow stack, hijack the slot. */
  private prepareReturn(ip: number, raw: number, parent: number, slot: number, cpu: CPU): void {
    const chained = raw === this.trampolineAddress >>> 0;
    // Entries whose slot is below this one belong to frames that are gone; so does one at the same
    // slot, unless the slot still holds the trampoline (a sibling call from that function).
    while (this.depth > 0) {
      const top = this.retSlot[this.depth - 1]! >>> 0;
      if (top > slot || (top === slot && chained)) break;
      this.depth--;
      this.stats.stale++;
    }
    if (this.depth >= SHADOW_STACK_DEPTH) {
      this.stats.overruns++;
      return;
    }
    const d = this.depth++;
    this.retFunc[d] = ip;
    this.retAddr[d] = raw;
    this.retSlot[d] = slot;
    let wanted = false;
    const graphs = this.graphs;
    for (let i = 0; i < graphs.length; i++) {
      const g = graphs[i]!;
      if (g.entry) {
        if (g.entry(ip, parent, slot, d, cpu) !== false) wanted = true;
      } else wanted = true;
      if (cpu.stopReason) break;
    }
    if (!wanted) {
      this.depth = d;
      return;
    }
    if (!chained) cpu.write32((cpu.segBase[SS]! + slot) | 0, this.trampolineAddress);
  }

  /** return_to_handler → ftrace_return_to_handler(): pop, report, continue at the real return address. */
  private returnToHandler(cpu: CPU): void {
    this.stats.returns++;
    const esp = cpu.regs[4]! >>> 0;
    // The returning entry is the one with the highest slot below ESP (ESP = slot + 4, more after
    // `ret $n`); entries above it on the shadow stack with lower slots are stale.
    while (this.depth > 1) {
      const top = this.retSlot[this.depth - 1]! >>> 0;
      const next = this.retSlot[this.depth - 2]! >>> 0;
      if (!(next < esp && top < next)) break;
      this.depth--;
      this.stats.stale++;
    }
    if (this.depth === 0 || (this.retSlot[this.depth - 1]! >>> 0) >= esp) {
      cpu.stop({
        kind: 'internal-error', eip: cpu.eip,
        message: `ftrace: return to the graph trampoline with ESP ${hex(esp)} and no shadow-stack entry for it (the stack was switched or corrupted)`,
      });
      return;
    }
    const d = --this.depth;
    const ip = this.retFunc[d]! >>> 0;
    const raw = this.retAddr[d]! >>> 0;
    const slot = this.retSlot[d]! >>> 0;
    const graphs = this.graphs;
    if (graphs.length > 0) {
      // After a sibling call the raw address is the trampoline again (the caller's entry returns next).
      const parent = raw === this.trampolineAddress >>> 0 ? this.realParent(slot) : raw;
      for (let i = 0; i < graphs.length; i++) graphs[i]!.return?.(ip, parent, slot, d, cpu);
    }
    cpu.eip = raw | 0;
  }
}
