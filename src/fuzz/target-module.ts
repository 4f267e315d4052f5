/**
 * A kernel-module fuzz target with libFuzzer's entry points:
 * `int LLVMFuzzerTestOneInput(const u8 *data, size_t size)` and optionally
 * `int LLVMFuzzerInitialize(int *argc, char ***argv)`.
 *
 * One input is one checked module run (src/harness/checked-run.ts, the
 * machinery behind `kmemsim run mod.c --kmemcheck --stack MODE`): a
 * kernel, the module loaded, init_module() and LLVMFuzzerInitialize()
 * called, then — in the run's `whileLoaded` step — the input copied into a
 * fresh kmalloc(size) object and LLVMFuzzerTestOneInput(ptr, size) called
 * in kernel context, with the CPU's edge counters on; then
 * cleanup_module() (rmmod). The bytes of the slab object past `size` are
 * marked unallocated in the heap checker's shadow, so a read past the end
 * is found as with ASan's exact-size allocation (kmalloc(0) is
 * ZERO_SIZE_PTR: any dereference oopses). After the call the object is
 * kfree()d, as libFuzzer frees its copy of the data.
 *
 * Everything up to the input is done once and snapshotted
 * (src/boot/snapshot.ts); every input starts from a restore of it, so
 * inputs cannot affect each other and nothing is booted again (README
 * "Fuzzing" has the figures).
 */
import { runChecked, startChecked, checkedStep, finishChecked, type CheckedRunOptions, type CheckedRunResult, type CheckedSession, type LoadedContext } from '../harness/checked-run.js';
import { MachineSnapshot } from '../boot/snapshot.js';
import { PageHidingService } from '../kernel/page-hiding.js';
import { callGuest, returnStubAddress } from '../kernel/call.js';
import { GFP_KERNEL } from '../kernel/mm/index.js';
import { ModuleLoadError } from '../kernel/module.js';
import type { StopReason } from '../cpu/stop.js';
import { Vec } from '../cpu/stop.js';
import { describeStop } from '../cli/describe.js';
import { compareRoutines, withCompareLog, type CompareLog } from './cmplog.js';

export const ENTRY = 'LLVMFuzzerTestOneInput';
export const INITIALIZE = 'LLVMFuzzerInitialize';

/** A target that cannot be fuzzed: no entry point, cannot load, init fails or crashes; `status` is the exit status. */
export class FuzzTargetError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = 'FuzzTargetError';
  }
}

/** The checked-run options a fuzz target uses (checkers, rules, name, budget, output callbacks). */
export type TargetRunOptions = Omit<CheckedRunOptions, 'whileLoaded'>;

/** How one input ended. */
export type Outcome = 'ok' | 'crash' | 'hang';

export interface Execution {
  outcome: Outcome;
  /** The crash's dedup signature ("uninitialized heap read in parse+0x1c"), or the hang's; null when ok. */
  signature: string | null;
  /** AFL's sig: field of a crash's file name (the POSIX signal a native crash would have raised). */
  signal: number;
  /** Instructions LLVMFuzzerTestOneInput ran (for a program: every process of the run). */
  instructions: number;
  /** A module target's checked run; null for a program target. */
  result: CheckedRunResult | null;
}

/** What happened inside the `whileLoaded` step. */
export interface InputCall {
  /** The step ran (init_module succeeded). */
  loaded?: boolean;
  /** The module has LLVMFuzzerTestOneInput (it was called, or LLVMFuzzerInitialize stopped first). */
  reached: boolean;
  hang: boolean;
  instructions: number;
}

type Step = (ctx: LoadedContext, budget: number) => { instructions: number; stop: StopReason | null; what?: string };

/**
 * LLVMFuzzerInitialize(&argc, &argv) when the module defines it, with
 * argc 1 and argv { "kmemsim-fuzz", NULL } in a kmalloc'd block (the
 * target's one-time set-up, before the snapshot).
 */
export function initializeStep(seen: InputCall): Step {
  return (ctx, budget) => {
    const { kernel, module, api, memory } = ctx;
    seen.loaded = true;
    if (module.object.globals.get(ENTRY) === undefined) return { instructions: 0, stop: null };
    seen.reached = true;
    const init = module.object.globals.get(INITIALIZE);
    if (init === undefined) return { instructions: 0, stop: null };
    const block = api.mm.slab.kmalloc(32, GFP_KERNEL);
    const argv = block + 8;
    const name = block + 16;
    const words = new Uint8Array(32);
    const dv = new DataView(words.buffer);
    dv.setInt32(0, 1, true);
    dv.setUint32(4, argv >>> 0, true);
    dv.setUint32(8, name >>> 0, true);
    words.set(Buffer.from('kmemsim-fuzz\0', 'latin1'), 16);
    memory.write(block, words);
    const r = callGuest(kernel, init, [block, block + 4], budget);
    if (!r.returned) return { instructions: r.instructions, stop: r.stop, what: INITIALIZE };
    return { instructions: r.instructions, stop: null };
  };
}

