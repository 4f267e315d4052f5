/**
 * Far control transfers in protected mode (Intel SDM Vol. 3 §5.8, Vol. 2
 * "JMP", "CALL", "RET", "IRET"): direct far JMP/CALL to code segments
 * (conforming and not), far RET and RET imm16 to the same and to an outer
 * level, call gates (privilege checks, the TSS stack switch, parameter
 * copying, JMP only to the same privilege), and IRET to the same and to an
 * outer level with the nulling of data segment registers the new CPL may
 * not use.
 */
import { describe, expect, it } from 'vitest';
import { CS, DS, ES, FS, GS, SS } from '../../src/cpu/instr.js';
import { callGate, codeSegment, dataSegment, selector, taskGate, TSS32 } from '../../src/rings/descriptors.js';
import { GDT_INDEX, L, SEL, SystemMachine } from './machine.js';

const GP = 13, NP = 11, TS = 10, SSF = 12;
const FREE = GDT_INDEX.FREE;
const GATE = selector(FREE, 0);
const G = (rpl: number): number => selector(FREE, rpl);
const TARGET = selector(FREE + 1, 0);

/** Guest code that copies 8 dwords from [ESP] to DATA and records ESP, SS, CS, DS..GS at DATA+0x40.. (uses EAX only). */
const RECORD = [
  ...Array.from({ length: 8 }, (_, i) => `mov eax, [esp+${4 * i}]\nmov [DATA+${4 * i}], eax`),
  'mov [DATA+0x40], esp',
  'mov word ptr [DATA+0x44], ss',
  'mov word ptr [DATA+0x48], cs',
].join('\n');
function recorded(m: SystemMachine): { frame: number[]; esp: number; ss: number; cs: number } {
  return {
    frame: Array.from({ length: 8 }, (_, i) => m.r32(L.DATA + 4 * i)),
    esp: m.r32(L.DATA + 0x40),
    ss: m.r32(L.DATA + 0x44) & 0xffff,
    cs: m.r32(L.DATA + 0x48) & 0xffff,
  };
}

describe('far JMP to a code segment', () => {
  it('same privilege: CS gets the new selector with RPL = CPL; conforming code keeps the CPL', () => {
    const m = new SystemMachine();
    m.setGdt(FREE, codeSegment({ dpl: 0, conforming: true }));
    m.code('mov eax, cs\njmp EXIT', L.CODE2);
    expect(m.runAt(3, `jmp ${G(3)}:CODE2`)).toEqual({ kind: 'exited', status: G(3) });
    expect(m.cpu.cpl).toBe(3);
    // A conforming target reached with RPL 0 still runs at CPL 3: CS.RPL is set to the CPL.
    const n = new SystemMachine();
    n.setGdt(FREE, codeSegment({ dpl: 0, conforming: true }));
    n.code('mov eax, cs\njmp EXIT', L.CODE2);
    expect(n.runAt(3, `jmp ${G(0)}:CODE2`)).toEqual({ kind: 'exited', status: G(3) });
  });
  const refused: [string, number, () => ReturnType<typeof codeSegment> | null, number, number, number][] = [
    ['non-conforming DPL 0 from CPL 3', 3, () => codeSegment({ dpl: 0 }), G(3), GP, G(0)],
    ['non-conforming DPL 3 from CPL 0 (no jumps outward)', 0, () => codeSegment({ dpl: 3 }), G(0), GP, G(0)],
    ['non-conforming DPL 0 from CPL 0 with RPL 3', 0, () => codeSegment({ dpl: 0 }), G(3), GP, G(0)],
    ['conforming DPL 3 from CPL 0 (DPL > CPL)', 0, () => codeSegment({ dpl: 3, conforming: true }), G(0), GP, G(0)],
    ['a data segment', 0, () => dataSegment({ dpl: 0 }), G(0), GP, G(0)],
    ['a not-present code segment', 0, () => codeSegment({ dpl: 0, present: false }), G(0), NP, G(0)],
    ['an offset beyond the code-segment limit', 0, () => codeSegment({ dpl: 0, limit: L.CODE2 - 1 }), G(0), GP, 0],
  ];
  for (const [name, cpl, desc, sel, vector, err] of refused) {
    it(`${name} → ${vector === GP ? '#GP' : '#NP'}(0x${err.toString(16)}), CS:EIP unchanged`, () => {
      const m = new SystemMachine();
      const d = desc();
      if (d) m.setGdt(FREE, d);
      expect(m.runAt(cpl, `nop\njmp ${sel}:CODE2`)).toMatchObject({ kind: 'fault', vector, errorCode: err, eip: L.CODE + 1 });
      expect(m.events[0].savedCs).toBe([SEL.CODE0, SEL.CODE1, SEL.CODE2, SEL.CODE3][cpl]);
    });
  }
  it('a null selector → #GP(0)', () => {
    const m = new SystemMachine();
    expect(m.runAt(0, 'jmp 3:CODE2')).toMatchObject({ kind: 'fault', vector: GP, errorCode: 0, eip: L.CODE });
  });
  it('JMP to a task gate or TSS is a task switch (tasks.test.ts): to the current, busy task it is #GP(TSS selector)', () => {
    const m = new SystemMachine();
    m.setGdt(FREE, taskGate({ tssSelector: SEL.TSS, dpl: 0 }));
    expect(m.runAt(0, `jmp ${G(0)}:0`)).toMatchObject({ kind: 'fault', vector: GP, errorCode: SEL.TSS });
    const n = new SystemMachine();
    expect(n.runAt(0, `jmp ${SEL.TSS}:0`)).toMatchObject({ kind: 'fault', vector: GP, errorCode: SEL.TSS }); // the TSS is busy
  });
});

