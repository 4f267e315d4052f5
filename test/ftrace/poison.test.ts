/**
 * Ingo Molnar's stack-frame poisoning (src/ftrace/poison.ts): the regparm
 * argument layout checked against gcc's real code, frame sizes from .su
 * and from prologue analysis, findings for uninitialized values reaching
 * calls (-O0 and -O2), none for a clean program, and identical
 * architectural results with and without the poisoner.
 */
import { describe, expect, it } from 'vitest';
import { Ftrace } from '../../src/ftrace/ftrace.js';
import { StackPoisoner, regparmLayout, DEFAULT_POISON, type StackPoisonerOptions } from '../../src/ftrace/poison.js';
import { runChecked } from '../../src/harness/checked-run.js';
import { functionInfoFor } from '../../src/elf/dwarf-info.js';
import { runModule } from '../../src/kernel/module-run.js';
import { installKernelApi } from '../../src/kernel/kapi.js';
import { SS } from '../../src/cpu/instr.js';
import { hasGcc, NO_GCC, ftraceModule, loaded } from './helpers.js';
import type { Finding } from '../../src/shadow/report.js';

void NO_GCC;
const W = (i: number, j: number): number => (0x5e000000 | (i << 8) | j) >>> 0;

describe('regparmLayout (gcc -mregparm=3 rules)', () => {
  const int = { name: null, size: 4, float: false };
  const ll = { name: null, size: 8, float: false };
  const dbl = { name: null, size: 8, float: true };
  const where = (fn: Parameters<typeof regparmLayout>[0]): string[][] =>
    regparmLayout(fn).map((a) => a.words.map((w) => (w.reg >= 0 ? ['eax', 'ecx', 'edx'][w.reg]! : `+${w.stackOffset}`)));
  const f = (params: (typeof int)[], variadic = false, returnsAggregate = false) => ({ params, variadic, returnsAggregate });

  it('three ints in EAX, EDX, ECX, the rest on the stack', () => {
    expect(where(f([int, int, int, int, int]))).toEqual([['eax'], ['edx'], ['ecx'], ['+0'], ['+4']]);
  });
  it('a long long takes a register pair; one that does not fit sends everything after it to the stack', () => {
    expect(where(f([int, ll, int]))).toEqual([['eax'], ['edx', 'ecx'], ['+0']]);
    expect(where(f([ll, int, int]))).toEqual([['eax', 'edx'], ['ecx'], ['+0']]);
    expect(where(f([int, int, ll, int]))).toEqual([['eax'], ['edx'], ['+0', '+4'], ['+8']]);
  });
  it('floating-point arguments go on the stack and use up no register', () => {
    expect(where(f([dbl, int, int, int, int]))).toEqual([['+0', '+4'], ['eax'], ['edx'], ['ecx'], ['+8']]);
  });
  it('variadic: everything on the stack', () => {
    expect(where(f([int, int], true))).toEqual([['+0'], ['+4']]);
  });
  it('a struct return takes EAX for the hidden pointer', () => {
    expect(where(f([int, int, int], false, true))).toEqual([['eax'], ['edx'], ['ecx'], ['+0']]);
  });
});

