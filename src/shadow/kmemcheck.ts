/**
 * The kmemcheck engine: Linux's kmemcheck (Vegard Nossum, 2008) on
 * kmemsim's page-hiding service.
 *
 * Tracked memory lives on hidden pages. Every access to one faults; the
 * page-hiding service decodes the instruction and calls `onFault`
 * (kmemcheck_fault() → kmemcheck_access()), which checks and updates the
 * shadow for each access the instruction makes:
 *
 * - a read of bytes that are not initialized (uninitialized, unallocated
 *   or freed) queues an error (kmemcheck_error_save()) and then marks the
 *   bytes initialized so the same bytes do not report again, as Linux did;
 *   with `partialOk` (Linux's default, CONFIG_KMEMCHECK_PARTIAL_OK=y) a
 *   read passes when any of its bytes is initialized — gcc loads
 *   neighbouring bytes it then ignores; without it every byte must be;
 * - a write marks the bytes initialized;
 * - a memory-to-memory copy (MOVS, PUSH m, POP m) copies the shadow from
 *   source to destination and reports only the bytes whose destination is
 *   not tracked (kmemcheck_copy()), so memcpy() of a partly initialized
 *   struct between tracked objects is silent until someone reads the copy;
 * - read-modify-write instructions (ADD [m], OR [m], INC [m], XCHG, ...)
 *   raised a write fault in Linux and were treated as writes, which also
 *   kept bitfield updates quiet; that is the default here
 *   (`checkReadModifyWrite: false`); with it set their read is checked first.
 *
 * Then the service shows the pages and single-steps the instruction; the
 * #DB hides them again (kmemcheck_show()/kmemcheck_hide()).
 *
 * Switching the engine off at run time (`setEnabled(false)`, Linux's
 * kmemcheck=0 through /proc/sys/kernel/kmemcheck) makes its pages present:
 * no more faults, no more shadow updates; switching it on hides them again
 * — accesses made in between are unknown to the shadow, which may cause
 * false positives (Linux documented the same). One-shot mode (kmemcheck=2,
 * Linux's default boot mode) switches the engine off after the first
 * report.
 */
import type { Kernel } from '../kernel/kernel.js';
import {
  PageHidingService, type HiddenFault, type PageHidingClient,
} from '../kernel/page-hiding.js';
import { decodeAccesses } from './access.js';
import { ShadowRules, type ShadowRuleOptions } from './rules.js';
import {
  SHADOW_FREED, SHADOW_INITIALIZED, SHADOW_UNALLOCATED, SHADOW_UNINITIALIZED, type ShadowState,
} from './shadow.js';

/** partialOk, checkReadModifyWrite, oneShot, enabled, queueSize (see ShadowRuleOptions in rules.ts). */
export type KmemcheckOptions = ShadowRuleOptions;

export interface KmemcheckStats {
  /** Faults on kmemcheck's pages handled. */
  faults: number;
  /** Reads checked (accesses that touched tracked bytes). */
  reads: number;
  writes: number;
  copies: number;
  /** Invalid reads found (reported, suppressed or lost). */
  errors: number;
}

export class Kmemcheck extends ShadowRules implements PageHidingClient {
  readonly name = 'kmemcheck';
  readonly origin = { checker: 'kmemcheck', region: 'heap' } as const;
  readonly stats: KmemcheckStats = { faults: 0, reads: 0, writes: 0, copies: 0, errors: 0 };

  constructor(readonly kernel: Kernel, readonly hiding: PageHidingService, opts: KmemcheckOptions = {}) {
    super(opts);
    hiding.register(this);
    hiding.setAccessDecoder(decodeAccesses);
    if (!hiding.isInstalled) hiding.install();
    if (opts.enabled === false) this.setEnabled(false);
  }

  /** Attach a new engine to the kernel's page-hiding service (created and installed on first use). */
  static attach(kernel: Kernel, opts: KmemcheckOptions = {}): Kmemcheck {
    return new Kmemcheck(kernel, PageHidingService.of(kernel), opts);
  }

  /** Run-time on/off: off makes tracked pages present (no faults, no shadow updates). */
  setEnabled(on: boolean): void {
    this.on = on;
    if (on) this.hiding.resume(this);
    else this.hiding.suspend(this);
  }

  // ---- tracking (for the allocator hooks) -----------------------------------

  /**
   * Track [virt, virt + bytes): its bytes get `initial` (default
   * uninitialized), the other bytes of newly tracked pages are initialized,
   * and every page is hidden (kmemcheck_alloc_shadow() + kmemcheck_hide_pages()).
   */
  track(virt: number, bytes: number, initial: ShadowState = SHADOW_UNINITIALIZED): void {
    if (bytes <= 0) return;
    this.shadow.track(virt, bytes, initial);
    for (let p = virt >>> 12, last = ((virt + bytes - 1) | 0) >>> 12; ; p = (p + 1) >>> 0) {
      this.hiding.hidePage((p * 4096) | 0, this);
      if (p === last) break;
    }
  }

  /** Stop tracking the pages [virt, virt + bytes) touches: shown, shadow dropped (kmemcheck_free_shadow()). */
  untrack(virt: number, bytes: number): void {
    if (bytes <= 0) return;
    for (let p = virt >>> 12, last = ((virt + bytes - 1) | 0) >>> 12; ; p = (p + 1) >>> 0) {
      this.hiding.showPage((p * 4096) | 0, this);
      if (p === last) break;
    }
    this.shadow.untrack(virt, bytes);
  }


  /**
   * Host-side write to guest memory with kmemcheck's semantics: the bytes
   * become initialized. Works on hidden pages (native kernel routines such
   * as the allocator writing into tracked memory).
   */
  hostWrite(virt: number, data: Uint8Array): boolean {
    if (!this.hiding.poke(virt, data)) return false;
    this.shadow.markInitialized(virt, data.length);
    return true;
  }

  /** Host-side read (no checking: the kernel's own bookkeeping reads are not uses). Null when unmapped. */
  hostRead(virt: number, n: number): Uint8Array | null {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const b = this.hiding.peek8((virt + i) | 0);
      if (b < 0) return null;
      out[i] = b;
    }
    return out;
  }

  // ---- the fault path -------------------------------------------------------

  /** kmemcheck_access(): check and update the shadow for every access of the faulting instruction. */
  onFault(f: HiddenFault): void {
    this.stats.faults++;
    this.applyFault(f);
  }

  protected memorySource(): PageHidingService {
    return this.hiding;
  }
}

// ---- the allocator hooks (one policy for both checkers: rules.ts) ---------------

export { kmemcheckSlabHooks, type SlabCacheInfo, type ObjectAllocation, type PageAllocation, type KmemcheckAllocatorHooks } from './rules.js';

export { SHADOW_FREED, SHADOW_INITIALIZED, SHADOW_UNALLOCATED, SHADOW_UNINITIALIZED };
