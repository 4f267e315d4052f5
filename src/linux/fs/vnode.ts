/**
 * Kernel-made file-system objects (/dev and /proc): directories, files whose
 * contents are generated when opened, character devices and symbolic links.
 */
import { EACCES, EROFS, LinuxError } from '../errno.js';
import type { ModuleNode } from '../module-file.js';
import {
  type DirEntry, type Stat, OpenFile, O_ACCMODE, O_RDONLY, S_IFDIR, S_IFLNK, dtypeOf, seekPosition, syntheticStat,
} from './file.js';

export type VNode =
  | { type: 'dir'; ino: number; children(): Map<string, VNode> }
  | { type: 'file'; ino: number; mode: number; content(): Uint8Array }
  | {
    type: 'dev'; ino: number; mode: number; rdev: number; open(flags: number, path: string): OpenFile;
    /** A module's node (src/linux/sys-module.ts): opened through the driver's file operations, not open(). */
    module?(): ModuleNode;
  }
  | { type: 'link'; ino: number; target(): string; open?(flags: number, path: string): OpenFile };

export function vnodeStat(n: VNode, dev: number): Stat {
  switch (n.type) {
    case 'dir': return syntheticStat(S_IFDIR | 0o555, n.ino, { dev, nlink: 2 });
    case 'file': return syntheticStat(n.mode, n.ino, { dev });
    case 'dev': return syntheticStat(n.mode, n.ino, { dev, rdev: n.rdev });
    case 'link': return syntheticStat(S_IFLNK | 0o777, n.ino, { dev, size: Buffer.byteLength(n.target()) });
  }
}

/** A generated file: its contents are fixed when it is opened (as seq_file's first read would). */
export class MemFile extends OpenFile {
  private readonly data: Uint8Array;
  constructor(private readonly node: Extract<VNode, { type: 'file' }>, private readonly dev: number, flags: number, path: string) {
    super(flags, path);
    if ((flags & O_ACCMODE) !== O_RDONLY) throw new LinuxError(node.mode & 0o200 ? EROFS : EACCES);
    this.data = node.content();
  }
  stat(): Stat {
    return vnodeStat(this.node, this.dev); // size 0, as procfs reports its generated files
  }
  override read(n: number, at?: number): Uint8Array {
    const p = at ?? this.pos;
    const out = this.data.subarray(Math.min(p, this.data.length), Math.min(p + n, this.data.length));
    if (at === undefined) this.pos += out.length;
    return out.slice();
  }
  override seek(off: number, whence: number): number {
    this.pos = seekPosition(this.pos, this.data.length, off, whence);
    return this.pos;
  }
}

export class VirtualDir extends OpenFile {
  constructor(private readonly node: Extract<VNode, { type: 'dir' }>, private readonly dev: number, private readonly parentIno: number, flags: number, path: string) {
    super(flags, path);
  }
  stat(): Stat {
    return vnodeStat(this.node, this.dev);
  }
  override entries(): DirEntry[] {
    const out: DirEntry[] = [{ name: '.', ino: this.node.ino, type: dtypeOf(S_IFDIR) }, { name: '..', ino: this.parentIno, type: dtypeOf(S_IFDIR) }];
    for (const [name, n] of this.node.children()) out.push({ name, ino: n.ino, type: dtypeOf(vnodeStat(n, this.dev).mode) });
    return out;
  }
  override seek(off: number, whence: number): number {
    this.pos = seekPosition(this.pos, 0, off, whence);
    return this.pos;
  }
}