/**
 * One input: the exact-size copy, LLVMFuzzerTestOneInput(data, size) with
 * `edges` counting, kfree. `timeout` bounds the call alone
 * (--timeout-instructions). The TLB is flushed first (as the switch to
 * the fuzzing task's address space would), so an input runs the same
 * after a snapshot restore (which flushes it) as on a fresh machine.
 */
export function dataStep(data: Uint8Array, timeout: number, edges: Uint8Array | null, seen: InputCall, cmplog: CompareLog | null = null): Step {
  return (ctx, budget) => {
    const { kernel, module, api, memory, heap } = ctx;
    const entry = module.object.globals.get(ENTRY);
    if (entry === undefined) return { instructions: 0, stop: null };
    const slab = api.mm.slab;
    const cpu = kernel.cpu;
    cpu.flushTlb(false);
    const ptr = slab.kmalloc(data.length, GFP_KERNEL);
    if (data.length > 0) {
      memory.write(ptr, data);
      // ASan's exact-size allocation: the slab object's tail is not the caller's.
      const tail = slab.ksize(ptr) - data.length;
      if (heap && tail > 0) heap.markUnallocated(ptr + data.length, tail);
    }
    cpu.edgeCounts = edges;
    cpu.prevBlockId = 0;
    const limit = Math.min(timeout, Math.max(0, budget));
    let r;
    try {
      const call = () => callGuest(kernel, entry, [ptr, data.length], limit);
      // A cmplog run (src/fuzz/cmplog.ts): the module's compares and memcmp-likes logged, regparm(3) arguments.
      r = cmplog === null ? call() : withCompareLog(cpu, cmplog, compareRoutines((n) => module.lookup(n)), 'regparm', call);
    } finally {
      cpu.edgeCounts = null;
    }
    seen.instructions = r.instructions;
    if (!r.returned) {
      seen.hang = r.stop?.kind === 'budget' && limit === timeout;
      return { instructions: r.instructions, stop: r.stop, what: ENTRY };
    }
    slab.kfree(ptr);
    return { instructions: r.instructions, stop: null };
  };
}

/**
 * The `whileLoaded` step of a whole run from a fresh machine (`kmemsim run
 * TARGET --input FILE`, and ModuleTarget without a snapshot):
 * LLVMFuzzerInitialize, then the input.
 */
export function inputStep(data: Uint8Array, timeout: number, edges: Uint8Array | null, seen: InputCall = { reached: false, hang: false, instructions: 0 }): Step {
  const init = initializeStep(seen);
  return (ctx, budget) => {
    const a = init(ctx, budget);
    if (a.stop || !seen.reached) return a;
    const b = dataStep(data, timeout, edges, seen)(ctx, Math.max(0, budget - a.instructions));
    return { ...b, instructions: a.instructions + b.instructions };
  };
}

/** A POSIX signal number for a stop (AFL's sig: field): what the native program would have died of. */
function signalOf(stop: StopReason | null): number {
  if (stop === null) return 6;
  if (stop.kind === 'fault') {
    if (stop.vector === Vec.DE) return 8; // SIGFPE
    if (stop.vector === Vec.UD) return 4; // SIGILL (BUG() is ud2)
    if (stop.vector === Vec.PF || stop.vector === Vec.GP || stop.vector === Vec.SS || stop.vector === Vec.NP) return 11; // SIGSEGV
  }
  if (stop.kind === 'unsupported') return 4;
  return 6; // SIGABRT: a checker's report, a triple fault
}

const hex = (v: number): string => '0x' + (v >>> 0).toString(16);

/** The crash's dedup signature: the first finding's kind, region and top frame, else the stop's kind and EIP. */
export function crashSignature(r: CheckedRunResult): string {
  const f = r.findings[0];
  if (f) {
    const at = f.function !== null ? `${f.function}+${hex(f.offset ?? 0)}` : hex(f.eip);
    return `${f.kind} ${f.region} ${f.access} in ${at}`;
  }
  const stop = r.run?.stop;
  if (!stop) return r.summary.lost > 0 ? 'lost checker reports' : 'unknown';
  const eip = 'eip' in stop && stop.eip !== undefined ? stop.eip : null;
  const sym = eip !== null ? r.symbolize(eip >>> 0) : null;
  const at = eip === null ? '' : ` at ${sym ? `${sym.function}+${hex(sym.offset)}` : hex(eip)}`;
  const what = stop.kind === 'fault' ? `fault ${stop.vector}` : stop.kind;
  return `${what}${at}`;
}

