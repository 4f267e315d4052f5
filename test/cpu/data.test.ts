/**
 * Data movement and flag-register instructions (SDM Vol. 2): MOV (incl.
 * moffs), MOVZX/MOVSX, LEA (SIB, 16-bit addressing through 0x67), XCHG,
 * XADD, CMPXCHG, CMPXCHG8B, CBW/CWDE/CWD/CDQ, LAHF/SAHF, CLC/STC/CMC/CLD/
 * STD, XLAT, and accesses that straddle a 4 KiB page boundary.
 */
import { describe, expect, it } from 'vitest';
import { ARITH, DF } from '../../src/cpu/flags.js';
import { CODE_BASE, DATA, F, flagStr, rd32, readBytes, reg, regs, runHalted, runSnippet, writeBytes } from '../helpers/asm.js';

describe('MOV', () => {
  it('moffs forms A0/A1/A2/A3 (8, 16 and 32 bit)', () => {
    const cpu = runHalted(
      ['mov eax, dword ptr ds:0x20000', 'mov bl, byte ptr ds:0x20004', 'mov ecx, eax', 'mov word ptr ds:0x20008, ax',
        'mov dword ptr ds:0x2000c, eax', 'mov eax, ebx', 'mov byte ptr ds:0x20010, al'].join('\n'),
      (c) => { c.write32(DATA, 0x89abcdef); c.write8(DATA + 4, 0x5a); c.regs[3] = 0x77777700; },
    );
    expect(reg(cpu, 'ecx')).toBe(0x89abcdef);
    expect(reg(cpu, 'ebx')).toBe(0x7777775a);
    expect(readBytes(cpu, DATA + 8, 9)).toEqual([0xef, 0xcd, 0, 0, 0xef, 0xcd, 0xab, 0x89, 0x5a]);
  });
  it('ModRM disp32-only form (8B 05 disp32) and mov to memory via SIB', () => {
    const cpu = runHalted('.byte 0x8b, 0x05\n.long 0x20000\nmov dword ptr [esi+edi*2+4], eax', (c) => {
      c.write32(DATA, 0x13572468);
      c.regs[6] = DATA + 0x100;
      c.regs[7] = 6;
    });
    expect(reg(cpu, 'eax')).toBe(0x13572468);
    expect(rd32(cpu, DATA + 0x100 + 12 + 4)).toBe(0x13572468);
  });
  it('immediate forms C6/C7/B0+r/B8+r and 16-bit writes keep neighbouring bytes', () => {
    const cpu = runHalted(
      [`mov byte ptr [${DATA}], 0x12`, `mov word ptr [${DATA + 2}], 0x3456`, `mov dword ptr [${DATA + 4}], 0x789abcde`,
        'mov cl, 0x99', 'mov ah, 0x77', 'mov dx, 0xbeef', 'mov edi, 0xfedcba98'].join('\n'),
      (c) => { writeBytes(c, DATA, [0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa]); regs({ eax: 0x11111111, ecx: 0x22222222, edx: 0x33333333 })(c); },
    );
    expect(readBytes(cpu, DATA, 9)).toEqual([0x12, 0xaa, 0x56, 0x34, 0xde, 0xbc, 0x9a, 0x78, 0xaa]);
    expect(reg(cpu, 'ecx')).toBe(0x22222299);
    expect(reg(cpu, 'eax')).toBe(0x11117711);
    expect(reg(cpu, 'edx')).toBe(0x3333beef);
    expect(reg(cpu, 'edi')).toBe(0xfedcba98);
  });
  it('register-to-register moves (8/16/32, high bytes) change no flags', () => {
    const cpu = runHalted('mov ebx, eax\nmov bh, al\nmov si, ax\nmov ch, ah', regs({ eax: 0x12345678, esi: 0xffffffff, ecx: 0 }, F('OF CF ZF')));
    expect(reg(cpu, 'ebx')).toBe(0x12347878);
    expect(reg(cpu, 'esi')).toBe(0xffff5678);
    expect(reg(cpu, 'ecx')).toBe(0x5600);
    expect(flagStr(cpu)).toBe('OF ZF CF');
  });
  it('addr16 moffs (67 A1 disp16) reads a 16-bit address', () => {
    const cpu = runHalted('addr16 mov eax, ds:0x4000', (c) => c.write32(0x4000, 0xdeadbeef));
    expect(reg(cpu, 'eax')).toBe(0xdeadbeef);
  });
});

