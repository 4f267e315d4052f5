/**
 * String instructions (SDM Vol. 2 MOVS, STOS, LODS, CMPS, SCAS and
 * "REP/REPE/REPZ/REPNE/REPNZ"). Rules used:
 *  - each iteration moves ESI/EDI by the element size, backwards if DF=1;
 *  - REP with ECX = 0 executes no iteration: no memory access, no register
 *    or flag change;
 *  - CMPS compares [ESI] - [EDI]; SCAS compares accumulator - [EDI];
 *  - REPE/REPNE decrement ECX, then stop on ECX = 0 or the ZF condition;
 *  - iterations are architecturally sequential, so an overlapping forward
 *    copy replicates the pattern (memmove semantics would be wrong).
 */
import { describe, expect, it } from 'vitest';
import { ARITH, DF } from '../../src/cpu/flags.js';
import { DATA, F, flagStr, rd32, readBytes, reg, regs, runHalted, writeBytes } from '../helpers/asm.js';

const SRC = DATA;
const DST = DATA + 0x100;
const bytesOf = (s: string): number[] => Array.from(s, (ch) => ch.charCodeAt(0));

describe('single-shot MOVS / STOS / LODS in all sizes', () => {
  it('movsb; movsw; movsd copy 7 bytes and advance ESI/EDI by 7', () => {
    const cpu = runHalted('movsb\nmovsw\nmovsd', (c) => {
      writeBytes(c, SRC, [1, 2, 3, 4, 5, 6, 7, 8]);
      regs({ esi: SRC, edi: DST })(c);
    });
    expect(readBytes(cpu, DST, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 0]);
    expect(reg(cpu, 'esi')).toBe(SRC + 7);
    expect(reg(cpu, 'edi')).toBe(DST + 7);
  });
  it('stosb; stosw; stosd store AL, AX, EAX', () => {
    const cpu = runHalted('stosb\nstosw\nstosd', regs({ eax: 0x11223344, edi: DST }));
    expect(readBytes(cpu, DST, 8)).toEqual([0x44, 0x44, 0x33, 0x44, 0x33, 0x22, 0x11, 0]);
    expect(reg(cpu, 'edi')).toBe(DST + 7);
  });
  it('lodsb / lodsw / lodsd load into AL / AX / EAX only', () => {
    const cpu = runHalted('lodsb\nmov ebx, eax\nlodsw\nmov ecx, eax\nlodsd', (c) => {
      writeBytes(c, SRC, [0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87]);
      regs({ eax: 0xaaaaaaaa, esi: SRC })(c);
    });
    expect(reg(cpu, 'ebx')).toBe(0xaaaaaa81);
    expect(reg(cpu, 'ecx')).toBe(0xaaaa8382);
    expect(reg(cpu, 'eax')).toBe(0x87868584);
    expect(reg(cpu, 'esi')).toBe(SRC + 7);
  });
});

