/**
 * Decimal adjust instructions (SDM Vol. 2 DAA, DAS, AAA, AAS, AAM, AAD),
 * every value derived from the SDM "Operation" pseudocode:
 *   DAA: if (AL&0F)>9 or AF: AL+=6, AF=1, CF=oldCF|carry; if oldAL>99h or oldCF: AL+=60h, CF=1
 *   DAS: same with subtraction
 *   AAA: if (AL&0F)>9 or AF: AX+=106h, AF=CF=1 else AF=CF=0; AL&=0F
 *   AAS: if (AL&0F)>9 or AF: AX-=6, AH-=1, AF=CF=1 else AF=CF=0; AL&=0F
 *   AAM ib: AH=AL/ib, AL=AL%ib (ib=0 → #DE); AAD ib: AL=(AL+AH*ib)&FF, AH=0
 * Defined flags: DAA/DAS SF ZF AF PF CF (OF undefined); AAA/AAS AF CF;
 * AAM/AAD SF ZF PF.
 */
import { describe, expect, it } from 'vitest';
import { CODE_BASE, F, flagNames, flagStr, reg, regs, runHalted, runSnippet } from '../helpers/asm.js';

const DAA_MASK = F('SF ZF AF PF CF');
const AAA_MASK = F('AF CF');
const AAM_MASK = F('SF ZF PF');

function check(cpu: ReturnType<typeof runHalted>, eax: number, flags: string, mask: number): void {
  expect(reg(cpu, 'eax').toString(16)).toBe(eax.toString(16));
  expect(flagStr(cpu, mask)).toBe(flagNames(F(flags), mask));
}

describe('DAA', () => {
  it('SDM example: 79h + 35h = AEh, DAA → 14h with CF (79+35 = 114)', () => {
    check(runHalted('add al, bl\ndaa', regs({ eax: 0x1200 | 0x79, ebx: 0x35 })), 0x1214, 'AF PF CF', DAA_MASK);
  });
  it('SDM example: AL = 2Eh, AF = CF = 0 → 34h', () => {
    check(runHalted('daa', regs({ eax: 0x2e }, 0)), 0x34, 'AF', DAA_MASK);
  });
  it('99h + 01h = 9Ah → 00h with CF and ZF (99+1 = 100)', () => {
    check(runHalted('add al, bl\ndaa', regs({ eax: 0x99, ebx: 0x01 })), 0x00, 'ZF AF PF CF', DAA_MASK);
  });
  it('08h + 08h = 10h with AF → 16h', () => {
    check(runHalted('add al, bl\ndaa', regs({ eax: 0x08, ebx: 0x08 })), 0x16, 'AF', DAA_MASK);
  });
  it('90h + 90h = 20h with CF → 80h, CF kept (90+90 = 180)', () => {
    check(runHalted('add al, bl\ndaa', regs({ eax: 0x90, ebx: 0x90 })), 0x80, 'SF CF', DAA_MASK);
  });
});

describe('DAS', () => {
  it('SDM example: 35h - 47h = EEh (CF, AF), DAS → 88h with CF (35-47 = -12)', () => {
    check(runHalted('sub al, bl\ndas', regs({ eax: 0x35, ebx: 0x47 })), 0x88, 'SF AF PF CF', DAA_MASK);
  });
  it('40h - 01h = 3Fh (AF), DAS → 39h', () => {
    check(runHalted('sub al, bl\ndas', regs({ eax: 0x40, ebx: 0x01 })), 0x39, 'AF PF', DAA_MASK);
  });
  it('10h - 10h = 0 needs no adjustment', () => {
    check(runHalted('sub al, bl\ndas', regs({ eax: 0x10, ebx: 0x10 })), 0x00, 'ZF PF', DAA_MASK);
  });
});

