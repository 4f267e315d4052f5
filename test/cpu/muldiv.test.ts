/**
 * MUL / IMUL / DIV / IDIV (SDM Vol. 2). Hand-derived rules:
 *  - MUL: CF = OF = 1 iff the upper half of the product is non-zero.
 *  - IMUL (all forms): CF = OF = 1 iff the signed product does not fit in
 *    the destination (i.e. the full product is not the sign extension of
 *    the truncated one). SF, ZF, AF, PF are undefined: not checked.
 *  - DIV/IDIV: quotient truncated toward zero, remainder has the sign of
 *    the dividend; divisor 0 or a quotient out of range raises #DE (a
 *    fault: EIP of the DIV, registers unchanged). All flags undefined.
 */
import { describe, expect, it } from 'vitest';
import { CF, OF } from '../../src/cpu/flags.js';
import { CODE_BASE, DATA, F, flagStr, reg, regs, runHalted, runSnippet } from '../helpers/asm.js';
import type { Reg32 } from '../helpers/asm.js';

const MUL_MASK = CF | OF;

function expectRegs(cpu: ReturnType<typeof runHalted>, want: Partial<Record<Reg32, number>>): void {
  for (const [r, v] of Object.entries(want)) expect(`${r}=${reg(cpu, r as Reg32).toString(16)}`).toBe(`${r}=${((v as number) >>> 0).toString(16)}`);
}

describe('MUL', () => {
  it('mul ebx: 0x80000000 * 2 = 0x1_00000000 → EDX=1, EAX=0, CF=OF=1', () => {
    const cpu = runHalted('mul ebx', regs({ eax: 0x80000000, ebx: 2, edx: 0x5555 }));
    expectRegs(cpu, { eax: 0, edx: 1 });
    expect(flagStr(cpu, MUL_MASK)).toBe('OF CF');
  });
  it('mul ebx: 0xffffffff^2 = 0xfffffffe_00000001', () => {
    const cpu = runHalted('mul ebx', regs({ eax: 0xffffffff, ebx: 0xffffffff }));
    expectRegs(cpu, { eax: 1, edx: 0xfffffffe });
    expect(flagStr(cpu, MUL_MASK)).toBe('OF CF');
  });
  it('mul ebx: 3*5 = 15 fits, CF=OF=0, EDX cleared', () => {
    const cpu = runHalted('mul ebx', regs({ eax: 3, ebx: 5, edx: 0xffffffff }, F('CF OF')));
    expectRegs(cpu, { eax: 15, edx: 0 });
    expect(flagStr(cpu, MUL_MASK)).toBe('');
  });
  it('mul bl: AX = AL*BL = 0x0100 → CF=OF=1; EDX untouched, upper EAX kept', () => {
    const cpu = runHalted('mul bl', regs({ eax: 0x12345610, ebx: 0x10, edx: 0xdddddddd }));
    expectRegs(cpu, { eax: 0x12340100, edx: 0xdddddddd });
    expect(flagStr(cpu, MUL_MASK)).toBe('OF CF');
  });
  it('mul bl: 0x0f*0x0f = 0xe1 fits in AL', () => {
    const cpu = runHalted('mul bl', regs({ eax: 0xff0f, ebx: 0x0f }, F('CF OF')));
    expectRegs(cpu, { eax: 0x00e1 });
    expect(flagStr(cpu, MUL_MASK)).toBe('');
  });
  it('mul bx: 0xffff*0xffff = 0xfffe0001 in DX:AX, upper halves kept', () => {
    const cpu = runHalted('mul bx', regs({ eax: 0x1111ffff, ebx: 0xffff, edx: 0x22223333 }));
    expectRegs(cpu, { eax: 0x11110001, edx: 0x2222fffe });
    expect(flagStr(cpu, MUL_MASK)).toBe('OF CF');
  });
  it('mul dword ptr [mem]', () => {
    const cpu = runHalted(`mul dword ptr [${DATA}]`, (c) => { c.write32(DATA, 0x10000); c.regs[0] = 0x10000; });
    expectRegs(cpu, { eax: 0, edx: 1 });
    expect(flagStr(cpu, MUL_MASK)).toBe('OF CF');
  });
});