describe('single-shot CMPS / SCAS flags', () => {
  it('cmpsb: [esi]=1 - [edi]=2', () => {
    const cpu = runHalted('cmpsb', (c) => { c.write8(SRC, 1); c.write8(DST, 2); regs({ esi: SRC, edi: DST })(c); });
    expect(flagStr(cpu)).toBe('SF AF PF CF');
    expect(reg(cpu, 'esi')).toBe(SRC + 1);
    expect(reg(cpu, 'edi')).toBe(DST + 1);
  });
  it('cmpsw: 0x8000 - 0x0001 overflows', () => {
    const cpu = runHalted('cmpsw', (c) => { c.write32(SRC, 0x8000); c.write32(DST, 0x0001); regs({ esi: SRC, edi: DST })(c); });
    expect(flagStr(cpu)).toBe('OF AF PF');
    expect(reg(cpu, 'esi')).toBe(SRC + 2);
  });
  it('cmpsd: equal dwords', () => {
    const cpu = runHalted('cmpsd', (c) => { c.write32(SRC, 0xdeadbeef); c.write32(DST, 0xdeadbeef); regs({ esi: SRC, edi: DST })(c); });
    expect(flagStr(cpu)).toBe('ZF PF');
    expect(reg(cpu, 'edi')).toBe(DST + 4);
  });
  it('scasb / scasw / scasd compare the accumulator with [edi]', () => {
    const a = runHalted('scasb', (c) => { c.write8(DST, 3); regs({ eax: 0xffffff05, edi: DST })(c); });
    expect(flagStr(a)).toBe(''); // 5-3 = 2
    const b = runHalted('scasw', (c) => { c.write32(DST, 0x0002); regs({ eax: 0xffff0001, edi: DST })(c); });
    expect(flagStr(b)).toBe('SF AF PF CF'); // 1-2 = 0xffff
    expect(reg(b, 'edi')).toBe(DST + 2);
    const d = runHalted('scasd', (c) => { c.write32(DST, 0x12345678); regs({ eax: 0x12345678, edi: DST })(c); });
    expect(flagStr(d)).toBe('ZF PF');
    expect(reg(d, 'edi')).toBe(DST + 4);
  });
});