describe('MOVZX / MOVSX', () => {
  it('movzx eax, bl / movzx ecx, word ptr [mem] / movzx dx, bh', () => {
    const cpu = runHalted(`movzx eax, bl\nmovzx ecx, word ptr [${DATA}]\nmovzx dx, bh`, (c) => {
      c.write32(DATA, 0xffff8001);
      regs({ eax: 0xffffffff, ebx: 0x0000c3ff, edx: 0x12345678 })(c);
    });
    expect(reg(cpu, 'eax')).toBe(0xff);
    expect(reg(cpu, 'ecx')).toBe(0x8001);
    expect(reg(cpu, 'edx')).toBe(0x123400c3);
  });
  it('movsx eax, bl / movsx ecx, word ptr [mem] / movsx ax, bl / movsx esi, ah', () => {
    const cpu = runHalted(`movsx eax, bl\nmovsx ecx, word ptr [${DATA}]\nmovsx dx, bl\nmovsx esi, bh\nmovsx edi, byte ptr [${DATA}]`, (c) => {
      c.write32(DATA, 0x00008001);
      regs({ ebx: 0x00007f80, edx: 0x12345678 })(c);
    });
    expect(reg(cpu, 'eax')).toBe(0xffffff80);
    expect(reg(cpu, 'ecx')).toBe(0xffff8001);
    expect(reg(cpu, 'edx')).toBe(0x1234ff80);
    expect(reg(cpu, 'esi')).toBe(0x7f);
    expect(reg(cpu, 'edi')).toBe(1);
  });
});

describe('LEA', () => {
  it('base + index*4 + disp8', () => {
    expect(reg(runHalted('lea eax, [ebx+ecx*4+0x10]', regs({ ebx: 0x1000, ecx: 3 })), 'eax')).toBe(0x101c);
  });
  it('ESP as SIB base, EBP with zero disp8, index without base (disp32), eax+eax*2', () => {
    const cpu = runHalted('lea eax, [esp+8]\nlea ebx, [ebp]\nlea ecx, [ecx*8]\nlea edx, [edx+edx*2]\nlea esi, [edi*4-4]', regs({ ebp: 0x12345, ecx: 3, edx: 5, edi: 0x100 }));
    expect(reg(cpu, 'eax')).toBe(0x80008);
    expect(reg(cpu, 'ebx')).toBe(0x12345);
    expect(reg(cpu, 'ecx')).toBe(24);
    expect(reg(cpu, 'edx')).toBe(15);
    expect(reg(cpu, 'esi')).toBe(0x3fc);
  });
  it('32-bit address arithmetic wraps', () => {
    expect(reg(runHalted('lea eax, [ebx+2]', regs({ ebx: 0xffffffff })), 'eax')).toBe(1);
  });
  it('16-bit operand with 32-bit addressing truncates the result (66 8D)', () => {
    expect(reg(runHalted('lea ax, [ebx+ecx]', regs({ eax: 0xaaaa0000, ebx: 0x1234ffff, ecx: 2 })), 'eax')).toBe(0xaaaa0001);
  });
  it('16-bit addressing (67 8D): [bx+si+0x10] wraps at 64 KiB and ignores the upper register halves', () => {
    // 0xfff0 + 0x0020 + 0x10 = 0x10020 → 0x0020, zero-extended into EAX
    expect(reg(runHalted('lea eax, [bx+si+0x10]', regs({ eax: 0xffffffff, ebx: 0x1234fff0, esi: 0xabcd0020 })), 'eax')).toBe(0x20);
  });
  it('16-bit addressing: [bp+di-2] = 0xffff', () => {
    expect(reg(runHalted('lea eax, [bp+di-2]', regs({ ebp: 0xffff0000, edi: 1 })), 'eax')).toBe(0xffff);
  });
  it('16-bit memory operands: [bx+si], [disp16] (mod 00 rm 110), [bp+disp8]', () => {
    const cpu = runHalted(
      ['mov eax, dword ptr [bx+si]', '.byte 0x67, 0x8b, 0x0e, 0x00, 0x40', '.byte 0x67, 0x8b, 0x56, 0xfe'].join('\n'),
      (c) => {
        c.write32(0x4000, 0xdeadbeef);
        regs({ ebx: 0xffff3000, esi: 0x00001000, ebp: 0x00004002 })(c);
      },
    );
    expect(reg(cpu, 'eax')).toBe(0xdeadbeef); // (0x3000+0x1000)
    expect(reg(cpu, 'ecx')).toBe(0xdeadbeef); // mov ecx, [0x4000] (mod 00 rm 110 = disp16)
    expect(reg(cpu, 'edx')).toBe(0xdeadbeef); // mov edx, [bp-2]
  });
  it('16-bit address [bx+0x10] with BX=0xfff8 wraps to 0x0008, not 0x10008', () => {
    const cpu = runHalted('.byte 0x67, 0x8b, 0x47, 0x10', (c) => {
      c.write32(0x0008, 0x0badf00d);
      c.write32(0x10008, 0x66666666);
      c.regs[3] = 0x0000fff8;
    });
    expect(reg(cpu, 'eax')).toBe(0x0badf00d);
  });
});

