/**
 * Interrupt and exception delivery through the IDT (Intel SDM Vol. 3
 * §6.10–6.15, Vol. 2 "INT n/INTO/INT3/INT1"): gate checks and their error
 * codes (IDT bit, EXT bit), the gate-DPL check that applies to INT n / INT3 /
 * INTO but not to INT1 or exceptions, interrupt vs trap gates, the frame
 * (with SS:ESP on a privilege change, an error code where Table 6-1 has
 * one) on the right stack, fault vs trap return addresses, and the
 * double-fault rules of Table 6-5 up to the triple fault.
 */
import { describe, expect, it } from 'vitest';
import { codeSegment, callGate, dataSegment, interruptGate, selector, TSS32 } from '../../src/rings/descriptors.js';
import { GDT_INDEX, L, SEL, SystemMachine, idtErr } from './machine.js';

const DE = 0, DB = 1, BP = 3, OF = 4, UD = 6, DF = 8, TS = 10, NP = 11, SSF = 12, GP = 13, PF = 14;
const FREE = GDT_INDEX.FREE;
const IF = 0x200, TF = 0x100, NT = 0x4000, RF_FLAG = 0x10000;

describe('INT n', () => {
  it('from CPL 3 through a DPL-3 interrupt gate: ring-0 stack from the TSS, frame SS, ESP, EFLAGS, CS, EIP; IF and TF cleared', () => {
    const m = new SystemMachine();
    m.handlerGate(0x40, { dpl: 3 });
    m.onVector(0x40, 'iret');
    const stop = m.runAt(3, 'int 0x40\nmov eax, esp\njmp EXIT', { eflags: 0x202 | NT });
    const d = m.of(0x40)[0];
    expect(d.cpl).toBe(0);
    expect([d.ss, d.esp]).toEqual([SEL.DATA0, L.STACK0 - 20]);
    expect(d.frame.slice(0, 5)).toEqual([L.CODE + 2, SEL.CODE3, 0x202 | NT, L.STACK3, SEL.DATA3]);
    expect(d.eflags & (IF | TF | NT)).toBe(0);
    // IRET restores the interrupted context, IF included.
    expect(stop).toEqual({ kind: 'exited', status: L.STACK3 });
    expect(m.cpu.getEflags() & IF).toBe(IF);
  });
  it('a trap gate leaves IF set', () => {
    const m = new SystemMachine();
    m.handlerGate(0x41, { dpl: 3, trap: true });
    m.runAt(3, 'int 0x41');
    expect(m.of(0x41)[0].eflags & IF).toBe(IF);
    expect(m.of(0x41)[0].eflags & TF).toBe(0);
  });
  it('at CPL 0 to a ring-0 handler: no stack switch, three words on the current stack', () => {
    const m = new SystemMachine();
    m.runAt(0, 'int 0x40');
    const d = m.of(0x40)[0];
    expect([d.ss, d.esp]).toEqual([SEL.DATA0, L.STACK0 - 12]);
    expect(d.frame.slice(0, 3)).toEqual([L.CODE + 2, SEL.CODE0, 0x202]);
    expect(d.savedSs).toBeUndefined();
  });
  it('IRET at the same privilege loads EIP, CS and EFLAGS from its frame: aligned, unaligned and straddling a page, paging on and off', () => {
    // Every status flag, DF and OF set in the image; the PUSHFD after the return shows what IRET loaded.
    const image = 0xcd7;
    for (const paging of [false, true]) {
      for (const esp of [L.STACK0 - 0x100, L.STACK0 - 0x102, L.STACK0 - 0x1000 + 8]) {
        const m = new SystemMachine();
        if (paging) m.enablePaging();
        const stop = m.runAt(0, `push ${image}\npush cs\npush offset back\niret\nback:\npushfd\npop eax\nadd eax, esp\njmp EXIT`, { esp });
        expect(stop, `paging ${paging}, ESP 0x${esp.toString(16)}`).toEqual({ kind: 'exited', status: (image + esp) | 0 });
      }
    }
  });
  it('from CPL 1 to a ring-0 handler switches to SS0:ESP0; from CPL 3 to a ring-1 handler to SS1:ESP1', () => {
    const m = new SystemMachine();
    m.handlerGate(0x40, { dpl: 3 });
    m.runAt(1, 'int 0x40');
    expect(m.events[0]).toMatchObject({ cpl: 0, ss: SEL.DATA0, esp: L.STACK0 - 20, savedSs: SEL.DATA1, savedEsp: L.STACK1, savedCs: SEL.CODE1 });
    const n = new SystemMachine();
    n.handlerGate(0x40, { dpl: 3, ring: 1 });
    n.runAt(3, 'int 0x40');
    expect(n.events[0]).toMatchObject({ cpl: 1, ss: SEL.DATA1, esp: L.STACK1 - 20, cs: SEL.CODE1 });
  });
  it('a gate to a conforming code segment runs the handler at the current CPL on the current stack', () => {
    const m = new SystemMachine();
    m.setGdt(FREE, codeSegment({ dpl: 0, conforming: true }));
    m.setIdt(0x40, interruptGate({ selector: selector(FREE, 0), offset: L.HANDLERS + 0x40 * 16, dpl: 3 }));
    m.runAt(3, 'int 0x40');
    expect(m.events[0]).toMatchObject({ cpl: 3, cs: selector(FREE, 3), ss: SEL.DATA3, esp: L.STACK3 - 12 });
  });
  it('a 16-bit interrupt gate pushes a 16-bit frame', () => {
    const m = new SystemMachine();
    m.setIdt(0x40, interruptGate({ selector: SEL.CODE0, offset: 0xf000, dpl: 3, is32: false }));
    m.cpu.bindNative(0xf000, (c) => c.stop({ kind: 'halted' })); // a handler below 64 KiB: a 16-bit gate has a 16-bit offset
    m.code('int 0x40', 0xe000);
    m.enter(3, 0xe000);
    m.run();
    const esp = L.STACK0 - 10;
    expect(m.cpu.regs[4] >>> 0).toBe(esp);
    const w = (i: number): number => m.cpu.mem.u8[esp + 2 * i] | (m.cpu.mem.u8[esp + 2 * i + 1] << 8);
    expect([0, 1, 2, 3, 4].map(w)).toEqual([0xe002, SEL.CODE3, 0x202, L.STACK3 & 0xffff, SEL.DATA3]);
  });
});

