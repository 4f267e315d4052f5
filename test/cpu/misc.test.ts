/**
 * Miscellaneous: NOP forms (incl. the multi-byte 0F 1F /0), CPUID,
 * RDTSC, UD2, FISTTP (SSE3: #UD on this i686), over-long
 * instructions (#GP(0), SDM Vol. 2 §2.3.11: the 15-byte limit), LOCK
 * rules (SDM "LOCK": #UD unless the destination is memory and the
 * instruction is lockable), INT3/INT n/INTO with no IDT.
 */
import { describe, expect, it } from 'vitest';
import { ARITH } from '../../src/cpu/flags.js';
import { CODE_BASE, DATA, F, flagStr, rd32, reg, regs, runBytes, runHalted, runSnippet } from '../helpers/asm.js';

describe('NOP forms', () => {
  const NOPS: number[][] = [
    [0x90],
    [0x66, 0x90],
    [0xf3, 0x90], // PAUSE
    [0x0f, 0x1f, 0x00], // nop [eax]
    [0x0f, 0x1f, 0x40, 0x00], // nop [eax+0]
    [0x0f, 0x1f, 0x44, 0x00, 0x00], // nop [eax+eax*1+0] (SIB)
    [0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00], // nop [eax+disp32]
    [0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00], // nop [eax+eax*1+disp32]
    [0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00], // nopw [eax+eax*1+disp32]
    [0x0f, 0x1f, 0x05, 0x00, 0x00, 0x00, 0xf0], // nop [0xf0000000]: no memory access happens
  ];
  it('all forms decode with the right length and change nothing', () => {
    const bytes = [...NOPS.flat(), 0xbb, 0x78, 0x56, 0x34, 0x12, 0xf4]; // mov ebx, 0x12345678; hlt
    const { cpu, stop } = runBytes(bytes, regs({ eax: 0, ecx: 0x55 }, F('CF ZF')));
    expect(stop).toEqual({ kind: 'halted' });
    expect(reg(cpu, 'ebx')).toBe(0x12345678);
    expect(reg(cpu, 'eax')).toBe(0);
    expect(reg(cpu, 'ecx')).toBe(0x55);
    expect(reg(cpu, 'esp')).toBe(0x80000);
    expect(flagStr(cpu)).toBe('ZF CF');
  });
  it('0F 1F /0 with an address outside RAM does not fault', () => {
    const { stop } = runBytes([0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0xf0, 0xf4], regs({ eax: 0x0ff00000 }));
    expect(stop).toEqual({ kind: 'halted' });
  });
});

describe('CPUID', () => {
  it('leaf 0: max leaf >= 1 and a 12-character printable vendor string in EBX EDX ECX', () => {
    const cpu = runHalted('cpuid', regs({ eax: 0, ecx: 0xdeadbeef }));
    expect(reg(cpu, 'eax')).toBeGreaterThanOrEqual(1);
    const vendor = [reg(cpu, 'ebx'), reg(cpu, 'edx'), reg(cpu, 'ecx')].map((v) => String.fromCharCode(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24)).join('');
    expect(vendor).toMatch(/^[\x20-\x7e]{12}$/);
  });
  it('leaf 1: FPU, CMOV (hence FCMOV/FCOMI), CX8, TSC present; no MMX, SSE, SSE2, SSE3', () => {
    const cpu = runHalted('cpuid', regs({ eax: 1 }));
    const edx = reg(cpu, 'edx');
    const ecx = reg(cpu, 'ecx');
    const bit = (v: number, b: number): number => (v >>> b) & 1;
    expect({ fpu: bit(edx, 0), mmx: bit(edx, 23), sse: bit(edx, 25), sse2: bit(edx, 26), sse3: bit(ecx, 0), ssse3: bit(ecx, 9) }).toEqual({ fpu: 1, mmx: 0, sse: 0, sse2: 0, sse3: 0, ssse3: 0 });
    expect({ tsc: bit(edx, 4), cx8: bit(edx, 8), cmov: bit(edx, 15) }).toEqual({ tsc: 1, cx8: 1, cmov: 1 });
  });
});

