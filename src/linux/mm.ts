/**
 * A process's user address space as Linux's mm_struct sees it: a sorted
 * list of VMAs (start, end, protection, what backs them) over the page
 * tables the kernel's AddressSpace builds. Anonymous memory, the heap and
 * the stack are demand-paged: a page gets its zeroed frame on the first
 * fault that touches it (handle_mm_fault()), and the stack VMA grows down
 * on a fault near ESP (expand_stack()). Private file mappings are copied in
 * when mapped. mprotect rewrites the PTEs of present pages; PROT_NONE pages
 * keep their frame with P clear and the PTE_PROTNONE software bit, as
 * Linux's _PAGE_PROTNONE.
 */
import type { Kernel } from '../kernel/kernel.js';
import { AddressSpace, PTE_HIDDEN, PTE_P, PTE_PS, PTE_RW, PTE_US } from '../kernel/paging.js';
import { MMAP_TOP, PAGE_OFFSET, PAGE_SIZE, PHYS_PGDIR, STACK_LIMIT, TASK_SIZE } from '../kernel/layout.js';
import { EINVAL, ENOMEM, LinuxError } from './errno.js';
import { PT_LOAD, type Elf32 } from '../elf/elf32.js';

export const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
export const MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20, MAP_GROWSDOWN = 0x100,
  MAP_FIXED_NOREPLACE = 0x100000;
export const MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2;
/** Software PTE bit 10 (AVL, ignored by the processor): a PROT_NONE page that keeps its frame. */
export const PTE_PROTNONE = 0x400;
/**
 * Software PTE bit 11 (AVL): a page a driver mapped with remap_pfn_range() — kernel memory, not the
 * process's: never freed with the mapping, shared (not copied) by fork(), as Linux's pte_special().
 */
export const PTE_SPECIAL = 0x800;

export interface Vma {
  start: number;
  end: number;
  prot: number;
  flags: number;
  /** /proc/self/maps' last column: a path, [heap], [stack], or ''. */
  name: string;
  /** File offset of `start` (file mappings), device and inode for /proc/self/maps. */
  offset: number;
  dev: string;
  inode: number;
  /** VM_PFNMAP: a driver's mmap() mapped its pages (remapPfn()); nothing is demand-paged here. */
  pfnmap?: boolean;
}

export const pageDown = (v: number): number => (v - (v % PAGE_SIZE)) >>> 0;
export const pageUp = (v: number): number => Math.ceil(v / PAGE_SIZE) * PAGE_SIZE;

export class UserMm {
  vmas: Vma[] = [];
  startBrk = 0;
  brk = 0;

  /** The page tables of this address space (each process has its own page directory). */
  readonly as: AddressSpace;

  constructor(private readonly k: Kernel, as?: AddressSpace) {
    this.as = as ?? UserMm.newAddressSpace(k);
  }

  /** A fresh page directory with the kernel's half (the direct map) as every process has it. */
  static newAddressSpace(k: Kernel): AddressSpace {
    const pgdir = k.frames.alloc();
    k.mem.zeroPhysPage(pgdir);
    for (let i = PAGE_OFFSET >>> 22; i < 1024; i++) k.mem.writePhys32(pgdir + i * 4, k.mem.readPhys32(PHYS_PGDIR + i * 4));
    return new AddressSpace(k.cpu, k.mem, k.frames, pgdir);
  }

  /**
   * fork(): a copy of this address space — the same VMAs, every present page
   * copied into a new frame (an eager copy instead of copy-on-write).
   */
  fork(): UserMm {
    // Fail before copying when the copy cannot fit (the pages, their page tables, the directory): fork's ENOMEM.
    let pages = 0;
    const tables = new Set<number>();
    for (const v of this.vmas) {
      for (let p = v.start; p < v.end; p += PAGE_SIZE) {
        const pte = this.as.readPte(p);
        if (pte >= 0 && pte & (PTE_P | PTE_PROTNONE | PTE_HIDDEN)) {
          pages++;
          tables.add(p >>> 22);
        }
      }
    }
    if (pages + tables.size + 1 > this.k.frames.available()) throw new LinuxError(ENOMEM);
    const child = new UserMm(this.k);
    try {
      this.copyInto(child);
    } catch (e) {
      child.destroy(); // out of memory half way: give back what the copy took
      throw e;
    }
    return child;
  }

