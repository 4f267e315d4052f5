import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/kernel.js';
import { callGuest, type CallResult } from '../../src/kernel/call.js';
import { loadModule } from '../../src/kernel/module.js';
import { installKernelOops } from '../../src/kernel/module-run.js';
import { installKernelApi } from '../../src/kernel/kapi.js';
import { ExportTable } from '../../src/kernel/exports.js';
import { Vec } from '../../src/cpu/stop.js';
import { compileModule } from '../../src/cli/compile.js';
import { enterRing1, ring0Stack } from '../../src/rings/ring1.js';
import { Cpl1StackTracker, explainStackTripleFault } from '../../src/rings/stack-tracker.js';
import { checkedAccessor } from '../../src/shadow/accessor.js';
import { toFinding } from '../../src/shadow/report.js';
import { assembled, hasAs, hasGcc, MODULES, NO_AS, NO_GCC, runtimeObject } from '../module/helpers.js';
import { join } from 'node:path';

if (!hasAs) console.log(`test/rings/stack-tracker.test.ts: ${NO_AS}`);
if (!hasGcc) console.log(`test/rings/stack-tracker.test.ts: ${NO_GCC}`);

interface Setup {
  k: Kernel;
  t: Cpl1StackTracker | null;
  call(name: string, args?: number[]): CallResult;
  console: string[];
  findings(): ReturnType<typeof toFinding>[];
  sym(a: number): { function: string; offset: number; size: number } | null;
}

function setup(obj: Uint8Array, o: { ring?: 0 | 1; track?: boolean } = {}): Setup {
  const { ring = 1, track = true } = o;
  const k = new Kernel();
  installKernelOops(k, () => null);
  const layout = ring === 1 ? enterRing1(k) : null;
  const t = track ? Cpl1StackTracker.attach(k, layout ?? ring0Stack()) : null;
  const console: string[] = [];
  const api = installKernelApi(k, { console: (s) => console.push(s), memory: t ? checkedAccessor(k, [], [t]) : undefined });
  const m = loadModule(k, obj, { name: 'm', exports: ExportTable.from(api), runtime: runtimeObject() });
  const sym = (a: number) => {
    const s = m.symbolize(a >>> 0) ?? api.symbolize(a >>> 0);
    return s ? { function: s.name, offset: s.offset, size: s.size } : null;
  };
  return {
    k, t, console, sym,
    call: (name, args = []) => callGuest(k, m.lookup(name)!, args, 1_000_000),
    findings: () => (t ? t.recallFindings(sym) : []),
  };
}

/** Callee-saved registers and the result: what a checker must leave unchanged. */
function arch(s: Setup, r: CallResult) {
  const g = s.k.cpu.regs;
  return { returned: r.returned, eax: r.eax, ebx: g[3], esi: g[6], edi: g[7], ebp: g[5], stop: r.stop?.kind ?? null };
}