describe('the gate-DPL check (software interrupts only)', () => {
  it('INT n, INT3 and INTO through DPL-0 gates from CPL 3 → #GP(vector*8+2), reported at the instruction', () => {
    for (const [src, v] of [['int 0x40', 0x40], ['int3', BP], ['into', OF]] as const) {
      const m = new SystemMachine();
      const pre = src === 'into' ? 'mov al, 0x7f\nadd al, 1\n' : ''; // sets OF
      const stop = m.runAt(3, `${pre}${src}`);
      const at = L.CODE + (pre ? 4 : 0);
      expect(stop, src).toMatchObject({ kind: 'fault', vector: GP, errorCode: idtErr(v), eip: at });
      expect(m.events.length).toBe(1);
    }
  });
  it('the same from CPL 0 is delivered; INT3 and INTO are traps (EIP after them)', () => {
    const m = new SystemMachine();
    m.runAt(0, 'int3');
    expect(m.events[0]).toMatchObject({ vector: BP, eip: L.CODE + 1 });
    const n = new SystemMachine();
    n.runAt(0, 'mov al, 0x7f\nadd al, 1\ninto');
    expect(n.events[0]).toMatchObject({ vector: OF, eip: L.CODE + 5 });
  });
  it('INTO with OF clear does nothing', () => {
    const m = new SystemMachine();
    expect(m.runAt(3, 'xor eax, eax\ninto\nmov eax, 5\njmp EXIT')).toEqual({ kind: 'exited', status: 5 });
  });
  it('INT1 (F1) is not subject to the gate DPL: #DB from CPL 3 through a DPL-0 gate, EIP after it, DR6.BS not set', () => {
    const m = new SystemMachine();
    m.runAt(3, 'int1');
    expect(m.events[0]).toMatchObject({ vector: DB, eip: L.CODE + 1, cpl: 0, savedCs: SEL.CODE3 });
    expect(m.events[0].dr6 & 0x4000).toBe(0);
  });
  it('exceptions are not subject to the gate DPL either (#UD from CPL 3 through a DPL-0 gate)', () => {
    const m = new SystemMachine();
    expect(m.runAt(3, 'ud2')).toMatchObject({ kind: 'fault', vector: UD, eip: L.CODE });
    expect(m.events[0].cpl).toBe(0);
  });
  it('DPL is checked before presence: a not-present DPL-0 gate from CPL 3 → #GP, a not-present DPL-3 gate → #NP(vector*8+2)', () => {
    const m = new SystemMachine();
    m.handlerGate(0x40, { dpl: 0, present: false });
    expect(m.runAt(3, 'int 0x40')).toMatchObject({ kind: 'fault', vector: GP, errorCode: idtErr(0x40) });
    const n = new SystemMachine();
    n.handlerGate(0x40, { dpl: 3, present: false });
    expect(n.runAt(3, 'int 0x40')).toMatchObject({ kind: 'fault', vector: NP, errorCode: idtErr(0x40), eip: L.CODE });
  });
});

