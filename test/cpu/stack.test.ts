/**
 * Stack instructions (SDM Vol. 2 PUSH, POP, PUSHA/PUSHAD, POPA/POPAD,
 * PUSHF/PUSHFD, POPF/POPFD, ENTER, LEAVE, CALL, RET). Code is loaded at
 * 0x1000 and ESP starts at 0x80000; return addresses below are counted by
 * hand from the instruction lengths noted in the comments.
 */
import { describe, expect, it } from 'vitest';
import { DATA, F, rd32, reg, regs, runBytes, runHalted } from '../helpers/asm.js';

const TOP = 0x80000;

describe('PUSH / POP', () => {
  it('push eax / pop ebx', () => {
    const cpu = runHalted('push eax\nmov ecx, esp\npop ebx', regs({ eax: 0x12345678 }));
    expect(reg(cpu, 'ecx')).toBe(TOP - 4);
    expect(rd32(cpu, TOP - 4)).toBe(0x12345678);
    expect(reg(cpu, 'ebx')).toBe(0x12345678);
    expect(reg(cpu, 'esp')).toBe(TOP);
  });
  it('push esp pushes the value ESP had before the instruction', () => {
    const cpu = runHalted('push esp');
    expect(rd32(cpu, TOP - 4)).toBe(TOP);
    expect(reg(cpu, 'esp')).toBe(TOP - 4);
  });
  it('pop esp loads ESP with the popped value (the increment is overwritten)', () => {
    const cpu = runHalted('push 0x12340\npop esp');
    expect(reg(cpu, 'esp')).toBe(0x12340);
  });
  it('pop dword ptr [esp] computes the address after incrementing ESP', () => {
    const cpu = runHalted('push 0xaabbccdd\npop dword ptr [esp]', (c) => c.write32(TOP, 0));
    expect(reg(cpu, 'esp')).toBe(TOP);
    expect(rd32(cpu, TOP)).toBe(0xaabbccdd);
  });
  it('pop dword ptr [esp+4] writes at the new ESP + 4', () => {
    const cpu = runHalted('push 0x11223344\npop dword ptr [esp+4]');
    expect(rd32(cpu, TOP + 4)).toBe(0x11223344);
    expect(rd32(cpu, TOP)).toBe(0);
  });
  it('push dword ptr [esp] reads before decrementing', () => {
    const cpu = runHalted('push dword ptr [esp]\npush dword ptr [esp+4]', (c) => { c.write32(TOP, 0x1111); c.write32(TOP + 4, 0x2222); });
    // second push: ESP = TOP-4, [esp+4] = [TOP] = 0x1111
    expect(rd32(cpu, TOP - 4)).toBe(0x1111);
    expect(rd32(cpu, TOP - 8)).toBe(0x1111);
    expect(reg(cpu, 'esp')).toBe(TOP - 8);
  });
  it('push imm8 sign-extends; push imm32; pushw/push r16/pop r16 move ESP by 2', () => {
    const cpu = runHalted('push -1\npush 0x12345678\npushw 0x5678\npush ax\npop cx', regs({ eax: 0xaaaabeef, ecx: 0x11110000 }));
    expect(rd32(cpu, TOP - 4)).toBe(0xffffffff);
    expect(rd32(cpu, TOP - 8)).toBe(0x12345678);
    expect(cpu.read16(TOP - 10)).toBe(0x5678);
    expect(cpu.read16(TOP - 12)).toBe(0xbeef);
    expect(reg(cpu, 'ecx')).toBe(0x1111beef);
    expect(reg(cpu, 'esp')).toBe(TOP - 10);
  });
  it('pop dword ptr [mem] and push dword ptr [mem]', () => {
    const cpu = runHalted(`push dword ptr [${DATA}]\npop dword ptr [${DATA + 4}]`, (c) => c.write32(DATA, 0xfeedface));
    expect(rd32(cpu, DATA + 4)).toBe(0xfeedface);
    expect(reg(cpu, 'esp')).toBe(TOP);
  });
});

