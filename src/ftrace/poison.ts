/**
 * Ingo Molnar's stack-frame poisoning (LKML, 28 Nov 2008, in reply to
 * Vegard Nossum's CPL-1 plan; seeds/004): "the function tracer could be
 * modified to poison stack frames as we return from a function, and it
 * could also check the poison value when we enter a function call ...
 * ftrace could be modified to provide a stack frame size parameter so it
 * would only involve the stack frame that is entered/exited."
 *
 * Built on the function-graph hooks of ./ftrace.ts:
 *  - at attach, the whole unused kernel stack below ESP is poisoned;
 *  - when a traced function returns (return_to_handler), its dead frame —
 *    the `frameSize` bytes below the popped return slot, return address
 *    included — is filled with the poison pattern. The size comes from
 *    gcc's `-fstack-usage` data when the module was compiled with it
 *    (`source: 'su'`), otherwise from prologue analysis of the function's
 *    code (`source: 'prologue'`); `frameSources` says which per function;
 *  - when a traced function is entered (prepare_ftrace_return), each of
 *    its arguments — located by the i386 `-mregparm=3` rules from the
 *    function's DWARF parameter list, see regparmLayout() — is compared
 *    with the poison. A match is a finding: an uninitialized stack value
 *    (never written since the frame it lives in died) reached a call.
 *
 * The fentry call itself pushes a word just below the function's return
 * address — where gcc often puts the function's first local. On hardware
 * that local would start out holding `function+5`, an initialized-looking
 * code address, and the poison there would be lost; so ftrace_caller
 * leaves that dead word holding the pattern (Ftrace.fentrySlotFill) when
 * it returns.
 *
 * What it cannot see (by design, as Ingo said "not the same quality as
 * kmemcheck"): uninitialized values that are used without being passed to
 * a traced function, values that were partly overwritten, locals of a
 * function that is still running, and frames of untraced code.
 *
 * The frame fill and the argument reads use the CPU's memory unit, as the
 * kernel code doing this in Linux would. Per traced call: no allocation
 * (the argument layout and frame size are computed once per function).
 */
import type { CPU } from '../cpu/cpu.js';
import { SS } from '../cpu/instr.js';
import type { Kernel, RoutineHooks } from '../kernel/kernel.js';
import type { LoadedModule } from '../kernel/module.js';
import { schedulerOf, type KernelTask } from '../kernel/sched/scheduler.js';
import { kva, PHYS_KSTACK_TOP } from '../kernel/layout.js';
import { functionInfoFor, type DwarfFunction } from '../elf/dwarf-info.js';
import { lineTableFor, type LineTable } from '../elf/dwarf-line.js';
import {
  findingFrame, formatPosition, formatSymbol,
  type Finding, type FindingFrame, type SourceLocator, type Symbolizer,
} from '../shadow/report.js';
import { Ftrace } from './ftrace.js';
import { analyzePrologue, parseStackUsage, type StackUsageEntry } from './stack-usage.js';

/**
 * The default poison: the 32-bit word 0xA5A5A5A5.
 *
 * False positives. The poisoner reports an argument whose 32-bit word
 * equals the poison; a correct program triggers it only by passing a value
 * that happens to be 0xA5A5A5A5. For a uniformly random 32-bit value the
 * chance is 2^-32 ≈ 2.3·10^-10 per argument word (about one in 4.3
 * billion): at a million traced argument words, ~0.02 % for the whole run.
 * Real values are far from uniform, so the pattern is picked to be one
 * that real values almost never are:
 *  - odd, so it is no pointer to anything 2- or 4-byte aligned;
 *  - below PAGE_OFFSET (0xC0000000), so it is no kernel address, and at
 *    -1 515 870 811 it is neither a small number nor an -errno;
 *  - the byte 0xA5 is not ASCII and, alone, not valid UTF-8 (a
 *    continuation byte), so no text buffer holds "A5A5A5A5";
 *  - it is not one of the magic values people write on purpose
 *    (0xDEADBEEF, 0xCCCCCCCC, 0x6B6B6B6B / 0x5A5A5A5A, Linux's slab
 *    poisons, which a module may legitimately handle).
 * Arguments narrower than 32 bits (char, short) are compared on their own
 * bytes only, so for those the chance rises to 2^-8 (char) and 2^-16
 * (short) for a random value; `checkNarrow: false` turns that off.
 * A repeated byte also means a poisoned value stays recognizable when
 * copied at any byte offset.
 */
