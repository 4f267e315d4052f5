/**
 * x87 FPU instructions (Intel SDM Vol. 2 F*, Vol. 1 ch. 8): the register
 * stack, tags, TOP and C0–C3, stack overflow/underflow, loads and stores of
 * every format, compares into C3/C2/C0 and EFLAGS, FCMOVcc, FXAM, the
 * control instructions and the FSTENV/FSAVE/FRSTOR images, and the
 * exception machinery: #MF at the next waiting instruction (CR0.NE = 1),
 * #NM with CR0.EM/TS, WAIT with MP and TS, and faults that restart cleanly.
 * Expected values are worked out by hand from the SDM (and, for images,
 * the same instruction sequence on the host CPU).
 */
import { describe, expect, it } from 'vitest';
import type { CPU } from '../../src/cpu/cpu.js';
import { CODE_BASE, DATA, F, flagStr, rd32, readBytes, regs, runSnippet, writeBytes } from '../helpers/asm.js';
import type { Setup } from '../helpers/asm.js';

const CR0_NE = 0x20;

function run(src: string, setup?: Setup): CPU {
  const { cpu, stop } = runSnippet(`${src}\nhlt`, (c) => {
    c.regs[0] = DATA; // eax → the data area
    setup?.(c);
  });
  expect(stop).toEqual({ kind: 'halted' });
  return cpu;
}
const rd16 = (cpu: CPU, a: number): number => rd32(cpu, a) & 0xffff;
/** ST(i) as [sign/exponent, significand hex]. */
function st(cpu: CPU, i: number): [number, string] {
  const f = cpu.fpu;
  const p = f.phys(i);
  return [f.se[p], f.sig[p].toString(16)];
}
const f64At = (cpu: CPU, a: number): number => new DataView(Uint8Array.from(readBytes(cpu, a, 8)).buffer).getFloat64(0, true);
const putF64 = (cpu: CPU, a: number, v: number): void => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, true);
  writeBytes(cpu, a, [...b]);
};

describe('initialization', () => {
  it('power-on state: CW 0040H, SW 0, tag word 5555H (SDM Vol. 3 Table 9-1)', () => {
    const cpu = run('fnstcw word ptr [eax]\nfnstsw word ptr [eax+2]\nfnstenv [eax+4]');
    expect(rd16(cpu, DATA)).toBe(0x0040);
    expect(rd16(cpu, DATA + 2)).toBe(0);
    expect(rd16(cpu, DATA + 4 + 8)).toBe(0x5555);
  });
  it('FNINIT: CW 037FH, SW 0, every register empty (tag word FFFFH), pointers 0', () => {
    const cpu = run('fld1\nfninit\nfnstenv [eax]');
    expect(readBytes(cpu, DATA, 28)).toEqual([
      0x7f, 0x03, 0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
    ]);
  });
  it('FLDCW keeps bits 0-5, 8-12; bit 6 reads 1, bits 13-15 read 0 (as the host stores 0xFFFF → 1F7FH)', () => {
    const cpu = run('mov word ptr [eax], 0xffff\nfldcw word ptr [eax]\nfnstcw word ptr [eax+2]\nmov word ptr [eax], 0\nfldcw word ptr [eax]\nfnstcw word ptr [eax+4]');
    expect(rd16(cpu, DATA + 2)).toBe(0x1f7f);
    expect(rd16(cpu, DATA + 4)).toBe(0x0040);
  });
});