  private copyInto(child: UserMm): void {
    child.vmas = this.vmas.map((v) => ({ ...v }));
    child.startBrk = this.startBrk;
    child.brk = this.brk;
    const ram = this.k.cpu.mem.u8;
    for (const v of this.vmas) {
      for (let p = v.start; p < v.end; p += PAGE_SIZE) {
        const pte = this.as.readPte(p);
        if (pte < 0 || !(pte & (PTE_P | PTE_PROTNONE | PTE_HIDDEN))) continue;
        if (pte & PTE_SPECIAL) {
          child.as.mapUser(p, false, pte & ~0xfff); // the driver's page itself, shared
          child.as.writePte(p, pte >>> 0);
          continue;
        }
        const frame = child.as.mapUser(p, true);
        const src = pte & ~0xfff;
        this.k.mem.writePhys(frame, ram.subarray(src, src + PAGE_SIZE));
        // A page the watch framework hides in this process (PTE_HIDDEN, P clear) is an ordinary page in the child.
        const flags = pte & PTE_HIDDEN ? ((pte | PTE_P) & ~PTE_HIDDEN) & 0xfff : pte & 0xfff;
        child.as.writePte(p, (frame | flags) >>> 0);
      }
    }
  }

  /** Free every user page and page table, and the page directory unless it is the boot one (exit, exec). */
  destroy(keepDirectory = false): void {
    for (const v of this.vmas) for (let p = v.start; p < v.end; p += PAGE_SIZE) this.freePage(p);
    this.vmas = [];
    const dir = this.as.pgdir;
    for (let i = 0; i < PAGE_OFFSET >>> 22; i++) {
      const pde = this.k.mem.readPhys32(dir + i * 4);
      if (!(pde & PTE_P) || pde & PTE_PS) continue;
      // Pages the VMAs no longer cover (the loader's own) go too.
      for (let j = 0; j < 1024; j++) {
        const pte = this.k.mem.readPhys32((pde & ~0xfff) + j * 4);
        if (pte & (PTE_P | PTE_PROTNONE) && !(pte & PTE_SPECIAL)) this.k.frames.release(pte & ~0xfff);
      }
      this.k.frames.release(pde & ~0xfff);
      this.k.mem.writePhys32(dir + i * 4, 0);
    }
    if (!keepDirectory && dir !== PHYS_PGDIR) this.k.frames.release(dir);
  }

  find(addr: number): Vma | undefined {
    for (const v of this.vmas) if (addr >= v.start && addr < v.end) return v;
    return undefined;
  }

  /** Insert a VMA (the range must be free). */
  insert(v: Vma): void {
    this.vmas.push(v);
    this.vmas.sort((a, b) => a.start - b.start);
  }

  /** Record the program's segments (already mapped by the loader) and set up brk and the stack VMA. */
  setupExec(segments: ElfSegmentVma[], exe: { path: string; dev: string; inode: number }, stackLow: number): void {
    let end = 0;
    for (const s of segments) {
      this.insert({ start: s.start, end: s.end, prot: s.prot, flags: MAP_PRIVATE, name: exe.path, offset: s.offset, dev: exe.dev, inode: exe.inode });
      end = Math.max(end, s.end);
    }
    this.startBrk = this.brk = end;
    this.insert({ start: stackLow, end: TASK_SIZE, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_GROWSDOWN, name: '[stack]', offset: 0, dev: '00:00', inode: 0 });
  }

  /**
   * A user-mode page fault at `addr` (write: the access was a write; esp: the
   * faulting ESP). True when it was resolved (demand-zero page, stack growth).
   */
  handleFault(addr: number, write: boolean, esp: number): boolean {
    addr >>>= 0;
    let v = this.find(addr);
    if (!v) {
      // expand_stack(): below the stack VMA, within RLIMIT_STACK and not far below ESP (the 65536 + 32 * 4 of i386's do_page_fault()).
      const stack = this.vmas.find((x) => x.flags & MAP_GROWSDOWN);
      if (!stack || addr >= stack.start || addr < TASK_SIZE - STACK_LIMIT || addr + 65536 + 32 * 4 < (esp >>> 0)) return false;
      const low = pageDown(addr);
      if (this.vmas.some((x) => x !== stack && x.end > low && x.start < stack.start)) return false;
      stack.start = low;
      v = stack;
    }
    if (!(v.prot & (PROT_READ | PROT_WRITE | PROT_EXEC))) return false;
    if (write && !(v.prot & PROT_WRITE)) return false;
    if (v.pfnmap) return false; // what the driver did not map is not there (Linux: SIGBUS)
    const page = pageDown(addr);
    const pte = this.as.readPte(page);
    if (pte >= 0 && pte & (PTE_P | PTE_PROTNONE)) return false; // present: a real protection fault
    this.as.mapUser(page, (v.prot & PROT_WRITE) !== 0);
    return true;
  }

