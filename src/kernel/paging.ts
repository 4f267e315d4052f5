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
/**
 * Software bit (bit 9, one of the three AVL bits the processor ignores, SDM
 * Vol. 3 Table 4-6): the page is hidden by the page-hiding service
 * (src/kernel/page-hiding.ts) — P is clear on purpose and the frame bits
 * still hold the mapping. Linux's kmemcheck used a software bit the same
 * way (_PAGE_HIDDEN).
 */
export const PTE_HIDDEN = 0x200;

export class AddressSpace {
  constructor(
    private readonly cpu: CPU,
    private readonly mem: GuestMemory,
    private readonly frames: PageFrameAllocator,
    readonly pgdir: number,
  ) {}

  /**
   * Told when a directory entry of the kernel half changes (a 4 MiB page split into a page table): page
   * directories that copied the kernel half (processes', src/linux/mm.ts) must get the same entry, or a
   * page hidden in the new table stays present in them — Linux's sync_global_pgds() over its pgd_list.
   */
  readonly kernelPdeChanged: ((index: number, pde: number) => void)[] = [];

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
    // The page table first: if the frames run out there, no frame has been taken yet.
    const pteAddr = this.pte(lin, true);
    const f = frame ?? this.frames.alloc();
    if (frame === undefined) this.mem.zeroPhysPage(f);
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

  /**
   * Physical address of the 4 KiB PTE that maps `lin`, or -1 when no page
   * table maps it (PDE not present). A 4 MiB page is split first when
   * `split` is set (else -1): the PDE is replaced by a page table of 1024
   * PTEs mapping the same frames with the same attributes, so every address
   * translates exactly as before (Linux's split_large_page() for
   * set_memory_4k(), which kmemcheck needed for the same reason).
   */
  pteAddress(lin: number, split = true): number {
    const pdeAddr = this.pgdir + (lin >>> 22) * 4;
    const pde = this.mem.readPhys32(pdeAddr);
    if (!(pde & PTE_P)) return -1;
    if (pde & PTE_PS) {
      if (!split) return -1;
      this.splitLargePage(lin);
      return this.pteAddress(lin, false);
    }
    return ((pde & ~0xfff) + ((lin >>> 12) & 0x3ff) * 4) >>> 0;
  }

  /**
   * Replace the 4 MiB PDE covering `lin` by a page table with an identical
   * mapping; no-op if it is not one. The table is a new frame, or the
   * physical page `table` (boot's fixed low-memory table).
   */
  splitLargePage(lin: number, table?: number): void {
    const pdeAddr = this.pgdir + (lin >>> 22) * 4;
    const pde = this.mem.readPhys32(pdeAddr);
    if (!(pde & PTE_P) || !(pde & PTE_PS)) return;
    const pt = table ?? this.frames.alloc();
    const base = pde & 0xffc00000;
    // PAT (bit 12 of a 4 MiB PDE) is not modelled; the remaining attribute bits mean the same in a PTE.
    const attrs = pde & (PTE_P | PTE_RW | PTE_US | 0x8 | 0x10 | PTE_A | PTE_D | PTE_G);
    const entries = new Uint8Array(4096);
    const dv = new DataView(entries.buffer);
    for (let i = 0; i < 1024; i++) dv.setUint32(i * 4, (base + i * 4096 + attrs) >>> 0, true);
    this.mem.writePhys(pt, entries);
    // The directory entry points to the table: present, writable, and as user-accessible as the page was
    // (a PDE's R/W and U/S combine with the PTE's; the PTEs carry the real rights).
    const newPde = pt | PTE_P | PTE_RW | (pde & PTE_US) | PTE_A;
    this.mem.writePhys32(pdeAddr, newPde);
    if ((lin >>> 0) >= PAGE_OFFSET) for (const f of this.kernelPdeChanged) f(lin >>> 22, newPde);
    // The translations are unchanged, but the SDM (Vol. 3 §4.10.2.3) asks for invalidation when the page size
    // of a mapping changes; the software TLB caches per 4 KiB page, so this drops 1024 entries.
    const first = ((lin >>> 22) << 22) | 0;
    for (let i = 0; i < 1024; i++) this.cpu.invalidatePage((first + i * 4096) | 0);
  }

  /** The PTE value for `lin` (after splitting a 4 MiB page), or -1 when unmapped. */
  readPte(lin: number): number {
    const a = this.pteAddress(lin);
    return a < 0 ? -1 : this.mem.readPhys32(a) >>> 0;
  }

  /** Rewrite the PTE for `lin` and INVLPG it. The page must be mapped by a page table (see pteAddress). */
  writePte(lin: number, value: number): void {
    const a = this.pteAddress(lin);
    if (a < 0) throw new RangeError(`no page table maps 0x${(lin >>> 0).toString(16)}`);
    this.mem.writePhys32(a, value);
    this.cpu.invalidatePage(lin);
  }

  /**
   * Map [start, end) page by page, skipping pages already mapped. All or
   * nothing: when the frames run out (OutOfMemory) the pages mapped so far
   * are unmapped again before the error propagates, so a failed brk or mmap
   * leaves the address space as it was (the caller returns -ENOMEM).
   */
  mapRange(start: number, end: number, writable: boolean): void {
    const mapped: number[] = [];
    try {
      for (let p = (start & ~(PAGE_SIZE - 1)) >>> 0; p < end; p += PAGE_SIZE) {
        if (!this.isMapped(p)) {
          this.mapUser(p, writable);
          mapped.push(p);
        }
      }
    } catch (e) {
      for (const p of mapped) this.unmap(p);
      throw e;
    }
  }
}
