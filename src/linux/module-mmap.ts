/**
 * mmap(2) of a module's file (mm/mmap.c's mmap_region() → call_mmap()):
 * the kernel reserves the range in the process (a VMA marked VM_PFNMAP, on
 * which nothing is demand-paged), builds a struct vm_area_struct in kernel
 * memory and calls the driver's `mmap(file, vma)` as guest code from the
 * system call; the driver maps its pages with `remap_pfn_range(vma, addr,
 * pfn, size, prot)` (pfn = virt_to_phys(p) >> PAGE_SHIFT of memory it got
 * from kmalloc() or the page allocator). Those pages are the driver's:
 * user stores are what the driver reads, munmap() and exit leave them
 * allocated, fork() shares them (src/linux/mm.ts PTE_SPECIAL). A driver
 * error unmaps the range and is mmap's result; a file without `.mmap` is
 * ENODEV, as Linux's.
 */
import type { KernelApi } from '../kernel/kapi.js';
import { PTE_P, PTE_RW, PTE_US } from '../kernel/paging.js';
import { PAGE_SIZE } from '../kernel/layout.js';
import { EACCES, EINVAL, ENODEV, ENOMEM, LinuxError } from './errno.js';
import { GuestCallRequest, type SyscallResult } from './kcall.js';
import { FILE, FMODE_READ, FMODE_WRITE, VM_AREA, write32 } from './module-abi.js';
import type { ModuleKernel } from './module-api.js';
import type { ModuleFile } from './module-file.js';
import { MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE, pageUp, type UserMm } from './mm.js';

const VM_READ = 0x1, VM_WRITE = 0x2, VM_EXEC = 0x4, VM_SHARED = 0x8, VM_MAYREAD = 0x10, VM_MAYWRITE = 0x20, VM_MAYSHARE = 0x80;
const VM_PFNMAP = 0x400, VM_IO = 0x4000, VM_DONTEXPAND = 0x40000, VM_DONTDUMP = 0x4000000;

/** The driver mmap() in progress (one at a time: the kernel is not preemptible). */
interface MmapCall {
  mm: UserMm;
  vma: number;
  start: number;
  end: number;
}
const calls = new WeakMap<KernelApi, MmapCall>();

/** Bind remap_pfn_range() (called once per kernel API). */
export function installRemapPfn(api: KernelApi, mk: ModuleKernel): void {
  const EAX = 0, EDX = 2, ECX = 1, ESP = 4;
  api.bind('remap_pfn_range', (cpu) => {
    // int remap_pfn_range(struct vm_area_struct *vma, unsigned long addr, unsigned long pfn, unsigned long size, pgprot_t prot)
    const vma = cpu.regs[EAX]! >>> 0, addr = cpu.regs[EDX]! >>> 0, pfn = cpu.regs[ECX]! >>> 0;
    const sp = cpu.regs[ESP]! >>> 0;
    const size = pageUp(mk.mem.read32(sp + 4) >>> 0), prot = mk.mem.read32(sp + 8) >>> 0;
    const c = calls.get(api);
    const ramPages = api.kernel.cpu.mem.size / PAGE_SIZE;
    const bad = !c || c.vma !== vma || addr % PAGE_SIZE !== 0 || addr < c.start || addr + size > c.end || size === 0 || pfn + size / PAGE_SIZE > ramPages;
    if (bad) {
      cpu.regs[EAX] = -EINVAL;
      return;
    }
    c.mm.remapPfn(addr, pfn, size / PAGE_SIZE, (prot & PTE_RW) !== 0);
    write32(mk.mem, vma + VM_AREA.vm_flags, (mk.mem.read32(vma + VM_AREA.vm_flags) | VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP) >>> 0);
    cpu.regs[EAX] = 0;
  });
}

/** mmap(2) of a module file: the reserved range, then the driver's mmap(); the address or the driver's error. */
export function mmapModuleFile(mk: ModuleKernel, mm: UserMm, f: ModuleFile, map: { addr: number; len: number; prot: number; flags: number; offset: number; dev: string }): SyscallResult {
  if (f.mmapOp === 0) throw new LinuxError(ENODEV);
  const fmode = mk.mem.read32(f.filp + FILE.f_mode) >>> 0;
  if (!(fmode & FMODE_READ)) throw new LinuxError(EACCES);
  const shared = (map.flags & MAP_SHARED) !== 0;
  if (shared && map.prot & PROT_WRITE && !(fmode & FMODE_WRITE)) throw new LinuxError(EACCES);
  const st = f.stat();
  const start = mm.mmap(map.addr, map.len, map.prot, map.flags, null) >>> 0;
  const end = start + pageUp(map.len);
  const v = mm.find(start)!;
  Object.assign(v, { pfnmap: true, name: f.path, offset: map.offset, dev: map.dev, inode: st.ino });
  const vma = mk.kzalloc(VM_AREA.size);
  if (vma === 0) {
    mm.munmap(start, map.len);
    throw new LinuxError(ENOMEM);
  }
  const m = mk.mem;
  const vmFlags = (map.prot & PROT_READ ? VM_READ : 0) | (map.prot & PROT_WRITE ? VM_WRITE : 0) | (map.prot & PROT_EXEC ? VM_EXEC : 0)
    | VM_MAYREAD | (fmode & FMODE_WRITE || !shared ? VM_MAYWRITE : 0) | (shared ? VM_SHARED | VM_MAYSHARE : 0);
  write32(m, vma + VM_AREA.vm_start, start);
  write32(m, vma + VM_AREA.vm_end, end);
  write32(m, vma + VM_AREA.vm_page_prot, PTE_P | PTE_US | (map.prot & PROT_WRITE ? PTE_RW : 0));
  write32(m, vma + VM_AREA.vm_flags, vmFlags);
  write32(m, vma + VM_AREA.vm_pgoff, Math.floor(map.offset / PAGE_SIZE));
  write32(m, vma + VM_AREA.vm_file, f.filp);
  calls.set(mk.api, { mm, vma, start, end });
  return new GuestCallRequest(f.mmapOp, [f.filp, vma], (eax) => {
    calls.delete(mk.api);
    mk.kfree(vma);
    if ((eax | 0) < 0) {
      mm.munmap(start, map.len);
      return eax | 0;
    }
    return start | 0;
  });
}