describe('the register stack', () => {
  it('pushes decrement TOP; tags follow the contents (valid, zero, special)', () => {
    const cpu = run('fninit\nfld1\nfldz\nfld1\nfchs\nfstp st(0)\nfldz\nfld1\nfdiv st, st(1)\nfnstenv [eax+0x10]', regs({}));
    // fld1 → R7 = 1, fldz → R6 = 0, fld1/fchs/fstp st(0) → pop, fldz → R5 = 0, fld1 → R4, 1/0 → +inf (ZE masked)
    const sw = rd16(cpu, DATA + 0x14);
    expect((sw >> 11) & 7).toBe(4);
    expect(sw & 0x3f).toBe(0x04); // ZE
    expect(rd16(cpu, DATA + 0x18)).toBe(0b00_01_01_10_11_11_11_11); // R7 valid, R6 zero, R5 zero, R4 special (∞)
    expect(st(cpu, 0)).toEqual([0x7fff, '8000000000000000']);
  });
  it('stack overflow: IE, SF, C1 = 1; masked: the real indefinite is pushed', () => {
    const cpu = run('fninit\n' + 'fld1\n'.repeat(8) + 'fldz\nfnstsw word ptr [eax]');
    const sw = rd16(cpu, DATA);
    expect(sw & 0x7f).toBe(0x41); // IE SF
    expect(sw & 0x200).toBe(0x200); // C1 = 1: overflow
    expect((sw >> 11) & 7).toBe(7);
    expect(st(cpu, 0)).toEqual([0xffff, 'c000000000000000']);
  });
  it('stack underflow: IE, SF, C1 = 0; masked FSTP m32 of an empty ST(0) stores the single-precision indefinite and pops', () => {
    const cpu = run('fninit\nfld1\nfld1\nfaddp st(1), st\nfstp st(0)\nfstp dword ptr [eax]\nfnstsw word ptr [eax+4]');
    expect(rd32(cpu, DATA) >>> 0).toBe(0xffc00000);
    const sw = rd16(cpu, DATA + 4);
    expect(sw & 0x7f).toBe(0x41);
    expect(sw & 0x200).toBe(0);
    expect((sw >> 11) & 7).toBe(1); // popped past the empty register
  });
  it('FXCH, FFREE, FINCSTP, FDECSTP', () => {
    const cpu = run('fninit\nfld1\nfldz\nfxch st(1)\nfnstenv [eax]\nfincstp\nffree st(7)\nfdecstp\nfnstenv [eax+0x20]');
    expect(st(cpu, 1)).toEqual([0, '0']);
    expect(rd16(cpu, DATA + 8)).toBe(0b00_01_11_11_11_11_11_11 ^ 0b01_00_00_00_00_00_00_00 ^ 0b00_01_00_00_00_00_00_00); // R7 zero, R6 valid
    expect(rd16(cpu, DATA + 0x28)).toBe(0b01_11_11_11_11_11_11_11); // R6 freed, R7 zero
    expect((rd16(cpu, DATA + 0x24) >> 11) & 7).toBe(6);
  });
  it('FXCH with an empty register: masked underflow, the empty one becomes the indefinite', () => {
    const cpu = run('fninit\nfld1\nfxch st(3)\nfnstsw word ptr [eax]');
    expect(rd16(cpu, DATA) & 0x241).toBe(0x41);
    expect(st(cpu, 0)).toEqual([0xffff, 'c000000000000000']);
    expect(st(cpu, 3)).toEqual([0x3fff, '8000000000000000']);
  });
});