describe('XCHG / XADD', () => {
  it('xchg forms swap and change no flags', () => {
    const cpu = runHalted(`xchg eax, ebx\nxchg cl, ch\nxchg dword ptr [${DATA}], edx\nxchg si, di\nxchg eax, eax`, (c) => {
      regs({ eax: 1, ebx: 2, ecx: 0x1234, edx: 0x55, esi: 0xaaaa1111, edi: 0xbbbb2222 }, F('PF SF'))(c);
      c.write32(DATA, 0x99);
    });
    expect(reg(cpu, 'eax')).toBe(2);
    expect(reg(cpu, 'ebx')).toBe(1);
    expect(reg(cpu, 'ecx')).toBe(0x3412);
    expect(reg(cpu, 'edx')).toBe(0x99);
    expect(rd32(cpu, DATA)).toBe(0x55);
    expect(reg(cpu, 'esi')).toBe(0xaaaa2222);
    expect(reg(cpu, 'edi')).toBe(0xbbbb1111);
    expect(flagStr(cpu)).toBe('SF PF');
  });
  it('xadd dword ptr [mem], eax: mem = 5+3, eax = old mem', () => {
    const cpu = runHalted(`xadd dword ptr [${DATA}], eax`, (c) => { c.write32(DATA, 5); c.regs[0] = 3; });
    expect(rd32(cpu, DATA)).toBe(8);
    expect(reg(cpu, 'eax')).toBe(5);
    expect(flagStr(cpu)).toBe(''); // 8: odd parity
  });
  it('xadd al, bl: 0xff + 1 sets flags like ADD', () => {
    const cpu = runHalted('xadd al, bl', regs({ eax: 0xff, ebx: 0x01 }));
    expect(reg(cpu, 'eax')).toBe(0);
    expect(reg(cpu, 'ebx')).toBe(0xff);
    expect(flagStr(cpu)).toBe('ZF AF PF CF');
  });
  it('xadd ecx, edx and xadd eax, eax (destination written last)', () => {
    const cpu = runHalted('xadd ecx, edx\nxadd eax, eax', regs({ ecx: 10, edx: 20, eax: 3 }));
    expect(reg(cpu, 'ecx')).toBe(30);
    expect(reg(cpu, 'edx')).toBe(10);
    expect(reg(cpu, 'eax')).toBe(6);
  });
});

