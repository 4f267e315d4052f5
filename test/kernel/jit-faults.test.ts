/**
 * A compiled block that keeps faulting goes back to the interpreter
 * (JIT_FAULT_LIMIT in src/cpu/cpu.ts): under kmemcheck every access to a
 * hidden page faults, and a throw out of compiled code is expensive. The
 * results stay the interpreter's: a loop whose DIV faults on every
 * iteration (#DE, fixed up by the kernel's handler, which makes the divisor
 * 1 and returns to the DIV) ends in the same state compiled and interpreted.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/kernel.js';
import { kva } from '../../src/kernel/layout.js';
import { callGuest } from '../../src/kernel/call.js';
import { JIT_FAULT_LIMIT } from '../../src/cpu/cpu.js';
import { assemble } from '../helpers/asm.js';

const CODE = kva(0x10000) >>> 0;

function run(threshold: number, iterations = 200): { eax: number; ebx: number; icount: number; faults: number; compiled: boolean } {
  const k = new Kernel();
  k.cpu.jitThreshold = threshold;
  const code = assemble(`
      mov ecx, ${iterations}
      xor ebx, ebx
    1:
      xor esi, esi
      mov eax, 1000
      xor edx, edx
      div esi
      add ebx, eax
      dec ecx
      jnz 1b
      mov eax, ebx
      ret
  `, { base: CODE });
  k.mem.write(CODE, code);
  let faults = 0;
  k.setTrapHandler(0, (kk) => {
    faults++;
    kk.cpu.regs[6] = 1; // ESI: the DIV runs again and succeeds
  });
  const r = callGuest(k, CODE, [], 1_000_000);
  expect(r.returned).toBe(true);
  const loop = (k.cpu as unknown as { getBlock(eip: number): { compiled: unknown } }).getBlock(CODE + 7);
  return { eax: r.eax, ebx: k.cpu.regs[3]! >>> 0, icount: r.instructions, faults, compiled: loop.compiled !== null };
}

describe('blocks that keep faulting', () => {
  it(`are interpreted after ${JIT_FAULT_LIMIT} faults out of their compiled form, with the interpreter's results`, () => {
    const interpreted = run(Infinity);
    const compiled = run(0);
    expect(interpreted.faults).toBe(200);
    expect(interpreted.eax).toBe(200 * 1000);
    expect({ ...compiled, compiled: false }).toEqual({ ...interpreted, compiled: false });
    expect(interpreted.compiled).toBe(false);
    // The loop block was compiled at once (threshold 0), faulted more than the limit, and was dropped.
    expect(compiled.compiled).toBe(false);
    // A block that faulted fewer times stays compiled.
    const few = run(0, JIT_FAULT_LIMIT - 4);
    expect(few.compiled).toBe(true);
    expect(few.eax).toBe((JIT_FAULT_LIMIT - 4) * 1000);
  });
});

describe('a page fault inside a compiled block', () => {
  // Flags of the instructions before the faulting one live in the block's locals (src/cpu/jit/flags.ts):
  // the handler must see them as the interpreter leaves them, at the faulting EIP, with the same count.
  function faulting(threshold: number, access = '') {
    const k = new Kernel();
    k.cpu.jitThreshold = threshold;
    const data = kva(0x30000) >>> 0;
    const code = assemble(`
        mov ecx, 60
        xor ebx, ebx
        mov edi, ${data}
      1:
        mov esi, edi
        cmp ecx, 50
        jb 2f
        add ebx, ecx
        shl ebx, 1
        mov esi, 0x1000
      2:
        inc ebx
        add dword ptr [edi], ebx
        ${access}
        mov eax, [esi]
        add ebx, eax
        dec ecx
        jnz 1b
        mov eax, ebx
        ret
    `, { base: CODE });
    k.mem.write(CODE, code);
    const seen: number[] = [];
    k.setTrapHandler(14, (kk) => {
      // 0x1000 is not mapped: the handler records the interrupted flags, CR2 and EBX, and points ESI at the data.
      seen.push(kk.cpu.getEflags() & 0x8d5, kk.cpu.cr2 >>> 0, kk.cpu.regs[3]! >>> 0);
      kk.cpu.regs[6] = kk.cpu.regs[7]!;
    });
    const r = callGuest(k, CODE, [], 1_000_000);
    return { returned: r.returned, eax: r.eax >>> 0, icount: r.instructions, seen };
  }

  it('is delivered with the flags, EIP and count the interpreter gives', () => {
    const interpreted = faulting(Infinity);
    const compiled = faulting(0);
    expect(interpreted.returned).toBe(true);
    expect(interpreted.seen.length).toBe(3 * 11);
    expect(compiled).toEqual(interpreted);
  });

  it('in a read-modify-write (its write probe faults) is delivered with the flags, EIP and count the interpreter gives', () => {
    // ADD [ESI], EBX after a CMP/INC whose flags are still in the block's locals: the handler stores them (jit.ts).
    const interpreted = faulting(Infinity, 'add dword ptr [esi], ebx');
    const compiled = faulting(0, 'add dword ptr [esi], ebx');
    expect(interpreted.returned).toBe(true);
    expect(interpreted.seen.length).toBe(3 * 11);
    expect(compiled).toEqual(interpreted);
  });
});