describe('IMUL', () => {
  it('imul ebx (one operand): -1 * -1 = 1, EDX = 0', () => {
    const cpu = runHalted('imul ebx', regs({ eax: 0xffffffff, ebx: 0xffffffff, edx: 7 }, F('CF OF')));
    expectRegs(cpu, { eax: 1, edx: 0 });
    expect(flagStr(cpu, MUL_MASK)).toBe('');
  });
  it('imul ebx: 0x40000000*2 = +2^31 does not fit in EAX (EDX=0 ≠ sign of EAX)', () => {
    const cpu = runHalted('imul ebx', regs({ eax: 0x40000000, ebx: 2 }));
    expectRegs(cpu, { eax: 0x80000000, edx: 0 });
    expect(flagStr(cpu, MUL_MASK)).toBe('OF CF');
  });
  it('imul ebx: -2 * 0x40000000 = -2^31 fits (EDX = 0xffffffff)', () => {
    const cpu = runHalted('imul ebx', regs({ eax: 0xfffffffe, ebx: 0x40000000 }, F('CF OF')));
    expectRegs(cpu, { eax: 0x80000000, edx: 0xffffffff });
    expect(flagStr(cpu, MUL_MASK)).toBe('');
  });
  it('imul bl: -128 * -1 = +128 = 0x0080 does not fit in AL', () => {
    const cpu = runHalted('imul bl', regs({ eax: 0x80, ebx: 0xff }));
    expectRegs(cpu, { eax: 0x0080 });
    expect(flagStr(cpu, MUL_MASK)).toBe('OF CF');
  });
  it('imul bl: -8 * 16 = -128 = 0xff80 fits', () => {
    const cpu = runHalted('imul bl', regs({ eax: 0xf8, ebx: 0x10 }, F('CF OF')));
    expectRegs(cpu, { eax: 0xff80 });
    expect(flagStr(cpu, MUL_MASK)).toBe('');
  });
  it('imul cx (one operand, 16-bit): 0x100*0x100 = 0x10000 → DX=1, AX=0', () => {
    const cpu = runHalted('imul cx', regs({ eax: 0xaaaa0100, ecx: 0x0100, edx: 0xbbbbbbbb }));
    expectRegs(cpu, { eax: 0xaaaa0000, edx: 0xbbbb0001 });
    expect(flagStr(cpu, MUL_MASK)).toBe('OF CF');
  });
  it('imul eax, ebx (two operands, 0F AF): 0x10000*0x10000 truncates to 0 with CF=OF=1', () => {
    const cpu = runHalted('imul eax, ebx', regs({ eax: 0x10000, ebx: 0x10000, edx: 0x1234 }));
    expectRegs(cpu, { eax: 0, edx: 0x1234 });
    expect(flagStr(cpu, MUL_MASK)).toBe('OF CF');
  });
  it('imul eax, ebx: -3 * 7 = -21', () => {
    const cpu = runHalted('imul eax, ebx', regs({ eax: 0xfffffffd, ebx: 7 }, F('CF OF')));
    expectRegs(cpu, { eax: 0xffffffeb });
    expect(flagStr(cpu, MUL_MASK)).toBe('');
  });
  it('imul eax, ebx, -2 (three operands, 6B ib): 0x40000000 * -2 = -2^31 fits', () => {
    const cpu = runHalted('imul eax, ebx, -2', regs({ eax: 0x5555, ebx: 0x40000000 }, F('CF OF')));
    expectRegs(cpu, { eax: 0x80000000, ebx: 0x40000000 });
    expect(flagStr(cpu, MUL_MASK)).toBe('');
  });
  it('imul ecx, ebx, 1000 (69 id)', () => {
    const cpu = runHalted('imul ecx, ebx, 1000', regs({ ebx: 5 }));
    expectRegs(cpu, { ecx: 5000 });
    expect(flagStr(cpu, MUL_MASK)).toBe('');
  });
  it('imul ecx, dword ptr [mem], 16: 0x10000000*16 overflows to 0', () => {
    const cpu = runHalted(`imul ecx, dword ptr [${DATA}], 16`, (c) => c.write32(DATA, 0x10000000));
    expectRegs(cpu, { ecx: 0 });
    expect(flagStr(cpu, MUL_MASK)).toBe('OF CF');
  });
  it('imul ax, bx, 0x100 (16-bit three-operand) overflows, upper EAX kept', () => {
    const cpu = runHalted('imul ax, bx, 0x100', regs({ eax: 0xcccc1111, ebx: 0x0100 }));
    expectRegs(cpu, { eax: 0xcccc0000 });
    expect(flagStr(cpu, MUL_MASK)).toBe('OF CF');
  });
  it('imul ax, bx (16-bit two-operand): 0xff*0x80 = 0x7f80 fits', () => {
    const cpu = runHalted('imul ax, bx', regs({ eax: 0x000000ff, ebx: 0x80 }, F('CF OF')));
    expectRegs(cpu, { eax: 0x7f80 });
    expect(flagStr(cpu, MUL_MASK)).toBe('');
  });
  it('imul ax, bx: 0x4000*2 = +0x8000 does not fit in signed 16 bits', () => {
    const cpu = runHalted('imul ax, bx', regs({ eax: 0x4000, ebx: 2 }));
    expectRegs(cpu, { eax: 0x8000 });
    expect(flagStr(cpu, MUL_MASK)).toBe('OF CF');
  });
});