describe('CMPXCHG / CMPXCHG8B', () => {
  it('cmpxchg [mem], ecx succeeds when EAX == [mem]', () => {
    const cpu = runHalted(`cmpxchg dword ptr [${DATA}], ecx`, (c) => { c.write32(DATA, 7); regs({ eax: 7, ecx: 0x99 }, F('CF'))(c); });
    expect(rd32(cpu, DATA)).toBe(0x99);
    expect(reg(cpu, 'eax')).toBe(7);
    expect(flagStr(cpu)).toBe('ZF PF');
  });
  it('cmpxchg [mem], ecx fails: EAX ← [mem]; flags from EAX - [mem] = 5 - 7', () => {
    const cpu = runHalted(`cmpxchg dword ptr [${DATA}], ecx`, (c) => { c.write32(DATA, 7); regs({ eax: 5, ecx: 0x99 })(c); });
    expect(rd32(cpu, DATA)).toBe(7);
    expect(reg(cpu, 'eax')).toBe(7);
    expect(flagStr(cpu)).toBe('SF AF CF'); // 0xfe: 7 bits, PF=0
  });
  it('cmpxchg bl, cl (8-bit) succeeds', () => {
    const cpu = runHalted('cmpxchg bl, cl', regs({ eax: 0xaaaaaa10, ebx: 0xbbbbbb10, ecx: 0x20 }));
    expect(reg(cpu, 'ebx')).toBe(0xbbbbbb20);
    expect(reg(cpu, 'eax')).toBe(0xaaaaaa10);
    expect(flagStr(cpu)).toBe('ZF PF');
  });
  it('cmpxchg ebx, ecx (register) fails: EAX ← EBX', () => {
    const cpu = runHalted('cmpxchg ebx, ecx', regs({ eax: 1, ebx: 2, ecx: 3 }));
    expect(reg(cpu, 'eax')).toBe(2);
    expect(reg(cpu, 'ebx')).toBe(2);
    expect(flagStr(cpu)).toBe('SF AF PF CF');
  });
  it('cmpxchg word ptr [mem], cx (16-bit) succeeds without touching the upper word', () => {
    const cpu = runHalted(`cmpxchg word ptr [${DATA}], cx`, (c) => { c.write32(DATA, 0x77771234); regs({ eax: 0x99991234, ecx: 0x4321 })(c); });
    expect(rd32(cpu, DATA)).toBe(0x77774321);
    expect(reg(cpu, 'eax')).toBe(0x99991234);
  });
  it('cmpxchg8b succeeds: m64 ← ECX:EBX, ZF=1, other flags unchanged', () => {
    const cpu = runHalted(`cmpxchg8b qword ptr [${DATA}]`, (c) => {
      c.write32(DATA, 0x22222222);
      c.write32(DATA + 4, 0x11111111);
      regs({ edx: 0x11111111, eax: 0x22222222, ecx: 0x33333333, ebx: 0x44444444 }, F('OF CF'))(c);
    });
    expect(rd32(cpu, DATA)).toBe(0x44444444);
    expect(rd32(cpu, DATA + 4)).toBe(0x33333333);
    expect(reg(cpu, 'eax')).toBe(0x22222222);
    expect(reg(cpu, 'edx')).toBe(0x11111111);
    expect(flagStr(cpu)).toBe('OF ZF CF');
  });
  it('cmpxchg8b fails: EDX:EAX ← m64, ZF=0, memory unchanged', () => {
    const cpu = runHalted(`cmpxchg8b qword ptr [${DATA}]`, (c) => {
      c.write32(DATA, 0x66666666);
      c.write32(DATA + 4, 0x55555555);
      regs({ edx: 0x11111111, eax: 0x22222222, ecx: 0x33333333, ebx: 0x44444444 }, F('ZF SF'))(c);
    });
    expect(rd32(cpu, DATA)).toBe(0x66666666);
    expect(rd32(cpu, DATA + 4)).toBe(0x55555555);
    expect(reg(cpu, 'eax')).toBe(0x66666666);
    expect(reg(cpu, 'edx')).toBe(0x55555555);
    expect(flagStr(cpu)).toBe('SF');
  });
  it('cmpxchg8b with a register operand (0F C7 C8) → #UD', () => {
    const { stop } = runSnippet('.byte 0x0f, 0xc7, 0xc8\nhlt');
    expect(stop).toMatchObject({ kind: 'fault', vector: 6, eip: CODE_BASE });
  });
});

describe('CBW / CWDE / CWD / CDQ', () => {
  it('cbw sign-extends AL into AX only', () => {
    expect(reg(runHalted('cbw', regs({ eax: 0x12345680 })), 'eax')).toBe(0x1234ff80);
    expect(reg(runHalted('cbw', regs({ eax: 0x1234ff7f })), 'eax')).toBe(0x1234007f);
  });
  it('cwde sign-extends AX into EAX', () => {
    expect(reg(runHalted('cwde', regs({ eax: 0x12348000 })), 'eax')).toBe(0xffff8000);
    expect(reg(runHalted('cwde', regs({ eax: 0xffff7fff })), 'eax')).toBe(0x00007fff);
  });
  it('cwd fills DX with the sign of AX, keeping the upper half of EDX', () => {
    const a = runHalted('cwd', regs({ eax: 0x00008000, edx: 0x12345678 }));
    expect(reg(a, 'edx')).toBe(0x1234ffff);
    expect(reg(a, 'eax')).toBe(0x8000);
    expect(reg(runHalted('cwd', regs({ eax: 0xffff7fff, edx: 0x1234ffff })), 'edx')).toBe(0x12340000);
  });
  it('cdq fills EDX with the sign of EAX', () => {
    expect(reg(runHalted('cdq', regs({ eax: 0x80000000, edx: 0 })), 'edx')).toBe(0xffffffff);
    expect(reg(runHalted('cdq', regs({ eax: 0x7fffffff, edx: 0x1234 })), 'edx')).toBe(0);
  });
});

