/**
 * Page faults delivered without a throw (src/cpu/fault-preflight.ts): an
 * instruction that keeps raising #PF gets its executor wrapped, and the
 * wrapper delivers the fault itself when the page walk says it would fault.
 * The guest must not be able to tell: the same faults (CR2, error code, the
 * frame's EIP/CS/EFLAGS, the handler's ESP), the same single steps, the same
 * results and instruction count as with every fault thrown.
 *
 * The instructions: MOV, MOVZX/MOVSX, ALU and TEST with a memory operand,
 * and REP MOVS/STOS and LODS (a MOVS whose source is readable faults on its
 * destination, with a write error code).
 *
 * The kernel's handlers here do what kmemcheck does to a hidden page: #PF
 * makes it present and sets TF in the frame, #DB after the one instruction
 * hides it again.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/kernel.js';
import { kva } from '../../src/kernel/layout.js';
import { callGuest } from '../../src/kernel/call.js';
import { Vec } from '../../src/cpu/stop.js';
import { assemble } from '../helpers/asm.js';

const CODE = kva(0x10000) >>> 0;
const DATA = kva(0x30000) >>> 0;
const TF = 0x100;

interface Run {
  faults: number[][];
  steps: number;
  eax: number;
  regs: number[];
  icount: number;
  preflighted: boolean;
}

function run(preflightAfter: number): Run {
  const k = new Kernel();
  k.cpu.preflightAfter = preflightAfter;
  const code = assemble(`
      mov ecx, 40
      xor eax, eax
    1:
      mov [${DATA + 4}], ecx
      mov ebx, [${DATA + 4}]
      add [${DATA + 8}], ebx
      add eax, [${DATA + 8}]
      cmp [${DATA + 12}], eax
      adc eax, 0
      movzx edx, byte ptr [${DATA + 9}]
      movsx esi, word ptr [${DATA + 10}]
      add eax, edx
      xor eax, esi
      mov byte ptr [${DATA + 0xffe}], 7
      test [${DATA + 12}], eax
      sub dword ptr [${DATA + 16}], 3
      or eax, [${DATA + 16}]
      push ecx
      push eax
      mov esi, ${DATA + 0x100}
      mov edi, ${DATA + 0x200}
      mov ecx, 3
      rep movsb
      mov eax, ebx
      mov ecx, 2
      rep stosd
      lodsb
      movzx edx, al
      add ebx, edx
      mov esi, ${CODE}
      mov edi, ${DATA + 0x400}
      mov ecx, 2
      rep movsd
      xor ecx, ecx
      rep stosb
      pop eax
      pop ecx
      dec ecx
      jnz 1b
      ret
  `, { base: CODE });
  k.mem.write(CODE, code);
  const pte = k.as.readPte(DATA);
  expect(pte).toBeGreaterThan(0);
  k.as.writePte(DATA, pte & ~1);
  const faults: number[][] = [];
  let steps = 0;
  k.setTrapHandler(Vec.PF, (kk, f) => {
    expect(kk.cpu.cr2 >>> 12).toBe(DATA >>> 12);
    faults.push([kk.cpu.cr2 >>> 0, f.errorCode ?? -1, f.eip >>> 0, f.cs, f.eflags, kk.cpu.regs[4]! >>> 0, kk.cpu.icount]);
    kk.as.writePte(DATA, pte);
    kk.mem.write32((f.frameAddress + 8) | 0, f.eflags | TF);
  });
  k.setTrapHandler(Vec.DB, (kk, f) => {
    steps++;
    kk.as.writePte(DATA, pte & ~1);
    kk.mem.write32((f.frameAddress + 8) | 0, f.eflags & ~TF);
  });
  const r = callGuest(k, CODE, [], 1_000_000);
  expect(r.returned).toBe(true);
  return { faults, steps, eax: r.eax >>> 0, regs: [...k.cpu.regs].map((x) => x >>> 0), icount: r.instructions, preflighted: k.cpu.preflightFaultAt !== -1 };
}

describe('page faults delivered without a throw', () => {
  it('raise the same faults, steps and results as thrown ones', () => {
    const thrown = run(Infinity);
    expect(thrown.preflighted).toBe(false);
    // Every access faults once per iteration: 11 instructions touch the page, and the string instructions
    // once per element (3 + 2 + 1 + 2; REP with ECX = 0 touches nothing), 40 times round.
    expect(thrown.faults.length).toBe(19 * 40);
    expect(thrown.steps).toBe(thrown.faults.length);
    // Error codes: reads 0, writes (and read-modify-write destinations) 2; supervisor, not present.
    expect(new Set(thrown.faults.map((f) => f[1]))).toEqual(new Set([0, 2]));
    for (const after of [1, 4]) {
      const pre = run(after);
      expect(pre.preflighted).toBe(true);
      expect(pre).toEqual({ ...thrown, preflighted: true });
    }
  });

  it('a compiled block whose access keeps faulting is interpreted after JIT_FAULT_LIMIT faults', () => {
    // The loop's block starts with the faulting load: every pass enters it, faults, and resumes after it.
    const loop = (hidden: boolean) => {
      const k = new Kernel();
      // Compiled after its load faulted once interpreted: the compiled code calls the wrapped executor, which delivers.
      k.cpu.preflightAfter = 1;
      k.cpu.jitThreshold = 3;
      k.mem.write(CODE, assemble(`mov ecx, 40\n1:\nmov eax, [${DATA}]\nadd ebx, eax\ndec ecx\njnz 1b\nret`, { base: CODE }));
      const pte = k.as.readPte(DATA);
      if (hidden) k.as.writePte(DATA, pte & ~1);
      let faults = 0;
      k.setTrapHandler(Vec.PF, (kk, f) => {
        faults++;
        kk.as.writePte(DATA, pte);
        kk.mem.write32((f.frameAddress + 8) | 0, f.eflags | TF);
      });
      k.setTrapHandler(Vec.DB, (kk, f) => {
        kk.as.writePte(DATA, pte & ~1);
        kk.mem.write32((f.frameAddress + 8) | 0, f.eflags & ~TF);
      });
      const r = callGuest(k, CODE, [], 100_000);
      expect(r.returned).toBe(true);
      return { faults, block: k.cpu.getBlock((CODE + 5) | 0), instructions: r.instructions };
    };
    const plain = loop(false);
    expect(plain.faults).toBe(0);
    expect(plain.block.compiled).not.toBeNull();
    const hidden = loop(true);
    expect(hidden.faults).toBe(40);
    expect(hidden.instructions).toBe(plain.instructions);
    expect(hidden.block.compiled).toBeNull();
    expect(hidden.block.hits).toBe(-Infinity);
  });

  it('a handler that never makes the page present does not hang the CPU', () => {
    const k = new Kernel();
    k.cpu.preflightAfter = 1;
    k.mem.write(CODE, assemble(`mov eax, [${DATA}]\nret`, { base: CODE }));
    k.as.writePte(DATA, k.as.readPte(DATA) & ~1);
    let faults = 0;
    k.setTrapHandler(Vec.PF, () => {
      faults++;
    });
    const r = callGuest(k, CODE, [], 1000);
    expect(r.returned).toBe(false);
    expect(faults).toBeGreaterThan(10);
  });
});
