/**
 * Single-stepping is exact (Intel SDM Vol. 3 §17.3.1.4): random
 * straight-line user-mode (CPL 3) instruction sequences, run once freely and
 * once with EFLAGS.TF set through a #DB handler that counts and IRETs, end
 * in the same architectural state (registers, EFLAGS except TF, segment
 * registers, the data buffer and the user stack), and the stepped run takes
 * exactly one #DB per instruction — one per iteration of a REP string
 * instruction (one for a REP with ECX = 0), none after a MOV SS / POP SS
 * (its trap is taken after the next instruction) — each with DR6.BS set
 * and the saved EIP of the next instruction to run.
 *
 * Instructions come from a fixed list of templates (Intel syntax), each line
 * assembled once with test/helpers/asm.ts (cached) so that a program is a
 * concatenation of known encodings with known lengths; EBX points at the
 * data buffer and is never written. Left out on purpose: PUSHF (it would
 * store TF), RDTSC (counts retired instructions, which differ by design),
 * branches (the sequences are straight-line), CPUID (writes EBX).
 *
 * KMEMSIM_STEP_RUNS sets the number of programs (default 150).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { assemble } from '../test/helpers/asm.js';
import { DS, ES, FS, GS, SS, CS } from '../src/cpu/instr.js';
import { L, SystemMachine } from '../test/system/machine.js';

const RUNS = Math.max(1, Number(process.env.KMEMSIM_STEP_RUNS ?? 150) | 0);
const TF = 0x100;
const BUF = L.DATA;
const BUF_SIZE = 256;
const ESP_START = L.STACK3 - 0x400;

/** A line of a template: plain, a stack-segment load (no trap after it), or a REP string op with a known iteration count. */
type Kind = 'plain' | 'ss-load' | { rep: number };
interface Line { asm: string; kind: Kind }
const plain = (...asm: string[]): Line[] => asm.map((a) => ({ asm: a, kind: 'plain' as Kind }));

