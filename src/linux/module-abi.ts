/**
 * The layouts of the kernel structures that modules and the kernel share,
 * as kmemsim's own headers define them (include/linux/fs.h, proc_fs.h,
 * miscdevice.h, cdev.h, module.h; i386: 4-byte pointers, loff_t aligned to
 * 4 inside structures). Field order follows Linux 5.10 where the fields
 * exist there, so designated initializers written for Linux compile; the
 * offsets are kmemsim's (modules are built against these headers, never
 * against a real kernel's). test/linux/module-abi.test.ts compiles every
 * offset below as a _Static_assert against the headers.
 */

/** struct file (include/linux/fs.h). */
export const FILE = {
  size: 52,
  f_inode: 8,
  f_op: 12,
  f_count: 20,
  f_flags: 24,
  f_mode: 28,
  f_pos: 32,
  private_data: 40,
  /** The loff_t a pread()/pwrite() passes as its position (Linux uses one on the caller's stack). */
  f_ppos: 44,
} as const;

/** struct inode (include/linux/fs.h). */
export const INODE = {
  size: 48,
  i_mode: 0,
  i_ino: 16,
  i_rdev: 20,
  i_private: 32,
  i_fop: 36,
  i_cdev: 40,
} as const;

/** struct file_operations (include/linux/fs.h): the members kmemsim calls. */
export const FILE_OPERATIONS = {
  owner: 0,
  llseek: 4,
  read: 8,
  write: 12,
  poll: 36,
  unlocked_ioctl: 40,
  compat_ioctl: 44,
  mmap: 48,
  open: 56,
  flush: 60,
  release: 64,
  size: 116,
} as const;

/** struct vm_area_struct (include/linux/mm.h, kmemsim's layout in Linux's field order). */
export const VM_AREA = {
  vm_start: 0,
  vm_end: 4,
  vm_mm: 8,
  vm_page_prot: 12,
  vm_flags: 16,
  vm_ops: 20,
  vm_pgoff: 24,
  vm_file: 28,
  vm_private_data: 32,
  size: 36,
} as const;

/** struct proc_ops (include/linux/proc_fs.h, Linux 5.6+). */
export const PROC_OPS = {
  proc_flags: 0,
  proc_open: 4,
  proc_read: 8,
  proc_write: 16,
  proc_lseek: 20,
  proc_release: 24,
  proc_poll: 28,
  proc_ioctl: 32,
} as const;

/** struct miscdevice (include/linux/miscdevice.h). */
export const MISCDEVICE = {
  minor: 0,
  name: 4,
  fops: 8,
  nodename: 32,
  mode: 36,
} as const;

/** struct cdev (include/linux/cdev.h). */
export const CDEV = {
  size: 36,
  owner: 12,
  ops: 16,
  dev: 28,
  count: 32,
} as const;

/** struct module (include/linux/module.h): what kmemsim cc's generated NAME.mod.c fills in. */
export const MODULE = {
  size: 80,
  state: 0,
  name: 12,
  nameLength: 56,
  init: 68,
  exit: 72,
  refcnt: 76,
} as const;

/** struct device (include/linux/device.h): kmemsim's minimal one (devt, driver data). */
export const DEVICE = {
  size: 16,
  devt: 0,
  driver_data: 4,
  class: 8,
} as const;

/** fmode_t bits (include/linux/fs.h). */
export const FMODE_READ = 0x1, FMODE_WRITE = 0x2, FMODE_LSEEK = 0x4, FMODE_PREAD = 0x8, FMODE_PWRITE = 0x10;

/** dev_t as the kernel keeps it (include/linux/kdev_t.h): 12-bit major, 20-bit minor. */
export const MINORBITS = 20;
export const MKDEV = (major: number, minor: number): number => ((major << MINORBITS) | minor) >>> 0;
export const MAJOR = (dev: number): number => dev >>> MINORBITS;
export const MINOR = (dev: number): number => dev & ((1 << MINORBITS) - 1);

/** Host-side stores into kernel memory through the API's accessor (which sees pages kmemcheck hides). */
export interface KernelMemory {
  read(lin: number, len: number): Uint8Array;
  write(lin: number, data: Uint8Array): void;
  read32(lin: number): number;
}

export function write32(m: KernelMemory, addr: number, v: number): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  m.write(addr, b);
}

export function write16(m: KernelMemory, addr: number, v: number): void {
  m.write(addr, Uint8Array.of(v & 0xff, (v >>> 8) & 0xff));
}

/** A NUL-terminated string in kernel memory (at most `max` bytes), or null at NULL. */
export function readCString(m: KernelMemory, addr: number, max = 4096): string | null {
  if (addr === 0) return null;
  const out: number[] = [];
  for (let a = addr >>> 0; out.length < max; a++) {
    const b = m.read(a, 1)[0]!;
    if (b === 0) break;
    out.push(b);
  }
  return Buffer.from(out).toString('latin1');
}
