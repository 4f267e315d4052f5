/**
 * Bit instructions: BT/BTS/BTR/BTC (SDM: "CF ← selected bit; ZF unaffected;
 * OF SF AF PF undefined"), BSF/BSR ("if the source is 0, ZF=1 and the
 * destination is undefined" — kmemsim, like every real implementation and
 * AMD's documentation, leaves it unchanged), BSWAP, SETcc and CMOVcc for all
 * sixteen conditions.
 *
 * Bit-string addressing (SDM "BT" and Vol. 1 §3.6.1 "Bit Field and Bit
 * Addressing"): with a register bit offset and a memory base, the offset is
 * a signed 32-bit (or 16-bit) number of bits from the base byte, so -1 is
 * bit 7 of the byte before the base and 100 is bit 4 of base+12. With an
 * immediate offset, only offset mod operand-size is used.
 */
import { describe, expect, it } from 'vitest';
import { ARITH, CF, ZF } from '../../src/cpu/flags.js';
import { DATA, F, flagStr, rd32, readBytes, reg, regs, runHalted, writeBytes } from '../helpers/asm.js';
import { CC, FLAG_STATES, INSN_STATES } from './conditions.js';

const BT_MASK = CF | ZF;

describe('BT / BTS / BTR / BTC on registers', () => {
  it('bt eax, imm8: CF = bit; ZF unaffected', () => {
    const cpu = runHalted('bt eax, 5\nsetc bl\nbt eax, 4', regs({ eax: 0x20 }, F('ZF')));
    expect(reg(cpu, 'ebx') & 0xff).toBe(1);
    expect(flagStr(cpu, BT_MASK)).toBe('ZF');
  });
  it('bt eax, ebx takes the register offset modulo 32', () => {
    const cpu = runHalted('bt eax, ebx', regs({ eax: 0x20, ebx: 37 }));
    expect(flagStr(cpu, BT_MASK)).toBe('CF');
  });
  it('bt ax, bx takes the offset modulo 16', () => {
    const cpu = runHalted('bt ax, bx', regs({ eax: 0x0008, ebx: 19 }));
    expect(flagStr(cpu, BT_MASK)).toBe('CF');
  });
  it('bts / btr / btc modify the bit and return the old value in CF', () => {
    const cpu = runHalted('bts eax, 0\nsetc dl\nbtr ebx, 31\nsetc dh\nbtc ecx, 3\nsetc byte ptr [0x20000]\nbtc esi, 3', regs({ eax: 0, ebx: 0x80000001, ecx: 8, esi: 0 }));
    expect(reg(cpu, 'eax')).toBe(1);
    expect(reg(cpu, 'ebx')).toBe(1);
    expect(reg(cpu, 'ecx')).toBe(0);
    expect(reg(cpu, 'esi')).toBe(8);
    expect(reg(cpu, 'edx') & 0xffff).toBe(0x0100); // DL = old bit 0 of EAX = 0, DH = old bit 31 of EBX = 1
    expect(cpu.read8(0x20000)).toBe(1);
    expect(flagStr(cpu, CF)).toBe(''); // last btc found 0
  });
  it('bts cx, dx (16-bit register form): offset 17 → bit 1', () => {
    const cpu = runHalted('bts cx, dx', regs({ ecx: 0xffff0000, edx: 17 }));
    expect(reg(cpu, 'ecx').toString(16)).toBe('ffff0002');
    expect(flagStr(cpu, CF)).toBe('');
  });
});

