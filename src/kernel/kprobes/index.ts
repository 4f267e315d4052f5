/**
 * The kprobes API the kernel exports (include/linux/kprobes.h):
 *
 * | symbol | C prototype (Linux) |
 * | --- | --- |
 * | register_kprobe, unregister_kprobe | `int register_kprobe(struct kprobe *p)`, `void unregister_kprobe(struct kprobe *p)` |
 * | register_kprobes, unregister_kprobes | `int register_kprobes(struct kprobe **kps, int num)` … |
 * | register_kretprobe, unregister_kretprobe | `int register_kretprobe(struct kretprobe *rp)` … |
 * | register_kretprobes, unregister_kretprobes | `int register_kretprobes(struct kretprobe **rps, int num)` … |
 * | enable_kprobe, disable_kprobe | `int enable_kprobe(struct kprobe *kp)` |
 * | kallsyms_lookup_name | `unsigned long kallsyms_lookup_name(const char *name)` (exported before 5.7) |
 *
 * Errors are Linux's: -ENOENT for a symbol kallsyms does not know,
 * -EINVAL for both or neither of symbol_name/addr, an address outside
 * kernel/module text, a blacklisted function (NOKPROBE_SYMBOL) or a probe
 * registered twice, -EILSEQ for an offset inside an instruction, -E2BIG
 * for maxactive > 4096. The reason is logged at KERN_DEBUG.
 */
import type { CPU } from '../../cpu/cpu.js';
import type { KapiContext } from '../kapi.js';
import type { Scheduler } from '../sched/scheduler.js';
import { kallsymsOf } from '../kallsyms.js';
import { Kprobes, KP, EINVAL, EEXIST, type ProbeClient } from './kprobes.js';
import { Kretprobes } from './kretprobes.js';
import { TrapCalls } from './trap-call.js';

export { Kprobes, KP } from './kprobes.js';
export type { HitContext, ProbeClient } from './kprobes.js';
export { PT } from './trap-call.js';
export { RP, RI } from './kretprobes.js';

const ERRNO_NAME: Record<number, string> = { 2: 'ENOENT', 7: 'E2BIG', 12: 'ENOMEM', 17: 'EEXIST', 22: 'EINVAL', 84: 'EILSEQ' };