describe('gate and handler-segment checks, with EXT for events external to the program', () => {
  it('a vector beyond the IDT limit → #GP(vector*8+2)', () => {
    const m = new SystemMachine();
    m.cpu.idtrLimit = 0x40 * 8 + 6; // entry 0x40 is cut short
    expect(m.runAt(0, 'int 0x40')).toMatchObject({ kind: 'fault', vector: GP, errorCode: idtErr(0x40) });
  });
  it('an exception through a not-present gate → #NP(vector*8+2+1): EXT is set', () => {
    const m = new SystemMachine();
    m.handlerGate(UD, { present: false });
    expect(m.runAt(0, 'ud2')).toMatchObject({ kind: 'fault', vector: NP, errorCode: idtErr(UD, 1), eip: L.CODE });
  });
  it('a call gate in the IDT → #GP(vector*8+2)', () => {
    const m = new SystemMachine();
    m.setIdt(0x40, callGate({ selector: SEL.CODE0, offset: L.HANDLERS, dpl: 3 }));
    expect(m.runAt(3, 'int 0x40')).toMatchObject({ kind: 'fault', vector: GP, errorCode: idtErr(0x40) });
  });
  it('handler selector null → #GP(EXT); a data segment → #GP(sel); DPL > CPL → #GP(sel); not present → #NP(sel)', () => {
    const cases: [number, ReturnType<typeof codeSegment> | null, number, number][] = [
      [0, null, GP, 0],
      [selector(FREE, 0), dataSegment({ dpl: 0 }), GP, selector(FREE, 0)],
      [selector(FREE, 0), codeSegment({ dpl: 3 }), GP, selector(FREE, 0)],
      [selector(FREE, 0), codeSegment({ dpl: 0, present: false }), NP, selector(FREE, 0)],
    ];
    for (const [sel, desc, vector, err] of cases) {
      const m = new SystemMachine();
      if (desc) m.setGdt(FREE, desc);
      m.setIdt(0x40, interruptGate({ selector: sel, offset: L.HANDLERS + 0x40 * 16, dpl: 3 }));
      m.setIdt(UD, interruptGate({ selector: sel, offset: L.HANDLERS + UD * 16 }));
      expect(m.runAt(0, 'int 0x40'), `INT, sel ${sel}`).toMatchObject({ kind: 'fault', vector, errorCode: err });
      const n = new SystemMachine();
      if (desc) n.setGdt(FREE, desc);
      n.setIdt(UD, interruptGate({ selector: sel, offset: L.HANDLERS + UD * 16 }));
      expect(n.runAt(0, 'ud2'), `#UD, sel ${sel}`).toMatchObject({ kind: 'fault', vector, errorCode: err | 1 });
    }
  });
  it('a handler offset beyond the code-segment limit → #GP(EXT)', () => {
    const m = new SystemMachine();
    m.setGdt(FREE, codeSegment({ dpl: 0, limit: 0xfff }));
    m.setIdt(0x40, interruptGate({ selector: selector(FREE, 0), offset: L.HANDLERS, dpl: 3 }));
    expect(m.runAt(0, 'int 0x40')).toMatchObject({ kind: 'fault', vector: GP, errorCode: 0 });
  });
  it('SS0 in the TSS: null → #TS(EXT), bad → #TS(SS0+EXT), not present → #SS(SS0+EXT), no room → #SS(SS0+EXT)', () => {
    const bad = selector(FREE, 0);
    const cases: [number, ReturnType<typeof dataSegment> | null, number, number][] = [
      [0, null, TS, 1],
      [SEL.DATA3, null, TS, SEL.DATA3 & 0xfffc | 1],
      [bad, dataSegment({ dpl: 0, present: false }), SSF, bad | 1],
      [bad, dataSegment({ dpl: 0, expandDown: true, limit: L.STACK0 - 16 }), SSF, bad | 1], // 20 bytes needed, 15 available
    ];
    for (const [ss0, desc, vector, err] of cases) {
      const m = new SystemMachine();
      if (desc) m.setGdt(FREE, desc);
      m.setTss(TSS32.SS0, ss0);
      for (const v of [TS, SSF, DF]) m.handlerGate(v, { ring: 1 });
      expect(m.runAt(3, 'ud2'), `SS0 ${ss0}`).toMatchObject({ kind: 'fault', vector, errorCode: err, eip: L.CODE });
      expect(m.events.map((e) => e.vector), `SS0 ${ss0}`).toEqual([vector]);
    }
  });
});

