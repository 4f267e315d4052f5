/**
 * Page tables built in guest memory, as a real kernel builds them: a page
 * directory whose upper quarter maps all of physical memory at PAGE_OFFSET
 * with global 4 MiB pages (supervisor only), and 4 KiB user mappings below
 * TASK_SIZE. Changing a present mapping is followed by INVLPG — the CPU's
 * TLB keeps the old translation otherwise, exactly as on hardware.
 */
import type { CPU } from '../cpu/cpu.js';
import type { GuestMemory } from './guest-memory.js';
import type { PageFrameAllocator } from './pages.js';
import { PAGE_OFFSET, PAGE_SIZE } from './layout.js';

export const PTE_P = 1, PTE_RW = 2, PTE_US = 4, PTE_A = 0x20, PTE_D = 0x40, PTE_PS = 0x80, PTE_G = 0x100;

export class AddressSpace {
  constructor(
    private readonly cpu: CPU,
    private readonly mem: GuestMemory,
    private readonly frames: PageFrameAllocator,
    readonly pgdir: number,
  ) {}

  /** Fill the kernel half: every 4 MiB of physical memory at PAGE_OFFSET, global, supervisor, writable. */
  mapKernelDirect(physSize: number): void {
    for (let p = 0; p < physSize; p += 0x400000) {
      const pdi = (PAGE_OFFSET + p) >>> 22;
      this.mem.writePhys32(this.pgdir + pdi * 4, p | PTE_P | PTE_RW | PTE_PS | PTE_G);
    }
  }

  private pte(lin: number, create: boolean): number {
    const pdeAddr = this.pgdir + (lin >>> 22) * 4;
    let pde = this.mem.readPhys32(pdeAddr);
    if (!(pde & PTE_P)) {
      if (!create) return -1;
      const pt = this.frames.alloc();
      this.mem.zeroPhysPage(pt);
      pde = pt | PTE_P | PTE_RW | PTE_US;
      this.mem.writePhys32(pdeAddr, pde);
    }
    return (pde & ~0xfff) + ((lin >>> 12) & 0x3ff) * 4;
  }

  /** Map one user page to a fresh zeroed frame (or the given one). */
  mapUser(lin: number, writable: boolean, frame?: number): number {
    const f = frame ?? this.frames.alloc();
    if (frame === undefined) this.mem.zeroPhysPage(f);
    const pteAddr = this.pte(lin, true);
    const old = this.mem.readPhys32(pteAddr);
    this.mem.writePhys32(pteAddr, f | PTE_P | PTE_US | (writable ? PTE_RW : 0));
    if (old & PTE_P) this.cpu.invalidatePage(lin);
    return f;
  }

  isMapped(lin: number): boolean {
    const a = this.pte(lin, false);
    return a >= 0 && (this.mem.readPhys32(a) & PTE_P) !== 0;
  }

  /** Unmap and free one user page; INVLPG so the TLB forgets it. */
  unmap(lin: number): void {
    const a = this.pte(lin, false);
    if (a < 0) return;
    const e = this.mem.readPhys32(a);
    if (!(e & PTE_P)) return;
    this.mem.writePhys32(a, 0);
    this.frames.release(e & ~0xfff);
    this.cpu.invalidatePage(lin);
  }

  /** Map [start, end) page by page, skipping pages already mapped. */
  mapRange(start: number, end: number, writable: boolean): void {
    for (let p = (start & ~(PAGE_SIZE - 1)) >>> 0; p < end; p += PAGE_SIZE) {
      if (!this.isMapped(p)) this.mapUser(p, writable);
    }
  }
}
