/**
 * Faults restart cleanly (DESIGN.md invariant 1; SDM Vol. 3 §6.5: a fault
 * is reported with the machine state as it was before the faulting
 * instruction started, so the instruction can be restarted). REP string
 * instructions are the documented exception: ECX/ESI/EDI reflect the
 * iterations already completed (SDM Vol. 2 "REP" and Vol. 3 §6.5).
 *
 * The tests turn on 32-bit paging with an identity map of the first MiB in
 * which the page at 0x30000 is not present, then touch it. #PF error codes
 * (SDM Vol. 3 §4.7): bit 0 P = 0 (not present), bit 1 W/R, bit 2 U/S = 0
 * (CPL 0). The machine has no IDT, so the fault stops it and the state can
 * be inspected. Memory on the missing page is inspected physically.
 */
import { describe, expect, it } from 'vitest';
import type { CPU } from '../../src/cpu/cpu.js';
import { CODE_BASE, F, flagStr, reg, regs, runSnippet } from '../helpers/asm.js';
import type { Setup } from '../helpers/asm.js';

const HOLE = 0x30000;
const PD = 0x90000;
const PT = 0x91000;

/** Identity-map 0..1 MiB with 4 KiB pages, leaving HOLE not present, and enable paging. */
function paging(more?: Setup): Setup {
  return (cpu: CPU) => {
    cpu.mem.write32(PD, PT | 3);
    for (let i = 0; i < 256; i++) cpu.mem.write32(PT + 4 * i, i * 0x1000 === HOLE ? 0 : (i * 0x1000) | 3);
    cpu.writeControlRegister(3, PD);
    cpu.writeControlRegister(0, cpu.cr0 | 0x80000001);
    more?.(cpu);
  };
}
const phys8 = (cpu: CPU, p: number, n: number): number[] => Array.from(cpu.mem.u8.subarray(p, p + n));

describe('page-fault reporting', () => {
  it('a read of a not-present page: #PF, error code 0, CR2 = address, EIP = faulting instruction', () => {
    const { cpu, stop } = runSnippet(`nop\nmov eax, dword ptr [${HOLE + 0x10}]\nhlt`, paging(regs({ eax: 0x1234 })));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 0, eip: CODE_BASE + 1 });
    expect(cpu.cr2 >>> 0).toBe(HOLE + 0x10);
    expect(reg(cpu, 'eax')).toBe(0x1234);
  });
  it('a write: error code 2', () => {
    const { cpu, stop } = runSnippet(`mov dword ptr [${HOLE + 8}], 1\nhlt`, paging());
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 2, eip: CODE_BASE });
    expect(cpu.cr2 >>> 0).toBe(HOLE + 8);
  });
  it('a read-modify-write reports a write (the destination is checked for writing first)', () => {
    const { stop } = runSnippet(`add dword ptr [${HOLE}], 1\nhlt`, paging());
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 2 });
  });
});

