/**
 * Access decoding (src/shadow/access.ts): Linux's kmemcheck selftest,
 * a table test over every memory-touching instruction form of the CPU's
 * opcode table against the CPU's own decode (memSizeOf), hand-checked
 * cases for the implicit operands, and the same table run on the CPU with
 * the operand page not present, read-only and writable to check every
 * address and read/write kind against what the processor really does.
 */
import { describe, expect, it } from 'vitest';
import { decodeAt, memSizeOf, writesMemoryOperand } from '../../src/cpu/decoder.js';
import { ES, SS } from '../../src/cpu/instr.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { PHYS_KSTACK_TOP, kva } from '../../src/kernel/layout.js';
import { PTE_P, PTE_RW } from '../../src/kernel/paging.js';
import {
  ACCESS_PROBE, ACCESS_READ, ACCESS_RMW, ACCESS_WRITE, AccessList, InterruptedContext, accessSize, decodeAccesses, operandKind,
} from '../../src/shadow/access.js';
import type { CPU } from '../../src/cpu/cpu.js';
import { enterCpl1 } from './fixture.js';
import { restore, snapshot } from './cpu-snapshot.js';
import { memoryForms, type Form } from './opcodes.js';

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

function accesses(code: Uint8Array, init: (ctx: InterruptedContext) => void = () => {}): [number, number, number, number][] {
  const ins = decodeAt(code, 0x1000);
  const ctx = new InterruptedContext();
  init(ctx);
  const out = new AccessList();
  decodeAccesses(ins, ctx, out);
  return Array.from({ length: out.count }, (_, i) => [out.addr[i] >>> 0, out.size[i], out.kind[i], out.copyOf[i]]);
}

describe('kmemcheck selftest (arch/x86/mm/kmemcheck/selftest.c)', () => {
  const cases: [number, number[], string][] = [
    [1, [0xf3, 0xa4], 'rep movsb <mem8>, <mem8>'],
    [4, [0xf3, 0xa5], 'rep movsl <mem32>, <mem32>'],
    [1, [0x66, 0x0f, 0xb6, 0x51, 0xf8], 'movzbw <mem8>, <reg16>'],
    [1, [0x0f, 0xb6, 0x51, 0xf8], 'movzbl <mem8>, <reg32>'],
    [1, [0x66, 0x0f, 0xbe, 0x51, 0xf8], 'movsbw <mem8>, <reg16>'],
    [1, [0x0f, 0xbe, 0x51, 0xf8], 'movsbl <mem8>, <reg32>'],
    [2, [0x0f, 0xb7, 0x51, 0xf8], 'movzwl <mem16>, <reg32>'],
    [2, [0x0f, 0xbf, 0x51, 0xf8], 'movswl <mem16>, <reg32>'],
    [2, [0x66, 0xa5], 'movsw'],
  ];
  for (const [size, code, desc] of cases) {
    it(`${desc} → ${size}`, () => {
      expect(accessSize(decodeAt(bytes(...code)))).toBe(size);
    });
  }
});

describe('access decoding against the CPU decode, for every memory form of the opcode table', () => {
  const DISP = 0x2000;
  const forms = memoryForms(DISP, 0x1000);
  it('covers the table', () => {
    expect(forms.length).toBeGreaterThan(300);
  });
  it('the ModRM/moffs operand is accessed at its address with memSizeOf bytes; string elements have the operand size', () => {
    const bad: string[] = [];
    for (const f of forms) {
      const ctx = new InterruptedContext();
      ctx.regs[1] = 1; // ECX for REP
      ctx.regs[4] = 0x8000; // ESP
      ctx.regs[6] = 0x3000; // ESI
      ctx.regs[7] = 0x4000; // EDI
      const out = new AccessList();
      decodeAccesses(f.ins, ctx, out);
      const list = Array.from({ length: out.count }, (_, i) => ({ addr: out.addr[i], size: out.size[i], kind: out.kind[i] }));
      if (list.length === 0 || list.length > 4) bad.push(`${f.label}: ${list.length} accesses`);
      const ms = memSizeOf(f.ins);
      if (f.ins.def!.string) {
        if (!list.every((a) => a.size === f.ins.size)) bad.push(`${f.label}: string element sizes ${list.map((a) => a.size)}`);
      } else if (f.ins.mem && ms > 0) {
        if (!list.some((a) => a.addr === DISP && a.size === ms)) bad.push(`${f.label}: no ${ms}-byte access at the operand (${JSON.stringify(list)})`);
      }
    }
    expect(bad).toEqual([]);
  });
});