describe('RDTSC', () => {
  const src = 'rdtsc\nmov esi, eax\nmov edi, edx\nnop\nnop\nnop\nrdtsc';
  it('is monotonic', () => {
    const cpu = runHalted(src);
    const t0 = reg(cpu, 'edi') * 2 ** 32 + reg(cpu, 'esi');
    const t1 = reg(cpu, 'edx') * 2 ** 32 + reg(cpu, 'eax');
    expect(t1).toBeGreaterThan(t0);
  });
  it('is deterministic (same program, same values)', () => {
    const a = runHalted(src);
    const b = runHalted(src);
    expect([reg(a, 'esi'), reg(a, 'edi'), reg(a, 'eax'), reg(a, 'edx')]).toEqual([reg(b, 'esi'), reg(b, 'edi'), reg(b, 'eax'), reg(b, 'edx')]);
  });
});

describe('invalid and unmodelled opcodes', () => {
  it('ud2 → #UD at the UD2', () => {
    const { stop } = runSnippet('nop\nud2\nhlt');
    expect(stop).toMatchObject({ kind: 'fault', vector: 6, eip: CODE_BASE + 1 });
  });
  it('fisttp dword ptr [eax] (SSE3, not on this i686) → vector 6', () => {
    const { stop } = runSnippet('fisttp dword ptr [eax]\nhlt', regs({ eax: DATA }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 6, eip: CODE_BASE });
  });
  it('a 15-byte instruction (14 prefixes + NOP) is legal', () => {
    const { cpu, stop } = runBytes([...new Array(14).fill(0x3e), 0x90, 0xbb, 0x01, 0x00, 0x00, 0x00, 0xf4]);
    expect(stop).toEqual({ kind: 'halted' });
    expect(reg(cpu, 'ebx')).toBe(1);
  });
  it('a 16-byte instruction (15 prefixes + NOP) → #GP(0)', () => {
    const { stop } = runBytes([...new Array(15).fill(0x3e), 0x90, 0xf4]);
    expect(stop).toMatchObject({ kind: 'fault', vector: 13, errorCode: 0, eip: CODE_BASE });
  });
  it('a 16-byte instruction made of a repeated 66 prefix and a real opcode → #GP(0)', () => {
    // 12 × 66 + 81 C0 imm16 (add ax, imm16) = 12 + 4 = 16 bytes
    const { stop } = runBytes([...new Array(12).fill(0x66), 0x81, 0xc0, 0x34, 0x12, 0xf4]);
    expect(stop).toMatchObject({ kind: 'fault', vector: 13, errorCode: 0, eip: CODE_BASE });
  });
});

describe('LOCK prefix', () => {
  it('lock add eax, ebx (register destination) → #UD', () => {
    const { cpu, stop } = runBytes([0xf0, 0x01, 0xd8, 0xf4], regs({ eax: 1, ebx: 2 }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 6, eip: CODE_BASE });
    expect(reg(cpu, 'eax')).toBe(1);
  });
  it('lock add dword ptr [mem], imm is fine', () => {
    const cpu = runHalted(`lock add dword ptr [${DATA}], 1\nlock xadd dword ptr [${DATA}], ecx\nlock cmpxchg dword ptr [${DATA}], ebx`, (c) => {
      c.write32(DATA, 41);
      regs({ ecx: 10, eax: 52, ebx: 7 })(c);
    });
    // 41+1 = 42; xadd: mem = 52, ecx = 42; cmpxchg: eax 52 == mem → mem = 7
    expect(rd32(cpu, DATA)).toBe(7);
    expect(reg(cpu, 'ecx')).toBe(42);
  });
  it('lock mov [mem], eax (MOV is not lockable) → #UD', () => {
    const { stop } = runBytes([0xf0, 0x89, 0x05, 0x00, 0x00, 0x02, 0x00, 0xf4]);
    expect(stop).toMatchObject({ kind: 'fault', vector: 6, eip: CODE_BASE });
  });
  it('lock nop → #UD', () => {
    const { stop } = runBytes([0xf0, 0x90, 0xf4]);
    expect(stop).toMatchObject({ kind: 'fault', vector: 6 });
  });
});

