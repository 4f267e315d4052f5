/**
 * Shifts and rotates (SDM Vol. 2 "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR",
 * "SHLD", "SHRD"). Rules used for the hand-derived expectations:
 *  - the count is masked to 5 bits; a masked count of 0 changes nothing,
 *    not even the flags;
 *  - CF = last bit shifted out (undefined for SHL/SHR when count >= width);
 *  - OF is defined only for 1-bit shifts: SHL: MSB(result) XOR CF;
 *    SHR: MSB(original); SAR: 0; otherwise undefined (masked out);
 *  - AF is undefined after a non-zero shift (always masked out);
 *  - ROL/ROR/RCL/RCR affect only CF and OF; 8/16-bit RCL/RCR rotate
 *    through 9/17 bits, so the effective count is (count & 1F) mod 9/17;
 *    8/16-bit ROL/ROR rotate by (count & 1F) mod 8/16, but still set CF
 *    from the result when the masked count is non-zero.
 */
import { describe, expect, it } from 'vitest';
import { ARITH, AF, OF } from '../../src/cpu/flags.js';
import { DATA, F, flagNames, flagStr, rd32, reg, regs, runHalted } from '../helpers/asm.js';

const SHIFT_MASK = ARITH & ~AF; // count 1: everything but AF is defined
const SHIFTN_MASK = ARITH & ~AF & ~OF; // count > 1
const ROT1_MASK = ARITH; // rotates: CF, OF written; SF ZF AF PF unchanged
const ROTN_MASK = ARITH & ~OF;

function check(cpu: ReturnType<typeof runHalted>, r: 'eax' | 'ebx' | 'ecx' | 'edx', value: number, flags: string, mask: number): void {
  expect(reg(cpu, r).toString(16)).toBe((value >>> 0).toString(16));
  expect(flagStr(cpu, mask)).toBe(flagNames(F(flags), mask));
}

describe('SHL / SAL', () => {
  it('shl eax, 1 (D1 /4): 0x80000001 → 2, CF=1, OF=MSB^CF=1', () => {
    check(runHalted('shl eax, 1', regs({ eax: 0x80000001 })), 'eax', 2, 'OF CF', SHIFT_MASK);
  });
  it('shl eax, 1: 0x40000000 → 0x80000000 sets OF (sign changed), CF=0', () => {
    check(runHalted('shl eax, 1', regs({ eax: 0x40000000 }, F('CF'))), 'eax', 0x80000000, 'OF SF PF', SHIFT_MASK);
  });
  it('sal al, 4 (C0 /4 ib): 0x1f → 0xf0, CF = original bit 4', () => {
    check(runHalted('sal al, 4', regs({ eax: 0xabcdef1f })), 'eax', 0xabcdeff0, 'SF PF CF', SHIFTN_MASK);
  });
  it('shl eax, cl with CL=33 shifts by 1 (count masked to 5 bits)', () => {
    check(runHalted('shl eax, cl', regs({ eax: 0x80000001, ecx: 33 })), 'eax', 2, 'OF CF', SHIFT_MASK);
  });
  it('shl eax, cl with CL=32 (masked count 0) leaves value and lazily pending flags unchanged', () => {
    // add ebx,ebx: 0x80000000*2 = 0 → CF OF ZF PF; the shift by 0 must not disturb them.
    const cpu = runHalted('add ebx, ebx\nshl eax, cl', regs({ eax: 0x12345678, ebx: 0x80000000, ecx: 32 }));
    check(cpu, 'eax', 0x12345678, 'OF ZF PF CF', ARITH);
  });
  it('shl eax, cl with CL=0 keeps preset flags', () => {
    check(runHalted('shl eax, cl', regs({ eax: 0x80000000, ecx: 0 }, F('SF AF CF'))), 'eax', 0x80000000, 'SF AF CF', ARITH);
  });
  it('shl al, cl with CL=8: the 8-bit operand is not masked to 3 bits, result 0', () => {
    // CF is undefined for SHL with count >= width: only ZF/SF/PF checked.
    check(runHalted('shl al, cl', regs({ eax: 0x1201, ecx: 8 })), 'eax', 0x1200, 'ZF PF', F('ZF SF PF'));
  });
  it('shl ax, cl with CL=20 clears AX, upper half kept', () => {
    check(runHalted('shl ax, cl', regs({ eax: 0x7777ffff, ecx: 20 })), 'eax', 0x77770000, 'ZF PF', F('ZF SF PF'));
  });
  it('shl byte ptr [mem], 1: 0xc0 → 0x80, OF = 1 XOR 1 = 0', () => {
    const cpu = runHalted(`shl byte ptr [${DATA}], 1`, (c) => c.write32(DATA, 0x555555c0));
    expect(rd32(cpu, DATA).toString(16)).toBe('55555580');
    expect(flagStr(cpu, SHIFT_MASK)).toBe(flagNames(F('SF CF')));
  });
  it('shl dword ptr [mem], cl (D3 /4) by 4', () => {
    const cpu = runHalted(`shl dword ptr [${DATA}], cl`, (c) => { c.write32(DATA, 0x12345678); c.regs[1] = 4; });
    expect(rd32(cpu, DATA).toString(16)).toBe('23456780');
    expect(flagStr(cpu, SHIFTN_MASK)).toBe('CF'); // bit 28 of 0x12345678 = 1; 0x80 odd parity
  });
});

