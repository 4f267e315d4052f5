/**
 * Dynamic ftrace (src/ftrace/ftrace.ts) on a module compiled with
 * -pg -mfentry: the loader's recordmcount/ftrace_make_nop, enabling and
 * disabling, the function tracer, the function-graph return hook, and
 * transparency (same results, registers and instruction counts as an
 * untraced run).
 */
import { describe, expect, it } from 'vitest';
import { Ftrace } from '../../src/ftrace/ftrace.js';
import { FTRACE_NOP5 } from '../../src/kernel/module.js';
import { callGuest } from '../../src/kernel/call.js';
import { kva, PHYS_KSTACK_TOP } from '../../src/kernel/layout.js';
import { hasGcc, NO_GCC, ftraceModule, loaded } from './helpers.js';

if (!hasGcc) console.log(`test/ftrace/ftrace.test.ts: ${NO_GCC}`);

const fibRef = (n: number): number => (n < 2 ? n : fibRef(n - 1) + fibRef(n - 2));

describe.skipIf(!hasGcc)('ftrace: call sites', () => {
  it('records every call __fentry__ as a site and NOPs it at load', () => {
    const { k, m, fn } = loaded(ftraceModule('ftrace-calls').object);
    const names = ['leaf', 'mid', 'fib', 'wide', 'hot', 'tail', 'tail2', 'popper', 'use_popper', 'top'];
    expect([...m.object.fentrySites].sort((a, b) => a - b)).toEqual(names.map(fn).sort((a, b) => a - b));
    for (const s of m.object.fentrySites) expect([...k.mem.read(s, 5)]).toEqual(FTRACE_NOP5);
  });

  it('a module compiled without -pg has no sites and loads as before', () => {
    const { m, call } = loaded(ftraceModule('ftrace-calls', '-O2', false).object);
    expect(m.object.fentrySites).toEqual([]);
    expect(call('fib', [10]).value).toBe(55);
  });

  it('compileModule returns the .su data (always) and adds -pg -mfentry only for ftrace', () => {
    const r = ftraceModule('ftrace-calls');
    expect(r.command).toContain('-mfentry');
    expect(r.stackUsage).toMatch(/:leaf\t4\tstatic/);
    const plain = ftraceModule('ftrace-calls', '-O2', false);
    expect(plain.command).not.toContain('-pg');
    expect(plain.stackUsage).toMatch(/:top\t\d+\tstatic/);
  });

  it('enable patches the sites to call ftrace_caller, disable back to the NOP', () => {
    const { k, m } = loaded(ftraceModule('ftrace-calls').object);
    const f = Ftrace.attach(k, m);
    f.enable();
    for (const s of m.object.fentrySites) {
      const b = k.mem.read(s, 5);
      expect(b[0]).toBe(0xe8);
      expect((s + 5 + (b[1]! | (b[2]! << 8) | (b[3]! << 16) | (b[4]! << 24))) >>> 0).toBe(f.callerAddress >>> 0);
    }
    f.disable();
    for (const s of m.object.fentrySites) expect([...k.mem.read(s, 5)]).toEqual(FTRACE_NOP5);
  });
});