  /** Make [addr, addr+len) present as the VMAs allow, for a kernel-side copy (what get_user_pages() does). */
  faultIn(addr: number, len: number, write: boolean): boolean {
    for (let p = pageDown(addr >>> 0); p < (addr >>> 0) + len; p += PAGE_SIZE) {
      if (this.k.cpu.lookupPhys(p | 0, write, true) >= 0) continue;
      if (!this.handleFault(p, write, p)) return false;
    }
    return true;
  }

  /** brk(2): move the program break; returns the (possibly unchanged) break. */
  setBrk(want: number): number {
    want >>>= 0;
    if (want < this.startBrk) return this.brk;
    const oldEnd = pageUp(this.brk);
    const newEnd = pageUp(want);
    if (newEnd > oldEnd) {
      if (this.overlaps(oldEnd, newEnd) || newEnd > MMAP_TOP) return this.brk;
    } else if (newEnd < oldEnd) {
      this.unmapRange(newEnd, oldEnd);
    }
    this.brk = want;
    let heap = this.vmas.find((v) => v.name === '[heap]');
    if (!heap && newEnd > this.startBrk) {
      heap = { start: this.startBrk, end: newEnd, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE, name: '[heap]', offset: 0, dev: '00:00', inode: 0 };
      this.insert(heap);
    } else if (heap) {
      heap.end = newEnd;
      if (heap.end <= heap.start) this.vmas = this.vmas.filter((v) => v !== heap);
    }
    return want;
  }

  private overlaps(start: number, end: number): boolean {
    return this.vmas.some((v) => v.start < end && start < v.end);
  }

  /** The highest free range of `size` bytes below MMAP_TOP (top-down allocation, as i386's legacy-free layout). */
  private freeArea(size: number): number {
    let top = MMAP_TOP;
    const sorted = [...this.vmas].sort((a, b) => b.start - a.start);
    for (const v of sorted) {
      if (v.start >= top) continue;
      if (v.end <= top - size) break;
      top = v.start;
    }
    const start = top - size;
    if (start < pageUp(this.brk) || start <= 0) throw new LinuxError(ENOMEM);
    return start;
  }