const TEMPLATES: Line[][] = [
  // ALU, register and immediate forms
  ...['add eax, ecx', 'sub edx, eax', 'adc esi, edi', 'sbb ebp, eax', 'and eax, 0x0ff0ff0f', 'or ecx, edx', 'xor esi, eax',
    'cmp eax, edx', 'test ecx, esi', 'inc edi', 'dec ebp', 'neg eax', 'not edx', 'imul eax, ecx', 'imul edx, esi, 12345',
    'add al, 0x7f', 'sub cx, 0x8000', 'adc dh, bl', 'xchg eax, edx', 'lea eax, [eax+ecx*2+5]', 'lea esi, [ebp+edi*8-3]',
    'cdq', 'cwde', 'cbw', 'cwd', 'movsx eax, al', 'movzx edi, dx', 'bswap esi', 'xadd eax, edx', 'cmpxchg ecx, edx',
    'mul ecx', 'imul ebp', 'clc', 'stc', 'cmc', 'cld', 'std', 'lahf', 'sahf', 'setc al', 'setg dh', 'cmovz edx, ecx',
    'cmovl eax, ebp', 'bt eax, 5', 'bts ecx, 3', 'btr edx, 31', 'btc esi, 17', 'bsf edx, eax', 'bsr ebp, ecx',
    'shl eax, 3', 'sar edx, 1', 'rol ecx, 7', 'rcr esi, 1', 'rcl edi, 9', 'shr ebp, cl', 'shld eax, edx, 5', 'shrd esi, ebp, cl',
    'daa', 'das', 'aaa', 'aas', 'aam', 'aad', 'nop', 'xlatb'].map((a) => plain(a)),
  plain('xor edx, edx', 'or ecx, 1', 'div ecx'),
  plain('mov edx, 0', 'mov ecx, 7', 'idiv ecx'),
  // memory through EBX
  ...['mov [ebx+16], eax', 'add [ebx+32], ecx', 'mov edx, [ebx+16]', 'xchg [ebx+40], esi', 'movzx eax, byte ptr [ebx+17]',
    'movsx ecx, word ptr [ebx+34]', 'inc dword ptr [ebx+64]', 'add byte ptr [ebx+3], al', 'sub word ptr [ebx+6], dx',
    'not dword ptr [ebx+12]', 'neg byte ptr [ebx+9]', 'shl dword ptr [ebx+20], 3', 'rcl word ptr [ebx+22], 1',
    'bts dword ptr [ebx+24], 7', 'cmpxchg [ebx+48], ecx', 'xadd [ebx+56], edx', 'setnz byte ptr [ebx+40]',
    'cmovl eax, [ebx+44]', 'or [ebx+100], ebp', 'sbb edi, [ebx+120]', 'imul esi, [ebx+8], -3'].map((a) => plain(a)),
  // x87 through EBX (the FPU state is compared too)
  ...['fld1', 'fldpi', 'fld dword ptr [ebx+16]', 'fild dword ptr [ebx+32]', 'fadd st, st(1)', 'fmul qword ptr [ebx+40]', 'fdivrp st(1), st',
    'fsqrt', 'fxch st(2)', 'fcomi st, st(1)', 'fucomip st, st(1)', 'fcmovb st, st(1)', 'fstp tbyte ptr [ebx+64]', 'fst qword ptr [ebx+80]',
    'fistp dword ptr [ebx+96]', 'fnstsw ax', 'fnstenv [ebx+128]', 'fldenv [ebx+128]', 'fprem', 'fxam', 'fincstp', 'ffree st(3)'].map((a) => plain(a)),
  plain('fnsave [ebx+100]', 'frstor [ebx+100]'),
  plain('fninit', 'fld1', 'fldz'),
  // stack
  ...['push eax', 'pop ecx', 'push 0x1234', 'push -5', 'pop dword ptr [ebx+28]', 'push dword ptr [ebx+8]', 'pop edx'].map((a) => plain(a)),
  plain('pushad', 'popad'),
  plain('enter 16, 0', 'leave'),
  plain('push ds', 'pop es'),
  // loads of SS: the trap is taken after the next instruction, not after the load
  [{ asm: 'mov ax, ss', kind: 'plain' }, { asm: 'mov ss, ax', kind: 'ss-load' }],
  [{ asm: 'push ss', kind: 'plain' }, { asm: 'pop ss', kind: 'ss-load' }],
  // REP string instructions with a known count: one trap per iteration
  ...[0, 1, 3, 6].flatMap((n) => [
    [...plain('cld', 'lea esi, [ebx+128]', 'lea edi, [ebx+160]', `mov ecx, ${n}`), { asm: 'rep movsb', kind: { rep: n } as Kind }],
    [...plain('cld', 'lea edi, [ebx+200]', `mov ecx, ${n}`), { asm: 'rep stosd', kind: { rep: n } as Kind }],
    [...plain('std', 'lea esi, [ebx+90]', 'lea edi, [ebx+250]', `mov ecx, ${n}`), { asm: 'rep movsw', kind: { rep: n } as Kind }, ...plain('cld')],
    [...plain('cld', 'lea esi, [ebx+60]', `mov ecx, ${n}`), { asm: 'rep lodsb', kind: { rep: n } as Kind }],
  ]),
];

const encodings = new Map<string, Uint8Array>();
function encode(asm: string): Uint8Array {
  let b = encodings.get(asm);
  if (!b) {
    b = assemble(asm, { base: 0 });
    encodings.set(asm, b);
  }
  return b;
}

interface Program { bytes: Uint8Array; expectedTraps: number[] }
function build(seq: number[]): Program {
  const parts: Uint8Array[] = [];
  const traps: number[] = [];
  let at: number = L.CODE;
  for (const t of seq) {
    for (const line of TEMPLATES[t]) {
      const b = encode(line.asm);
      const next = at + b.length;
      if (line.kind === 'plain') traps.push(next);
      else if (line.kind !== 'ss-load') {
        for (let i = 1; i < line.kind.rep; i++) traps.push(at);
        traps.push(next);
      }
      parts.push(b);
      at = next;
    }
  }
  // jmp EXIT (E9 rel32), then the trap after it lands on EXIT, where the native stops the machine.
  const rel = L.EXIT - (at + 5);
  parts.push(Uint8Array.from([0xe9, rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >>> 24) & 0xff]));
  traps.push(L.EXIT);
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, expectedTraps: traps };
}