describe('far CALL and RET at the same privilege', () => {
  it('pushes CS (RPL = CPL) and the return EIP; RET imm16 releases the parameters', () => {
    const m = new SystemMachine();
    m.setGdt(FREE, codeSegment({ dpl: 3 }));
    m.code(`${RECORD}\nretf 8`, L.CODE2);
    const stop = m.runAt(3, `push 0x11\npush 0x22\ncall ${G(3)}:CODE2\nback: mov eax, esp\njmp EXIT`);
    const r = recorded(m);
    expect(r.frame.slice(0, 4)).toEqual([L.CODE + 4 + 7, SEL.CODE3, 0x22, 0x11]); // the caller's CS
    expect(r.cs).toBe(G(3));
    expect(r.ss).toBe(SEL.DATA3);
    expect(stop).toEqual({ kind: 'exited', status: L.STACK3 });
    expect(m.cpu.segSel[CS]).toBe(SEL.CODE3);
  });
  it('RET to a more privileged level (RPL < CPL) → #GP(selector)', () => {
    const m = new SystemMachine();
    expect(m.runAt(3, `push ${SEL.CODE0}\npush CODE2\nretf`)).toMatchObject({ kind: 'fault', vector: GP, errorCode: SEL.CODE0, eip: L.CODE + 2 + 5 });
  });
  it('RET to a non-conforming segment whose DPL differs from the RPL → #GP(selector)', () => {
    const m = new SystemMachine();
    m.setGdt(FREE, codeSegment({ dpl: 1 }));
    expect(m.runAt(0, `push ${G(0)}\npush CODE2\nretf`)).toMatchObject({ kind: 'fault', vector: GP, errorCode: G(0), eip: L.CODE + 5 + 5 });
  });
  it('RET beyond the code-segment limit → #GP(0)', () => {
    const m = new SystemMachine();
    m.setGdt(FREE, codeSegment({ dpl: 0, limit: 0xffff }));
    expect(m.runAt(0, `push ${G(0)}\npush CODE2\nretf`)).toMatchObject({ kind: 'fault', vector: GP, errorCode: 0 });
  });
});