describe('exception frames: error codes, fault vs trap addresses', () => {
  it('#DE: a fault without error code, EIP at the DIV', () => {
    const m = new SystemMachine();
    expect(m.runAt(3, 'xor ecx, ecx\ndiv ecx')).toMatchObject({ kind: 'fault', vector: DE, errorCode: null, eip: L.CODE + 2 });
    // ZF PF from the XOR; RF set in the image of a fault (SDM Vol. 3 §17.3.1.1).
    expect(m.events[0].frame.slice(0, 5)).toEqual([L.CODE + 2, SEL.CODE3, 0x246 | RF_FLAG, L.STACK3, SEL.DATA3]);
  });
  it('#GP from CPL 3 (CLI with IOPL 0): error code 0 below EIP, then CS, EFLAGS, ESP, SS', () => {
    const m = new SystemMachine();
    m.runAt(3, 'nop\ncli');
    expect(m.events[0].frame.slice(0, 6)).toEqual([0, L.CODE + 1, SEL.CODE3, 0x202 | RF_FLAG, L.STACK3, SEL.DATA3]);
    expect(m.events[0].esp).toBe(L.STACK0 - 24);
  });
  it('#PF from CPL 3: error code U/S|P for a supervisor page, CR2 = the address, EIP at the access', () => {
    const m = new SystemMachine({ paging: true });
    m.setPte(L.DATA, L.DATA | 3); // supervisor page
    expect(m.runAt(3, `mov eax, [${L.DATA + 0x10}]`)).toMatchObject({ kind: 'fault', vector: PF, errorCode: 5, eip: L.CODE });
    expect(m.events[0].cr2).toBe(L.DATA + 0x10);
  });
  it('the handler returns with IRET after dropping the error code, and the faulting instruction is restarted', () => {
    const m = new SystemMachine({ paging: true });
    m.setPte(L.DATA, 0);
    let fixed = 0;
    m.onVector(PF, (mm, d) => {
      fixed++;
      mm.setPte(d.cr2, (d.cr2 & ~0xfff) | 7); // map it, INVLPG is not needed for a not-present entry
      mm.iret(true);
    });
    m.w32(L.DATA, 0x1234);
    expect(m.runAt(3, `mov eax, [${L.DATA}]\njmp EXIT`)).toEqual({ kind: 'exited', status: 0x1234 });
    expect(fixed).toBe(1);
  });
});

