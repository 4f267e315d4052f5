/**
 * Native handlers run straight from delivery (CPU.nativeDelivery,
 * src/cpu/native-delivery.ts): the kernel's #PF handler, the
 * single step its IRET asks for and the #DB handler run without a pass of
 * the run loop each. It must be invisible: with it on and off, the same
 * frames byte for byte, CR2, DR6, EFLAGS, CS, ESP, EIP and instruction
 * count at every handler entry, the same timer events and interrupts at
 * the same counts, the same stops for every budget, the same registers and
 * memory at the end — and, with the real page-hiding service and
 * kmemcheck on a module, the same findings, statistics and count.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Kernel } from '../../src/kernel/kernel.js';
import { callGuest } from '../../src/kernel/call.js';
import { Vec } from '../../src/cpu/stop.js';
import type { InterruptController, TimedDevice } from '../../src/cpu/cpu.js';
import { compileModule } from '../../src/cli/compile.js';
import { runChecked } from '../../src/harness/checked-run.js';
import { CODE, handlerEntry, hiddenPageLoop, SELF_STEP } from '../helpers/hidden-page.js';
import { hasGcc, NO_GCC, ROOT } from '../module/helpers.js';

const IRQ = 0x20;

interface Run {
  entries: number[][];
  stops: number[][];
  memory: Uint8Array;
  regs: number[];
  icount: number;
  chained: number;
}

/**
 * kmemcheck's protocol with the kernel's own trap handlers on one hidden page (#PF: present, TF in
 * the frame; #DB: hidden, TF off), a timer event every `period` instructions that raises an interrupt
 * (taken when IF allows: the #PF handler returns with IF as the gate left it, the #DB handler's IRET
 * sets it again), and the run either whole or in slices of the budgets `slices` cycles through;
 * `guest` and `breakpoint` as in hiddenPageLoop.
 */
function run(nativeDelivery: boolean, opts: { period?: number; slices?: number[]; rebindAt?: number; guest?: string; breakpoint?: boolean } = {}): Run {
  const k = new Kernel();
  const cpu = k.cpu;
  cpu.nativeDelivery = nativeDelivery;
  const entries = hiddenPageLoop(k, {
    trips: 25,
    stos: 3,
    lods: true,
    guest: opts.guest,
    breakpoint: opts.breakpoint,
    onFault: (kk, fault) => {
      if (fault + 1 !== opts.rebindAt) return;
      // Another routine at the #DB handler's address (what the IDT entry points at): it must run from now on.
      const lo = kk.mem.read32(cpu.idtrBase + Vec.DB * 8), hi = kk.mem.read32(cpu.idtrBase + Vec.DB * 8 + 4);
      const at = (hi & 0xffff0000) | (lo & 0xffff);
      const old = cpu.nativeAt(at)!;
      cpu.bindNative(at, (c) => {
        entries.push([-2, c.icount]);
        old(c);
      });
    },
  });
  if (opts.period !== undefined) {
    const period = opts.period;
    let pending = false;
    const timer: TimedDevice = {
      nextEventAt: cpu.icount + period,
      onTime(icount) {
        entries.push([-1, icount, cpu.eip >>> 0]);
        pending = true;
        this.nextEventAt = icount + period;
      },
    };
    const pic: InterruptController = {
      intr: () => pending,
      acknowledge: () => {
        pending = false;
        return IRQ;
      },
    };
    cpu.interruptController = pic;
    cpu.addTimedDevice(timer);
    k.setTrapHandler(IRQ, (kk) => {
      entries.push(handlerEntry(kk, IRQ));
    });
  }
  const stops: number[][] = [];
  let instructions: number;
  if (opts.slices === undefined) {
    const r = callGuest(k, CODE, [], 1_000_000);
    expect(r.returned).toBe(true);
    instructions = r.instructions;
  } else {
    // The same call, run slice by slice: each run() must return at the same count, EIP and EFLAGS.
    const start = cpu.icount;
    const budgets = opts.slices;
    let i = 0;
    const r = callGuest(k, CODE, [], budgets[0]!);
    if (!r.returned) {
      for (;;) {
        stops.push([cpu.icount, cpu.eip >>> 0, cpu.getEflags() >>> 0, cpu.regs[4]! >>> 0]);
        expect(cpu.stopReason).toBe(null);
        const stop = cpu.run(budgets[++i % budgets.length]!);
        if (stop?.kind !== 'budget') break;
        expect(stops.length).toBeLessThan(100_000);
      }
      expect(cpu.stopReason?.kind).toBe('exited');
    }
    instructions = cpu.icount - start;
  }
  return { entries, stops, memory: cpu.mem.u8.slice(), regs: [...cpu.regs].map((x) => x >>> 0), icount: instructions, chained: cpu.nativeDeliveryRuns };
}