describe('software interrupts with no IDT', () => {
  it('int3 stops with vector 3; the reported EIP is the next instruction (trap)', () => {
    const { stop } = runSnippet('int3\nhlt');
    expect(stop).toMatchObject({ kind: 'fault', vector: 3, eip: CODE_BASE + 1 });
  });
  it('int 3 (CD 03) stops with vector 3', () => {
    const { stop } = runBytes([0xcd, 0x03, 0xf4]);
    expect(stop).toMatchObject({ kind: 'fault', vector: 3 });
  });
  it('into with OF=1 stops with vector 4', () => {
    const { stop } = runBytes([0xce, 0xf4], regs({}, F('OF'), ARITH));
    expect(stop).toMatchObject({ kind: 'fault', vector: 4, eip: CODE_BASE + 1 });
  });
  it('into with OF=0 does nothing', () => {
    const { stop } = runBytes([0xce, 0xf4], regs({}, 0));
    expect(stop).toEqual({ kind: 'halted' });
  });
  it('into after an overflowing ADD stops with vector 4', () => {
    const { stop } = runBytes([0x01, 0xd8, 0xce, 0xf4], regs({ eax: 0x7fffffff, ebx: 1 }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 4 });
  });
  it('int 0x80 stops with vector 0x80', () => {
    const { stop } = runBytes([0xcd, 0x80, 0xf4]);
    expect(stop).toMatchObject({ kind: 'fault', vector: 0x80 });
  });
});

describe('more opcode classes', () => {
  it('wait/fwait (9B) with CR0.MP = 0 is a no-op (#NM needs MP and TS)', () => {
    const { stop } = runBytes([0x9b, 0xf4]);
    expect(stop).toEqual({ kind: 'halted' });
  });
  it('SSE movaps (0F 28) → #UD (no SSE)', () => {
    const { stop } = runBytes([0x0f, 0x28, 0x00, 0xf4], regs({ eax: DATA }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 6, eip: CODE_BASE });
  });
  it('MMX pxor mm0, mm0 (0F EF C0) and emms (0F 77) → #UD (no MMX)', () => {
    expect(runBytes([0x0f, 0xef, 0xc0, 0xf4]).stop).toMatchObject({ kind: 'fault', vector: 6 });
    expect(runBytes([0x0f, 0x77, 0xf4]).stop).toMatchObject({ kind: 'fault', vector: 6 });
  });
  it('0F 1F /0 with a register operand is also a NOP', () => {
    const { cpu, stop } = runBytes([0x0f, 0x1f, 0xc0, 0xf4], regs({ eax: 0x1234 }));
    expect(stop).toEqual({ kind: 'halted' });
    expect(reg(cpu, 'eax')).toBe(0x1234);
  });
  it('a REP prefix on a non-string instruction is ignored (F3 40 = inc eax)', () => {
    const { cpu, stop } = runBytes([0xf3, 0x40, 0xf2, 0x40, 0xf4], regs({ eax: 1, ecx: 5 }));
    expect(stop).toEqual({ kind: 'halted' });
    expect(reg(cpu, 'eax')).toBe(3);
    expect(reg(cpu, 'ecx')).toBe(5);
  });
  it('int1 / icebp (F1) stops with vector 1', () => {
    expect(runBytes([0xf1, 0xf4]).stop).toMatchObject({ kind: 'fault', vector: 1 });
  });
  it('bound: in range continues, out of range → #BR (vector 5)', () => {
    const ok = runSnippet(`bound eax, qword ptr [${DATA}]\nhlt`, (c) => { c.write32(DATA, 0); c.write32(DATA + 4, 10); c.regs[0] = 10; });
    expect(ok.stop).toEqual({ kind: 'halted' });
    const bad = runSnippet(`bound eax, qword ptr [${DATA}]\nhlt`, (c) => { c.write32(DATA, 0); c.write32(DATA + 4, 10); c.regs[0] = 11; });
    expect(bad.stop).toMatchObject({ kind: 'fault', vector: 5, eip: CODE_BASE });
    const neg = runSnippet(`bound eax, qword ptr [${DATA}]\nhlt`, (c) => { c.write32(DATA, -5); c.write32(DATA + 4, 5); c.regs[0] = -6; });
    expect(neg.stop).toMatchObject({ kind: 'fault', vector: 5 });
  });
  it('CPUID with a leaf above the maximum basic leaf returns the highest basic leaf (Intel SDM CPUID)', () => {
    const max = reg(runHalted('cpuid', regs({ eax: 0 })), 'eax');
    const hi = runHalted('cpuid', regs({ eax: max }));
    const over = runHalted('cpuid', regs({ eax: max + 1 }));
    const four = (c: typeof hi): number[] => [reg(c, 'eax'), reg(c, 'ebx'), reg(c, 'ecx'), reg(c, 'edx')];
    expect(four(over)).toEqual(four(hi));
  });
});

