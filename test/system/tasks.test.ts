/**
 * Hardware task switches (Intel SDM Vol. 3 chapter 7): JMP and CALL to a TSS
 * and through task gates in the GDT and LDT, interrupts and exceptions
 * through task gates in the IDT (#DF on a bad stack switching to a
 * known-good task, as i386 Linux did), IRET with NT back along the link, the
 * busy bits, the old task's saved state, CR3/LDTR/segment loading with the
 * checks of Table 7-1 and their error codes, CR0.TS, the error code on the
 * new task's stack, TF of the new task and the TSS T bit (#DB with DR6.BT).
 */
import { describe, expect, it } from 'vitest';
import { CS, DS, ES, FS, SS } from '../../src/cpu/instr.js';
import { codeSegment, dataSegment, ldtDescriptor, selector, taskGate, tss32Image, tssDescriptor, TSS32, type Tss32Options } from '../../src/rings/descriptors.js';
import { GDT_INDEX, L, SEL, SystemMachine } from './machine.js';

const DB = 1, UD_VEC = 6, DF = 8, TS = 10, NP = 11, SSF = 12, GP = 13;
const NT = 0x4000, TF = 0x100, BUSY = 0x200;
/** Two more TSSs (A, B), a task gate, the tasks' stacks and a second LDT. */
const TSS_A = 0x40000, TSS_B = 0x40200;
const IDX_A = GDT_INDEX.FREE, IDX_B = GDT_INDEX.FREE + 1, IDX_GATE = GDT_INDEX.FREE + 2, IDX_LDT2 = GDT_INDEX.FREE + 3, IDX_SPARE = GDT_INDEX.FREE + 4;
const SEL_A = selector(IDX_A), SEL_B = selector(IDX_B), SEL_GATE = selector(IDX_GATE), SEL_LDT2 = selector(IDX_LDT2);
const STACK_A = 0x51000, STACK_B = 0x53000;
const LDT2 = 0x41000;

/** A ring-0 task at `eip` with the flat ring-0 segments, its own stack, the given extras. */
function task(m: SystemMachine, base: number, index: number, o: Tss32Options & { busy?: boolean; limit?: number; dpl?: number; present?: boolean } = {}): void {
  const img = tss32Image({
    cs: SEL.CODE0, ss: SEL.DATA0, ds: SEL.DATA0, es: SEL.DATA0, fs: SEL.DATA0, gs: SEL.DATA0,
    esp: STACK_A, eflags: 0x2, cr3: L.PD, ldt: SEL.LDT,
    ...o,
  });
  m.writeBytes(base, img);
  m.setGdt(index, tssDescriptor(base, o.limit ?? 0x67, { busy: o.busy, dpl: o.dpl, present: o.present }));
}
const busy = (m: SystemMachine, index: number): boolean => (m.gdtWords(index)[1] & BUSY) !== 0;
const field = (m: SystemMachine, base: number, f: number): number => m.r32(base + f);