export function installKprobes(ctx: KapiContext, sched: Scheduler): Kprobes {
  const { kernel, api, mem, log, bind, arg, ret, fmtString } = ctx;
  const internal = (name: string, fn: (cpu: CPU) => void): number => bind(name, fn, api.internal);
  const calls = new TrapCalls(kernel, mem, internal);
  const kp = new Kprobes(kernel, sched, log, calls);
  const rets = new Kretprobes(kp, sched, ctx.mm, mem, internal);
  kp.rets = rets;
  const r32 = (a: number): number => mem.read32(a | 0) >>> 0;
  const w32 = (a: number, v: number): void => calls.w32(a, v);
  /** Guest kprobes by struct address: their resolved address and client. */
  const guest = new Map<number, { addr: number; client: ProbeClient }>();
  const preKretprobe = internal('pre_handler_kretprobe', () => {});

  const fail = (fn: string, errno: number, why: string): number => {
    log.emit(`<7>${fn}: ${errno} (-${ERRNO_NAME[-errno] ?? '?'}): ${why}\n`);
    return errno;
  };
  /** kprobe_addr(): resolve p->symbol_name/offset/addr, write back p->addr. */
  const resolve = (fn: string, p: number): number => {
    const sym = r32(p + KP.symbolName);
    const r = kp.resolve(sym ? fmtString(sym) : null, r32(p + KP.offset), r32(p + KP.addr));
    if ('errno' in r) return fail(fn, r.errno, r.why);
    return r.addr;
  };

  const registerKprobe = (p: number): number => {
    if (guest.has(p) || rets.isRegistered(p)) return fail('register_kprobe', -EINVAL, 'this kprobe is already registered');
    const addr = resolve('register_kprobe', p);
    if (addr < 0) return addr;
    const client: ProbeClient = {
      struct: p,
      pre: (h, done) => {
        if (r32(p + KP.flags) & 2) return done(0); // KPROBE_FLAG_DISABLED
        const pre = r32(p + KP.preHandler);
        if (!pre) return done(0);
        h.callGuest(pre, [p, h.regs], done);
      },
      post: (h, done) => {
        const post = r32(p + KP.postHandler);
        if (!post || r32(p + KP.flags) & 2) return done();
        h.callGuest(post, [p, h.regs, 0], () => done());
      },
      missed: () => w32(p + KP.nmissed, r32(p + KP.nmissed) + 1),
    };
    const e = kp.arm(addr, client);
    if (e) return fail('register_kprobe', e === -EEXIST ? -EINVAL : e, `cannot probe 0x${addr.toString(16)}`);
    w32(p + KP.addr, addr);
    w32(p + KP.nmissed, 0);
    w32(p + KP.opcode, kp.originalByte(addr) ?? 0);
    w32(p + KP.flags, r32(p + KP.flags) & 2);
    guest.set(p, { addr, client });
    return 0;
  };
  const unregisterKprobe = (p: number): void => {
    const g = guest.get(p);
    if (!g) return;
    guest.delete(p);
    kp.disarm(g.addr, g.client);
    w32(p + KP.flags, r32(p + KP.flags) | 1); // KPROBE_FLAG_GONE
  };
  const registerKretprobe = (rp: number): number => {
    if (guest.has(rp) || rets.isRegistered(rp)) return fail('register_kretprobe', -EINVAL, 'this kretprobe is already registered');
    const addr = resolve('register_kretprobe', rp);
    if (addr < 0) return addr;
    w32(rp + KP.preHandler, preKretprobe);
    const e = rets.register(rp, addr);
    if (e) return fail('register_kretprobe', e, `cannot probe 0x${addr.toString(16)}`);
    w32(rp + KP.addr, addr);
    w32(rp + KP.nmissed, 0);
    return 0;
  };

  /** register_kprobes(kps, num): all or nothing. */
  const registerMany = (cpu: CPU, reg: (p: number) => number, unreg: (p: number) => void): void => {
    const arr = arg(cpu, 0), num = arg(cpu, 1) | 0;
    if (num <= 0) return ret(cpu, -EINVAL);
    for (let i = 0; i < num; i++) {
      const e = reg(r32(arr + 4 * i));
      if (e < 0) {
        for (let j = 0; j < i; j++) unreg(r32(arr + 4 * j));
        return ret(cpu, e);
      }
    }
    ret(cpu, 0);
  };
  const unregisterMany = (cpu: CPU, unreg: (p: number) => void): void => {
    const arr = arg(cpu, 0), num = arg(cpu, 1) | 0;
    for (let i = 0; i < num; i++) unreg(r32(arr + 4 * i));
  };

  const own = [
    bind('register_kprobe', (cpu) => ret(cpu, registerKprobe(arg(cpu, 0)))),
    bind('unregister_kprobe', (cpu) => unregisterKprobe(arg(cpu, 0))),
    bind('register_kprobes', (cpu) => registerMany(cpu, registerKprobe, unregisterKprobe)),
    bind('unregister_kprobes', (cpu) => unregisterMany(cpu, unregisterKprobe)),
    bind('register_kretprobe', (cpu) => ret(cpu, registerKretprobe(arg(cpu, 0)))),
    bind('unregister_kretprobe', (cpu) => rets.unregister(arg(cpu, 0))),
    bind('register_kretprobes', (cpu) => registerMany(cpu, registerKretprobe, (p) => rets.unregister(p))),
    bind('unregister_kretprobes', (cpu) => unregisterMany(cpu, (p) => rets.unregister(p))),
    bind('enable_kprobe', (cpu) => {
      const p = arg(cpu, 0);
      if (!guest.has(p) && !rets.isRegistered(p)) return ret(cpu, -EINVAL);
      w32(p + KP.flags, r32(p + KP.flags) & ~2);
      ret(cpu, 0);
    }),
    bind('disable_kprobe', (cpu) => {
      const p = arg(cpu, 0);
      if (!guest.has(p) && !rets.isRegistered(p)) return ret(cpu, -EINVAL);
      w32(p + KP.flags, r32(p + KP.flags) | 2);
      ret(cpu, 0);
    }),
    bind('kallsyms_lookup_name', (cpu) => ret(cpu, kallsymsOf(kernel).lookupName(fmtString(arg(cpu, 0))) ?? 0)),
  ];
  void own;
  // NOKPROBE_SYMBOL() in kernel/kprobes.c and the functions the handlers' plumbing runs through.
  for (const name of ['register_kprobe', 'unregister_kprobe', 'register_kprobes', 'unregister_kprobes', 'register_kretprobe',
    'unregister_kretprobe', 'register_kretprobes', 'unregister_kretprobes', 'enable_kprobe', 'disable_kprobe',
    'preempt_count_add', 'preempt_count_sub']) kp.blacklist.add(name);
  return kp;
}