describe('loads and stores', () => {
  it('m32/m64/m80 round trips and FST m32 rounding by RC', () => {
    const cpu = run(
      [
        'fninit',
        'fld qword ptr [eax]', // 1/3
        'fst dword ptr [eax+8]', // nearest
        'fstp tbyte ptr [eax+16]',
        'mov word ptr [eax+40], 0x0f7f', // RC = toward zero
        'fldcw word ptr [eax+40]',
        'fld tbyte ptr [eax+16]',
        'fst dword ptr [eax+12]',
        'fstp qword ptr [eax+32]',
      ].join('\n'),
      (c) => putF64(c, DATA, 1 / 3),
    );
    expect(rd32(cpu, DATA + 8) >>> 0).toBe(0x3eaaaaab); // 1/3 rounded to nearest
    expect(rd32(cpu, DATA + 12) >>> 0).toBe(0x3eaaaaaa); // truncated
    expect(readBytes(cpu, DATA + 16, 10)).toEqual([0, 0xa8, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xfd, 0x3f]);
    expect(f64At(cpu, DATA + 32)).toBe(1 / 3);
  });
  it('FLD m32 SNaN: IE and the quiet NaN; FLD m80 SNaN: loaded as is, no exception', () => {
    const cpu = run('fninit\nfld dword ptr [eax]\nfnstsw word ptr [eax+4]\nfninit\nfld tbyte ptr [eax+8]\nfnstsw word ptr [eax+6]', (c) => {
      writeBytes(c, DATA, [0x01, 0x00, 0x80, 0x7f]); // SNaN
      writeBytes(c, DATA + 8, [1, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x7f]);
    });
    expect(rd16(cpu, DATA + 4) & 0x3f).toBe(0x01);
    expect(rd16(cpu, DATA + 6) & 0x3f).toBe(0);
    expect(st(cpu, 0)).toEqual([0x7fff, '8000000000000001']);
  });
  it('FILD/FISTP m16, m32, m64; FIST rounds by RC; out of range → IE and the integer indefinite', () => {
    const cpu = run(
      [
        'fninit',
        'fild qword ptr [eax]',
        'fistp dword ptr [eax+8]', // 2^40 out of range for m32
        'fild dword ptr [eax+12]',
        'fistp qword ptr [eax+16]',
        'fild word ptr [eax+24]',
        'fld1',
        'fld1',
        'faddp st(1), st',
        'fdivp st(1), st', // -7/2 = -3.5
        'fist word ptr [eax+26]', // nearest even: -4
        'mov word ptr [eax+40], 0x0f7f',
        'fldcw word ptr [eax+40]',
        'fistp word ptr [eax+28]', // toward zero: -3
        'fnstsw word ptr [eax+30]',
      ].join('\n'),
      (c) => {
        writeBytes(c, DATA, [0, 0, 0, 0, 0, 1, 0, 0]); // 2^40
        writeBytes(c, DATA + 12, [0xfe, 0xff, 0xff, 0xff]); // -2
        writeBytes(c, DATA + 24, [0xf9, 0xff]); // -7
      },
    );
    expect(rd32(cpu, DATA + 8) >>> 0).toBe(0x80000000);
    expect([rd32(cpu, DATA + 16) | 0, rd32(cpu, DATA + 20) | 0]).toEqual([-2, -1]);
    expect(rd16(cpu, DATA + 26)).toBe(0xfffc);
    expect(rd16(cpu, DATA + 28)).toBe(0xfffd);
    expect(rd16(cpu, DATA + 30) & 0x3f).toBe(0x21); // IE from the m32 overflow, PE from -3.5
  });
  it('constants: FLDPI, FLDL2E, FLDLN2 by RC (rounded from the internal constant, not by PC)', () => {
    const src = (rc: number): string =>
      `fninit\nmov word ptr [eax+100], ${0x007f | (rc << 10)}\nfldcw word ptr [eax+100]\nfldpi\nfstp tbyte ptr [eax]\nfldl2t\nfstp tbyte ptr [eax+10]\nfldln2\nfstp tbyte ptr [eax+20]`;
    const sigs = (cpu: CPU): string[] => [0, 10, 20].map((o) => readBytes(cpu, DATA + o, 8).reverse().map((b) => b.toString(16).padStart(2, '0')).join(''));
    expect(sigs(run(src(0)))).toEqual(['c90fdaa22168c235', 'd49a784bcd1b8afe', 'b17217f7d1cf79ac']);
    expect(sigs(run(src(1)))).toEqual(['c90fdaa22168c234', 'd49a784bcd1b8afe', 'b17217f7d1cf79ab']);
    expect(sigs(run(src(2)))).toEqual(['c90fdaa22168c235', 'd49a784bcd1b8aff', 'b17217f7d1cf79ac']);
    expect(sigs(run(src(3)))).toEqual(['c90fdaa22168c234', 'd49a784bcd1b8afe', 'b17217f7d1cf79ab']);
  });
});

