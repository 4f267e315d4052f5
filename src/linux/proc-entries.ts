/**
 * /proc entries made by modules (Linux's fs/proc/generic.c): directories
 * (proc_mkdir()), files with a struct proc_ops or, as older modules pass
 * them, a struct file_operations (proc_create(), proc_create_data()), and
 * their removal (remove_proc_entry(), proc_remove(), remove_proc_subtree()).
 * Each entry is a struct proc_dir_entry * to the module — a small kernel
 * object whose address is the handle — and has a struct inode whose
 * i_private is the entry's data (PDE_DATA()).
 */
import { EEXIST, ENOENT, ENOTDIR, LinuxError } from './errno.js';
import { S_IFDIR, S_IFREG } from './fs/file.js';
import { INODE, write16, write32, type KernelMemory } from './module-abi.js';
import type { ModuleNode } from './module-file.js';

export interface ProcEntry {
  name: string;
  handle: number;
  parent: ProcEntry | null;
  ino: number;
  mode: number;
  /** Directories: their entries by name. */
  children: Map<string, ProcEntry> | null;
  /** Files: the operations and their layout, the inode. */
  ops: number;
  kind: 'fops' | 'proc';
  inode: number;
}

/** Names procfs itself serves at its top level: a module cannot take them (proc_register()'s EEXIST). */
const RESERVED = new Set(['self', 'cpuinfo', 'version', 'uptime', 'meminfo', 'modules', 'devices']);

export class ProcEntries {
  /** The top level of the module-made tree (/proc itself: handle 0, NULL as parent). */
  readonly root: ProcEntry;
  private readonly byHandle = new Map<number, ProcEntry>();
  private nextIno = 0x4000_0000;

  constructor(private readonly mem: KernelMemory, private readonly kzalloc: (n: number) => number, private readonly kfree: (a: number) => void) {
    this.root = { name: '', handle: 0, parent: null, ino: 1, mode: S_IFDIR | 0o555, children: new Map(), ops: 0, kind: 'proc', inode: 0 };
  }

  private parentOf(handle: number): ProcEntry {
    if (handle === 0) return this.root;
    const p = this.byHandle.get(handle >>> 0);
    if (!p) throw new LinuxError(ENOENT);
    if (!p.children) throw new LinuxError(ENOTDIR);
    return p;
  }

  /** Split "a/b/name" under `parent`: the directory that holds `name` (xlate_proc_name()). */
  private walk(path: string, parent: number): { dir: ProcEntry; name: string } {
    let dir = this.parentOf(parent);
    const parts = path.split('/').filter((s) => s !== '');
    if (parts.length === 0) throw new LinuxError(ENOENT);
    for (const part of parts.slice(0, -1)) {
      const next = dir.children!.get(part);
      if (!next || !next.children) throw new LinuxError(ENOENT);
      dir = next;
    }
    return { dir, name: parts[parts.length - 1]! };
  }

  /** proc_mkdir_data()/proc_create_data(): the new entry's handle (0 when it cannot be made, as Linux returns NULL). */
  create(path: string, mode: number, parent: number, file: { ops: number; kind: 'fops' | 'proc'; data: number } | null): number {
    const { dir, name } = this.walk(path, parent);
    if (dir.children!.has(name) || (dir === this.root && (RESERVED.has(name) || /^\d+$/.test(name)))) throw new LinuxError(EEXIST);
    const handle = this.kzalloc(16);
    if (handle === 0) throw new LinuxError(12 /* ENOMEM */);
    const ino = this.nextIno++;
    let inode = 0;
    const isDir = file === null;
    const fullMode = isDir ? S_IFDIR | (mode & 0o7777 || 0o555) : S_IFREG | (mode & 0o7777 || 0o444);
    inode = this.kzalloc(INODE.size);
    if (inode === 0) {
      this.kfree(handle);
      throw new LinuxError(12);
    }
    write16(this.mem, inode + INODE.i_mode, fullMode);
    write32(this.mem, inode + INODE.i_ino, ino);
    write32(this.mem, inode + INODE.i_private, file?.data ?? 0);
    const e: ProcEntry = {
      name, handle, parent: dir, ino, mode: fullMode, children: isDir ? new Map() : null,
      ops: file?.ops ?? 0, kind: file?.kind ?? 'proc', inode,
    };
    if (file) write32(this.mem, inode + INODE.i_fop, file.kind === 'fops' ? file.ops : 0);
    dir.children!.set(name, e);
    this.byHandle.set(handle, e);
    return handle;
  }

  /** remove_proc_entry(name, parent): a directory must be empty (Linux warns and removes it anyway; so does kmemsim). */
  remove(path: string, parent: number): boolean {
    let w: { dir: ProcEntry; name: string };
    try {
      w = this.walk(path, parent);
    } catch {
      return false;
    }
    const e = w.dir.children!.get(w.name);
    if (!e) return false;
    this.drop(e);
    return true;
  }

  /** proc_remove(de)/remove_proc_subtree(): the entry and everything below it. */
  removeHandle(handle: number): void {
    const e = this.byHandle.get(handle >>> 0);
    if (e) this.drop(e);
  }

  private drop(e: ProcEntry): void {
    for (const c of [...(e.children?.values() ?? [])]) this.drop(c);
    e.parent?.children?.delete(e.name);
    this.byHandle.delete(e.handle);
    this.kfree(e.handle);
    if (e.inode) this.kfree(e.inode);
  }

  /** What opening a module's /proc file means. */
  node(e: ProcEntry): ModuleNode {
    return { inode: e.inode, ino: e.ino, mode: e.mode, rdev: 0, ops: e.ops, kind: e.kind };
  }
}