describe('access decoding: implicit operands and corner cases', () => {
  const R = ACCESS_READ, W = ACCESS_WRITE, RW = ACCESS_RMW;
  const stack = (esp: number) => (c: InterruptedContext): void => {
    c.regs[4] = esp;
  };
  it('PUSH m / POP m: two addresses, the write a copy of the read; POP m addresses with ESP already incremented', () => {
    expect(accesses(bytes(0xff, 0x35, 0, 0x20, 0, 0), stack(0x8000))).toEqual([[0x2000, 4, R, -1], [0x7ffc, 4, W, 0]]);
    // pop dword ptr [esp + 4]
    expect(accesses(bytes(0x8f, 0x44, 0x24, 0x04), stack(0x8000))).toEqual([[0x8000, 4, R, -1], [0x8008, 4, W, 0]]);
    // 16-bit push word ptr [0x2000]
    expect(accesses(bytes(0x66, 0xff, 0x35, 0, 0x20, 0, 0), stack(0x8000))).toEqual([[0x2000, 2, R, -1], [0x7ffe, 2, W, 0]]);
  });
  it('CALL/RET near and far, through memory too', () => {
    expect(accesses(bytes(0xe8, 0, 0, 0, 0), stack(0x8000))).toEqual([[0x7ffc, 4, W, -1]]);
    expect(accesses(bytes(0xff, 0x15, 0, 0x20, 0, 0), stack(0x8000))).toEqual([[0x2000, 4, R, -1], [0x7ffc, 4, W, -1]]);
    expect(accesses(bytes(0xff, 0x1d, 0, 0x20, 0, 0), stack(0x8000))).toEqual([[0x2000, 6, R, -1], [0x7ff8, 8, W, -1]]);
    expect(accesses(bytes(0xc3), stack(0x8000))).toEqual([[0x8000, 4, R, -1]]);
    expect(accesses(bytes(0xc2, 8, 0), stack(0x8000))).toEqual([[0x8000, 4, R, -1]]);
    expect(accesses(bytes(0xcb), stack(0x8000))).toEqual([[0x8000, 8, R, -1]]);
    expect(accesses(bytes(0xcf), stack(0x8000))).toEqual([[0x8000, 12, R, -1]]);
  });
  it('PUSHA/POPA (POPA skips the stored ESP), PUSHF/POPF, ENTER/LEAVE', () => {
    expect(accesses(bytes(0x60), stack(0x8000))).toEqual([[0x7fe0, 32, W, -1]]);
    expect(accesses(bytes(0x66, 0x60), stack(0x8000))).toEqual([[0x7ff0, 16, W, -1]]);
    expect(accesses(bytes(0x61), stack(0x8000))).toEqual([[0x8000, 12, R, -1], [0x8010, 16, R, -1]]);
    expect(accesses(bytes(0x9c), stack(0x8000))).toEqual([[0x7ffc, 4, W, -1]]);
    expect(accesses(bytes(0x9d), stack(0x8000))).toEqual([[0x8000, 4, R, -1]]);
    // enter 16, 0: push EBP, probe the new ESP
    expect(accesses(bytes(0xc8, 16, 0, 0), stack(0x8000))).toEqual([[0x7ffc, 4, W, -1], [0x7fec, 1, ACCESS_PROBE, -1]]);
    // enter 0, 3: writes EBP, two copied frame pointers and the new frame pointer; reads the two from the old frame
    expect(
      accesses(bytes(0xc8, 0, 0, 3), (c) => {
        c.regs[4] = 0x8000;
        c.regs[5] = 0x9000;
      }),
    ).toEqual([[0x7ff0, 16, W, -1], [0x8ff8, 8, R, -1]]);
    expect(accesses(bytes(0xc9), (c) => (c.regs[5] = 0x9000))).toEqual([[0x9000, 4, R, -1]]);
  });
  it('XCHG, CMPXCHG, XADD, CMPXCHG8B are read-modify-write; MOVZX/MOVSX read their source size', () => {
    expect(accesses(bytes(0x87, 0x05, 0, 0x20, 0, 0))).toEqual([[0x2000, 4, RW, -1]]);
    expect(accesses(bytes(0x0f, 0xb0, 0x05, 0, 0x20, 0, 0))).toEqual([[0x2000, 1, RW, -1]]);
    expect(accesses(bytes(0x0f, 0xc1, 0x05, 0, 0x20, 0, 0))).toEqual([[0x2000, 4, RW, -1]]);
    expect(accesses(bytes(0x0f, 0xc7, 0x0d, 0, 0x20, 0, 0))).toEqual([[0x2000, 8, RW, -1]]);
    expect(accesses(bytes(0x0f, 0xb7, 0x05, 0, 0x20, 0, 0))).toEqual([[0x2000, 2, R, -1]]);
    expect(accesses(bytes(0x66, 0x0f, 0xbe, 0x05, 0, 0x20, 0, 0))).toEqual([[0x2000, 1, R, -1]]);
  });
  it('MOVS copies, CMPS reads twice, both with segment bases and DF; REP with ECX = 0 makes no access', () => {
    const ctx = (c: InterruptedContext): void => {
      c.regs[1] = 5;
      c.regs[6] = 0x3000;
      c.regs[7] = 0x4000;
      c.segBase[ES] = 0x100000;
    };
    expect(accesses(bytes(0xf3, 0xa5), ctx)).toEqual([[0x3000, 4, R, -1], [0x104000, 4, W, 0]]);
    expect(accesses(bytes(0xa6), ctx)).toEqual([[0x3000, 1, R, -1], [0x104000, 1, R, -1]]);
    expect(accesses(bytes(0xf3, 0xab), (c) => (c.regs[7] = 0x4000))).toEqual([]);
    expect(accesses(bytes(0xad), ctx)).toEqual([[0x3000, 4, R, -1]]);
    expect(accesses(bytes(0xaf), ctx)).toEqual([[0x104000, 4, R, -1]]);
    // 16-bit addressing: SI/DI
    expect(accesses(bytes(0x67, 0xa4), (c) => ((c.regs[6] = 0x12343000), (c.regs[7] = 0x56784000)))).toEqual([[0x3000, 1, R, -1], [0x4000, 1, W, 0]]);
  });
  it('BT/BTS with a register bit offset address the bit string; with an immediate, the operand', () => {
    // bt [0x2000], eax with EAX = 100: dword 3 of the string
    expect(accesses(bytes(0x0f, 0xa3, 0x05, 0, 0x20, 0, 0), (c) => (c.regs[0] = 100))).toEqual([[0x200c, 4, R, -1]]);
    // bts [0x2000], eax with EAX = -1: the dword before
    expect(accesses(bytes(0x0f, 0xab, 0x05, 0, 0x20, 0, 0), (c) => (c.regs[0] = -1))).toEqual([[0x1ffc, 4, RW, -1]]);
    // bt word ptr [0x2000], ax with AX = 17: word 1
    expect(accesses(bytes(0x66, 0x0f, 0xa3, 0x05, 0, 0x20, 0, 0), (c) => (c.regs[0] = 17))).toEqual([[0x2002, 2, R, -1]]);
    expect(accesses(bytes(0x0f, 0xba, 0x2d, 0, 0x20, 0, 0, 100))).toEqual([[0x2000, 4, RW, -1]]);
  });
  it('XLAT, moffs, SIB and 16-bit ModRM addressing, the SS base for EBP/ESP-based operands', () => {
    expect(accesses(bytes(0xd7), (c) => ((c.regs[3] = 0x2000), (c.regs[0] = 0x1ff)))).toEqual([[0x20ff, 1, R, -1]]);
    expect(accesses(bytes(0xa1, 0, 0x20, 0, 0))).toEqual([[0x2000, 4, R, -1]]);
    expect(accesses(bytes(0xa2, 0, 0x20, 0, 0))).toEqual([[0x2000, 1, W, -1]]);
    // mov eax, [ebx + esi*4 + 8]
    expect(accesses(bytes(0x8b, 0x44, 0xb3, 0x08), (c) => ((c.regs[3] = 0x2000), (c.regs[6] = 3)))).toEqual([[0x2014, 4, R, -1]]);
    // mov [bp + di + 2], al (16-bit addressing wraps at 64 KiB, SS)
    expect(
      accesses(bytes(0x67, 0x88, 0x43, 0x02), (c) => {
        c.regs[5] = 0xfff0;
        c.regs[7] = 0x20;
        c.segBase[SS] = 0x10000;
      }),
    ).toEqual([[0x10012, 1, W, -1]]);
    // add [ebp - 4], eax: SS
    expect(
      accesses(bytes(0x01, 0x45, 0xfc), (c) => {
        c.regs[5] = 0x3000;
        c.segBase[SS] = 0x100;
      }),
    ).toEqual([[0x30fc, 4, RW, -1]]);
  });
  it('an access at the end of a page is one access (the page-hiding service shows both pages)', () => {
    expect(accesses(bytes(0x8b, 0x05, 0xfe, 0x2f, 0, 0))).toEqual([[0x2ffe, 4, R, -1]]);
  });
  it('instructions without memory accesses, LEA and hint NOPs list none', () => {
    for (const code of [[0x8d, 0x05, 0, 0x20, 0, 0], [0x0f, 0x1f, 0x05, 0, 0x20, 0, 0], [0x0f, 0x18, 0x05, 0, 0x20, 0, 0], [0x01, 0xc0], [0x90], [0xeb, 0]]) {
      expect(accesses(bytes(...code))).toEqual([]);
    }
  });
});