describe('SHR', () => {
  it('shr eax, 1: 0x80000001 → 0x40000000, OF = original MSB', () => {
    check(runHalted('shr eax, 1', regs({ eax: 0x80000001 })), 'eax', 0x40000000, 'OF PF CF', SHIFT_MASK);
  });
  it('shr al, 3: 0x0f → 0x01, CF = original bit 2', () => {
    check(runHalted('shr al, 3', regs({ eax: 0xffffff0f })), 'eax', 0xffffff01, 'CF', SHIFTN_MASK);
  });
  it('shr eax, cl with CL=0 changes nothing', () => {
    check(runHalted('shr eax, cl', regs({ eax: 0xffffffff, ecx: 0x100 }, F('ZF'))), 'eax', 0xffffffff, 'ZF', ARITH);
  });
  it('shr ax, cl with CL=16 clears AX only', () => {
    check(runHalted('shr ax, cl', regs({ eax: 0x12348000, ecx: 16 })), 'eax', 0x12340000, 'ZF PF', F('ZF SF PF'));
  });
  it('shr word ptr [mem], 1: 1 → 0 with CF', () => {
    const cpu = runHalted(`shr word ptr [${DATA}], 1`, (c) => c.write32(DATA, 0xffff0001));
    expect(rd32(cpu, DATA).toString(16)).toBe('ffff0000');
    expect(flagStr(cpu, SHIFT_MASK)).toBe('ZF PF CF');
  });
  it('shr eax, 31: 0x80000000 → 1, CF = bit 30 = 0', () => {
    check(runHalted('shr eax, 31', regs({ eax: 0x80000000 }, F('CF'))), 'eax', 1, '', SHIFTN_MASK);
  });
});

