/**
 * The debug machinery's corners (Intel SDM Vol. 3 §17.2–17.3, Vol. 2 "MOV—Move
 * to/from Debug Registers"), each as hardware and QEMU behave:
 *
 * - DR6 bits 4–11 and 16–31 and DR7 bit 10 read as 1 whatever is written
 *   (bit 12 of DR6 reads 0), so a #DB handler sees 0xFFFF4FF0 for a single
 *   step after `mov dr6, 0`;
 * - MOV to or from DR4/DR5 is #UD with CR4.DE = 1 and an alias of DR6/DR7
 *   without;
 * - DR7.GD makes every MOV to or from a debug register a #DB fault before it
 *   executes, with DR6.BD set and GD cleared for the handler.
 *
 * Single-stepping over INT n / INT3 / INTO is in single-step.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { interruptGate } from '../../src/rings/descriptors.js';
import { L, SEL, SystemMachine } from './machine.js';

const DB = 1, UD = 6, GP = 13;
const BD = 0x2000, BS = 0x4000, GD = 0x2000;

describe('DR6 and DR7 reserved bits', () => {
  it('after mov dr6, 0 DR6 reads 0xFFFF0FF0; all ones read back without bit 12; DR7 reads bit 10 set', () => {
    const m = new SystemMachine();
    const src = [
      'xor eax, eax', 'mov dr6, eax', 'mov eax, dr6', 'mov [DATA], eax',
      'mov eax, -1', 'mov dr6, eax', 'mov eax, dr6', 'mov [DATA+4], eax',
      'xor eax, eax', 'mov dr7, eax', 'mov eax, dr7', 'mov [DATA+8], eax',
      'mov eax, 0xffffdfff', 'mov dr7, eax', 'mov eax, dr7', 'mov [DATA+12], eax',
      'xor eax, eax', 'mov dr7, eax', 'jmp EXIT',
    ];
    expect(m.runAt(0, src.join('\n'))).toEqual({ kind: 'exited', status: 0 });
    expect(m.r32(L.DATA)).toBe(0xffff0ff0);
    expect(m.r32(L.DATA + 4)).toBe(0xffffefff); // B0–B3, BD, BS, BT writable; bit 12 reads 0
    expect(m.r32(L.DATA + 8)).toBe(0x400);
    expect(m.r32(L.DATA + 12)).toBe(0xffff07ff); // all but GD written: bits 11, 12, 14, 15 read 0, bit 10 reads 1
  });
  it('a fresh processor reads DR6 = 0xFFFF0FF0 and DR7 = 0x400', () => {
    const m = new SystemMachine();
    expect(m.runAt(0, 'mov eax, dr6\nmov ebx, dr7\nmov [DATA], ebx\njmp EXIT')).toEqual({ kind: 'exited', status: 0xffff0ff0 | 0 });
    expect(m.r32(L.DATA)).toBe(0x400);
  });
  it('a guest #DB handler sees DR6 = 0xFFFF4FF0 for a single step after clearing DR6', () => {
    const m = new SystemMachine();
    // #DB → guest handler at CODE2: record DR6, clear it, clear TF in the frame, IRET.
    m.setIdt(DB, interruptGate({ selector: SEL.CODE0, offset: L.CODE2 }));
    m.code(['mov eax, dr6', 'mov [DATA], eax', 'xor eax, eax', 'mov dr6, eax', 'and dword ptr [esp+8], ~0x100', 'iretd'].join('\n'), L.CODE2);
    const src = ['xor eax, eax', 'mov dr6, eax', 'pushfd', 'or dword ptr [esp], 0x100', 'popfd', 'nop', 'mov eax, 1', 'jmp EXIT'];
    expect(m.runAt(0, src.join('\n'))).toEqual({ kind: 'exited', status: 1 });
    expect(m.r32(L.DATA)).toBe(0xffff4ff0);
  });
  it('a native #DB handler sees the same DR6 even after the host cleared it to 0', () => {
    const m = new SystemMachine();
    m.onVector(DB, (mm) => {
      mm.cpu.dr[6] = 0;
      mm.iret(false);
    });
    m.runAt(3, 'nop\nnop\nmov eax, 2\njmp EXIT', { eflags: 0x302 });
    expect(m.of(DB).map((d) => d.dr6)).toEqual([0xffff4ff0, 0xffff4ff0, 0xffff4ff0, 0xffff4ff0]);
  });
});

describe('DR4 and DR5', () => {
  for (const [insn, what] of [['mov eax, dr4', 'read DR4'], ['mov dr4, eax', 'write DR4'], ['mov eax, dr5', 'read DR5'], ['mov dr5, eax', 'write DR5']] as const) {
    it(`${what} with CR4.DE = 1 → #UD at the instruction`, () => {
      const m = new SystemMachine();
      m.cpu.writeControlRegister(4, 8);
      expect(m.runAt(0, `xor eax, eax\n${insn}\njmp EXIT`)).toMatchObject({ kind: 'fault', vector: UD, eip: L.CODE + 2 });
    });
  }
  it('with CR4.DE = 0 they alias DR6 and DR7 (reserved bits included)', () => {
    const m = new SystemMachine();
    const src = ['mov eax, 0x4001', 'mov dr4, eax', 'mov eax, dr6', 'mov [DATA], eax', 'mov eax, 0x2', 'mov dr5, eax', 'mov eax, dr7', 'mov [DATA+4], eax', 'mov eax, dr5', 'jmp EXIT'];
    expect(m.runAt(0, src.join('\n'))).toEqual({ kind: 'exited', status: 0x402 });
    expect(m.r32(L.DATA)).toBe(0xffff4ff1);
    expect(m.r32(L.DATA + 4)).toBe(0x402);
  });
  it('the privilege check comes first: MOV DR4 at CPL 3 with CR4.DE = 1 is #GP(0)', () => {
    const m = new SystemMachine();
    m.cpu.writeControlRegister(4, 8);
    expect(m.runAt(3, 'mov eax, dr4')).toMatchObject({ kind: 'fault', vector: GP, errorCode: 0 });
  });
});

describe('DR7.GD (general detect)', () => {
  it('any MOV from a debug register is a #DB fault before it executes: DR6.BD set, GD clear in the handler, the MOV reruns after IRET', () => {
    const m = new SystemMachine();
    let dr7InHandler = -1;
    m.onVector(DB, (mm) => {
      dr7InHandler = mm.cpu.dr[7] >>> 0;
      mm.iret(false);
    });
    const src = ['mov eax, 0x2000', 'mov dr7, eax', 'mov ebx, 0x1234', 'mov dr0, ebx', 'mov eax, dr0', 'jmp EXIT'];
    // mov dr7 (3 bytes at +5): GD now on; mov dr0, ebx faults before writing DR0; after the IRET it reruns.
    expect(m.runAt(0, src.join('\n'))).toEqual({ kind: 'exited', status: 0x1234 });
    const dbs = m.of(DB);
    expect(dbs).toHaveLength(1);
    expect(dbs[0].eip).toBe(L.CODE + 13); // the MOV DR0 itself: a fault
    expect(dbs[0].dr6).toBe((0xffff0ff0 | BD) >>> 0);
    expect(dbs[0].dr6 & BS).toBe(0);
    expect(dr7InHandler & GD).toBe(0);
    expect(dr7InHandler).toBe(0x400);
  });
  it('a write is refused too: the register keeps its old value until the handler returns; MOV DR7 itself faults', () => {
    const m = new SystemMachine();
    m.onVector(DB, 'stop');
    const src = ['mov eax, 0x2000', 'mov dr7, eax', 'xor eax, eax', 'mov dr7, eax', 'jmp EXIT'];
    expect(m.runAt(0, src.join('\n'))).toMatchObject({ kind: 'fault', vector: DB, eip: L.CODE + 10 });
    expect(m.of(DB)[0].dr6 & BD).toBe(BD);
    // GD was cleared by the delivery, not by the refused write.
    expect(m.cpu.dr[7] >>> 0).toBe(0x400);
  });
  it('a guest handler can use the debug registers: it reads DR6 with BD and DR7 without GD', () => {
    const m = new SystemMachine();
    m.setIdt(DB, interruptGate({ selector: SEL.CODE0, offset: L.CODE2 }));
    m.code(['mov ecx, dr6', 'mov [DATA], ecx', 'mov ecx, dr7', 'mov [DATA+4], ecx', 'iretd'].join('\n'), L.CODE2);
    const src = ['xor eax, eax', 'mov dr6, eax', 'mov eax, 0x2000', 'mov dr7, eax', 'mov eax, dr6', 'jmp EXIT'];
    expect(m.runAt(0, src.join('\n'))).toEqual({ kind: 'exited', status: 0xffff0ff0 | BD | 0 });
    expect(m.r32(L.DATA)).toBe(0xffff0ff0 + BD);
    expect(m.r32(L.DATA + 4)).toBe(0x400);
  });
});