describe('REP prefixes', () => {
  it('rep movsb copies ECX bytes', () => {
    const cpu = runHalted('rep movsb', (c) => { writeBytes(c, SRC, [9, 8, 7, 6, 5, 4]); regs({ esi: SRC, edi: DST, ecx: 5 })(c); });
    expect(readBytes(cpu, DST, 6)).toEqual([9, 8, 7, 6, 5, 0]);
    expect([reg(cpu, 'esi'), reg(cpu, 'edi'), reg(cpu, 'ecx')]).toEqual([SRC + 5, DST + 5, 0]);
  });
  it('rep stosd fills ECX dwords', () => {
    const cpu = runHalted('rep stosd', regs({ eax: 0xdeadbeef, edi: DST, ecx: 3 }));
    expect([rd32(cpu, DST), rd32(cpu, DST + 4), rd32(cpu, DST + 8), rd32(cpu, DST + 12)]).toEqual([0xdeadbeef, 0xdeadbeef, 0xdeadbeef, 0]);
    expect(reg(cpu, 'edi')).toBe(DST + 12);
    expect(reg(cpu, 'ecx')).toBe(0);
  });
  it('rep stosb across a page boundary (0x1800 bytes)', () => {
    const cpu = runHalted('rep stosb', regs({ eax: 0x5a, edi: DST, ecx: 0x1800 }));
    expect(cpu.read8(DST)).toBe(0x5a);
    expect(cpu.read8(DST + 0x17ff)).toBe(0x5a);
    expect(cpu.read8(DST + 0x1800)).toBe(0);
    expect(reg(cpu, 'edi')).toBe(DST + 0x1800);
  });
  it('rep movsw copies words', () => {
    const cpu = runHalted('rep movsw', (c) => { writeBytes(c, SRC, [1, 2, 3, 4, 5, 6]); regs({ esi: SRC, edi: DST, ecx: 2 })(c); });
    expect(readBytes(cpu, DST, 6)).toEqual([1, 2, 3, 4, 0, 0]);
    expect(reg(cpu, 'esi')).toBe(SRC + 4);
  });
  it('repne scasb as strlen: stops after the NUL with ZF=1', () => {
    const cpu = runHalted('repne scasb', (c) => { writeBytes(c, SRC, [...bytesOf('hello'), 0, 0x41]); regs({ eax: 0, edi: SRC, ecx: 0xffffffff })(c); });
    expect(reg(cpu, 'ecx')).toBe(0xfffffff9); // 6 iterations
    expect(reg(cpu, 'edi')).toBe(SRC + 6);
    expect(flagStr(cpu, F('ZF'))).toBe('ZF');
  });
  it('repne scasb that finds nothing runs ECX down to 0 with ZF=0', () => {
    const cpu = runHalted('repne scasb', (c) => { writeBytes(c, SRC, [1, 2, 3, 4, 0]); regs({ eax: 0, edi: SRC, ecx: 4 })(c); });
    expect(reg(cpu, 'ecx')).toBe(0);
    expect(reg(cpu, 'edi')).toBe(SRC + 4);
    expect(flagStr(cpu, F('ZF'))).toBe('');
  });
  it('repe cmpsb stops at the first difference with ESI/EDI past it and the remaining count in ECX', () => {
    const cpu = runHalted('repe cmpsb', (c) => {
      writeBytes(c, SRC, bytesOf('abcdef'));
      writeBytes(c, DST, bytesOf('abcXef'));
      regs({ esi: SRC, edi: DST, ecx: 6 })(c);
    });
    expect(reg(cpu, 'ecx')).toBe(2);
    expect(reg(cpu, 'esi')).toBe(SRC + 4);
    expect(reg(cpu, 'edi')).toBe(DST + 4);
    expect(flagStr(cpu)).toBe('AF PF'); // 'd'(0x64) - 'X'(0x58) = 0x0c
  });
  it('repe cmpsb on equal buffers runs out with ZF=1', () => {
    const cpu = runHalted('repe cmpsb', (c) => {
      writeBytes(c, SRC, [7, 7, 7, 1]);
      writeBytes(c, DST, [7, 7, 7, 2]);
      regs({ esi: SRC, edi: DST, ecx: 3 })(c);
    });
    expect(reg(cpu, 'ecx')).toBe(0);
    expect(reg(cpu, 'esi')).toBe(SRC + 3);
    expect(flagStr(cpu)).toBe('ZF PF');
  });
  it('repe scasd finds the first dword different from EAX', () => {
    const cpu = runHalted('repe scasd', (c) => {
      [5, 5, 6, 5].forEach((v, i) => c.write32(DST + 4 * i, v));
      regs({ eax: 5, edi: DST, ecx: 4 })(c);
    });
    expect(reg(cpu, 'ecx')).toBe(1);
    expect(reg(cpu, 'edi')).toBe(DST + 12);
    expect(flagStr(cpu)).toBe('SF AF PF CF'); // 5 - 6 = 0xffffffff
  });
  it('repne cmpsw stops at the first equal word', () => {
    const cpu = runHalted('repne cmpsw', (c) => {
      [1, 2, 3].forEach((v, i) => c.write16(SRC + 2 * i, v));
      [9, 2, 3].forEach((v, i) => c.write16(DST + 2 * i, v));
      regs({ esi: SRC, edi: DST, ecx: 3 })(c);
    });
    expect(reg(cpu, 'ecx')).toBe(1);
    expect(reg(cpu, 'esi')).toBe(SRC + 4);
  });
});

describe('ECX = 0 does nothing', () => {
  it('rep movsb / rep stosd with ECX=0: no copy, ESI/EDI unchanged', () => {
    const cpu = runHalted('rep movsb\nrep stosd', (c) => { c.write8(SRC, 0x77); regs({ esi: SRC, edi: DST, ecx: 0, eax: 0x12345678 })(c); });
    expect(readBytes(cpu, DST, 4)).toEqual([0, 0, 0, 0]);
    expect([reg(cpu, 'esi'), reg(cpu, 'edi'), reg(cpu, 'ecx')]).toEqual([SRC, DST, 0]);
  });
  it('repe cmpsb / repne scasb with ECX=0 leave the flags alone', () => {
    const cpu = runHalted('repe cmpsb\nrepne scasb', (c) => {
      c.write8(SRC, 1);
      c.write8(DST, 2);
      regs({ esi: SRC, edi: DST, ecx: 0, eax: 2 }, F('OF CF'))(c);
    });
    expect(flagStr(cpu)).toBe('OF CF');
    expect([reg(cpu, 'esi'), reg(cpu, 'edi')]).toEqual([SRC, DST]);
  });
});

