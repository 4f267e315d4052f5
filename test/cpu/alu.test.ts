/**
 * Integer ALU instructions (SDM Vol. 2: ADD, ADC, SUB, SBB, AND, OR, XOR,
 * CMP, TEST, INC, DEC, NEG, NOT). Every expectation below was derived by
 * hand from the SDM flag definitions (Vol. 1 §3.4.3.1, Appendix A):
 *   CF carry/borrow out of the MSB, PF even parity of the low result byte,
 *   AF carry/borrow out of bit 3, ZF result zero, SF result MSB,
 *   OF signed overflow.
 * AND/OR/XOR/TEST leave AF undefined, so AF is masked out for them.
 */
import { describe, expect, it } from 'vitest';
import { ARITH, AF } from '../../src/cpu/flags.js';
import { DATA, F, rd32, flagNames, flagStr, reg, regs, runHalted } from '../helpers/asm.js';

type Size = 1 | 2 | 4;
const A = { 1: 'al', 2: 'ax', 4: 'eax' } as const;
const B = { 1: 'bl', 2: 'bx', 4: 'ebx' } as const;
/** Junk placed above the operand so partial-register writes can be checked. */
const HI_A = { 1: 0x12345600, 2: 0x12340000, 4: 0 } as const;
const HI_B = { 1: 0x9abcde00, 2: 0x9abc0000, 4: 0 } as const;

interface Case {
  a: number;
  b: number;
  cf?: 0 | 1;
  res: number;
  flags: string;
  note?: string;
}

/** Run `op A, B` (register form) at `size` with CF preset, check the result, the untouched upper bits and the flags. */
function regCases(op: string, size: Size, cases: Case[], flagMask = ARITH, writesResult = true): void {
  for (const c of cases) {
    const name = `${op} ${A[size]}, ${B[size]}: ${c.a.toString(16)} , ${c.b.toString(16)}${c.cf ? ' CF=1' : ''} → ${c.res.toString(16)} [${c.flags}]${c.note ? ` (${c.note})` : ''}`;
    it(name, () => {
      // Preset all other status flags to the opposite of CF's neighbours so stale flags would show.
      const cpu = runHalted(`${op} ${A[size]}, ${B[size]}`, regs({ eax: HI_A[size] | c.a, ebx: HI_B[size] | c.b }, c.cf ? F('CF') : 0));
      const expectA = writesResult ? (HI_A[size] | c.res) >>> 0 : (HI_A[size] | c.a) >>> 0;
      expect(reg(cpu, 'eax').toString(16)).toBe(expectA.toString(16));
      expect(reg(cpu, 'ebx').toString(16)).toBe(((HI_B[size] | c.b) >>> 0).toString(16));
      expect(flagStr(cpu, flagMask)).toBe(flagNames(F(c.flags), flagMask));
    });
  }
}