describe('more LOCK rules', () => {
  const M = [0x00, 0x00, 0x02, 0x00]; // disp32 = 0x20000
  it('lock bt [mem], reg → #UD (BT is not lockable); lock bts is fine', () => {
    expect(runBytes([0xf0, 0x0f, 0xa3, 0x05, ...M, 0xf4]).stop).toMatchObject({ kind: 'fault', vector: 6 });
    const { cpu, stop } = runBytes([0xf0, 0x0f, 0xab, 0x05, ...M, 0xf4], regs({ eax: 4 }));
    expect(stop).toEqual({ kind: 'halted' });
    expect(cpu.read8(DATA)).toBe(0x10);
  });
  it('lock cmp [mem], imm8 → #UD (CMP is not lockable)', () => {
    expect(runBytes([0xf0, 0x83, 0x3d, ...M, 0x01, 0xf4]).stop).toMatchObject({ kind: 'fault', vector: 6 });
  });
  it('lock xchg with two registers (F0 87 C3) → #UD', () => {
    expect(runBytes([0xf0, 0x87, 0xc3, 0xf4]).stop).toMatchObject({ kind: 'fault', vector: 6 });
  });
  it('lock inc / not / neg / sbb / xchg on memory are fine', () => {
    const cpu = runHalted(`lock inc dword ptr [${DATA}]\nlock not byte ptr [${DATA + 4}]\nlock neg dword ptr [${DATA + 8}]\nlock sbb dword ptr [${DATA}], 0\nlock xchg dword ptr [${DATA + 12}], ecx`, (c) => {
      c.write32(DATA, 1);
      c.write32(DATA + 8, 1);
      c.regs[1] = 0x99;
    });
    // inc: 2; not 0 → 0xff; neg 1 → -1 sets CF; sbb 2 - 0 - 1 = 1
    expect([rd32(cpu, DATA), cpu.read8(DATA + 4), rd32(cpu, DATA + 8), rd32(cpu, DATA + 12), reg(cpu, 'ecx')]).toEqual([1, 0xff, 0xffffffff, 0x99, 0]);
  });
});