describe('DF = 1 (backwards)', () => {
  it('std; rep movsb copies from the end down', () => {
    const cpu = runHalted('std\nrep movsb', (c) => { writeBytes(c, SRC, [1, 2, 3, 4]); regs({ esi: SRC + 3, edi: DST + 3, ecx: 4 })(c); });
    expect(readBytes(cpu, DST, 4)).toEqual([1, 2, 3, 4]);
    expect(reg(cpu, 'esi')).toBe(SRC - 1);
    expect(reg(cpu, 'edi')).toBe(DST - 1);
    expect(cpu.getEflags() & DF).toBe(DF);
  });
  it('std; rep movsd steps by 4 downwards', () => {
    const cpu = runHalted('std\nrep movsd', (c) => {
      [0xa, 0xb, 0xc].forEach((v, i) => c.write32(SRC + 4 * i, v));
      regs({ esi: SRC + 8, edi: DST + 8, ecx: 3 })(c);
    });
    expect([rd32(cpu, DST), rd32(cpu, DST + 4), rd32(cpu, DST + 8)]).toEqual([0xa, 0xb, 0xc]);
    expect(reg(cpu, 'esi')).toBe(SRC - 4);
    expect(reg(cpu, 'edi')).toBe(DST - 4);
  });
  it('std; stosw; lodsd move by -2 / -4', () => {
    const cpu = runHalted('std\nstosw\nlodsd', (c) => { c.write32(SRC, 0xcafef00d); regs({ eax: 0xbeef, edi: DST + 2, esi: SRC })(c); });
    expect(cpu.read16(DST + 2)).toBe(0xbeef);
    expect(reg(cpu, 'edi')).toBe(DST);
    expect(reg(cpu, 'eax')).toBe(0xcafef00d);
    expect(reg(cpu, 'esi')).toBe(SRC - 4);
  });
  it('std; repne scasb searches backwards', () => {
    const cpu = runHalted('std\nrepne scasb', (c) => { writeBytes(c, SRC, bytesOf('a/b/cc')); regs({ eax: 0x2f, edi: SRC + 5, ecx: 6 })(c); });
    // compares c(5), c(4), '/'(3) → stops with EDI = SRC+2, ECX = 3
    expect(reg(cpu, 'edi')).toBe(SRC + 2);
    expect(reg(cpu, 'ecx')).toBe(3);
  });
  it('overlapping backward rep movsd (memmove-style, dst > src) preserves the data', () => {
    const cpu = runHalted('std\nrep movsd', (c) => {
      [0xaaaaaaaa, 0xbbbbbbbb, 0xcccccccc, 0xdddddddd].forEach((v, i) => c.write32(SRC + 4 * i, v));
      regs({ esi: SRC + 8, edi: SRC + 12, ecx: 3 })(c);
    });
    expect([0, 4, 8, 12].map((o) => rd32(cpu, SRC + o))).toEqual([0xaaaaaaaa, 0xaaaaaaaa, 0xbbbbbbbb, 0xcccccccc]);
  });
});