describe('AAA / AAS', () => {
  it("'9' + '5' = 6Eh, AAA → AX = 0104h (14)", () => {
    check(runHalted('add al, bl\naaa', regs({ eax: 0x39, ebx: 0x35 })), 0x0104, 'AF CF', AAA_MASK);
  });
  it("'8' + '9' = 71h with AF, AAA → AX = 0107h (17)", () => {
    check(runHalted('add al, bl\naaa', regs({ eax: 0x38, ebx: 0x39 })), 0x0107, 'AF CF', AAA_MASK);
  });
  it("'5' + '2' = 67h, AAA → AX = 0007h, no carry", () => {
    check(runHalted('add al, bl\naaa', regs({ eax: 0x35, ebx: 0x32 }, F('CF AF'))), 0x0007, '', AAA_MASK);
  });
  it('AAA increments a non-zero AH', () => {
    check(runHalted('aaa', regs({ eax: 0xabcd056e }, 0)), 0xabcd0604, 'AF CF', AAA_MASK);
  });
  it("'3' - '5' = FEh (AF, CF), AAS → AX = FF08h", () => {
    check(runHalted('sub al, bl\naas', regs({ eax: 0x33, ebx: 0x35 })), 0xff08, 'AF CF', AAA_MASK);
  });
  it("'8' - '3' = 05h, AAS → AX = 0005h, no borrow", () => {
    check(runHalted('sub al, bl\naas', regs({ eax: 0x38, ebx: 0x33 }, F('CF AF'))), 0x0005, '', AAA_MASK);
  });
  it('AH=3: 31h - 39h = F8h (AF), AAS → AX = 0202h (31 - 9 = 22)', () => {
    check(runHalted('sub al, bl\naas', regs({ eax: 0x0331, ebx: 0x39 })), 0x0202, 'AF CF', AAA_MASK);
  });
});

describe('AAM / AAD', () => {
  it('aam: AL = 63 → AH = 6, AL = 3', () => {
    check(runHalted('aam', regs({ eax: 0xffff003f })), 0xffff0603, 'PF', AAM_MASK);
  });
  it('aam 16 (D4 10): 3Fh → AH = 3, AL = 0Fh', () => {
    check(runHalted('.byte 0xd4, 0x10', regs({ eax: 0x3f })), 0x030f, 'PF', AAM_MASK);
  });
  it('aam with AL = 0 → ZF PF', () => {
    check(runHalted('aam', regs({ eax: 0x1200 })), 0x0000, 'ZF PF', AAM_MASK);
  });
  it('mul then aam: 7*8 = 56 → AX = 0506h', () => {
    check(runHalted('mul bl\naam', regs({ eax: 7, ebx: 8 })), 0x0506, 'PF', AAM_MASK);
  });
  it('aam 0 (D4 00) → #DE at the instruction, AX unchanged', () => {
    const { cpu, stop } = runSnippet('nop\n.byte 0xd4, 0x00\nhlt', regs({ eax: 0x1234 }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 0, eip: CODE_BASE + 1 });
    expect(reg(cpu, 'eax')).toBe(0x1234);
  });
  it('aad: AX = 0603h → 003Fh', () => {
    check(runHalted('aad', regs({ eax: 0x0603 })), 0x003f, 'PF', AAM_MASK);
  });
  it('aad 16 (D5 10): AX = 0305h → 0035h', () => {
    check(runHalted('.byte 0xd5, 0x10', regs({ eax: 0x0305 })), 0x0035, 'PF', AAM_MASK);
  });
  it('aad wraps: AX = 1A0Ah → 26*10+10 = 270 → 0Eh', () => {
    check(runHalted('aad', regs({ eax: 0x1a0a }, F('ZF PF SF'))), 0x000e, '', AAM_MASK);
  });
  it('aad: AX = 0D00h → 130 = 82h sets SF', () => {
    check(runHalted('aad', regs({ eax: 0x77770d00 })), 0x77770082, 'SF PF', AAM_MASK);
  });
});

describe('AAA / AAS carry into / borrow from AH through AX (SDM pseudocode uses AX ± 106h / AX - 6)', () => {
  it('aaa with AL = FAh: AX = 00FAh + 106h = 0200h, AL &= 0Fh → 0200h', () => {
    check(runHalted('aaa', regs({ eax: 0x00fa }, 0)), 0x0200, 'AF CF', AAA_MASK);
  });
  it('aas with AX = 0205h and AF = 1: AX - 6 = 01FFh, AH - 1 = 00h, AL &= 0Fh → 000Fh', () => {
    check(runHalted('aas', regs({ eax: 0x0205 }, F('AF'))), 0x000f, 'AF CF', AAA_MASK);
  });
});