/**
 * A module fuzz target. By default the machine is initialized once —
 * boot, load, init_module(), LLVMFuzzerInitialize() — and snapshotted
 * (src/boot/snapshot.ts); every input then starts from a restore of that
 * snapshot, runs, and goes on to cleanup_module() and the checkers' drain
 * exactly as a whole run would. `snapshot: false` boots a fresh machine per
 * input instead (the reference the snapshot is tested against).
 */
export class ModuleTarget {
  private session: CheckedSession | null = null;
  private snap: MachineSnapshot | null = null;

  constructor(
    readonly object: Uint8Array,
    readonly run: TargetRunOptions,
    readonly timeout: number,
    readonly options: { snapshot?: boolean } = {},
  ) {}

  /** The snapshot (after the first execute()), for its statistics. */
  get snapshot(): MachineSnapshot | null {
    return this.snap;
  }

  /** Run one input; `edges` (a zeroed 64 KiB map) receives the edge counts, `cmplog` the compares' operands. */
  execute(data: Uint8Array, edges: Uint8Array | null, cmplog: CompareLog | null = null): Execution {
    const seen: InputCall = { reached: false, hang: false, instructions: 0 };
    let result: CheckedRunResult;
    if (this.options.snapshot === false) {
      result = runChecked(this.object, { ...this.run, whileLoaded: inputStep(data, this.timeout, edges, seen) });
      if (result.error !== null) throw this.targetError(result);
      if (!seen.reached) throw this.targetError(result);
    } else {
      const s = this.session ?? this.initialize();
      this.snap!.restore();
      seen.reached = true;
      result = finishChecked(s, dataStep(data, this.timeout, edges, seen, cmplog));
      if (result.error !== null) throw this.targetError(result);
    }
    return this.classify(result, seen);
  }

  /** Boot, load, init_module(), LLVMFuzzerInitialize(), snapshot. Throws FuzzTargetError when the target cannot be fuzzed. */
  private initialize(): CheckedSession {
    const seen: InputCall = { reached: false, hang: false, instructions: 0 };
    const s = startChecked(this.object, { ...this.run, whileLoaded: true });
    if ('summary' in s) throw this.targetError(s);
    const stopped = checkedStep(s, initializeStep(seen));
    if (stopped !== null) throw this.targetError(stopped);
    if (!seen.reached) throw this.targetError(finishChecked(s));
    const kernel = s.ctx.kernel;
    // Guest calls return through a stub bound on the first call (kept in the call module's per-kernel
    // state, which the snapshot cannot reach): bind it now, so that it is part of the snapshot. A fresh
    // run binds it at the same point (init_module's call, or the first call after it: nothing binds in between).
    returnStubAddress(kernel);
    const extra: unknown[] = [];
    if (PageHidingService.isInstalledOn(kernel)) extra.push(PageHidingService.of(kernel));
    this.snap = new MachineSnapshot(kernel.cpu, [s, ...extra], { immutable: [s.module.module.object] });
    this.session = s;
    return s;
  }

  private classify(result: CheckedRunResult, seen: InputCall): Execution {
    const stop = result.run?.stop ?? null;
    if (result.findings.length > 0 || result.summary.lost > 0) {
      return { outcome: 'crash', signature: crashSignature(result), signal: 6, instructions: seen.instructions, result };
    }
    if (stop === null) return { outcome: 'ok', signature: null, signal: 0, instructions: seen.instructions, result };
    const waiting = stop.kind === 'halted' && stop.interruptsEnabled === true;
    if (seen.hang || waiting) return { outcome: 'hang', signature: crashSignature(result), signal: 9, instructions: seen.instructions, result };
    return { outcome: 'crash', signature: crashSignature(result), signal: signalOf(stop), instructions: seen.instructions, result };
  }

  /** Why the target cannot be fuzzed, from a run that never reached LLVMFuzzerTestOneInput. */
  private targetError(r: CheckedRunResult): FuzzTargetError {
    const name = this.run.name ?? 'module';
    if (r.error instanceof ModuleLoadError) return new FuzzTargetError(`cannot load module ${r.error.message}`, 126);
    if (r.error !== null) return new FuzzTargetError(`internal error: ${r.error instanceof Error ? r.error.message : String(r.error)}`, 125);
    const run = r.run!;
    if (!run.module.object.globals.has(ENTRY)) {
      return new FuzzTargetError(`${name} defines no ${ENTRY}(const u8 *data, size_t size): nothing to fuzz`, 126);
    }
    if (run.stop) return new FuzzTargetError(`${name}: init_module crashed before fuzzing could start: ${describeStop(run.stop, run.instructions).replace(/^kmemsim: /, '')}`, run.exitCode);
    if (run.initReturn !== undefined && run.initReturn < 0) return new FuzzTargetError(`${name}: init_module returned ${run.initReturn}: the module does not load, nothing to fuzz`, 1);
    return new FuzzTargetError(`${name}: ${ENTRY} was never reached`, 125);
  }
}