describe('arithmetic operand forms', () => {
  it('D8/DC/DE register forms: FSUB ST(0),ST(i); FSUBR ST(i),ST(0) is DC E0+i; FSUBP/FDIVRP pop', () => {
    const cpu = run(
      [
        'fninit',
        'fild dword ptr [eax]', // 10
        'fild dword ptr [eax+4]', // 4   (st0 = 4, st1 = 10)
        'fsub st, st(1)', // st0 = 4 - 10 = -6
        'fistp dword ptr [eax+8]', // -6
        'fild dword ptr [eax+4]', // st0 = 4, st1 = 10
        '.byte 0xdc, 0xe1', // fsubr st(1), st: st1 = st0 - st1 = -6
        'fxch st(1)',
        'fistp dword ptr [eax+12]',
        'fild dword ptr [eax]', // st0 = 10, st1 = 4
        '.byte 0xde, 0xf9', // fdivp st(1), st: st1 = st1 / st0 = 0.4 ... Intel DE F8+i is FDIVP
        'fimul dword ptr [eax]', // 4
        'fistp dword ptr [eax+16]',
        'fnstsw word ptr [eax+20]',
      ].join('\n'),
      (c) => {
        c.write32(DATA, 10);
        c.write32(DATA + 4, 4);
      },
    );
    expect(rd32(cpu, DATA + 8) | 0).toBe(-6);
    expect(rd32(cpu, DATA + 12) | 0).toBe(-6);
    expect(rd32(cpu, DATA + 16)).toBe(4);
    expect((rd16(cpu, DATA + 20) >> 11) & 7).toBe(0);
  });
  it('FIADD m16, FIDIVR m32, FADD m64, FMUL m32', () => {
    const cpu = run('fninit\nfld1\nfiadd word ptr [eax]\nfidivr dword ptr [eax+4]\nfadd qword ptr [eax+8]\nfmul dword ptr [eax+16]\nfstp qword ptr [eax+24]', (c) => {
      c.write16(DATA, 3); // 1 + 3 = 4
      c.write32(DATA + 4, 10); // 10 / 4 = 2.5
      putF64(c, DATA + 8, 0.25); // 2.75
      writeBytes(c, DATA + 16, [0, 0, 0, 0x40]); // 2.0f → 5.5
    });
    expect(f64At(cpu, DATA + 24)).toBe(5.5);
  });
});

describe('comparisons', () => {
  const cc = (sw: number): string => ['C3', 'C2', 'C1', 'C0'].filter((_, i) => sw & [0x4000, 0x400, 0x200, 0x100][i]).join(' ');
  it('FCOM/FCOMP/FCOMPP: greater, less, equal, unordered (C3 C2 C0); FUCOM of a QNaN raises no IE', () => {
    const cpu = run(
      [
        'fninit',
        'fld1',
        'fldz',
        'fcom st(1)', // 0 < 1 → C0
        'fnstsw word ptr [eax]',
        'fcom qword ptr [eax+32]', // 0 > -1 → none
        'fnstsw word ptr [eax+2]',
        'fldz',
        'fcomp st(1)', // equal → C3, pops
        'fnstsw word ptr [eax+4]',
        'fld qword ptr [eax+40]', // QNaN
        'fucom st(1)',
        'fnstsw word ptr [eax+6]',
        'fcompp', // NaN vs 0: unordered, IE; pops 2
        'fnstsw word ptr [eax+8]',
      ].join('\n'),
      (c) => {
        putF64(c, DATA + 32, -1);
        writeBytes(c, DATA + 40, [0, 0, 0, 0, 0, 0, 0xf8, 0x7f]);
      },
    );
    expect(cc(rd16(cpu, DATA))).toBe('C0');
    expect(cc(rd16(cpu, DATA + 2))).toBe('');
    expect(cc(rd16(cpu, DATA + 4))).toBe('C3');
    expect(cc(rd16(cpu, DATA + 6))).toBe('C3 C2 C0');
    expect(rd16(cpu, DATA + 6) & 1).toBe(0);
    expect(cc(rd16(cpu, DATA + 8))).toBe('C3 C2 C0');
    expect(rd16(cpu, DATA + 8) & 1).toBe(1);
    expect((rd16(cpu, DATA + 8) >> 11) & 7).toBe(7); // fld1 fldz [fldz popped] nan → 2 popped: one left
  });
  it('FCOMI/FUCOMIP set ZF PF CF and clear OF SF AF; FCMOVcc moves on the EFLAGS condition', () => {
    const cpu = run('fninit\nfld1\nfldz\nfcomi st, st(1)\npushfd\npop ebx\nfcmovb st, st(1)\nfucomip st, st(1)\npushfd\npop ecx', regs({}, F('OF SF AF')));
    expect(flagStr({ getEflags: () => cpu.regs[3] } as unknown as CPU)).toBe('CF');
    expect(flagStr({ getEflags: () => cpu.regs[1] } as unknown as CPU)).toBe('ZF');
    expect((cpu.fpu.top)).toBe(7);
  });
  it('FTST and FXAM classes', () => {
    const cpu = run('fninit\nfxam\nfnstsw word ptr [eax]\nfld1\nfchs\nftst\nfnstsw word ptr [eax+2]\nfxam\nfnstsw word ptr [eax+4]\nfldz\nfxam\nfnstsw word ptr [eax+6]\nfld qword ptr [eax+40]\nfxam\nfnstsw word ptr [eax+8]', (c) => {
      writeBytes(c, DATA + 40, [0, 0, 0, 0, 0, 0, 0xf0, 0xff]); // -inf
    });
    expect(cc(rd16(cpu, DATA))).toBe('C3 C0'); // empty
    expect(cc(rd16(cpu, DATA + 2))).toBe('C0'); // -1 < 0
    expect(cc(rd16(cpu, DATA + 4))).toBe('C2 C1'); // negative normal
    expect(cc(rd16(cpu, DATA + 6))).toBe('C3'); // +0
    expect(cc(rd16(cpu, DATA + 8))).toBe('C2 C1 C0'); // -inf
  });
});