describe('ADD', () => {
  regCases('add', 4, [
    { a: 0x7fffffff, b: 1, res: 0x80000000, flags: 'OF SF AF PF', note: 'pos+pos=neg; low nibble f+1 carries; low byte 00 has even parity' },
    { a: 0xffffffff, b: 1, res: 0, flags: 'ZF AF PF CF' },
    { a: 0x80000000, b: 0x80000000, res: 0, flags: 'OF ZF PF CF', note: 'neg+neg=0 overflows' },
    { a: 0x12345678, b: 0x11111111, res: 0x23456789, flags: '', note: '0x89 has 3 bits: PF=0' },
  ]);
  regCases('add', 1, [
    { a: 0x0f, b: 0x01, res: 0x10, flags: 'AF', note: '0x10 has one bit: PF=0' },
    { a: 0x7f, b: 0x01, res: 0x80, flags: 'OF SF AF' },
    { a: 0xff, b: 0xff, res: 0xfe, flags: 'SF AF CF', note: '-1+-1=-2 no OF; 0xfe has 7 bits' },
  ]);
  regCases('add', 2, [
    { a: 0x8000, b: 0xffff, res: 0x7fff, flags: 'OF PF CF', note: 'neg+neg=pos; 0+f no AF; 0xff even parity' },
    { a: 0x1234, b: 0x4321, res: 0x5555, flags: 'PF' },
  ]);

  it('add ah, bh uses the high-byte registers (ModRM reg 4..7)', () => {
    const cpu = runHalted('add ah, bh', regs({ eax: 0x00001211, ebx: 0x00003422 }));
    expect(reg(cpu, 'eax').toString(16)).toBe('4611'); // 0x12+0x34=0x46: 3 bits → PF=0
    expect(flagStr(cpu)).toBe('');
  });
  it('add eax, imm32 (05 id) and add al, imm8 (04 ib)', () => {
    const cpu = runHalted('add eax, 0x10000000\nadd cl, 0x80\nadd cl, 0x80', regs({ eax: 0xf0000000, ecx: 0x100 }));
    expect(reg(cpu, 'eax')).toBe(0);
    // cl: 0+0x80=0x80, then 0x80+0x80=0x00 with CF, OF, ZF, PF
    expect(reg(cpu, 'ecx').toString(16)).toBe('100');
    expect(flagStr(cpu)).toBe('OF ZF PF CF');
  });
  it('add r/m32, imm8 sign-extends (83 /0 ib): 1 + (-1) = 0', () => {
    const cpu = runHalted(`add dword ptr [${DATA}], -1`, (c) => c.write32(DATA, 1));
    expect(rd32(cpu, DATA)).toBe(0);
    expect(flagStr(cpu)).toBe('ZF AF PF CF');
  });
  it('add r/m16, imm8 sign-extends to 16 bits and keeps the upper half of EAX', () => {
    const cpu = runHalted('add ax, -2', regs({ eax: 0xabcd0001 }));
    expect(reg(cpu, 'eax').toString(16)).toBe('abcdffff'); // 1+0xfffe: no carry anywhere, 1+e no AF
    expect(flagStr(cpu)).toBe('SF PF');
  });
  it('add r/m32, r32 to memory (01 /r) and add r8, r/m8 from memory (02 /r)', () => {
    const cpu = runHalted(`add dword ptr [${DATA}], ebx\nadd cl, byte ptr [${DATA + 4}]`, (c) => {
      c.write32(DATA, 0xfffffff0);
      c.write8(DATA + 4, 0x0c);
      c.regs[3] = 0x20;
      c.regs[1] = 0x04;
    });
    expect(rd32(cpu, DATA).toString(16)).toBe('10');
    expect(reg(cpu, 'ecx')).toBe(0x10); // 4+0xc: AF, 0x10 odd parity
    expect(flagStr(cpu)).toBe('AF');
  });
  it('add word ptr [mem], imm16 (81 /0 iw) does not touch the neighbouring bytes', () => {
    const cpu = runHalted(`add word ptr [${DATA}], 0x8001`, (c) => c.write32(DATA, 0x55557fff));
    expect(rd32(cpu, DATA).toString(16)).toBe('55550000'); // 0x7fff+0x8001=0x10000
    expect(flagStr(cpu)).toBe('ZF AF PF CF'); // pos+neg never overflows
  });
});