describe('PUSHA / POPA', () => {
  const init = regs({ eax: 1, ecx: 2, edx: 3, ebx: 4, ebp: 6, esi: 7, edi: 8 });
  it('pushad stores EAX ECX EDX EBX (original ESP) EBP ESI EDI, EDI lowest', () => {
    const cpu = runHalted('pushad', init);
    const got = Array.from({ length: 8 }, (_, i) => rd32(cpu, TOP - 32 + 4 * i));
    expect(got).toEqual([8, 7, 6, TOP, 4, 3, 2, 1]);
    expect(reg(cpu, 'esp')).toBe(TOP - 32);
  });
  it('popad loads EDI ESI EBP (skips ESP) EBX EDX ECX EAX', () => {
    const cpu = runHalted('popad', (c) => {
      [0x11, 0x22, 0x33, 0xdead, 0x44, 0x55, 0x66, 0x77].forEach((v, i) => c.write32(TOP - 32 + 4 * i, v));
      c.regs[4] = TOP - 32;
    });
    expect([reg(cpu, 'edi'), reg(cpu, 'esi'), reg(cpu, 'ebp'), reg(cpu, 'ebx'), reg(cpu, 'edx'), reg(cpu, 'ecx'), reg(cpu, 'eax')]).toEqual([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]);
    expect(reg(cpu, 'esp')).toBe(TOP);
  });
  it('pushad ... popad round trip restores every register', () => {
    const cpu = runHalted('pushad\nxor eax, eax\nmov ecx, eax\nmov edx, eax\nmov ebx, eax\nmov ebp, eax\nmov esi, eax\nmov edi, eax\npopad', init);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((i) => cpu.regs[i])).toEqual([1, 2, 3, 4, TOP, 6, 7, 8]);
  });
  it('pushaw (66 60) pushes eight words', () => {
    const cpu = runHalted('pushaw', regs({ eax: 0xaaaa0001, ecx: 2, edx: 3, ebx: 4, ebp: 6, esi: 7, edi: 8 }));
    const got = Array.from({ length: 8 }, (_, i) => cpu.read16(TOP - 16 + 2 * i));
    expect(got).toEqual([8, 7, 6, TOP & 0xffff, 4, 3, 2, 1]);
    expect(reg(cpu, 'esp')).toBe(TOP - 16);
  });
});

describe('PUSHF / POPF', () => {
  it('pushfd stores the flags image (bit 1 set)', () => {
    const cpu = runHalted('pushfd', regs({}, F('CF ZF')));
    expect(rd32(cpu, TOP - 4)).toBe(0x43);
  });
  it('pushfd materializes lazily computed flags', () => {
    // 0xffffffff + 1: ZF AF PF CF → 0x40|0x10|0x04|0x01 | bit 1
    const cpu = runHalted('add eax, ebx\npushfd', regs({ eax: 0xffffffff, ebx: 1 }));
    expect(rd32(cpu, TOP - 4)).toBe(0x57);
  });
  it('popfd loads the status flags and DF', () => {
    // 0xcd5 = OF DF SF ZF AF PF CF
    const cpu = runHalted('push 0x00000cd5\npopfd');
    expect(cpu.getEflags() >>> 0).toBe(0xcd7);
  });
  it('popfd at CPL 0 with all bits but TF: reserved bits, VM, RF, VIF, VIP stay clear', () => {
    // writable at CPL 0: CF PF AF ZF SF (TF) IF DF OF IOPL NT AC ID; bit 1 reads as 1
    const cpu = runHalted('push 0xfffffeff\npopfd\npushfd\npop eax');
    expect(reg(cpu, 'eax').toString(16)).toBe('247ed7');
  });
  it('popfw (66 9D) changes only the low 16 bits', () => {
    const cpu = runHalted('push 0x00240000\npopfd\npushw 0x0001\npopfw\npushfd\npop eax');
    expect(reg(cpu, 'eax').toString(16)).toBe('240003');
  });
});

