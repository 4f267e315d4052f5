/**
 * Released RAM is reused (src/cpu/memory.ts `pool`, CPU.release,
 * CheckedRunResult.release): the next PhysicalMemory of the same size and
 * kind gets the very same buffer back, every byte of RAM and of the
 * WebAssembly tier's state area zero again — which holds only if every
 * write path marks its frame written (the memory unit's own stores, the
 * CPU's write TLB fills, CPU.writePhys). A checked run on recycled memory
 * reports exactly what a run on fresh memory reports.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { PhysicalMemory, POOL_LIMIT, pooledMemories } from '../../src/cpu/memory.js';
import { runBytes } from '../helpers/asm.js';
import { STATE_BYTES } from '../../src/cpu/wasm/state.js';
import { compileModule } from '../../src/cli/compile.js';
import { runChecked, type CheckedRunResult } from '../../src/harness/checked-run.js';
import { hasGcc, NO_GCC, ROOT } from '../module/helpers.js';

if (!hasGcc) console.log(`test/cpu/memory-pool.test.ts: ${NO_GCC}`);

/** The first non-zero byte of `u8`, or -1. */
function firstNonZero(u8: Uint8Array): number {
  const w = new Int32Array(u8.buffer, u8.byteOffset, u8.byteLength >>> 2);
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) return i * 4 + u8.subarray(i * 4, i * 4 + 4).findIndex((b) => b !== 0);
  return -1;
}

/** Empty the pool (other tests in this worker may have released machines). */
function drainPool(): void {
  const held: PhysicalMemory[] = [];
  while (pooledMemories() > 0) {
    const before = pooledMemories();
    // Each size and kind in the pool is taken by a memory of that size: try the sizes the tests use.
    for (const size of [1 << 20, 64 << 20, 128 << 20]) for (const wasm of [true, false]) if (pooledMemories() > 0) held.push(new PhysicalMemory(size, wasm));
    if (pooledMemories() === before) break;
  }
}

afterEach(drainPool);

describe('the RAM pool', () => {
  it('gives a released buffer to the next memory of its size and kind, zeroed, and keeps at most POOL_LIMIT', () => {
    drainPool();
    for (const wasm of [false, true]) {
      const a = new PhysicalMemory(1 << 20, wasm);
      a.write32(0x1000, 0x12345678);
      a.write8(0xfffff, 0xaa);
      a.write16(0x7ffff, 0xbeef); // straddles two frames
      const buf = a.u8.buffer;
      a.release();
      a.release(); // a second call does nothing
      expect(pooledMemories()).toBe(1);
      expect(new PhysicalMemory(2 << 20, wasm).u8.buffer).not.toBe(buf); // another size: a fresh buffer
      const b = new PhysicalMemory(1 << 20, wasm);
      expect(b.u8.buffer).toBe(buf);
      expect(pooledMemories()).toBe(0);
      expect(firstNonZero(b.u8)).toBe(-1);
    }
    const mems = Array.from({ length: POOL_LIMIT + 2 }, () => new PhysicalMemory(1 << 20, false));
    for (const m of mems) m.release();
    expect(pooledMemories()).toBe(POOL_LIMIT);
  });

  it('zeroes what guest code stored through the write TLB (REP STOSD) and the state area (TLBs, slots, chaining cache)', () => {
    drainPool();
    // rep stosd; hlt — 36 KiB from 0x40000: the string fast path stores straight into RAM through its write translation.
    const { cpu, stop } = runBytes([0xf3, 0xab, 0xf4], (c) => {
      c.regs[0] = 0x01010101;
      c.regs[7] = 0x40000;
      c.regs[1] = 0x2400;
    });
    expect(stop?.kind).toBe('halted');
    expect(cpu.read32(0x48ffc)).toBe(0x01010101);
    const mem = cpu.mem;
    const buffer = mem.u8.buffer;
    const end = mem.wasm !== null ? mem.size + STATE_BYTES : mem.size;
    if (mem.wasm !== null) expect(firstNonZero(new Uint8Array(buffer, mem.size, STATE_BYTES))).toBeGreaterThanOrEqual(0);
    cpu.release();
    expect(() => cpu.run(10)).toThrow(/released/);
    const next = new PhysicalMemory(mem.size, mem.wasm !== null);
    expect(next.u8.buffer).toBe(buffer);
    expect(firstNonZero(new Uint8Array(buffer, 0, end))).toBe(-1);
  });
});

describe.skipIf(!hasGcc)('a checked run on recycled memory', () => {
  const object = hasGcc ? compileModule(join(ROOT, 'examples/kmemcheck/bitfield.c')).object : new Uint8Array(0);
  const essence = (r: CheckedRunResult) => ({
    console: r.run?.console,
    instructions: r.run?.instructions,
    exitCode: r.run?.exitCode,
    reports: r.reports,
    summary: r.summary,
  });

  it('reports what a run on fresh memory reports, and leaves every byte it wrote zero again', () => {
    drainPool();
    for (const heap of ['kmemcheck', 'inline'] as const) {
      const fresh = runChecked(object, { heap, name: 'bitfield' });
      expect(fresh.error).toBeNull();
      expect(fresh.findings.length).toBeGreaterThan(0);
      const size = fresh.run!.kernel.cpu.mem.size;
      const buffer = fresh.run!.kernel.cpu.mem8.buffer;
      fresh.release();
      // What the run left behind, seen through the pooled buffer: nothing.
      const probe = new PhysicalMemory(size);
      expect(probe.u8.buffer).toBe(buffer);
      expect(firstNonZero(new Uint8Array(buffer, 0, probe.wasm ? size + STATE_BYTES : size))).toBe(-1);
      probe.release();
      const again = runChecked(object, { heap, name: 'bitfield' });
      expect(again.run!.kernel.cpu.mem8.buffer).toBe(buffer);
      expect(essence(again)).toEqual(essence(fresh));
      again.release();
    }
  });
});