describe('ADC', () => {
  regCases('adc', 4, [
    { a: 0xffffffff, b: 0, cf: 1, res: 0, flags: 'ZF AF PF CF' },
    { a: 0x7fffffff, b: 0, cf: 1, res: 0x80000000, flags: 'OF SF AF PF' },
    { a: 0xffffffff, b: 0xffffffff, cf: 1, res: 0xffffffff, flags: 'SF AF PF CF', note: 'result equals dst: carry only visible through CF-in' },
    { a: 0x10, b: 0x20, cf: 0, res: 0x30, flags: 'PF' },
  ]);
  regCases('adc', 1, [
    { a: 0xff, b: 0xff, cf: 1, res: 0xff, flags: 'SF AF PF CF', note: '-1 + -1 + 1 = -1: no OF' },
    { a: 0x00, b: 0xff, cf: 1, res: 0x00, flags: 'ZF AF PF CF', note: '0 + -1 + 1 = 0: no OF' },
    { a: 0x7f, b: 0x00, cf: 1, res: 0x80, flags: 'OF SF AF' },
  ]);
  regCases('adc', 2, [
    { a: 0x7fff, b: 0x0000, cf: 1, res: 0x8000, flags: 'OF SF AF PF' },
    { a: 0xfffe, b: 0x0001, cf: 1, res: 0x0000, flags: 'ZF AF PF CF' },
  ]);
  it('64-bit addition with ADD/ADC carries between halves', () => {
    // 0x00000001_ffffffff + 0x00000000_00000001 = 0x00000002_00000000
    const cpu = runHalted('add eax, ecx\nadc edx, ebx', regs({ eax: 0xffffffff, edx: 1, ecx: 1, ebx: 0 }));
    expect(reg(cpu, 'eax')).toBe(0);
    expect(reg(cpu, 'edx')).toBe(2);
    expect(flagStr(cpu)).toBe(''); // 1+0+1=2: no flags (0x02 odd parity)
  });
  it('adc byte ptr [mem], imm8 (80 /2) with CF=1', () => {
    const cpu = runHalted(`adc byte ptr [${DATA}], 0x7f`, (c) => { c.write32(DATA, 0xaaaaaa00); c.setEflags(F('CF'), ARITH); });
    expect(rd32(cpu, DATA).toString(16)).toBe('aaaaaa80'); // 0+0x7f+1 = 0x80: OF (pos+pos=neg), AF (0+f+1)
    expect(flagStr(cpu)).toBe('OF SF AF');
  });
});

describe('SUB', () => {
  regCases('sub', 4, [
    { a: 0, b: 1, res: 0xffffffff, flags: 'SF AF PF CF' },
    { a: 0x80000000, b: 1, res: 0x7fffffff, flags: 'OF AF PF', note: 'neg-pos=pos' },
    { a: 0x12345678, b: 0x12345678, res: 0, flags: 'ZF PF' },
  ]);
  regCases('sub', 1, [
    { a: 0x80, b: 0x01, res: 0x7f, flags: 'OF AF', note: '0x7f has 7 bits' },
    { a: 0x05, b: 0x05, res: 0x00, flags: 'ZF PF' },
    { a: 0x10, b: 0x01, res: 0x0f, flags: 'AF PF' },
  ]);
  regCases('sub', 2, [
    { a: 0x1000, b: 0x2000, res: 0xf000, flags: 'SF PF CF' },
    { a: 0x7fff, b: 0xffff, res: 0x8000, flags: 'OF SF PF CF', note: 'pos-neg=neg; f-f no AF' },
  ]);
  it('sub dword ptr [mem], imm8 sign-extended (83 /5): 5 - (-3) = 8', () => {
    const cpu = runHalted(`sub dword ptr [${DATA}], -3`, (c) => c.write32(DATA, 5));
    expect(rd32(cpu, DATA)).toBe(8);
    // 5 - 0xfffffffd borrows (CF=1); low nibble 5-d borrows (AF=1); 0x08 odd parity
    expect(flagStr(cpu)).toBe('AF CF');
  });
  it('sub r32, r/m32 from memory (2B /r)', () => {
    const cpu = runHalted(`sub ecx, dword ptr [${DATA}]`, (c) => { c.write32(DATA, 0x100); c.regs[1] = 0x100; });
    expect(reg(cpu, 'ecx')).toBe(0);
    expect(flagStr(cpu)).toBe('ZF PF');
  });
});

