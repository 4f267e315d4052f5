/**
 * 32-bit paging (SDM Vol. 3 §4.3): the walk through the page directory and
 * the page table, or a 4 MiB page when CR4.PSE and PDE.PS are set. The CPU
 * keeps the TLB (cpu.ts translate/fillTlb); this is what fills it.
 */
import type { CPU } from './cpu.js';

/**
 * The page walk's verdict without raising: the physical address (with the
 * accessed and dirty bits set), or the one's complement of the #PF error
 * code (negative) when the access faults — and then nothing has changed:
 * no A/D bit, CR2 untouched. Checks P, R/W (with CR0.WP for supervisor
 * writes) and U/S at CPL 3 (not for the processor's own system accesses);
 * leaves in the CPU whether the translation may go into the write TLB and
 * whether it is global.
 */
export function pageWalk(cpu: CPU, lin: number, write: boolean): number {
  const user = cpu.cpl === 3 && !cpu.systemAccess;
  const pdeAddr = ((cpu.cr3 & ~0xfff) + ((lin >>> 22) << 2)) >>> 0;
  const pde = cpu.mem.read32(pdeAddr);
  const err = (write ? 2 : 0) | (user ? 4 : 0);
  if (!(pde & 1)) return ~err;
  const wp = (cpu.cr0 & 0x10000) !== 0;
  if (pde & 0x80 && cpu.cr4 & 0x10) {
    // 4 MiB page. Bits 21:13 are reserved without PSE-36.
    if (pde & 0x3fe000) return ~(err | 1 | 8);
    if (user && !(pde & 4)) return ~(err | 1);
    if (write && !(pde & 2) && (user || wp)) return ~(err | 1);
    const nv = pde | 0x20 | (write ? 0x40 : 0);
    if (nv !== pde) cpu.mem.write32(pdeAddr, nv);
    cpu.tlbWritable = write;
    cpu.lastGlobal = (pde & 0x100) !== 0 && (cpu.cr4 & 0x80) !== 0;
    return ((pde & 0xffc00000) | (lin & 0x3fffff)) >>> 0;
  }
  const pteAddr = ((pde & ~0xfff) + (((lin >>> 12) & 0x3ff) << 2)) >>> 0;
  const pte = cpu.mem.read32(pteAddr);
  if (!(pte & 1)) return ~err;
  if (user && !(pde & pte & 4)) return ~(err | 1);
  if (write && !(pde & pte & 2) && (user || wp)) return ~(err | 1);
  if (!(pde & 0x20)) cpu.mem.write32(pdeAddr, pde | 0x20);
  const nv = pte | 0x20 | (write ? 0x40 : 0);
  if (nv !== pte) cpu.mem.write32(pteAddr, nv);
  cpu.tlbWritable = write;
  cpu.lastGlobal = (pte & 0x100) !== 0 && (cpu.cr4 & 0x80) !== 0;
  return ((pte & ~0xfff) | (lin & 0xfff)) >>> 0;
}

/**
 * Translate without side effects (no fault, no TLB fill, no A/D bits): the
 * host-side accessor reads guest memory as a given privilege would see it.
 * Returns -1 when the access would fault.
 */
export function lookupPhys(cpu: CPU, lin: number, write: boolean, user: boolean): number {
  if (!(cpu.cr0 & 0x80000000)) return lin >>> 0;
  const pde = cpu.mem.read32(((cpu.cr3 & ~0xfff) + ((lin >>> 22) << 2)) >>> 0);
  if (!(pde & 1)) return -1;
  const wp = (cpu.cr0 & 0x10000) !== 0;
  if (pde & 0x80 && cpu.cr4 & 0x10) {
    if ((user && !(pde & 4)) || (write && !(pde & 2) && (user || wp))) return -1;
    return ((pde & 0xffc00000) | (lin & 0x3fffff)) >>> 0;
  }
  const pte = cpu.mem.read32(((pde & ~0xfff) + (((lin >>> 12) & 0x3ff) << 2)) >>> 0);
  if (!(pte & 1)) return -1;
  if ((user && !(pde & pte & 4)) || (write && !(pde & pte & 2) && (user || wp))) return -1;
  return ((pte & ~0xfff) | (lin & 0xfff)) >>> 0;
}