describe('faulting instructions leave no side effects', () => {
  it('a dword store straddling into the missing page writes nothing', () => {
    const { cpu, stop } = runSnippet(`mov dword ptr [${HOLE - 2}], eax\nhlt`, paging(regs({ eax: 0x11223344 })));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 2, eip: CODE_BASE });
    expect(phys8(cpu, HOLE - 2, 4)).toEqual([0, 0, 0, 0]);
  });
  it('pop dword ptr [missing] leaves ESP unchanged', () => {
    const { cpu, stop } = runSnippet(`push 5\npop dword ptr [${HOLE}]\nhlt`, paging());
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 2 });
    expect(reg(cpu, 'esp')).toBe(0x80000 - 4);
  });
  it('push dword ptr [missing] leaves ESP unchanged', () => {
    const { cpu, stop } = runSnippet(`push dword ptr [${HOLE}]\nhlt`, paging());
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 0 });
    expect(reg(cpu, 'esp')).toBe(0x80000);
  });
  it('call dword ptr [missing] leaves ESP and the stack unchanged', () => {
    const { cpu, stop } = runSnippet(`call dword ptr [${HOLE}]\nhlt`, paging());
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 0, eip: CODE_BASE });
    expect(reg(cpu, 'esp')).toBe(0x80000);
    expect(phys8(cpu, 0x80000 - 4, 4)).toEqual([0, 0, 0, 0]);
  });
  it('push with ESP at the top of the missing page: #PF, ESP unchanged', () => {
    const { cpu, stop } = runSnippet('push eax\nhlt', paging(regs({ esp: HOLE + 0x1000, eax: 7 })));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 2, eip: CODE_BASE });
    expect(cpu.cr2 >>> 0).toBe(HOLE + 0xffc);
    expect(reg(cpu, 'esp')).toBe(HOLE + 0x1000);
  });
  it('call rel32 with a missing stack page: ESP and EIP unchanged', () => {
    const { cpu, stop } = runSnippet('call f\nhlt\nf: ret', paging(regs({ esp: HOLE + 0x1000 })));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 2, eip: CODE_BASE });
    expect(reg(cpu, 'esp')).toBe(HOLE + 0x1000);
  });
  it('ret from a missing stack page: ESP unchanged', () => {
    const { cpu, stop } = runSnippet('ret\nhlt', paging(regs({ esp: HOLE + 0x100 })));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 0, eip: CODE_BASE });
    expect(reg(cpu, 'esp')).toBe(HOLE + 0x100);
  });
  it('pushad running into the missing page: ESP unchanged', () => {
    // ESP = HOLE+0x1010: the 32-byte frame spans HOLE+0xff0..HOLE+0x100f
    const { cpu, stop } = runSnippet('pushad\nhlt', paging(regs({ esp: HOLE + 0x1010 })));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 2, eip: CODE_BASE });
    expect(reg(cpu, 'esp')).toBe(HOLE + 0x1010);
  });
  it('popad from the missing page: every register unchanged', () => {
    const { cpu, stop } = runSnippet('popad\nhlt', paging(regs({ esp: HOLE + 0x100, eax: 1, ecx: 2, edx: 3, ebx: 4, ebp: 6, esi: 7, edi: 8 })));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 0 });
    expect(Array.from(cpu.regs)).toEqual([1, 2, 3, 4, HOLE + 0x100, 6, 7, 8]);
  });
  it('leave with EBP in the missing page: ESP and EBP unchanged', () => {
    const { cpu, stop } = runSnippet('leave\nhlt', paging(regs({ ebp: HOLE + 0x20 })));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 0 });
    expect(reg(cpu, 'esp')).toBe(0x80000);
    expect(reg(cpu, 'ebp')).toBe(HOLE + 0x20);
  });
  it('enter with the new frame in the missing page: ESP and EBP unchanged', () => {
    const { cpu, stop } = runSnippet('enter 8, 0\nhlt', paging(regs({ esp: HOLE + 0x1000, ebp: 0x5555 })));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 2 });
    expect(reg(cpu, 'esp')).toBe(HOLE + 0x1000);
    expect(reg(cpu, 'ebp')).toBe(0x5555);
  });
  it('xchg [missing], eax leaves EAX unchanged', () => {
    const { cpu, stop } = runSnippet(`xchg dword ptr [${HOLE}], eax\nhlt`, paging(regs({ eax: 0xabcdef })));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 2 });
    expect(reg(cpu, 'eax')).toBe(0xabcdef);
  });
  it('xadd / cmpxchg / cmpxchg8b on the missing page leave registers and flags unchanged', () => {
    for (const ins of ['xadd dword ptr [0x30000], ecx', 'cmpxchg dword ptr [0x30000], ecx', 'cmpxchg8b qword ptr [0x30000]']) {
      const { cpu, stop } = runSnippet(`${ins}\nhlt`, paging(regs({ eax: 1, ecx: 2, edx: 3, ebx: 4 }, F('CF SF'))));
      expect(stop, ins).toMatchObject({ kind: 'fault', vector: 14 });
      expect(Array.from(cpu.regs.subarray(0, 4)), ins).toEqual([1, 2, 3, 4]);
      expect(flagStr(cpu), ins).toBe('SF CF');
    }
  });
  it('movsd (no REP) with a missing source leaves ESI and EDI unchanged', () => {
    const { cpu, stop } = runSnippet('movsd\nhlt', paging(regs({ esi: HOLE, edi: 0x40000 })));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 0 });
    expect([reg(cpu, 'esi'), reg(cpu, 'edi')]).toEqual([HOLE, 0x40000]);
  });
  it('div by a missing memory operand leaves EDX:EAX unchanged', () => {
    const { cpu, stop } = runSnippet(`div dword ptr [${HOLE}]\nhlt`, paging(regs({ eax: 10, edx: 0 })));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 0 });
    expect([reg(cpu, 'eax'), reg(cpu, 'edx')]).toEqual([10, 0]);
  });
});

