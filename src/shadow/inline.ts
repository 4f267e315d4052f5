/**
 * The precise inline checker: kmemcheck's shadow semantics (./kmemcheck.ts)
 * applied to every guest memory access directly, without hidden pages or
 * faults.
 *
 * While attached, the checks are compiled into the CPU's blocks (the
 * kernel's CheckInstrumentation, ./instrument.ts, shared with the precise
 * stack oracle in ./stack-precise.ts): ahead of every instruction that
 * touches memory, its accesses (decodeAccesses, the decoder the
 * page-hiding service uses) are checked against the shadow, exactly as
 * Kmemcheck.onFault() does for a faulting instruction:
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
 * An access to a page that is not tracked costs one test (the shadow's
 * tracked byte); the registers are copied only when an error is saved.
 * REP string instructions run one iteration per execution while attached
 * (as when single-stepping with TF), so each iteration is checked, as
 * under kmemcheck, where every iteration faults. Native kernel routines
 * are not guest instructions: their accesses go through the kernel API's
 * accessor (writes initialize).
 *
 * What the fault-driven engine can do and this cannot: handle accesses the
 * decoder does not predict (kmemcheck's CR2 fallback). The decoder covers
 * every data access module code makes; see src/shadow/access.ts.
 */
import type { CPU } from '../cpu/cpu.js';
import type { Instr } from '../cpu/instr.js';
import type { Kernel } from '../kernel/kernel.js';
import type { HiddenFault, PageHidingService } from '../kernel/page-hiding.js';
import { CheckInstrumentation, type CheckClient, type CheckedInstruction } from './instrument.js';
import { ShadowRules, type ShadowRuleOptions } from './rules.js';
import type { KmemcheckError } from './errors.js';
import { toFinding, type Finding, type SourceLocator, type Symbolizer } from './report.js';
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

export class InlineChecker extends ShadowRules implements CheckClient {
  readonly origin = { checker: 'inline', region: 'heap' } as const;
  readonly name = 'inline';
  readonly stats: InlineStats = { instructions: 0, reads: 0, writes: 0, copies: 0, errors: 0 };
  /** The kernel's compiled checks (shared with the precise stack oracle). */
  readonly instrumentation: CheckInstrumentation;
  /** Its never-installed page-hiding service (page-table peeks for the reports). */
  readonly peeker: PageHidingService;

  constructor(readonly kernel: Kernel, opts: InlineOptions = {}) {
    super(opts);
    this.instrumentation = CheckInstrumentation.of(kernel);
    this.peeker = this.instrumentation.peeker;
    if (opts.enabled === false) this.on = false;
  }

  /** A new checker on `kernel`, attached (its checks are compiled into the CPU's blocks from now on). */
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
    return this.instrumentation.has(this);
  }

  /** Join the kernel's compiled checks. */
  attach(): void {
    this.instrumentation.add(this);
  }

  /** Leave them (the CPU runs uninstrumented when no other client is left). */
  detach(): void {
    this.instrumentation.remove(this);
  }

  checking(): boolean {
    return this.on && this.shadow.trackedPages !== 0;
  }

  /** Only instructions that access memory (which the instrumentation selects itself). */
  wantsInstruction(_ins: Instr): boolean {
    return false;
  }

  beforeInstruction(_cpu: CPU, f: CheckedInstruction): void {
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
}

/** A drained error as an inline-checker finding. */
export function toInlineFinding(e: KmemcheckError, symbolize?: Symbolizer, locate?: SourceLocator): InlineFinding {
  return { ...toFinding(e, symbolize, locate), checker: 'inline' };
}
