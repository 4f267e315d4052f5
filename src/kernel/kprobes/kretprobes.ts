/**
 * kretprobes (kernel/kprobes.c, arch/x86/kernel/kprobes/core.c): a kprobe
 * on the function's entry whose handler (pre_handler_kretprobe()) takes a
 * free `struct kretprobe_instance` — `maxactive` of them were allocated at
 * registration, each with `data_size` bytes of `ri->data` — records the
 * return address, calls `entry_handler(ri, regs)` (a non-zero return
 * gives the instance back: the return is not hooked) and replaces the
 * return address with the kretprobe trampoline. When the function
 * returns there, the trampoline builds a pt_regs (`regs->ax` is the return
 * value, `regs->ip` the real return address, as since Linux 5.11) and
 * calls `handler(ri, regs)`, then returns to the real caller with EAX as
 * the handler left `regs->ax`. Instances are per task, last in first out,
 * so a function that sleeps holds its instance while other tasks call it;
 * with none free, the hit is counted in `rp->nmissed`.
 *
 * maxactive ≤ 0 takes Linux's default for a preemptible kernel, max(10,
 * 2 × CPUs) = 10; more than KRETPROBE_MAXACTIVE_MAX (4096) is -E2BIG.
 */
import type { CPU } from '../../cpu/cpu.js';
import type { GuestAccessor } from '../printk.js';
import type { MemoryManager } from '../mm/index.js';
import type { KernelTask, Scheduler } from '../sched/scheduler.js';
import { KP, E2BIG, ENOMEM, type Kprobes, type ProbeClient } from './kprobes.js';
import { PT } from './trap-call.js';

/** struct kretprobe: the kprobe, then these (byte offsets). */
export const RP = { handler: KP.size, entryHandler: KP.size + 4, maxactive: KP.size + 8, nmissed: KP.size + 12, dataSize: KP.size + 16, size: KP.size + 24 } as const;
/** struct kretprobe_instance: byte offsets; data[] at the end. */
export const RI = { hlist: 0, rp: 8, retAddr: 12, task: 16, fp: 20, data: 24 } as const;
const KRETPROBE_MAXACTIVE_MAX = 4096;
const DEFAULT_MAXACTIVE = 10;

interface Registered {
  /** The guest struct kretprobe; 0 for a host client's. */
  rp: number;
  /** A host client's return handler (bpftrace): the CPU at the return, EAX the value. */
  host?: (cpu: CPU) => void;
  hostMissed?: () => void;
  addr: number;
  client: ProbeClient;
  free: number[];
  all: number[];
  live: boolean;
}

/** A hooked return in flight on some task. */
interface InFlight {
  reg: Registered;
  inst: number;
  retAddr: number;
}

export class Kretprobes {
  private readonly byStruct = new Map<number, Registered>();
  private readonly inFlight = new Map<KernelTask, InFlight[]>();
  /** The trampoline hooked functions return to (Linux's __kretprobe_trampoline). */
  readonly trampoline: number;

  constructor(
    readonly kp: Kprobes,
    readonly sched: Scheduler,
    readonly mm: MemoryManager,
    readonly mem: GuestAccessor,
    bindInternal: (name: string, fn: (cpu: CPU) => void) => number,
  ) {
    this.trampoline = bindInternal('__kretprobe_trampoline', (cpu) => this.onReturn(cpu));
  }

  private r32(a: number): number {
    return this.mem.read32(a | 0) >>> 0;
  }
  private w32(a: number, v: number): void {
    this.kp.calls.w32(a, v);
  }

  /** register_kretprobe() after the address is resolved: 0 or -errno. */
  register(rp: number, addr: number): number {
    let maxactive = this.r32(rp + RP.maxactive) | 0;
    if (maxactive > KRETPROBE_MAXACTIVE_MAX) return -E2BIG;
    if (maxactive <= 0) {
      maxactive = DEFAULT_MAXACTIVE;
      this.w32(rp + RP.maxactive, maxactive);
    }
    const dataSize = this.r32(rp + RP.dataSize);
    const all: number[] = [];
    for (let i = 0; i < maxactive; i++) {
      const inst = this.mm.slab.kzalloc(RI.data + dataSize, 0xd0);
      if (!inst) {
        for (const a of all) this.mm.slab.kfree(a);
        return -ENOMEM;
      }
      all.push(inst);
    }
    const reg: Registered = { rp, addr, client: null as unknown as ProbeClient, free: [...all].reverse(), all, live: true };
    reg.client = {
      struct: rp,
      pre: (h, done) => this.onEntry(reg, h.regs, h.callGuest, done),
      missed: () => this.w32(rp + KP.nmissed, this.r32(rp + KP.nmissed) + 1),
    };
    const e = this.kp.arm(addr, reg.client);
    if (e) {
      for (const a of all) this.mm.slab.kfree(a);
      return e;
    }
    this.w32(rp + RP.nmissed, 0);
    this.byStruct.set(rp, reg);
    return 0;
  }

