/**
 * debugfs, mounted at /sys/kernel/debug as on a Linux system: the kernel's
 * own debug files, whose file operations are kernel functions called from
 * the system calls as a module's are (src/linux/module-file.ts).
 *
 * | file | when | operations |
 * | --- | --- | --- |
 * | `page_owner` (0400) | booted with `--kernel-param page_owner=on` (pageowner_init()) | `.read = read_page_owner` (src/kernel/mm/page-owner.ts): one allocated block's record per read(2), in Linux's format |
 *
 * The rest of /sys is the host's (or absent under --root).
 */
import { pageOwnerEnabled } from '../kernel/mm/page-owner.js';
import type { KernelApi } from '../kernel/kapi.js';
import { ENOENT, LinuxError } from './errno.js';
import { S_IFREG } from './fs/file.js';
import type { VNode } from './fs/vnode.js';
import { FILE_OPERATIONS, INODE, write16, write32 } from './module-abi.js';
import type { ModuleKernel } from './module-api.js';
import type { ModuleNode } from './module-file.js';

/** Where debugfs is mounted (the guest path's components). */
export const DEBUGFS_MOUNT = 'sys/kernel/debug';

const DEBUGFS_INO = 0x5000_0000;

interface DebugfsHost {
  kernelParams(): readonly string[];
  /** The kernel API (installed on first use). */
  ensure(): { api: KernelApi; mk: ModuleKernel };
}

interface DebugFile {
  name: string;
  mode: number;
  /** The kernel function for each file operation, by struct file_operations field. */
  ops: Partial<Record<Exclude<keyof typeof FILE_OPERATIONS, 'size'>, string>>;
  exists(params: readonly string[]): boolean;
}

const FILES: DebugFile[] = [
  { name: 'page_owner', mode: S_IFREG | 0o400, ops: { read: 'read_page_owner' }, exists: pageOwnerEnabled },
];

export function debugfs(host: DebugfsHost): VNode {
  /** Each file's struct file_operations and struct inode in kernel memory, made at its first open (debugfs_create_file()). */
  const made = new Map<string, ModuleNode>();
  const node = (f: DebugFile, ino: number): ModuleNode => {
    let n = made.get(f.name);
    if (n) return n;
    const { api, mk } = host.ensure();
    const fops = mk.kzalloc(FILE_OPERATIONS.size);
    const inode = mk.kzalloc(INODE.size);
    if (!fops || !inode) throw new LinuxError(12 /* ENOMEM */);
    for (const [field, fn] of Object.entries(f.ops)) {
      const addr = api.get(fn);
      if (addr === undefined) throw new LinuxError(ENOENT);
      write32(mk.mem, fops + FILE_OPERATIONS[field as Exclude<keyof typeof FILE_OPERATIONS, 'size'>], addr);
    }
    write16(mk.mem, inode + INODE.i_mode, f.mode);
    write32(mk.mem, inode + INODE.i_ino, ino);
    write32(mk.mem, inode + INODE.i_fop, fops);
    n = { inode, ino, mode: f.mode, rdev: 0, ops: fops, kind: 'fops' };
    made.set(f.name, n);
    return n;
  };
  return {
    type: 'dir', ino: DEBUGFS_INO,
    children: () => {
      const m = new Map<string, VNode>();
      const params = host.kernelParams();
      FILES.forEach((f, i) => {
        if (!f.exists(params)) return;
        const ino = DEBUGFS_INO + 1 + i;
        m.set(f.name, { type: 'dev', ino, mode: f.mode, rdev: 0, open: () => { throw new LinuxError(ENOENT); }, module: () => node(f, ino) });
      });
      return m;
    },
  };
}