describe('double fault and triple fault (SDM Table 6-5)', () => {
  it('contributory then contributory: #DE with a not-present gate → #NP during delivery → #DF(0), EIP at the DIV', () => {
    const m = new SystemMachine();
    m.handlerGate(DE, { present: false });
    expect(m.runAt(0, 'xor ecx, ecx\ndiv ecx')).toMatchObject({ kind: 'fault', vector: DF, errorCode: 0, eip: L.CODE + 2 });
    expect(m.events.map((e) => e.vector)).toEqual([DF]);
  });
  it('benign then contributory: #UD with a not-present gate → #NP delivered serially (no #DF)', () => {
    const m = new SystemMachine();
    m.handlerGate(UD, { present: false });
    expect(m.runAt(0, 'ud2')).toMatchObject({ kind: 'fault', vector: NP, errorCode: idtErr(UD, 1) });
  });
  it('INT n is not an exception: INT 13 through a not-present gate gives #NP, not #DF', () => {
    const m = new SystemMachine();
    m.handlerGate(GP, { present: false, dpl: 3 });
    expect(m.runAt(3, 'int 13')).toMatchObject({ kind: 'fault', vector: NP, errorCode: idtErr(GP) });
  });
  it('page fault then contributory: #PF with a not-present gate → #DF', () => {
    const m = new SystemMachine({ paging: true });
    m.setPte(L.DATA, 0);
    m.handlerGate(PF, { present: false });
    expect(m.runAt(0, `mov eax, [${L.DATA}]`)).toMatchObject({ kind: 'fault', vector: DF, errorCode: 0, eip: L.CODE });
  });
  it('contributory then page fault: #GP from CPL 3 whose ring-0 stack is not present → the #PF is delivered (no #DF)', () => {
    const m = new SystemMachine({ paging: true });
    m.setPte(L.STACK0 - 4, 0);
    m.handlerGate(PF, { ring: 1 });
    expect(m.runAt(3, 'cli')).toMatchObject({ kind: 'fault', vector: PF, errorCode: 2, eip: L.CODE });
    expect(m.events[0].cr2).toBe(L.STACK0 - 4);
  });
  it('#PF from CPL 3 delivered onto a not-present SS0:ESP0 → #PF during delivery → #DF, handled on SS1:ESP1', () => {
    const m = new SystemMachine({ paging: true });
    m.setPte(L.DATA, 0);
    m.setPte(L.STACK0 - 4, 0);
    m.handlerGate(DF, { ring: 1 });
    expect(m.runAt(3, `mov eax, [${L.DATA}]`)).toMatchObject({ kind: 'fault', vector: DF, errorCode: 0, eip: L.CODE });
    const d = m.events[0];
    expect([d.cpl, d.ss, d.esp]).toEqual([1, SEL.DATA1, L.STACK1 - 24]);
    expect(d.frame.slice(0, 6)).toEqual([0, L.CODE, SEL.CODE3, 0x202 | RF_FLAG, L.STACK3, SEL.DATA3]);
    expect(d.cr2).toBe(L.STACK0 - 4); // the second #PF's address
  });
  it('a fault while delivering #DF is a triple fault: the machine stops with the chain #PF → #DF → #PF', () => {
    const m = new SystemMachine({ paging: true });
    m.setPte(L.DATA, 0);
    m.setPte(L.STACK0 - 4, 0);
    const stop = m.runAt(3, `mov eax, [${L.DATA}]`);
    expect(stop).toMatchObject({ kind: 'triple-fault' });
    const chain = (stop as { chain: { vector: number; errorCode: number | null; eip: number }[] }).chain;
    expect(chain.map((c) => c.vector)).toEqual([PF, DF, PF]);
    expect(chain.map((c) => c.errorCode)).toEqual([4, 0, 2]);
    expect(chain[0].eip).toBe(L.CODE);
    expect(m.events).toEqual([]);
  });
  it('the kmemcheck case: a #PF on the stack at CPL 0 cannot be delivered (#DF, then triple fault on the same stack)…', () => {
    const m = new SystemMachine({ paging: true });
    m.setPte(L.STACK0 - 4, 0);
    const stop = m.runAt(0, 'push eax');
    expect(stop).toMatchObject({ kind: 'triple-fault' });
    expect((stop as { chain: { vector: number }[] }).chain.map((c) => c.vector)).toEqual([PF, DF, PF]);
  });
  it('…while the same #PF taken at CPL 1 through an interrupt gate to a DPL-0 handler lands on SS0:ESP0, no #DF', () => {
    const m = new SystemMachine({ paging: true });
    m.setPte(L.STACK1 - 4, 0);
    expect(m.runAt(1, 'push eax')).toMatchObject({ kind: 'fault', vector: PF, errorCode: 2, eip: L.CODE });
    const d = m.events[0];
    expect([d.cpl, d.ss, d.esp]).toEqual([0, SEL.DATA0, L.STACK0 - 24]);
    expect([d.savedCs, d.savedSs, d.savedEsp]).toEqual([SEL.CODE1, SEL.DATA1, L.STACK1]);
    expect(d.cr2).toBe(L.STACK1 - 4);
    expect(d.eflags & IF).toBe(0);
  });
  it('a task gate in the IDT (how i386 Linux reached its #DF handler) switches tasks (tasks.test.ts): to the busy current task it is #GP(TSS selector)', () => {
    const m = new SystemMachine();
    m.setIdt(0x40, [(SEL.TSS << 16) | 0, 0x0000e500]);
    expect(m.runAt(3, 'int 0x40')).toMatchObject({ kind: 'fault', vector: 13, errorCode: SEL.TSS, eip: L.CODE });
  });
});