function expectSame(fast: Run, loop: Run, chained = true): void {
  expect(loop.chained).toBe(0);
  if (chained) expect(fast.chained).toBeGreaterThan(0);
  expect(fast.entries.length).toBe(loop.entries.length);
  expect(fast.entries).toEqual(loop.entries);
  expect(fast.stops).toEqual(loop.stops);
  expect(fast.regs).toEqual(loop.regs);
  expect(fast.icount).toBe(loop.icount);
  expect(Buffer.from(fast.memory).equals(Buffer.from(loop.memory))).toBe(true);
}

describe('native handlers run straight from delivery', () => {
  it('write the same frames, CR2, DR6, EFLAGS and memory as one run-loop pass each', () => {
    const loop = run(false);
    // 25 trips, each faulting on 4 accesses, 3 STOS elements and a LODS, each fault followed by a step.
    expect(loop.entries.length).toBe(2 * 25 * 8);
    const fast = run(true);
    expectSame(fast, loop);
    // Both handlers of every tracked access ran from delivery.
    expect(fast.chained).toBe(loop.entries.length);
  });

  it('run the routine bound at the handler\'s address now, not the one bound before', () => {
    const loop = run(false, { rebindAt: 30 });
    const rebound = loop.entries.filter((e) => e[0] === -2).length;
    expect(rebound).toBe(2 * 25 * 8 / 2 - 29);
    expectSame(run(true, { rebindAt: 30 }), loop);
  });

  it('keep timer events and interrupts at the same instruction counts', () => {
    for (const period of [3, 50]) {
      const loop = run(false, { period });
      expect(loop.entries.filter((e) => e[0] === IRQ).length).toBeGreaterThan(2);
      expectSame(run(true, { period }), loop);
    }
  });

  it('write the same frames when the guest single-steps itself, and with interrupts and budgets', () => {
    const guest = SELF_STEP;
    const loop = run(false, { guest });
    expect(loop.entries.filter((e) => e[0] === Vec.DB).length).toBeGreaterThan(25 * 8 + 5);
    expectSame(run(true, { guest }), loop);
    for (const slices of [[1], [3, 2]]) expectSame(run(true, { guest, slices, period: 7 }), run(false, { guest, slices, period: 7 }));
  });

  it('write the same frames with an instruction breakpoint on the stepped instruction (no run from delivery while DR7 is armed)', () => {
    const loop = run(false, { breakpoint: true });
    expect(loop.entries.filter((e) => e[0] === Vec.DB && (e[2]! & 1) !== 0).length).toBe(25);
    const fast = run(true, { breakpoint: true });
    expectSame(fast, loop, false);
    expect(fast.chained).toBe(0);
  });

  it('stop at the same count, EIP and EFLAGS for every budget', () => {
    for (const slices of [[1], [2, 3, 1, 5], [13]]) {
      const loop = run(false, { slices, period: 11 });
      expect(loop.stops.length).toBeGreaterThan(10);
      expectSame(run(true, { slices, period: 11 }), loop);
    }
  });
});

describe.skipIf(!hasGcc)('kmemcheck with native handlers run from delivery', () => {
  if (!hasGcc) console.log(`test/cpu/native-delivery.test.ts: ${NO_GCC}`);
  const modules = [
    { name: 'memcpy-shadow', findings: 1, object: () => compileModule(join(ROOT, 'examples/kmemcheck/memcpy-shadow.c')).object },
    { name: 'kernel-workload', findings: 0, object: () => compileModule(join(ROOT, 'bench/modules/kernel-workload.c'), { cflags: ['-DROUNDS=2'] }).object },
  ];
  for (const m of modules) {
    it(`${m.name}: the same findings, fault statistics and instruction count`, () => {
      const object = m.object();
      const once = (on: boolean) => {
        let cpu: Kernel['cpu'] | null = null;
        const r = runChecked(object, {
          heap: 'kmemcheck',
          name: m.name,
          onAttached: (ctx) => {
            cpu = ctx.kernel.cpu;
            cpu.nativeDelivery = on;
          },
        });
        expect(r.run).toBeTruthy();
        const chained = (cpu as Kernel['cpu'] | null)?.nativeDeliveryRuns ?? -1;
        expect(chained > 0).toBe(on);
        return { findings: JSON.stringify(r.findings), summary: r.summary, instructions: r.run!.instructions, console: r.run!.console };
      };
      const loop = once(false);
      const fast = once(true);
      expect(loop.summary.faults).toBeGreaterThan(5);
      expect(JSON.parse(loop.findings).length).toBe(m.findings);
      expect(fast).toEqual(loop);
    });
  }
});
