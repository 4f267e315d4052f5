/**
 * kprobes as Linux implements them on x86 (kernel/kprobes.c,
 * arch/x86/kernel/kprobes/core.c), on the simulated kernel's code:
 *
 * - Registering a probe resolves `symbol_name` + `offset` through kallsyms
 *   (or takes `addr`), checks the address (kernel or module text, not on
 *   the blacklist — kprobes' own functions, `NOKPROBE_SYMBOL()` entries of a
 *   module's `_kprobe_blacklist` section, `__kprobes` text — and on an
 *   instruction boundary), copies the instruction there into an
 *   out-of-line slot and writes `int3` (0xCC) over its first byte. Several
 *   probes on one address share it (an aggregate probe).
 * - The `int3` traps (#BP). The handler builds a `struct pt_regs` on the
 *   kernel stack whose `ip` is the probe address + 1 (what Linux's x86
 *   pre_handlers see: the address after the int3) and calls each
 *   `pre_handler(p, regs)` — guest code at the kernel's privilege, with
 *   preemption and interrupts disabled. If they all return 0, the copied
 *   instruction is single-stepped out of line (IRET to the slot with TF
 *   set); the #DB after it fixes EIP (and a CALL's pushed return address)
 *   back to the original code (resume_execution()), then each
 *   `post_handler(p, regs, 0)` runs. A pre_handler returning non-zero
 *   skips the step: execution resumes at `regs->ip` as the handler left
 *   it.
 * - A probe hit while a handler runs (or during a step) is not handled:
 *   its `nmissed` is incremented and its instruction is stepped
 *   (reenter_kprobe()).
 * - Host clients (bpftrace) attach handlers written in TypeScript to the
 *   same mechanism.
 *
 * The single step shares #DB with the page-hiding service (kmemcheck, the
 * CPL-1 stack tracker): the service sees every #DB first and chains here,
 * so a stepped instruction that touches a hidden page is checked as any
 * other.
 */
import type { CPU } from '../../cpu/cpu.js';
import { Vec } from '../../cpu/stop.js';
import { decodeAt } from '../../cpu/decoder.js';
import type { Kernel, TrapFrame, TrapHandler } from '../kernel.js';
import { PHYS_KPROBE_INSNS, PHYS_KTEXT, kva } from '../layout.js';
import { kallsymsOf } from '../kallsyms.js';
import { PageHidingService } from '../page-hiding.js';
import type { Printk } from '../printk.js';
import type { Scheduler } from '../sched/scheduler.js';
import { PT, TF, IF, TrapCalls, type Continuation } from './trap-call.js';

const DR6_BS = 0x4000;
const SHF_EXECINSTR = 4;
const INSN_SLOT = 16;
/** Out-of-line slots: the first half of the PHYS_KPROBE_INSNS page (layout.ts). */
const INSN_SLOTS = 128;
const MAX_INSN_SIZE = 15;

export const EINVAL = 22, ENOENT = 2, EILSEQ = 84, EEXIST = 17, ENOMEM = 12, E2BIG = 7;

/** struct kprobe (include/linux/kprobes.h as kmemsim lays it out): byte offsets. */
export const KP = {
  hlist: 0, list: 8, nmissed: 16, addr: 20, symbolName: 24, offset: 28, preHandler: 32, postHandler: 36, opcode: 40, insn: 44, flags: 48,
  size: 52,
} as const;
const KPROBE_FLAG_GONE = 1, KPROBE_FLAG_DISABLED = 2;

/** What a handler is told about the hit: the pt_regs, and how to call guest code before answering. */
export interface HitContext {
  cpu: CPU;
  /** Address of the struct pt_regs. */
  regs: number;
  /** Read/write a pt_regs field (PT offsets). */
  reg(off: number): number;
  setReg(off: number, v: number): void;
  /** Call guest `fn(args)`; `then` gets its return value. */
  callGuest(fn: number, args: readonly number[], then: (ret: number) => void): void;
}

/** One handler on a probed address: a guest struct kprobe, a kretprobe's entry, or a host client. */
export interface ProbeClient {
  /** The guest struct kprobe (0 for host clients). */
  struct: number;
  /** pre: `done(ret)` when finished (ret ≠ 0 skips the single step). */
  pre?(h: HitContext, done: (ret: number) => void): void;
  post?(h: HitContext, done: () => void): void;
  /** A missed hit (recursion). */
  missed(): void;
}

interface Probe {
  addr: number;
  opcode: number;
  slot: number;
  len: number;
  /** The instruction's first byte (and the ModRM reg field for 0xFF): resume_execution()'s fixup rules. */
  op: number;
  modrmReg: number;
  twoByte: number;
  clients: ProbeClient[];
}

const enum Status { None, HitActive, HitSs, HitSsDone, Reenter }