export const DEFAULT_POISON = 0xa5a5a5a5;

/** Where one 32-bit word of an argument is at the function's entry. */
export interface ArgWord {
  /** cpu.regs index (EAX = 0, ECX = 1, EDX = 2), or -1 on the stack. */
  reg: number;
  /** On the stack: offset from the first stack argument (the return slot + 4, [ESP+8] at the fentry call). */
  stackOffset: number;
}

export interface ArgLocation {
  /** Parameter index (0-based), or -1 for the hidden struct-return pointer. */
  index: number;
  name: string | null;
  size: number;
  words: ArgWord[];
}

const REG_NAMES = ['EAX', 'ECX', 'EDX'];
/** regparm's order: EAX, EDX, ECX (as cpu.regs indices). */
const REGPARM_ORDER = [0, 2, 1];

/**
 * Where each argument of `fn` is at its first instruction under i386
 * `-mregparm=N` (gcc's function_arg_32 / function_arg_advance_32):
 *  - each argument takes `words = ceil(size/4)` 32-bit words;
 *  - integer-class arguments (integers, pointers, enums, and structs and
 *    unions of any size) go in the next `words` registers of EAX, EDX,
 *    ECX if that many are left, else on the stack; either way the count
 *    of free registers drops by `words`, and once it reaches 0 or below no
 *    later argument uses a register (a `long long` that does not fit
 *    sends every later argument to the stack too);
 *  - floating-point arguments (float, double, long double) always go on
 *    the stack and use up no register (no -msseregparm);
 *  - a variadic function takes every argument on the stack;
 *  - a function returning a struct or union takes the hidden return
 *    pointer as its first argument (EAX), as i386 returns aggregates in
 *    memory (under -freg-struct-return only those of other sizes than 1, 2, 4, 8:
 *    DwarfFunction.returnsAggregate says which);
 *  - stack arguments are in order, each at a 4-byte-aligned offset.
 */
export function regparmLayout(fn: Pick<DwarfFunction, 'params' | 'variadic' | 'returnsAggregate'>, regparm = 3): ArgLocation[] {
  let nregs = fn.variadic ? 0 : regparm;
  let reg = 0;
  let stack = 0;
  const out: ArgLocation[] = [];
  const place = (index: number, name: string | null, size: number, float: boolean): void => {
    const words = Math.max(1, Math.ceil(size / 4));
    const loc: ArgLocation = { index, name, size: size || 4, words: [] };
    if (!float && words <= nregs) {
      for (let i = 0; i < words; i++) loc.words.push({ reg: REGPARM_ORDER[reg++]!, stackOffset: 0 });
    } else {
      for (let i = 0; i < words; i++) loc.words.push({ reg: -1, stackOffset: stack + 4 * i });
      stack += 4 * words;
    }
    if (!float) {
      nregs -= words;
      if (nregs <= 0) nregs = 0;
    }
    out.push(loc);
  };
  if (fn.returnsAggregate) place(-1, null, 4, false);
  fn.params.forEach((p, i) => place(i, p.name, p.size, p.float));
  return out;
}

/** A frame size and where it came from. */
export interface FrameSize {
  /** Bytes below the return slot's end (return address included). */
  bytes: number;
  source: 'su' | 'prologue';
}

