/**
 * The fast path of same-privilege exception delivery and IRET through
 * gates and code segments checked before (src/cpu/checked-descriptors.ts)
 * must be invisible: with it on and off, the same frames byte for byte,
 * the same CR2, DR6, EFLAGS, CS (selector and hidden limit), ESP, EIP and
 * instruction count at every handler entry, and the same memory (the
 * descriptors' accessed bits included) at the end. The handlers do what
 * kmemcheck does to a hidden page (#PF shows it and sets TF in the frame,
 * #DB hides it again), and the test rewrites the IDT and the GDT between
 * faults: an entry changed since it was checked must be checked again.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/kernel.js';
import { KERNEL_CS } from '../../src/kernel/layout.js';
import { callGuest } from '../../src/kernel/call.js';
import { Vec } from '../../src/cpu/stop.js';
import { CODE, hiddenPageLoop } from '../helpers/hidden-page.js';

type Mutation = (k: Kernel, fault: number) => void;

interface Run {
  entries: number[][];
  memory: Uint8Array;
  regs: number[];
  icount: number;
  hits: number;
}

/** kmemcheck's hidden-page loop, 30 trips (entries with CS's limit); `mutate` runs in the #PF handler. */
function run(enabled: boolean, mutate?: Mutation): Run {
  const k = new Kernel();
  k.cpu.checkedDescriptors.enabled = enabled;
  const entries = hiddenPageLoop(k, { trips: 30, stos: 2, csLimit: true, ...(mutate ? { onFault: mutate } : {}) });
  const r = callGuest(k, CODE, [], 1_000_000);
  expect(r.returned).toBe(true);
  return { entries, memory: k.cpu.mem.u8.slice(), regs: [...k.cpu.regs].map((x) => x >>> 0), icount: r.instructions, hits: k.cpu.checkedDescriptors.hits };
}

function expectSame(fast: Run, full: Run): void {
  expect(full.hits).toBe(0);
  expect(fast.hits).toBeGreaterThan(0);
  expect(fast.entries.length).toBe(full.entries.length);
  expect(fast.entries).toEqual(full.entries);
  expect(fast.regs).toEqual(full.regs);
  expect(fast.icount).toBe(full.icount);
  expect(Buffer.from(fast.memory).equals(Buffer.from(full.memory))).toBe(true);
}

/** Physical address of the kernel's IDT entry for `vector` and of the GDT descriptor of `sel`. */
const idtEntry = (k: Kernel, vector: number): number => k.cpu.idtrBase + vector * 8;
const gdtEntry = (k: Kernel, sel: number): number => k.cpu.gdtrBase + (sel & ~7);

describe('delivery and IRET through gates checked before', () => {
  it('write the same frames, CR2, DR6, EFLAGS and memory as the full path', () => {
    const full = run(false);
    // 30 trips, each faulting on 4 accesses plus 2 STOS elements, each fault followed by a step.
    expect(full.entries.length).toBe(2 * 30 * 6);
    expectSame(run(true), full);
  });

  it('check a gate again when its IDT entry changed (the #DB gate becomes a trap gate: IF stays set)', () => {
    const mutate: Mutation = (k, n) => {
      if (n !== 20) return;
      const at = idtEntry(k, Vec.DB) + 4;
      k.mem.write32(at, (k.mem.read32(at) & ~0x1f00) | (0xf << 8));
    };
    const full = run(false, mutate);
    expectSame(run(true, mutate), full);
    // The entries after the change show IF set in the #DB handler (a trap gate does not clear it).
    const db = full.entries.filter((e) => e[0] === Vec.DB);
    expect(db.some((e) => (e[3]! & 0x200) !== 0)).toBe(true);
    expect(db.some((e) => (e[3]! & 0x200) === 0)).toBe(true);
  });

  it('check a code segment again when its descriptor changed (accessed bit cleared, limit lowered)', () => {
    const mutate: Mutation = (k, n) => {
      if (n === 10) {
        // Clear the accessed bit: the next delivery sets it again in the GDT.
        const at = gdtEntry(k, KERNEL_CS) + 4;
        k.mem.write32(at, k.mem.read32(at) & ~0x100);
      }
      if (n === 30) {
        // A smaller limit (still above every handler and the code): the CS cache must take it.
        const at = gdtEntry(k, KERNEL_CS);
        k.mem.write32(at, (k.mem.read32(at) & ~0xffff) | 0xfffe);
      }
    };
    const full = run(false, mutate);
    expectSame(run(true, mutate), full);
    const limits = new Set(full.entries.map((e) => e[5]));
    expect(limits.size).toBe(2);
  });
});
