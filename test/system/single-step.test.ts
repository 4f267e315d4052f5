/**
 * EFLAGS.TF single-stepping (Intel SDM Vol. 3 §17.3.1.4, §6.8.3, §6.12.1.2;
 * Vol. 2 POPF, IRET, MOV, INT n): the #DB trap follows every instruction
 * that began with TF set, with DR6.BS set; an instruction that sets TF
 * (POPF, IRET) is not followed by a trap, the next one is; MOV SS / POP SS
 * hold the trap off for one instruction; INT n, INT3, INTO and INT1 take no
 * trap of their own and clear TF so the handler runs unstepped, and its IRET
 * restores TF; a REP string instruction traps
 * after every iteration; an instruction that faults is not followed by one.
 *
 * The #DB handler is native: it records the delivery, clears DR6 as a
 * debugger would, and IRETs.
 */
import { describe, expect, it } from 'vitest';
import { interruptGate } from '../../src/rings/descriptors.js';
import { L, SEL, SystemMachine } from './machine.js';

const DB = 1, GP = 13;
const TF = 0x100;

function stepper(): SystemMachine {
  const m = new SystemMachine();
  m.onVector(DB, (mm, d) => {
    expect(d.dr6 & 0x4000, `DR6.BS at #DB ${mm.of(DB).length}`).toBe(0x4000);
    mm.cpu.dr[6] = 0;
    mm.iret(false);
  });
  return m;
}
/** Saved EIPs of the #DB deliveries. */
const trapEips = (m: SystemMachine): number[] => m.of(DB).map((d) => d.eip);

/** Byte offsets of the instructions of `src` assembled at CODE: assembled one prefix at a time. */
function offsets(m: SystemMachine, lines: string[]): number[] {
  const labels = lines.map((l) => /^(\w+):/.exec(l)?.[1]).filter((x): x is string => !!x);
  return lines.map((_, i) => {
    if (i === 0) return L.CODE;
    const prefix = lines.slice(0, i);
    // Labels defined later are given a placeholder definition so the prefix assembles (same encodings: imm32/rel32).
    const missing = labels.filter((x) => !prefix.some((l) => l.startsWith(`${x}:`))).map((x) => `${x}:`);
    return L.CODE + m.code([...prefix, '.skip 0', ...missing].join('\n'), L.CODE3).length;
  });
}