/** The per-CPU kprobe control block (struct kprobe_ctlblk). */
interface Kcb {
  probe: Probe | null;
  status: Status;
  /** TF and IF of the probed code, restored after the step. */
  oldFlags: number;
  /** pt_regs of the hit (post handlers reuse it). */
  regs: number;
}

export class Kprobes {
  readonly calls: TrapCalls;
  /** kretprobes (set by ./index.ts). */
  rets!: import('./kretprobes.js').Kretprobes;
  private readonly probes = new Map<number, Probe>();
  private kcb: Kcb = { probe: null, status: Status.None, oldFlags: 0, regs: 0 };
  /** Saved control blocks while a re-entered probe steps (prev_kprobe). */
  private readonly saved: Kcb[] = [];
  private readonly freeSlots: number[] = [];
  /** Kernel functions that cannot be probed (kprobes' own, trampolines): NOKPROBE_SYMBOL in Linux. */
  readonly blacklist = new Set<string>();
  private prevBP: TrapHandler | undefined;
  private prevDB: TrapHandler | undefined;
  /** Counters for tests and --verbose: hits handled, missed (recursion), steps. */
  readonly stats = { hits: 0, missed: 0, steps: 0 };

  constructor(readonly kernel: Kernel, readonly sched: Scheduler, readonly log: Printk, calls: TrapCalls) {
    this.calls = calls;
    for (let i = INSN_SLOTS - 1; i >= 0; i--) this.freeSlots.push((kva(PHYS_KPROBE_INSNS) + i * INSN_SLOT) >>> 0);
    this.installTraps();
  }

  private installTraps(): void {
    const k = this.kernel;
    this.prevBP = k.getTrapHandler(Vec.BP);
    k.setTrapHandler(Vec.BP, this.onBreakpoint);
    if (PageHidingService.isInstalledOn(k) && PageHidingService.of(k).isInstalled) {
      this.prevDB = PageHidingService.of(k).chainBelow(1, this.onDebug);
    } else {
      this.prevDB = k.getTrapHandler(Vec.DB);
      k.setTrapHandler(Vec.DB, this.onDebug);
    }
  }

  // ---- registration -----------------------------------------------------------------------------

  /**
   * kprobe_addr() + check_kprobe_address_safe(): the address to probe, or a
   * negative errno with the reason (printed by the caller as Linux would
   * not: kmemsim names the problem).
   */
  resolve(symbol: string | null, offset: number, addr: number): { addr: number } | { errno: number; why: string } {
    if (symbol !== null && addr !== 0) return { errno: -EINVAL, why: 'both symbol_name and addr are set' };
    if (symbol !== null) {
      const a = kallsymsOf(this.kernel).lookupName(symbol);
      if (a === undefined) return { errno: -ENOENT, why: `no symbol ${symbol} in the kernel or its modules` };
      addr = (a + offset) >>> 0;
    } else if (addr === 0) {
      return { errno: -EINVAL, why: 'neither symbol_name nor addr is set' };
    } else addr = (addr + offset) >>> 0;
    const fn = kallsymsOf(this.kernel).functionAt(addr);
    if (!this.isText(addr) || !fn) return { errno: -EINVAL, why: `0x${addr.toString(16)} is not in kernel or module text` };
    if (this.isBlacklisted(addr, fn.name)) return { errno: -EINVAL, why: `${fn.name} is on the kprobe blacklist (NOKPROBE_SYMBOL)` };
    // can_probe(): decode from the function's start to see that addr starts an instruction.
    let a = fn.address;
    while (a < addr) {
      const p = this.probes.get(a);
      const bytes = this.kernel.mem.read(a, MAX_INSN_SIZE);
      if (p) bytes[0] = p.opcode;
      a += decodeAt(bytes, a).len;
    }
    if (a !== addr) return { errno: -EILSEQ, why: `${fn.name}+0x${(addr - fn.address).toString(16)} is not on an instruction boundary` };
    return { addr };
  }

  private isText(addr: number): boolean {
    const text = kva(PHYS_KTEXT) >>> 0;
    if (addr >= text && addr < text + 4096) return true;
    for (const m of kallsymsOf(this.kernel).loadedModules()) {
      for (const s of m.object.sections) if (s.flags & SHF_EXECINSTR && addr >= s.address && addr < s.address + s.size) return true;
    }
    return false;
  }

  /** within_kprobe_blacklist(): the kernel's list, a module's _kprobe_blacklist entries and its .kprobes.text. */
  private isBlacklisted(addr: number, fnName: string): boolean {
    const ks = kallsymsOf(this.kernel);
    const fn = ks.functionAt(addr);
    if (fn?.module === null && this.blacklist.has(fnName)) return true;
    for (const m of ks.loadedModules()) {
      for (const s of m.object.sections) {
        if (s.name === '.kprobes.text' && addr >= s.address && addr < s.address + s.size) return true;
        if (s.name !== '_kprobe_blacklist') continue;
        for (let o = 0; o + 4 <= s.size; o += 4) {
          const target = this.kernel.mem.read32(s.address + o) >>> 0;
          const t = ks.functionAt(target);
          if (t && fn && t.address === fn.address) return true;
        }
      }
    }
    return false;
  }