describe.skipIf(!hasAs)('CPL-1 stack tracker: stack instructions (assembly)', () => {
  const obj = () => assembled('ring1-stack');
  const clean: [string, number[], number][] = [
    ['push_pop', [], 0x1234],
    ['pusha_popa', [], 0x55],
    ['call_ret', [], 6],
    ['enter_leave', [], 3],
    ['iret_same', [], 7],
    ['straddle', [], 0x12345678],
    ['deep_clean', [50], 1275],
    ['printk_arg', [], 7],
  ];
  for (const [fn, args, want] of clean) {
    it(`${fn}: clean, faults on the hidden stack, same result as a plain run`, () => {
      const s = setup(obj());
      const r = s.call(fn, args);
      expect(r.returned).toBe(true);
      expect(r.eax).toBe(want);
      expect(s.findings()).toEqual([]);
      expect(s.t!.stats.faults).toBeGreaterThan(0);
      expect(s.t!.hiding.stats.steps).toBe(s.t!.hiding.stats.faults - s.t!.hiding.stats.extraFaults);
      const plain = setup(obj(), { track: false });
      expect(arch(s, r)).toEqual(arch(plain, plain.call(fn, args)));
    });
  }

  it('PUSHF/POPF: the pushed EFLAGS image is the program\'s (no TF from the single step), IOPL 1', () => {
    const s = setup(obj());
    const r = s.call('pushf_popf');
    const plain = setup(obj(), { track: false }).call('pushf_popf');
    expect(r.eax).toBe(plain.eax);
    expect(r.eax & 0x100).toBe(0);
    expect((r.eax >>> 12) & 3).toBe(1);
    expect(s.findings()).toEqual([]);
  });

  const bad: [string, string, number][] = [
    ['enter_uninit', 'enter_uninit', 4],
    ['pop_uninit', 'pop_uninit', 4],
    ['straddle_uninit', 'straddle_uninit', 4],
    ['sibling_calls', 'read_slot', 4],
  ];
  for (const [fn, where, size] of bad) {
    it(`${fn}: one uninitialized stack read, found in ${where}`, () => {
      const s = setup(obj());
      const r = s.call(fn);
      expect(r.returned).toBe(true);
      const f = s.findings();
      expect(f).toHaveLength(1);
      expect(f[0]).toMatchObject({ kind: 'uninitialized', region: 'stack', checker: 'cpl1', access: 'read', size, function: where });
      const plain = setup(obj(), { track: false });
      expect(arch(s, r)).toEqual(arch(plain, plain.call(fn)));
    });
  }

  it('the access straddling two stack pages is reported at the boundary-2 address, both pages shown for the step', () => {
    const s = setup(obj());
    s.call('straddle_uninit');
    const [f] = s.findings();
    expect((f!.address + 2) % 4096).toBe(0);
    expect(s.t!.hiding.stats.extraFaults).toBe(0);
  });

  it('a native reading an uninitialized stack argument (printk\'s vararg) is a finding attributed to printk', () => {
    const s = setup(obj());
    const r = s.call('printk_uninit_arg');
    expect(r.returned).toBe(true);
    const f = s.findings();
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ kind: 'uninitialized', region: 'stack', checker: 'cpl1', function: 'printk', size: 4 });
    expect(f[0]!.stack.map((x) => x.function)).toContain('printk_uninit_arg');
    expect(s.console.join('')).toMatch(/arg=/);
  });

  it('the text report says stack memory', () => {
    const s = setup(obj());
    s.call('enter_uninit');
    expect(s.t!.recallText()).toMatch(/WARNING: kmemcheck: Caught 32-bit read from uninitialized stack memory/);
  });

  it('the ring-1 layout never double-faults: many calls, the ring-0 stack switch every time', () => {
    const s = setup(obj());
    const events: { vector: number; cplBefore: number; cplAfter: number; esp: number }[] = [];
    s.k.cpu.observer = { onException: (e) => events.push({ vector: e.vector, cplBefore: e.cplBefore, cplAfter: e.cplAfter, esp: e.newStack[1] >>> 0 }) };
    s.call('deep_clean', [3]);
    const top = ring0Stack().stackHigh;
    expect(events.some((e) => e.vector === Vec.PF)).toBe(true);
    expect(events.some((e) => e.vector === Vec.DB)).toBe(true);
    for (const e of events) {
      // Every #PF and #DB from CPL 1 went to CPL 0 on the TSS's SS0:ESP0 stack: a 5-dword frame (6 with an error code).
      expect([e.cplBefore, e.cplAfter]).toEqual([1, 0]);
      expect(top - e.esp).toBe(e.vector === Vec.PF ? 24 : 20);
    }
    s.k.cpu.observer = null;
    for (let i = 0; i < 20; i++) expect(s.call('deep_clean', [10]).eax).toBe(55);
    expect(s.findings()).toEqual([]);
  });
});