export interface StackPoisonerOptions {
  /** The 32-bit poison word (default DEFAULT_POISON). */
  pattern?: number;
  /** gcc's -fstack-usage output for the module (CompileResult.stackUsage); without it frames come from prologue analysis. */
  stackUsage?: string | null;
  /** Poison the unused stack below ESP at attach (default true). */
  poisonAtAttach?: boolean;
  /**
   * Lowest stack address to poison (default: the bottom of the 16 KiB ring-0
   * kernel stack). It bounds the stack the first task runs on; every other
   * task's kernel stack (a kernel thread's, a process's) is bounded by its
   * own [low, high) from the scheduler.
   */
  stackBottom?: number;
  /** Compare arguments narrower than 32 bits on their own bytes (default true). */
  checkNarrow?: boolean;
  /** Patch the call sites to ftrace_caller now (default true). */
  enable?: boolean;
  /** Names functions in findings (default: the module's symbols). */
  symbolize?: Symbolizer;
  /** Source positions (default: the module's DWARF line table). */
  locate?: SourceLocator;
  /** Called for each finding as it is made. */
  onFinding?(finding: Finding, report: string): void;
}

export interface StackPoisonerStats {
  entries: number;
  returns: number;
  /** Argument words compared with the poison. */
  argumentWords: number;
  framesPoisoned: number;
  bytesPoisoned: number;
  /** Traced entries whose arguments could not be checked (no DWARF entry, or a gcc clone with a changed ABI). */
  uncheckedEntries: number;
}

/** A module the poisoner knows: its frame sizes (.su), DWARF parameter lists and line table. */
interface PoisonedModule {
  module: LoadedModule;
  su: Map<string, StackUsageEntry>;
  dwarf: Map<number, DwarfFunction> | null;
  table: LineTable | null | undefined;
}

interface FunctionInfo {
  name: string | null;
  frame: FrameSize | null;
  /** Flattened argument words: [argIndex, reg, stackOffset, byteMask] × n; null when not checkable. */
  words: Int32Array | null;
  args: ArgLocation[];
}

/** The kernel stack's lowest address (layout.ts: 16 KiB below PHYS_KSTACK_TOP). */
export const KERNEL_STACK_BOTTOM = (kva(PHYS_KSTACK_TOP) - 16 * 1024) >>> 0;

const hex8 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');

export class StackPoisoner {
  readonly ftrace: Ftrace;
  readonly pattern: number;
  readonly findings: Finding[] = [];
  /** One text report per finding (kernel-log style, lines joined with '\n'). */
  readonly reports: string[] = [];
  readonly stats: StackPoisonerStats = { entries: 0, returns: 0, argumentWords: 0, framesPoisoned: 0, bytesPoisoned: 0, uncheckedEntries: 0 };

  private readonly modules: PoisonedModule[] = [];
  private readonly info = new Map<number, FunctionInfo>();
  /** Tasks whose kernel stack was poisoned below ESP when they were first switched in. */
  private readonly seenTasks = new WeakSet<KernelTask>();
  private readonly onSwitch = (_prev: KernelTask, next: KernelTask): void => this.switchedIn(next);
  private readonly stackBottom: number;
  private readonly checkNarrow: boolean;
  private readonly symbolize: Symbolizer;
  private readonly locate: SourceLocator;
  private unregister: (() => void) | null;
  /**
   * Native kernel routines (kmalloc, printk, ...) are traced functions in
   * Linux too, compiled with -pg; in kmemsim their whole frame is the return
   * address their CALL pushed. When one returns, that dead word is poisoned
   * like any returning frame — otherwise the return address a native leaves
   * below a traced caller's frame would look like an initialized value to a
   * later frame reusing the slot.
   */
  private readonly nativeHook: RoutineHooks = {
    exit: (k) => {
      if (this.unregister === null || k.cpu.stopReason) return;
      const esp = (k.cpu.segBase[SS]! + k.cpu.regs[4]!) >>> 0;
      this.poison((esp - 4) >>> 0, esp);
    },
  };