describe('environment and state images', () => {
  it('FNSTENV (32-bit): pointers of the last non-control instruction; then every exception is masked', () => {
    const cpu = run('fninit\nmov word ptr [eax+100], 0x0360\nfldcw word ptr [eax+100]\nfld dword ptr [eax+0x40]\nfldz\nfnstenv [eax]\nfnstcw word ptr [eax+30]');
    const w = (o: number): number => rd32(cpu, DATA + o) >>> 0;
    expect(w(0)).toBe(0xffff0360);
    expect(w(4)).toBe(0xffff3000); // TOP = 6
    expect(w(8)).toBe(0xffff5fff); // R7 zero (fld of +0.0), R6 zero
    expect(w(12)).toBe(CODE_BASE + 14); // fldz: after fninit, mov, fldcw, fld
    expect(w(16)).toBe(0x01ee << 16); // FOP of D9 EE, CS selector 0
    expect(w(20)).toBe(DATA + 0x40); // kept from the FLD m32
    expect(w(24)).toBe(0xffff0000);
    expect(rd16(cpu, DATA + 30)).toBe(0x037f);
  });
  it('FNSAVE/FRSTOR (32-bit) round trip; FNSAVE leaves the FPU initialized', () => {
    const cpu = run('fninit\nfld1\nfldpi\nfnsave [eax]\nfnstenv [eax+0x100]\nfrstor [eax]\nfnsave [eax+0x200]');
    expect(readBytes(cpu, DATA + 0x200, 108)).toEqual(readBytes(cpu, DATA, 108));
    expect(rd32(cpu, DATA + 0x108) & 0xffff).toBe(0xffff); // all empty after FNSAVE
    expect(readBytes(cpu, DATA + 28, 10)).toEqual([0x35, 0xc2, 0x68, 0x21, 0xa2, 0xda, 0x0f, 0xc9, 0x00, 0x40]); // ST(0) = pi
    expect(readBytes(cpu, DATA + 38, 10)).toEqual([0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f]); // ST(1) = 1
  });
  it('16-bit formats with a 66 prefix: 14-byte environment, 94-byte state', () => {
    const cpu = run('fninit\nfld1\ndata16 fnstenv [eax]\ndata16 fnsave [eax+0x20]\ndata16 frstor [eax+0x20]\nfnstsw word ptr [eax+0x100]');
    expect([0, 2, 4].map((o) => rd16(cpu, DATA + o))).toEqual([0x037f, 0x3800, 0x3fff]);
    expect(rd16(cpu, DATA + 6)).toBe((CODE_BASE + 2) & 0xffff);
    expect(readBytes(cpu, DATA + 0x20 + 14, 10)).toEqual([0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f]);
    expect(readBytes(cpu, DATA + 0x20 + 94, 2)).toEqual([0, 0]); // nothing past 94 bytes
    expect(rd16(cpu, DATA + 0x100)).toBe(0x3800);
    expect(cpu.fpu.isEmpty(0)).toBe(false);
  });
  it('FLDENV: only "empty" tags are taken from the image; ES follows the loaded masks', () => {
    const cpu = run('fninit\nfld1\nfnstenv [eax]\nmov word ptr [eax+8], 0\nmov word ptr [eax+4], 0x3801\nmov word ptr [eax], 0x037e\nfldenv [eax]\nfnstenv [eax+0x40]');
    expect(rd16(cpu, DATA + 0x48)).toBe(0x1555); // R7 valid (1.0), the others tagged zero from their +0.0 contents
    expect(rd16(cpu, DATA + 0x44)).toBe(0xb881); // IE, ES and B, TOP 7
  });
});