  /** Arm `client` at `addr` (already resolved): a new probe writes int3, an existing one aggregates. */
  arm(addr: number, client: ProbeClient): number {
    let p = this.probes.get(addr);
    if (p?.clients.some((c) => c.struct !== 0 && c.struct === client.struct)) return -EEXIST;
    if (!p) {
      const slot = this.freeSlots.pop();
      if (slot === undefined) return -ENOMEM;
      const mem = this.kernel.mem;
      const bytes = mem.read(addr, MAX_INSN_SIZE);
      const ins = decodeAt(bytes, addr);
      if (bytes[0] === 0xcc || ins.len === 0) {
        this.freeSlots.push(slot);
        return -EINVAL;
      }
      // The copy in the slot, then int3 over the original's first byte (text_poke()).
      mem.write(slot, bytes.subarray(0, ins.len));
      const opcode = bytes[0]!;
      mem.write(addr, new Uint8Array([0xcc]));
      const twoByte = opcode === 0x0f ? bytes[1]! : -1;
      p = { addr, opcode, slot, len: ins.len, op: opcode, modrmReg: (bytes[1]! >> 3) & 7, twoByte, clients: [] };
      this.probes.set(addr, p);
    }
    p.clients.push(client);
    return 0;
  }

  /** Remove `client`; the last one out restores the original byte and frees the slot. */
  disarm(addr: number, client: ProbeClient): void {
    const p = this.probes.get(addr);
    if (!p) return;
    const i = p.clients.indexOf(client);
    if (i >= 0) p.clients.splice(i, 1);
    if (p.clients.length) return;
    this.kernel.mem.write(addr, new Uint8Array([p.opcode]));
    this.freeSlots.push(p.slot);
    this.probes.delete(addr);
  }

  /** The original first byte at a probed address (readers of kernel text see it, not the int3). */
  originalByte(addr: number): number | undefined {
    return this.probes.get(addr >>> 0)?.opcode;
  }

  isBusy(): boolean {
    return this.kcb.status !== Status.None;
  }

  /** kprobe_busy_begin()/end() around handlers the kernel runs outside a hit (kretprobe return handlers). */
  busyBegin(regs: number): void {
    this.saved.push(this.kcb);
    this.kcb = { probe: null, status: Status.HitActive, oldFlags: 0, regs };
    this.sched.addPreemptCount(1);
  }
  busyEnd(): void {
    this.kcb = this.saved.pop() ?? { probe: null, status: Status.None, oldFlags: 0, regs: 0 };
    this.sched.addPreemptCount(-1);
  }

  // ---- the int3 and the single step ---------------------------------------------------------------

  private hitContext(cpu: CPU, regs: number): HitContext {
    const calls = this.calls;
    return {
      cpu, regs,
      reg: (o) => calls.r32(regs + o),
      setReg: (o, v) => calls.w32(regs + o, v),
      callGuest: (fn, args, then) => calls.call(cpu, regs, fn, args, (_c, eax) => then(eax)),
    };
  }

  /** kprobe_int3_handler(). */
  private readonly onBreakpoint: TrapHandler = (k, f) => {
    const addr = (f.eip - 1) >>> 0;
    const p = this.probes.get(addr);
    if (!p || (f.cs & 3) === 3) {
      this.prevBP?.(k, f);
      return;
    }
    if (this.kcb.status !== Status.None) {
      // reenter_kprobe(): count the miss, step the instruction without handlers.
      for (const c of p.clients) c.missed();
      this.stats.missed++;
      this.saved.push(this.kcb);
      this.kcb = { probe: p, status: Status.Reenter, oldFlags: f.eflags & (TF | IF), regs: 0 };
      this.stepFromTrap(f, p);
      return;
    }
    this.stats.hits++;
    this.sched.addPreemptCount(1);
    this.kcb = { probe: p, status: Status.HitActive, oldFlags: f.eflags & (TF | IF), regs: 0 };
    // regs->ip is the address after the int3, as Linux's x86 pre_handlers see it.
    this.kcb.regs = this.calls.enterFromTrap(f, f.eip, f.eflags, (cpu, _eax, regs) => this.runPre(cpu, regs, p, 0, 0));
  };

