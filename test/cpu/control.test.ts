/**
 * Control transfer: Jcc (all 16 conditions, rel8 forward/backward and
 * rel32), LOOP/LOOPE/LOOPNE (ECX decremented without touching flags),
 * JECXZ/JCXZ, JMP rel8/rel32. Truth tables come from conditions.ts
 * (SDM Vol. 1 Appendix B).
 */
import { describe, expect, it } from 'vitest';
import { ARITH } from '../../src/cpu/flags.js';
import { CODE_BASE, DATA, F, flagStr, readBytes, reg, regs, runBytes, runHalted, writeBytes } from '../helpers/asm.js';
import { CC, FLAG_STATES, INSN_STATES } from './conditions.js';

type Form = 'short-forward' | 'near-forward' | 'short-backward';

function jccSrc(form: Form, prefix = ''): string {
  const body = CC.map((c, i) => {
    const m = `byte ptr [${DATA + i}]`;
    if (form === 'short-forward') return `j${c} T${i}\nmov ${m}, 0\njmp E${i}\nT${i}: mov ${m}, 1\nE${i}:`;
    if (form === 'near-forward') return `j${c} T${i}\nmov ${m}, 0\njmp E${i}\n.skip 200, 0xcc\nT${i}: mov ${m}, 1\nE${i}:`;
    return `jmp S${i}\nB${i}: mov ${m}, 1\njmp E${i}\nS${i}: j${c} B${i}\nmov ${m}, 0\nE${i}:`;
  });
  return `${prefix}\n${body.join('\n')}`;
}
function truth(cpu: ReturnType<typeof runHalted>): string {
  return readBytes(cpu, DATA, 16).map((b) => (b <= 1 ? String(b) : `?${b}`)).join('');
}
const prefill = (c: Parameters<typeof writeBytes>[0]): void => writeBytes(c, DATA, new Array(16).fill(0xcc));

describe('Jcc: all 16 conditions', () => {
  for (const form of ['short-forward', 'near-forward', 'short-backward'] as Form[]) {
    describe(form, () => {
      for (const st of FLAG_STATES) {
        it(`flags {${st.flags}} → ${st.truth}`, () => {
          const cpu = runHalted(jccSrc(form), (c) => { prefill(c); c.setEflags(F(st.flags), ARITH); });
          expect(truth(cpu)).toBe(st.truth);
        });
      }
    });
  }
  describe('after flag-setting instructions', () => {
    for (const st of INSN_STATES) {
      it(`${st.name} → ${st.truth}`, () => {
        const cpu = runHalted(jccSrc('short-forward', st.src), (c) => { prefill(c); regs(st.regs)(c); });
        expect(truth(cpu)).toBe(st.truth);
      });
    }
  });
  it('hand-encoded 0F 84 rel32 (jz near), taken and not taken', () => {
    // Hand-encoded: at 0x1000: 0F 84 rel32=+0x10 (taken → 0x1016), else falls to 0x1006
    const bytes = [0x0f, 0x84, 0x10, 0x00, 0x00, 0x00, 0xb8, 0x01, 0x00, 0x00, 0x00, 0xf4];
    const taken = runHalted(`.byte ${bytes.join(',')}\n.skip 10, 0x90\nmov eax, 2`, regs({}, F('ZF')));
    expect(reg(taken, 'eax')).toBe(2);
    const notTaken = runHalted(`.byte ${bytes.join(',')}\n.skip 10, 0x90\nmov eax, 2`, regs({}, 0));
    expect(reg(notTaken, 'eax')).toBe(1);
  });
});

