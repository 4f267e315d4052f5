/**
 * The test projects (vitest.config.ts) run test/cpu three ways: at the
 * default threshold and tier, and with every block compiled at once on the
 * WebAssembly and on the JavaScript tier. This checks that a snippet really
 * runs where its project says: a project whose environment stopped reaching
 * the CPU would pass every other test while checking only the interpreter.
 */
import { describe, expect, it } from 'vitest';
import { runSnippet, CODE_BASE } from '../helpers/asm.js';
import { JIT_THRESHOLD } from '../../src/cpu/jit.js';

const threshold = process.env.KMEMSIM_JIT_THRESHOLD;
const tier = process.env.KMEMSIM_JIT;
const regionThreshold = process.env.KMEMSIM_REGION_THRESHOLD;

describe('the snippet runner follows its test project', () => {
  const { cpu } = runSnippet(`
    mov ecx, 50
  again:
    add eax, ecx
    dec ecx
    jnz again
    hlt
  `);

  it('computes the loop', () => {
    expect(cpu.regs[0]).toBe(1275);
  });

  it('uses the tier of KMEMSIM_JIT (wasm when unset)', () => {
    expect(cpu.jitTier).toBe(tier === 'js' ? 'js' : 'wasm');
  });

  it('compiles at the threshold of KMEMSIM_JIT_THRESHOLD', () => {
    const loop = cpu.cachedBlock((CODE_BASE + 5) >>> 12, (CODE_BASE + 5) & 0xfff);
    expect(loop).toBeDefined();
    if (threshold === undefined || threshold === '') {
      expect(cpu.jitThreshold).toBe(JIT_THRESHOLD);
    } else {
      expect(cpu.jitThreshold).toBe(Number(threshold));
      // 50 executions of the loop's block: past a threshold of 0.
      expect(loop!.compiled).not.toBeNull();
      if (cpu.jitTier === 'wasm') expect(cpu.wasm!.compiled).toBeGreaterThan(0);
    }
  });

  it('promotes blocks to regions at the WebAssembly tier\'s KMEMSIM_REGION_THRESHOLD', () => {
    if (cpu.wasm === null) return;
    expect(cpu.wasm.regionThreshold).toBe(regionThreshold === undefined || regionThreshold === '' ? 100_000 : Number(regionThreshold));
    if (regionThreshold === undefined || regionThreshold === '' || cpu.jitTier !== 'wasm') return;
    // A loop of two blocks (the JZ splits it), each calling the other: promoted after two calls.
    const r = runSnippet(`
      mov ecx, 50
    1:
      test ecx, 1
      jz 2f
      inc eax
    2:
      dec ecx
      jnz 1b
      hlt
    `);
    expect(r.cpu.regs[0]).toBe(25);
    expect(r.cpu.wasm!.promoted).toBeGreaterThan(0);
  });
});
