/** Memory system calls: brk, mmap2 and old_mmap, munmap, mprotect, mremap, madvise. */
import { EACCES, EBADF, EINVAL, ENODEV, LinuxError } from './errno.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_WRITE, pageUp } from './mm.js';
import type { LinuxSystem, SyscallTable } from './linux.js';
import { S_IFMT, S_IFREG } from './fs/file.js';
import { PAGE_SIZE } from '../kernel/layout.js';
import { ModuleFile } from './module-file.js';
import { mmapModuleFile } from './module-mmap.js';
import type { SyscallResult } from './kcall.js';

export function memorySyscalls(sys: LinuxSystem): SyscallTable {
  const mm = () => sys.task.mm;

  /** do_mmap() with the offset in bytes. */
  function mmap(addr: number, len: number, prot: number, flags: number, fd: number, offset: number): SyscallResult {
    len >>>= 0;
    if (len === 0 || offset % PAGE_SIZE) throw new LinuxError(EINVAL);
    if (!(flags & (MAP_SHARED | MAP_PRIVATE))) throw new LinuxError(EINVAL);
    if (flags & MAP_ANONYMOUS) return mm().mmap(addr, len, prot, flags, null) | 0;
    const f = sys.task.files.get(fd);
    if (!f) throw new LinuxError(EBADF);
    // A module's file: the driver's mmap() maps its pages (src/linux/module-mmap.ts).
    if (f instanceof ModuleFile && sys.modules.active) return mmapModuleFile(sys.modules.active, mm(), f, { addr, len, prot, flags, offset, dev: devString(f.stat().dev) });
    if (!f.readable) throw new LinuxError(EACCES);
    const st = f.stat();
    if ((st.mode & S_IFMT) !== S_IFREG) throw new LinuxError(ENODEV);
    // A shared writable mapping of a file would need write-back: not modelled.
    if (flags & MAP_SHARED && prot & PROT_WRITE) throw new LinuxError(ENODEV);
    const data = f.mapData(offset, pageUp(len));
    return mm().mmap(addr, len, prot, flags, { data, name: f.path, offset, dev: devString(st.dev), inode: st.ino }) | 0;
  }

  return {
    45: (b) => mm().setBrk(b) | 0,
    // mmap2: the offset in 4096-byte units.
    192: (addr, len, prot, flags, fd, pgoff) => mmap(addr, len, prot, flags, fd, (pgoff >>> 0) * PAGE_SIZE),
    // old_mmap: one pointer to struct mmap_arg_struct.
    90: (args) => {
      const b = Buffer.from(sys.ua.read(args, 24));
      const off = b.readUInt32LE(20);
      return mmap(b.readUInt32LE(0), b.readUInt32LE(4), b.readUInt32LE(8), b.readUInt32LE(12), b.readInt32LE(16), off);
    },
    91: (addr, len) => (mm().munmap(addr, len >>> 0), 0),
    125: (addr, len, prot) => (mm().mprotect(addr, len >>> 0, prot), 0),
    163: (addr, oldLen, newLen, flags) => mm().mremap(addr, oldLen >>> 0, newLen >>> 0, flags) | 0,
    // madvise: MADV_DONTNEED (4) drops anonymous pages (they read back as zeroes); other advice changes nothing visible.
    219: (addr, len, advice) => {
      if ((addr >>> 0) % PAGE_SIZE) throw new LinuxError(EINVAL);
      if (advice === 4) mm().discard(addr >>> 0, (addr >>> 0) + pageUp(len >>> 0));
      return 0;
    },
  };
}

export function devString(dev: number): string {
  const major = (dev >> 8) & 0xfff, minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
}
