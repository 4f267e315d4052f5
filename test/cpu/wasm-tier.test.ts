/**
 * The WebAssembly tier of the block compiler (src/cpu/wasm/) against the
 * interpreter and the JavaScript tier: the same snippet run never compiled,
 * compiled to JavaScript and compiled to WebAssembly (every block from its
 * first execution, chained by the driver) must end in the same registers,
 * flags, memory, retired-instruction count and stop — with a fault in the
 * middle of a chained block, self-modifying code, and every budget.
 * (The whole of test/cpu runs on this tier with KMEMSIM_JIT=wasm
 * KMEMSIM_JIT_THRESHOLD=0; see README "The block compiler".)
 */
import { describe, expect, it } from 'vitest';
import { CPU } from '../../src/cpu/cpu.js';
import { PhysicalMemory } from '../../src/cpu/memory.js';
import { assemble, readBytes, CODE_BASE, DATA, STACK_TOP } from '../helpers/asm.js';

type Tier = 'interpreted' | 'js' | 'wasm';

/** `threshold`: executions before a block is compiled (0: at once, so a region holds only the blocks decoded before it); `regions` off: one block per function. */
interface TierOptions {
  threshold?: number;
  regions?: boolean;
}

function runOn(tier: Tier, code: Uint8Array, budget: number, setup?: (cpu: CPU) => void, opts: TierOptions = {}) {
  const cpu = new CPU({ memory: new PhysicalMemory(1 << 20, tier === 'wasm') });
  cpu.writePhys(CODE_BASE, code);
  cpu.eip = CODE_BASE;
  cpu.regs[4] = STACK_TOP;
  cpu.jitThreshold = tier === 'interpreted' ? Infinity : opts.threshold ?? 0;
  cpu.jitTier = tier === 'wasm' ? 'wasm' : 'js';
  if (cpu.wasm !== null && opts.regions !== undefined) cpu.wasm.regions = opts.regions;
  setup?.(cpu);
  const stop = cpu.run(budget);
  return {
    cpu,
    state: { stop, regs: Array.from(cpu.regs), eip: cpu.eip, eflags: cpu.getEflags(), icount: cpu.icount, data: Array.from(readBytes(cpu, DATA, 64)) },
  };
}

/** The three runs' states; the WebAssembly run must really have compiled blocks. */
function allTiers(src: string, budget = 200_000, setup?: (cpu: CPU) => void, opts: TierOptions = {}) {
  const code = assemble(src);
  const interpreted = runOn('interpreted', code, budget, setup).state;
  const js = runOn('js', code, budget, setup, opts).state;
  const w = runOn('wasm', code, budget, setup, opts);
  expect(w.cpu.wasm).not.toBeNull();
  expect(w.cpu.wasm!.compiled).toBeGreaterThan(0);
  return { interpreted, js, wasm: w.state, regionBlocks: w.cpu.wasm!.regionBlocks };
}

/** Compiled after three executions: the loops' blocks are decoded by then, so the regions hold several blocks. */
const REGIONS = { threshold: 3 };

// Calls, returns, the ALU at three sizes with the flags read by Jcc/SETcc/CMOVcc/ADC, shifts, IMUL, string ops and an executor (DIV).
const WORKLOAD = `
  mov ecx, 300
  mov ebx, ${DATA}
  xor esi, esi
1:
  mov eax, ecx
  imul eax, eax, 7
  add esi, eax
  adc edi, 0
  mov edx, ecx
  shl edx, 3
  sar edx, 1
  shrd esi, edx, 5
  xor [ebx], esi
  add byte ptr [ebx + 8], cl
  sub word ptr [ebx + 12], cx
  inc dword ptr [ebx + 16]
  neg edx
  not edx
  cmp edx, esi
  setl al
  cmovg edx, esi
  mov [ebx + 20], al
  test cl, 3
  jz 2f
  call 3f
2:
  push ecx
  mov eax, 100000
  xor edx, edx
  div ecx
  pop ecx
  mov [ebx + 24], eax
  lea edi, [ebx + 32]
  stosd
  movsx eax, byte ptr [ebx + 8]
  movzx edx, word ptr [ebx + 12]
  dec ecx
  jnz 1b
  hlt
3:
  add dword ptr [ebx + 28], 1
  ret
`;