describe('call gates', () => {
  /** Gate at GDT[FREE], target code at GDT[FREE+1], routine at CODE2. */
  function gateMachine(o: { gateDpl?: number; targetDpl?: number; conforming?: boolean; params?: number; routine?: string; gatePresent?: boolean; targetPresent?: boolean; is32?: boolean } = {}): SystemMachine {
    const m = new SystemMachine();
    m.setGdt(FREE, callGate({ selector: TARGET, offset: L.CODE2, dpl: o.gateDpl ?? 3, paramCount: o.params ?? 0, present: o.gatePresent ?? true, is32: o.is32 }));
    m.setGdt(FREE + 1, codeSegment({ dpl: o.targetDpl ?? 0, conforming: o.conforming, present: o.targetPresent ?? true }));
    m.code(o.routine ?? `${RECORD}\nretf ${4 * (o.params ?? 0)}`, L.CODE2);
    return m;
  }

  it('CALL from CPL 3 to a DPL-0 routine: switches to SS0:ESP0, pushes SS:ESP, copies the parameters, pushes CS:EIP', () => {
    const m = gateMachine({ params: 3 });
    const stop = m.runAt(3, `push 0x33\npush 0x22\npush 0x11\ncall ${G(3)}:0xdeadbeef\nmov eax, esp\njmp EXIT`);
    const r = recorded(m);
    expect(r.cs).toBe(TARGET); // CPL 0: CS.RPL = 0
    expect(r.ss).toBe(SEL.DATA0);
    expect(r.esp).toBe(L.STACK0 - 4 * 7);
    // EIP, CS, then the three parameters in their original order, then the caller's ESP and SS.
    expect(r.frame.slice(0, 7)).toEqual([L.CODE + 6 + 7, SEL.CODE3, 0x11, 0x22, 0x33, L.STACK3 - 12, SEL.DATA3]);
    // RETF 12 returns to CPL 3, pops SS:ESP and releases the parameters on both stacks.
    expect(stop).toEqual({ kind: 'exited', status: L.STACK3 });
    expect(m.cpu.cpl).toBe(3);
    expect(m.cpu.segSel[SS]).toBe(SEL.DATA3);
    expect(m.cpu.segSel[CS]).toBe(SEL.CODE3);
  });
  it('the gate offset is used, not the far pointer\'s; the parameter count is 5 bits of dwords', () => {
    const m = gateMachine({ params: 31 });
    const pushes = Array.from({ length: 31 }, (_, i) => `push ${i + 1}`).join('\n');
    m.runAt(3, `${pushes}\ncall ${G(3)}:0\njmp EXIT`);
    const top = L.STACK0 - 4 * (31 + 4);
    expect(m.r32(L.DATA + 0x40)).toBe(top);
    for (let i = 0; i < 31; i++) expect(m.r32(top + 8 + 4 * i)).toBe(31 - i);
    expect(m.r32(top + 8 + 4 * 31)).toBe(L.STACK3 - 31 * 4);
  });
  it('a routine at CPL 1 uses SS1:ESP1', () => {
    const m = gateMachine({ targetDpl: 1 });
    m.runAt(3, `call ${G(3)}:0\njmp EXIT`);
    const r = recorded(m);
    expect(r.cs).toBe(TARGET | 1);
    expect(r.ss).toBe(SEL.DATA1);
    expect(r.esp).toBe(L.STACK1 - 16);
  });
  it('returning to the outer level nulls DS/ES/FS/GS holding segments the outer CPL may not use', () => {
    const m = gateMachine({
      routine: [
        `mov ax, ${SEL.DATA0}`, 'mov ds, ax', // DPL 0 data: nulled
        `mov ax, ${SEL.DATA3}`, 'mov es, ax', // DPL 3 data: kept
        `mov ax, ${selector(FREE + 2, 0)}`, 'mov fs, ax', // conforming readable code DPL 0: kept
        `mov ax, ${selector(FREE + 3, 0)}`, 'mov gs, ax', // non-conforming readable code DPL 0: nulled
        'retf',
      ].join('\n'),
    });
    m.setGdt(FREE + 2, codeSegment({ dpl: 0, conforming: true }));
    m.setGdt(FREE + 3, codeSegment({ dpl: 0 }));
    expect(m.runAt(3, `call ${G(3)}:0\nmov eax, 1\njmp EXIT`)).toEqual({ kind: 'exited', status: 1 });
    expect([m.cpu.segSel[DS], m.cpu.segSel[ES], m.cpu.segSel[FS], m.cpu.segSel[GS]]).toEqual([0, SEL.DATA3, selector(FREE + 2, 0), 0]);
  });
  it('CALL through a gate to a DPL-0 routine from CPL 0: no stack switch, no parameters copied', () => {
    const m = gateMachine({ params: 2 });
    m.code(`${RECORD}\nretf`, L.CODE2);
    expect(m.runAt(0, `push 1\npush 2\ncall ${G(0)}:0\nmov eax, esp\njmp EXIT`)).toEqual({ kind: 'exited', status: L.STACK0 - 8 });
    const r = recorded(m);
    expect(r.esp).toBe(L.STACK0 - 16);
    expect(r.frame.slice(0, 4)).toEqual([L.CODE + 4 + 7, SEL.CODE0, 2, 1]);
  });
  it('CALL through a gate to a conforming DPL-0 segment from CPL 3 stays at CPL 3 on the same stack', () => {
    const m = gateMachine({ conforming: true });
    m.runAt(3, `call ${G(3)}:0\njmp EXIT`);
    const r = recorded(m);
    expect(r.cs).toBe(TARGET | 3);
    expect(r.ss).toBe(SEL.DATA3);
    expect(r.esp).toBe(L.STACK3 - 8);
  });
  it('a 16-bit call gate pushes words and copies parameter words', () => {
    const m = gateMachine();
    // A 16-bit gate has a 16-bit offset: the routine sits below 64 KiB. It returns with o16 retf 4.
    m.setGdt(FREE, callGate({ selector: TARGET, offset: 0xf000, dpl: 3, paramCount: 2, is32: false }));
    m.code(`${RECORD}\n.byte 0x66, 0xca, 4, 0`, 0xf000);
    // The caller too: a 16-bit gate pushes (and RETF pops) only IP, so it must return below 64 KiB.
    m.code(`push 0x2222\npush 0x1111\ncall ${G(3)}:0\nmov eax, esp\njmp EXIT`, 0xe000);
    m.enter(3, 0xe000);
    const stop = m.run();
    const words = (i: number): number => (i & 1 ? m.r32(L.DATA + 2 * (i - 1)) >>> 16 : m.r32(L.DATA + 2 * i) & 0xffff);
    // IP, CS, param0, param1 (the low words of the caller's two dwords), SP, SS.
    expect([0, 1, 2, 3, 4, 5].map(words)).toEqual([0xe000 + 5 + 5 + 7, SEL.CODE3, 0x1111, 0, (L.STACK3 - 8) & 0xffff, SEL.DATA3]);
    expect(stop).toEqual({ kind: 'exited', status: L.STACK3 - 8 + 4 });
  });

  const refusals: [string, Parameters<typeof gateMachine>[0], number, number, number][] = [
    ['gate DPL < CPL', { gateDpl: 0 }, G(3), GP, G(0)],
    ['gate DPL < RPL', { gateDpl: 2 }, G(3), GP, G(0)],
    ['gate not present', { gatePresent: false }, G(3), NP, G(0)],
    ['target is not code (data)', { targetDpl: 0 }, G(3), GP, TARGET],
    ['target DPL > CPL', { targetDpl: 3 }, G(0), GP, TARGET],
    ['target not present', { targetPresent: false }, G(3), NP, TARGET],
  ];
  for (const [name, o, sel, vector, err] of refusals) {
    it(`${name} → ${vector === GP ? '#GP' : '#NP'}(0x${err.toString(16)}) at the CALL`, () => {
      const m = gateMachine(o);
      if (name.startsWith('target is not code')) m.setGdt(FREE + 1, dataSegment({ dpl: 0 }));
      const cpl = name === 'target DPL > CPL' ? 0 : 3;
      expect(m.runAt(cpl, `nop\ncall ${sel}:0`)).toMatchObject({ kind: 'fault', vector, errorCode: err, eip: L.CODE + 1 });
      if (cpl === 3) expect(m.events[0].savedEsp).toBe(L.STACK3); // nothing was pushed on the caller's stack
    });
  }
  it('a gate whose code selector is null → #GP(0)', () => {
    const m = new SystemMachine();
    m.setGdt(FREE, callGate({ selector: 0, offset: L.CODE2 }));
    expect(m.runAt(3, `call ${G(3)}:0`)).toMatchObject({ kind: 'fault', vector: GP, errorCode: 0 });
  });

  describe('the stack switch through the TSS', () => {
    // These faults cannot be handled on the broken ring-0 stack: their gates lead to ring 1 (SS1:ESP1).
    const gateMachineR1 = (o: Parameters<typeof gateMachine>[0] = {}): SystemMachine => {
      const m = gateMachine(o);
      for (const v of [10, 12, 13, 14]) m.handlerGate(v, { ring: 1 });
      return m;
    };
    it('SS0 null → #TS(0)', () => {
      const m = gateMachineR1();
      m.setTss(TSS32.SS0, 0);
      expect(m.runAt(3, `call ${G(3)}:0`)).toMatchObject({ kind: 'fault', vector: TS, errorCode: 0, eip: L.CODE });
    });
    it('SS0 with RPL ≠ new CPL, or DPL ≠ new CPL, or not writable → #TS(SS0)', () => {
      for (const [ss0, desc] of [[SEL.DATA0 | 3, null], [SEL.DATA3 & ~3, null], [selector(FREE + 2, 0), dataSegment({ dpl: 0, writable: false })]] as const) {
        const m = gateMachineR1();
        if (desc) m.setGdt(FREE + 2, desc);
        m.setTss(TSS32.SS0, ss0);
        expect(m.runAt(3, `call ${G(3)}:0`)).toMatchObject({ kind: 'fault', vector: TS, errorCode: ss0 & 0xfffc });
      }
    });
    it('SS0 not present → #SS(SS0)', () => {
      const m = gateMachineR1();
      m.setGdt(FREE + 2, dataSegment({ dpl: 0, present: false }));
      m.setTss(TSS32.SS0, selector(FREE + 2, 0));
      expect(m.runAt(3, `call ${G(3)}:0`)).toMatchObject({ kind: 'fault', vector: SSF, errorCode: selector(FREE + 2, 0) });
    });
    it('no room for SS, ESP, the parameters, CS and EIP below ESP0 → #SS(SS0)', () => {
      const m = gateMachineR1({ params: 2 });
      m.setGdt(FREE + 2, dataSegment({ dpl: 0, expandDown: true, limit: L.STACK0 - 24 }));
      m.setTss(TSS32.SS0, selector(FREE + 2, 0));
      // 6 dwords are needed below ESP0; the valid range ends 23 bytes below it
      expect(m.runAt(3, `push 1\npush 2\ncall ${G(3)}:0`)).toMatchObject({ kind: 'fault', vector: SSF, errorCode: selector(FREE + 2, 0) });
      const n = gateMachineR1({ params: 2 });
      n.setGdt(FREE + 2, dataSegment({ dpl: 0, expandDown: true, limit: L.STACK0 - 25 }));
      n.setTss(TSS32.SS0, selector(FREE + 2, 0));
      expect(n.runAt(3, `push 1\npush 2\ncall ${G(3)}:0\njmp EXIT`)).toMatchObject({ kind: 'exited' });
    });
    it('a #PF on the new stack leaves the caller untouched (CPL, SS:ESP, CS:EIP)', () => {
      const m = gateMachineR1({ params: 1 });
      m.enablePaging();
      m.setPte(L.STACK0 - 4, 0); // the page below ESP0 is not present
      expect(m.runAt(3, `push 7\ncall ${G(3)}:0`)).toMatchObject({ kind: 'fault', vector: 14, errorCode: 2, eip: L.CODE + 2 });
      const d = m.events[0];
      expect(d.cpl).toBe(1);
      expect(d.cr2).toBe(L.STACK0 - 4);
      expect([d.savedCs, d.savedSs, d.savedEsp]).toEqual([SEL.CODE3, SEL.DATA3, L.STACK3 - 4]);
    });
  });

  describe('JMP through a call gate: same privilege only, no stack switch', () => {
    it('to a DPL-0 routine from CPL 0', () => {
      const m = gateMachine({ routine: 'mov eax, cs\njmp EXIT' });
      expect(m.runAt(0, `jmp ${G(0)}:0`)).toEqual({ kind: 'exited', status: TARGET });
      expect(m.cpu.regs[4] >>> 0).toBe(L.STACK0);
    });
    it('to a DPL-0 non-conforming routine from CPL 3 → #GP(target selector)', () => {
      const m = gateMachine({ routine: 'jmp EXIT' });
      expect(m.runAt(3, `jmp ${G(3)}:0`)).toMatchObject({ kind: 'fault', vector: GP, errorCode: TARGET, eip: L.CODE });
    });
    it('to a conforming DPL-0 routine from CPL 3: allowed, stays at CPL 3', () => {
      const m = gateMachine({ conforming: true, routine: 'mov eax, cs\njmp EXIT' });
      expect(m.runAt(3, `jmp ${G(3)}:0`)).toEqual({ kind: 'exited', status: TARGET | 3 });
    });
  });
});

