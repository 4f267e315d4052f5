/**
 * The i386 layouts of the stat family: struct stat64 (arch/x86/include/uapi/
 * asm/stat.h, 96 bytes, what stat64/lstat64/fstat64/fstatat64 fill), the old
 * struct stat (64 bytes), struct statx (include/uapi/linux/stat.h, 256 bytes)
 * and struct linux_dirent64 (getdents64).
 */
import type { DirEntry, Stat } from './file.js';

const STATX_BASIC_STATS = 0x7ff;

export function encodeStat(s: Stat): Uint8Array {
  const b = Buffer.alloc(96);
  b.writeBigUInt64LE(BigInt(s.dev), 0);
  b.writeUInt32LE(s.ino >>> 0, 12); // __st_ino
  b.writeUInt32LE(s.mode >>> 0, 16);
  b.writeUInt32LE(s.nlink >>> 0, 20);
  b.writeUInt32LE(s.uid >>> 0, 24);
  b.writeUInt32LE(s.gid >>> 0, 28);
  b.writeBigUInt64LE(BigInt(s.rdev), 32);
  b.writeBigInt64LE(BigInt(s.size), 44);
  b.writeUInt32LE(s.blksize >>> 0, 52);
  b.writeBigUInt64LE(BigInt(s.blocks), 56);
  b.writeUInt32LE(s.atime.sec >>> 0, 64);
  b.writeUInt32LE(s.atime.nsec >>> 0, 68);
  b.writeUInt32LE(s.mtime.sec >>> 0, 72);
  b.writeUInt32LE(s.mtime.nsec >>> 0, 76);
  b.writeUInt32LE(s.ctime.sec >>> 0, 80);
  b.writeUInt32LE(s.ctime.nsec >>> 0, 84);
  b.writeBigUInt64LE(BigInt(s.ino), 88);
  return b;
}

/** The pre-LFS struct stat (stat/lstat/fstat 106–108): 32-bit fields; EOVERFLOW is left to the caller. */
export function encodeOldStat(s: Stat): Uint8Array {
  const b = Buffer.alloc(64);
  b.writeUInt16LE(s.dev & 0xffff, 0);
  b.writeUInt32LE(s.ino >>> 0, 4);
  b.writeUInt16LE(s.mode & 0xffff, 8);
  b.writeUInt16LE(s.nlink & 0xffff, 10);
  b.writeUInt16LE(s.uid & 0xffff, 12);
  b.writeUInt16LE(s.gid & 0xffff, 14);
  b.writeUInt16LE(s.rdev & 0xffff, 16);
  b.writeUInt32LE(s.size >>> 0, 20);
  b.writeUInt32LE(s.blksize >>> 0, 24);
  b.writeUInt32LE(s.blocks >>> 0, 28);
  b.writeUInt32LE(s.atime.sec >>> 0, 32);
  b.writeUInt32LE(s.atime.nsec >>> 0, 36);
  b.writeUInt32LE(s.mtime.sec >>> 0, 40);
  b.writeUInt32LE(s.mtime.nsec >>> 0, 44);
  b.writeUInt32LE(s.ctime.sec >>> 0, 48);
  b.writeUInt32LE(s.ctime.nsec >>> 0, 52);
  return b;
}

const major = (dev: number): number => Number((BigInt(dev) >> 8n) & 0xfffn) | Number((BigInt(dev) >> 32n) & ~0xfffn);
const minor = (dev: number): number => Number(BigInt(dev) & 0xffn) | Number((BigInt(dev) >> 12n) & ~0xffn);

export function encodeStatx(s: Stat): Uint8Array {
  const b = Buffer.alloc(256);
  b.writeUInt32LE(STATX_BASIC_STATS, 0);
  b.writeUInt32LE(s.blksize >>> 0, 4);
  b.writeUInt32LE(s.nlink >>> 0, 16);
  b.writeUInt32LE(s.uid >>> 0, 20);
  b.writeUInt32LE(s.gid >>> 0, 24);
  b.writeUInt16LE(s.mode & 0xffff, 28);
  b.writeBigUInt64LE(BigInt(s.ino), 32);
  b.writeBigUInt64LE(BigInt(s.size), 40);
  b.writeBigUInt64LE(BigInt(s.blocks), 48);
  const ts = (off: number, t: { sec: number; nsec: number }): void => {
    b.writeBigInt64LE(BigInt(t.sec), off);
    b.writeUInt32LE(t.nsec >>> 0, off + 8);
  };
  ts(64, s.atime);
  ts(96, s.ctime);
  ts(112, s.mtime);
  b.writeUInt32LE(major(s.rdev) >>> 0, 128);
  b.writeUInt32LE(minor(s.rdev) >>> 0, 132);
  b.writeUInt32LE(major(s.dev) >>> 0, 136);
  b.writeUInt32LE(minor(s.dev) >>> 0, 140);
  return b;
}

/** Pack directory entries from index `from` into at most `size` bytes; returns the bytes and the next index. */
export function encodeDirents64(entries: DirEntry[], from: number, size: number): { bytes: Uint8Array; next: number } {
  const parts: Buffer[] = [];
  let used = 0, i = from;
  for (; i < entries.length; i++) {
    const e = entries[i]!;
    const name = Buffer.from(e.name, 'utf8');
    const reclen = (19 + name.length + 1 + 7) & ~7;
    if (used + reclen > size) break;
    const r = Buffer.alloc(reclen);
    r.writeBigUInt64LE(BigInt(e.ino), 0);
    r.writeBigInt64LE(BigInt(i + 1), 8); // d_off: the position after this entry
    r.writeUInt16LE(reclen, 16);
    r.writeUInt8(e.type, 18);
    name.copy(r, 19);
    parts.push(r);
    used += reclen;
  }
  return { bytes: Buffer.concat(parts), next: i };
}

/** The old getdents (141): struct linux_dirent { long d_ino; long d_off; u16 d_reclen; char d_name[]; pad; u8 d_type }. */
export function encodeDirents(entries: DirEntry[], from: number, size: number): { bytes: Uint8Array; next: number } {
  const parts: Buffer[] = [];
  let used = 0, i = from;
  for (; i < entries.length; i++) {
    const e = entries[i]!;
    const name = Buffer.from(e.name, 'utf8');
    const reclen = (10 + name.length + 2 + 3) & ~3;
    if (used + reclen > size) break;
    const r = Buffer.alloc(reclen);
    r.writeUInt32LE(e.ino >>> 0, 0);
    r.writeUInt32LE(i + 1, 4);
    r.writeUInt16LE(reclen, 8);
    name.copy(r, 10);
    r.writeUInt8(e.type, reclen - 1);
    parts.push(r);
    used += reclen;
  }
  return { bytes: Buffer.concat(parts), next: i };
}