describe('DIV', () => {
  it('div ebx: 0x1_00000000 / 2 = 0x80000000 r 0', () => {
    const cpu = runHalted('div ebx', regs({ edx: 1, eax: 0, ebx: 2 }));
    expectRegs(cpu, { eax: 0x80000000, edx: 0 });
  });
  it('div ebx: 100 / 7 = 14 r 2', () => {
    const cpu = runHalted('div ebx', regs({ edx: 0, eax: 100, ebx: 7 }));
    expectRegs(cpu, { eax: 14, edx: 2 });
  });
  it('div ebx: 0xffffffff_ffffffff / 0xffffffff: quotient 0x1_00000001 overflows → #DE', () => {
    const { cpu, stop } = runSnippet('div ebx\nhlt', regs({ edx: 0xffffffff, eax: 0xffffffff, ebx: 0xffffffff }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 0, eip: CODE_BASE });
    expectRegs(cpu, { eax: 0xffffffff, edx: 0xffffffff });
  });
  it('div ebx: 0xfffffffe_ffffffff / 0xffffffff = 0xffffffff r 0xfffffffe (largest quotient)', () => {
    const cpu = runHalted('div ebx', regs({ edx: 0xfffffffe, eax: 0xffffffff, ebx: 0xffffffff }));
    expectRegs(cpu, { eax: 0xffffffff, edx: 0xfffffffe });
  });
  it('div by zero → #DE at the DIV, registers unchanged', () => {
    const { cpu, stop } = runSnippet('div ebx\nhlt', regs({ edx: 0, eax: 1234, ebx: 0 }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 0, eip: CODE_BASE });
    expectRegs(cpu, { eax: 1234, edx: 0 });
    expect(cpu.eip).toBe(CODE_BASE);
  });
  it('div ebx: quotient 0x1_00000000 overflows → #DE', () => {
    const { cpu, stop } = runSnippet('nop\ndiv ebx\nhlt', regs({ edx: 2, eax: 0, ebx: 2 }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 0, eip: CODE_BASE + 1 });
    expectRegs(cpu, { eax: 0, edx: 2 });
  });
  it('div bl: AX=0x0100 / 2 = AL 0x80, AH 0; upper EAX kept', () => {
    const cpu = runHalted('div bl', regs({ eax: 0x99990100, ebx: 2, edx: 0x77 }));
    expectRegs(cpu, { eax: 0x99990080, edx: 0x77 });
  });
  it('div bl: AX=0x0200 / 2 = 0x100 overflows AL → #DE', () => {
    const { stop } = runSnippet('div bl\nhlt', regs({ eax: 0x0200, ebx: 2 }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 0 });
  });
  it('div cx: DX:AX = 65536 / 3 = 0x5555 r 1', () => {
    const cpu = runHalted('div cx', regs({ edx: 0xabcd0001, eax: 0x12340000, ecx: 3 }));
    expectRegs(cpu, { eax: 0x12345555, edx: 0xabcd0001 });
  });
  it('div dword ptr [mem]', () => {
    const cpu = runHalted(`div dword ptr [${DATA}]`, (c) => { c.write32(DATA, 10); c.regs[0] = 99; c.regs[2] = 0; });
    expectRegs(cpu, { eax: 9, edx: 9 });
  });
  it('div byte ptr [mem] by zero → #DE', () => {
    const { stop } = runSnippet(`div byte ptr [${DATA}]\nhlt`, regs({ eax: 5 }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 0, eip: CODE_BASE });
  });
});