describe.skipIf(!hasGcc)('regparmLayout against gcc-compiled calls (DWARF parameters, values read at entry)', () => {
  // Per function: the expected word values in layout order (null: not checked, e.g. the double, the hidden pointer).
  const LL = (i: number): number[] => [W(i, 0), W(i, 1)];
  const expected: Record<string, (number | null)[][]> = {
    f_iiii: [[W(0, 0)], [W(1, 0)], [W(2, 0)], [W(3, 0)]],
    f_ili: [[W(0, 0)], LL(1), [W(2, 0)]],
    f_iili: [[W(0, 0)], [W(1, 0)], LL(2), [W(3, 0)]],
    f_li: [LL(0), [W(1, 0)], [W(2, 0)]],
    f_s3i: [[W(0, 0), W(0, 1), W(0, 2)], [W(1, 0)]],
    f_is3i: [[W(0, 0)], [W(1, 0), W(1, 1), W(1, 2)], [W(2, 0)]],
    f_s6i: [[0x0a020a01, null], [W(1, 0)]],
    f_s2iii: [[null], [W(1, 0)], [W(2, 0)], [W(3, 0)]],
    f_dii: [[null, null], [W(1, 0)], [W(2, 0)], [W(3, 0)], [W(4, 0)]],
    f_csii: [[null], [null], [W(2, 0)], [W(3, 0)]],
    f_v: [[W(0, 0)], [W(1, 0)]],
    f_ret: [[null], [W(1, 0)], [W(2, 0)], [W(3, 0)]],
    f_ret8: [[W(0, 0)], [W(1, 0)]],
  };
  for (const opt of ['-O0', '-O2']) {
    it(`${opt}: every argument word is where regparmLayout says`, () => {
      const { k, m, call } = loaded(ftraceModule('ftrace-abi', opt).object);
      const dwarf = functionInfoFor(m.object)!;
      expect(dwarf).not.toBeNull();
      const f = Ftrace.attach(k, m);
      const checked = new Set<string>();
      const narrow: Record<string, number[]> = {};
      f.registerFunction((ip, _parent, cpu) => {
        const name = m.symbolize(ip)!.name;
        const exp = expected[name];
        if (!exp) return;
        const layout = regparmLayout(dwarf.get(ip)!);
        expect(layout.length, name).toBe(exp.length);
        const esp = cpu.segBase[SS]! + cpu.regs[4]!;
        const vals = layout.map((a) => a.words.map((w) => (w.reg >= 0 ? cpu.regs[w.reg]! : k.mem.read32(esp + 8 + w.stackOffset)) >>> 0));
        vals.forEach((ws, i) => ws.forEach((v, j) => {
          const e = exp[i]![j];
          if (e !== null && e !== undefined) expect(v.toString(16), `${name} arg ${i} word ${j}`).toBe(e.toString(16));
        }));
        if (name === 'f_csii') narrow[name] = [vals[0]![0]! & 0xff, vals[1]![0]! & 0xffff];
        if (name === 'f_s2iii') narrow[name] = [vals[0]![0]! & 0xffffff];
        checked.add(name);
      });
      f.enable();
      expect(call('drive').returned).toBe(true);
      expect([...checked].sort()).toEqual(Object.keys(expected).filter((n) => opt !== '-O0' || n !== 'f_dii').sort());
      expect(narrow['f_csii']).toEqual([0x11, 0x2222]);
      expect(narrow['f_s2iii']).toEqual([0x020b01]);
    });
  }
});

/** Attach a poisoner directly and call scenario functions one by one. */
function poisoned(opt: string, extra: StackPoisonerOptions = {}) {
  const c = ftraceModule('ftrace-poison', opt);
  const env = loadedWithApi(c.object);
  const p = StackPoisoner.attach(env.k, env.m, { stackUsage: c.stackUsage, ...extra });
  return { ...env, p };
}

function loadedWithApi(obj: Uint8Array) {
  // ftrace-poison.c calls printk only from init_module; the scenarios need no kernel API.
  return loaded(obj);
}

const names = (f: Finding): (string | null)[] => f.stack.map((s) => s.function);

