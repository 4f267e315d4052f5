/**
 * The block compiler (src/cpu/jit.ts) against the interpreter: the same
 * snippet run with every block compiled from its first execution
 * (jitThreshold 0) and never compiled (Infinity) must end in the same
 * registers, flags, memory, retired-instruction count and stop — including
 * when a fault, the budget or a code write lands inside a compiled loop.
 */
import { describe, expect, it } from 'vitest';
import type { CPU } from '../../src/cpu/cpu.js';
import { compileBlock } from '../../src/cpu/jit.js';
import { decodeAt } from '../../src/cpu/decoder.js';
import { runSnippet, readBytes, DATA, type SnippetOptions } from '../helpers/asm.js';

function both(src: string, opts: SnippetOptions = {}, setup?: (cpu: CPU) => void) {
  const run = (threshold: number) =>
    runSnippet(src, (cpu) => {
      cpu.jitThreshold = threshold;
      setup?.(cpu);
    }, opts);
  const a = run(Infinity);
  const b = run(0);
  const state = (r: ReturnType<typeof run>) => ({
    stop: r.stop,
    regs: Array.from(r.cpu.regs),
    eip: r.cpu.eip,
    eflags: r.cpu.getEflags(),
    icount: r.cpu.icount,
    data: readBytes(r.cpu, DATA, 64),
  });
  return { interpreted: state(a), compiled: state(b) };
}

describe('block compiler agrees with the interpreter', () => {
  it('a counted loop with memory, ALU, LEA, PUSH/POP and a call (the loop runs inside one compiled block)', () => {
    const { interpreted, compiled } = both(`
      mov ecx, 1000
      xor eax, eax
      mov ebx, ${DATA}
    1:
      add eax, ecx
      lea edx, [eax + ecx * 4 + 3]
      mov [ebx + 4], edx
      movzx esi, byte ptr [ebx + 4]
      push esi
      pop edi
      xor [ebx], edi
      cmp dword ptr [ebx + 4], 0x100
      dec ecx
      jnz 1b
      call 2f
      hlt
    2:
      inc eax
      ret
    `);
    expect(compiled).toEqual(interpreted);
    expect(interpreted.stop).toEqual({ kind: 'halted' });
  });

  it('a fault in the middle of a compiled loop is delivered at the faulting instruction with the same count', () => {
    // DIV by a counter that reaches zero on iteration 700: #DE with no IDT stops the machine.
    const { interpreted, compiled } = both(`
      mov ecx, 700
      mov ebx, ${DATA}
    1:
      mov eax, 1000
      xor edx, edx
      lea esi, [ecx - 1]
      div esi
      mov [ebx], eax
      dec ecx
      jmp 1b
    `);
    expect(compiled).toEqual(interpreted);
    expect(interpreted.stop).toMatchObject({ kind: 'fault', vector: 0 });
  });

  it('the budget ends a compiled loop after exactly the same instruction', () => {
    for (const budget of [1, 2, 7, 100, 1001, 4093]) {
      const { interpreted, compiled } = both(
        `
        xor eax, eax
      1:
        inc eax
        add ebx, eax
        jmp 1b
        `,
        { budget },
      );
      expect(compiled, `budget ${budget}`).toEqual(interpreted);
      expect(interpreted.icount).toBe(budget);
    }
  });

  it('code written by a compiled loop takes effect at once (self-modifying code)', () => {
    // The loop patches the immediate of the "mov eax, imm" it executes next time round.
    const { interpreted, compiled } = both(`
      mov ecx, 10
    1:
      mov eax, 0
    2:
      add ebx, eax
      mov dword ptr [1b + 1], ecx
      dec ecx
      jnz 1b
      hlt
    `);
    expect(compiled).toEqual(interpreted);
    // 0 + 10 + 9 + ... + 2 (the patch made on each pass is seen on the next).
    expect(interpreted.regs[3]).toBe(54);
  });

  it('compiles straight-line code with no template (every executor called directly)', () => {
    const bytes = Uint8Array.from([0x0f, 0xa2]); // cpuid
    const ins = decodeAt(bytes, 0x1000);
    expect(typeof compileBlock([ins])).toBe('function');
  });

  it('Jcc fused with the CMP/TEST/ADD before it takes the same branches as the lazy flags, for every condition', () => {
    const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
    const pairs = [[0, 0], [1, 2], [2, 1], [-1, 1], [1, -1], [0x7fffffff, -1], [-0x80000000, 1], [-0x80000000, -0x80000000], [5, 5], [-7, -7]];
    for (const cc of CC) {
      let body = `mov edi, ${DATA}\n`;
      pairs.forEach(([a, b], i) => {
        body += `
          xor edx, edx
          mov eax, ${a}
          mov ebx, ${b}
          cmp eax, ebx
          j${cc} 1f
          or edx, 1
        1:
          test eax, ebx
          j${cc} 2f
          or edx, 2
        2:
          add eax, ebx
          j${cc} 3f
          or edx, 4
        3:
          mov [edi + ${i * 4}], edx
        `;
      });
      const { interpreted, compiled } = both(`${body}\nhlt`);
      expect(compiled, `j${cc}`).toEqual(interpreted);
    }
  });
});
