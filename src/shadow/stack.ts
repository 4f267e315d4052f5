/**
 * Stack shadow: kmemcheck's shadow rules (./rules.ts) applied to a kernel
 * stack, plus the one rule the heap does not have — bytes below ESP are
 * dead. A frame's bytes die when the stack pointer moves above them
 * (RET, POP, ADD ESP, LEAVE) and are uninitialized when the stack grows
 * over them again; writes initialize, and a read of bytes that are not
 * initialized is a finding with `region: "stack"`.
 *
 * The two stack strategies that see stack accesses share this class:
 *
 *  - the CPL-1 tracker (src/rings/stack-tracker.ts, Vegard Nossum's plan)
 *    hides the stack pages, so it learns ESP at every instruction that
 *    touches the stack (from the fault) and right after it (from the #DB
 *    of the single step);
 *  - the precise oracle (./stack-precise.ts) observes ESP after every
 *    instruction.
 *
 * Both call `espChanged()` with each ESP they see and `applyAccesses()`
 * with each instruction's decoded accesses. Liveness costs time in
 * proportion to how far ESP moves (`liveLow` remembers the lowest live
 * byte), not to the stack's size.
 *
 * A load whose value is never used — gcc's `pop %eax` releasing stack
 * padding — is not reported (`loadIsDead`, the rule in ./dead-load.ts):
 * both strategies apply it, only to an instruction's own decoded accesses
 * (not to native routines' reads).
 *
 * The stack is tracked as [low, high): `beginStack()` makes every byte
 * dead (uninitialized) and live from `high`. The words the host pushes
 * when it calls into the guest (callGuest: stack arguments and the return
 * address) are initialized through `hostPushed()`.
 */
import type { ByteSource } from '../cpu/decoder.js';
import type { HiddenFault } from '../kernel/page-hiding.js';
import { isDeadLoad } from './dead-load.js';
import type { CheckerName } from './report.js';
import { ShadowRules, type ShadowRuleOptions } from './rules.js';
import { SHADOW_UNINITIALIZED } from './shadow.js';

export abstract class StackRules extends ShadowRules {
  /** Which strategy this is, for findings and reports. */
  abstract readonly checker: CheckerName;
  get origin(): { checker: CheckerName; region: 'stack' } {
    return { checker: this.checker, region: 'stack' };
  }
  /** The tracked stack, [low, high) (unsigned). 0/0 until beginStack(). */
  low = 0;
  high = 0;
  /** Lowest byte that may be live: ESP as last observed (int32, like the register: no heap numbers on the hot path). */
  private liveLow = 0;
  /** `low` as int32, and the stack's size. */
  private lowI = 0;
  private size = 0;
  /** Times ESP rose and killed bytes (a measure of the work, for `kmemsim compare`). */
  kills = 0;
  /**
   * Origins (KMSAN's "Uninit was created at", Memcheck's --track-origins):
   * for each stack dword, the address of the instruction that last grew
   * the stack over it — the function whose frame it became. Kept only
   * when a checker says which instruction is running (`growEip`, set by
   * the precise oracle when it learns ESP moved: the instruction about to
   * run, in the function that moved it); 0 where unknown.
   */
  private origins: Int32Array | null = null;
  /** The instruction now running, for `origins` (null: origins are not kept). */
  protected growEip: number | null = null;

  constructor(opts: ShadowRuleOptions) {
    super(opts);
  }

  /** Track the stack [low, high): every byte dead, nothing live yet. */
  beginStack(low: number, high: number): void {
    this.low = low >>> 0;
    this.high = high >>> 0;
    this.track(this.low, this.high - this.low, SHADOW_UNINITIALIZED);
    this.liveLow = this.high | 0;
    this.lowI = this.low | 0;
    this.size = this.high - this.low;
    this.origins = new Int32Array(Math.ceil((this.high - this.low) / 4));
  }

  /** Stacks tracked but not in use (other tasks' kernel stacks), by `low`: their liveness, kept for switchStack(). */
  private readonly parked = new Map<number, { high: number; liveLow: number; origins: Int32Array | null }>();

