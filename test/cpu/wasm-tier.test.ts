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
import { moduleStats } from '../../src/cpu/wasm/tier.js';
import { MachineSnapshot } from '../../src/boot/snapshot.js';
import { assemble, readBytes, CODE_BASE, DATA, STACK_TOP } from '../helpers/asm.js';

type Tier = 'interpreted' | 'js' | 'wasm';

/**
 * `threshold`: executions before a block is compiled (0: at its first; more: the WebAssembly tier
 * batches warm blocks); `regionThreshold`: calls of a block's function before it is promoted to a
 * region (a region holds the blocks decoded and warm by then); `regions` off: never promoted;
 * `memory`: RAM bytes.
 */
interface TierOptions {
  threshold?: number;
  regionThreshold?: number;
  regions?: boolean;
  memory?: number;
}

function runOn(tier: Tier, code: Uint8Array, budget: number, setup?: (cpu: CPU) => void, opts: TierOptions = {}) {
  const cpu = new CPU({ memory: new PhysicalMemory(opts.memory ?? 1 << 20, tier === 'wasm') });
  cpu.writePhys(CODE_BASE, code);
  cpu.eip = CODE_BASE;
  cpu.regs[4] = STACK_TOP;
  cpu.jitThreshold = tier === 'interpreted' ? Infinity : opts.threshold ?? 0;
  cpu.jitTier = tier === 'wasm' ? 'wasm' : 'js';
  if (cpu.wasm !== null && opts.regions !== undefined) cpu.wasm.regions = opts.regions;
  if (cpu.wasm !== null && opts.regionThreshold !== undefined) cpu.wasm.regionThreshold = opts.regionThreshold;
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
  return { interpreted, js, wasm: w.state, regionBlocks: w.cpu.wasm!.regionBlocks, promoted: w.cpu.wasm!.promoted };
}

/** Compiled after three executions and promoted after ten calls: the loops' blocks are decoded and warm by then, so the regions hold several blocks. */
const REGIONS = { threshold: 3, regionThreshold: 10 };

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

/** Blocks run every iteration, every 2nd, 4th and 8th (each a jump target): warm at different times, batched apart. */
const STAGGERED_LOOP = `
    mov ecx, 5000
    mov ebx, ${DATA}
  1:
    add [ebx], ecx
    test ecx, 1
    jz 2f
    jmp 5f
  2:
    add dword ptr [ebx + 4], 3
    test ecx, 2
    jz 3f
    jmp 5f
  3:
    imul eax, ecx, 5
    test ecx, 4
    jz 4f
    jmp 5f
  4:
    xor [ebx + 8], eax
    inc dword ptr [ebx + 12]
  5:
    dec ecx
    jnz 1b
    hlt
`;