describe('JMP to a TSS', () => {
  it('saves the old task (EIP after the JMP, registers, selectors, EFLAGS), moves the busy bit, loads the new task; no back link, no NT; CR0.TS set', () => {
    const m = new SystemMachine();
    task(m, TSS_A, IDX_A, { eip: L.CODE2, eax: 0x1111, ebx: 0x2222, esi: 0x3333, esp: STACK_A - 16, eflags: 0x2 | 0x1 /* CF */, link: 0x5555 });
    m.code('mov edx, eax\nstr eax\nmov [DATA], eax\nmov eax, edx\njmp EXIT', L.CODE2);
    m.cpu.cr0 &= ~8;
    const src = ['mov eax, 0xaaaa', 'mov ecx, 0xcccc', 'mov ebp, 0xbbbb', 'stc', `jmp ${SEL_A}:0`, 'jmp EXIT'];
    expect(m.runAt(0, src.join('\n'))).toEqual({ kind: 'exited', status: 0x1111 });
    expect(m.r32(L.DATA) & 0xffff).toBe(SEL_A);
    expect(m.cpu.regs[3]).toBe(0x2222);
    expect(m.cpu.regs[6]).toBe(0x3333);
    expect(m.cpu.getEflags() & (NT | 1)).toBe(1);
    expect(busy(m, IDX_A)).toBe(true);
    expect(busy(m, GDT_INDEX.TSS)).toBe(false);
    expect(m.cpu.cr0 & 8).toBe(8);
    // The old TSS holds the old task's state, EIP at the instruction after the JMP.
    expect(field(m, L.TSS, TSS32.EIP)).toBe(L.CODE + 5 + 5 + 5 + 1 + 7);
    expect(field(m, L.TSS, TSS32.EAX)).toBe(0xaaaa);
    expect(field(m, L.TSS, TSS32.ECX)).toBe(0xcccc);
    expect(field(m, L.TSS, TSS32.EBP)).toBe(0xbbbb);
    expect(field(m, L.TSS, TSS32.ESP)).toBe(L.STACK0);
    expect(field(m, L.TSS, TSS32.EFLAGS) & 0xffff).toBe(0x203);
    expect(field(m, L.TSS, TSS32.CS) & 0xffff).toBe(SEL.CODE0);
    expect(field(m, L.TSS, TSS32.SS) & 0xffff).toBe(SEL.DATA0);
    expect(field(m, L.TSS, TSS32.DS) & 0xffff).toBe(SEL.DATA0);
    expect(field(m, TSS_A, TSS32.LINK) & 0xffff).toBe(0x5555); // untouched
  });
  it('JMP back to the first task resumes it after its JMP', () => {
    const m = new SystemMachine();
    task(m, TSS_A, IDX_A, { eip: L.CODE2 });
    m.code(`mov ebx, 7\njmp ${SEL.TSS}:0`, L.CODE2);
    expect(m.runAt(0, `mov eax, 5\njmp ${SEL_A}:0\nadd eax, 1\njmp EXIT`)).toEqual({ kind: 'exited', status: 6 });
    expect(m.cpu.tr).toBe(SEL.TSS);
    expect(m.cpu.regs[3]).toBe(0); // the first task's EBX, restored
    expect(busy(m, IDX_A)).toBe(false);
    expect(busy(m, GDT_INDEX.TSS)).toBe(true);
    expect(field(m, TSS_A, TSS32.EBX)).toBe(7);
  });
  const refused: [string, (m: SystemMachine) => void, number, string, number, number][] = [
    ['a busy TSS', (m) => task(m, TSS_A, IDX_A, { busy: true }), SEL_A, '#GP', GP, SEL_A],
    ['a TSS of DPL 0 from CPL 3', (m) => task(m, TSS_A, IDX_A, {}), selector(IDX_A, 3), '#GP', GP, SEL_A],
    ['a TSS of DPL 3 with RPL 3 from CPL 3 — allowed, but a not-present one', (m) => task(m, TSS_A, IDX_A, { dpl: 3, present: false }), selector(IDX_A, 3), '#NP', NP, SEL_A],
    ['a TSS with limit 0x66', (m) => task(m, TSS_A, IDX_A, { limit: 0x66 }), SEL_A, '#TS', TS, SEL_A],
    ['a task gate naming a busy TSS', (m) => { task(m, TSS_A, IDX_A, { busy: true }); m.setGdt(IDX_GATE, taskGate({ tssSelector: SEL_A })); }, SEL_GATE, '#GP', GP, SEL_A],
    ['a task gate naming a code segment', (m) => { m.setGdt(IDX_GATE, taskGate({ tssSelector: SEL.CODE0 })); }, SEL_GATE, '#GP', GP, SEL.CODE0],
    ['a task gate naming an LDT selector', (m) => { m.setGdt(IDX_GATE, taskGate({ tssSelector: SEL_A | 4 })); }, SEL_GATE, '#GP', GP, SEL_A | 4],
    ['a not-present task gate', (m) => { task(m, TSS_A, IDX_A); m.setGdt(IDX_GATE, taskGate({ tssSelector: SEL_A, present: false })); }, SEL_GATE, '#NP', NP, SEL_GATE],
    ['a task gate naming a not-present TSS', (m) => { task(m, TSS_A, IDX_A, { present: false }); m.setGdt(IDX_GATE, taskGate({ tssSelector: SEL_A })); }, SEL_GATE, '#NP', NP, SEL_A],
  ];
  for (const [name, setup, target, vname, vector, err] of refused) {
    it(`${name} → ${vname}(0x${err.toString(16)}) at the JMP, in the old task, nothing changed`, () => {
      const m = new SystemMachine();
      setup(m);
      const cpl = target & 3;
      expect(m.runAt(cpl, `nop\njmp ${target}:0`)).toMatchObject({ kind: 'fault', vector, errorCode: err, eip: L.CODE + 1 });
      expect(m.cpu.tr).toBe(SEL.TSS);
      expect(busy(m, GDT_INDEX.TSS)).toBe(true);
      expect(field(m, L.TSS, TSS32.EIP)).toBe(0);
    });
  }
});

