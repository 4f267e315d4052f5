/**
 * The processor's own accesses to the IDT, GDT and TSS are supervisor
 * accesses through the TLB (CPU.readSystem32): their translations are
 * cached like any other and flushed with the TLB — INVLPG, MOV CR3 (global
 * pages kept), CR0/CR4 paging bits. A kernel that remaps its IDT page
 * without INVLPG keeps getting the old gates, as on hardware.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/kernel.js';
import { kva, PHYS_IDT } from '../../src/kernel/layout.js';
import { callGuest } from '../../src/kernel/call.js';
import { assemble } from '../helpers/asm.js';

const CODE = kva(0x10000) >>> 0;
const IDT = kva(PHYS_IDT) >>> 0;

function setup(): { k: Kernel; hits: number[]; remap: () => void } {
  const k = new Kernel();
  const hits: number[] = [];
  k.setTrapHandler(0x40, () => hits.push(0x40));
  k.setTrapHandler(0x41, () => hits.push(0x41));
  // A copy of the IDT page in another frame, where vector 0x40's gate leads to 0x41's handler.
  const frame = k.frames.alloc();
  const page = k.mem.read(IDT, 4096);
  k.cpu.writePhys(frame, page);
  k.cpu.writePhys32(frame + 0x40 * 8, k.mem.read32(IDT + 0x41 * 8));
  k.cpu.writePhys32(frame + 0x40 * 8 + 4, k.mem.read32(IDT + 0x41 * 8 + 4));
  const pteAt = k.as.pteAddress(IDT);
  const pte = k.cpu.mem.read32(pteAt);
  // Rewrite the PTE behind the TLB's back (no INVLPG).
  const remap = (): void => k.cpu.writePhys32(pteAt, (pte & 0xfff) | frame);
  return { k, hits, remap };
}

function call(k: Kernel, asm: string): void {
  k.mem.write(CODE, assemble(`${asm}\nret`, { base: CODE }));
  expect(callGuest(k, CODE, [], 1000).returned).toBe(true);
}

describe('IDT reads through the TLB', () => {
  it('use the cached translation until INVLPG', () => {
    const { k, hits, remap } = setup();
    call(k, 'int 0x40');
    remap();
    call(k, 'int 0x40');
    call(k, `invlpg [${IDT}]\nint 0x40`);
    expect(hits).toEqual([0x40, 0x40, 0x41]);
  });

  it('are flushed by a CR0 paging-bit change (CR0.WP toggled)', () => {
    const { k, hits, remap } = setup();
    call(k, 'int 0x40');
    remap();
    call(k, 'mov eax, cr0\nxor eax, 0x10000\nmov cr0, eax\nxor eax, 0x10000\nmov cr0, eax\nint 0x40');
    expect(hits).toEqual([0x40, 0x41]);
  });

  it('are re-walked at once when nothing was cached yet', () => {
    const { k, hits, remap } = setup();
    k.cpu.flushTlb();
    remap();
    call(k, 'int 0x40');
    expect(hits).toEqual([0x41]);
  });
});