describe('IRET', () => {
  it('to the same privilege level pops EIP, CS, EFLAGS only', () => {
    const m = new SystemMachine();
    const stop = m.runAt(0, `push 0x2c7\npush ${SEL.CODE0}\npush offset t\niretd\nt: mov eax, esp\njmp EXIT`);
    expect(stop).toEqual({ kind: 'exited', status: L.STACK0 });
    expect(m.cpu.getEflags() & 0xfff).toBe(0x2c7 & 0xfd7 | 0x2);
  });
  it('to CPL 3 pops SS:ESP and nulls DS/ES/FS/GS whose DPL is below 3 (conforming code is kept)', () => {
    const m = new SystemMachine();
    m.setGdt(FREE, codeSegment({ dpl: 0, conforming: true }));
    const stop = m.runAt(0, [
      `mov ax, ${SEL.DATA0}`, 'mov ds, ax',
      `mov ax, ${SEL.DATA3}`, 'mov es, ax',
      `mov ax, ${SEL.DATA1}`, 'mov fs, ax',
      `mov ax, ${G(0)}`, 'mov gs, ax',
      `push ${SEL.DATA3}`, 'push 0x36000', 'push 0x202', `push ${SEL.CODE3}`, 'push offset user', 'iretd',
      'user: mov eax, esp', 'jmp EXIT',
    ].join('\n'));
    expect(stop).toEqual({ kind: 'exited', status: 0x36000 });
    expect(m.cpu.cpl).toBe(3);
    expect([m.cpu.segSel[DS], m.cpu.segSel[ES], m.cpu.segSel[FS], m.cpu.segSel[GS]]).toEqual([0, SEL.DATA3, 0, G(0)]);
    expect(m.cpu.segSel[SS]).toBe(SEL.DATA3);
  });
  it('from CPL 3 to CPL 0 (return CS RPL < CPL) → #GP(CS selector)', () => {
    const m = new SystemMachine();
    expect(m.runAt(3, `push 0x202\npush ${SEL.CODE0}\npush 0\niretd`)).toMatchObject({ kind: 'fault', vector: GP, errorCode: SEL.CODE0 });
  });
  it('to CPL 3 with a bad SS: RPL ≠ 3 → #GP(SS), not present → #SS(SS), null → #GP(0)', () => {
    const frame = (ss: number): string => `push ${ss}\npush 0x36000\npush 0x202\npush ${SEL.CODE3}\npush 0\niretd`;
    expect(new SystemMachine().runAt(0, frame(SEL.DATA3 & ~3))).toMatchObject({ kind: 'fault', vector: GP, errorCode: SEL.DATA3 & 0xfffc });
    expect(new SystemMachine().runAt(0, frame(SEL.DATA0 | 3))).toMatchObject({ kind: 'fault', vector: GP, errorCode: SEL.DATA0 });
    const m = new SystemMachine();
    m.setGdt(FREE, dataSegment({ dpl: 3, present: false }));
    expect(m.runAt(0, frame(G(3)))).toMatchObject({ kind: 'fault', vector: SSF, errorCode: G(0) });
    expect(new SystemMachine().runAt(0, frame(3))).toMatchObject({ kind: 'fault', vector: GP, errorCode: 0 });
  });
  it('to a non-conforming code segment whose DPL ≠ RPL → #GP(CS)', () => {
    const m = new SystemMachine();
    m.setGdt(FREE, codeSegment({ dpl: 0 }));
    expect(m.runAt(0, `push ${SEL.DATA3}\npush 0x36000\npush 0x202\npush ${G(3)}\npush 0\niretd`)).toMatchObject({ kind: 'fault', vector: GP, errorCode: G(0) });
  });
  it('beyond the code-segment limit → #GP(0)', () => {
    const m = new SystemMachine();
    m.setGdt(FREE, codeSegment({ dpl: 0, limit: 0xffff }));
    expect(m.runAt(0, `push 0x202\npush ${G(0)}\npush 0x10000\niretd`)).toMatchObject({ kind: 'fault', vector: GP, errorCode: 0 });
  });
  it('at CPL 3 with IOPL 0 cannot change IF or IOPL; at CPL 0 it can', () => {
    const m = new SystemMachine();
    const stop = m.runAt(3, `push 0x3002\npush ${SEL.CODE3}\npush offset t\niretd\nt: pushfd\npop eax\njmp EXIT`);
    expect(stop).toMatchObject({ kind: 'exited' });
    expect((stop as { status: number }).status & 0x3200).toBe(0x200);
    const n = new SystemMachine();
    const s2 = n.runAt(0, `push 0x3002\npush ${SEL.CODE0}\npush offset t\niretd\nt: pushfd\npop eax\njmp EXIT`);
    expect((s2 as { status: number }).status & 0x3200).toBe(0x3000);
  });
  it('with NT set it returns to the previous task (tasks.test.ts): a null back link is #TS(0)', () => {
    const m = new SystemMachine();
    expect(m.runAt(0, 'pushfd\nor dword ptr [esp], 0x4000\npopfd\niretd')).toMatchObject({ kind: 'fault', vector: TS, errorCode: 0 });
  });
});