describe('WebAssembly tier (src/cpu/wasm) agrees with the interpreter and the JavaScript tier', () => {
  it('a loop of calls, ALU, flags, shifts, IMUL, string ops and an executor call', () => {
    const r = allTiers(WORKLOAD);
    expect(r.interpreted.stop).toEqual({ kind: 'halted' });
    expect(r.wasm).toEqual(r.interpreted);
    expect(r.js).toEqual(r.interpreted);
  });

  it('stops after exactly the budget, whatever the budget (chained blocks and self-loops included)', () => {
    const code = assemble(WORKLOAD);
    for (const budget of [1, 2, 3, 7, 19, 20, 21, 64, 100, 333, 1000, 4097]) {
      const interpreted = runOn('interpreted', code, budget).state;
      const wasm = runOn('wasm', code, budget).state;
      expect(wasm, `budget ${budget}`).toEqual(interpreted);
      expect(wasm.icount).toBe(budget);
    }
  });

  it('a fault in the middle of a chained block is delivered at the faulting instruction, with the same count and registers', () => {
    // DIV by a counter that reaches zero on iteration 500, after a CALL into another block: #DE with no IDT stops the machine.
    const r = allTiers(`
      mov ecx, 500
      mov ebx, ${DATA}
    1:
      call 2f
      mov eax, 1000
      xor edx, edx
      lea esi, [ecx - 1]
      add [ebx + 4], esi
      div esi
      mov [ebx], eax
      dec ecx
      jmp 1b
    2:
      inc dword ptr [ebx + 8]
      ret
    `);
    expect(r.interpreted.stop).toMatchObject({ kind: 'fault', vector: 0 });
    expect(r.wasm).toEqual(r.interpreted);
  });

  it('code written by a compiled block takes effect at once (self-modifying code)', () => {
    // The loop patches the immediate of the "add eax, imm32" it runs next.
    const r = allTiers(`
      mov ecx, 200
      xor eax, eax
    1:
      mov [2f + 1], ecx
    2:
      add eax, 0x11111111
      dec ecx
      jnz 1b
      hlt
    `);
    expect(r.interpreted.stop).toEqual({ kind: 'halted' });
    expect(r.wasm).toEqual(r.interpreted);
    // Sum of 1..200: every ADD saw the value its iteration wrote.
    expect(r.wasm.regs[0]).toBe(20100);
  });

  it('regions: a loop across two blocks runs inside one function (the blocks after it too), as interpreted', () => {
    // The JZ in the middle splits the loop into two blocks; the loop's JNZ goes back to the first.
    const src = `
      mov ecx, 1000
      mov ebx, ${DATA}
    1:
      mov eax, ecx
      and eax, 7
      add [ebx], eax
      test ecx, 3
      jz 2f
      add dword ptr [ebx + 4], 3
      adc edi, ecx
    2:
      sub dword ptr [ebx + 8], 1
      sbb esi, 0
      dec ecx
      jnz 1b
      hlt
    `;
    const r = allTiers(src, 200_000, undefined, REGIONS);
    expect(r.interpreted.stop).toEqual({ kind: 'halted' });
    expect(r.regionBlocks).toBeGreaterThan(0);
    expect(r.wasm).toEqual(r.interpreted);
    expect(r.js).toEqual(r.interpreted);
    const single = runOn('wasm', assemble(src), 200_000, undefined, { ...REGIONS, regions: false });
    expect(single.cpu.wasm!.regionBlocks).toBe(0);
    expect(single.state).toEqual(r.interpreted);
  });

  it('regions: a fault in the second block of a region is delivered at the faulting instruction', () => {
    // A block runs on past a Jcc (decodeBlock), so the JNZ's target starts a second block, which the
    // first one's region holds. DIV by a counter that reaches zero on an odd ECX, where the JNZ is
    // taken: #DE (no IDT) stops the machine in the region's second block.
    const r = allTiers(`
      mov ecx, 301
      mov ebx, ${DATA}
    1:
      add dword ptr [ebx + 4], 5
      test ecx, 1
      jnz 2f
      add dword ptr [ebx + 12], ecx
    2:
      mov eax, 1000
      xor edx, edx
      lea esi, [ecx - 1]
      add [ebx + 8], esi
      div esi
      mov [ebx], eax
      dec ecx
      jnz 1b
      hlt
    `, 200_000, undefined, REGIONS);
    expect(r.interpreted.stop).toMatchObject({ kind: 'fault', vector: 0 });
    expect(r.regionBlocks).toBeGreaterThan(0);
    expect(r.wasm).toEqual(r.interpreted);
  });

  it('regions: code written into a later block of the region takes effect at once', () => {
    // The loop's first block, compiled with the JNZ's target (the region's second block), writes
    // once, at ECX = 100 (through CMOVE), the immediate of that block's ADD.
    const r = allTiers(`
      mov ecx, 200
      xor eax, eax
      mov ebx, ${DATA}
      lea esi, [3f + 1]
    1:
      lea edi, [ebx + 40]
      cmp ecx, 100
      cmove edi, esi
      mov [edi], ecx
      test ecx, 1
      jnz 3f
      inc edx
    3:
      add eax, 0x11111111
      dec ecx
      jnz 1b
      hlt
    `, 200_000, undefined, REGIONS);
    expect(r.interpreted.stop).toEqual({ kind: 'halted' });
    expect(r.regionBlocks).toBeGreaterThan(0);
    expect(r.wasm).toEqual(r.interpreted);
    expect(r.js).toEqual(r.interpreted);
    // 100 ADDs of the old immediate, then 100 of the new one (100).
    expect(r.wasm.regs[0]).toBe((0x11111111 * 100 + 100 * 100) | 0);
  });

  it('regions: stops after exactly the budget, whatever the budget', () => {
    const code = assemble(WORKLOAD);
    for (const budget of [1, 2, 3, 7, 19, 20, 21, 64, 100, 333, 1000, 1001, 1002, 1003, 2500, 4097, 10_007]) {
      const interpreted = runOn('interpreted', code, budget).state;
      const w = runOn('wasm', code, budget, undefined, REGIONS);
      expect(w.state, `budget ${budget}`).toEqual(interpreted);
      expect(w.state.icount).toBe(budget);
      if (budget > 1000) expect(w.cpu.wasm!.regionBlocks).toBeGreaterThan(0);
    }
    // The whole loop in regions, as interpreted.
    const r = allTiers(WORKLOAD, 200_000, undefined, REGIONS);
    expect(r.regionBlocks).toBeGreaterThan(0);
    expect(r.wasm).toEqual(r.interpreted);
  });

  it('every condition code after CMP, SUB, TEST, ADD, INC and DEC at 8, 16 and 32 bits', () => {
    const lines: string[] = [`mov ebx, ${DATA}`, 'xor edi, edi'];
    const pairs = [[0, 0], [1, 2], [2, 1], [0x7f, 0x80], [0x80000000, 1], [0xffffffff, 1]];
    let n = 0;
    for (const [a, b] of pairs) {
      for (const op of ['cmp eax, edx', 'test eax, edx', 'add eax, edx', 'inc eax', 'dec eax', 'cmp al, dl', 'add ax, dx']) {
        for (let cc = 0; cc < 16; cc++) {
          const j = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'][cc];
          lines.push(`mov eax, ${a}`, `mov edx, ${b}`, op, `j${j} 7${n}f`, 'add edi, 1', `7${n}:`, 'rol edi, 1');
          n++;
        }
      }
    }
    lines.push('hlt');
    // Run the whole thing in a loop, so the blocks are compiled and chained.
    const src = `mov ecx, 3\n9:\npush ecx\n${lines.join('\n')}\n`.replace(/\nhlt\n$/, '\npop ecx\ndec ecx\njnz 9b\nhlt\n');
    const r = allTiers(src, 1_000_000);
    expect(r.interpreted.stop).toEqual({ kind: 'halted' });
    expect(r.wasm).toEqual(r.interpreted);
  });
});