describe('single-step (TF) with no IDT', () => {
  it('popfd setting TF: the trap comes after the next instruction (SDM Vol. 3 §17.3.1.4)', () => {
    // 0x1000: 68 02 01 00 00 push 0x102 ; 0x1005: 9d popfd ; 0x1006: 40 inc eax ; 0x1007: 40 inc eax ; 0x1008: f4
    const { cpu, stop } = runBytes([0x68, 0x02, 0x01, 0x00, 0x00, 0x9d, 0x40, 0x40, 0xf4], regs({ eax: 0 }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 1, eip: CODE_BASE + 7 });
    expect(reg(cpu, 'eax')).toBe(1);
  });
  it('rep movsb under TF traps after one iteration with EIP still at the REP instruction', () => {
    // push 0x102; popfd; rep movsb (F3 A4 at 0x1006)
    const { cpu, stop } = runBytes([0x68, 0x02, 0x01, 0x00, 0x00, 0x9d, 0xf3, 0xa4, 0xf4], regs({ esi: DATA, edi: DATA + 0x100, ecx: 3 }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 1, eip: CODE_BASE + 6 });
    expect([reg(cpu, 'ecx'), reg(cpu, 'esi'), reg(cpu, 'edi')]).toEqual([2, DATA + 1, DATA + 0x101]);
  });
});

describe('encodings compilers emit', () => {
  it('endbr32 (F3 0F 1E FB) and endbr64 (F3 0F 1E FA) are NOPs on a processor without CET (reserved-NOP space 0F 1E)', () => {
    const { cpu, stop } = runBytes([0xf3, 0x0f, 0x1e, 0xfb, 0xf3, 0x0f, 0x1e, 0xfa, 0x40, 0xf4], regs({ eax: 0 }));
    expect(stop).toEqual({ kind: 'halted' });
    expect(reg(cpu, 'eax')).toBe(1);
  });
  it('rep bsf (F3 0F BC, TZCNT encoding) runs as BSF where TZCNT is not supported (SDM TZCNT)', () => {
    const a = runBytes([0xf3, 0x0f, 0xbc, 0xc3, 0xf4], regs({ eax: 0x99, ebx: 8 }));
    expect(a.stop).toEqual({ kind: 'halted' });
    expect(reg(a.cpu, 'eax')).toBe(3);
    const b = runBytes([0xf3, 0x0f, 0xbc, 0xc3, 0xf4], regs({ eax: 0x99, ebx: 0 }));
    expect(reg(b.cpu, 'eax')).toBe(0x99); // BSF with zero source: ZF = 1, destination kept (TZCNT would write 32)
    expect(flagStr(b.cpu, F('ZF'))).toBe('ZF');
  });
  it('rep bsr (F3 0F BD, LZCNT encoding) runs as BSR where LZCNT is not supported', () => {
    const { cpu } = runBytes([0xf3, 0x0f, 0xbd, 0xc3, 0xf4], regs({ ebx: 8 }));
    expect(reg(cpu, 'eax')).toBe(3); // LZCNT would give 28
  });
  it('82 /0 ib (alias of 80 /0, valid outside 64-bit mode): add al, 5', () => {
    const { cpu, stop } = runBytes([0x82, 0xc0, 0x05, 0xf4], regs({ eax: 0x100 }));
    expect(stop).toEqual({ kind: 'halted' });
    expect(reg(cpu, 'eax')).toBe(0x105);
  });
  it('66 68 iw pushes a 16-bit immediate and the next instruction decodes after it', () => {
    const { cpu } = runBytes([0x66, 0x68, 0x34, 0x12, 0x40, 0xf4], regs({ eax: 0 }));
    expect(cpu.read16(0x80000 - 2)).toBe(0x1234);
    expect(reg(cpu, 'esp')).toBe(0x80000 - 2);
    expect(reg(cpu, 'eax')).toBe(1);
  });
});