  /**
   * mmap(2) with a page-aligned length; `data` is the file's bytes from the
   * mapping's offset (private file mappings are copied in). Returns the address.
   */
  mmap(addr: number, len: number, prot: number, flags: number, file: { data: Uint8Array; name: string; offset: number; dev: string; inode: number } | null): number {
    addr >>>= 0;
    if (len === 0 || addr % PAGE_SIZE) throw new LinuxError(EINVAL);
    const size = pageUp(len);
    if (size > TASK_SIZE) throw new LinuxError(ENOMEM);
    let start: number;
    if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
      if (addr + size > TASK_SIZE) throw new LinuxError(ENOMEM);
      if (flags & MAP_FIXED_NOREPLACE && this.overlaps(addr, addr + size)) throw new LinuxError(17 /* EEXIST */);
      start = addr;
      this.unmapRange(start, start + size);
    } else if (addr && addr + size <= MMAP_TOP && addr >= pageUp(this.brk) && !this.overlaps(addr, addr + size)) {
      start = addr; // the hint is free: take it
    } else {
      start = this.freeArea(size);
    }
    this.insert({
      start, end: start + size, prot, flags,
      name: file?.name ?? '', offset: file?.offset ?? 0, dev: file?.dev ?? '00:00', inode: file?.inode ?? 0,
    });
    if (file && file.data.length) {
      // Copy the file's bytes in now (a private mapping's snapshot), then apply the protection.
      for (let p = start; p < start + Math.min(size, pageUp(file.data.length)); p += PAGE_SIZE) this.as.mapUser(p, true);
      this.k.mem.write(start, file.data.subarray(0, Math.min(size, file.data.length)));
      this.protectPresent(start, start + size, prot);
    }
    return start;
  }

  /**
   * remap_pfn_range(): map physical pages [pfn, pfn + pages) at `start` in the VMA a driver's mmap() is
   * setting up (marked VM_PFNMAP), writable as the mapping's protection allows.
   */
  remapPfn(start: number, pfn: number, pages: number, writable: boolean): void {
    const v = this.find(start);
    if (!v || start + pages * PAGE_SIZE > v.end) throw new LinuxError(EINVAL);
    v.pfnmap = true;
    for (let i = 0; i < pages; i++) {
      const lin = start + i * PAGE_SIZE;
      this.freePage(lin);
      this.as.mapUser(lin, writable, (pfn + i) * PAGE_SIZE);
      this.as.writePte(lin, (this.as.readPte(lin) | PTE_SPECIAL) >>> 0);
    }
  }

  /** munmap(2): drop the pages and the VMAs (splitting the ones that straddle the range). */
  munmap(addr: number, len: number): void {
    addr >>>= 0;
    if (addr % PAGE_SIZE || len === 0 || addr + len > TASK_SIZE) throw new LinuxError(EINVAL);
    this.unmapRange(addr, addr + pageUp(len));
  }

  unmapRange(start: number, end: number): void {
    for (const v of this.vmas) {
      if (v.end <= start || v.start >= end) continue;
      for (let p = Math.max(v.start, start); p < Math.min(v.end, end); p += PAGE_SIZE) this.freePage(p);
    }
    this.splitAt(start);
    this.splitAt(end);
    this.vmas = this.vmas.filter((v) => v.end <= start || v.start >= end);
  }

  private freePage(p: number): void {
    const pte = this.as.readPte(p);
    if (pte < 0 || !(pte & (PTE_P | PTE_PROTNONE))) return;
    if (pte & PTE_SPECIAL) {
      this.as.writePte(p, 0); // the driver's page stays the driver's
      return;
    }
    if (!(pte & PTE_P)) this.as.writePte(p, (pte | PTE_P) & ~PTE_PROTNONE); // so unmap() frees the frame
    this.as.unmap(p);
  }

  /** madvise(MADV_DONTNEED): drop the pages of [start, end); the next touch demand-pages zeroes again. */
  discard(start: number, end: number): void {
    for (let p = start; p < end; p += PAGE_SIZE) {
      const v = this.find(p);
      if (v && !v.inode && !v.pfnmap) this.freePage(p);
    }
  }

  /** Split the VMA containing `addr` so a VMA boundary falls there. */
  private splitAt(addr: number): void {
    const v = this.vmas.find((x) => x.start < addr && addr < x.end);
    if (!v) return;
    const tail: Vma = { ...v, start: addr, offset: v.offset + (v.name && v.inode ? addr - v.start : 0) };
    v.end = addr;
    this.insert(tail);
  }

  /** mprotect(2). Every page of the range must be mapped (else ENOMEM, as Linux). */
  mprotect(addr: number, len: number, prot: number): void {
    addr >>>= 0;
    if (addr % PAGE_SIZE) throw new LinuxError(EINVAL);
    const end = addr + pageUp(len);
    if (end > TASK_SIZE) throw new LinuxError(ENOMEM);
    if (len === 0) return;
    for (let p = addr; p < end;) {
      const v = this.find(p);
      if (!v) throw new LinuxError(ENOMEM);
      p = v.end;
    }
    this.splitAt(addr);
    this.splitAt(end);
    for (const v of this.vmas) if (v.start >= addr && v.end <= end) v.prot = prot;
    this.protectPresent(addr, end, prot);
  }

  /** Rewrite the PTEs of the present (or PROT_NONE) pages of [start, end) for `prot`. */
  private protectPresent(start: number, end: number, prot: number): void {
    for (let p = start; p < end; p += PAGE_SIZE) {
      const pte = this.as.readPte(p);
      if (pte < 0 || !(pte & (PTE_P | PTE_PROTNONE))) continue;
      const frame = (pte & ~0xfff) | (pte & PTE_SPECIAL);
      const none = !(prot & (PROT_READ | PROT_WRITE | PROT_EXEC));
      const v = none ? frame | PTE_US | PTE_PROTNONE : frame | PTE_P | PTE_US | (prot & PROT_WRITE ? PTE_RW : 0);
      this.as.writePte(p, v);
    }
  }

  /** mremap(2): shrink in place, grow in place when the pages after are free, else move (MREMAP_MAYMOVE). */
  mremap(oldAddr: number, oldLen: number, newLen: number, flags: number): number {
    oldAddr >>>= 0;
    if (oldAddr % PAGE_SIZE || flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED) || flags & MREMAP_FIXED || newLen === 0) throw new LinuxError(EINVAL);
    const oldSize = pageUp(oldLen), newSize = pageUp(newLen);
    const v = this.find(oldAddr);
    if (!v || oldAddr + oldSize > v.end) throw new LinuxError(14 /* EFAULT */);
    if (newSize <= oldSize) {
      this.unmapRange(oldAddr + newSize, oldAddr + oldSize);
      return oldAddr;
    }
    if (oldAddr + oldSize === v.end && oldAddr + newSize <= MMAP_TOP && !this.overlaps(v.end, oldAddr + newSize)) {
      v.end = oldAddr + newSize;
      return oldAddr;
    }
    if (!(flags & MREMAP_MAYMOVE)) throw new LinuxError(ENOMEM);
    const start = this.freeArea(newSize);
    // Move the frames: the new range takes over the old PTEs.
    for (let i = 0; i < oldSize; i += PAGE_SIZE) {
      const pte = this.as.readPte(oldAddr + i);
      if (pte < 0 || !(pte & (PTE_P | PTE_PROTNONE))) continue;
      this.as.mapUser(start + i, true, pte & ~0xfff);
      this.as.writePte(start + i, pte);
      this.as.writePte(oldAddr + i, 0);
    }
    this.splitAt(oldAddr);
    this.splitAt(oldAddr + oldSize);
    this.vmas = this.vmas.filter((x) => x.end <= oldAddr || x.start >= oldAddr + oldSize);
    this.insert({ ...v, start, end: start + newSize });
    return start;
  }

  /** /proc/self/maps, in Linux's show_map_vma() format. */
  maps(): string {
    const h = (n: number, w: number): string => (n >>> 0).toString(16).padStart(w, '0');
    return this.vmas.map((v) => {
      const perms = (v.prot & PROT_READ ? 'r' : '-') + (v.prot & PROT_WRITE ? 'w' : '-') + (v.prot & PROT_EXEC ? 'x' : '-') + (v.flags & MAP_SHARED ? 's' : 'p');
      // show_vma_header_prefix(), then seq_pad() to 25 + 6 * sizeof(void *) - 1 columns on i386.
      const head = `${h(v.start, 8)}-${h(v.end, 8)} ${perms} ${h(v.offset, 8)} ${v.dev} ${v.inode} `;
      return v.name ? `${head.padEnd(48)} ${v.name}\n` : `${head}\n`;
    }).join('');
  }
}

/** One PT_LOAD segment as a file-backed VMA (what load_elf_binary()'s elf_map() leaves in the mm). */
export interface ElfSegmentVma {
  start: number;
  end: number;
  prot: number;
  offset: number;
}

/** The VMAs of a program's PT_LOAD segments, page-aligned, overlaps trimmed, prot from p_flags (PF_R/PF_W/PF_X). */
export function elfSegmentVmas(elf: Elf32): ElfSegmentVma[] {
  const segments: ElfSegmentVma[] = [];
  let prevEnd = 0;
  for (const ph of elf.programHeaders) {
    if (ph.type !== PT_LOAD || ph.memsz === 0) continue;
    const start = Math.max(pageDown(ph.vaddr), prevEnd);
    const end = pageUp(ph.vaddr + ph.memsz);
    if (end <= start) continue;
    const prot = (ph.flags & 4 ? PROT_READ : 0) | (ph.flags & 2 ? PROT_WRITE : 0) | (ph.flags & 1 ? PROT_EXEC : 0);
    segments.push({ start, end, prot, offset: pageDown(ph.offset) + (start - pageDown(ph.vaddr)) });
    prevEnd = end;
  }
  return segments;
}