describe('EFLAGS on delivery', () => {
  it('NT and TF are cleared in the handler (with VM and RF), IF only by interrupt gates; the saved image keeps them', () => {
    const m = new SystemMachine();
    m.handlerGate(0x40, { dpl: 3, trap: true });
    m.runAt(0, 'pushfd\nor dword ptr [esp], 0x4000\npopfd\nint 0x40');
    const d = m.events[0];
    expect(d.savedEflags & NT).toBe(NT);
    expect(d.eflags & (NT | 0x10000 | 0x20000 | TF)).toBe(0);
    expect(d.eflags & IF).toBe(IF);
  });
});

describe('RF in the stacked EFLAGS (SDM Vol. 3 §17.3.1.1)', () => {
  const RF = 1 << 16;
  it('a fault pushes EFLAGS with RF set; an INT n (a trap) does not', () => {
    const m = new SystemMachine();
    m.runAt(0, 'xor ecx, ecx\ndiv ecx');
    expect(m.of(0)[0].savedEflags & RF).toBe(RF);
    const n = new SystemMachine();
    n.runAt(0, 'int 0x40');
    expect(n.of(0x40)[0].savedEflags & RF).toBe(0);
  });
  it('IRET with RF set runs the faulting instruction once past its own instruction breakpoint; RF then clears', () => {
    const m = new SystemMachine();
    // The breakpoint sits on the instruction after the first one; the first faulting attempt is
    // the breakpoint's #DB (a fault, RF not set by it), the handler sets RF and returns.
    m.onVector(1, (mm, d) => {
      mm.cpu.writeDebugRegister(6, 0);
      // Set RF in the frame's EFLAGS image, then return (what a debugger's #DB handler does).
      const c = mm.cpu;
      c.write32((c.segBase[2] + c.regs[4] + 8) | 0, d.savedEflags | RF);
      mm.iret(false);
    });
    const code = 'mov eax, 1\nadd eax, 1\nadd eax, 1\njmp EXIT';
    const bpAddr = L.CODE + 5; // after the 5-byte mov eax, imm32
    m.cpu.writeDebugRegister(0, bpAddr);
    m.cpu.writeDebugRegister(7, 1);
    const stop = m.runAt(0, code);
    expect(m.of(1).length).toBe(1);
    expect(m.of(1)[0].eip).toBe(bpAddr);
    expect(stop).toEqual({ kind: 'exited', status: 3 });
    expect(m.cpu.getEflags() & RF).toBe(0);
  });
});