describe('ENTER / LEAVE', () => {
  it('enter 16, 0: push ebp; ebp = esp; esp -= 16', () => {
    const cpu = runHalted('enter 16, 0', regs({ ebp: 0x12345 }));
    expect(rd32(cpu, TOP - 4)).toBe(0x12345);
    expect(reg(cpu, 'ebp')).toBe(TOP - 4);
    expect(reg(cpu, 'esp')).toBe(TOP - 4 - 16);
  });
  it('enter 8, 1 pushes the new frame pointer as the display', () => {
    const cpu = runHalted('enter 8, 1', regs({ ebp: 0x12345 }));
    expect(rd32(cpu, TOP - 4)).toBe(0x12345);
    expect(rd32(cpu, TOP - 8)).toBe(TOP - 4);
    expect(reg(cpu, 'ebp')).toBe(TOP - 4);
    expect(reg(cpu, 'esp')).toBe(TOP - 8 - 8);
  });
  it('enter 4, 3 copies two display entries from the old frame, then pushes the new frame pointer', () => {
    // Push(EBP); FrameTemp ← ESP; for i = 1..2: EBP -= 4, Push([EBP]); Push(FrameTemp); EBP ← FrameTemp; ESP -= 4
    const cpu = runHalted('enter 4, 3', (c) => {
      c.regs[5] = 0x70000;
      c.write32(0x70000 - 4, 0xa1);
      c.write32(0x70000 - 8, 0xa2);
    });
    expect([rd32(cpu, TOP - 4), rd32(cpu, TOP - 8), rd32(cpu, TOP - 12), rd32(cpu, TOP - 16)]).toEqual([0x70000, 0xa1, 0xa2, TOP - 4]);
    expect(reg(cpu, 'ebp')).toBe(TOP - 4);
    expect(reg(cpu, 'esp')).toBe(TOP - 16 - 4);
  });
  it('enter 0, 33 uses nesting level 33 mod 32 = 1', () => {
    const cpu = runHalted('enter 0, 33', regs({ ebp: 0x12345 }));
    expect(rd32(cpu, TOP - 8)).toBe(TOP - 4);
    expect(reg(cpu, 'esp')).toBe(TOP - 8);
    expect(reg(cpu, 'ebp')).toBe(TOP - 4);
  });
  it('leave: ESP ← EBP; pop EBP', () => {
    const cpu = runHalted('leave', (c) => { c.regs[5] = 0x7fff0; c.write32(0x7fff0, 0xabc); });
    expect(reg(cpu, 'ebp')).toBe(0xabc);
    expect(reg(cpu, 'esp')).toBe(0x7fff4);
  });
  it('enter 32, 0 followed by leave restores ESP and EBP', () => {
    const cpu = runHalted('enter 32, 0\nsub esp, 100\nleave', regs({ ebp: 0x5555 }));
    expect(reg(cpu, 'esp')).toBe(TOP);
    expect(reg(cpu, 'ebp')).toBe(0x5555);
  });
});

describe('CALL / RET / indirect JMP', () => {
  it('call rel32 pushes the address of the next instruction; ret returns there', () => {
    // call f = E8 rel32 (5 bytes) at 0x1000 → return address 0x1005
    const cpu = runHalted('call f\nmov ebx, 1\nhlt\nf: mov eax, [esp]\nret');
    expect(reg(cpu, 'eax')).toBe(0x1005);
    expect(reg(cpu, 'ebx')).toBe(1);
    expect(reg(cpu, 'esp')).toBe(TOP);
  });
  it('ret imm16 pops the arguments too', () => {
    // push 1 / push 2 = 6A ib (2 bytes each), call at 0x1004 → return 0x1009
    const cpu = runHalted('push 1\npush 2\ncall f\nmov ecx, esp\nhlt\nf: mov eax, [esp]\nmov edx, [esp+4]\nret 8');
    expect(reg(cpu, 'eax')).toBe(0x1009);
    expect(reg(cpu, 'edx')).toBe(2);
    expect(reg(cpu, 'ecx')).toBe(TOP);
  });
  it('call through a register (FF /2 mod 3)', () => {
    // mov eax, imm32 (5 bytes) then call eax (FF D0, 2 bytes) → return 0x1007
    const cpu = runHalted('mov eax, offset f\ncall eax\nhlt\nf: mov ebx, [esp]\nret');
    expect(reg(cpu, 'ebx')).toBe(0x1007);
  });
  it('call through memory (FF 15 disp32)', () => {
    // mov dword ptr [disp32], imm32 = C7 05 (10 bytes); call [disp32] = FF 15 (6 bytes) at 0x100a → return 0x1010
    const cpu = runHalted(`mov dword ptr [${DATA}], offset f\ncall dword ptr [${DATA}]\nhlt\nf: mov ebx, [esp]\nret`);
    expect(reg(cpu, 'ebx')).toBe(0x1010);
    expect(reg(cpu, 'esp')).toBe(TOP);
  });
  it('call dword ptr [esp] reads the target before pushing the return address', () => {
    // push imm32 (5 bytes), call [esp] = FF 14 24 (3 bytes) at 0x1005 → return 0x1008
    const cpu = runHalted('push offset f\ncall dword ptr [esp]\nhlt\nf: pop ecx\npop edx\npush ecx\nret');
    expect(reg(cpu, 'ecx')).toBe(0x1008);
    expect(reg(cpu, 'edx')).toBe(0x1009); // f follows the 1-byte hlt at 0x1008
    expect(reg(cpu, 'esp')).toBe(TOP);
  });
  it('jmp through a register and through a jump table in memory', () => {
    const cpu = runHalted(
      ['mov eax, offset t1', 'jmp eax', 'mov ebx, 1', 't1: mov ecx, 2', 'jmp dword ptr [table+esi*4]', 'mov ebx, 3', 'hlt',
        't2a: mov edx, 0xa', 'hlt', 't2b: mov edx, 0xb', 'hlt', '.p2align 2', 'table: .long t2a, t2b'].join('\n'),
      regs({ esi: 1 }),
    );
    expect(reg(cpu, 'ebx')).toBe(0);
    expect(reg(cpu, 'ecx')).toBe(2);
    expect(reg(cpu, 'edx')).toBe(0xb);
  });
  it('recursive call/ret: factorial(5) = 120', () => {
    const cpu = runHalted(
      ['mov eax, 5', 'call fact', 'jmp done', 'fact: cmp eax, 1', 'jbe base', 'push eax', 'dec eax', 'call fact', 'pop ecx', 'imul eax, ecx', 'ret',
        'base: mov eax, 1', 'ret', 'done:'].join('\n'),
    );
    expect(reg(cpu, 'eax')).toBe(120);
    expect(reg(cpu, 'esp')).toBe(TOP);
  });
});