describe('exceptions', () => {
  const unmaskIE = 'mov word ptr [eax+100], 0x037e\nfldcw word ptr [eax+100]\n';
  it('an unmasked stack underflow sets ES and B and changes nothing else; #MF comes at the next waiting instruction (CR0.NE = 1)', () => {
    const { cpu, stop } = runSnippet(`fninit\n${unmaskIE}fld1\nfadd st, st(3)\nfnstsw word ptr [eax]\nfnop\nhlt`, (c) => {
      c.regs[0] = DATA;
      c.cr0 |= CR0_NE;
    });
    const fnop = CODE_BASE + 2 + 6 + 3 + 2 + 2 + 2; // fninit, mov, fldcw, fld1, fadd, fnstsw
    expect(stop).toMatchObject({ kind: 'fault', vector: 16, eip: fnop });
    expect(rd16(cpu, DATA) & 0xc0ff).toBe(0x80c1); // B, ES, SF, IE
    expect(st(cpu, 0)).toEqual([0x3fff, '8000000000000000']);
  });
  it('FNSTSW, FNCLEX, FNINIT do not wait; FWAIT does', () => {
    const { stop } = runSnippet(`fninit\n${unmaskIE}fld1\nfadd st, st(3)\nfnstsw ax\nfnstcw word ptr [eax+2]\nfnstenv [eax+4]\nfnclex\nfwait\nfld1\nfadd st, st(3)\nfninit\nhlt`, (c) => {
      c.regs[0] = DATA;
      c.cr0 |= CR0_NE;
    });
    expect(stop).toEqual({ kind: 'halted' }); // fnstenv masked everything: fadd's IE did not set ES
    const r = runSnippet(`fninit\n${unmaskIE}fld1\nfadd st, st(3)\nfwait\nhlt`, (c) => {
      c.regs[0] = DATA;
      c.cr0 |= CR0_NE;
    });
    expect(r.stop).toMatchObject({ kind: 'fault', vector: 16, eip: CODE_BASE + 2 + 6 + 3 + 2 + 2 });
  });
  it('FLDCW unmasking a pending flag makes the next waiting instruction fault', () => {
    const { stop } = runSnippet('fninit\nfld1\nfadd st, st(3)\nmov word ptr [eax+100], 0x037e\nfldcw word ptr [eax+100]\nfld1\nhlt', (c) => {
      c.regs[0] = DATA;
      c.cr0 |= CR0_NE;
    });
    expect(stop).toMatchObject({ kind: 'fault', vector: 16, eip: CODE_BASE + 2 + 2 + 2 + 6 + 3 });
  });
  it('CR0.NE = 0 without a FERR# wire: the error is ignored (IGNNE#); with one, the line is raised and the instruction waits', () => {
    const r = runSnippet(`fninit\n${unmaskIE}fld1\nfadd st, st(3)\nfld1\nhlt`, (c) => {
      c.regs[0] = DATA;
    });
    expect(r.stop).toEqual({ kind: 'halted' });
    let raised = 0;
    const w = runSnippet(`fninit\n${unmaskIE}fld1\nfadd st, st(3)\nfld1\nhlt`, (c) => {
      c.regs[0] = DATA;
      c.fpuError = () => raised++;
    }, { budget: 50 });
    expect(w.stop).toMatchObject({ kind: 'budget' });
    expect(raised).toBeGreaterThan(0);
    expect(w.cpu.eip).toBe(CODE_BASE + 2 + 6 + 3 + 2 + 2);
  });
  it('CR0.EM or CR0.TS: #NM for every x87 instruction (FNINIT included); WAIT faults only with MP and TS', () => {
    for (const [cr0, src, nm] of [
      [0x4, 'fninit', true],
      [0x8, 'fnstsw ax', true],
      [0x8, 'fwait', false],
      [0x4, 'fwait', false],
      [0xa, 'fwait', true],
    ] as const) {
      const { stop } = runSnippet(`${src}\nhlt`, (c) => {
        c.cr0 |= cr0;
      });
      if (nm) expect(stop, `${src} cr0 ${cr0}`).toMatchObject({ kind: 'fault', vector: 7, eip: CODE_BASE });
      else expect(stop, `${src} cr0 ${cr0}`).toEqual({ kind: 'halted' });
    }
  });
  it('FISTTP is #UD (SSE3)', () => {
    const { stop } = runSnippet('fisttp dword ptr [eax]\nhlt', regs({ eax: DATA }));
    expect(stop).toMatchObject({ kind: 'fault', vector: 6 });
  });
});