  private constructor(readonly kernel: Kernel, private readonly opts: StackPoisonerOptions) {
    this.pattern = (opts.pattern ?? DEFAULT_POISON) >>> 0;
    this.stackBottom = (opts.stackBottom ?? KERNEL_STACK_BOTTOM) >>> 0;
    this.checkNarrow = opts.checkNarrow ?? true;
    this.symbolize = opts.symbolize ?? ((a) => {
      const m = this.moduleAt(a)?.module.symbolize(a);
      return m ? { function: m.name, offset: m.offset, size: m.size } : null;
    });
    this.locate = opts.locate ?? ((a) => {
      const pm = this.moduleAt(a);
      if (!pm || !pm.module.object.contains(a)) return null;
      if (pm.table === undefined) pm.table = lineTableFor(pm.module.object);
      const p = pm.table?.lookup(a >>> 0) ?? null;
      return p ? { file: p.file, line: p.line } : null;
    });
    this.ftrace = Ftrace.of(kernel);
    this.ftrace.fentrySlotFill = this.pattern | 0;
    this.unregister = this.ftrace.registerGraph({
      entry: (ip, parent, slot, depth, cpu) => this.onEntry(ip, parent, slot, depth, cpu),
      return: (ip, _parent, slot, _depth, cpu) => this.onReturn(ip, slot, cpu),
    });
    kernel.routineHooks.push(this.nativeHook);
    // Every task has its own kernel stack (kernel threads, and processes in the Linux personality).
    schedulerOf(kernel)?.onSwitch.push(this.onSwitch);
  }

  /**
   * Attach to a loaded module (e.g. in ModuleRunOptions.onLoad, before
   * init_module runs): register the graph hooks, poison the unused stack,
   * enable the module's call sites.
   */
  static attach(kernel: Kernel, module: LoadedModule, opts: StackPoisonerOptions = {}): StackPoisoner {
    const p = StackPoisoner.start(kernel, opts);
    p.addModule(module, opts.stackUsage, opts.enable ?? true);
    return p;
  }

  /**
   * A poisoner with no module yet (a system whose modules come and go:
   * addModule() and removeModule(), e.g. from the module notifier): the
   * graph hooks registered and the unused part of the current stack poisoned.
   */
  static start(kernel: Kernel, opts: Omit<StackPoisonerOptions, 'stackUsage' | 'enable'> = {}): StackPoisoner {
    const p = new StackPoisoner(kernel, opts);
    if (opts.poisonAtAttach ?? true) {
      const esp = (kernel.cpu.segBase[SS]! + kernel.cpu.regs[4]!) >>> 0;
      p.poison(0, esp);
    }
    const cur = schedulerOf(kernel)?.current;
    if (cur) p.seenTasks.add(cur);
    return p;
  }

  /** Trace and check a module's functions (ftrace_module_init() + enabling its sites); `stackUsage` is its .su data. */
  addModule(module: LoadedModule, stackUsage?: string | null, enable = true): void {
    if (this.modules.some((m) => m.module === module)) return;
    this.modules.push({ module, su: parseStackUsage(stackUsage ?? ''), dwarf: functionInfoFor(module.object), table: undefined });
    Ftrace.attach(this.kernel, module);
    if (enable) this.ftrace.enable();
  }

  /** A module about to be freed (ftrace_release_mod()): its sites are forgotten, its functions' data dropped. */
  removeModule(module: LoadedModule): void {
    const i = this.modules.findIndex((m) => m.module === module);
    if (i < 0) return;
    this.modules.splice(i, 1);
    for (const obj of [module.object, module.runtime, module.library]) {
      if (!obj) continue;
      this.ftrace.removeObject(obj);
      for (const ip of [...this.info.keys()]) if (obj.contains(ip)) this.info.delete(ip);
    }
  }

  /** The modules traced, in load order. */
  get tracedModules(): readonly LoadedModule[] {
    return this.modules.map((m) => m.module);
  }

  /** The module whose object (or runtime, or library) holds `addr`. */
  private moduleAt(addr: number): PoisonedModule | null {
    const a = addr >>> 0;
    return this.modules.find((m) => m.module.object.contains(a) || !!m.module.runtime?.contains(a) || !!m.module.library?.contains(a)) ?? null;
  }

  /** Stop poisoning and checking (the sites stay as they are; call ftrace.disable() to NOP them). */
  detach(): void {
    if (this.unregister) this.ftrace.fentrySlotFill = null;
    const i = this.kernel.routineHooks.indexOf(this.nativeHook);
    if (i >= 0) this.kernel.routineHooks.splice(i, 1);
    const sw = schedulerOf(this.kernel)?.onSwitch;
    const j = sw?.indexOf(this.onSwitch) ?? -1;
    if (j >= 0) sw!.splice(j, 1);
    this.unregister?.();
    this.unregister = null;
  }

