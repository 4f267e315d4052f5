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
 *
 * Several stacks (one per task: ./task-stacks.ts) share the one shadow:
 * each is a StackLiveness (its range, the lowest live byte, its origins);
 * the one in use is the one ESP moves are measured against (`useStack()`
 * at a task switch), the others keep their shadow and liveness until their
 * task runs again, and `forgetStack()` drops a stack whose memory was freed.
 * A stack is named by its record only: a client that knows stacks by
 * something else (a task, a CPL-1 stack) keeps its own map to the records
 * (./task-stacks.ts, src/rings/stack-tracker.ts).
 */
import type { ByteSource } from '../cpu/decoder.js';
import type { HiddenFault } from '../kernel/page-hiding.js';
import { isDeadLoad } from './dead-load.js';
import type { CheckerName } from './report.js';
import { ShadowRules, type ShadowRuleOptions } from './rules.js';
import { SHADOW_UNINITIALIZED } from './shadow.js';

/** One tracked stack: [low, high), its lowest live byte while it is not in use, and its origins. */
export class StackLiveness {
  /** ESP as last observed on this stack (int32): bytes below it are dead. */
  liveLow: number;
  /** Per stack dword, the instruction that last grew the stack over it (0: unknown). */
  readonly origins: Int32Array;
  constructor(readonly low: number, readonly high: number) {
    this.liveLow = high | 0;
    this.origins = new Int32Array(Math.ceil((high - low) / 4));
  }
}

/** Four uninitialized shadow bytes as one dword (the compiled kill of a popped word). */
const UNINITIALIZED_DWORD = SHADOW_UNINITIALIZED * 0x01010101;

export abstract class StackRules extends ShadowRules {
  /** Which strategy this is, for findings and reports. */
  abstract readonly checker: CheckerName;
  get origin(): { checker: CheckerName; region: 'stack' } {
    return { checker: this.checker, region: 'stack' };
  }
  /** The stack in use, [low, high) (unsigned). 0/0 until beginStack(). */
  low = 0;
  high = 0;
  /**
   * Lowest byte that may be live: ESP as last observed (int32, like the register: no heap numbers on the hot path).
   * This and the fields below are also read and written by the compiled liveness update (espChangedCode).
   */
  protected liveLow = 0;
  /** `low` as int32, and the stack's size. */
  protected lowI = 0;
  protected size = 0;
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
  protected origins: Int32Array | null = null;
  /** The instruction now running, for `origins` (null: origins are not kept). */
  protected growEip: number | null = null;

  constructor(opts: ShadowRuleOptions) {
    super(opts);
  }

  /** The stack in use (ESP moves are measured against it); null until beginStack(). */
  private inUse: StackLiveness | null = null;
  /** Every stack tracked and not forgotten (for origins of findings on a stack not in use). */
  private readonly stacks = new Set<StackLiveness>();

  /** The stack in use. */
  get stack(): StackLiveness | null {
    return this.inUse;
  }

  /** Track the stack [low, high): every byte dead, nothing live yet; it becomes the stack in use. */
  beginStack(low: number, high: number): StackLiveness {
    const s = new StackLiveness(low >>> 0, high >>> 0);
    this.stacks.add(s);
    this.useStack(s);
    this.track(this.low, this.high - this.low, SHADOW_UNINITIALIZED);
    return s;
  }

  /** Make `s` the stack in use (a task switch); the one in use before keeps its liveness. */
  useStack(s: StackLiveness): void {
    if (this.inUse) this.inUse.liveLow = this.liveLow;
    this.inUse = s;
    this.low = s.low;
    this.high = s.high;
    this.liveLow = s.liveLow;
    this.lowI = s.low | 0;
    this.size = s.high - s.low;
    this.origins = s.origins;
  }

  /**
   * Stop tracking `s` (its memory was freed, or the checker detaches): its shadow is untracked
   * (stackForgotten()). When `s` is the stack in use, no stack is in use until the next useStack() or
   * beginStack(): ESP moves change nothing meanwhile and onStack() is false everywhere. A stack not
   * tracked (never begun, or forgotten already) is ignored.
   */
  forgetStack(s: StackLiveness): void {
    if (!this.stacks.delete(s)) return;
    if (s === this.inUse) {
      this.inUse = null;
      this.low = this.high = 0;
      this.lowI = this.size = this.liveLow = 0;
      this.origins = null;
    }
    this.stackForgotten(s);
  }

  /** `s` is tracked no more: its shadow goes (a checker that hid its pages shows them too). */
  protected stackForgotten(s: StackLiveness): void {
    this.shadow.untrack(s.low | 0, s.high - s.low);
  }

  /** The instruction that grew the stack over `addr` (its frame's function), or null when unknown. */
  originOf(addr: number): number | null {
    const a = addr >>> 0;
    for (const s of this.stacks) {
      if (a < s.low || a >= s.high) continue;
      const eip = s.origins[(a - s.low) >>> 2]!;
      return eip === 0 ? null : eip >>> 0;
    }
    return null;
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

  /**
   * espChanged() as JavaScript for the compiled checks (./instrument.ts,
   * emitted where the generated code moves ESP): the same rule on the same
   * fields, without a call. `self` names this object in the generated code,
   * `esp` is an int32 expression holding ESP's new value, `eip` the
   * instruction a grown frame is attributed to (growEip, nonzero), and
   * `bind` binds a value into the code; `afterKill` is code run after a
   * rise killed bytes. A rise of 4 bytes from an aligned
   * ESP (a POP, a RET) kills its dword with one store into the shadow's
   * dword view; other rises go through Shadow.markUninitialized; a fall
   * fills the origins of the dwords it grows over. Fields are read at run
   * time (never bound), so a change of the stack in use (its range, its
   * liveness, its origins) needs no recompilation.
   */
  espChangedCode(self: string, esp: string, eip: number, bind: (v: unknown) => string, afterKill = ''): string {
    const t = bind(this.shadow.tracked), w = bind(this.shadow.words);
    const kill = `if (_d === 4 && (_ll & 3) === 0) { const _s = ${t}[_ll >>> 12]; if (_s !== 0) ${w}[_s][(_ll & 4095) >> 2] = ${UNINITIALIZED_DWORD}; } ` +
      `else ${self}.shadow.markUninitialized(_ll, _d); ${self}.kills++; ${afterKill}`;
    const grow = `const _o = ${self}.origins; if (_o !== null) for (let _i = (_e - _lo) >>> 2, _n = (_ll - _lo + 3) >>> 2; _i < _n; _i++) _o[_i] = ${eip | 0};`;
    return `{ const _e = ${esp}, _lo = ${self}.lowI; if ((_e - _lo) >>> 0 <= ${self}.size) { const _ll = ${self}.liveLow, _d = (_e - _ll) | 0; ` +
      `if (_d > 0) { ${kill} } else if (_d < 0) { ${grow} } ${self}.liveLow = _e; } }`;
  }
}