describe('JMP', () => {
  it('jmp rel8 forward and backward (EB), jmp rel32 (E9)', () => {
    const cpu = runHalted(
      ['jmp short a', 'mov eax, 1', 'b: jmp c', 'a: mov ecx, 2', 'jmp short b', '.skip 300, 0xcc', 'c: mov ebx, 3'].join('\n'),
    );
    expect(reg(cpu, 'eax')).toBe(0);
    expect(reg(cpu, 'ecx')).toBe(2);
    expect(reg(cpu, 'ebx')).toBe(3);
  });
  it('hand-encoded EB FE-style offsets: EB 00 falls through, E9 with a negative rel32 goes back', () => {
    // 0x1000: 40          inc eax
    // 0x1001: 83 f8 03    cmp eax, 3
    // 0x1004: 74 05       je 0x100b
    // 0x1006: e9 f5 ff ff ff  jmp 0x1000 (0x100b - 11)
    // 0x100b: eb 00       jmp 0x100d
    // 0x100d: f4          hlt
    const cpu = runHalted('.byte 0x40, 0x83, 0xf8, 0x03, 0x74, 0x05, 0xe9, 0xf5, 0xff, 0xff, 0xff, 0xeb, 0x00');
    expect(reg(cpu, 'eax')).toBe(3);
    expect(cpu.eip >>> 0).toBeGreaterThanOrEqual(CODE_BASE + 0x0d);
  });
});

describe('LOOP / LOOPE / LOOPNE / JECXZ', () => {
  it('loop runs ECX times and leaves ECX = 0; flags untouched', () => {
    const cpu = runHalted('mov ecx, 5\nxor eax, eax\nL: add eax, 2\nloop L', regs({}, 0));
    expect(reg(cpu, 'eax')).toBe(10);
    expect(reg(cpu, 'ecx')).toBe(0);
    expect(flagStr(cpu)).toBe('PF'); // from the last ADD: 8+2 = 0b1010 has 2 bits
  });
  it('loop does not change flags (ZF from DEC-less counting stays as the last ADD left it)', () => {
    // last add: 0xfffffffe + 1 = 0xffffffff: SF PF; LOOP must not turn ZF on when ECX hits 0
    const cpu = runHalted('mov ecx, 1\nL: add eax, 1\nloop L', regs({ eax: 0xfffffffe }));
    expect(flagStr(cpu)).toBe('SF PF');
    expect(reg(cpu, 'ecx')).toBe(0);
  });
  it('loope stops at the first non-equal element', () => {
    const cpu = runHalted(`mov ecx, 5\nmov esi, ${DATA - 1}\nL: inc esi\ncmp byte ptr [esi], 0\nloope L`, (c) => writeBytes(c, DATA, [0, 0, 7, 0, 0]));
    expect(reg(cpu, 'ecx')).toBe(2);
    expect(reg(cpu, 'esi')).toBe(DATA + 2);
    expect(flagStr(cpu, F('ZF'))).toBe('');
  });
  it('loope runs out when everything is equal (ECX = 0, ZF = 1)', () => {
    const cpu = runHalted(`mov ecx, 3\nmov esi, ${DATA - 1}\nL: inc esi\ncmp byte ptr [esi], 0\nloope L`);
    expect(reg(cpu, 'ecx')).toBe(0);
    expect(reg(cpu, 'esi')).toBe(DATA + 2);
    expect(flagStr(cpu, F('ZF'))).toBe('ZF');
  });
  it('loopne stops at the first equal element', () => {
    const cpu = runHalted(`mov ecx, 4\nmov esi, ${DATA - 1}\nL: inc esi\ncmp byte ptr [esi], 0\nloopne L`, (c) => writeBytes(c, DATA, [1, 2, 0, 3]));
    expect(reg(cpu, 'ecx')).toBe(1);
    expect(reg(cpu, 'esi')).toBe(DATA + 2);
    expect(flagStr(cpu, F('ZF'))).toBe('ZF');
  });
  it('jecxz is taken only when ECX = 0', () => {
    const a = runHalted('jecxz t\nmov eax, 1\nt:', regs({ ecx: 0 }));
    expect(reg(a, 'eax')).toBe(0);
    const b = runHalted('jecxz t\nmov eax, 1\nt:', regs({ ecx: 0x100 }));
    expect(reg(b, 'eax')).toBe(1);
  });
  it('jcxz (67 E3) tests CX only', () => {
    const a = runHalted('jcxz t\nmov eax, 1\nt:', regs({ ecx: 0x10000 }));
    expect(reg(a, 'eax')).toBe(0);
    const b = runHalted('jcxz t\nmov eax, 1\nt:', regs({ ecx: 0x1 }));
    expect(reg(b, 'eax')).toBe(1);
  });
  it('loop with address-size prefix (67 E2) counts in CX and leaves the upper half of ECX', () => {
    // 0x1000: 40 inc eax ; 0x1001: 67 e2 fc  loopw 0x1000 (rel8 -4 from 0x1004)
    const cpu = runHalted('.byte 0x40, 0x67, 0xe2, 0xfc', regs({ ecx: 0x00010002 }));
    expect(reg(cpu, 'eax')).toBe(2);
    expect(reg(cpu, 'ecx')).toBe(0x00010000);
  });
});