describe('single-step traps', () => {
  it('POPF that sets TF: no trap after the POPF, one after each following instruction (EIP = the next one), DR6.BS set', () => {
    const m = stepper();
    const lines = ['pushfd', 'or dword ptr [esp], 0x100', 'popfd', 'nop', 'mov eax, 7', 'jmp EXIT'];
    const at = offsets(m, lines);
    expect(m.runAt(3, lines.join('\n'))).toEqual({ kind: 'exited', status: 7 });
    expect(trapEips(m)).toEqual([at[4], at[5], L.EXIT]);
    expect(m.of(DB)[0]).toMatchObject({ cpl: 0, savedCs: SEL.CODE3, savedSs: SEL.DATA3 });
    expect(m.of(DB)[0].savedEflags & TF).toBe(TF);
    expect(m.of(DB)[0].eflags & TF).toBe(0);
  });
  it('POPF that clears TF is itself followed by a trap (it began with TF set), then none', () => {
    const m = stepper();
    const lines = ['pushfd', 'and dword ptr [esp], ~0x100', 'popfd', 'nop', 'mov eax, 1', 'jmp EXIT'];
    const at = offsets(m, lines);
    expect(m.runAt(3, lines.join('\n'), { eflags: 0x202 | TF })).toEqual({ kind: 'exited', status: 1 });
    expect(trapEips(m)).toEqual([at[1], at[2], at[3]]);
  });
  it('IRET that sets TF: the trap comes after the instruction at the return address', () => {
    const m = stepper();
    const lines = [`push 0x302`, `push ${SEL.CODE0}`, 'push offset t', 'iretd', 't: nop', 'mov eax, 2', 'jmp EXIT'];
    const at = offsets(m, lines);
    expect(m.runAt(0, lines.join('\n'))).toEqual({ kind: 'exited', status: 2 });
    expect(trapEips(m)).toEqual([at[5], at[6], L.EXIT]);
  });
  it('MOV SS and POP SS suppress the trap after themselves: the next instruction and the load share one #DB', () => {
    const m = stepper();
    const lines = ['nop', 'mov ax, ss', 'mov ss, ax', 'nop', 'push ss', 'pop ss', 'inc eax', 'mov eax, 3', 'jmp EXIT'];
    const at = offsets(m, lines);
    expect(m.runAt(3, lines.join('\n'), { eflags: 0x202 | TF })).toEqual({ kind: 'exited', status: 3 });
    expect(trapEips(m)).toEqual([at[1], at[2], /* none at at[3] */ at[4], at[5], /* none at at[6] */ at[7], at[8], L.EXIT]);
  });
  // SDM Vol. 3 §17.3.1.4 and §6.12.1.2: INT n, INT3 and INTO clear TF on entry to the handler and take no
  // single-step trap themselves; the handler runs unstepped, its IRET restores TF (and, like POPF, takes no
  // trap itself), so the next trap follows the first instruction after the return.
  const softwareInterrupts: [string, number, string[]][] = [
    ['INT n', 0x40, ['int 0x40']],
    ['int $0x80', 0x80, ['int 0x80']],
    ['INT3', 3, ['int3']],
    ['INTO (OF set)', 4, ['mov al, 0x7f', 'add al, 1', 'into']],
  ];
  for (const [name, vector, intro] of softwareInterrupts) {
    it(`${name} from CPL 3: no #DB at the handler's first instruction, the handler runs with TF clear, the trap comes after the instruction following the IRET`, () => {
      const m = stepper();
      m.setIdt(vector, interruptGate({ selector: SEL.CODE0, offset: L.CODE2, dpl: 3 }));
      m.code('pushfd\npop dword ptr [DATA]\ninc ebx\ninc ebx\niretd', L.CODE2);
      const lines = ['xor ebx, ebx', ...intro, 'nop', 'mov eax, ebx', 'jmp EXIT'];
      const at = offsets(m, lines);
      const n = intro.length;
      expect(m.runAt(3, lines.join('\n'), { eflags: 0x202 | TF })).toEqual({ kind: 'exited', status: 2 });
      // A trap after every instruction before the interrupt (the last of them, the interrupt itself, has none),
      // none inside the handler, none after its IRET, then after the nop and onwards.
      expect(trapEips(m)).toEqual([...at.slice(1, n + 1), at[n + 2], at[n + 3], L.EXIT]);
      expect(m.of(DB).every((d) => d.savedCs === SEL.CODE3)).toBe(true);
      expect(m.r32(L.DATA) & TF).toBe(0); // EFLAGS as the handler saw it
    });
  }
  it('INT1 (ICEBP) is no different: its own #DB (no BS) is the only one until the instruction after its handler returns', () => {
    const m = stepper();
    const seen: number[] = [];
    m.onVector(DB, (mm, d) => {
      seen.push(d.dr6 & 0x4000);
      mm.cpu.dr[6] = 0;
      mm.iret(false);
    });
    const lines = ['nop', 'int1', 'nop', 'mov eax, 6', 'jmp EXIT'];
    const at = offsets(m, lines);
    expect(m.runAt(0, lines.join('\n'), { eflags: 0x202 | TF })).toEqual({ kind: 'exited', status: 6 });
    // nop → BS trap; int1 → its own #DB only (EIP after it, no BS), no single-step trap at its handler; the
    // handler's IRET restores TF with no trap of its own; then one trap per instruction again.
    expect(trapEips(m)).toEqual([at[1], at[2], at[3], at[4], L.EXIT]);
    expect(seen[1]).toBe(0);
  });
  it('a REP MOVSB traps after every iteration: ECX goes down by one per #DB, EIP stays on it until the last', () => {
    const m = stepper();
    const ecx: number[] = [];
    m.onVector(DB, (mm) => {
      ecx.push(mm.cpu.regs[1]);
      mm.iret(false);
    });
    const lines = [`mov esi, ${L.DATA}`, `mov edi, ${L.DATA + 0x100}`, 'mov ecx, 4', 'rep movsb', 'mov eax, ecx', 'jmp EXIT'];
    const at = offsets(m, lines);
    m.w32(L.DATA, 0x44332211);
    expect(m.runAt(3, lines.join('\n'), { eflags: 0x202 | TF })).toEqual({ kind: 'exited', status: 0 });
    expect(trapEips(m)).toEqual([at[1], at[2], at[3], at[3], at[3], at[3], at[4], at[5], L.EXIT]);
    // After mov esi, mov edi, mov ecx (4), then one #DB per iteration (3, 2, 1, 0), then mov eax and jmp.
    expect(ecx).toEqual([0, 0, 4, 3, 2, 1, 0, 0, 0]);
    expect(m.r32(L.DATA + 0x100)).toBe(0x44332211);
  });
  it('a REP with ECX = 0 is one instruction and one trap', () => {
    const m = stepper();
    const lines = ['xor ecx, ecx', 'rep stosd', 'mov eax, 9', 'jmp EXIT'];
    const at = offsets(m, lines);
    expect(m.runAt(3, lines.join('\n'), { eflags: 0x202 | TF })).toEqual({ kind: 'exited', status: 9 });
    expect(trapEips(m)).toEqual([at[1], at[2], at[3], L.EXIT]);
  });
  it('an instruction that faults gets no single-step trap: the fault is delivered instead', () => {
    const m = stepper();
    const lines = ['nop', 'cli'];
    const at = offsets(m, lines);
    expect(m.runAt(3, lines.join('\n'), { eflags: 0x202 | TF })).toMatchObject({ kind: 'fault', vector: GP, eip: at[1] });
    expect(m.events.map((e) => e.vector)).toEqual([DB, GP]);
    expect(m.of(GP)[0].savedEflags & TF).toBe(TF);
    expect(m.of(GP)[0].eflags & TF).toBe(0);
  });
  it('far transfers trap at their target', () => {
    const m = stepper();
    m.code('mov eax, 4\njmp EXIT', L.CODE2);
    const lines = [`jmp ${SEL.CODE3}:CODE2`];
    expect(m.runAt(3, lines.join('\n'), { eflags: 0x202 | TF })).toEqual({ kind: 'exited', status: 4 });
    expect(trapEips(m)).toEqual([L.CODE2, L.CODE2 + 5, L.EXIT]);
  });
});