  /**
   * A task is switched in: the first time, all of its kernel stack below
   * ESP is dead (a new kernel thread's or process's stack, zeroed by the
   * page allocator, or one that was running before the poisoner came) and
   * is poisoned, as the first task's is at attach; after that only the
   * __switch_to_asm frame schedule() just popped (EFLAGS, ESI, EDI, EBX, EBP).
   */
  private switchedIn(next: KernelTask): void {
    if (this.unregister === null) return;
    const cpu = this.kernel.cpu;
    const esp = (cpu.segBase[SS]! + cpu.regs[4]!) >>> 0;
    if (this.seenTasks.has(next)) {
      this.poison((esp - 20) >>> 0, esp);
      return;
    }
    this.seenTasks.add(next);
    this.poison(0, esp);
  }

  /**
   * The lowest address of the kernel stack `addr` (the top of a range to
   * poison) lies in: the running task's own stack when it is on it, else
   * the first task's (ring-0 or ring-1) stack; null for another address.
   */
  private stackLowFor(addr: number): number | null {
    const t = schedulerOf(this.kernel)?.current;
    if (t && t.stack.phys !== null && addr > t.stack.low && addr <= t.stack.high) return t.stack.low;
    return addr > this.stackBottom ? this.stackBottom : null;
  }

  /**
   * Fill [lo, hi) with the pattern (word-aligned to the pattern's phase:
   * address & 3 picks the byte), never below the bottom of the kernel stack
   * `hi` is in.
   */
  poison(lo: number, hi: number): void {
    const cpu = this.kernel.cpu;
    hi >>>= 0;
    const bottom = this.stackLowFor(hi);
    if (bottom === null) return;
    lo = Math.max(lo >>> 0, bottom);
    if (hi <= lo) return;
    let a = lo;
    const p = this.pattern;
    while (a < hi && (a & 3) !== 0) {
      cpu.write8(a | 0, (p >>> (8 * (a & 3))) & 0xff);
      a++;
    }
    for (; a + 4 <= hi; a += 4) cpu.write32(a | 0, p | 0);
    for (; a < hi; a++) cpu.write8(a | 0, (p >>> (8 * (a & 3))) & 0xff);
    this.stats.bytesPoisoned += hi - lo;
  }

  /** The frame size used for the function at `ip`, or null when neither source knows it. */
  frameSize(ip: number): FrameSize | null {
    return this.functionInfo(ip >>> 0).frame;
  }

  /** Where the arguments of the function at `ip` are (empty when it cannot be checked). */
  argumentLayout(ip: number): readonly ArgLocation[] {
    return this.functionInfo(ip >>> 0).args;
  }

  /** Every function seen so far: name → frame size and its source (.su or prologue). */
  get frameSources(): Map<string, FrameSize | null> {
    const out = new Map<string, FrameSize | null>();
    for (const f of this.info.values()) out.set(f.name ?? '?', f.frame);
    return out;
  }

  private functionInfo(ip: number): FunctionInfo {
    let f = this.info.get(ip);
    if (f) return f;
    const pm = this.moduleAt(ip);
    const sym = pm?.module.symbolize(ip) ?? null;
    const name = sym?.name ?? null;
    let frame: FrameSize | null = null;
    const su = name !== null && pm?.module.object.contains(ip) ? pm.su.get(name) : undefined;
    if (su) frame = { bytes: su.bytes, source: 'su' };
    else {
      try {
        const code = this.kernel.mem.read(ip, 64);
        frame = { bytes: analyzePrologue(code).bytes, source: 'prologue' };
      } catch {
        frame = null;
      }
    }
    // gcc clones (f.isra.0, f.constprop.0, f.part.0) may take other arguments than the DWARF says.
    const d = pm?.dwarf?.get(ip);
    let args: ArgLocation[] = [];
    let words: Int32Array | null = null;
    if (d && !(name ?? '').includes('.')) {
      args = regparmLayout(d);
      const flat: number[] = [];
      for (let i = 0; i < args.length; i++) {
        const a = args[i]!;
        a.words.forEach((w, j) => {
          const bytes = Math.min(4, a.size - 4 * j);
          if (bytes < 4 && !this.checkNarrow) return;
          const mask = bytes >= 4 ? -1 : (1 << (8 * bytes)) - 1;
          flat.push(i, w.reg, w.stackOffset, mask);
        });
      }
      words = Int32Array.from(flat);
    }
    f = { name, frame, words, args };
    this.info.set(ip, f);
    return f;
  }

