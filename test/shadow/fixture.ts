/**
 * Test fixture for the kmemcheck engine: a booted Kernel (CPL 0, paging,
 * the direct map at 0xC0000000), pages taken from kernel.frames, guest
 * snippets assembled at their kernel virtual address and run with
 * cpu.run(). No allocator: tests call track() directly.
 */
import { expect } from 'vitest';
import { Kernel } from '../../src/kernel/kernel.js';
import { KERNEL1_CS, KERNEL1_DS, kva } from '../../src/kernel/layout.js';
import { CS, DS, ES, SS } from '../../src/cpu/instr.js';
import { parseDescriptor, setSegmentCache } from '../../src/cpu/segments.js';
import type { StopReason } from '../../src/cpu/stop.js';
import { Kmemcheck, type KmemcheckOptions } from '../../src/shadow/kmemcheck.js';
import { assemble } from '../helpers/asm.js';

export const MEM = 16 * 1024 * 1024;

export interface Machine {
  k: Kernel;
  /** null when built without kmemcheck (the reference run). */
  km: Kmemcheck | null;
  /** Kernel virtual addresses of consecutive frames: data pages and a code page. */
  data: number[];
  code: number;
  /** Assemble `src` at the code page, write it, run from its start until HLT. Returns the stop reason. */
  run(src: string, init?: Partial<Init>): StopReason | null;
  /** The code bytes last run, and the address of the n-th instruction matching `re`. */
  bytes: Uint8Array;
}

export interface Init {
  regs: Partial<Record<'eax' | 'ecx' | 'edx' | 'ebx' | 'esp' | 'ebp' | 'esi' | 'edi', number>>;
  eflags: number;
  /** Run the code at CPL 1 (ring-1 selectors; exceptions switch to the TSS's ring-0 stack). */
  cpl1: boolean;
  budget: number;
}

const REG_INDEX = { eax: 0, ecx: 1, edx: 2, ebx: 3, esp: 4, ebp: 5, esi: 6, edi: 7 } as const;

/** Physically (and so virtually) consecutive frames. */
function consecutive(k: Kernel, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(k.frames.alloc());
  for (let i = 1; i < n; i++) expect(out[i]).toBe(out[i - 1] + 4096);
  return out.map((p) => kva(p) >>> 0);
}

export function machine(opts: { kmemcheck?: boolean | KmemcheckOptions; dataPages?: number } = {}): Machine {
  const k = new Kernel({ memorySize: MEM });
  const km = opts.kmemcheck === false ? null : Kmemcheck.attach(k, typeof opts.kmemcheck === 'object' ? opts.kmemcheck : {});
  const pages = consecutive(k, (opts.dataPages ?? 3) + 1);
  const code = pages.pop()!;
  const m: Machine = {
    k,
    km,
    data: pages,
    code,
    bytes: new Uint8Array(0),
    run(src, init = {}) {
      const bytes = assemble(substitute(src, m), { base: code });
      m.bytes = bytes;
      k.mem.write(code, bytes);
      const cpu = k.cpu;
      cpu.stopReason = null;
      cpu.eip = code;
      if (init.cpl1) enterCpl1(k);
      for (const [r, v] of Object.entries(init.regs ?? {})) cpu.regs[REG_INDEX[r as keyof typeof REG_INDEX]] = v;
      if (init.eflags !== undefined) cpu.setEflags(init.eflags, 0x3f7fd5);
      return cpu.run(init.budget ?? 200_000);
    },
  };
  return m;
}

/**
 * Names usable in snippets for the data pages: D/SRC/P0 = data[0],
 * D2/DST/P1 = data[1], D3/P2 = data[2] (replaced by their addresses).
 */
export function substitute(src: string, m: Pick<Machine, 'data'>): string {
  const names: Record<string, number | undefined> = {
    D: m.data[0], SRC: m.data[0], P0: m.data[0], D2: m.data[1], DST: m.data[1], P1: m.data[1], D3: m.data[2], P2: m.data[2],
  };
  return src.replace(/\b(D|SRC|P0|D2|DST|P1|D3|P2)\b/g, (n) => `0x${(names[n] ?? 0).toString(16)}`);
}

/** Switch the CPU to CPL 1 with the kernel's ring-1 code and data segments (as an IRET to ring 1 would). */
export function enterCpl1(k: Kernel): void {
  const cpu = k.cpu;
  const load = (seg: number, sel: number): void => {
    const lo = k.mem.read32(cpu.gdtrBase + (sel & ~7));
    const hi = k.mem.read32(cpu.gdtrBase + (sel & ~7) + 4);
    setSegmentCache(cpu, seg, sel, parseDescriptor(lo, hi));
  };
  cpu.setCpl(1);
  load(CS, KERNEL1_CS);
  for (const s of [SS, DS, ES]) load(s, KERNEL1_DS);
}

/** A snippet ends with `int3` at CPL 1 (HLT is privileged there): this handler turns it into a halt. */
export function haltOnInt3(k: Kernel): void {
  k.setTrapHandler(3, (kern) => kern.cpu.stop({ kind: 'halted' }));
}

/** Registers, EFLAGS (without RF) and instruction count: what must not change with a checker on. */
export function architecturalState(k: Kernel): { regs: number[]; eflags: number; eip: number; icount: number } {
  const cpu = k.cpu;
  return { regs: Array.from(cpu.regs), eflags: cpu.getEflags() & ~0x10000, eip: cpu.eip >>> 0, icount: cpu.icount };
}

/** Bytes of guest memory, hidden pages included. */
export function peek(m: Machine, virt: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = m.k.cpu.lookupPhys((virt + i) | 0, false, false);
    if (p >= 0) out.push(m.k.cpu.mem.u8[p]);
    else out.push(m.km!.hiding.peek8((virt + i) | 0));
  }
  return out;
}

export const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

import { decodeAt } from '../../src/cpu/decoder.js';

/** Addresses of the instructions of a straight-line snippet, in order. */
export function instrAddrs(m: Machine): number[] {
  const out: number[] = [];
  let off = 0;
  while (off < m.bytes.length) {
    out.push((m.code + off) >>> 0);
    const ins = decodeAt(m.bytes.subarray(off), (m.code + off) | 0);
    off += Math.max(ins.len, 1);
  }
  return out;
}