describe.skipIf(!hasGcc)('ftrace: function tracer and function graph', () => {
  for (const opt of ['-O0', '-O2']) {
    it(`${opt}: same architectural results, registers and instruction count as an untraced run`, () => {
      const obj = ftraceModule('ftrace-calls', opt).object;
      const plain = loaded(obj);
      const traced = loaded(obj);
      const f = Ftrace.attach(traced.k, traced.m);
      let entries = 0;
      let returns = 0;
      f.registerFunction(() => void entries++);
      f.registerGraph({ return: () => void returns++ });
      f.enable();
      for (const n of [0, 1, 7, 12]) {
        const a = plain.call('top', [n]);
        const b = traced.call('top', [n]);
        expect(b.returned).toBe(true);
        expect(b.eax).toBe(a.eax);
        expect(b.instructions).toBe(a.instructions);
        expect([...traced.k.cpu.regs]).toEqual([...plain.k.cpu.regs]);
        expect(traced.k.mem.read32(traced.fn('calls_made'))).toBe(plain.k.mem.read32(plain.fn('calls_made')));
      }
      expect(entries).toBeGreaterThan(20);
      expect(returns).toBe(entries);
      expect(f.graphDepth).toBe(0);
    });

    it(`${opt}: entry callbacks see the function, its caller and its arguments; returns see the value`, () => {
      const { k, m, fn, call } = loaded(ftraceModule('ftrace-calls', opt).object);
      const f = Ftrace.attach(k, m);
      const name = (a: number): string | undefined => m.symbolize(a)?.name;
      const seen: string[] = [];
      f.registerFunction((ip, parent) => {
        seen.push(`${name(ip)}<-${name(parent) ?? 'host'}`);
      });
      // fib: the argument at entry (EAX) and the return value (EAX) must agree with fib(n).
      const args: number[] = [];
      let fibChecked = 0;
      let wideRet: [number, number] | null = null;
      let maxDepth = 0;
      f.registerGraph({
        entry(ip, _p, _slot, depth, cpu) {
          maxDepth = Math.max(maxDepth, depth);
          if (ip === fn('fib')) args.push(cpu.regs[0]!);
          return true;
        },
        return(ip, parent, slot, depth, cpu) {
          expect(slot).toBe((cpu.regs[4]! - 4) >>> 0);
          if (ip === fn('fib')) {
            expect(depth).toBe(args.length - 1);
            expect(cpu.regs[0]).toBe(fibRef(args.pop()!));
            fibChecked++;
          }
          if (ip === fn('wide')) wideRet = [cpu.regs[0]! >>> 0, cpu.regs[2]! >>> 0];
          expect(parent).not.toBe(f.trampolineAddress);
        },
      });
      f.enable();
      expect(call('fib', [9]).value).toBe(34);
      expect(fibChecked).toBeGreaterThan(5);
      expect(maxDepth).toBeGreaterThan(3);
      expect(call('mid', [2, 5]).value).toBe(7 + 16);
      expect(seen.slice(-3)).toEqual(['mid<-host', 'leaf<-mid', 'leaf<-mid']);
      // wide(2, 0x1_0000_0005, 3) = 0x2_0000_000d in EDX:EAX
      expect(call('wide', [2, 5, 1, 3]).eax).toBe(0xd);
      expect(wideRet).toEqual([0xd, 2]);
      expect(f.graphDepth).toBe(0);
    });
  }

  it('tracing turned on after the code ran hot (compiled blocks) still sees every entry; off again sees none', () => {
    const { k, m, call } = loaded(ftraceModule('ftrace-calls').object);
    k.cpu.jitThreshold = 0;
    const before = call('hot', [40]).value;
    call('hot', [40]);
    const f = Ftrace.attach(k, m);
    let entries = 0;
    f.registerFunction(() => void entries++);
    f.enable();
    expect(call('hot', [40]).value).toBe(before);
    expect(entries).toBe(1 + 40 * 3); // hot, 40 × (mid + 2 × leaf)
    f.disable();
    expect(call('hot', [40]).value).toBe(before);
    expect(entries).toBe(121);
  });

  for (const opt of ['-O0', '-O2']) {
    it(`${opt}: sibling calls (jmp to a traced function) nest on the shadow stack and return once each`, () => {
      const { k, m, fn, call } = loaded(ftraceModule('ftrace-calls', opt).object);
      const f = Ftrace.attach(k, m);
      const name = (a: number): string => m.symbolize(a)?.name ?? 'host';
      const log: string[] = [];
      f.registerFunction((ip, parent) => void log.push(`> ${name(ip)}<-${name(parent)}`));
      f.registerGraph({ return: (ip, parent, _s, _d, cpu) => void log.push(`< ${name(ip)}->${name(parent)} ${cpu.regs[0]}`) });
      f.enable();
      expect(call('tail2', [3]).value).toBe(22);
      expect(f.graphDepth).toBe(0);
      if (opt === '-O2') {
        // tail2 jumps to tail, tail jumps to leaf: every function's parent is the host.
        expect(log).toEqual(['> tail2<-host', '> tail<-host', '> leaf<-host', '< leaf->host 22', '< tail->host 22', '< tail2->host 22']);
      } else {
        expect(log).toEqual(['> tail2<-host', '> tail<-tail2', '> leaf<-tail', '< leaf->tail 22', '< tail->tail2 22', '< tail2->host 22']);
      }
      expect(fn('tail')).toBeGreaterThan(0);
    });
  }

  it('a callee that pops its arguments (ret $8) returns through the trampoline with ESP above the slot', () => {
    const { k, m, fn, call } = loaded(ftraceModule('ftrace-calls').object);
    const f = Ftrace.attach(k, m);
    const seen: number[] = [];
    f.registerGraph({
      return(ip, _p, slot, _d, cpu) {
        if (ip === fn('popper')) seen.push((cpu.regs[4]! - slot) >>> 0, cpu.regs[0]!);
      },
    });
    f.enable();
    expect(call('use_popper', [10]).value).toBe(18);
    expect(seen).toEqual([12, 9]);
    expect(f.graphDepth).toBe(0);
  });

  it('a filter enables only some functions (set_ftrace_filter)', () => {
    const { k, m, fn, call } = loaded(ftraceModule('ftrace-calls').object);
    const f = Ftrace.attach(k, m);
    const hits = new Map<number, number>();
    f.registerFunction((ip) => void hits.set(ip, (hits.get(ip) ?? 0) + 1));
    f.enable((ip) => ip === fn('leaf'));
    call('mid', [1, 2]);
    expect([...hits]).toEqual([[fn('leaf'), 2]]);
    expect(f.isTraced(fn('mid'))).toBe(false);
  });

  it('stale shadow-stack entries from a call that never returned are dropped; the next call is consistent', () => {
    const { k, m, fn } = loaded(ftraceModule('ftrace-calls').object);
    const f = Ftrace.attach(k, m);
    let returns = 0;
    f.registerGraph({ return: () => void returns++ });
    f.enable();
    const stopped = callGuest(k, fn('fib'), [15], 200);
    expect(stopped.returned).toBe(false);
    expect(f.graphDepth).toBeGreaterThan(1);
    // The machine is re-entered from the top of the stack, as after an oops.
    k.cpu.regs[4] = kva(PHYS_KSTACK_TOP);
    const r2 = callGuest(k, fn('fib'), [10]);
    expect(r2.returned).toBe(true);
    expect(r2.value).toBe(55);
    expect(f.stats.stale).toBeGreaterThan(0);
    expect(f.graphDepth).toBe(0);
    expect(returns).toBeGreaterThan(0);
  });
});