/** Two blocks (the JZ in the middle splits the loop), each reached by a chained exit of the other. */
const TWO_BLOCK_LOOP = `
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

/**
 * A loop whose second block (the JNZ's target) divides by ECX - 1: #DE (no IDT: the machine stops) when
 * ECX reaches 1, 300 iterations in, on an odd ECX, where the JNZ is taken.
 */
const DIVIDE_BY_COUNTER = `
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
    const src = TWO_BLOCK_LOOP;
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
    const r = allTiers(DIVIDE_BY_COUNTER, 200_000, undefined, REGIONS);
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

  it('MUL and DIV r/m32 inline: products, quotients, flags, and #DE when the quotient does not fit', () => {
    // EDX:EAX = EAX × ECX (CF/OF read by SETC/SETO; EDX < ECX), then EDX:EAX ÷ [EBX + 40]; the
    // divisor shrinks each time round until it is no more than EDX (about 256 rounds) and DIV raises
    // #DE (no IDT: the machine stops there).
    const r = allTiers(`
      mov ecx, 0x12345
      mov ebx, ${DATA}
      mov dword ptr [ebx + 40], 0x80000000
    1:
      mov eax, ecx
      imul eax, eax, 0x9e37
      mul ecx
      setc byte ptr [ebx + 44]
      seto byte ptr [ebx + 45]
      add [ebx], eax
      adc [ebx + 4], edx
      div dword ptr [ebx + 40]
      add [ebx + 8], eax
      xor [ebx + 12], edx
      sub dword ptr [ebx + 40], 0x7ff000
      test ecx, 1
      jz 2f
      mul eax
      add [ebx + 16], edx
    2:
      add ecx, 0x1001
      jmp 1b
    `, 200_000, undefined, REGIONS);
    expect(r.interpreted.stop).toMatchObject({ kind: 'fault', vector: 0 });
    expect(r.wasm).toEqual(r.interpreted);
    expect(r.js).toEqual(r.interpreted);
  });

  it('shifts of a register by CL (a count of 0 keeps every flag) and BSR (of 0 too) inline, as interpreted', () => {
    const r = allTiers(`
      mov ecx, 300
      mov ebx, ${DATA}
      mov esi, 0x9e3779b9
    1:
      mov eax, ecx
      imul eax, eax, 0x45d9f3b
      mov edx, eax
      cmp eax, esi
      shl eax, cl
      setc byte ptr [ebx + 44]
      seto byte ptr [ebx + 45]
      setz byte ptr [ebx + 46]
      sar edx, cl
      adc [ebx], edx
      shr esi, cl
      sbb [ebx + 4], esi
      add esi, eax
      and eax, ecx
      and eax, 0xf0
      bsr edi, eax
      setz byte ptr [ebx + 47]
      adc [ebx + 8], edi
      sub edi, edi
      bsr edx, esi
      setz byte ptr [ebx + 48]
      add [ebx + 12], edx
      dec ecx
      jnz 1b
      hlt
    `, 200_000, undefined, REGIONS);
    expect(r.interpreted.stop).toEqual({ kind: 'halted' });
    expect(r.wasm).toEqual(r.interpreted);
    expect(r.js).toEqual(r.interpreted);
  });

  it('every condition code after CMP, SUB, TEST, ADD, ADC, SBB, INC and DEC at 8, 16 and 32 bits', () => {
    const lines: string[] = [`mov ebx, ${DATA}`, 'xor edi, edi'];
    const pairs = [[0, 0], [1, 2], [2, 1], [0x7f, 0x80], [0x80000000, 1], [0xffffffff, 1]];
    let n = 0;
    for (const [a, b] of pairs) {
      for (const op of ['cmp eax, edx', 'test eax, edx', 'add eax, edx', 'inc eax', 'dec eax', 'cmp al, dl', 'add ax, dx', 'stc\nadc eax, edx', 'clc\nadc eax, edx', 'stc\nsbb eax, edx', 'clc\nsbb eax, edx', 'stc\nsbb al, dl', 'stc\nadc ax, dx']) {
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

  it('CF still lazy at a block\'s entry (the carry helper): INC keeps it, ADC, SBB and RCL read it, after each kind at 8, 16 and 32 bits', () => {
    const lines: string[] = ['xor edi, edi', 'xor esi, esi'];
    const pairs = [[0, 0], [1, 2], [2, 1], [0x7f, 0x80], [0xff, 1], [0xffff, 1], [0x80000000, 1], [0xffffffff, 1]];
    let n = 0;
    for (const [a, b] of pairs) {
      for (const op of ['add eax, edx', 'add al, dl', 'add ax, dx', 'sub eax, edx', 'sub al, dl', 'cmp ax, dx', 'stc\nadc eax, edx', 'clc\nadc al, dl', 'stc\nsbb eax, edx', 'stc\nsbb ax, dx', 'clc\nsbb al, dl', 'and eax, edx', 'neg eax', 'inc eax', 'dec al']) {
        for (const reader of ['inc esi\nadc edi, 0', 'adc edi, edx', 'sbb edi, 1', 'rcl edi, 1']) {
          // The jump ends the block: the next one starts with the flags in the state area.
          lines.push(`mov eax, ${a}`, `mov edx, ${b}`, op, `jmp 7${n}f`, `7${n}:`, reader, 'rol edi, 3', 'add edi, esi');
          n++;
        }
      }
    }
    const src = `mov ecx, 3\n9:\npush ecx\n${lines.join('\n')}\npop ecx\ndec ecx\njnz 9b\nhlt\n`;
    const r = allTiers(src, 1_000_000);
    expect(r.interpreted.stop).toEqual({ kind: 'halted' });
    expect(r.wasm).toEqual(r.interpreted);
    expect(r.js).toEqual(r.interpreted);
  });

  describe('batches: blocks compiled together, one module, reached through the gate', () => {
    it('a batch whose second block faults delivers the fault at its instruction, as interpreted', () => {
      // The loop's head reaches the threshold while the block at 3: (every other iteration, reached by a chained
      // exit) is warm: they are compiled into one module, and that second block's DIV faults (#DE) when ESI
      // reaches zero — delivered at the DIV, with the count and registers the interpreter has.
      const src = `
        mov ecx, 301
        mov ebx, ${DATA}
      1:
        add dword ptr [ebx], ecx
        test ecx, 1
        jz 3f
      2:
        dec ecx
        jmp 1b
      3:
        mov eax, 1000
        xor edx, edx
        lea esi, [ecx - 40]
        add [ebx + 4], esi
        div esi
        mov [ebx + 8], eax
        jmp 2b
      `;
      const code = assemble(src);
      const interpreted = runOn('interpreted', code, 100_000).state;
      expect(interpreted.stop).toMatchObject({ kind: 'fault', vector: 0 });
      const w = runOn('wasm', code, 100_000, undefined, { threshold: 8 });
      expect(w.state).toEqual(interpreted);
      // Some module held more than one block.
      expect(w.cpu.wasm!.compiled).toBeGreaterThan(w.cpu.wasm!.batches);
    });

    it('a batch across a code-page write: the patched block runs its new code', () => {
      // The warm block at 3: is compiled with the loop; from iteration 100 on the loop rewrites its immediate
      // every time (the page is invalidated, the block decoded and compiled again).
      const src = `
        mov ecx, 300
        xor eax, eax
      1:
        cmp ecx, 200
        ja 2f
        mov [3f + 1], ecx
      2:
        test ecx, 1
        jz 4f
      3:
        add eax, 0x11111111
      4:
        dec ecx
        jnz 1b
        hlt
      `;
      const code = assemble(src);
      const interpreted = runOn('interpreted', code, 100_000).state;
      expect(interpreted.stop).toEqual({ kind: 'halted' });
      for (const threshold of [2, 8, 30]) {
        const w = runOn('wasm', code, 100_000, undefined, { threshold });
        expect(w.state, `threshold ${threshold}`).toEqual(interpreted);
        expect(w.cpu.wasm!.compiled).toBeGreaterThan(w.cpu.wasm!.batches);
      }
      // 100 odd values of 0x11111111, then the odd counters 1..199 the loop wrote.
      expect(interpreted.regs[0]).toBe((50 * 0x11111111 + 100 * 100) >>> 0);
    });

    it('stops after exactly the budget across blocks chained between modules', () => {
      // Blocks run every iteration, every 2nd, 4th and 8th (each a jump target; the JMPs are followed into the
      // loop's tail): they become warm at different times, so with a threshold batches hold two blocks, and the
      // later ones go into a later module.
      const code = assemble(STAGGERED_LOOP);
      for (const budget of [1, 50, 99, 500, 1001, 4096, 9999, 30_011]) {
        const interpreted = runOn('interpreted', code, budget).state;
        // Threshold 0: every block its own module; 8: batches. Regions off: a region would hold the
        // whole loop in one function (the regions tests cover budgets across a region).
        for (const threshold of [0, 8]) {
          const w = runOn('wasm', code, budget, undefined, { threshold, regions: false });
          expect(w.state, `budget ${budget}, threshold ${threshold}`).toEqual(interpreted);
          expect(w.state.icount).toBe(budget);
          const { compiled, batches } = w.cpu.wasm!;
          if (budget >= 4096) expect(threshold === 0 ? compiled === batches && batches > 1 : compiled > batches && batches > 1, `budget ${budget}, threshold ${threshold}: ${compiled} blocks in ${batches} modules`).toBe(true);
        }
      }
    });

    it('the module cache: a second CPU running the same code compiles no module, only instantiates', () => {
      const code = assemble(WORKLOAD);
      const first = runOn('wasm', code, 200_000, undefined, { threshold: 5 });
      const before = moduleStats.compiled;
      const second = runOn('wasm', code, 200_000, undefined, { threshold: 5 });
      expect(second.state).toEqual(first.state);
      expect(second.cpu.wasm!.compiled).toBe(first.cpu.wasm!.compiled);
      expect(second.cpu.wasm!.batches).toBe(first.cpu.wasm!.batches);
      expect(moduleStats.compiled).toBe(before);
      // Another memory size puts the state area elsewhere: other modules, the same results.
      const other = runOn('wasm', code, 200_000, undefined, { threshold: 5, memory: 2 << 20 });
      expect(other.state).toEqual(first.state);
      expect(moduleStats.compiled).toBeGreaterThan(before);
    });
  });
  describe('promotion: a block called regionThreshold times becomes a region', () => {
    const LOOP = TWO_BLOCK_LOOP;

    it('promotes at the threshold, not before, and only with regions on; the results are the interpreter\'s', () => {
      const code = assemble(LOOP);
      const interpreted = runOn('interpreted', code, 200_000).state;
      const cpu = new CPU({ memory: new PhysicalMemory(1 << 20, true) });
      expect(cpu.wasm!.regionThreshold).toBe(100_000);
      expect(cpu.wasm!.promoted).toBe(0);
      const hot = runOn('wasm', code, 200_000, undefined, { threshold: 3, regionThreshold: 10 });
      expect(hot.state).toEqual(interpreted);
      expect(hot.cpu.wasm!.promoted).toBeGreaterThan(0);
      expect(hot.cpu.wasm!.regionBlocks).toBeGreaterThan(0);
      // Fewer calls than the threshold (about 1,000 per block): none.
      const cold = runOn('wasm', code, 200_000, undefined, { threshold: 3, regionThreshold: 5000 });
      expect(cold.state).toEqual(interpreted);
      expect(cold.cpu.wasm!.promoted).toBe(0);
      const off = runOn('wasm', code, 200_000, undefined, { threshold: 3, regionThreshold: 10, regions: false });
      expect(off.state).toEqual(interpreted);
      expect(off.cpu.wasm!.promoted).toBe(0);
    });

    it('a block called less than 1/16 as often as the promoted one stays out of its region', () => {
      // A loops onto itself inside its function; every 4th iteration it goes through B, and on some
      // others through R (B and R go back to A: each of A, B is promoted with the other in its region),
      // which the regions hold only when it is called as often: not when ECX & 0xfe is 0 (16 of 4,000
      // iterations), but when ECX & 4 is (1,500 of them). Every block is compiled at its first run, so
      // R is a compiled, decoded successor on the page either way.
      const loop = (mask: number) => `
        mov ecx, 4000
        mov ebx, ${DATA}
      1:
        add [ebx], ecx
        test ecx, 3
        jz 2f
        test ecx, ${mask}
        jz 3f
      4:
        dec ecx
        jnz 1b
        hlt
      2:
        sub dword ptr [ebx + 8], 1
        jmp 4b
      3:
        inc dword ptr [ebx + 16]
        jmp 4b
      `;
      for (const mask of [0xfe, 4]) {
        const code = assemble(loop(mask));
        const interpreted = runOn('interpreted', code, 200_000).state;
        const w = runOn('wasm', code, 200_000, undefined, { threshold: 0, regionThreshold: 100 });
        expect(w.state).toEqual(interpreted);
        const { promoted, regionBlocks } = w.cpu.wasm!;
        expect(promoted).toBeGreaterThan(0);
        // Rare: each region is its block and the other of A and B; often: R joins them.
        if (mask === 0xfe) expect(regionBlocks).toBe(promoted);
        else expect(regionBlocks).toBeGreaterThan(promoted);
      }
    });

    it('stops after exactly each budget of a run in small slices, across the promotion, as without it and interpreted', () => {
      const code = assemble(WORKLOAD);
      /** The state after each of many small run() calls (budgets 1 to 37, then larger ones). */
      const slices = (tier: Tier, opts: TierOptions) => {
        const states: unknown[] = [];
        const { cpu } = runOn(tier, code, 0, undefined, opts);
        for (let k = 0; k < 400; k++) {
          const budget = k < 300 ? 1 + ((k * 7) % 37) : 50 + k;
          const stop = cpu.run(budget);
          states.push({ k, stop, regs: Array.from(cpu.regs), eip: cpu.eip, eflags: cpu.getEflags(), icount: cpu.icount, data: Array.from(readBytes(cpu, DATA, 64)) });
        }
        return { states, cpu };
      };
      const interpreted = slices('interpreted', {}).states;
      const without = slices('wasm', { threshold: 3, regions: false });
      const promoted = slices('wasm', { threshold: 3, regionThreshold: 10 });
      expect(without.cpu.wasm!.promoted).toBe(0);
      expect(promoted.cpu.wasm!.promoted).toBeGreaterThan(0);
      expect(without.states).toEqual(interpreted);
      expect(promoted.states).toEqual(interpreted);
    });

    it('code written into a promoted region (its own block, then a later one) takes effect at once', () => {
      // The loop's blocks are promoted after ten calls; once ECX is below 300 the first block
      // writes the immediate of its own ADD (the next instruction), below 150 the one of the
      // third block's ADD (the second's region holds it: the same page).
      const code = assemble(`
        mov ecx, 400
        xor eax, eax
        xor edx, edx
        mov ebx, ${DATA}
      1:
        lea edi, [ebx + 40]
        lea esi, [2f + 1]
        cmp ecx, 300
        cmovb edi, esi
        mov [edi], ecx
      2:
        add eax, 0x11111111
        test ecx, 1
        jnz 3f
        inc dword ptr [ebx + 4]
      3:
        lea edi, [ebx + 44]
        lea esi, [4f + 2]
        cmp ecx, 150
        cmovb edi, esi
        mov [edi], ecx
      4:
        add edx, 0x22222222
        dec ecx
        jnz 1b
        hlt
      `);
      const before = runOn('interpreted', code, 1000);
      const w = runOn('wasm', code, 1000, undefined, { threshold: 3, regionThreshold: 10 });
      expect(w.state).toEqual(before.state);
      // Promoted before the first write into the code.
      expect(w.cpu.wasm!.promoted).toBeGreaterThan(0);
      expect(w.cpu.regs[1]).toBeGreaterThan(300);
      const stop = before.cpu.run(200_000);
      expect(stop).toEqual({ kind: 'halted' });
      expect(w.cpu.run(200_000)).toEqual(stop);
      expect(w.cpu.getEflags()).toBe(before.cpu.getEflags());
      expect(Array.from(w.cpu.regs)).toEqual(Array.from(before.cpu.regs));
      expect(w.cpu.icount).toBe(before.cpu.icount);
      // Every ADD saw the immediate its iteration wrote: ECX from 299 and from 149 down to 1.
      expect(before.cpu.regs[0]).toBe((0x11111111 * 101 + (299 * 300) / 2) | 0);
      expect(before.cpu.regs[2]).toBe((0x22222222 * 251 + (149 * 150) / 2) | 0);
    });

    it('a #DE inside a promoted region is delivered at the DIV, with the interpreter\'s count and registers', () => {
      // The loop's blocks are regions after ten calls; DIVIDE_BY_COUNTER's DIV faults in the second block.
      const code = assemble(DIVIDE_BY_COUNTER);
      const interpreted = runOn('interpreted', code, 200_000).state;
      expect(interpreted.stop).toMatchObject({ kind: 'fault', vector: 0 });
      const w = runOn('wasm', code, 200_000, undefined, { threshold: 3, regionThreshold: 10 });
      expect(w.cpu.wasm!.promoted).toBeGreaterThan(0);
      expect(w.state).toEqual(interpreted);
    });

    it('a second CPU running the same code compiles no module, regions included', () => {
      const code = assemble(WORKLOAD);
      const first = runOn('wasm', code, 200_000, undefined, { threshold: 5, regionThreshold: 10 });
      expect(first.cpu.wasm!.promoted).toBeGreaterThan(0);
      const before = moduleStats.compiled;
      const second = runOn('wasm', code, 200_000, undefined, { threshold: 5, regionThreshold: 10 });
      expect(second.state).toEqual(first.state);
      expect(second.cpu.wasm!.promoted).toBe(first.cpu.wasm!.promoted);
      expect(moduleStats.compiled).toBe(before);
    });
  });

  it('a machine snapshot restored keeps the tier\'s table (a cache): blocks compiled after it still run their own code', () => {
    // The input at DATA + 60 picks which of two subroutines the loop calls; each run restores the
    // snapshot, writes the input and runs. The code page is never written, so blocks compiled in
    // one run stay compiled for the next, whose own blocks must not take their table slots.
    const code = assemble(`
      mov ecx, 50
      mov ebx, ${DATA}
    1:
      mov eax, [ebx + 60]
      test eax, eax
      jz 2f
      call 4f
      jmp 3f
    2:
      call 5f
    3:
      dec ecx
      jnz 1b
      hlt
    4:
      add dword ptr [ebx], 1
      ret
    5:
      add dword ptr [ebx + 4], 2
      ret
    `);
    const fresh = (input: number) => {
      const { cpu } = runOn('interpreted', code, 0);
      cpu.writePhys(DATA + 60, Uint8Array.of(input));
      cpu.run(100_000);
      return { regs: Array.from(cpu.regs), icount: cpu.icount, data: Array.from(readBytes(cpu, DATA, 64)) };
    };
    const { cpu } = runOn('wasm', code, 0, undefined, { threshold: 2, regions: false });
    const snap = new MachineSnapshot(cpu, []);
    for (const input of [1, 0, 1, 0, 1]) {
      snap.restore();
      cpu.writePhys(DATA + 60, Uint8Array.of(input));
      cpu.run(100_000);
      expect({ regs: Array.from(cpu.regs), icount: cpu.icount, data: Array.from(readBytes(cpu, DATA, 64)) }, `input ${input}`).toEqual(fresh(input));
    }
    expect(cpu.wasm!.compiled).toBeGreaterThan(0);
  });

  describe('structured regions: self-loops, branches forward and back, the lazy flags in locals across them', () => {
    const budgets = [1, 5, 17, 100, 1001, 4099, 30_011];

    it('a self-loop inside a region (its own loop), with CF kept by DEC live across its back edge', () => {
      // The block at 3: branches to itself; ADC at its top reads the CF the CMP left (DEC keeps it) on the
      // previous pass, from the flags the branch left in the locals.
      const src = `
        mov ecx, 700
        mov ebx, ${DATA}
        xor eax, eax
        xor edx, edx
      1:
        add dword ptr [ebx], 1
        test ecx, 3
        jnz 2f
        inc dword ptr [ebx + 4]
      2:
        mov esi, ecx
        and esi, 63
        or esi, 1
      3:
        adc edx, 0
        add eax, esi
        cmp esi, 17
        dec esi
        jnz 3b
        setc byte ptr [ebx + 8]
        dec ecx
        jnz 1b
        hlt
      `;
      const r = allTiers(src, 200_000, undefined, REGIONS);
      expect(r.interpreted.stop).toEqual({ kind: 'halted' });
      expect(r.regionBlocks).toBeGreaterThan(0);
      expect(r.wasm).toEqual(r.interpreted);
      const code = assemble(src);
      for (const budget of budgets) {
        const w = runOn('wasm', code, budget, undefined, REGIONS).state;
        expect(w, `budget ${budget}`).toEqual(runOn('interpreted', code, budget).state);
      }
    });

    it('branches forward and back in one region with the flags (8-bit CMP, SBB with its carry in, ADC) live across them', () => {
      const src = `
        mov ecx, 3000
        mov ebx, ${DATA}
        xor edi, edi
        xor esi, esi
      1:
        mov eax, ecx
        and eax, 31
        cmp al, 13
        jb 3f
        sbb edi, eax
        ja 4f
      2:
        setbe byte ptr [ebx + 20]
        adc [ebx + 24], ecx
        dec ecx
        jnz 1b
        hlt
      3:
        setc byte ptr [ebx + 16]
        setg byte ptr [ebx + 17]
        adc esi, 5
        jmp 2b
      4:
        setl byte ptr [ebx + 28]
        seto byte ptr [ebx + 29]
        sbb esi, ecx
        jmp 2b
      `;
      const r = allTiers(src, 200_000, undefined, REGIONS);
      expect(r.interpreted.stop).toEqual({ kind: 'halted' });
      expect(r.regionBlocks).toBeGreaterThan(0);
      expect(r.wasm).toEqual(r.interpreted);
      expect(r.js).toEqual(r.interpreted);
      const code = assemble(src);
      for (const budget of budgets) {
        const w = runOn('wasm', code, budget, undefined, REGIONS).state;
        expect(w, `budget ${budget}`).toEqual(runOn('interpreted', code, budget).state);
      }
    });

    it('a block that leaves the function without touching the flags a branch left in the locals stores them (every budget)', () => {
      // The block at 2: sets no flag and returns with the CMP's flags still in the locals (JB taken); the DEC
      // after the return keeps the CF they hold.
      const code = assemble(`
        mov ecx, 100002
        mov ebx, ${DATA}
      1:
        call 5f
        adc [ebx + 8], ecx
        jmp 1b
      5:
        dec ecx
        mov eax, ecx
        and eax, 7
        cmp eax, 3
        jb 2f
        mov [ebx], eax
      2:
        mov [ebx + 4], ecx
        ret
      `);
      for (let budget = 1; budget < 3000; budget += budget < 100 ? 1 : 97) {
        const w = runOn('wasm', code, budget, undefined, REGIONS);
        expect(w.state, `budget ${budget}`).toEqual(runOn('interpreted', code, budget).state);
        if (budget > 1000) expect(w.cpu.wasm!.regionBlocks).toBeGreaterThan(0);
      }
    });

    it('a fault in a region block entered with the flags still in the locals: delivered with those flags', () => {
      // At ECX = 200 the divisor ESI is 0 and the 8-bit ADC carries (AL = 200 + 0x7f), so JC is taken
      // (as from the first pass, ECX = 400); the next block divides (inline DIV r32, and DIV r16 left to
      // its executor) before setting any flag: #DE with the ADC's flags, which only the locals held.
      for (const div of ['div esi', 'div si']) {
        const r = allTiers(`
          mov ecx, 400
          mov ebx, ${DATA}
        1:
          mov esi, ecx
          sub esi, 200
          mov eax, ecx
          adc al, 0x7f
          jc 2f
          mov [ebx + 4], ecx
        2:
          mov eax, 1000
          mov edx, 0
          ${div}
          mov [ebx + 8], eax
          dec ecx
          jnz 1b
          hlt
        `, 200_000, undefined, REGIONS);
        expect(r.interpreted.stop, div).toMatchObject({ kind: 'fault', vector: 0 });
        expect(r.regionBlocks, div).toBeGreaterThan(0);
        expect(r.wasm, div).toEqual(r.interpreted);
      }
    });

    it('chained exits reach the later members of batches (each its own function), with and without promotion', () => {
      // Blocks run every iteration, every 2nd, 4th and 8th: batches of several members, whose later members
      // chained exits reach through the cache.
      const code = assemble(STAGGERED_LOOP);
      for (const budget of [99, 1001, 9999, 30_011]) {
        const interpreted = runOn('interpreted', code, budget).state;
        for (const regions of [false, true]) {
          const w = runOn('wasm', code, budget, undefined, { threshold: 8, regions, regionThreshold: 50 });
          expect(w.state, `budget ${budget}, regions ${regions}`).toEqual(interpreted);
          if (budget >= 9999) expect(w.cpu.wasm!.compiled, `budget ${budget}, regions ${regions}`).toBeGreaterThan(w.cpu.wasm!.batches);
          if (budget >= 9999 && regions) expect(w.cpu.wasm!.promoted, `budget ${budget}`).toBeGreaterThan(0);
        }
      }
    });
  });
});