describe('SAR', () => {
  it('sar eax, 1: 0x80000001 → 0xc0000000, OF cleared', () => {
    check(runHalted('sar eax, 1', regs({ eax: 0x80000001 }, F('OF'))), 'eax', 0xc0000000, 'SF PF CF', SHIFT_MASK);
  });
  it('sar al, 7: 0x80 → 0xff, CF = bit 6 = 0', () => {
    check(runHalted('sar al, 7', regs({ eax: 0x80 }, F('CF'))), 'eax', 0xff, 'SF PF', SHIFTN_MASK);
  });
  it('sar eax, cl with CL=31: 0x80000000 → 0xffffffff', () => {
    check(runHalted('sar eax, cl', regs({ eax: 0x80000000, ecx: 31 })), 'eax', 0xffffffff, 'SF PF', SHIFTN_MASK);
  });
  it('sar al, cl with CL=9 fills with the sign; the last bit out is a sign copy (CF=1)', () => {
    // SDM pseudocode: each step CF ← LSB(DEST), DEST ← DEST/2 (signed); after 8 steps DEST = 0xff.
    check(runHalted('sar al, cl', regs({ eax: 0x80, ecx: 9 })), 'eax', 0xff, 'SF PF CF', SHIFTN_MASK);
  });
  it('sar eax, cl with CL=4 on a positive value', () => {
    check(runHalted('sar eax, cl', regs({ eax: 0x12345678, ecx: 4 })), 'eax', 0x01234567, 'CF', SHIFTN_MASK);
  });
  it('sar dword ptr [mem], 1: -2 → -1', () => {
    const cpu = runHalted(`sar dword ptr [${DATA}], 1`, (c) => c.write32(DATA, 0xfffffffe));
    expect(rd32(cpu, DATA)).toBe(0xffffffff);
    expect(flagStr(cpu, SHIFT_MASK)).toBe('SF PF');
  });
});

describe('ROL / ROR (only CF and OF change)', () => {
  it('rol eax, 1: 0x80000000 → 1, CF=1, OF = MSB(result) XOR CF = 1; ZF untouched', () => {
    check(runHalted('rol eax, 1', regs({ eax: 0x80000000 }, F('ZF'))), 'eax', 1, 'OF ZF CF', ROT1_MASK);
  });
  it('rol al, 4: 0x12 → 0x21, CF = LSB(result); SF PF untouched', () => {
    check(runHalted('rol al, 4', regs({ eax: 0x12 }, F('SF PF'))), 'eax', 0x21, 'SF PF CF', ROTN_MASK);
  });
  it('rol al, cl with CL=9 rotates by 9 mod 8 = 1', () => {
    check(runHalted('rol al, cl', regs({ eax: 0x81, ecx: 9 })), 'eax', 0x03, 'CF', ROTN_MASK);
  });
  it('rol al, cl with CL=8: value unchanged but CF ← LSB(DEST) since the masked count is non-zero', () => {
    check(runHalted('rol al, cl', regs({ eax: 0x80, ecx: 8 }, F('CF AF'))), 'eax', 0x80, 'AF', ROTN_MASK);
  });
  it('rol eax, cl with CL=32 (masked 0) changes nothing', () => {
    check(runHalted('rol eax, cl', regs({ eax: 0x80000001, ecx: 32 }, F('OF CF'))), 'eax', 0x80000001, 'OF CF', ARITH);
  });
  it('rol word ptr [mem], 8 swaps the bytes', () => {
    const cpu = runHalted(`rol word ptr [${DATA}], 8`, (c) => { c.write32(DATA, 0xaaaa1234); c.setEflags(F('CF'), ARITH); });
    expect(rd32(cpu, DATA).toString(16)).toBe('aaaa3412');
    expect(flagStr(cpu, ROTN_MASK)).toBe(''); // CF = LSB(0x3412) = 0
  });
  it('rol ax, cl with CL=20 rotates by 20 mod 16 = 4', () => {
    check(runHalted('rol ax, cl', regs({ eax: 0xffff1234, ecx: 20 })), 'eax', 0xffff2341, 'CF', ROTN_MASK);
  });
  it('ror eax, 1: 1 → 0x80000000, CF = MSB(result), OF = MSB XOR next bit', () => {
    check(runHalted('ror eax, 1', regs({ eax: 1 })), 'eax', 0x80000000, 'OF CF', ROT1_MASK);
  });
  it('ror ax, 4: 0x1234 → 0x4123, upper half kept', () => {
    check(runHalted('ror ax, 4', regs({ eax: 0x99991234 }, F('CF'))), 'eax', 0x99994123, '', ROTN_MASK);
  });
  it('ror al, cl with CL=16: value unchanged, CF ← MSB(DEST)', () => {
    check(runHalted('ror al, cl', regs({ eax: 0x80, ecx: 16 })), 'eax', 0x80, 'CF', ROTN_MASK);
  });
  it('ror eax, cl with CL=64 (masked 0) changes nothing', () => {
    check(runHalted('ror eax, cl', regs({ eax: 1, ecx: 64 }, F('PF'))), 'eax', 1, 'PF', ARITH);
  });
  it('ror byte ptr [mem], 1: 0x01 → 0x80', () => {
    const cpu = runHalted(`ror byte ptr [${DATA}], 1`, (c) => c.write32(DATA, 0x01));
    expect(rd32(cpu, DATA)).toBe(0x80);
    expect(flagStr(cpu, ROT1_MASK)).toBe('OF CF');
  });
});