describe('faults restart cleanly', () => {
  const HOLE = 0x30000;
  const PD = 0x90000;
  const PT = 0x91000;
  const paging: Setup = (cpu) => {
    cpu.mem.write32(PD, PT | 3);
    for (let i = 0; i < 256; i++) cpu.mem.write32(PT + 4 * i, i * 0x1000 === HOLE ? 0 : (i * 0x1000) | 3);
    cpu.writeControlRegister(3, PD);
    cpu.writeControlRegister(0, cpu.cr0 | 0x80000001);
  };
  it('FSTP m80 straddling into a not-present page: #PF (write), nothing stored, TOP unchanged', () => {
    const { cpu, stop } = runSnippet(`fninit\nfld1\nfldpi\nfstp tbyte ptr [${HOLE - 4}]\nhlt`, paging);
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 2, eip: CODE_BASE + 6 });
    expect(cpu.fpu.top).toBe(6);
    expect(Array.from(cpu.mem.u8.subarray(HOLE - 4, HOLE))).toEqual([0, 0, 0, 0]);
    expect(cpu.fpu.fop).toBe(0x1eb); // still FLDPI's
  });
  it('FNSAVE into a not-present page leaves the FPU uninitialized; FRSTOR from one changes nothing', () => {
    const a = runSnippet(`fninit\nfld1\nfnsave [${HOLE - 50}]\nhlt`, paging);
    expect(a.stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 2 });
    expect(a.cpu.fpu.top).toBe(7);
    expect(a.cpu.fpu.isEmpty(0)).toBe(false);
    const b = runSnippet(`fninit\nfld1\nfrstor [${HOLE - 50}]\nhlt`, paging);
    expect(b.stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 0 });
    expect(b.cpu.fpu.top).toBe(7);
    expect(b.cpu.fpu.cw).toBe(0x037f);
  });
  it('FADD m64 from a not-present page: ST(0) and the pointers unchanged', () => {
    const { cpu, stop } = runSnippet(`fninit\nfld1\nfadd qword ptr [${HOLE}]\nhlt`, paging);
    expect(stop).toMatchObject({ kind: 'fault', vector: 14, errorCode: 0 });
    expect(st(cpu, 0)).toEqual([0x3fff, '8000000000000000']);
    expect(cpu.fpu.fop).toBe(0x1e8);
  });
});

describe('transcendental instruction forms', () => {
  it('FPTAN pushes 1.0; FSINCOS leaves the sine in ST(1) and the cosine in ST(0); FSIN of |x| ≥ 2^63 sets C2 and keeps ST(0)', () => {
    const cpu = run('fninit\nfldz\nfptan\nfstp qword ptr [eax]\nfstp qword ptr [eax+8]\nfldz\nfsincos\nfstp qword ptr [eax+16]\nfstp qword ptr [eax+24]\nfld tbyte ptr [eax+40]\nfsin\nfnstsw word ptr [eax+32]', (c) => {
      writeBytes(c, DATA + 40, [0, 0, 0, 0, 0, 0, 0, 0x80, 0x3e, 0x40]); // 2^63
    });
    expect([f64At(cpu, DATA), f64At(cpu, DATA + 8), f64At(cpu, DATA + 16), f64At(cpu, DATA + 24)]).toEqual([1, 0, 1, 0]);
    expect(rd16(cpu, DATA + 32) & 0x400).toBe(0x400);
    expect(st(cpu, 0)).toEqual([0x403e, '8000000000000000']);
  });
  it('FYL2X (D9 F1) and FYL2XP1 (D9 F9) differ only in ModRM.reg; FPATAN pops into ST(1)', () => {
    const cpu = run('fninit\nfld1\nfild dword ptr [eax+48]\nfyl2x\nfstp qword ptr [eax]\nfld1\nfild dword ptr [eax+48]\nfld1\nfsubp st(1), st\nfyl2xp1\nfstp qword ptr [eax+8]\nfld1\nfld1\nfpatan\nfstp qword ptr [eax+16]\nfnstsw word ptr [eax+24]', (c) => {
      c.write32(DATA + 48, 8);
    });
    expect(f64At(cpu, DATA)).toBe(3); // 1 · log2(8)
    expect(f64At(cpu, DATA + 8)).toBe(Math.log2(8)); // 1 · log2(7 + 1)
    expect(f64At(cpu, DATA + 16)).toBe(Math.PI / 4);
    expect((rd16(cpu, DATA + 24) >> 11) & 7).toBe(0); // everything popped
  });
});