describe('unusual ModRM/SIB forms', () => {
  it('SIB with index 100 (none) and a scale: [eax + riz*4]', () => {
    const { cpu } = runBytes([0x8b, 0x04, 0xa0, 0xf4], (c) => { c.write32(DATA, 0x1234); c.regs[0] = DATA; });
    expect(reg(cpu, 'eax')).toBe(0x1234);
  });
  it('SIB base 101 with mod 01 is [ebp + index*s + disp8]; with mod 00 it is [index*s + disp32]', () => {
    const a = runBytes([0x8b, 0x44, 0x8d, 0x04, 0xf4], (c) => { c.write32(DATA + 12 + 4, 0x5555); regs({ ebp: DATA, ecx: 3 })(c); });
    expect(reg(a.cpu, 'eax')).toBe(0x5555);
    const b = runBytes([0x8b, 0x04, 0x8d, 0x00, 0x00, 0x02, 0x00, 0xf4], (c) => { c.write32(DATA + 12, 0x6666); regs({ ebp: 0x12345678, ecx: 3 })(c); });
    expect(reg(b.cpu, 'eax')).toBe(0x6666);
  });
  it('16-bit forms [si], [di], [bx], [bp+0], [bx+disp16] with 64 KiB wrap', () => {
    const { cpu } = runBytes(
      [0x67, 0x8b, 0x04, 0x67, 0x8b, 0x0d, 0x67, 0x8b, 0x17, 0x67, 0x8b, 0x5e, 0x00, 0x67, 0x8b, 0xb7, 0x00, 0xf0, 0xf4],
      (c) => {
        c.write32(0x4000, 0x11);
        c.write32(0x4100, 0x22);
        c.write32(0x4200, 0x33);
        c.write32(0x4300, 0x44);
        c.write32(0x1000 + 0x400, 0x55); // 0x2400 + 0xf000 = 0x11400 → 0x1400
        regs({ esi: 0x4000, edi: 0x4100, ebx: 0x4200, ebp: 0x4300 })(c);
        c.regs[3] = 0x4200;
      },
    );
    expect([reg(cpu, 'eax'), reg(cpu, 'ecx'), reg(cpu, 'edx'), reg(cpu, 'ebx')]).toEqual([0x11, 0x22, 0x33, 0x44]);
    // last load used BX after it was overwritten with 0x44: [0x0044 + 0xf000] = 0xf044
    expect(reg(cpu, 'esi')).toBe(cpu.read32(0xf044) >>> 0);
  });
});

describe('invalid encodings raise #UD', () => {
  const cases: [string, number[]][] = [
    ['LEA with a register operand (8D C0)', [0x8d, 0xc0]],
    ['POP r/m /1 (8F C8)', [0x8f, 0xc8]],
    ['MOV r/m8, imm8 /1 (C6 08 00)', [0xc6, 0x08, 0x00]],
    ['INC/DEC group FE /2 (FE 10)', [0xfe, 0x10]],
    ['group FF /7 (FF 38)', [0xff, 0x38]],
    ['BT group 0F BA /0', [0x0f, 0xba, 0xc0, 0x05]],
    ['UD0 (0F FF C0)', [0x0f, 0xff, 0xc0]],
    ['UD1 (0F B9 C0)', [0x0f, 0xb9, 0xc0]],
    ['BOUND with a register operand (62 C0)', [0x62, 0xc0]],
    ['LDS with a register operand (C5 C0)', [0xc5, 0xc0]],
    ['POPCNT (F3 0F B8 C3; CPUID.01H:ECX.POPCNT = 0)', [0xf3, 0x0f, 0xb8, 0xc3]],
    ['MOVBE (0F 38 F0 03; CPUID.01H:ECX.MOVBE = 0)', [0x0f, 0x38, 0xf0, 0x03]],
  ];
  for (const [name, bytes] of cases) {
    it(name, () => {
      const { stop } = runBytes([...bytes, 0xf4], regs({ eax: DATA, ebx: DATA }));
      expect(stop).toMatchObject({ kind: 'fault', vector: 6, eip: CODE_BASE });
    });
  }
});