describe.skipIf(!hasGcc)('StackPoisoner: findings', () => {
  for (const opt of ['-O0', '-O2']) {
    it(`${opt}: an uninitialized local passed to a function (register argument)`, () => {
      const { p, call } = poisoned(opt);
      expect(call('uninit_arg', [1]).returned).toBe(true);
      expect(p.findings).toEqual([]);
      call('uninit_arg', [0]);
      expect(p.findings).toHaveLength(1);
      const f = p.findings[0]!;
      expect(f).toMatchObject({ kind: 'poisoned', region: 'stack', checker: 'ftrace', access: 'read', size: 4, address: 0, function: 'consume' });
      expect(names(f).slice(0, 2)).toEqual(['consume', 'uninit_arg']);
      expect(f.eip).toBe(f.stack[0]!.address);
      expect(f.file).toMatch(/ftrace-poison\.c$/);
      expect(f.stack[1]!.line).toBeGreaterThan(0);
      expect(p.reports[0]).toMatch(/^WARNING: ftrace: poisoned stack value 0xa5a5a5a5 passed as argument 1 \(v\), 4 bytes in EAX, to consume\+0x0\//);
      expect(p.reports[0]).toMatch(/\n \[<[0-9a-f]{8}>\] uninit_arg\+0x[0-9a-f]+\/0x[0-9a-f]+ \[.*ftrace-poison\.c:\d+\]/);
    });

    it(`${opt}: sibling calls — the second reads a slot of the first's dead frame and passes it`, () => {
      const { p, call } = poisoned(opt);
      call('siblings', [9]);
      expect(p.findings).toHaveLength(1);
      expect(p.findings[0]!.function).toBe('consume');
      expect(names(p.findings[0]!).slice(0, 3)).toEqual(['consume', 'reader', 'siblings']);
    });

    it(`${opt}: 64-bit arguments in a register pair and on the stack`, () => {
      const { p, call } = poisoned(opt);
      call('uninit64', [0]);
      call('uninit64s', [0]);
      expect(p.findings.map((f) => [f.function, f.size, f.address === 0 ? 'reg' : 'stack'])).toEqual([
        ['consume64', 8, 'reg'],
        ['consume64s', 8, 'stack'],
      ]);
      expect(p.reports[0]).toMatch(/argument 2 \(v\), 8 bytes in EDX:ECX/);
      const slot = p.findings[1]!.address;
      expect(slot).toBeGreaterThan(0xc0000000);
      expect(p.reports[1]).toContain(`[${slot.toString(16).padStart(8, '0')}]:[`);
      call('uninit64', [1]);
      expect(p.findings).toHaveLength(2);
    });

    it(`${opt}: a variadic function's named argument is on the stack`, () => {
      const { p, call } = poisoned(opt);
      call('uninit_variadic', [0]);
      expect(p.findings).toHaveLength(1);
      expect(p.findings[0]).toMatchObject({ function: 'vconsume', size: 4 });
      expect(p.findings[0]!.address).not.toBe(0);
    });

    it(`${opt}: recursion — the finding's stack follows the shadow return stack`, () => {
      const { p, call } = poisoned(opt);
      const r = call('recurse', [4, 1]);
      expect(r.returned).toBe(true);
      expect(p.findings).toEqual([]);
      call('recurse', [4, 0]);
      expect(p.findings).toHaveLength(1);
      const stack = names(p.findings[0]!);
      expect(stack[0]).toBe('consume');
      const depth = stack.filter((n) => n === 'recurse').length;
      expect(depth).toBeGreaterThanOrEqual(opt === '-O0' ? 5 : 1);
    });
  }

  it('the pattern is configurable', () => {
    const { p, call, k } = poisoned('-O2', { pattern: 0x13572468 });
    call('uninit_arg', [0]);
    expect(p.findings).toHaveLength(1);
    expect(p.reports[0]).toContain('0x13572468');
    // The stack below ESP holds the pattern.
    expect(k.mem.read32(k.cpu.regs[4]! - 64) >>> 0).toBe(0x13572468);
    expect(DEFAULT_POISON).toBe(0xa5a5a5a5);
  });

  it('frame sizes come from .su when given, from prologue analysis otherwise, and the source is recorded', () => {
    for (const opt of ['-O0', '-O2']) {
      const withSu = poisoned(opt);
      const c = ftraceModule('ftrace-poison', opt);
      const noSu = (() => {
        const env = loaded(c.object);
        return { ...env, p: StackPoisoner.attach(env.k, env.m, {}) };
      })();
      for (const env of [withSu, noSu]) {
        env.call('siblings', [3]);
        env.call('uninit64s', [1]);
      }
      const a = withSu.p.frameSources;
      const b = noSu.p.frameSources;
      for (const fn of ['siblings', 'writer', 'reader', 'consume', 'uninit64s', 'maybe_set64', 'consume64s']) {
        expect(a.get(fn)?.source, `${opt} ${fn}`).toBe('su');
        expect(b.get(fn)?.source, `${opt} ${fn}`).toBe('prologue');
        // The prologue's static frame is what gcc reports (both include the return address).
        expect(b.get(fn)?.bytes, `${opt} ${fn}`).toBe(a.get(fn)?.bytes);
      }
      // The same findings either way (sibling: the dead frame is poisoned with either size).
      expect(noSu.p.findings.map((f) => f.function)).toEqual(withSu.p.findings.map((f) => f.function));
      expect(withSu.p.findings.map((f) => f.function)).toEqual(['consume']);
    }
  });
});

describe.skipIf(!hasGcc)('StackPoisoner: module runs', () => {
  const api = (k: Parameters<typeof installKernelApi>[0], io: { console(t: string): void }) => installKernelApi(k, { console: (t) => io.console(t) });

  for (const opt of ['-O0', '-O2']) {
    it(`${opt}: a clean deep call tree finds nothing; results identical to a run without ftrace`, () => {
      const c = ftraceModule('ftrace-clean', opt);
      const plainObj = ftraceModule('ftrace-clean', opt, false).object;
      const plain = runModule(plainObj, { exports: api });
      const nop = runModule(c.object, { exports: api });
      const r = runChecked(c.object, { stack: 'ftrace', stackUsage: c.stackUsage });
      expect(r.error).toBeNull();
      expect(r.findings).toEqual([]);
      expect(r.run!.exitCode).toBe(0);
      expect(r.run!.console).toBe(plain.console);
      expect(r.run!.console).toMatch(/^ftrace-clean: -?\d+\n$/);
      expect(nop.console).toBe(plain.console);
      expect([...r.run!.kernel.cpu.regs]).toEqual([...nop.kernel.cpu.regs]);
      // Tracing changes no instruction count: the NOP and the CALL are one instruction each, natives are not counted.
      expect(r.run!.instructions).toBe(nop.instructions);
      const st = r.checkers.poisoner!.stats;
      expect(st.entries).toBeGreaterThan(100);
      expect(st.returns).toBe(st.entries);
      expect(st.framesPoisoned).toBe(st.entries);
      expect(st.uncheckedEntries).toBe(0);
    });

    it(`${opt}: init_module's scenarios each give one finding; output identical to an untraced run`, () => {
      const c = ftraceModule('ftrace-poison', opt);
      const r = runChecked(c.object, { stack: 'ftrace', stackUsage: c.stackUsage });
      const plain = runModule(c.object, { exports: api });
      expect(r.error).toBeNull();
      expect(r.run!.console).toBe(plain.console);
      expect(r.run!.initReturn).toBe(0);
      expect(r.findings.map((f) => f.function)).toEqual(['consume', 'consume', 'consume64', 'consume64s', 'vconsume', 'consume']);
      expect(r.findings.every((f) => f.stack.some((s) => s.function === 'init_module'))).toBe(true);
      expect(r.reports).toHaveLength(6);
      expect([...r.checkers.poisoner!.frameSources.values()].every((s) => s?.source === 'su')).toBe(true);
      // A plain run through the same runner: no poisoner, no findings.
      const off = runChecked(c.object, { stack: null });
      expect(off.findings).toEqual([]);
      expect(off.run!.console).toBe(plain.console);
    });
  }
});

describe.skipIf(!hasGcc)('StackPoisoner with kmemcheck (--stack ftrace --kmemcheck)', () => {
  it('attaches in a kmemcheck run\'s onLoad; both run, the poisoner finds its six', () => {
    const c = ftraceModule('ftrace-poison', '-O2');
    const r = runChecked(c.object, { heap: 'kmemcheck', stack: 'ftrace', stackUsage: c.stackUsage });
    expect(r.error).toBeNull();
    expect(r.run!.exitCode).toBe(0);
    expect(r.findings.filter((f) => f.checker === 'kmemcheck')).toEqual([]);
    expect(r.checkers.poisoner!.findings).toHaveLength(6);
  });
});