describe('LAHF / SAHF and flag instructions', () => {
  it('lahf: AH ← SF:ZF:0:AF:0:PF:1:CF', () => {
    expect(reg(runHalted('lahf', regs({ eax: 0x123400ff }, F('SF ZF AF PF CF OF'))), 'eax')).toBe(0x1234d7ff);
    expect(reg(runHalted('lahf', regs({ eax: 0xffffffff }, 0)), 'eax')).toBe(0xffff02ff);
  });
  it('lahf after a lazy ADD sees the computed flags', () => {
    // 0xffffffff + 1 = 0: ZF AF PF CF → AH = 0x40|0x10|0x04|0x02|0x01 = 0x57
    expect((reg(runHalted('add ebx, 1\nlahf', regs({ ebx: 0xffffffff })), 'eax') >> 8) & 0xff).toBe(0x57);
  });
  it('sahf loads SF ZF AF PF CF from AH and leaves OF alone', () => {
    expect(flagStr(runHalted('sahf', regs({ eax: 0xff00 }, F('OF'))))).toBe('OF SF ZF AF PF CF');
    expect(flagStr(runHalted('sahf', regs({ eax: 0x0000 }, F('OF SF ZF AF PF CF'))))).toBe('OF');
  });
  it('sahf cannot set the reserved bits 3 and 5 (bit 1 stays 1)', () => {
    const cpu = runHalted('sahf', regs({ eax: 0x2800 }));
    expect(cpu.getEflags() & 0xff).toBe(0x02);
  });
  it('stc / cmc / clc toggle only CF', () => {
    const a = runHalted('stc', regs({}, F('ZF SF')));
    expect(flagStr(a)).toBe('SF ZF CF');
    const b = runHalted('stc\ncmc', regs({}, F('ZF SF')));
    expect(flagStr(b)).toBe('SF ZF');
    const c = runHalted('cmc', regs({}, F('PF')));
    expect(flagStr(c)).toBe('PF CF');
    const d = runHalted('clc', regs({}, F('OF CF')));
    expect(flagStr(d)).toBe('OF');
  });
  it('cmc after a lazy ADD complements the computed carry and keeps the rest', () => {
    const cpu = runHalted('add eax, ebx\ncmc', regs({ eax: 0xffffffff, ebx: 1 }));
    expect(flagStr(cpu)).toBe('ZF AF PF');
  });
  it('std / cld set and clear DF', () => {
    expect(runHalted('std').getEflags() & DF).toBe(DF);
    expect(runHalted('std\ncld').getEflags() & DF).toBe(0);
    expect(flagStr(runHalted('std', regs({}, F('CF'))), ARITH)).toBe('CF');
  });
});

describe('XLAT', () => {
  it('AL ← [EBX + zero-extended AL]', () => {
    const cpu = runHalted('xlatb', (c) => { c.write8(DATA + 0x85, 0x42); regs({ eax: 0x12345685, ebx: DATA })(c); });
    expect(reg(cpu, 'eax')).toBe(0x12345642);
  });
});