  unregister(rp: number): void {
    const reg = this.byStruct.get(rp);
    if (!reg) return;
    this.byStruct.delete(rp);
    this.kp.disarm(reg.addr, reg.client);
    reg.live = false;
    // Instances still in flight keep their return addresses on the host; their memory goes now.
    for (const a of reg.all) this.mm.slab.kfree(a);
  }

  /**
   * A host client's return probe on `addr` (bpftrace's kretprobe): `onReturn`
   * runs when the function returns, with EAX its return value, on the
   * returning task; at most `maxactive` calls in flight (the rest are
   * counted by `missed`).
   */
  attachHost(addr: number, onReturn: (cpu: CPU) => void, missed: () => void, maxactive = 64): () => void {
    const free = Array.from({ length: maxactive }, () => 0);
    const reg: Registered = { rp: 0, host: onReturn, hostMissed: missed, addr, client: null as unknown as ProbeClient, free, all: [], live: true };
    reg.client = { struct: 0, pre: (h, done) => this.onEntry(reg, h.regs, h.callGuest, done), missed };
    const e = this.kp.arm(addr, reg.client);
    if (e) throw new Error(`cannot arm a return probe at 0x${addr.toString(16)} (${e})`);
    return () => {
      this.kp.disarm(addr, reg.client);
      reg.live = false;
    };
  }

  isRegistered(rp: number): boolean {
    return this.byStruct.has(rp);
  }

  /** pre_handler_kretprobe(). */
  private onEntry(reg: Registered, regs: number, callGuest: (fn: number, args: readonly number[], then: (r: number) => void) => void, done: (r: number) => void): void {
    const inst = reg.free.pop();
    if (inst === undefined) {
      if (reg.hostMissed) reg.hostMissed();
      else this.w32(reg.rp + RP.nmissed, this.r32(reg.rp + RP.nmissed) + 1);
      done(0);
      return;
    }
    const sp = this.r32(regs + PT.sp);
    const retAddr = this.r32(sp);
    if (reg.host) {
      this.hook(reg, inst, sp, retAddr);
      done(0);
      return;
    }
    this.w32(inst + RI.rp, reg.rp);
    this.w32(inst + RI.retAddr, retAddr);
    this.w32(inst + RI.task, this.sched.current.struct);
    this.w32(inst + RI.fp, sp);
    const hook = (): void => {
      this.hook(reg, inst, sp, retAddr);
      done(0);
    };
    const entry = this.r32(reg.rp + RP.entryHandler);
    if (!entry) {
      hook();
      return;
    }
    callGuest(entry, [inst, regs], (r) => {
      if (r !== 0) {
        reg.free.push(inst);
        done(0);
      } else hook();
    });
  }

  /** Replace the return address at `sp` with the trampoline; remember the real one for the current task. */
  private hook(reg: Registered, inst: number, sp: number, retAddr: number): void {
    this.w32(sp, this.trampoline);
    const t = this.sched.current;
    let list = this.inFlight.get(t);
    if (!list) this.inFlight.set(t, (list = []));
    list.push({ reg, inst, retAddr });
  }

  /** trampoline_handler(): a hooked function returned (ESP just above the spent return address). */
  private onReturn(cpu: CPU): void {
    const t = this.sched.current;
    const rec = this.inFlight.get(t)?.pop();
    if (!rec) throw new Error(`kretprobe trampoline reached by ${t.comm}/${t.pid} with no hooked return in flight`);
    const sp = cpu.regs[4]! >>> 0;
    if (rec.reg.host) {
      if (rec.reg.live && !this.kp.isBusy()) {
        this.kp.busyBegin(0);
        try {
          rec.reg.host(cpu);
        } finally {
          this.kp.busyEnd();
        }
      }
      rec.reg.free.push(rec.inst);
      cpu.regs[4] = (sp - 4) | 0;
      this.w32(sp - 4, rec.retAddr);
      return;
    }
    const handler = rec.reg.live ? this.r32(rec.reg.rp + RP.handler) : 0;
    const calls = this.kp.calls;
    const release = (): void => {
      if (rec.reg.live) rec.reg.free.push(rec.inst);
    };
    if (!handler) {
      release();
      // The routine's RET pops the real return address.
      cpu.regs[4] = (sp - 4) | 0;
      this.w32(sp - 4, rec.retAddr);
      return;
    }
    const regs = calls.enterFromNative(rec.retAddr, sp, (c, _eax, r) => {
      this.kp.busyBegin(r);
      calls.call(c, r, handler, [rec.inst, r], (c2) => {
        this.kp.busyEnd();
        release();
        calls.resume(c2, r);
      });
    });
    void regs;
  }
}