describe('REP string instructions keep their progress', () => {
  it('rep movsb reading into the missing page stops after 16 bytes', () => {
    const { cpu, stop } = runSnippet('rep movsb\nhlt', paging((c) => {
      for (let i = 0; i < 16; i++) c.mem.u8[HOLE - 16 + i] = i + 1;
      regs({ esi: HOLE - 16, edi: 0x40000, ecx: 0x20 })(c);
    }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 0, eip: CODE_BASE });
    expect(cpu.cr2 >>> 0).toBe(HOLE);
    expect([reg(cpu, 'ecx'), reg(cpu, 'esi'), reg(cpu, 'edi')]).toEqual([0x10, HOLE, 0x40010]);
    expect(phys8(cpu, 0x40000, 17)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0]);
  });
  it('rep stosd writing into the missing page stops after two dwords', () => {
    const { cpu, stop } = runSnippet('rep stosd\nhlt', paging(regs({ edi: HOLE - 8, ecx: 4, eax: 0xaaaaaaaa })));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 2, eip: CODE_BASE });
    expect(cpu.cr2 >>> 0).toBe(HOLE);
    expect([reg(cpu, 'ecx'), reg(cpu, 'edi')]).toEqual([2, HOLE]);
    expect(phys8(cpu, HOLE - 8, 8)).toEqual(new Array(8).fill(0xaa));
  });
  it('std; rep stosb going down into the missing page', () => {
    const { cpu, stop } = runSnippet('std\nrep stosb\nhlt', paging(regs({ edi: HOLE + 0x1000 + 2, ecx: 10, eax: 0x77 })));
    // writes HOLE+0x1002, +0x1001, +0x1000, then faults at HOLE+0xfff with 7 left
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 2, eip: CODE_BASE + 1 });
    expect(cpu.cr2 >>> 0).toBe(HOLE + 0xfff);
    expect([reg(cpu, 'ecx'), reg(cpu, 'edi')]).toEqual([7, HOLE + 0xfff]);
  });
  it('repe cmpsb reaching the missing page keeps the count of compared bytes', () => {
    const { cpu, stop } = runSnippet('repe cmpsb\nhlt', paging(regs({ esi: HOLE - 4, edi: 0x40000, ecx: 100 })));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 0 });
    expect([reg(cpu, 'ecx'), reg(cpu, 'esi'), reg(cpu, 'edi')]).toEqual([96, HOLE, 0x40004]);
  });
});

describe('instruction fetch faults', () => {
  it('instructions just before a missing page run; the fetch at the page start faults with EIP = CR2 = page start', () => {
    // jump to HOLE-2 where "inc eax; inc eax" sit at the very end of the present page 0x2f000
    const { cpu, stop } = runSnippet(`mov ebx, ${HOLE - 2}\njmp ebx`, paging((c) => {
      c.mem.u8[HOLE - 2] = 0x40;
      c.mem.u8[HOLE - 1] = 0x40;
    }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 0, eip: HOLE });
    expect(cpu.cr2 >>> 0).toBe(HOLE);
    expect(reg(cpu, 'eax')).toBe(2);
  });
  it('an instruction straddling into a missing page faults at its first byte, CR2 = page start', () => {
    // mov eax, imm32 (B8 + 4 bytes) starting at HOLE-3: bytes HOLE-3..HOLE+1
    const { cpu, stop } = runSnippet(`mov ebx, ${HOLE - 4}\njmp ebx`, paging((c) => {
      c.mem.u8[HOLE - 4] = 0x40; // inc eax
      c.mem.u8[HOLE - 3] = 0xb8;
    }), { budget: 10000 });
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 0, eip: HOLE - 3 });
    expect(cpu.cr2 >>> 0).toBe(HOLE);
    expect(reg(cpu, 'eax')).toBe(1);
  });
  it('jmp into a missing page: EIP = target', () => {
    const { cpu, stop } = runSnippet(`mov eax, ${HOLE + 0x40}\njmp eax`, paging());
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 0, eip: HOLE + 0x40 });
    expect(cpu.cr2 >>> 0).toBe(HOLE + 0x40);
  });
});