describe('16-bit operand size control transfers (66 prefix)', () => {
  it('66 E8 rel16 pushes a 16-bit return address; 66 C3 pops 16 bits', () => {
    // 0x1000: 66 e8 03 00  call 0x1007 (next = 0x1004), 0x1004: f4 hlt, 0x1005: 90 90, 0x1007: 66 c3 ret (16-bit)
    const { cpu, stop } = runBytes([0x66, 0xe8, 0x03, 0x00, 0xf4, 0x90, 0x90, 0x66, 0xc3]);
    expect(stop).toEqual({ kind: 'halted' });
    expect(reg(cpu, 'esp')).toBe(TOP);
    expect(cpu.read16(TOP - 2)).toBe(0x1004);
  });
  it('66 6A ib pushes a sign-extended word', () => {
    const cpu = runHalted('.byte 0x66, 0x6a, 0xff');
    expect(reg(cpu, 'esp')).toBe(TOP - 2);
    expect(cpu.read16(TOP - 2)).toBe(0xffff);
  });
  it('66 C2 iw: 16-bit return popping extra bytes', () => {
    // 0x1000: 6a 07 (push 7) ; 0x1002: 66 e8 02 00 call 0x1008 ; 0x1006: f4 ; 0x1007: 90 ; 0x1008: 66 c2 04 00 ret 4
    const { cpu, stop } = runBytes([0x6a, 0x07, 0x66, 0xe8, 0x02, 0x00, 0xf4, 0x90, 0x66, 0xc2, 0x04, 0x00]);
    expect(stop).toEqual({ kind: 'halted' });
    // push 7: TOP-4; call: TOP-6; ret 4 pops 2 then adds 4 → TOP
    expect(reg(cpu, 'esp')).toBe(TOP);
  });
});

describe('more stack forms', () => {
  it('66 54 (push sp) pushes the 16-bit SP before the decrement', () => {
    const cpu = runHalted('.byte 0x66, 0x54', regs({ esp: 0x7fff8 }));
    expect(reg(cpu, 'esp')).toBe(0x7fff6);
    expect(cpu.read16(0x7fff6)).toBe(0xfff8);
  });
  it('66 C9 (16-bit leave on a 32-bit stack): ESP ← EBP, BP ← pop16, upper EBP kept', () => {
    const cpu = runHalted('.byte 0x66, 0xc9', (c) => { c.regs[5] = 0x0007fff0; c.write32(0x7fff0, 0x1111abcd); });
    expect(reg(cpu, 'esp')).toBe(0x7fff2);
    expect(reg(cpu, 'ebp')).toBe(0x0007abcd);
  });
  it('lea esp, [esp+4] and add esp, imm adjust the stack like pops', () => {
    const cpu = runHalted('push 1\npush 2\nlea esp, [esp+4]\npop eax');
    expect(reg(cpu, 'eax')).toBe(1);
    expect(reg(cpu, 'esp')).toBe(TOP);
  });
});