// ---- the CPU as the oracle ------------------------------------------------------

/** Instructions that #GP at CPL 1 before touching memory: run at CPL 0 on the kernel stack. */
const PRIVILEGED = new Set(['lgdt', 'lidt', 'lldt', 'ltr', 'lmsw', 'insb', 'ins', 'outsb', 'outs']);
const PATTERN = 0xa5;
/** ARPL writes its operand only when it raises the RPL: the decoder lists the write (read-modify-write) anyway. */
const CONDITIONAL_WRITES = new Set(['arpl']);

describe('access decoding against the CPU itself', () => {
  it('every form: faults land in predicted accesses of the right kind, writes stay inside predicted writes, and nothing predicted is missing', () => {
    const k = new Kernel({ memorySize: 16 * 1024 * 1024 });
    const cpu = k.cpu;
    const P = kva(k.frames.alloc()) >>> 0;
    const code = kva(k.frames.alloc()) >>> 0;
    const pte = k.as.readPte(P); // splits the direct-map page
    const phys = pte & ~0xfff;
    const s0 = snapshot(cpu);
    const forms = memoryForms((P + 0x800) | 0, code | 0);
    const problems: string[] = [];
    const fill = new Uint8Array(4096).fill(PATTERN);
    let checked = 0;
    let completedForms = 0;

    const runOnce = (f: Form, mode: 'np' | 'ro' | 'rw'): { stop: ReturnType<CPU['run']>; cr2: number; list: AccessList; before: Uint8Array } => {
      restore(cpu, s0);
      k.as.writePte(P, mode === 'np' ? pte & ~PTE_P : mode === 'ro' ? pte & ~PTE_RW : pte);
      cpu.writePhys(phys, fill);
      k.mem.write(code, f.bytes);
      const priv = PRIVILEGED.has(f.ins.def!.name) || PRIVILEGED.has(f.label.split(' ')[0]);
      if (!priv) enterCpl1(k);
      const r = cpu.regs;
      r.fill(0);
      r[1] = 1; // ECX
      r[3] = (P + 0x800) | 0; // EBX (XLAT)
      r[4] = priv ? kva(PHYS_KSTACK_TOP) : (P + 0xc00) | 0; // ESP
      r[5] = (P + 0x900) | 0; // EBP
      r[6] = (P + 0x800) | 0; // ESI
      r[7] = (P + 0x840) | 0; // EDI
      cpu.eip = code | 0;
      const list = new AccessList();
      decodeAccesses(decodeAt(f.bytes, code | 0), new InterruptedContext().fromCpu(cpu), list);
      const before = cpu.mem.u8.slice(phys, phys + 4096);
      cpu.cr2 = 0;
      const stop = cpu.run(1);
      return { stop, cr2: cpu.cr2 >>> 0, list, before };
    };
    const onP = (a: number, size: number): boolean => (a >>> 12) === P >>> 12 || ((a + size - 1) >>> 12) === P >>> 12;
    const covering = (list: AccessList, lin: number): number[] => {
      const out: number[] = [];
      for (let i = 0; i < list.count; i++) if (((lin - list.addr[i]) >>> 0) < list.size[i]) out.push(list.kind[i]);
      return out;
    };

    for (const f of forms) {
      // INT n pushes and far transfers through gates are documented as not listed.
      const rw = runOnce(f, 'rw');
      const completed = rw.stop?.kind === 'budget';
      const list = rw.list;
      const predictedOnP = Array.from({ length: list.count }, (_, i) => i).filter((i) => onP(list.addr[i], list.size[i]));
      const predictedWritesOnP = predictedOnP.filter((i) => list.kind[i] & (ACCESS_WRITE | ACCESS_PROBE));
      if (completed) {
        completedForms++;
        const after = cpu.mem.u8.subarray(phys, phys + 4096);
        for (let o = 0; o < 4096; o++) {
          if (after[o] === rw.before[o]) continue;
          const kinds = covering(list, (P + o) | 0);
          if (!kinds.some((x) => x & ACCESS_WRITE)) problems.push(`${f.label}: wrote P+0x${o.toString(16)} outside predicted writes`);
        }
      }
      for (const mode of ['np', 'ro'] as const) {
        const r = runOnce(f, mode);
        checked++;
        const pf = r.stop?.kind === 'fault' && r.stop.vector === 14 ? r.stop.errorCode ?? 0 : -1;
        const pfOnP = pf >= 0 && r.cr2 >>> 12 === P >>> 12;
        if (pfOnP) {
          const kinds = covering(r.list, r.cr2);
          if (kinds.length === 0) problems.push(`${f.label} (${mode}): #PF at ${r.cr2.toString(16)} outside predicted accesses`);
          else if (pf & 2 ? !kinds.some((x) => x & (ACCESS_WRITE | ACCESS_PROBE)) : !kinds.some((x) => x & ACCESS_READ)) {
            problems.push(`${f.label} (${mode}): #PF error ${pf} at a predicted ${kinds} access`);
          }
          if (mode === 'ro' && !(pf & 2)) problems.push(`${f.label} (ro): read fault on a read-only page`);
        }
        if (completed && !(mode === 'ro' && CONDITIONAL_WRITES.has(f.ins.def!.name))) {
          const expectFault = mode === 'np' ? predictedOnP.length > 0 : predictedWritesOnP.length > 0;
          if (expectFault !== pfOnP) problems.push(`${f.label} (${mode}): predicted ${expectFault ? 'a' : 'no'} #PF on the page, CPU ${pfOnP ? 'faulted' : `did not fault (${JSON.stringify(r.stop)})`}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBe(2 * forms.length);
    expect(completedForms).toBeGreaterThan(250);
  });
});

describe('one answer for how a ModRM operand is accessed (memoryOperandAccess)', () => {
  it('the CPU segment check and the access decoder agree on every memory form', () => {
    const forms = memoryForms(0x2000);
    expect(forms.length).toBeGreaterThan(300);
    for (const f of forms) {
      const kind = operandKind(f.ins);
      expect([ACCESS_READ, ACCESS_WRITE, ACCESS_RMW], f.label).toContain(kind);
      // Written (alone or after a read) for the decoder exactly when the segment-limit check tests it as a write.
      expect(writesMemoryOperand(f.ins), f.label).toBe(kind !== ACCESS_READ);
    }
    // Spot checks across the three answers.
    const kindOf = (...b: number[]): number => operandKind(decodeAt(bytes(...b), 0x1000));
    expect(kindOf(0x39, 0x08)).toBe(ACCESS_READ); // cmp [eax], ecx
    expect(kindOf(0xff, 0x30)).toBe(ACCESS_READ); // push dword [eax]
    expect(kindOf(0x0f, 0x01, 0x38)).toBe(ACCESS_READ); // invlpg [eax]
    expect(kindOf(0x89, 0x08)).toBe(ACCESS_WRITE); // mov [eax], ecx
    expect(kindOf(0x0f, 0x94, 0x00)).toBe(ACCESS_WRITE); // sete [eax]
    expect(kindOf(0x01, 0x08)).toBe(ACCESS_RMW); // add [eax], ecx
  });
});