describe('RCL / RCR (rotate through CF)', () => {
  it('rcl eax, 1 with CF=1: 0x80000000 → 1, CF=1, OF = MSB(result) XOR CF = 1', () => {
    check(runHalted('rcl eax, 1', regs({ eax: 0x80000000 }, F('CF'))), 'eax', 1, 'OF CF', ROT1_MASK);
  });
  it('rcl al, 1 with CF=0: 0x40 → 0x80, OF=1', () => {
    check(runHalted('rcl al, 1', regs({ eax: 0x40 })), 'eax', 0x80, 'OF', ROT1_MASK);
  });
  it('rcl al, cl with CL=9 is the identity on the 9-bit CF:AL', () => {
    check(runHalted('rcl al, cl', regs({ eax: 0x55, ecx: 9 }, F('CF'))), 'eax', 0x55, 'CF', ROTN_MASK);
  });
  it('rcl al, cl with CL=10 rotates by 1', () => {
    check(runHalted('rcl al, cl', regs({ eax: 0x80, ecx: 10 })), 'eax', 0x00, 'CF', ROTN_MASK);
  });
  it('rcl ax, cl with CL=17 is the identity on the 17-bit CF:AX', () => {
    check(runHalted('rcl ax, cl', regs({ eax: 0x8001, ecx: 17 })), 'eax', 0x8001, '', ROTN_MASK);
  });
  it('rcl ax, cl with CL=18 rotates by 1', () => {
    check(runHalted('rcl ax, cl', regs({ eax: 0x8001, ecx: 18 })), 'eax', 0x0002, 'CF', ROTN_MASK);
  });
  it('rcl eax, cl with CL=33 rotates by 1 (32-bit: count & 1F, no mod 33)', () => {
    check(runHalted('rcl eax, cl', regs({ eax: 0x80000000, ecx: 33 })), 'eax', 0, 'CF', ROTN_MASK);
  });
  it('rcl eax, 4 with CF=1: old CF lands in bit 3, CF = original bit 28', () => {
    check(runHalted('rcl eax, 4', regs({ eax: 0x12345678 }, F('CF'))), 'eax', 0x23456788, 'CF', ROTN_MASK);
  });
  it('rcr eax, 1 with CF=1: 1 → 0x80000000, OF = MSB(orig) XOR CF(orig) = 1', () => {
    check(runHalted('rcr eax, 1', regs({ eax: 1 }, F('CF'))), 'eax', 0x80000000, 'OF CF', ROT1_MASK);
  });
  it('rcr al, 1 with CF=0: 0x81 → 0x40, CF=1, OF=1', () => {
    check(runHalted('rcr al, 1', regs({ eax: 0x81 })), 'eax', 0x40, 'OF CF', ROT1_MASK);
  });
  it('rcr al, 3 with CF=1: 0x01 → 0x60, CF=0', () => {
    // CF:AL = 1:00000001 → 1:10000000 → 0:11000000 → 0:01100000
    check(runHalted('rcr al, 3', regs({ eax: 0x01 }, F('CF'))), 'eax', 0x60, '', ROTN_MASK);
  });
  it('rcr byte ptr [mem], cl with CL=9 is the identity', () => {
    const cpu = runHalted(`rcr byte ptr [${DATA}], cl`, (c) => { c.write32(DATA, 0x5a); c.regs[1] = 9; });
    expect(rd32(cpu, DATA)).toBe(0x5a);
    expect(flagStr(cpu, ROTN_MASK)).toBe('');
  });
  it('rcr ax, cl with CL=17 is the identity; rcr eax, cl with CL=32 changes nothing', () => {
    const cpu = runHalted('rcr ax, cl\nmov cl, 32\nrcr ebx, cl', regs({ eax: 0x1234, ebx: 0x87654321, ecx: 17 }, F('CF SF')));
    check(cpu, 'eax', 0x1234, 'SF CF', ROTN_MASK); // OF undefined: masked count 17 ≠ 1
    expect(reg(cpu, 'ebx')).toBe(0x87654321);
  });
});

