/**
 * The watch framework's C API (include/kmemsim/watch.h), exported by the
 * kernel to modules like kmalloc and printk (src/kernel/kapi.ts), i386
 * Linux's -mregparm=3 convention:
 *
 * | symbol | C prototype | arguments |
 * | --- | --- | --- |
 * | kmcf_register | `int kmcf_register(kmcf_handler_t handler)` | EAX |
 * | kmcf_unregister | `int kmcf_unregister(void)` | — |
 * | kmcf_add | `int kmcf_add(const void *buf, size_t len)` | EAX, EDX |
 * | kmcf_delete | `int kmcf_delete(const void *buf)` | EAX |
 * | kmcf_stats | `int kmcf_stats(const void *buf, struct kmcf_stats *out)` | EAX, EDX |
 * | kmcf_set_overflow_report | `void kmcf_set_overflow_report(int on)` | EAX |
 * | kmcf_overlay | `int kmcf_overlay(const void *buf, size_t len)` | EAX, EDX |
 * | kmcf_overlay_commit | `int kmcf_overlay_commit(const void *buf)` | EAX |
 * | kmcf_overlay_discard | `int kmcf_overlay_discard(const void *buf)` | EAX |
 *
 * The framework (src/watch/watch.ts) is attached to the kernel's
 * page-hiding service on the first call that needs it. The handler is
 * called through src/watch/trap-call.ts with `struct kmcf_access *` in EAX
 * and `post` in EDX; its return value is ignored (reserved: return 0).
 */
import type { CPU } from '../cpu/cpu.js';
import type { Kernel } from '../kernel/kernel.js';
import type { KernelApi } from '../kernel/kapi.js';
import type { HiddenFault } from '../kernel/page-hiding.js';
import { EINVAL, WatchFramework, type GuestHandlerCaller, type WatchAccess } from './watch.js';
import { TrapGuestCall } from './trap-call.js';

/** sizeof(struct kmcf_access) on i386. */
export const KMCF_ACCESS_SIZE = 32;

/** struct kmcf_access, little-endian i386 layout (include/kmemsim/watch.h). */
export function encodeAccess(a: WatchAccess): Uint8Array {
  const b = new Uint8Array(KMCF_ACCESS_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, a.addr >>> 0, true);
  v.setUint32(4, a.ip >>> 0, true);
  v.setUint32(8, a.size, true);
  v.setInt32(12, a.write ? 1 : 0, true);
  v.setUint32(16, a.buf >>> 0, true);
  v.setUint32(20, a.offset >>> 0, true);
  v.setUint32(24, a.value >>> 0, true);
  v.setInt32(28, a.pid | 0, true);
  return b;
}

/** A guest kmcf_handler_t, called from the #PF/#DB path. */
class GuestHandler implements GuestHandlerCaller {
  constructor(private readonly kernel: Kernel, private readonly call: TrapGuestCall, readonly fn: number) {}
  get busy(): boolean {
    return this.call.busy;
  }
  divert(f: HiddenFault, calls: WatchAccess[], post: boolean): void {
    const scratch = this.call.scratch;
    const mem = this.kernel.mem;
    this.call.divert(f.frame!, this.fn, calls.map((acc) => ({
      args: (): [number, number, number] => {
        mem.write(scratch, encodeAccess(acc));
        return [scratch, post ? 1 : 0, 0];
      },
    })));
  }
}

/** Bind the kmcf_* natives into `api` (call after installKernelApi). */
export function installWatchApi(kernel: Kernel, api: KernelApi): void {
  let call: TrapGuestCall | null = null;
  const fw = (): WatchFramework => WatchFramework.of(kernel);
  const arg = (cpu: CPU, i: number): number => cpu.regs[i === 0 ? 0 : i === 1 ? 2 : 1]! >>> 0;
  const ret = (cpu: CPU, v: number): void => {
    cpu.regs[0] = v | 0;
  };

  api.bind('kmcf_register', (cpu) => {
    const fn = arg(cpu, 0);
    if (fn === 0) return ret(cpu, -EINVAL);
    call ??= new TrapGuestCall(kernel, 'kmcf_handler');
    ret(cpu, fw().setGuestHandler(new GuestHandler(kernel, call, fn)));
  });
  api.bind('kmcf_unregister', (cpu) => {
    if (!WatchFramework.existsOn(kernel)) return ret(cpu, -EINVAL);
    const r = fw().unregister();
    if (typeof r === 'number') return ret(cpu, r);
    for (const b of r) {
      const s = b.stats;
      api.log.emit(`<6>kmcf: buffer ${b.start.toString(16).padStart(8, '0')} (${b.len} bytes): ${s.reads} reads, ${s.writes} writes, ${s.faults} faults, ${s.foreign} foreign, ${s.nested} nested\n`);
    }
    ret(cpu, 0);
  });
  api.bind('kmcf_add', (cpu) => ret(cpu, fw().add(arg(cpu, 0), arg(cpu, 1))));
  api.bind('kmcf_delete', (cpu) => ret(cpu, WatchFramework.existsOn(kernel) ? fw().delete(arg(cpu, 0)) : -2));
  api.bind('kmcf_stats', (cpu) => {
    const s = WatchFramework.existsOn(kernel) ? fw().stats(arg(cpu, 0)) : null;
    if (s === null) return ret(cpu, -2);
    const out = arg(cpu, 1);
    if (out === 0) return ret(cpu, -EINVAL);
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    [s.reads, s.writes, s.faults, s.foreign].forEach((x, i) => v.setUint32(4 * i, x >>> 0, true));
    api.memory.write(out | 0, b);
    ret(cpu, 0);
  });
  api.bind('kmcf_set_overflow_report', (cpu) => fw().setOverflowReport(arg(cpu, 0) !== 0));
  api.bind('kmcf_overlay', (cpu) => ret(cpu, fw().overlay(arg(cpu, 0), arg(cpu, 1))));
  api.bind('kmcf_overlay_commit', (cpu) => ret(cpu, WatchFramework.existsOn(kernel) ? fw().overlayCommit(arg(cpu, 0)) : -2));
  api.bind('kmcf_overlay_discard', (cpu) => ret(cpu, WatchFramework.existsOn(kernel) ? fw().overlayDiscard(arg(cpu, 0)) : -2));
}