describe('disassembly', () => {
  it('names x87 instructions in Intel syntax', async () => {
    const { decodeOne } = await import('../../src/cpu/decoder.js');
    const text = (hex: string): string => decodeOne(Uint8Array.from(hex.split(' '), (x) => parseInt(x, 16))).text;
    expect(text('d9 00')).toBe('fld dword ptr [eax]');
    expect(text('db 2b')).toBe('fld tbyte ptr [ebx]');
    expect(text('dd 44 24 08')).toBe('fld qword ptr [esp+0x8]');
    expect(text('de 0e')).toBe('fimul word ptr [esi]');
    expect(text('d8 c1')).toBe('fadd st, st(1)');
    expect(text('dc e9')).toBe('fsub st(1), st');
    expect(text('de f9')).toBe('fdivp st(1), st');
    expect(text('df e0')).toBe('fnstsw ax');
    expect(text('dd 30')).toBe('fnsave [eax]');
    expect(text('db e9')).toBe('fucomi st, st(1)');
    expect(text('da c2')).toBe('fcmovb st, st(2)');
    expect(text('d9 eb')).toBe('fldpi');
    expect(text('df 3c 24')).toBe('fistp qword ptr [esp]');
  });
});

describe('FERR# on a PC (CR0.NE = 0)', () => {
  it('a pending x87 error raises IRQ13 and the waiting instruction waits; OUT 0xF0 lowers the line', async () => {
    const { attachPcDevices } = await import('../../src/devices/pc.js');
    const unmask = 'mov word ptr [eax+100], 0x037e\nfldcw word ptr [eax+100]\n';
    let devices: ReturnType<typeof attachPcDevices> | null = null;
    const { cpu, stop } = runSnippet(`fninit\n${unmask}fld1\nfadd st, st(3)\nfwait\nhlt`, (c) => {
      c.regs[0] = DATA;
      devices = attachPcDevices(c, () => {}, { rawPic: true });
    }, { budget: 100 });
    expect(stop).toMatchObject({ kind: 'budget' });
    expect(cpu.eip).toBe(CODE_BASE + 2 + 6 + 3 + 2 + 2); // still at the FWAIT
    expect(devices!.pic.slave.irr & 0x20).toBe(0x20);
    cpu.portOut(0xf0, 0, 1);
    cpu.fpu.sw &= ~0xff; // what the handler's FNCLEX does
    expect(cpu.run(10)).toEqual({ kind: 'halted' });
  });
});

describe('state copies (context switches)', () => {
  it('copyFrom keeps a whole FPU state aside and puts it back', async () => {
    const { X87State } = await import('../../src/cpu/fpu/x87-state.js');
    const cpu = run('fninit\nfld1\nfldpi\nfadd st, st(1)\nmov word ptr [eax], 0x0b7f\nfldcw word ptr [eax]\nfnsave [eax+0x10]\nfrstor [eax+0x10]');
    const saved = new X87State().copyFrom(cpu.fpu);
    const before = readBytes(cpu, DATA + 0x10, 108);
    cpu.fpu.init();
    cpu.fpu.copyFrom(saved);
    cpu.eip = CODE_BASE;
    writeBytes(cpu, CODE_BASE, [0xdd, 0x70, 0x10, 0xf4]); // fnsave [eax+0x10]; hlt
    cpu.regs[0] = DATA;
    expect(cpu.run(10)).toEqual({ kind: 'halted' });
    expect(readBytes(cpu, DATA + 0x10, 108)).toEqual(before);
  });
});