  /** Linux's prepare_ftrace_return() side: check the arguments against the poison. */
  private onEntry(ip: number, parent: number, slot: number, depth: number, cpu: CPU): boolean {
    this.stats.entries++;
    const f = this.functionInfo(ip);
    const w = f.words;
    if (w === null) {
      this.stats.uncheckedEntries++;
      return true;
    }
    const p = this.pattern | 0;
    const ssBase = cpu.segBase[SS]!;
    let reported = -1;
    for (let i = 0; i < w.length; i += 4) {
      const arg = w[i]!;
      const reg = w[i + 1]!;
      const v = reg >= 0 ? cpu.regs[reg]! : cpu.read32((ssBase + slot + 4 + w[i + 2]!) | 0);
      this.stats.argumentWords++;
      if (((v ^ p) & w[i + 3]!) === 0 && arg !== reported) {
        reported = arg;
        this.report(ip, parent, slot, depth, f, f.args[arg]!, cpu);
      }
    }
    return true;
  }

  /** return_to_handler side: the frame just left is dead; poison it. */
  private onReturn(ip: number, slot: number, _cpu: CPU): void {
    this.stats.returns++;
    const frame = this.functionInfo(ip).frame;
    if (!frame) return;
    const hi = (slot + 4) >>> 0;
    this.poison((hi - ((frame.bytes + 3) & ~3)) >>> 0, hi);
    this.stats.framesPoisoned++;
  }

  private report(ip: number, parent: number, slot: number, _depth: number, f: FunctionInfo, arg: ArgLocation, cpu: CPU): void {
    const first = arg.words[0]!;
    const address = first.reg >= 0 ? 0 : (cpu.segBase[SS]! + slot + 4 + first.stackOffset) >>> 0;
    const frame = (addr: number, ret: boolean): FindingFrame => findingFrame(addr, ret, this.symbolize, this.locate);
    const callers = this.ftrace.stackTrace();
    if (callers.length === 0 || (callers[0]!.address !== parent >>> 0 && !callers[0]!.entry)) callers.unshift({ address: parent >>> 0, entry: false });
    const top = frame(ip, false);
    const stack = [top, ...callers.map((c) => frame(c.address, !c.entry))];
    const finding: Finding = {
      kind: 'poisoned', region: 'stack', checker: 'ftrace', access: 'read',
      size: arg.size, address, eip: ip >>> 0,
      function: top.function ?? f.name, offset: top.offset,
      file: top.file ?? null, line: top.line ?? null,
      stack,
    };
    const where = arg.words.map((w) => (w.reg >= 0 ? REG_NAMES[w.reg] : `[${hex8((cpu.segBase[SS]! + slot + 4 + w.stackOffset) >>> 0)}]`)).join(':');
    const argName = arg.index < 0 ? 'the struct-return pointer' : `argument ${arg.index + 1}${arg.name ? ` (${arg.name})` : ''}`;
    const lines = [
      `WARNING: ftrace: poisoned stack value 0x${hex8(this.pattern)} passed as ${argName}, ${arg.size} byte${arg.size === 1 ? '' : 's'} in ${where}, to ${formatSymbol(ip, this.symbolize)}${formatPosition(this.locate(ip >>> 0))}`,
      ...stack.slice(1).map((fr) => ` [<${hex8(fr.address)}>] ${formatSymbol(fr.address, this.symbolize)}${formatPosition(fr.file ? { file: fr.file, line: fr.line ?? 0 } : null)}`),
    ];
    const text = lines.join('\n');
    this.findings.push(finding);
    this.reports.push(text);
    this.opts.onFinding?.(finding, text);
  }
}
