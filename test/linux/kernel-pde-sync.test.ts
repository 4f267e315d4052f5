/**
 * Every process's page directory copied the kernel half when it was made
 * (src/linux/mm.ts); when the kernel later splits a 4 MiB direct-map page
 * into a page table — to hide one of its pages (kmemcheck, the CPL-1 stack
 * tracker) — the processes' directories get the new entry too, as Linux's
 * sync_global_pgds() does. Without it a page hidden after a fork stays
 * present in the forked process: no fault, no check (the busybox insmod
 * case of test/linux/cpl1-program.test.ts found it).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadUserProgram } from '../../src/kernel/process.js';
import { UserMm } from '../../src/linux/mm.js';
import { kva } from '../../src/kernel/layout.js';
import type { Task } from '../../src/linux/task.js';
import { ROOT } from './harness.js';

const PTE_PS = 0x80;

describe('the kernel half of every page directory stays in sync', () => {
  it("a direct-map 4 MiB page split after a process's directory was made is split there too (the same page table)", () => {
    const p = loadUserProgram(new Uint8Array(readFileSync(join(ROOT, 'build/examples/hello-O2'))), { argv: ['hello'], env: [] });
    const k = p.kernel;
    const sys = p.linux.system;
    // A second process's address space, made now (as fork() makes it), standing in sys.tasks.
    const as = UserMm.newAddressSpace(k);
    sys.tasks.set(4242, { pid: 4242, mm: { as } } as unknown as Task);
    const lin = kva(k.cpu.mem.size - 0x400000) >>> 0; // the direct map's last 4 MiB: not split by boot
    const pdi = lin >>> 22;
    const pde = (dir: number): number => k.mem.readPhys32(dir + pdi * 4) >>> 0;
    expect(pde(as.pgdir) & PTE_PS).toBe(PTE_PS);
    k.as.pteAddress(lin); // what hiding a page there does first
    expect(pde(k.as.pgdir) & PTE_PS).toBe(0);
    expect(pde(as.pgdir)).toBe(pde(k.as.pgdir));
    // A directory made after the split copies it as it is.
    expect(pde(UserMm.newAddressSpace(k).pgdir)).toBe(pde(k.as.pgdir));
  });
});
