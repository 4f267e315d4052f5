/**
 * The precise inline checker: kmemcheck's shadow semantics (./kmemcheck.ts)
 * applied to every guest memory access directly, without hidden pages or
 * faults.
 *
 * While attached, the CPU runs one instruction at a time (the checker
 * replaces `cpu.run` on the instance with a loop of `run(1, true)`), and
 * before each instruction its accesses are decoded (decodeAccesses, the
 * same decoder the page-hiding service uses) and checked against the
 * shadow, exactly as Kmemcheck.onFault() does for a faulting instruction:
 *
 * - a read of bytes that are not initialized queues an error (same
 *   ErrorQueue: same-EIP suppression, 64 records, lost count) and marks
 *   the bytes initialized; `partialOk` as in kmemcheck;
 * - a write marks the bytes initialized;
 * - MOVS, PUSH m, POP m copy the shadow and report only bytes whose
 *   destination is untracked;
 * - read-modify-write instructions count as writes unless
 *   `checkReadModifyWrite`.
 *
 * REP string instructions run one iteration per step (the CPU's REP chunk
 * is pinned to 1 while attached, as when single-stepping with TF), so each
 * iteration is decoded and checked, as under kmemcheck, where every
 * iteration faults. Native kernel routines are not guest instructions:
 * their accesses go through the kernel API's accessor (writes initialize).
 *
 * What the fault-driven engine can do and this cannot: handle accesses the
 * decoder does not predict (kmemcheck's CR2 fallback). The decoder covers
 * every data access module code makes; see src/shadow/access.ts.
 */
import type { CPU } from '../cpu/cpu.js';
import { REP_CHUNK } from '../cpu/cpu.js';
import type { StopReason } from '../cpu/stop.js';
import type { Kernel } from '../kernel/kernel.js';
import { HiddenFault, PageHidingService } from '../kernel/page-hiding.js';
import { decodeAccesses } from './access.js';
import { ShadowRules, type ShadowRuleOptions } from './rules.js';
import type { KmemcheckError } from './errors.js';
import { formatLost, formatReport, toFinding, type Finding, type SourceLocator, type Symbolizer } from './report.js';
import {
  SHADOW_UNINITIALIZED, type ShadowState,
} from './shadow.js';

/** partialOk, checkReadModifyWrite, oneShot, enabled, queueSize (see ShadowRuleOptions in rules.ts). */
export type InlineOptions = ShadowRuleOptions;

export interface InlineStats {
  /** Instructions decoded and checked. */
  instructions: number;
  /** Reads that touched tracked bytes. */
  reads: number;
  writes: number;
  copies: number;
  /** Invalid reads found (reported, suppressed or lost). */
  errors: number;
}

/** A finding of the inline checker: kmemcheck's JSON format with `checker: "inline"`. */
export type InlineFinding = Omit<Finding, 'checker'> & { checker: 'inline' };

const CS = 1;

type RunFn = (budget: number, single?: boolean) => StopReason | null;

export class InlineChecker extends ShadowRules {
  readonly name = 'inline';
  readonly stats: InlineStats = { instructions: 0, reads: 0, writes: 0, copies: 0, errors: 0 };
  /**
   * A page-hiding service that is never installed and hides nothing: used
   * only for its instruction decoder cache and its page-table peeks (what
   * ErrorQueue.save() reads the memory dump and the stack with).
   */
  readonly peeker: PageHidingService;
  private readonly fault = new HiddenFault();
  private origRun: RunFn | null = null;

  constructor(readonly kernel: Kernel, opts: InlineOptions = {}) {
    super(opts);
    this.peeker = new PageHidingService(kernel);
    if (opts.enabled === false) this.on = false;
  }

  /** A new checker on `kernel`, attached (the CPU single-steps through it from now on). */
  static attach(kernel: Kernel, opts: InlineOptions = {}): InlineChecker {
    const c = new InlineChecker(kernel, opts);
    c.attach();
    return c;
  }

  /** Run-time on/off: off, no checks and no shadow updates (as kmemcheck switched off). */
  setEnabled(on: boolean): void {
    this.on = on;
  }