describe('CALL to a TSS and IRET back (nested tasks)', () => {
  it('CALL: back link = old TR, NT set in the new task, the old TSS stays busy; IRET: back to the instruction after the CALL, new TSS not busy, NT clear in the saved image', () => {
    const m = new SystemMachine();
    task(m, TSS_A, IDX_A, { eip: L.CODE2 });
    m.code(['pushfd', 'pop eax', 'mov [DATA], eax', 'str eax', 'mov [DATA+4], eax', 'mov ebx, 0x77', 'iretd', 'jmp EXIT'].join('\n'), L.CODE2);
    const src = ['mov ebx, 1', `call ${SEL_A}:0`, 'mov eax, ebx', 'jmp EXIT'];
    m.code(src.join('\n'));
    m.enter(0, L.CODE);
    expect(m.run()).toEqual({ kind: 'exited', status: 1 });
    const busyAfter = [busy(m, GDT_INDEX.TSS), busy(m, IDX_A)];
    expect(m.r32(L.DATA) & NT).toBe(NT);
    expect(m.r32(L.DATA + 4) & 0xffff).toBe(SEL_A);
    expect(field(m, TSS_A, TSS32.LINK) & 0xffff).toBe(SEL.TSS);
    expect(busyAfter).toEqual([true, false]);
    // The nested task's state was saved by the IRET: EIP after the IRET, EBX = 0x77, NT cleared in the image.
    expect(field(m, TSS_A, TSS32.EBX)).toBe(0x77);
    expect(field(m, TSS_A, TSS32.EFLAGS) & NT).toBe(0);
    expect(field(m, TSS_A, TSS32.EIP)).toBe(L.CODE2 + 1 + 1 + 5 + 3 + 5 + 5 + 1);
    expect(m.cpu.getEflags() & NT).toBe(0);
    expect(m.cpu.tr).toBe(SEL.TSS);
  });
  it('CALL through a task gate in the LDT, to a task with its own LDT, CR3 and DPL-3 code: LDTR, CR3 and CPL come from the TSS', () => {
    const m = new SystemMachine({ paging: true });
    // A second page directory that maps DATA+0x1000 onto DATA's frame; the rest as the first one.
    const PD2 = 0x102000;
    for (let i = 0; i < 1024; i++) m.w32(PD2 + i * 4, m.r32(L.PD + i * 4));
    const PT2 = 0x103000;
    for (let i = 0; i < 1024; i++) m.w32(PT2 + i * 4, m.r32(L.PT + i * 4));
    m.w32(PT2 + ((L.DATA + 0x1000) >>> 12) * 4, L.DATA | 7);
    m.w32(PD2, PT2 | 7);
    m.setGdt(IDX_LDT2, ldtDescriptor(LDT2, 0x7f));
    m.w32(LDT2 + 8, codeSegment({ dpl: 3 })[0]); m.w32(LDT2 + 12, codeSegment({ dpl: 3 })[1]);
    m.w32(LDT2 + 16, dataSegment({ dpl: 3 })[0]); m.w32(LDT2 + 20, dataSegment({ dpl: 3 })[1]);
    const cs3 = selector(1, 3, true), ds3 = selector(2, 3, true);
    task(m, TSS_A, IDX_A, { eip: L.CODE2, cr3: PD2, ldt: SEL_LDT2, cs: cs3, ss: ds3, ds: ds3, es: ds3, fs: 0, gs: 0, esp: STACK_B });
    m.setLdt(3, taskGate({ tssSelector: SEL_A, dpl: 0 }));
    m.w32(L.DATA, 0xfeed);
    m.code('mov eax, [DATA+0x1000]\nmov ebx, cs\nsldt ecx\njmp EXIT', L.CODE2);
    expect(m.runAt(0, `call ${selector(3, 0, true)}:0`)).toEqual({ kind: 'exited', status: 0xfeed });
    expect(m.cpu.regs[3]).toBe(cs3);
    expect(m.cpu.cpl).toBe(3);
    expect(m.cpu.cr3).toBe(PD2);
    expect(m.cpu.ldtr).toBe(SEL_LDT2);
    expect(m.cpu.segSel[SS]).toBe(ds3);
    expect(m.cpu.segSel[ES]).toBe(ds3);
  });
  it('the TLB is flushed by the CR3 load (but for global pages)', () => {
    const m = new SystemMachine({ paging: true });
    m.cpu.writeControlRegister(4, 0x80); // PGE
    const PD2 = 0x102000, PT2 = 0x103000;
    for (let i = 0; i < 1024; i++) m.w32(PD2 + i * 4, m.r32(L.PD + i * 4));
    for (let i = 0; i < 1024; i++) m.w32(PT2 + i * 4, m.r32(L.PT + i * 4));
    m.w32(PD2, PT2 | 7);
    // In PD2, DATA+0x1000 → DATA's frame and DATA+0x2000 → DATA's frame too; in PD, DATA+0x2000 is global.
    m.w32(PT2 + ((L.DATA + 0x1000) >>> 12) * 4, L.DATA | 7);
    m.w32(PT2 + ((L.DATA + 0x2000) >>> 12) * 4, L.DATA | 7);
    m.setPte(L.DATA + 0x2000, (L.DATA + 0x2000) | 7 | 0x100);
    m.w32(L.DATA, 0x1234);
    task(m, TSS_A, IDX_A, { eip: L.CODE2, cr3: PD2 });
    m.code('mov eax, [DATA+0x1000]\nmov ebx, [DATA+0x2000]\njmp EXIT', L.CODE2);
    // The old task touches both pages first, caching their translations.
    expect(m.runAt(0, `mov eax, [DATA+0x1000]\nmov eax, [DATA+0x2000]\njmp ${SEL_A}:0`)).toEqual({ kind: 'exited', status: 0x1234 });
    expect(m.cpu.regs[3]).toBe(0); // the global translation survived the switch: still the old frame (zero)
  });
  it('IRET with NT whose back link is not a busy TSS → #TS(link), in the current task', () => {
    const m = new SystemMachine();
    task(m, TSS_A, IDX_A, {});
    m.setTss(TSS32.LINK, SEL_A);
    expect(m.runAt(0, 'pushfd\nor dword ptr [esp], 0x4000\npopfd\niretd')).toMatchObject({ kind: 'fault', vector: TS, errorCode: SEL_A, eip: L.CODE + 9 });
    expect(m.cpu.tr).toBe(SEL.TSS);
  });
  it('a CALL to a task whose TF is set: no trap after the CALL, one after the new task\'s first instruction', () => {
    const m = new SystemMachine();
    m.onVector(DB, 'iret');
    task(m, TSS_A, IDX_A, { eip: L.CODE2, eflags: 0x2 | TF });
    m.code('nop\nmov eax, 3\njmp EXIT', L.CODE2);
    expect(m.runAt(0, `call ${SEL_A}:0`, { eflags: 0x202 | TF })).toEqual({ kind: 'exited', status: 3 });
    expect(m.of(DB).map((d) => d.eip)).toEqual([L.CODE2 + 1, L.CODE2 + 6, L.EXIT]);
  });
  it('the T bit: #DB with DR6.BT before the new task\'s first instruction, DR7 L0–L3 cleared', () => {
    const m = new SystemMachine();
    m.onVector(DB, 'iret');
    task(m, TSS_A, IDX_A, { eip: L.CODE2, trap: true });
    m.code('mov eax, 4\njmp EXIT', L.CODE2);
    m.cpu.writeDebugRegister(0, 0x7fff0000);
    m.cpu.writeDebugRegister(7, 0x3 | 0x30000);
    expect(m.runAt(0, `jmp ${SEL_A}:0`)).toEqual({ kind: 'exited', status: 4 });
    expect(m.of(DB)).toHaveLength(1);
    expect(m.of(DB)[0]).toMatchObject({ eip: L.CODE2, savedCs: SEL.CODE0 });
    expect(m.of(DB)[0].dr6).toBe(0xffff8ff0);
    expect(m.cpu.dr[7] >>> 0).toBe(0x30402); // L0 cleared, G0 kept
  });
});