describe.skipIf(!hasAs)('CPL-1 stack tracker with the kernel at ring 0: the double fault', () => {
  it('the first stack access raises #PF, its frame cannot be pushed onto the hidden stack: #DF, then triple fault', () => {
    const s = setup(assembled('ring1-stack'), { ring: 0 });
    const r = s.call('push_pop');
    expect(r.returned).toBe(false);
    expect(r.stop?.kind).toBe('triple-fault');
    const chain = r.stop!.kind === 'triple-fault' ? r.stop!.chain.map((c) => c.vector) : [];
    expect(chain.slice(0, 2)).toEqual([Vec.PF, Vec.DF]);
    const msg = explainStackTripleFault(r.stop, ring0Stack());
    expect(msg).toMatch(/^triple fault: #PF page fault → #DF double fault/);
    expect(msg).toMatch(/no privilege change, so no stack switch/);
    expect(msg).toMatch(/--kernel-ring 1/);
    expect(explainStackTripleFault({ kind: 'halted' })).toBeNull();
  });
});

describe.skipIf(!hasGcc)('CPL-1 stack tracker on compiled C', () => {
  const build = (opt: string) => compileModule(join(MODULES, 'ring1-uninit.c'), { cflags: [opt] }).object;

  it('-O0: `int x; if (arg) x = 1; return x;` reads x uninitialized when arg is 0, not when it is 1', () => {
    const s = setup(build('-O0'));
    expect(s.call('maybe', [1]).eax).toBe(1);
    expect(s.findings()).toEqual([]);
    s.call('maybe', [0]);
    const f = s.findings();
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ kind: 'uninitialized', region: 'stack', function: 'maybe', size: 4 });
  });

  it('-O2: gcc folds the function to `return 1` (x never reaches memory): nothing to find on the stack', () => {
    const s = setup(build('-O2'));
    expect(s.call('maybe', [0]).eax).toBe(1);
    expect(s.findings()).toEqual([]);
  });

  for (const opt of ['-O0', '-O2']) {
    it(`${opt}: a clean function using kmalloc, snprintf into a local buffer, memcpy, printk, kfree: no findings, same output as a plain run at CPL 0`, () => {
      const s = setup(build(opt));
      const r = s.call('clean', [3]);
      expect(r.returned).toBe(true);
      expect(r.eax).toBe(84);
      expect(s.findings()).toEqual([]);
      const plain = setup(build(opt), { ring: 0, track: false });
      const p = plain.call('clean', [3]);
      expect(arch(s, r)).toEqual(arch(plain, p));
      expect(s.console.join('')).toBe(plain.console.join(''));
      expect(s.console.join('')).toMatch(/sum=84 sum=84/);
    });
  }

  for (const opt of ['-O0', '-O2']) {
    it(`${opt}: sibling calls, the second reading its uninitialized local from the first one's dead frame`, () => {
      const s = setup(build(opt));
      const r = s.call('siblings');
      const plain = setup(build(opt), { track: false });
      const p = plain.call('siblings');
      expect(arch(s, r)).toEqual(arch(plain, p));
      // The stale value, as on hardware: set_slot's local at -O0; at -O2 gcc tail-calls read_slot (JMP), so its
      // local lands on the dead return address of `call set_slot` instead — dead all the same.
      if (opt === '-O0') expect(r.eax).toBe(0x77);
      const f = s.findings();
      expect(f).toHaveLength(1);
      expect(f[0]).toMatchObject({ kind: 'uninitialized', region: 'stack', function: 'read_slot' });
    });
  }

  it('-O0: an uninitialized local passed to printk is found where the caller loads it', () => {
    const s = setup(build('-O0'));
    s.call('pass_uninit');
    const f = s.findings();
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ function: 'pass_uninit', region: 'stack' });
  });
});

describe.skipIf(!hasAs)('CPL-1 stack tracker and the #GP emulation', () => {
  it('LGDT/LIDT of a descriptor pointer SGDT/SIDT stored in a local on the hidden stack: emulated, clean', () => {
    const s = setup(assembled('ring1-priv'));
    const limit = s.k.cpu.gdtrLimit;
    const r = s.call('reload_gdt_idt');
    expect(r.returned).toBe(true);
    expect(r.eax).toBe(limit);
    expect(s.findings()).toEqual([]);
  });

  it('LGDT of an uninitialized stack operand is a finding at the LGDT (the emulation reads it for the guest)', () => {
    const s = setup(assembled('ring1-priv'));
    const cpu = s.k.cpu;
    // A valid GDTR image below the stack top, put there behind the tracker's back (shadow: uninitialized).
    const at = (s.t!.high - 64) | 0;
    const img = new Uint8Array(6);
    new DataView(img.buffer).setUint16(0, cpu.gdtrLimit, true);
    new DataView(img.buffer).setUint32(2, cpu.gdtrBase >>> 0, true);
    expect(s.t!.hiding.poke(at, img)).toBe(true);
    const r = s.call('lgdt_at', [at]);
    expect(r.returned).toBe(true);
    const f = s.findings();
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ function: 'lgdt_at', region: 'stack', size: 2, address: at >>> 0 });
  });
});