describe('accesses straddling a 4 KiB page boundary', () => {
  it('dword write/read at 0x20ffe, word at 0x20fff, read-modify-write at 0x20ffd', () => {
    const P = 0x21000;
    const cpu = runHalted(
      [`mov dword ptr [${P - 2}], 0x11223344`, `mov eax, dword ptr [${P - 2}]`, `mov bx, word ptr [${P - 1}]`, `add dword ptr [${P - 3}], 0x01010101`].join('\n'),
      regs({ ebx: 0 }),
    );
    expect(reg(cpu, 'eax')).toBe(0x11223344);
    expect(reg(cpu, 'ebx')).toBe(0x2233);
    // after the store: fd:00 fe:44 ff:33 | 00:22 01:11 ; dword at fd = 0x22334400 + 0x01010101 = 0x23344501
    expect(readBytes(cpu, P - 3, 5)).toEqual([0x01, 0x45, 0x34, 0x23, 0x11]);
    expect(rd32(cpu, P - 2)).toBe(0x11233445);
    expect(cpu.read16(P - 1)).toBe(0x2334);
  });
  it('host-side write32/read32 across the boundary', () => {
    const cpu = runHalted('nop');
    cpu.write32(0x30ffd, 0xa1b2c3d4);
    expect(readBytes(cpu, 0x30ffd, 4)).toEqual([0xd4, 0xc3, 0xb2, 0xa1]);
    expect(rd32(cpu, 0x30ffd)).toBe(0xa1b2c3d4);
  });
});

describe('flag instructions mixed with lazily pending flags', () => {
  it('sahf after an overflowing ADD keeps OF', () => {
    const cpu = runHalted('add eax, ebx\nsahf', regs({ eax: 0x7fffffff, ebx: 1, ecx: 0 }));
    // EAX = 0x80000000 after the add, so AH = 0: SF ZF AF PF CF cleared; OF stays
    expect(flagStr(cpu)).toBe('OF');
  });
  it('clc after CMP keeps ZF and PF', () => {
    expect(flagStr(runHalted('cmp eax, eax\nclc', regs({ eax: 3 })))).toBe('ZF PF');
  });
  it('stc after a lazy SUB keeps SF', () => {
    expect(flagStr(runHalted('sub eax, 1\nstc', regs({ eax: 0 })))).toBe('SF AF PF CF');
  });
  it('std after a lazy ADD keeps the status flags', () => {
    const cpu = runHalted('add eax, ebx\nstd', regs({ eax: 0xffffffff, ebx: 1 }));
    expect(flagStr(cpu, ARITH | DF)).toBe('DF ZF AF PF CF');
  });
  it('lahf after stc; inc sees the kept CF', () => {
    // inc 0x0f → 0x10: AF; CF kept → AH = AF(0x10) | bit1(0x02) | CF(0x01) = 0x13
    expect((reg(runHalted('stc\ninc eax\nlahf', regs({ eax: 0x0f })), 'eax') >> 8) & 0xff).toBe(0x13);
  });
  it('cmpxchg8b after an overflowing ADD changes only ZF', () => {
    const cpu = runHalted(`add esi, edi\ncmpxchg8b qword ptr [${DATA}]`, (c) => {
      regs({ esi: 0x7fffffff, edi: 1, eax: 0, edx: 0, ebx: 1, ecx: 2 })(c);
    });
    // m64 = 0 = EDX:EAX → success: ZF = 1; OF SF AF PF from the ADD stay
    expect(flagStr(cpu)).toBe('OF SF ZF AF PF');
    expect(rd32(cpu, DATA)).toBe(1);
    expect(rd32(cpu, DATA + 4)).toBe(2);
  });
  it('mov ax, ds (66 8C D8) writes AX only', () => {
    const cpu = runHalted('mov ax, ds', regs({ eax: 0xffffffff }));
    expect(reg(cpu, 'eax')).toBe(0xffff0000); // DS selector is 0 in the flat test machine
  });
});

describe('high-byte registers in ModRM reg and rm fields', () => {
  it('mov ah, [mem]; mov [mem], bh; movzx ecx, ah; movsx dx, bh; xchg [mem], ch', () => {
    const cpu = runHalted(`mov ah, byte ptr [${DATA}]\nmov byte ptr [${DATA + 1}], bh\nmovzx ecx, ah\nmovsx dx, bh\nxchg byte ptr [${DATA + 2}], ch`, (c) => {
      writeBytes(c, DATA, [0x81, 0, 0x42]);
      regs({ eax: 0x11111111, ebx: 0x0000f000, edx: 0x22222222 })(c);
    });
    expect(reg(cpu, 'eax')).toBe(0x11118111);
    expect(cpu.read8(DATA + 1)).toBe(0xf0);
    expect(reg(cpu, 'ecx')).toBe(0x4281); // movzx ecx, ah = 0x81, then xchg puts 0x42 into CH
    expect(cpu.read8(DATA + 2)).toBe(0x00);
    expect(reg(cpu, 'edx')).toBe(0x2222fff0);
  });
});