describe('interrupts and exceptions through task gates', () => {
  it('a #DB handler task with its T bit set would make the processor loop (SDM §17.3.1.5): kmemsim stops with a message', () => {
    const m = new SystemMachine();
    task(m, TSS_A, IDX_A, { eip: L.CODE2, trap: true });
    task(m, TSS_B, IDX_B, { eip: L.CODE3, trap: true, esp: STACK_B });
    m.setIdt(DB, taskGate({ tssSelector: SEL_B }));
    expect(m.runAt(0, `jmp ${SEL_A}:0`)).toMatchObject({ kind: 'unsupported', message: expect.stringContaining('loop') });
    expect(m.cpu.tr).toBe(SEL_B);
  });
  it('a single-stepped task: an interrupt through a task gate takes no trap of its own; the handler task runs with its own TF (clear)', () => {
    const m = new SystemMachine();
    m.onVector(DB, 'iret');
    task(m, TSS_A, IDX_A, { eip: L.CODE2 });
    m.setIdt(0x40, taskGate({ tssSelector: SEL_A, dpl: 3 }));
    m.code('inc ebx\niretd', L.CODE2);
    expect(m.runAt(3, 'int 0x40\nnop\nmov eax, 8\njmp EXIT', { eflags: 0x202 | TF })).toEqual({ kind: 'exited', status: 8 });
    // int 0x40 (2 bytes): none; the handler task: none; its IRET restores the user task's EFLAGS with TF:
    // the nop runs, then a trap after it and after each instruction that follows.
    expect(m.of(DB).map((d) => d.eip)).toEqual([L.CODE + 3, L.CODE + 8, L.EXIT]);
  });
  it('INT n from CPL 3 through a DPL-3 task gate: the handler task runs nested; its IRET resumes the user task after the INT', () => {
    const m = new SystemMachine();
    task(m, TSS_A, IDX_A, { eip: L.CODE2 });
    m.setIdt(0x40, taskGate({ tssSelector: SEL_A, dpl: 3 }));
    m.code('mov ebx, [DATA+0x10]\ninc ebx\nmov [DATA+0x10], ebx\niretd\njmp CODE2', L.CODE2);
    expect(m.runAt(3, 'mov eax, 9\nint 0x40\nint 0x40\nmov eax, [DATA+0x10]\njmp EXIT')).toEqual({ kind: 'exited', status: 2 });
    expect(m.cpu.cpl).toBe(3);
    expect(m.cpu.segSel[CS]).toBe(SEL.CODE3);
    // The second INT entered the handler task where its IRET had left it: at the jmp CODE2 after the IRET.
    expect(field(m, TSS_A, TSS32.EIP)).toBe(L.CODE2 + 6 + 1 + 6 + 1);
  });
  it('INT n through a DPL-0 task gate from CPL 3 → #GP(vector*8+2), no switch', () => {
    const m = new SystemMachine();
    task(m, TSS_A, IDX_A, { eip: L.CODE2 });
    m.setIdt(0x40, taskGate({ tssSelector: SEL_A, dpl: 0 }));
    expect(m.runAt(3, 'int 0x40')).toMatchObject({ kind: 'fault', vector: GP, errorCode: 0x40 * 8 + 2, eip: L.CODE });
    expect(m.cpu.tr).toBe(SEL.TSS);
  });
  it('#GP through a task gate: the faulting EIP and RF saved in the old TSS, the error code pushed on the new task\'s stack', () => {
    const m = new SystemMachine();
    task(m, TSS_A, IDX_A, { eip: L.CODE2, esp: STACK_A });
    m.setIdt(GP, taskGate({ tssSelector: SEL_A }));
    m.code('pop eax\njmp EXIT', L.CODE2);
    expect(m.runAt(0, `mov eax, ${SEL_B}\nmov ds, ax`)).toEqual({ kind: 'exited', status: SEL_B });
    expect(m.cpu.regs[4]).toBe(STACK_A);
    expect(field(m, L.TSS, TSS32.EIP)).toBe(L.CODE + 5);
    expect(field(m, L.TSS, TSS32.EFLAGS) & 0x10000).toBe(0x10000);
    expect(m.cpu.getEflags() & NT).toBe(NT);
  });
  it('an exception through a task gate to a task with T set: the error code is pushed first, then the #DB frame (DR6.BT) above it', () => {
    const m = new SystemMachine();
    m.onVector(DB, 'iret');
    task(m, TSS_A, IDX_A, { eip: L.CODE2, esp: STACK_A, trap: true });
    m.setIdt(GP, taskGate({ tssSelector: SEL_A }));
    m.code('pop eax\njmp EXIT', L.CODE2);
    expect(m.runAt(0, `mov eax, ${SEL_B}\nmov ds, ax`)).toEqual({ kind: 'exited', status: SEL_B });
    const db = m.of(DB)[0];
    expect(db.dr6 & 0x8000).toBe(0x8000);
    expect(db.frame.slice(0, 4)).toEqual([L.CODE2, SEL.CODE0, db.savedEflags, SEL_B]);
    expect(db.esp).toBe(STACK_A - 16);
  });
  it('#DF on a bad stack switches to a known-good task (i386 Linux\'s doublefault_fn): the old task\'s ESP, EIP and CR2 are there to read', () => {
    const m = new SystemMachine({ paging: true });
    const BAD = 0x60000;
    m.setPte(BAD - 0x1000, 0); // the page below BAD is not present
    task(m, TSS_A, IDX_A, { eip: L.CODE2, esp: STACK_A });
    m.setIdt(DF, taskGate({ tssSelector: SEL_A }));
    // The #DF task: pop the error code, then read the old task's state through the back link, as doublefault_fn does.
    m.code(['pop eax', 'mov [DATA], eax', 'str eax', 'mov [DATA+4], eax', `mov eax, [${L.TSS + TSS32.ESP}]`, 'mov [DATA+8], eax',
      `mov eax, [${L.TSS + TSS32.EIP}]`, 'mov [DATA+12], eax', 'mov eax, cr2', 'jmp EXIT'].join('\n'), L.CODE2);
    expect(m.runAt(0, `mov esp, ${BAD}\npush 1`)).toEqual({ kind: 'exited', status: BAD - 4 });
    expect(m.r32(L.DATA)).toBe(0);
    expect(m.r32(L.DATA + 4) & 0xffff).toBe(SEL_A);
    expect(m.r32(L.DATA + 8)).toBe(BAD);
    expect(m.r32(L.DATA + 12)).toBe(L.CODE + 5);
    expect(field(m, TSS_A, TSS32.LINK) & 0xffff).toBe(SEL.TSS);
    expect(busy(m, GDT_INDEX.TSS)).toBe(true);
    expect(m.events).toHaveLength(0); // no handler of the harness ran: #PF → #PF → #DF, straight to the task
  });
  it('an error code raised while delivering an exception carries EXT: #TS(SS | 1) from a task-gate #UD to a task with a bad SS', () => {
    const m = new SystemMachine();
    task(m, TSS_A, IDX_A, { eip: L.CODE2, ss: SEL.DATA3 });
    m.setIdt(UD_VEC, taskGate({ tssSelector: SEL_A }));
    m.runAt(0, 'ud2');
    // #UD is delivered through the task gate; the new task's SS (DPL 3 at CPL 0) fails the check after the commit
    // point: #TS(SS | EXT), a contributory fault while delivering a benign one, delivered in the new task.
    expect(m.events[0]).toMatchObject({ vector: TS, errorCode: (SEL.DATA3 & 0xfffc) | 1, eip: L.CODE2 });
    expect(m.cpu.tr).toBe(SEL_A);
  });
});

