/**
 * Files of the host file system, as qemu-user serves them: the guest's
 * open() opens the host file (the path already resolved and confined by
 * vfs.ts), read/write/lseek go to the host descriptor, directories are
 * listed in the host's readdir order.
 */
import * as fs from 'node:fs';
import { EISDIR, EROFS, LinuxError, host } from '../errno.js';
import {
  type DirEntry, type Stat, OpenFile, O_ACCMODE, O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_TRUNC, O_WRONLY, O_RDWR,
  S_IFDIR, S_IFMT, dtypeOf, seekPosition,
} from './file.js';

/** A node:fs BigIntStats as the kernel's kstat. */
export function statFromHost(st: fs.BigIntStats): Stat {
  const ts = (ns: bigint): { sec: number; nsec: number } => ({ sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) });
  return {
    dev: Number(st.dev), ino: Number(st.ino), mode: Number(st.mode), nlink: Number(st.nlink),
    uid: Number(st.uid), gid: Number(st.gid), rdev: Number(st.rdev), size: Number(st.size),
    blksize: Number(st.blksize), blocks: Number(st.blocks),
    atime: ts(st.atimeNs), mtime: ts(st.mtimeNs), ctime: ts(st.ctimeNs),
  };
}

export function hostLstat(p: string): Stat {
  return statFromHost(host(() => fs.lstatSync(p, { bigint: true })));
}

/** Host open(2) flags for a guest's (same numbers on x86 Linux; O_LARGEFILE and O_CLOEXEC are ours to keep). */
export function hostOpenFlags(flags: number): number {
  const c = fs.constants;
  let f = (flags & O_ACCMODE) === O_WRONLY ? c.O_WRONLY : (flags & O_ACCMODE) === O_RDWR ? c.O_RDWR : c.O_RDONLY;
  if (flags & O_CREAT) f |= c.O_CREAT;
  if (flags & O_EXCL) f |= c.O_EXCL;
  if (flags & O_TRUNC) f |= c.O_TRUNC;
  if (flags & O_APPEND) f |= c.O_APPEND;
  return f;
}

export class HostFile extends OpenFile {
  constructor(private readonly fd: number, private readonly host: string, flags: number, path: string, private readonly readOnly: boolean) {
    super(flags, path);
  }
  static open(hostPath: string, guestPath: string, flags: number, mode: number, readOnly: boolean): OpenFile {
    const writes = (flags & O_ACCMODE) !== O_RDONLY || flags & (O_CREAT | O_TRUNC);
    if (readOnly && writes) {
      // --read-only: EROFS for anything that would change the host (an O_CREAT of an existing file without O_TRUNC still opens it read-only-safely only when not for writing).
      throw new LinuxError(EROFS);
    }
    const st = host(() => fs.statSync(hostPath, { throwIfNoEntry: false }));
    if (st?.isDirectory()) {
      if ((flags & O_ACCMODE) !== O_RDONLY) throw new LinuxError(EISDIR);
      return new HostDir(hostPath, flags, guestPath);
    }
    const fd = host(() => fs.openSync(hostPath, hostOpenFlags(flags), mode));
    return new HostFile(fd, hostPath, flags, guestPath, readOnly);
  }
  stat(): Stat {
    return statFromHost(host(() => fs.fstatSync(this.fd, { bigint: true })));
  }
  override read(n: number, at?: number): Uint8Array {
    const buf = Buffer.alloc(n);
    const got = host(() => fs.readSync(this.fd, buf, 0, n, at ?? this.pos));
    if (at === undefined) this.pos += got;
    return buf.subarray(0, got);
  }
  override write(data: Uint8Array, at?: number): number {
    if (this.readOnly) throw new LinuxError(EROFS);
    let pos = at ?? this.pos;
    if (at === undefined && this.flags & O_APPEND) pos = this.stat().size;
    const n = host(() => fs.writeSync(this.fd, data, 0, data.length, pos));
    if (at === undefined) this.pos = pos + n;
    return n;
  }
  override seek(off: number, whence: number): number {
    this.pos = seekPosition(this.pos, whence === 2 ? this.stat().size : 0, off, whence);
    return this.pos;
  }
  override truncate(len: number): void {
    if (this.readOnly) throw new LinuxError(EROFS);
    host(() => fs.ftruncateSync(this.fd, len));
  }
  override mapData(offset: number, len: number): Uint8Array {
    const size = this.stat().size;
    const n = Math.max(0, Math.min(len, size - offset));
    const buf = Buffer.alloc(n);
    if (n) host(() => fs.readSync(this.fd, buf, 0, n, offset));
    return buf;
  }
  override hostPath(): string {
    return this.host;
  }
  protected override release(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already gone */
    }
  }
}

export class HostDir extends OpenFile {
  private list: DirEntry[] | null = null;
  constructor(private readonly host: string, flags: number, path: string) {
    super(flags, path);
  }
  stat(): Stat {
    return hostLstatFollow(this.host);
  }
  override entries(): DirEntry[] {
    if (this.list) return this.list;
    const out: DirEntry[] = [];
    const self = this.stat();
    out.push({ name: '.', ino: self.ino, type: dtypeOf(S_IFDIR) });
    const parent = host(() => fs.statSync(this.host + '/..', { bigint: true }));
    out.push({ name: '..', ino: Number(parent.ino), type: dtypeOf(S_IFDIR) });
    const dir = host(() => fs.opendirSync(this.host));
    try {
      for (let d = dir.readSync(); d; d = dir.readSync()) {
        let ino = 0, mode = 0;
        try {
          const st = fs.lstatSync(this.host + '/' + d.name, { bigint: true });
          ino = Number(st.ino);
          mode = Number(st.mode) & S_IFMT;
        } catch {
          /* vanished while listing */
        }
        out.push({ name: d.name, ino, type: dtypeOf(mode) });
      }
    } finally {
      dir.closeSync();
    }
    this.list = out;
    return out;
  }
  override seek(off: number, whence: number): number {
    this.pos = seekPosition(this.pos, 0, off, whence);
    if (this.pos === 0) this.list = null; // rewinddir() sees the directory anew
    return this.pos;
  }
  override read(): Uint8Array {
    throw new LinuxError(EISDIR);
  }
  override hostPath(): string {
    return this.host;
  }
}

function hostLstatFollow(p: string): Stat {
  return statFromHost(host(() => fs.statSync(p, { bigint: true })));
}