describe('paging details used by the instructions above', () => {
  it('accessed and dirty bits: a read sets A, a write sets D', () => {
    const { cpu } = runSnippet('mov eax, dword ptr [0x40000]\nmov dword ptr [0x41000], eax\nhlt', paging());
    const pte = (page: number): number => cpu.mem.u32[(PT + 4 * page) >>> 2]! & 0x60;
    expect(pte(0x40)).toBe(0x20);
    expect(pte(0x41)).toBe(0x60);
  });
  it('a supervisor write to a read-only page: allowed with CR0.WP = 0, #PF (error 3) with WP = 1', () => {
    const ro = paging((c) => { c.mem.write32(PT + 4 * 0x40, 0x40000 | 1); });
    const a = runSnippet('mov dword ptr [0x40000], 5\nhlt', ro);
    expect(a.stop).toEqual({ kind: 'halted' });
    expect(a.cpu.mem.u32[0x40000 >>> 2]).toBe(5);
    const b = runSnippet('mov dword ptr [0x40000], 5\nhlt', (c) => { ro(c); c.writeControlRegister(0, c.cr0 | 0x10000); });
    expect(b.stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 3 });
    expect(b.cpu.mem.u32[0x40000 >>> 2]).toBe(0);
  });
  it('invlpg makes a changed PTE visible', () => {
    // read 0x40000 (maps 0x40000), remap it to 0x41000, invlpg, read again
    const { cpu } = runSnippet(
      [`mov eax, dword ptr [0x40000]`, `mov dword ptr [${PT + 4 * 0x40}], 0x41003`, 'invlpg [0x40000]', 'mov ebx, dword ptr [0x40000]', 'hlt'].join('\n'),
      paging((c) => { c.mem.u32[0x40000 >>> 2] = 0x1111; c.mem.u32[0x41000 >>> 2] = 0x2222; }),
    );
    expect(reg(cpu, 'eax')).toBe(0x1111);
    expect(reg(cpu, 'ebx')).toBe(0x2222);
  });
});

describe('read-only pages (CR0.WP = 1) and instructions that only look like accesses', () => {
  const RO = 0x40000;
  const roSetup = (more?: Setup): Setup => paging((c) => {
    c.mem.write32(PT + 4 * 0x40, RO | 1); // present, read-only
    c.mem.u32[RO >>> 2] = 7;
    c.writeControlRegister(0, c.cr0 | 0x10000);
    more?.(c);
  });
  it('reading a read-only page is fine; add [ro], 1 → #PF error 3 and memory unchanged', () => {
    const ok = runSnippet(`mov eax, dword ptr [${RO}]\nhlt`, roSetup());
    expect(ok.stop).toEqual({ kind: 'halted' });
    expect(reg(ok.cpu, 'eax')).toBe(7);
    const { cpu, stop } = runSnippet(`add dword ptr [${RO}], 1\nhlt`, roSetup());
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 3, eip: CODE_BASE });
    expect(cpu.mem.u32[RO >>> 2]).toBe(7);
  });
  it('a failing cmpxchg still writes the destination back, so a read-only destination faults (SDM CMPXCHG)', () => {
    const { cpu, stop } = runSnippet(`cmpxchg dword ptr [${RO}], ecx\nhlt`, roSetup(regs({ eax: 1, ecx: 2 })));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 3 });
    expect(reg(cpu, 'eax')).toBe(1);
  });
  it('bt on a read-only page is fine; bts faults with error 3', () => {
    expect(runSnippet(`bt dword ptr [${RO}], 0\nhlt`, roSetup()).stop).toEqual({ kind: 'halted' });
    expect(runSnippet(`bts dword ptr [${RO}], 0\nhlt`, roSetup()).stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 3 });
  });
  it('movsb into a read-only page faults with error 3, ESI/EDI unchanged', () => {
    const { cpu, stop } = runSnippet('movsb\nhlt', roSetup(regs({ esi: 0x20000, edi: RO })));
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 3 });
    expect([reg(cpu, 'esi'), reg(cpu, 'edi')]).toEqual([0x20000, RO]);
  });
  it('nop dword ptr [missing] (0F 1F /0) and lea of a missing address do not access memory', () => {
    const { cpu, stop } = runSnippet(`nop dword ptr [${HOLE}]\nlea eax, [${HOLE + 4}]\nhlt`, paging());
    expect(stop).toEqual({ kind: 'halted' });
    expect(reg(cpu, 'eax')).toBe(HOLE + 4);
  });
});

it('cmovcc always reads its memory source (SDM: temp ← SRC before the condition test)', () => {
  const { stop } = runSnippet(`cmovz eax, dword ptr [${HOLE}]\nhlt`, paging(regs({}, 0)));
  expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 0 });
});