describe('SBB', () => {
  regCases('sbb', 4, [
    { a: 0, b: 0, cf: 1, res: 0xffffffff, flags: 'SF AF PF CF' },
    { a: 0x12345678, b: 0x12345678, cf: 1, res: 0xffffffff, flags: 'SF AF PF CF' },
    { a: 0x12345678, b: 0x12345678, cf: 0, res: 0, flags: 'ZF PF' },
  ]);
  regCases('sbb', 1, [
    { a: 0x00, b: 0xff, cf: 1, res: 0x00, flags: 'ZF AF PF CF', note: '0 - 0xff - 1 borrows though the result is 0; 0-(-1)-1=0 no OF' },
    { a: 0x80, b: 0x00, cf: 1, res: 0x7f, flags: 'OF AF' },
    { a: 0xff, b: 0xff, cf: 1, res: 0xff, flags: 'SF AF PF CF', note: 'dst == src with borrow-in' },
  ]);
  regCases('sbb', 2, [
    { a: 0x0005, b: 0x0003, cf: 0, res: 0x0002, flags: '' },
    { a: 0x0000, b: 0x7fff, cf: 1, res: 0x8000, flags: 'SF AF PF CF', note: '0-32767-1=-32768 fits' },
  ]);
  it('64-bit subtraction with SUB/SBB borrows between halves', () => {
    // 0x00000001_00000000 - 1 = 0x00000000_ffffffff
    const cpu = runHalted('sub eax, 1\nsbb edx, 0', regs({ eax: 0, edx: 1 }));
    expect(reg(cpu, 'eax').toString(16)).toBe('ffffffff');
    expect(reg(cpu, 'edx')).toBe(0);
    expect(flagStr(cpu)).toBe('ZF PF');
  });
});

describe('CMP', () => {
  regCases('cmp', 4, [
    { a: 1, b: 2, res: 0, flags: 'SF AF PF CF' },
    { a: 0x80000000, b: 1, res: 0, flags: 'OF AF PF', note: 'signed less but no borrow: the JL/JB distinction' },
  ], ARITH, false);
  it('cmp al, imm8 (3C ib): 0x7f - 0x80', () => {
    const cpu = runHalted('cmp al, 0x80', regs({ eax: 0x7f }));
    expect(reg(cpu, 'eax')).toBe(0x7f);
    expect(flagStr(cpu)).toBe('OF SF PF CF'); // pos-neg=neg overflow; f-0 no AF; 0xff even
  });
  it('cmp dword ptr [mem], imm8 and cmp r/m16, r16', () => {
    const cpu = runHalted(`cmp dword ptr [${DATA}], 5\nsete cl\ncmp word ptr [${DATA}], bx`, (c) => { c.write32(DATA, 5); c.regs[3] = 6; });
    expect(reg(cpu, 'ecx') & 0xff).toBe(1);
    expect(rd32(cpu, DATA)).toBe(5);
    expect(flagStr(cpu)).toBe('SF AF PF CF'); // 5-6 = 0xffff
  });
});