/**
 * As the SDM advises (§6.15, #TS), the handlers of faults raised by a task switch are tasks of their own:
 * #TS, #NP and #SS go through task gates to task B, which pops the error code into EAX and exits.
 */
function faultTasks(m: SystemMachine): void {
  task(m, TSS_B, IDX_B, { eip: L.CODE3, esp: STACK_B });
  m.code('pop eax\njmp EXIT', L.CODE3);
  for (const v of [TS, NP, SSF]) m.setIdt(v, taskGate({ tssSelector: SEL_B }));
}

describe('the checks of SDM Table 7-1 after the commit point: delivered in the new task, at its EIP', () => {
  const cases: [string, Tss32Options, (m: SystemMachine) => void, number, number][] = [
    ['the LDT selector is an LDT selector (TI = 1)', { ldt: SEL.LDT | 4 }, () => {}, TS, SEL.LDT | 4],
    ['the LDT selector names a data segment', { ldt: SEL.DATA0 }, () => {}, TS, SEL.DATA0],
    ['CS DPL does not match its RPL (DPL 0, RPL 3)', { cs: SEL.CODE0 | 3, ss: SEL.DATA3 }, () => {}, TS, SEL.CODE0],
    ['SS is null', { ss: 0 }, () => {}, TS, 0],
    ['SS is a read-only data segment', { ss: selector(IDX_SPARE) }, (m) => m.setGdt(IDX_SPARE, dataSegment({ writable: false })), TS, selector(IDX_SPARE)],
    ['SS is not present', { ss: selector(IDX_SPARE) }, (m) => m.setGdt(IDX_SPARE, dataSegment({ present: false })), SSF, selector(IDX_SPARE)],
    ['SS DPL is not CPL', { ss: SEL.DATA1 }, () => {}, TS, SEL.DATA1 & 0xfffc],
    ['the LDT is not present (checked after SS)', { ldt: selector(IDX_SPARE) }, (m) => m.setGdt(IDX_SPARE, ldtDescriptor(LDT2, 0x7f, { present: false })), TS, selector(IDX_SPARE)],
    ['CS is a data segment', { cs: SEL.DATA0 }, () => {}, TS, SEL.DATA0],
    ['CS is not present', { cs: selector(IDX_SPARE) }, (m) => m.setGdt(IDX_SPARE, codeSegment({ present: false })), NP, selector(IDX_SPARE)],
    ['SS RPL is not its DPL', { cs: SEL.CODE1, ss: SEL.DATA1 & 0xfffc }, () => {}, TS, SEL.DATA1 & 0xfffc],
    ['DS is beyond the GDT', { ds: selector(0x3f0) }, () => {}, TS, selector(0x3f0)],
    ['DS is execute-only code', { ds: selector(IDX_SPARE) }, (m) => m.setGdt(IDX_SPARE, codeSegment({ readable: false })), TS, selector(IDX_SPARE)],
    ['ES is not present', { es: selector(IDX_SPARE) }, (m) => m.setGdt(IDX_SPARE, dataSegment({ present: false })), NP, selector(IDX_SPARE)],
    ['FS has DPL 0 in a CPL-3 task', { cs: SEL.CODE3, ss: SEL.DATA3, ds: SEL.DATA3, es: SEL.DATA3, fs: SEL.DATA0, gs: 0 }, () => {}, TS, SEL.DATA0],
  ];
  for (const [name, o, setup, vector, err] of cases) {
    it(`${name} → ${vector === TS ? '#TS' : vector === NP ? '#NP' : '#SS'}(0x${err.toString(16)})`, () => {
      const m = new SystemMachine();
      setup(m);
      faultTasks(m);
      task(m, TSS_A, IDX_A, { eip: L.CODE2, ...o });
      expect(m.runAt(0, `jmp ${SEL_A}:0`)).toEqual({ kind: 'exited', status: err });
      // The fault was raised in task A: its state, EIP at its first instruction, is saved in its TSS; B is nested in A.
      expect(m.cpu.tr).toBe(SEL_B);
      expect(field(m, TSS_B, TSS32.LINK) & 0xffff).toBe(SEL_A);
      expect(field(m, TSS_A, TSS32.EIP)).toBe(L.CODE2);
      expect(busy(m, IDX_A)).toBe(true);
      expect(busy(m, GDT_INDEX.TSS)).toBe(false);
      // ... and the first task was left by its JMP, EIP after it.
      expect(field(m, L.TSS, TSS32.EIP)).toBe(L.CODE + 7);
      expect(m.of(vector)).toHaveLength(0);
    });
  }
  it('the order: the CS DPL/RPL check comes before the SS checks, the SS checks before CS validity', () => {
    const m = new SystemMachine();
    faultTasks(m);
    task(m, TSS_A, IDX_A, { eip: L.CODE2, cs: SEL.DATA0, ss: 0 });
    expect(m.runAt(0, `jmp ${SEL_A}:0`)).toEqual({ kind: 'exited', status: 0 });
    const n = new SystemMachine();
    faultTasks(n);
    task(n, TSS_A, IDX_A, { eip: L.CODE2, cs: SEL.CODE0 | 3, ss: 0 });
    expect(n.runAt(0, `jmp ${SEL_A}:0`)).toEqual({ kind: 'exited', status: SEL.CODE0 });
  });
  it('without a task gate the fault is delivered through the IDT in the new task, its segments loaded unchecked', () => {
    const m = new SystemMachine();
    task(m, TSS_A, IDX_A, { eip: L.CODE2, ds: selector(IDX_SPARE) });
    m.setGdt(IDX_SPARE, dataSegment({ present: false }));
    expect(m.runAt(0, `jmp ${SEL_A}:0`)).toMatchObject({ kind: 'fault', vector: NP, errorCode: selector(IDX_SPARE), eip: L.CODE2 });
    expect(m.cpu.segSel[DS]).toBe(selector(IDX_SPARE));
    expect(m.cpu.segSel[FS]).toBe(SEL.DATA0);
    expect(m.cpu.segAttr[FS]).not.toBe(0);
  });
  it('an EIP beyond the new CS limit → #GP(0) in the new task', () => {
    const m = new SystemMachine();
    m.setGdt(IDX_SPARE, codeSegment({ limit: 0xfff }));
    task(m, TSS_A, IDX_A, { eip: L.CODE2, cs: selector(IDX_SPARE) });
    expect(m.runAt(0, `jmp ${SEL_A}:0`)).toMatchObject({ kind: 'fault', vector: GP, errorCode: 0, eip: L.CODE2 });
  });
  it('16-bit TSSs are not modelled: a clear stop', () => {
    const m = new SystemMachine();
    m.setGdt(IDX_A, tssDescriptor(TSS_A, 0x2b, { is32: false }));
    expect(m.runAt(0, `jmp ${SEL_A}:0`)).toMatchObject({ kind: 'unsupported', message: expect.stringContaining('16-bit TSS') });
  });
});
