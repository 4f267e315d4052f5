/**
 * The guest runtime (guest/runtime/, built into build/runtime/runtime.o):
 * each function called from the host with callGuest against a JavaScript
 * reference, over sizes and alignments; memcpy/memset use REP MOVS/STOS
 * (checked in the decoded object and by the instruction count), memmove
 * handles overlap both ways.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kernel } from '../../src/kernel/kernel.js';
import { loadObject, type LoadedObject } from '../../src/kernel/module.js';
import { callGuest } from '../../src/kernel/call.js';
import { disassembleFile } from '../../src/cli/disasm-command.js';
import { MODULE_CFLAGS } from '../../src/cli/compile.js';
import { hasGcc, kernelBuffer, kernelString, NO_GCC, ROOT, runtimeObject } from './helpers.js';

if (!hasGcc) console.log(`test/module/runtime.test.ts: ${NO_GCC}; the guest runtime is not built`);

describe.skipIf(!hasGcc)('guest runtime', () => {
  let k: Kernel;
  let rt: LoadedObject;
  let buf: number;
  const SIZE = 3 * 4096;
  const fn = (name: string): number => {
    const a = rt.globals.get(name);
    if (a === undefined) throw new Error(`runtime has no ${name}`);
    return a;
  };
  const call = (name: string, ...args: number[]): { eax: number; value: number; instructions: number } => {
    const r = callGuest(k, fn(name), args, 10_000_000);
    if (!r.returned) throw new Error(`${name} did not return: ${JSON.stringify(r.stop)}`);
    // The ABI: DF is clear again after every call.
    expect(k.cpu.getEflags() & 0x400).toBe(0);
    return r;
  };
  /** Deterministic pattern bytes. */
  const pattern = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 17 + 7) & 0xff);

  beforeAll(() => {
    k = new Kernel();
    rt = loadObject(k, runtimeObject(), { name: 'runtime' });
    buf = kernelBuffer(k, SIZE);
  });

  it('exports exactly the documented functions', () => {
    expect([...rt.globals.keys()].sort()).toEqual(
      ['memcpy', 'memmove', 'memset', 'strchr', 'strcmp', 'strcpy', 'strlen', 'strncmp', 'strncpy'],
    );
  });

  it('memcpy and memset are built on REP MOVS / REP STOS like i386 Linux\'s __memcpy/__memset', () => {
    const bytes = runtimeObject();
    const memcpy = disassembleFile(bytes, 'memcpy').text;
    expect(memcpy).toMatch(/\trep movsd\n/);
    expect(memcpy).toMatch(/\trep movsb\n/);
    const memset = disassembleFile(bytes, 'memset').text;
    expect(memset).toMatch(/\trep stosd\n/);
    expect(memset).toMatch(/\trep stosb\n/);
    const memmove = disassembleFile(bytes, 'memmove').text;
    expect(memmove).toMatch(/\tstd\n[^]*\trep movsb\n[^]*\tcld\n/);
    // And they run that way: 8 KiB in a few dozen instructions, not thousands.
    k.mem.write(buf + 4096, pattern(8192, 3));
    const r = call('memcpy', buf, buf + 4096, 8000);
    expect(r.instructions).toBeLessThan(40);
    expect(call('memset', buf, 0xab, 8000).instructions).toBeLessThan(40);
  });

  it('memcpy copies every size and alignment exactly and returns the destination', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 64, 100, 255, 1000, 4099]) {
      for (const da of [0, 1, 2, 3]) {
        for (const sa of [0, 3]) {
          const src = buf + 6000 + sa;
          const dst = buf + da;
          const data = pattern(n, n + da);
          k.mem.write(buf, new Uint8Array(5000).fill(0xee));
          k.mem.write(src, data);
          const r = call('memcpy', dst, src, n);
          expect(r.eax).toBe(dst);
          expect(k.mem.read(dst, n)).toEqual(data);
          // Nothing around the destination changed.
          if (da > 0) expect(k.mem.read(dst - 1, 1)[0]).toBe(0xee);
          expect(k.mem.read(dst + n, 1)[0]).toBe(0xee);
        }
      }
    }
  });

  it('memset fills with the low byte of c, any size and alignment', () => {
    for (const n of [0, 1, 3, 4, 5, 8, 13, 64, 1001]) {
      for (const a of [0, 1, 2, 3]) {
        k.mem.write(buf, new Uint8Array(1100).fill(0x11));
        const r = call('memset', buf + a, 0x3c5, n);
        expect(r.eax).toBe(buf + a);
        expect([...k.mem.read(buf + a, n)].every((b) => b === 0xc5)).toBe(true);
        expect(k.mem.read(buf + a + n, 1)[0]).toBe(0x11);
        if (a > 0) expect(k.mem.read(buf + a - 1, 1)[0]).toBe(0x11);
      }
    }
  });

  it('memmove handles overlap in both directions, equal pointers and zero length', () => {
    for (const n of [0, 1, 4, 9, 100, 777]) {
      for (const shift of [-9, -4, -1, 0, 1, 3, 4, 64]) {
        const base = pattern(2000, n + shift + 100);
        k.mem.write(buf, base);
        const src = buf + 500;
        const dst = src + shift;
        const expected = base.slice();
        expected.copyWithin(500 + shift, 500, 500 + n); // copyWithin is memmove
        const r = call('memmove', dst, src, n);
        expect(r.eax).toBe(dst);
        expect(k.mem.read(buf, 2000)).toEqual(expected);
      }
    }
  });

  it('strlen, strcmp, strncmp', () => {
    for (const s of ['', 'a', 'kmemsim', 'x'.repeat(300)]) expect(call('strlen', kernelString(k, s)).eax).toBe(s.length);
    const cmp = (a: string, b: string): number => call('strcmp', kernelString(k, a), kernelString(k, b)).value;
    expect(cmp('abc', 'abc')).toBe(0);
    expect(cmp('abc', 'abd')).toBeLessThan(0);
    expect(cmp('abd', 'abc')).toBeGreaterThan(0);
    expect(cmp('ab', 'abc')).toBeLessThan(0);
    expect(cmp('abc', 'ab')).toBeGreaterThan(0);
    expect(cmp('', '')).toBe(0);
    expect(cmp('\xff', 'a')).toBeGreaterThan(0); // compared as unsigned char, as C requires
    const ncmp = (a: string, b: string, n: number): number => call('strncmp', kernelString(k, a), kernelString(k, b), n).value;
    expect(ncmp('abcX', 'abcY', 3)).toBe(0);
    expect(ncmp('abcX', 'abcY', 4)).toBeLessThan(0);
    expect(ncmp('abc', 'abc', 100)).toBe(0);
    expect(ncmp('a', 'b', 0)).toBe(0);
    expect(ncmp('\x80', '\x7f', 1)).toBeGreaterThan(0);
  });

  it('strcpy, strncpy (NUL padding, no terminator when the source is too long), strchr', () => {
    k.mem.write(buf, new Uint8Array(64).fill(0x55));
    expect(call('strcpy', buf, kernelString(k, 'hello')).eax).toBe(buf);
    expect([...k.mem.read(buf, 7)]).toEqual([...Buffer.from('hello\0'), 0x55]);

    k.mem.write(buf, new Uint8Array(64).fill(0x55));
    expect(call('strncpy', buf, kernelString(k, 'hi'), 6).eax).toBe(buf);
    expect([...k.mem.read(buf, 7)]).toEqual([...Buffer.from('hi\0\0\0\0'), 0x55]);
    k.mem.write(buf, new Uint8Array(64).fill(0x55));
    call('strncpy', buf, kernelString(k, 'toolong'), 4);
    expect([...k.mem.read(buf, 5)]).toEqual([...Buffer.from('tool'), 0x55]);

    const s = kernelString(k, 'kmemcheck');
    expect(call('strchr', s, 'c'.charCodeAt(0)).eax).toBe(s + 4);
    expect(call('strchr', s, 'k'.charCodeAt(0)).eax).toBe(s);
    expect(call('strchr', s, 'z'.charCodeAt(0)).eax).toBe(0);
    expect(call('strchr', s, 0).eax).toBe(s + 9); // the terminator counts
    expect(call('strchr', s, 0x100 + 'm'.charCodeAt(0)).eax).toBe(s + 1); // c converted to char
  });

  it('is built with the same flags as `kmemsim run mod.c` (scripts/build-guests.mjs imports MODULE_CFLAGS, no copy of its own)', () => {
    const script = readFileSync(join(ROOT, 'scripts/build-guests.mjs'), 'utf8');
    expect(script).not.toMatch(/const MODULE_CFLAGS = \[/);
    expect(script).toMatch(/const \{ MODULE_CFLAGS \} = await import\(pathToFileURL\(COMPILE_JS\)\.href\)/);
    expect(script).toContain("join(ROOT, 'dist/cli/compile.js')");
  });

  it('uses Linux i386 kernel code generation: -msoft-float -freg-struct-return -mpreferred-stack-boundary=2 (arch/x86/Makefile)', () => {
    for (const f of ['-mregparm=3', '-msoft-float', '-freg-struct-return', '-mpreferred-stack-boundary=2', '-mno-sse', '-mno-mmx', '-ffreestanding', '-fno-pic']) {
      expect(MODULE_CFLAGS).toContain(f);
    }
  });
});