  /** The pre handlers one after the other (aggr_pre_handler()), then the step or the skip. */
  private runPre(cpu: CPU, regs: number, p: Probe, i: number, skip: number): void {
    const clients = p.clients;
    while (i < clients.length && !clients[i]!.pre) i++;
    if (i < clients.length) {
      clients[i]!.pre!(this.hitContext(cpu, regs), (r) => this.runPre(cpu, regs, p, i + 1, skip || r));
      return;
    }
    if (skip) {
      // The handler changed regs->ip: resume there, no step (Linux: reset_current_kprobe()).
      const flags = (this.calls.r32(regs + PT.flags) & ~(TF | IF)) | this.kcb.oldFlags;
      this.finish();
      this.calls.resume(cpu, regs, flags);
      return;
    }
    this.kcb.status = Status.HitSs;
    this.stats.steps++;
    this.calls.w32(regs + PT.ip, p.slot);
    // setup_singlestep(): TF on, IF off, EIP at the copy.
    this.calls.resume(cpu, regs, (this.calls.r32(regs + PT.flags) | TF) & ~IF);
  }

  private finish(): void {
    this.kcb = { probe: null, status: Status.None, oldFlags: 0, regs: 0 };
    this.sched.addPreemptCount(-1);
  }

  /** Step the copy straight from the trap frame (a re-entered probe: no handlers). */
  private stepFromTrap(f: TrapFrame, p: Probe): void {
    this.stats.steps++;
    this.calls.w32(f.frameAddress, p.slot);
    this.calls.w32(f.frameAddress + 8, (f.eflags | TF) & ~IF);
  }

  /** kprobe_debug_handler(): the step is over. */
  private readonly onDebug: TrapHandler = (k, f) => {
    const kcb = this.kcb;
    const p = kcb.probe;
    const cpu = k.cpu;
    if (!p || (kcb.status !== Status.HitSs && kcb.status !== Status.Reenter) || !(cpu.dr[6] & DR6_BS)) {
      this.prevDB?.(k, f);
      return;
    }
    cpu.dr[6] &= ~DR6_BS;
    const ip = this.fixup(p, f);
    const flags = (f.eflags & ~(TF | IF)) | kcb.oldFlags;
    if (kcb.status === Status.Reenter) {
      this.kcb = this.saved.pop() ?? { probe: null, status: Status.None, oldFlags: 0, regs: 0 };
      this.calls.w32(f.frameAddress, ip);
      this.calls.w32(f.frameAddress + 8, flags);
      return;
    }
    if (!p.clients.some((c) => c.post)) {
      this.finish();
      this.calls.w32(f.frameAddress, ip);
      this.calls.w32(f.frameAddress + 8, flags);
      if (kcb.oldFlags & TF) this.prevDB?.(k, f); // the probed code was being single-stepped itself
      return;
    }
    kcb.status = Status.HitSsDone;
    this.calls.enterFromTrap(f, ip, flags, (c, _eax, regs) => this.runPost(c, regs, p, 0));
  };

  private runPost(cpu: CPU, regs: number, p: Probe, i: number): void {
    const clients = p.clients;
    while (i < clients.length && !clients[i]!.post) i++;
    if (i < clients.length) {
      clients[i]!.post!(this.hitContext(cpu, regs), () => this.runPost(cpu, regs, p, i + 1));
      return;
    }
    this.finish();
    this.calls.resume(cpu, regs);
  }

  /**
   * resume_execution(): EIP after the copy back in the original code —
   * unless the instruction set it absolutely (RET, IRET, an indirect or far
   * JMP/CALL) — and a CALL's pushed return address likewise.
   */
  private fixup(p: Probe, f: TrapFrame): number {
    const delta = (p.addr - p.slot) | 0;
    const op = p.op;
    let fixIp = true;
    let fixCall = false;
    if (op === 0xc3 || op === 0xc2 || op === 0xcb || op === 0xca || op === 0xcf || op === 0xea) fixIp = false;
    else if (op === 0xe8) fixCall = true;
    else if (op === 0x9a) {
      fixIp = false;
      fixCall = true;
    } else if (op === 0xff) {
      const reg = p.modrmReg;
      if (reg === 2 || reg === 3) {
        fixIp = false;
        fixCall = true;
      } else if (reg === 4 || reg === 5) fixIp = false;
    }
    if (fixCall) {
      const sp = f.userEsp;
      this.calls.w32(sp, (this.calls.r32(sp) + delta) | 0);
    }
    return fixIp ? (f.eip + delta) >>> 0 : f.eip >>> 0;
  }

  /** A host client's probe on a function by name (bpftrace): the errno or 0. */
  attachHost(symbol: string, client: ProbeClient): { addr: number } | { errno: number; why: string } {
    const r = this.resolve(symbol, 0, 0);
    if ('errno' in r) return r;
    const e = this.arm(r.addr, client);
    return e ? { errno: e, why: `cannot arm a probe at 0x${r.addr.toString(16)}` } : r;
  }
}

export { KPROBE_FLAG_GONE, KPROBE_FLAG_DISABLED };
export type { Continuation };