describe('SHLD / SHRD', () => {
  const setup = regs({ eax: 0x12345678, ebx: 0x9abcdef0 });
  it('shld eax, ebx, 4: bits of EBX shift in from the right', () => {
    const cpu = runHalted('shld eax, ebx, 4', setup);
    check(cpu, 'eax', 0x23456789, 'CF', SHIFTN_MASK); // CF = bit 28 of EAX; 0x89 has 3 bits
    expect(reg(cpu, 'ebx')).toBe(0x9abcdef0);
  });
  it('shrd eax, ebx, 8: bits of EBX shift in from the left', () => {
    check(runHalted('shrd eax, ebx, 8', setup), 'eax', 0xf0123456, 'SF PF', SHIFTN_MASK); // CF = bit 7 of 0x78 = 0
  });
  it('shld ax, bx, cl (16-bit) with CL=4', () => {
    check(runHalted('shld ax, bx, cl', regs({ eax: 0x55551234, ebx: 0xabcd, ecx: 4 })), 'eax', 0x5555234a, 'CF', SHIFTN_MASK);
  });
  it('shld eax, ebx, cl with CL=0 changes nothing', () => {
    check(runHalted('shld eax, ebx, cl', regs({ eax: 0x12345678, ebx: 0x9abcdef0, ecx: 0 }, F('ZF AF'))), 'eax', 0x12345678, 'ZF AF', ARITH);
  });
  it('shld eax, ebx, cl with CL=36 shifts by 4', () => {
    check(runHalted('shld eax, ebx, cl', regs({ eax: 0x12345678, ebx: 0x9abcdef0, ecx: 36 })), 'eax', 0x23456789, 'CF', SHIFTN_MASK);
  });
  it('shrd eax, ebx, 1: OF set when the sign changes', () => {
    check(runHalted('shrd eax, ebx, 1', regs({ eax: 1, ebx: 1 })), 'eax', 0x80000000, 'OF SF PF CF', SHIFT_MASK);
  });
  it('shrd dword ptr [mem], ecx, 16', () => {
    const cpu = runHalted(`shrd dword ptr [${DATA}], ecx, 16`, (c) => { c.write32(DATA, 0x11112222); c.regs[1] = 0x33334444; });
    expect(rd32(cpu, DATA).toString(16)).toBe('44441111');
    expect(flagStr(cpu, SHIFTN_MASK)).toBe('PF'); // CF = bit 15 of 0x2222 = 0
  });
  it('shld dword ptr [mem], ecx, cl', () => {
    const cpu = runHalted(`shld dword ptr [${DATA}], ecx, cl`, (c) => { c.write32(DATA, 0x80000001); c.regs[1] = 0xc0000008; });
    // CL = 8: 0x80000001 << 8 | top 8 bits of 0xc0000008 (0xc0) = 0x000001c0; CF = bit 24 of dest = 0
    expect(rd32(cpu, DATA).toString(16)).toBe('1c0');
    expect(flagStr(cpu, SHIFTN_MASK)).toBe('PF'); // 0xc0 has 2 bits
  });
});