describe('overlapping forward copies replicate (iterations are sequential)', () => {
  it('rep movsb with EDI = ESI+1 smears the first byte', () => {
    const cpu = runHalted('rep movsb', (c) => { writeBytes(c, SRC, [0xab, 1, 2, 3, 4, 5, 6, 7, 8]); regs({ esi: SRC, edi: SRC + 1, ecx: 7 })(c); });
    expect(readBytes(cpu, SRC, 9)).toEqual([0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 8]);
  });
  it('rep movsb with EDI = ESI+3 repeats a 3-byte pattern', () => {
    const cpu = runHalted('rep movsb', (c) => { writeBytes(c, SRC, [1, 2, 3]); regs({ esi: SRC, edi: SRC + 3, ecx: 9 })(c); });
    expect(readBytes(cpu, SRC, 13)).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 0]);
    expect(reg(cpu, 'esi')).toBe(SRC + 9);
    expect(reg(cpu, 'edi')).toBe(SRC + 12);
  });
  it('rep movsd with EDI = ESI+4 replicates the first dword', () => {
    const cpu = runHalted('rep movsd', (c) => {
      [0x11111111, 0x22222222, 0x33333333, 0x44444444, 0x55555555].forEach((v, i) => c.write32(SRC + 4 * i, v));
      regs({ esi: SRC, edi: SRC + 4, ecx: 3 })(c);
    });
    expect([0, 4, 8, 12, 16].map((o) => rd32(cpu, SRC + o))).toEqual([0x11111111, 0x11111111, 0x11111111, 0x11111111, 0x55555555]);
  });
  it('rep movsd with EDI = ESI+2 (overlap inside a dword)', () => {
    // it1: dword [0..3] = 00 01 02 03 → [2..5]: 00 01 00 01 02 03 06 07 ...
    // it2: dword [4..7] = 02 03 06 07 → [6..9]: 00 01 00 01 02 03 02 03 06 07 0a 0b
    const cpu = runHalted('rep movsd', (c) => { writeBytes(c, SRC, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]); regs({ esi: SRC, edi: SRC + 2, ecx: 2 })(c); });
    expect(readBytes(cpu, SRC, 12)).toEqual([0, 1, 0, 1, 2, 3, 2, 3, 6, 7, 10, 11]);
    expect([reg(cpu, 'esi'), reg(cpu, 'edi'), reg(cpu, 'ecx')]).toEqual([SRC + 8, SRC + 10, 0]);
  });
});

describe('address-size prefix (67): CX, SI, DI', () => {
  it('67 F3 A4 (rep movsb, 16-bit addressing) counts in CX and updates only SI/DI', () => {
    const cpu = runHalted('.byte 0x67, 0xf3, 0xa4', (c) => {
      writeBytes(c, 0x4000, [1, 2, 3, 4]);
      regs({ esi: 0x77774000, edi: 0x88885000, ecx: 0x12340003 })(c);
    });
    expect(readBytes(cpu, 0x5000, 4)).toEqual([1, 2, 3, 0]);
    expect(reg(cpu, 'esi')).toBe(0x77774003);
    expect(reg(cpu, 'edi')).toBe(0x88885003);
    expect(reg(cpu, 'ecx')).toBe(0x12340000);
  });
  it('67 AA (stosb) wraps DI at 64 KiB', () => {
    const cpu = runHalted('.byte 0x67, 0xaa', regs({ eax: 0x99, edi: 0x0000ffff }));
    expect(cpu.read8(0xffff)).toBe(0x99);
    expect(reg(cpu, 'edi')).toBe(0);
  });
});

it('string instructions do not change flags (MOVS/STOS/LODS)', () => {
  const cpu = runHalted('rep movsb\nstosb\nlodsb', (c) => { regs({ esi: SRC, edi: DST, ecx: 3 }, F('OF SF ZF AF PF CF'))(c); });
  expect(flagStr(cpu, ARITH)).toBe('OF SF ZF AF PF CF');
});