describe('AND / OR / XOR / TEST (CF=OF=0; AF undefined)', () => {
  const noAF = ARITH & ~AF;
  it('and eax, ebx clears CF and OF', () => {
    const cpu = runHalted('and eax, ebx', regs({ eax: 0xf0f0f0f0, ebx: 0x0ff00ff0 }, F('CF OF')));
    expect(reg(cpu, 'eax').toString(16)).toBe('f000f0');
    expect(flagStr(cpu, noAF)).toBe('PF'); // 0xf0 has 4 bits
  });
  it('and r/m8, imm8 to memory, and ax, imm16', () => {
    const cpu = runHalted(`and byte ptr [${DATA}], 0x0f\nand ax, 0x8000`, (c) => { c.write32(DATA, 0xffffff3c); c.regs[0] = 0x1234ffff; });
    expect(rd32(cpu, DATA).toString(16)).toBe('ffffff0c');
    expect(reg(cpu, 'eax').toString(16)).toBe('12348000');
    expect(flagStr(cpu, noAF)).toBe('SF PF'); // low byte 0x00 even parity
  });
  regCases('or', 1, [{ a: 0x80, b: 0x01, cf: 1, res: 0x81, flags: 'SF PF' }], noAF);
  regCases('or', 4, [{ a: 0, b: 0, cf: 1, res: 0, flags: 'ZF PF' }], noAF);
  regCases('xor', 2, [{ a: 0xffff, b: 0x0001, cf: 1, res: 0xfffe, flags: 'SF', note: '0xfe has 7 bits' }], noAF);
  it('xor eax, eax zeroes and sets ZF PF, clearing OF CF', () => {
    const cpu = runHalted('xor eax, eax', regs({ eax: 0xdeadbeef }, F('OF CF SF')));
    expect(reg(cpu, 'eax')).toBe(0);
    expect(flagStr(cpu, noAF)).toBe('ZF PF');
  });
  it('xor dword ptr [mem], r32 and or r32, r/m32', () => {
    const cpu = runHalted(`xor dword ptr [${DATA}], ecx\nor edx, dword ptr [${DATA}]`, (c) => { c.write32(DATA, 0xff00ff00); c.regs[1] = 0x0ff00ff0; c.regs[2] = 1; });
    expect(rd32(cpu, DATA).toString(16)).toBe('f0f0f0f0');
    expect(reg(cpu, 'edx').toString(16)).toBe('f0f0f0f1');
    expect(flagStr(cpu, noAF)).toBe('SF'); // 0xf1 has 5 bits
  });
  regCases('test', 4, [
    { a: 0x80000000, b: 0x80000000, cf: 1, res: 0, flags: 'SF PF' },
    { a: 0x0000ff00, b: 0x000000ff, cf: 1, res: 0, flags: 'ZF PF' },
  ], noAF, false);
  it('test al, imm8 (A8) and test r/m32, imm32 (F7 /0) on memory', () => {
    const cpu = runHalted(`test al, 0x01\nsetz cl\ntest dword ptr [${DATA}], 0x00000100`, (c) => { c.regs[0] = 2; c.write32(DATA, 0x100); });
    expect(reg(cpu, 'ecx') & 0xff).toBe(1);
    expect(reg(cpu, 'eax')).toBe(2);
    expect(flagStr(cpu, noAF)).toBe('PF'); // 0x100 & 0x100: low byte 0 → PF, nonzero → ZF=0
  });
});

describe('INC / DEC (CF is not affected)', () => {
  it('inc eax: 0x7fffffff → 0x80000000 keeps CF=1', () => {
    const cpu = runHalted('inc eax', regs({ eax: 0x7fffffff }, F('CF')));
    expect(reg(cpu, 'eax')).toBe(0x80000000);
    expect(flagStr(cpu)).toBe('OF SF AF PF CF');
  });
  it('inc eax: 0xffffffff → 0 keeps CF=0 (no carry reported)', () => {
    const cpu = runHalted('inc eax', regs({ eax: 0xffffffff }, 0));
    expect(reg(cpu, 'eax')).toBe(0);
    expect(flagStr(cpu)).toBe('ZF AF PF');
  });
  it('CF survives INC after a carry-producing ADD', () => {
    const cpu = runHalted('add ebx, ebx\ninc ecx\nsetc dl', regs({ ebx: 0x80000000, ecx: 5 }));
    expect(reg(cpu, 'edx') & 0xff).toBe(1);
    expect(reg(cpu, 'ecx')).toBe(6);
    expect(flagStr(cpu)).toBe('PF CF'); // 6 = 0b110: 2 bits
  });
  it('dec eax: 0x80000000 → 0x7fffffff keeps CF=1', () => {
    const cpu = runHalted('dec eax', regs({ eax: 0x80000000 }, F('CF')));
    expect(reg(cpu, 'eax')).toBe(0x7fffffff);
    expect(flagStr(cpu)).toBe('OF AF PF CF');
  });
  it('dec al: 0 → 0xff keeps upper bits, CF stays 0', () => {
    const cpu = runHalted('dec al', regs({ eax: 0x12345600 }, 0));
    expect(reg(cpu, 'eax').toString(16)).toBe('123456ff');
    expect(flagStr(cpu)).toBe('SF AF PF');
  });
  it('inc word ptr [mem]: 0x00ff → 0x0100', () => {
    const cpu = runHalted(`inc word ptr [${DATA}]`, (c) => c.write32(DATA, 0xeeee00ff));
    expect(rd32(cpu, DATA).toString(16)).toBe('eeee0100');
    expect(flagStr(cpu)).toBe('AF PF');
  });
  it('dec byte ptr [mem]: 1 → 0', () => {
    const cpu = runHalted(`dec byte ptr [${DATA}]`, (c) => c.write32(DATA, 0x01010101));
    expect(rd32(cpu, DATA).toString(16)).toBe('1010100');
    expect(flagStr(cpu)).toBe('ZF PF');
  });
  it('inc/dec 16-bit register forms (66 40+r / 66 48+r)', () => {
    const cpu = runHalted('inc cx\ndec dx', regs({ ecx: 0x1234ffff, edx: 0xabcd8000 }));
    expect(reg(cpu, 'ecx').toString(16)).toBe('12340000');
    expect(reg(cpu, 'edx').toString(16)).toBe('abcd7fff');
    expect(flagStr(cpu)).toBe('OF AF PF'); // 0x8000-1: neg-pos=pos
  });
});