  get attached(): boolean {
    return this.origRun !== null;
  }

  /** Replace the CPU's run loop with the checking single-step loop. */
  attach(): void {
    if (this.origRun !== null) return;
    const cpu = this.kernel.cpu;
    const orig = cpu.run.bind(cpu) as RunFn;
    this.origRun = orig;
    // One REP iteration per step, as with TF set.
    Object.defineProperty(cpu, 'repChunk', { configurable: true, enumerable: true, get: () => 1, set: () => {} });
    (cpu as { run: RunFn }).run = (budget: number, single = false) => this.run(cpu, orig, budget, single);
  }

  /** Give the CPU its own run loop back. */
  detach(): void {
    if (this.origRun === null) return;
    const cpu = this.kernel.cpu;
    delete (cpu as unknown as Record<string, unknown>)['run'];
    delete (cpu as unknown as Record<string, unknown>)['repChunk'];
    cpu.repChunk = REP_CHUNK;
    this.origRun = null;
  }

  /** cpu.run() with a check before every instruction. Same budget and stop semantics. */
  private run(cpu: CPU, orig: RunFn, budget: number, single: boolean): StopReason | null {
    let limit = cpu.icount + budget;
    let lastNoProgress = -1;
    while (cpu.stopReason === null) {
      if (cpu.icount >= limit) return single ? null : { kind: 'budget', executed: cpu.icount };
      // Deliver pending device events first, so the instruction checked is the one that runs.
      for (let g = 0; g < 16 && cpu.icount >= cpu.attentionAt && cpu.stopReason === null; g++) orig(0, true);
      if (cpu.stopReason !== null) break;
      const before = cpu.icount;
      if (this.on) this.check(cpu);
      orig(1, true);
      if (cpu.icount === before) {
        // Nothing retired (an exception delivered): as cpu.run, a fault storm still uses budget.
        if (lastNoProgress === before) limit--;
        lastNoProgress = before;
      }
      if (single) break;
    }
    return cpu.stopReason;
  }

  /** Decode the instruction at CS:EIP and check/update the shadow for its accesses. */
  private check(cpu: CPU): void {
    if (this.shadow.trackedPages === 0) return;
    const lin = (cpu.segBase[CS] + cpu.eip) | 0;
    if (cpu.nativeAt(lin)) return; // a native kernel routine: its accesses go through the accessor
    const f = this.fault;
    const ins = this.peeker.decodeAt(lin);
    if (ins.def === null) return;
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
    this.stats.instructions++;
    this.apply(f);
  }

  /** The shadow work for one instruction (Kmemcheck.onFault() without the CR2 fallback). */
  apply(f: HiddenFault): void {
    this.applyAccesses(f, true);
  }

  protected memorySource(): PageHidingService {
    return this.peeker;
  }

  // ---- tracking -----------------------------------------------------------------

  /** Track [virt, virt + bytes) with `initial` (other bytes of new pages initialized). Nothing is hidden. */
  track(virt: number, bytes: number, initial: ShadowState = SHADOW_UNINITIALIZED): void {
    this.shadow.track(virt, bytes, initial);
  }
  untrack(virt: number, bytes: number): void {
    this.shadow.untrack(virt, bytes);
  }

  // ---- draining -----------------------------------------------------------------

  recall(): KmemcheckError[] {
    return this.errors.drain();
  }

  recallText(symbolize?: Symbolizer, locate?: SourceLocator): string {
    const parts = this.errors.drain().map((e) => formatReport(e, { symbolize, locate }));
    const lost = this.errors.takeLost();
    if (lost > 0) parts.push(formatLost(lost));
    return parts.join('\n\n');
  }

  recallFindings(symbolize?: Symbolizer, locate?: SourceLocator): InlineFinding[] {
    return this.errors.drain().map((e) => toInlineFinding(e, symbolize, locate));
  }
}

/** A drained error as an inline-checker finding. */
export function toInlineFinding(e: KmemcheckError, symbolize?: Symbolizer, locate?: SourceLocator): InlineFinding {
  return { ...toFinding(e, symbolize, locate), checker: 'inline' };
}