describe('rotates and shifts mixed with lazily pending flags', () => {
  it('rol after ADD keeps the ADD\'s ZF AF PF and replaces CF/OF', () => {
    // add: 0xffffffff + 1 = 0 → ZF AF PF CF; rol 0x80000000,1 → 1: CF = 1, OF = 0 ^ 1 = 1
    const cpu = runHalted('add eax, ebx\nrol ecx, 1', regs({ eax: 0xffffffff, ebx: 1, ecx: 0x80000000 }));
    expect(flagStr(cpu)).toBe('OF ZF AF PF CF');
  });
  it('ror after SUB keeps SF and PF', () => {
    // sub: 1 - 2 = 0xffffffff → SF AF PF CF; ror 2,1 → 1: CF = MSB(1) = 0, OF = bit31 ^ bit30 = 0
    const cpu = runHalted('sub eax, ebx\nror ecx, 1', regs({ eax: 1, ebx: 2, ecx: 2 }));
    expect(flagStr(cpu)).toBe('SF AF PF');
  });
  it('rcl uses a CF that is still pending from CMP', () => {
    // cmp 1, 2 borrows → CF = 1; rcl 0,1 → 1, CF = 0, OF = 0 ^ 0 = 0
    const cpu = runHalted('cmp eax, ebx\nrcl ecx, 1', regs({ eax: 1, ebx: 2, ecx: 0 }));
    expect(reg(cpu, 'ecx')).toBe(1);
    expect(flagStr(cpu)).toBe('SF AF PF');
  });
  it('rcr uses a CF kept across INC', () => {
    // stc; inc eax (CF kept = 1); rcr 0,1 → 0x80000000, CF = 0, OF = MSB(orig) ^ CF(orig) = 1
    const cpu = runHalted('stc\ninc eax\nrcr ecx, 1', regs({ eax: 5, ecx: 0 }));
    expect(reg(cpu, 'ecx')).toBe(0x80000000);
    expect(flagStr(cpu, F('OF CF'))).toBe('OF');
  });
  it('inc after rol keeps the rotate\'s CF', () => {
    const cpu = runHalted('rol ecx, 1\ninc eax', regs({ ecx: 0x80000000, eax: 0 }));
    expect(flagStr(cpu)).toBe('CF'); // inc 0 → 1: no flags except the kept CF
  });
  it('rcl by CL = 0 keeps pending ADD flags', () => {
    const cpu = runHalted('add eax, ebx\nrcl edx, cl', regs({ eax: 0x7fffffff, ebx: 1, ecx: 0, edx: 3 }));
    expect(reg(cpu, 'edx')).toBe(3);
    expect(flagStr(cpu)).toBe('OF SF AF PF');
  });
  it('sar ax, cl with CL=20 fills AX with the sign', () => {
    const cpu = runHalted('sar ax, cl', regs({ eax: 0x12348000, ecx: 20 }));
    expect(reg(cpu, 'eax')).toBe(0x1234ffff);
    expect(flagStr(cpu, F('SF ZF PF'))).toBe('SF PF');
  });
  it('shr al, cl with CL=9 clears AL', () => {
    const cpu = runHalted('shr al, cl', regs({ eax: 0xff, ecx: 9 }));
    expect(reg(cpu, 'eax')).toBe(0);
    expect(flagStr(cpu, F('SF ZF PF'))).toBe('ZF PF');
  });
  it('shl/shr/rol on high-byte registers', () => {
    const cpu = runHalted('shl ah, 1\nshr bh, 4\nrol ch, 4', regs({ eax: 0x4000, ebx: 0xf000, ecx: 0x1200 }));
    expect([reg(cpu, 'eax'), reg(cpu, 'ebx'), reg(cpu, 'ecx')]).toEqual([0x8000, 0x0f00, 0x2100]);
  });
});
