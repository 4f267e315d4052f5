/**
 * An open file description (Linux's struct file): what a file descriptor
 * points at, shared by dup() and fork(). Each kind of file (host file,
 * host directory, pipe end, virtual file, terminal) implements the
 * operations it has; a missing one is the errno Linux gives for it.
 */
import { EBADF, EINVAL, ENOTDIR, ENOTTY, ESPIPE, LinuxError } from '../errno.js';
import type { Timespec } from '../clock.js';

export const O_ACCMODE = 3, O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0o100, O_EXCL = 0o200, O_NOCTTY = 0o400,
  O_TRUNC = 0o1000, O_APPEND = 0o2000, O_NONBLOCK = 0o4000, O_DSYNC = 0o10000, O_DIRECTORY = 0o200000,
  O_NOFOLLOW = 0o400000, O_CLOEXEC = 0o2000000, O_LARGEFILE = 0o100000, O_PATH = 0o10000000;
export const S_IFMT = 0o170000, S_IFSOCK = 0o140000, S_IFLNK = 0o120000, S_IFREG = 0o100000, S_IFBLK = 0o60000,
  S_IFDIR = 0o40000, S_IFCHR = 0o20000, S_IFIFO = 0o10000;
export const SEEK_SET = 0, SEEK_CUR = 1, SEEK_END = 2;
export const DT_UNKNOWN = 0, DT_FIFO = 1, DT_CHR = 2, DT_DIR = 4, DT_BLK = 6, DT_REG = 8, DT_LNK = 10, DT_SOCK = 12;

export interface Stat {
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
}

export interface DirEntry {
  name: string;
  ino: number;
  type: number;
}

/** Readiness for poll/select. */
export interface PollState {
  readable: boolean;
  writable: boolean;
  hangup: boolean;
  error?: boolean;
}

/** A read or write that cannot complete now: the task sleeps until the file is ready. */
export const WOULD_BLOCK = Symbol('would block');

export abstract class OpenFile {
  /** Status flags (O_APPEND, O_NONBLOCK) and the access mode. */
  flags: number;
  /** Guest path (for /proc/self/fd and /proc/self/maps). */
  path: string;
  pos = 0;
  private refs = 1;

  constructor(flags: number, path: string) {
    this.flags = flags;
    this.path = path;
  }
  get readable(): boolean {
    return (this.flags & O_ACCMODE) !== O_WRONLY;
  }
  get writable(): boolean {
    return (this.flags & O_ACCMODE) !== O_RDONLY;
  }

  abstract stat(): Stat;

  /** Read up to n bytes at the current position (or `at` for pread). */
  read(_n: number, _at?: number): Uint8Array | typeof WOULD_BLOCK {
    throw new LinuxError(EINVAL);
  }
  write(_data: Uint8Array, _at?: number): number | typeof WOULD_BLOCK {
    throw new LinuxError(EINVAL);
  }
  /** lseek: the new position. Seekable kinds override; pipes and terminals are ESPIPE. */
  seek(off: number, whence: number): number {
    void off;
    void whence;
    throw new LinuxError(ESPIPE);
  }
  /** The whole directory, "." and ".." first. */
  entries(): DirEntry[] {
    throw new LinuxError(ENOTDIR);
  }
  ioctl(_req: number, _arg: number): number {
    throw new LinuxError(ENOTTY);
  }
  truncate(_len: number): void {
    throw new LinuxError(EINVAL);
  }
  /** Bytes for a private file mapping from `offset` (at most `len`). */
  mapData(_offset: number, _len: number): Uint8Array {
    throw new LinuxError(19 /* ENODEV */);
  }
  poll(): PollState {
    return { readable: true, writable: true, hangup: false };
  }
  /** The host path, when this is a host file (for fchdir, /proc/self/fd). */
  hostPath(): string | null {
    return null;
  }

  ref(): this {
    this.refs++;
    return this;
  }
  /** Drop one reference; the last one releases the file. */
  unref(): void {
    if (--this.refs === 0) this.release();
  }
  protected release(): void {}
}

/** Seek arithmetic shared by the seekable kinds. */
export function seekPosition(pos: number, size: number, off: number, whence: number): number {
  let n: number;
  if (whence === SEEK_SET) n = off;
  else if (whence === SEEK_CUR) n = pos + off;
  else if (whence === SEEK_END) n = size + off;
  else throw new LinuxError(EINVAL);
  if (n < 0) throw new LinuxError(EINVAL);
  return n;
}

/** A closed or invalid descriptor. */
export function badFd(): never {
  throw new LinuxError(EBADF);
}

export function dtypeOf(mode: number): number {
  switch (mode & S_IFMT) {
    case S_IFREG: return DT_REG;
    case S_IFDIR: return DT_DIR;
    case S_IFLNK: return DT_LNK;
    case S_IFCHR: return DT_CHR;
    case S_IFBLK: return DT_BLK;
    case S_IFIFO: return DT_FIFO;
    case S_IFSOCK: return DT_SOCK;
    default: return DT_UNKNOWN;
  }
}

const ZERO_TIME: Timespec = { sec: 0, nsec: 0 };
/** A stat for kernel-made objects (pipes, virtual files). */
export function syntheticStat(mode: number, ino: number, extra: Partial<Stat> = {}): Stat {
  return {
    dev: 0, ino, mode, nlink: 1, uid: 0, gid: 0, rdev: 0, size: 0, blksize: 4096, blocks: 0,
    atime: ZERO_TIME, mtime: ZERO_TIME, ctime: ZERO_TIME, ...extra,
  };
}