interface Input { seq: number[]; regs: number[]; flags: number; buf: Uint8Array }

function run(p: Program, input: Input, step: boolean): { m: SystemMachine; traps: number[]; bsMissing: number } {
  const m = new SystemMachine();
  const traps: number[] = [];
  let bsMissing = 0;
  m.onVector(1, (mm, d) => {
    traps.push(d.eip);
    if (!(d.dr6 & 0x4000)) bsMissing++;
    mm.cpu.dr[6] = 0;
    mm.iret(false);
  });
  m.writeBytes(L.CODE, p.bytes);
  m.writeBytes(BUF, input.buf);
  m.enter(3, L.CODE, { esp: ESP_START, eflags: 0x202 | (input.flags & 0x8d5) | (step ? TF : 0) });
  const [eax, ecx, edx, ebp, esi, edi] = input.regs;
  Object.assign(m.cpu.regs, { 0: eax, 1: ecx, 2: edx, 3: BUF, 5: ebp, 6: esi, 7: edi });
  const stop = m.run(200000);
  expect(stop, `${step ? 'stepped' : 'free'} run`).toMatchObject({ kind: 'exited' });
  return { m, traps, bsMissing };
}

function state(m: SystemMachine): object {
  const c = m.cpu;
  return {
    regs: Array.from(c.regs, (v) => v >>> 0),
    eflags: (c.getEflags() & ~TF) >>> 0,
    segs: [ES, CS, SS, DS, FS, GS].map((s) => c.segSel[s]),
    cpl: c.cpl,
    buf: Array.from(c.mem.u8.subarray(BUF, BUF + BUF_SIZE)),
    stack: Array.from(c.mem.u8.subarray(ESP_START - 0x300, ESP_START + 0x100)),
    fpu: [c.fpu.statusWord(), c.fpu.cw, c.fpu.tagWord(), Array.from(c.fpu.se), Array.from(c.fpu.sig, String), c.fpu.fip, c.fpu.fop, c.fpu.fdp],
  };
}

describe('single-stepping with TF (property)', () => {
  it('every instruction traps exactly once (each REP iteration once, MOV/POP SS shadowed) and the end state matches a free run', () => {
    const gen = fc.record({
      seq: fc.array(fc.nat(TEMPLATES.length - 1), { minLength: 1, maxLength: 24 }),
      regs: fc.array(fc.integer({ min: -0x80000000, max: 0x7fffffff }), { minLength: 6, maxLength: 6 }),
      flags: fc.nat(0xfff),
      buf: fc.uint8Array({ minLength: BUF_SIZE, maxLength: BUF_SIZE }),
    });
    fc.assert(
      fc.property(gen, (input) => {
        const p = build(input.seq);
        const free = run(p, input, false);
        const stepped = run(p, input, true);
        expect(free.traps).toEqual([]);
        expect(stepped.traps).toEqual(p.expectedTraps);
        expect(stepped.bsMissing).toBe(0);
        expect(state(stepped.m)).toEqual(state(free.m));
        // TF is still set at the end of the stepped run: every handler's IRET restored it.
        expect(stepped.m.cpu.getEflags() & TF).toBe(TF);
      }),
      { numRuns: RUNS, seed: 0x5eed },
    );
  });
  it('the template list covers every kind of line', () => {
    const kinds = new Set(TEMPLATES.flat().map((l) => (typeof l.kind === 'string' ? l.kind : 'rep')));
    expect([...kinds].sort()).toEqual(['plain', 'rep', 'ss-load']);
  });
});