describe('NEG / NOT', () => {
  it('neg eax: 0 → 0 with CF=0', () => {
    const cpu = runHalted('neg eax', regs({ eax: 0 }, F('CF')));
    expect(reg(cpu, 'eax')).toBe(0);
    expect(flagStr(cpu)).toBe('ZF PF');
  });
  it('neg eax: 1 → 0xffffffff', () => {
    const cpu = runHalted('neg eax', regs({ eax: 1 }));
    expect(reg(cpu, 'eax')).toBe(0xffffffff);
    expect(flagStr(cpu)).toBe('SF AF PF CF');
  });
  it('neg al: 0x80 → 0x80 overflows', () => {
    const cpu = runHalted('neg al', regs({ eax: 0x55555580 }));
    expect(reg(cpu, 'eax').toString(16)).toBe('55555580');
    expect(flagStr(cpu)).toBe('OF SF CF'); // 0 - 0x80: low nibble 0-0 no AF; 0x80 odd parity
  });
  it('neg ax: 0x0010 → 0xfff0', () => {
    const cpu = runHalted('neg ax', regs({ eax: 0x77770010 }));
    expect(reg(cpu, 'eax').toString(16)).toBe('7777fff0');
    expect(flagStr(cpu)).toBe('SF PF CF');
  });
  it('neg dword ptr [mem]: 5 → 0xfffffffb', () => {
    const cpu = runHalted(`neg dword ptr [${DATA}]`, (c) => c.write32(DATA, 5));
    expect(rd32(cpu, DATA)).toBe(0xfffffffb);
    expect(flagStr(cpu)).toBe('SF AF CF'); // 0xfb has 7 bits
  });
  it('not changes no flags (register and memory forms)', () => {
    const cpu = runHalted(`not eax\nnot byte ptr [${DATA}]\nnot cx`, (c) => {
      c.regs[0] = 0x0f0f0f0f;
      c.regs[1] = 0x12340000;
      c.write32(DATA, 0x11111100);
      c.setEflags(F('OF SF ZF AF PF CF'), ARITH);
    });
    expect(reg(cpu, 'eax').toString(16)).toBe('f0f0f0f0');
    expect(reg(cpu, 'ecx').toString(16)).toBe('1234ffff');
    expect(rd32(cpu, DATA).toString(16)).toBe('111111ff');
    expect(flagStr(cpu)).toBe('OF SF ZF AF PF CF');
    const cpu2 = runHalted('not eax', regs({ eax: 0 }, 0));
    expect(flagStr(cpu2)).toBe('');
  });
});