describe('IDIV', () => {
  it('idiv ebx: -7 / 2 = -3 r -1 (truncation toward zero)', () => {
    const cpu = runHalted('idiv ebx', regs({ edx: 0xffffffff, eax: 0xfffffff9, ebx: 2 }));
    expectRegs(cpu, { eax: 0xfffffffd, edx: 0xffffffff });
  });
  it('idiv ebx: 7 / -2 = -3 r 1 (remainder has the sign of the dividend)', () => {
    const cpu = runHalted('idiv ebx', regs({ edx: 0, eax: 7, ebx: 0xfffffffe }));
    expectRegs(cpu, { eax: 0xfffffffd, edx: 1 });
  });
  it('idiv ebx: -2^31 / -1 = +2^31 overflows → #DE', () => {
    const { cpu, stop } = runSnippet('idiv ebx\nhlt', regs({ edx: 0xffffffff, eax: 0x80000000, ebx: 0xffffffff }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 0, eip: CODE_BASE });
    expectRegs(cpu, { eax: 0x80000000, edx: 0xffffffff });
  });
  it('idiv ebx: +2^31 / -1 = -2^31 fits', () => {
    const cpu = runHalted('idiv ebx', regs({ edx: 0, eax: 0x80000000, ebx: 0xffffffff }));
    expectRegs(cpu, { eax: 0x80000000, edx: 0 });
  });
  it('idiv ebx by zero → #DE', () => {
    const { stop } = runSnippet('idiv ebx\nhlt', regs({ edx: 0, eax: 1, ebx: 0 }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 0, eip: CODE_BASE });
  });
  it('idiv bl: -128 / -1 = +128 overflows AL → #DE', () => {
    const { stop } = runSnippet('idiv bl\nhlt', regs({ eax: 0xff80, ebx: 0xff }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 0 });
  });
  it('idiv bl: +256 / 2 = +128 overflows AL → #DE', () => {
    const { stop } = runSnippet('idiv bl\nhlt', regs({ eax: 0x0100, ebx: 2 }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 0 });
  });
  it('idiv bl: -256 / 2 = -128 fits: AL=0x80, AH=0', () => {
    const cpu = runHalted('idiv bl', regs({ eax: 0x1234ff00, ebx: 2 }));
    expectRegs(cpu, { eax: 0x12340080 });
  });
  it('idiv bl: -128 / 2 = -64 r 0', () => {
    const cpu = runHalted('idiv bl', regs({ eax: 0xff80, ebx: 2 }));
    expectRegs(cpu, { eax: 0x00c0 });
  });
  it('idiv bl: -7 / 2 = -3 r -1 → AH=0xff, AL=0xfd', () => {
    const cpu = runHalted('idiv bl', regs({ eax: 0xfff9, ebx: 2 }));
    expectRegs(cpu, { eax: 0xfffd });
  });
  it('idiv cx: DX:AX = -5 / 2 = -2 r -1', () => {
    const cpu = runHalted('idiv cx', regs({ edx: 0x1111ffff, eax: 0x2222fffb, ecx: 2 }));
    expectRegs(cpu, { eax: 0x2222fffe, edx: 0x1111ffff });
  });
  it('idiv cx: -32768 / -1 overflows → #DE', () => {
    const { stop } = runSnippet('idiv cx\nhlt', regs({ edx: 0xffff, eax: 0x8000, ecx: 0xffff }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 0 });
  });
  it('idiv dword ptr [mem]: -100 / 7 = -14 r -2', () => {
    const cpu = runHalted(`idiv dword ptr [${DATA}]`, (c) => { c.write32(DATA, 7); c.regs[0] = -100; c.regs[2] = -1; });
    expectRegs(cpu, { eax: 0xfffffff2, edx: 0xfffffffe });
  });
});

describe('more multiply/divide forms', () => {
  it('CF from MUL feeds a following ADC', () => {
    const cpu = runHalted('mul ebx\nadc ecx, 0', regs({ eax: 0x80000000, ebx: 2, ecx: 0 }));
    expect(reg(cpu, 'ecx')).toBe(1);
  });
  it('imul ax, bx, -1 (6B, 16-bit): -32768 * -1 overflows', () => {
    const cpu = runHalted('imul ax, bx, -1', regs({ eax: 0x55550000, ebx: 0x8000 }));
    expectRegs(cpu, { eax: 0x55558000 });
    expect(flagStr(cpu, MUL_MASK)).toBe('OF CF');
  });
  it('imul eax, ebx, -1 with 0x80000000 overflows', () => {
    const cpu = runHalted('imul eax, ebx, -1', regs({ ebx: 0x80000000 }));
    expectRegs(cpu, { eax: 0x80000000 });
    expect(flagStr(cpu, MUL_MASK)).toBe('OF CF');
  });
  it('imul byte ptr [mem]: -2 * 100 = -200 = 0xff38 does not fit in AL', () => {
    const cpu = runHalted(`imul byte ptr [${DATA}]`, (c) => { c.write8(DATA, 100); c.regs[0] = 0xfe; });
    expectRegs(cpu, { eax: 0xff38 });
    expect(flagStr(cpu, MUL_MASK)).toBe('OF CF');
  });
  it('mul word ptr [mem] with a 16-bit result fits', () => {
    const cpu = runHalted(`mul word ptr [${DATA}]`, (c) => { c.write16(DATA, 0x100); regs({ eax: 0xff, edx: 0xffffffff })(c); });
    expectRegs(cpu, { eax: 0xff00, edx: 0xffff0000 });
    expect(flagStr(cpu, MUL_MASK)).toBe('');
  });
  it('div cx: DX:AX = 0x30000 / 3 = 0x10000 overflows → #DE', () => {
    const { stop } = runSnippet('div cx\nhlt', regs({ edx: 3, eax: 0, ecx: 3 }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 0 });
  });
  it('idiv ecx with a negative divisor and negative dividend: -9 / -4 = 2 r -1', () => {
    const cpu = runHalted('idiv ecx', regs({ edx: 0xffffffff, eax: 0xfffffff7, ecx: 0xfffffffc }));
    expectRegs(cpu, { eax: 2, edx: 0xffffffff });
  });
});