describe('BT family on memory bit strings', () => {
  const B = DATA + 0x100;
  it('bt [base], reg with offset -1 reads bit 7 of the byte before base', () => {
    const cpu = runHalted(`bt dword ptr [${B}], ebx\nsetc cl\nmov ebx, -2\nbt dword ptr [${B}], ebx`, (c) => { c.write8(B - 1, 0x80); c.regs[3] = -1; });
    expect(reg(cpu, 'ecx') & 0xff).toBe(1);
    expect(flagStr(cpu, CF)).toBe(''); // bit 6 of byte B-1 is 0
  });
  it('bts [base], reg with offset -9 sets bit 7 of byte base-2 and nothing else', () => {
    const cpu = runHalted(`bts dword ptr [${B}], ebx`, regs({ ebx: -9 }));
    expect(readBytes(cpu, B - 8, 16)).toEqual([0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(flagStr(cpu, CF)).toBe('');
  });
  it('btc [base], reg with offset 100 toggles bit 4 of byte base+12', () => {
    const cpu = runHalted(`btc dword ptr [${B}], ebx`, regs({ ebx: 100 }));
    expect(readBytes(cpu, B, 16)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]);
    expect(flagStr(cpu, CF)).toBe('');
  });
  it('btr word ptr [base], bx with BX = 0xffff (-1 as a 16-bit offset) ignores the upper half of EBX', () => {
    const cpu = runHalted(`btr word ptr [${B}], bx`, (c) => { c.regs[3] = 0x1234ffff; writeBytes(c, B - 2, [0xff, 0xff, 0xff, 0xff]); });
    expect(readBytes(cpu, B - 2, 4)).toEqual([0xff, 0x7f, 0xff, 0xff]);
    expect(flagStr(cpu, CF)).toBe('CF');
  });
  it('bts [base], reg with a large positive offset (0x8003) reaches base+0x1000', () => {
    const cpu = runHalted(`bts dword ptr [${B}], ebx`, regs({ ebx: 0x8003 }));
    expect(cpu.read8(B + 0x1000)).toBe(0x08);
    expect(rd32(cpu, B)).toBe(0);
  });
  it('bts [base], reg with offset -2048 bits reaches bit 0 of base-256', () => {
    const cpu = runHalted(`bts dword ptr [${B}], ebx`, regs({ ebx: -2048 }));
    expect(cpu.read8(B - 256)).toBe(0x01);
  });
  it('bt dword ptr [base], 33 (immediate) uses 33 mod 32 = bit 1 of the dword at base', () => {
    const cpu = runHalted(`bt dword ptr [${B}], 33`, (c) => { c.write32(B, 0x2); c.write32(B + 4, 0); });
    expect(flagStr(cpu, CF)).toBe('CF');
  });
  it('bts word ptr [base], 17 (immediate) sets bit 1 of the word at base', () => {
    const cpu = runHalted(`bts word ptr [${B}], 17`);
    expect(readBytes(cpu, B, 4)).toEqual([0x02, 0, 0, 0]);
    expect(flagStr(cpu, CF)).toBe('');
  });
  it('btr/btc dword ptr [mem], imm on a set bit', () => {
    const cpu = runHalted(`btr dword ptr [${B}], 31\nsetc al\nbtc dword ptr [${B}], 0`, (c) => c.write32(B, 0x80000001));
    expect(rd32(cpu, B)).toBe(0);
    expect(reg(cpu, 'eax') & 0xff).toBe(1);
    expect(flagStr(cpu, CF)).toBe('CF');
  });
});

describe('BSF / BSR', () => {
  it('bsf/bsr on 0x00018000 give 15 and 16, ZF=0', () => {
    const cpu = runHalted('bsf eax, ebx\nbsr ecx, ebx', regs({ ebx: 0x00018000 }, F('ZF')));
    expect(reg(cpu, 'eax')).toBe(15);
    expect(reg(cpu, 'ecx')).toBe(16);
    expect(flagStr(cpu, ZF)).toBe('');
  });
  it('bsf with a zero source sets ZF and leaves the destination unchanged', () => {
    const cpu = runHalted('bsf eax, ebx', regs({ eax: 0x12345678, ebx: 0 }));
    expect(reg(cpu, 'eax')).toBe(0x12345678);
    expect(flagStr(cpu, ZF)).toBe('ZF');
  });
  it('bsr with a zero memory source sets ZF and leaves the destination unchanged', () => {
    const cpu = runHalted(`bsr ecx, dword ptr [${DATA}]`, regs({ ecx: 0xcafebabe }));
    expect(reg(cpu, 'ecx')).toBe(0xcafebabe);
    expect(flagStr(cpu, ZF)).toBe('ZF');
  });
  it('bsr ax, bx (16-bit) writes only AX', () => {
    const cpu = runHalted('bsr ax, bx', regs({ eax: 0xaaaaffff, ebx: 0xffff0001 }));
    expect(reg(cpu, 'eax')).toBe(0xaaaa0000);
  });
  it('bsf/bsr eax, dword ptr [mem] with 0x80000000 both give 31', () => {
    const cpu = runHalted(`bsf eax, dword ptr [${DATA}]\nbsr edx, dword ptr [${DATA}]`, (c) => c.write32(DATA, 0x80000000));
    expect(reg(cpu, 'eax')).toBe(31);
    expect(reg(cpu, 'edx')).toBe(31);
  });
  it('bsf ax, bx: 16-bit source 0x8000 → 15', () => {
    const cpu = runHalted('bsf ax, bx', regs({ eax: 0x55550000, ebx: 0x00018000 }));
    expect(reg(cpu, 'eax')).toBe(0x5555000f);
  });
});

describe('BSWAP', () => {
  it('bswap eax and bswap edi', () => {
    const cpu = runHalted('bswap eax\nbswap edi', regs({ eax: 0x12345678, edi: 0x80000001 }, ARITH));
    expect(reg(cpu, 'eax')).toBe(0x78563412);
    expect(reg(cpu, 'edi')).toBe(0x01000080);
    expect(flagStr(cpu)).toBe('OF SF ZF AF PF CF'); // no flags affected
  });
});

function setccSrc(prefix: string): string {
  return `${prefix}\n${CC.map((c, i) => `set${c} byte ptr [${DATA + i}]`).join('\n')}`;
}
function readTruth(cpu: ReturnType<typeof runHalted>): string {
  return readBytes(cpu, DATA, 16).map((b) => (b === 1 ? '1' : b === 0 ? '0' : `?${b}`)).join('');
}
const fill = (c: Parameters<NonNullable<Parameters<typeof runHalted>[1]>>[0]): void => writeBytes(c, DATA, new Array(16).fill(0xcc));

describe('SETcc (all 16 conditions)', () => {
  for (const st of FLAG_STATES) {
    it(`flags {${st.flags}} → ${st.truth}`, () => {
      const cpu = runHalted(setccSrc(''), (c) => { fill(c); c.setEflags(F(st.flags), ARITH); });
      expect(readTruth(cpu)).toBe(st.truth);
    });
  }
  for (const st of INSN_STATES) {
    it(`after ${st.name} → ${st.truth}`, () => {
      const cpu = runHalted(setccSrc(st.src), (c) => { fill(c); regs(st.regs)(c); });
      expect(readTruth(cpu)).toBe(st.truth);
    });
  }
  it('setcc r8 writes only the byte register (including AH..BH encodings)', () => {
    const cpu = runHalted('stc\nsetc al\nsetnc ah\nsetb bh', regs({ eax: 0x12345678, ebx: 0xffffffff }));
    expect(reg(cpu, 'eax')).toBe(0x12340001);
    expect(reg(cpu, 'ebx')).toBe(0xffff01ff);
  });
});

describe('CMOVcc (all 16 conditions)', () => {
  const src = (prefix: string): string =>
    `${prefix}\n${CC.map((c, i) => `mov edx, ecx\ncmov${c} edx, esi\nmov dword ptr [${DATA + 4 * i}], edx`).join('\n')}`;
  const truth = (cpu: ReturnType<typeof runHalted>): string =>
    Array.from({ length: 16 }, (_, i) => {
      const v = rd32(cpu, DATA + 4 * i);
      return v === 0x11111111 ? '1' : v === 0xaaaaaaaa ? '0' : `?${v.toString(16)}`;
    }).join('');
  for (const st of FLAG_STATES) {
    it(`flags {${st.flags}} → ${st.truth}`, () => {
      const cpu = runHalted(src(''), (c) => { regs({ ecx: 0xaaaaaaaa, esi: 0x11111111 })(c); c.setEflags(F(st.flags), ARITH); });
      expect(truth(cpu)).toBe(st.truth);
    });
  }
  for (const st of INSN_STATES.slice(0, 5)) {
    it(`after ${st.name} → ${st.truth}`, () => {
      const cpu = runHalted(src(st.src), (c) => { regs({ ...st.regs, ecx: 0xaaaaaaaa, esi: 0x11111111 })(c); });
      expect(truth(cpu)).toBe(st.truth);
    });
  }
  it('cmovz ax, word ptr [mem] (16-bit, memory source) and a not-taken cmov keep the destination', () => {
    const cpu = runHalted(`cmp eax, eax\ncmovz ax, word ptr [${DATA}]\ncmovnz ebx, dword ptr [${DATA}]`, (c) => {
      c.write32(DATA, 0xbeefcafe);
      c.regs[0] = 0x12345678;
      c.regs[3] = 0x5a5a5a5a;
    });
    expect(reg(cpu, 'eax')).toBe(0x1234cafe);
    expect(reg(cpu, 'ebx')).toBe(0x5a5a5a5a);
    expect(flagStr(cpu)).toBe('ZF PF'); // CMOV changes no flags
  });
});

describe('bit instructions mixed with lazily pending flags', () => {
  it('bt after CMP: CF from the bit, ZF kept from the CMP', () => {
    const cpu = runHalted('cmp eax, eax\nbt ebx, 0', regs({ eax: 5, ebx: 1 }));
    expect(flagStr(cpu, BT_MASK)).toBe('ZF CF');
  });
  it('bts on memory after a non-zero SUB keeps ZF = 0', () => {
    const cpu = runHalted(`sub eax, 1\nbts dword ptr [${DATA}], 3`, (c) => { regs({ eax: 5 }, F('ZF'))(c); c.write32(DATA, 8); });
    expect(flagStr(cpu, BT_MASK)).toBe('CF');
  });
  it('bts word ptr [base], bx with BX = 0x8000 (-32768 bits) reaches base - 4096', () => {
    const B = DATA + 0x100;
    const cpu = runHalted(`bts word ptr [${B}], bx`, regs({ ebx: 0x00008000 }));
    expect(cpu.read8(B - 4096)).toBe(0x01);
  });
  it('setcc after bt reads the bit through CF', () => {
    const cpu = runHalted('bt eax, 31\nsetc bl\nsetnc cl', regs({ eax: 0x80000000 }));
    expect([reg(cpu, 'ebx') & 0xff, reg(cpu, 'ecx') & 0xff]).toEqual([1, 0]);
  });
  it('bsr with a zero 16-bit source sets ZF and leaves AX', () => {
    const cpu = runHalted('bsr ax, bx', regs({ eax: 0x12345678, ebx: 0xffff0000 }));
    expect(reg(cpu, 'eax')).toBe(0x12345678);
    expect(flagStr(cpu, ZF)).toBe('ZF');
  });
});