describe('more control-transfer edge cases', () => {
  it('loop with ECX = 0 decrements to 0xffffffff and jumps', () => {
    const cpu = runHalted('xor ecx, ecx\nL: inc eax\ncmp eax, 5\nje out\nloop L\nout:', regs({ eax: 0 }));
    expect(reg(cpu, 'eax')).toBe(5);
    expect(reg(cpu, 'ecx')).toBe(0xfffffffc);
  });
  it('jecxz backwards', () => {
    // 0x1000: eb 03 jmp 0x1005 ; 0x1002: 40 inc eax ; 0x1003: eb 05 jmp 0x100a ; 0x1005: e3 fb jecxz 0x1002 ; 0x1007: 43 inc ebx ; 0x1008: eb 00 ; 0x100a: (hlt)
    const cpu = runHalted('.byte 0xeb, 0x03, 0x40, 0xeb, 0x05, 0xe3, 0xfb, 0x43, 0xeb, 0x00', regs({ ecx: 0 }));
    expect([reg(cpu, 'eax'), reg(cpu, 'ebx')]).toEqual([1, 0]);
  });
  it('66 E9 rel16: the target is truncated to 16 bits', () => {
    // at 0x1000: 66 e9 fc ef → next = 0x1004; 0x1004 + 0xeffc = 0x10000 → & 0xffff = 0x0000
    // place "mov eax, 1; hlt" at physical 0 and "mov eax, 2; hlt" at 0x10000
    const { cpu, stop } = runBytes([0x66, 0xe9, 0xfc, 0xef], (c) => {
      c.writePhys(0, Uint8Array.from([0xb8, 0x01, 0x00, 0x00, 0x00, 0xf4]));
      c.writePhys(0x10000, Uint8Array.from([0xb8, 0x02, 0x00, 0x00, 0x00, 0xf4]));
    });
    expect(stop).toEqual({ kind: 'halted' });
    expect(reg(cpu, 'eax')).toBe(1);
  });
  it('66 0F 84 rel16 (jz with 16-bit operand size) also truncates EIP', () => {
    const { cpu, stop } = runBytes([0x66, 0x0f, 0x84, 0xfb, 0xef], (c) => {
      // next = 0x1005; 0x1005 + 0xeffb = 0x10000 → 0x0000
      c.writePhys(0, Uint8Array.from([0xb8, 0x01, 0x00, 0x00, 0x00, 0xf4]));
      c.writePhys(0x10000, Uint8Array.from([0xb8, 0x02, 0x00, 0x00, 0x00, 0xf4]));
      c.setEflags(F('ZF'), ARITH);
    });
    expect(stop).toEqual({ kind: 'halted' });
    expect(reg(cpu, 'eax')).toBe(1);
  });
});

it('jumping into the middle of an instruction that already ran (overlapping decodes)', () => {
  // 0x1000: B8 40 40 F4 90   mov eax, 0x90f44040
  // 0x1005: BB 00 00 00 00   mov ebx, 0 ; 0x100a: B9 01 10 00 00 mov ecx, 0x1001 ; 0x100f: FF E1 jmp ecx
  // from 0x1001: 40 inc eax, 40 inc eax, F4 hlt
  const { cpu, stop } = runBytes([0xb8, 0x40, 0x40, 0xf4, 0x90, 0xbb, 0, 0, 0, 0, 0xb9, 0x01, 0x10, 0, 0, 0xff, 0xe1]);
  expect(stop).toEqual({ kind: 'halted' });
  expect(reg(cpu, 'eax')).toBe(0x90f44042);
});