describe('prefix combinations and REP flavours', () => {
  it('rep scasb (F3 AE) acts as REPE', () => {
    const cpu = runHalted('.byte 0xf3, 0xae', (c) => { writeBytes(c, DST, [0, 0, 5, 0]); regs({ eax: 0, edi: DST, ecx: 4 })(c); });
    expect(reg(cpu, 'ecx')).toBe(1);
    expect(reg(cpu, 'edi')).toBe(DST + 3);
  });
  it('rep lodsb leaves the last byte in AL', () => {
    const cpu = runHalted('rep lodsb', (c) => { writeBytes(c, SRC, [1, 2, 3]); regs({ esi: SRC, ecx: 3, eax: 0xffffff00 })(c); });
    expect(reg(cpu, 'eax')).toBe(0xffffff03);
    expect(reg(cpu, 'esi')).toBe(SRC + 3);
  });
  it('F3 66 A5 and 66 F3 A5 are both rep movsw', () => {
    for (const bytes of [[0xf3, 0x66, 0xa5], [0x66, 0xf3, 0xa5]]) {
      const cpu = runHalted(`.byte ${bytes.join(',')}`, (c) => { writeBytes(c, SRC, [1, 2, 3, 4, 5, 6]); regs({ esi: SRC, edi: DST, ecx: 2 })(c); });
      expect(readBytes(cpu, DST, 6)).toEqual([1, 2, 3, 4, 0, 0]);
      expect(reg(cpu, 'edi')).toBe(DST + 4);
    }
  });
  it('segment override on the source of movsb (F3 2E A4: rep cs: movsb) in a flat machine', () => {
    const cpu = runHalted('.byte 0xf3, 0x2e, 0xa4', (c) => { writeBytes(c, SRC, [7, 8]); regs({ esi: SRC, edi: DST, ecx: 2 })(c); });
    expect(readBytes(cpu, DST, 2)).toEqual([7, 8]);
  });
  it('66 67 A5: movsw with 16-bit addresses', () => {
    const cpu = runHalted('.byte 0x66, 0x67, 0xa5', (c) => { writeBytes(c, 0x4000, [0x34, 0x12]); regs({ esi: 0xaaaa4000, edi: 0xbbbb5000 })(c); });
    expect(cpu.read16(0x5000)).toBe(0x1234);
    expect([reg(cpu, 'esi'), reg(cpu, 'edi')]).toEqual([0xaaaa4002, 0xbbbb5002]);
  });
  it('rep movsb between page-misaligned buffers across several pages, forward and backward', () => {
    const N = 0x1801;
    const S = 0x30ffd;
    const D = 0x40003;
    const pat = (i: number): number => (i * 7 + 3) & 0xff;
    const fillSrc = (c: Parameters<typeof writeBytes>[0]): void => { for (let i = 0; i < N; i++) c.write8(S + i, pat(i)); };
    const fwd = runHalted('rep movsb', (c) => { fillSrc(c); regs({ esi: S, edi: D, ecx: N })(c); });
    const bwd = runHalted('std\nrep movsb', (c) => { fillSrc(c); regs({ esi: S + N - 1, edi: D + N - 1, ecx: N })(c); });
    for (const cpu of [fwd, bwd]) {
      let bad = -1;
      for (let i = 0; i < N && bad < 0; i++) if (cpu.read8(D + i) !== pat(i)) bad = i;
      expect(bad).toBe(-1);
      expect(cpu.read8(D - 1)).toBe(0);
      expect(cpu.read8(D + N)).toBe(0);
    }
    expect([reg(fwd, 'esi'), reg(fwd, 'edi')]).toEqual([S + N, D + N]);
    expect([reg(bwd, 'esi'), reg(bwd, 'edi')]).toEqual([S - 1, D - 1]);
  });
  it('overlapping forward rep movsb across a page boundary still replicates', () => {
    const cpu = runHalted('rep movsb', (c) => { writeBytes(c, 0x30ffe, [0x5c, 1, 2, 3, 4, 5, 6, 7, 8, 9]); regs({ esi: 0x30ffe, edi: 0x30fff, ecx: 8 })(c); });
    expect(readBytes(cpu, 0x30ffe, 10)).toEqual([0x5c, 0x5c, 0x5c, 0x5c, 0x5c, 0x5c, 0x5c, 0x5c, 0x5c, 9]);
  });
  it('rep stosd at an unaligned address crossing a page', () => {
    const cpu = runHalted('rep stosd', regs({ edi: 0x30ffe, ecx: 2, eax: 0x04030201 }));
    expect(readBytes(cpu, 0x30ffd, 10)).toEqual([0, 1, 2, 3, 4, 1, 2, 3, 4, 0]);
  });
});
