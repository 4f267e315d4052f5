/**
 * The fast path of same-privilege exception delivery and IRET through
 * gates and code segments checked before (src/cpu/checked-descriptors.ts)
 * must be invisible: with it on and off, the same frames byte for byte,
 * the same CR2, DR6, EFLAGS, CS (selector and hidden limit), ESP, EIP and
 * instruction count at every handler entry, and the same memory (the
 * descriptors' accessed bits included) at the end. The handlers do what
 * kmemcheck does to a hidden page (#PF shows it and sets TF in the frame,
 * #DB hides it again), and the test rewrites the IDT and the GDT between
 * faults: an entry changed since it was checked must be checked again —
 * also when the fast path had stopped reading them (their pages watched for
 * writes): a store by guest code, LIDT of another table, the IDT's page
 * mapped to another frame.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/kernel.js';
import { KERNEL_CS, kva } from '../../src/kernel/layout.js';
import { callGuest } from '../../src/kernel/call.js';
import { Vec } from '../../src/cpu/stop.js';
import { CODE, hiddenPageLoop, SELF_STEP } from '../helpers/hidden-page.js';

type Mutation = (k: Kernel, fault: number) => void;

interface Run {
  entries: number[][];
  memory: Uint8Array;
  regs: number[];
  icount: number;
  hits: number;
  unread: number;
}

/**
 * kmemcheck's hidden-page loop, 30 trips (entries with CS's limit); `mutate` runs in the #PF handler;
 * `guest` and `breakpoint` as in hiddenPageLoop.
 */
function run(enabled: boolean, mutate?: Mutation, guest = '', breakpoint = false): Run {
  const k = new Kernel();
  k.cpu.checkedDescriptors.enabled = enabled;
  const entries = hiddenPageLoop(k, { trips: 30, stos: 2, csLimit: true, guest, breakpoint, ...(mutate ? { onFault: mutate } : {}) });
  const r = callGuest(k, CODE, [], 1_000_000);
  expect(r.returned).toBe(true);
  return { entries, memory: k.cpu.mem.u8.slice(), regs: [...k.cpu.regs].map((x) => x >>> 0), icount: r.instructions, hits: k.cpu.checkedDescriptors.hits, unread: k.cpu.checkedDescriptors.unread };
}

function expectSame(fast: Run, full: Run): void {
  expect(full.hits).toBe(0);
  expect(fast.hits).toBeGreaterThan(0);
  expect(full.unread).toBe(0);
  expect(fast.unread).toBeGreaterThan(0);
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

  it('read the tables no more once checked again after a TLB flush (TableKey.refresh)', () => {
    // A flush moves the code epoch on: the next delivery and IRET read the IDT and GDT again, find the
    // dwords checked before, and record them again, so the ones after read nothing.
    const unread: number[] = [];
    const mutate: Mutation = (k, n) => {
      if (n === 10) k.cpu.flushTlb();
      if (n === 11 || n === 60) unread.push(k.cpu.checkedDescriptors.unread);
    };
    const full = run(false, mutate);
    unread.length = 0;
    expectSame(run(true, mutate), full);
    // 49 faults between the two counts, each with its #DB and two IRETs: nearly all read nothing.
    expect(unread.length).toBe(2);
    expect(unread[1]! - unread[0]!).toBeGreaterThan(4 * 45);
  });

  /** The #DB handler's entries show IF both set (after the #DB gate became a trap gate) and clear (before). */
  const expectGateChanged = (r: Run): void => {
    const db = r.entries.filter((e) => e[0] === Vec.DB);
    expect(db.some((e) => (e[3]! & 0x200) !== 0)).toBe(true);
    expect(db.some((e) => (e[3]! & 0x200) === 0)).toBe(true);
  };

  it('check a gate again when guest code stored into the IDT (a page watched for writes)', () => {
    // At the 15th trip from the end, the #DB gate becomes a trap gate: a store through the write TLB.
    const guest = `cmp ecx, 15
      jne 2f
      or dword ptr [${(idtEntry(new Kernel(), Vec.DB) + 4) >>> 0}], 0x100
    2:`;
    const full = run(false, undefined, guest);
    expectGateChanged(full);
    const fast = run(true, undefined, guest);
    expectSame(fast, full);
  });

  it('check a gate again after LIDT of another table', () => {
    const mutate: Mutation = (k, n) => {
      if (n !== 20) return;
      // A copy of the IDT in another page, its #DB gate a trap gate, loaded as LIDT would.
      const copy = kva(0x40000) | 0;
      for (let i = 0; i < 256 * 8; i += 4) k.mem.write32(copy + i, k.mem.read32(k.cpu.idtrBase + i));
      const at = copy + Vec.DB * 8 + 4;
      k.mem.write32(at, k.mem.read32(at) | 0x100);
      k.cpu.idtrBase = copy;
    };
    const full = run(false, mutate);
    expectGateChanged(full);
    expectSame(run(true, mutate), full);
  });

  it('check a gate again when the IDT\'s page is mapped to another frame', () => {
    const mutate: Mutation = (k, n) => {
      if (n !== 20) return;
      // The IDT's page now maps a copy of it whose #DB gate is a trap gate (writePte does the INVLPG).
      const page = k.cpu.idtrBase & ~0xfff;
      const frame = 0x40000;
      for (let i = 0; i < 4096; i += 4) k.mem.write32(kva(frame) + i, k.mem.read32(page + i));
      const at = kva(frame) + (k.cpu.idtrBase & 0xfff) + Vec.DB * 8 + 4;
      k.mem.write32(at, k.mem.read32(at) | 0x100);
      k.as.writePte(page, (k.as.readPte(page) & 0xfff) | frame);
    };
    const full = run(false, mutate);
    expectGateChanged(full);
    expectSame(run(true, mutate), full);
  });

  it('write the same frames when the guest single-steps itself', () => {
    const guest = SELF_STEP;
    const full = run(false, undefined, guest);
    expect(full.entries.filter((e) => e[0] === Vec.DB).length).toBeGreaterThan(2 * 30 * 6 / 2 + 5);
    expectSame(run(true, undefined, guest), full);
  });

  it('write the same frames with an instruction breakpoint on the stepped instruction', () => {
    const full = run(false, undefined, '', true);
    // Each trip: the breakpoint's #DB before the store, then its #PF and the step's #DB.
    expect(full.entries.filter((e) => e[0] === Vec.DB && (e[2]! & 1) !== 0).length).toBe(30);
    expectSame(run(true, undefined, '', true), full);
  });
});