  /**
   * Another task's kernel stack [low, high) is now the one in use (a task switch): the current one's
   * liveness is kept for its return, and `low`'s comes back — or, the first time, it is tracked as
   * beginStack() does. The shadow of every tracked stack stays where it is.
   */
  switchStack(low: number, high: number): void {
    const l = low >>> 0;
    if (l === this.low && (high >>> 0) === this.high) return;
    if (this.high !== 0) this.parked.set(this.low, { high: this.high, liveLow: this.liveLow, origins: this.origins });
    const p = this.parked.get(l);
    if (!p || p.high !== high >>> 0) {
      this.parked.delete(l);
      this.beginStack(l, high);
      return;
    }
    this.parked.delete(l);
    this.low = l;
    this.high = p.high;
    this.lowI = l | 0;
    this.size = this.high - this.low;
    this.liveLow = p.liveLow;
    this.origins = p.origins;
  }

  /**
   * Stop tracking the stack at `low` (its task is gone and the pages go back to the allocator): its
   * [low, high) when it was tracked (in use or parked), else null. The caller untracks its shadow.
   */
  protected dropStack(low: number): { low: number; high: number } | null {
    const l = low >>> 0;
    const p = this.parked.get(l);
    if (p) {
      this.parked.delete(l);
      return { low: l, high: p.high };
    }
    if (l !== this.low || this.high === 0) return null;
    const r = { low: this.low, high: this.high };
    this.low = this.high = 0;
    this.lowI = this.size = this.liveLow = 0;
    this.origins = null;
    return r;
  }

  /** Every stack tracked: the one in use, then the parked ones. */
  protected trackedStacks(): { low: number; high: number }[] {
    const out = this.high !== 0 ? [{ low: this.low, high: this.high }] : [];
    for (const [low, p] of this.parked) out.push({ low, high: p.high });
    return out;
  }

  /** The instruction that grew the stack over `addr` (its frame's function), or null when unknown. */
  originOf(addr: number): number | null {
    const a = addr >>> 0;
    if (this.origins === null || a < this.low || a >= this.high) return null;
    const eip = this.origins[(a - this.low) >>> 2]!;
    return eip === 0 ? null : eip >>> 0;
  }

  /** Does [addr, addr + n) touch the tracked stack? */
  onStack(addr: number, n = 1): boolean {
    const a = addr >>> 0;
    return a + n > this.low && a < this.high;
  }

  /**
   * ESP was observed at `esp`: the bytes below it are dead. When ESP rose
   * above the lowest live byte, the bytes in between die now (they become
   * uninitialized, so a frame that reuses them sees garbage as the program
   * would); when it fell, the new bytes are already dead.
   * An ESP outside the stack (a handler on another stack) changes nothing.
   */
  espChanged(esp: number): void {
    const e = esp | 0;
    if ((e - this.lowI) >>> 0 > this.size) return; // outside [low, high]
    // Both inside the stack: the int32 difference is the distance.
    const rise = (e - this.liveLow) | 0;
    if (rise > 0) {
      this.shadow.markUninitialized(this.liveLow, rise);
      this.kills++;
    } else if (e < this.liveLow && this.growEip !== null && this.origins !== null) {
      this.origins.fill(this.growEip | 0, (e - this.lowI) >>> 2, (this.liveLow - this.lowI + 3) >>> 2);
    }
    this.liveLow = e;
  }

  /** Loads of uninitialized stack bytes not reported because the value was dead (./dead-load.ts). */
  deadLoads = 0;
  /** Code bytes for the dead-load scan, through the checker's memory source (throws where unreadable). */
  private readonly code: ByteSource = {
    fetch: (addr: number): number => {
      const b = this.memorySource().peek8(addr | 0);
      if (b < 0) throw new RangeError('unreadable code');
      return b;
    },
  };

  protected override loadIsDead(f: HiddenFault): boolean {
    if (f.accesses.count === 0 || f.ins.def === null || f.ins.addr !== f.eip) return false;
    if (!isDeadLoad(f.ins, this.code)) return false;
    this.deadLoads++;
    return true;
  }

  /** The host pushed `bytes` at `esp` (the arguments and return address of a guest call): initialized and live. */
  hostPushed(esp: number, bytes: number): void {
    this.espChanged(esp);
    if (bytes > 0) this.shadow.markInitialized(esp, bytes);
  }
}
