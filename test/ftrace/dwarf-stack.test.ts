/**
 * The poisoner's inputs: function parameters from .debug_info
 * (src/elf/dwarf-info.ts, DWARF 5 and 4), .su parsing and prologue
 * analysis (src/ftrace/stack-usage.ts).
 */
import { describe, expect, it } from 'vitest';
import { functionInfoFor } from '../../src/elf/dwarf-info.js';
import { analyzePrologue, parseStackUsage } from '../../src/ftrace/stack-usage.js';
import { hasGcc, ftraceModule, loaded } from './helpers.js';

describe.skipIf(!hasGcc)('dwarf-info: parameters of each function', () => {
  for (const dwarf of ['-gdwarf-5', '-gdwarf-4']) {
    it(`${dwarf}: names, sizes, float, variadic and struct returns, keyed by load address`, () => {
      const { m, fn } = loaded(ftraceModule('ftrace-abi', dwarf).object);
      const info = functionInfoFor(m.object)!;
      expect(info).not.toBeNull();
      const of = (name: string) => {
        const f = info.get(fn(name))!;
        expect(f.name).toBe(name);
        return { sizes: f.params.map((p) => (p.float ? `f${p.size}` : p.size)), variadic: f.variadic, agg: f.returnsAggregate };
      };
      expect(of('f_iiii')).toEqual({ sizes: [4, 4, 4, 4], variadic: false, agg: false });
      expect(of('f_ili')).toEqual({ sizes: [4, 8, 4], variadic: false, agg: false });
      expect(of('f_s3i')).toEqual({ sizes: [12, 4], variadic: false, agg: false });
      expect(of('f_s6i')).toEqual({ sizes: [6, 4], variadic: false, agg: false });
      expect(of('f_dii')).toEqual({ sizes: ['f8', 4, 4, 4, 4], variadic: false, agg: false });
      expect(of('f_csii')).toEqual({ sizes: [1, 2, 4, 4], variadic: false, agg: false });
      expect(of('f_v')).toEqual({ sizes: [4, 4], variadic: true, agg: false });
      expect(of('f_ret')).toEqual({ sizes: [4, 4, 4], variadic: false, agg: true });
      expect(of('f_ret8')).toEqual({ sizes: [4, 4], variadic: false, agg: false }); // EDX:EAX under -freg-struct-return
      expect(of('drive')).toEqual({ sizes: [], variadic: false, agg: false });
      expect(info.get(fn('f_ili'))!.params.map((p) => p.name)).toEqual(['a', 'b', 'c']);
      const d = info.get(fn('drive'))!;
      expect(d.highPc).toBe(fn('drive') + m.object.symbolize(fn('drive'))!.size);
    });
  }

  it('an object without -g has no function info', () => {
    const { m } = loaded(ftraceModule('ftrace-abi', '-g0').object);
    expect(functionInfoFor(m.object)).toBeNull();
  });
});

describe('stack-usage: .su parsing', () => {
  it('reads file:line:col:name, bytes and qualifiers; skips junk', () => {
    const su = parseStackUsage('/a/b.c:10:14:leaf\t4\tstatic\nc:\\x.c:3:1:dyn\t40\tdynamic,bounded\ngarbage\n/a/b.c:12:5:leaf\t99\tstatic\n');
    expect(su.get('leaf')).toEqual({ file: '/a/b.c', line: 10, column: 14, function: 'leaf', bytes: 4, qualifiers: ['static'] });
    expect(su.get('dyn')).toMatchObject({ file: 'c:\\x.c', bytes: 40, qualifiers: ['dynamic', 'bounded'] });
    expect(su.size).toBe(2);
  });
});

describe('stack-usage: prologue analysis', () => {
  const nop5 = [0x0f, 0x1f, 0x44, 0x00, 0x00];
  const call5 = [0xe8, 0x10, 0x20, 0x30, 0x40];
  const at = (bytes: number[]) => analyzePrologue(Uint8Array.from(bytes));
  it('a frameless leaf: the return address only', () => {
    expect(at([...nop5, 0x8b, 0x44, 0x24, 0x04, 0xc3])).toMatchObject({ bytes: 4, length: 5, complete: true });
  });
  it('-O0: push %ebp; mov %esp,%ebp; push %ebx; sub $0x14,%esp', () => {
    expect(at([...call5, 0x55, 0x89, 0xe5, 0x53, 0x83, 0xec, 0x14, 0x8b, 0x45, 0x08])).toMatchObject({ bytes: 4 + 4 + 4 + 0x14, length: 12 });
  });
  it('-O2: sub $0x10,%esp then a register save into the frame', () => {
    expect(at([...nop5, 0x83, 0xec, 0x2c, 0x89, 0x5c, 0x24, 0x28, 0x31, 0xc9])).toMatchObject({ bytes: 4 + 0x2c, length: 12 });
  });
  it('sub $imm32, lea -N(%esp),%esp, enter, and $-16,%esp', () => {
    expect(at([0x81, 0xec, 0x00, 0x10, 0x00, 0x00, 0x90]).bytes).toBe(4 + 0x1000);
    expect(at([0x8d, 0x64, 0x24, 0xf0, 0x90]).bytes).toBe(4 + 16);
    expect(at([0xc8, 0x20, 0x00, 0x00, 0x90]).bytes).toBe(4 + 4 + 0x20);
    expect(at([0x55, 0x89, 0xe5, 0x83, 0xe4, 0xf0, 0x90]).bytes).toBe(4 + 4 + 12);
  });
  it('runs out of bytes: incomplete', () => {
    expect(at([0x55, 0x53])).toMatchObject({ bytes: 12, complete: false });
  });
});
