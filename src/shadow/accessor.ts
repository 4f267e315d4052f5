/**
 * The one accessor the kernel API's natives (kmalloc, printk, snprintf, ...)
 * read and write guest memory through while checkers run: the normal page
 * walk first (it checks permissions), the page-hiding service's view when
 * that fails on a hidden page (kmemcheck's objects, the CPL-1 tracker's
 * stack); a write marks the bytes initialized in every shadow, as kernel
 * code writing them would, and each observer (the stack checkers, which
 * check natives' reads of stack arguments) hears of every read and write.
 */
import { GuestFault } from '../kernel/guest-memory.js';
import type { Kernel } from '../kernel/kernel.js';
import type { GuestAccessor } from '../kernel/printk.js';
import { PageHidingService } from '../kernel/page-hiding.js';
import type { ShadowRules } from './rules.js';

/** What natives' accesses mean to a checker (stack checkers look at stack arguments). */
export interface NativeAccessObserver {
  nativeRead?(lin: number, n: number): void;
  nativeWrote?(lin: number, n: number): void;
  /** The routine consumed these bytes as data (a `%s` string): see ShadowRules.nativeUse. */
  nativeUse?(cpu: Kernel['cpu'], lin: number, n: number): void;
}

/** Natives' accessor for `shadows` and `observers` (either may be empty). */
export function checkedAccessor(kernel: Kernel, shadows: readonly ShadowRules[], observers: readonly NativeAccessObserver[]): GuestAccessor {
  const hiding = (): PageHidingService | null => (PageHidingService.isInstalledOn(kernel) ? PageHidingService.of(kernel) : null);
  const read = (lin: number, len: number): Uint8Array => {
    let out: Uint8Array;
    try {
      out = kernel.mem.read(lin, len);
    } catch (e) {
      const svc = hiding();
      if (!(e instanceof GuestFault) || svc === null) throw e;
      out = new Uint8Array(len);
      for (let i = 0; i < len; i++) {
        const b = svc.peek8((lin + i) | 0);
        if (b < 0) throw e;
        out[i] = b;
      }
    }
    for (const o of observers) o.nativeRead?.(lin, len);
    return out;
  };
  return {
    read,
    read32(lin) {
      const b = read(lin, 4);
      return b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
    },
    used(lin, n) {
      for (const s of shadows) s.nativeUse(kernel.cpu, lin, n);
      for (const o of observers) o.nativeUse?.(kernel.cpu, lin, n);
    },
    write(lin, data) {
      try {
        kernel.mem.write(lin, data);
      } catch (e) {
        const svc = hiding();
        if (!(e instanceof GuestFault) || svc === null || !svc.poke(lin, data)) throw e;
      }
      for (const s of shadows) s.markInitialized(lin, data.length);
      for (const o of observers) o.nativeWrote?.(lin, data.length);
    },
  };
}