describe('accumulator short forms and other encodings', () => {
  it('04/05 0C/0D 14/15 1C/1D 24/25 2C/2D 34/35 3C/3D A8/A9 with 8/16/32-bit accumulators', () => {
    const cpu = runHalted(
      [
        'add al, 0x10', // 0x01 → 0x11
        'or ax, 0x0f00', // 0x0011 → 0x0f11
        'adc eax, 0x10000000', // CF=0 → 0x10000f11
        'stc', 'sbb al, 0x10', // 0x11 - 0x10 - 1 = 0x00
        'and eax, 0xffff00ff', // 0x10000f00 → 0x10000000
        'sub ax, 1', // 0x0000 - 1 = 0xffff (borrow) → 0x1000ffff
        'xor al, 0x0f', // 0xff ^ 0x0f = 0xf0 → 0x1000fff0
      ].join('\n'),
      regs({ eax: 0x01 }),
    );
    expect(reg(cpu, 'eax')).toBe(0x1000fff0);
    expect(flagStr(cpu, ARITH & ~AF)).toBe('SF PF'); // xor: 0xf0 negative, 4 bits
    const c2 = runHalted('cmp eax, 0x1000fff0\nsetz bl\ntest ax, 0x000f\nsetz bh\ntest al, 0x10', regs({ eax: 0x1000fff0 }));
    expect(reg(c2, 'ebx') & 0xffff).toBe(0x0101);
    expect(flagStr(c2, ARITH & ~AF)).toBe('');
  });
  it('sbb eax, eax materializes -CF; adc eax, eax doubles with carry-in', () => {
    const a = runHalted('cmp ecx, edx\nsbb eax, eax', regs({ ecx: 1, edx: 2 }));
    expect(reg(a, 'eax')).toBe(0xffffffff);
    expect(flagStr(a)).toBe('SF AF PF CF'); // 0 - 0 - 1
    const b = runHalted('adc eax, eax', regs({ eax: 0x80000000 }, F('CF')));
    expect(reg(b, 'eax')).toBe(1);
    expect(flagStr(b)).toBe('OF CF'); // neg + neg = pos; 0x01 odd parity
  });
  it('cmp ax, -1 (66 83 /7 with sign-extended imm8)', () => {
    const cpu = runHalted('cmp ax, -1', regs({ eax: 0x1234ffff }));
    expect(flagStr(cpu)).toBe('ZF PF');
  });
  it('high-byte register ALU forms: inc ah, dec bh, neg ch, not dh, cmp ah, bh', () => {
    const cpu = runHalted('inc ah\ndec bh\nneg ch\nnot dh\ncmp ah, bh', regs({ eax: 0x7f00, ebx: 0x0000, ecx: 0x0100, edx: 0x0f00 }));
    expect([reg(cpu, 'eax'), reg(cpu, 'ebx'), reg(cpu, 'ecx'), reg(cpu, 'edx')]).toEqual([0x8000, 0xff00, 0xff00, 0xf000]);
    // cmp 0x80, 0xff: 0x80 - 0xff = 0x81 with borrow; -128 - -1 = -127 no OF; 0 - f borrows AF; 0x81 has 2 bits
    expect(flagStr(cpu)).toBe('SF AF PF CF');
  });
  it('inc byte ptr [mem]: 0x7f → 0x80 overflows; dec word ptr [mem]: 0x8000 → 0x7fff', () => {
    const cpu = runHalted(`inc byte ptr [${DATA}]\nseto cl\ndec word ptr [${DATA + 2}]`, (c) => c.write32(DATA, 0x8000007f));
    expect(rd32(cpu, DATA)).toBe(0x7fff0080);
    expect(reg(cpu, 'ecx') & 0xff).toBe(1);
    expect(flagStr(cpu)).toBe('OF AF PF');
  });
});
