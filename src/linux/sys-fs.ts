/**
 * File system calls: descriptors, reading and writing, paths, directories,
 * metadata, pipes, terminals' ioctls, select and poll.
 */
import * as fs from 'node:fs';
import {
  EBADF, EEXIST, EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTTY, EPERM, EROFS, ERANGE, ESPIPE, EACCES, LinuxError, host,
} from './errno.js';
import type { LinuxSystem, SyscallTable } from './linux.js';
import {
  type OpenFile, type PollState, O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_NONBLOCK,
  O_RDONLY, O_TRUNC, S_IFDIR, S_IFLNK, S_IFMT, WOULD_BLOCK,
} from './fs/file.js';
import { HostFile } from './fs/hostfs.js';
import { MemFile, VirtualDir } from './fs/vnode.js';
import type { Resolved } from './fs/vfs.js';
import { encodeDirents, encodeDirents64, encodeOldStat, encodeStat, encodeStatx } from './fs/stat-abi.js';
import { Pipe, PipeEnd } from './pipe.js';
import { FIONREAD } from './fs/stdio.js';
import { PATH_MAX } from './uaccess.js';
import { ModuleFile } from './module-file.js';
import { PollWait, pollModuleFiles } from './poll.js';
import type { SyscallResult } from './kcall.js';

export const AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_SYMLINK_FOLLOW = 0x400,
  AT_EMPTY_PATH = 0x1000;
const F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_GETLK = 5, F_SETLK = 6, F_SETLKW = 7,
  F_GETLK64 = 12, F_SETLK64 = 13, F_SETLKW64 = 14, F_DUPFD_CLOEXEC = 1030, FD_CLOEXEC = 1;
const POLLIN = 1, POLLPRI = 2, POLLOUT = 4, POLLERR = 8, POLLHUP = 0x10, POLLNVAL = 0x20;
const R_OK = 4, W_OK = 2, X_OK = 1;
const IOV_MAX = 1024;

export function fileSyscalls(sys: LinuxSystem): SyscallTable {
  const ua = sys.ua;
  const t = () => sys.task;
  const files = () => sys.task.files;
  const vfs = sys.vfs;

  const path = (addr: number): string => ua.readString(addr, PATH_MAX);
  /** The directory a *at() call starts from. */
  const baseDir = (dirfd: number, p: string): string => {
    if (p.startsWith('/') || dirfd === AT_FDCWD) return t().cwd;
    const f = files().get(dirfd);
    if ((f.stat().mode & S_IFMT) !== S_IFDIR) throw new LinuxError(ENOTDIR);
    return f.path;
  };
  const lookup = (dirfd: number, p: string, follow: boolean): Resolved => vfs.resolve(p, baseDir(dirfd, p), follow);
  const requireWritableHost = (r: Resolved): string => {
    if (r.kind !== 'host') throw new LinuxError(r.node.type === 'dir' ? EPERM : EACCES);
    if (vfs.readOnly) throw new LinuxError(EROFS);
    return r.host;
  };

  function openResolved(r: Resolved, flags: number, mode: number): OpenFile {
    if (r.kind === 'virtual') {
      if (flags & O_CREAT && flags & O_EXCL) throw new LinuxError(EEXIST);
      const n = r.node;
      if (flags & O_DIRECTORY && n.type !== 'dir') throw new LinuxError(ENOTDIR);
      switch (n.type) {
        case 'dir':
          if ((flags & O_ACCMODE) !== O_RDONLY) throw new LinuxError(EISDIR);
          return new VirtualDir(n, r.dev, r.parentIno, flags, r.guest);
        case 'file': return new MemFile(n, r.dev, flags, r.guest);
        case 'dev': return n.open(flags, r.guest);
        case 'link':
          if (n.open && r.followed) return n.open(flags, r.guest);
          throw new LinuxError(40 /* ELOOP: O_NOFOLLOW on a link */);
      }
    }
    if (!r.stat) {
      if (!(flags & O_CREAT)) throw new LinuxError(ENOENT);
      if (vfs.readOnly) throw new LinuxError(EROFS);
      return HostFile.open(r.host, r.guest, flags | O_EXCL, mode & ~t().umask, false);
    }
    if (flags & O_CREAT && flags & O_EXCL) throw new LinuxError(EEXIST);
    if ((r.stat.mode & S_IFMT) === S_IFLNK) throw new LinuxError(40 /* ELOOP */);
    if (flags & O_DIRECTORY && (r.stat.mode & S_IFMT) !== S_IFDIR) throw new LinuxError(ENOTDIR);
    return HostFile.open(r.host, r.guest, flags & ~O_CREAT, mode, vfs.readOnly);
  }

  function openat(dirfd: number, pathAddr: number, flags: number, mode: number): SyscallResult {
    const p = path(pathAddr);
    const r = lookup(dirfd, p, !(flags & O_NOFOLLOW));
    if (r.kind === 'virtual' && r.node.type === 'dev' && r.node.module) {
      // A module's device or /proc file: the driver's open() runs before the descriptor exists.
      if (flags & O_CREAT && flags & O_EXCL) throw new LinuxError(EEXIST);
      return sys.modules.open(r.node.module(), flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC), r.guest, (mf) => files().alloc(mf, 0, (flags & O_CLOEXEC) !== 0));
    }
    const f = openResolved(r, flags, mode);
    return files().alloc(f, 0, (flags & O_CLOEXEC) !== 0);
  }

  function read(fd: number, buf: number, count: number, at?: number): SyscallResult {
    const f = files().get(fd);
    if (f instanceof ModuleFile) return f.readUser(buf, count, at);
    if (!f.readable) throw new LinuxError(EBADF);
    if ((count | 0) < 0) throw new LinuxError(EINVAL);
    const data = f.read(Math.min(count >>> 0, 1 << 24), at);
    if (data === WOULD_BLOCK) return sys.block(() => { const s = f.poll(); return s.readable || s.hangup; });
    ua.write(buf, data);
    return data.length;
  }
  function write(fd: number, buf: number, count: number, at?: number): SyscallResult {
    const f = files().get(fd);
    if (f instanceof ModuleFile) return f.writeUser(buf, count, at);
    if (!f.writable) throw new LinuxError(EBADF);
    if ((count | 0) < 0) throw new LinuxError(EINVAL);
    const n = f.write(ua.read(buf, count >>> 0), at);
    return n === WOULD_BLOCK ? sys.block(() => { const s = f.poll(); return s.writable || !!s.error; }) : n;
  }
  function iovecs(iov: number, cnt: number): [number, number][] {
    if (cnt < 0 || cnt > IOV_MAX) throw new LinuxError(EINVAL);
    const b = Buffer.from(ua.read(iov, cnt * 8));
    return Array.from({ length: cnt }, (_, i) => [b.readUInt32LE(i * 8), b.readUInt32LE(i * 8 + 4)] as [number, number]);
  }
  function readv(fd: number, iov: number, cnt: number): SyscallResult {
    const vecs = iovecs(iov, cnt);
    const f = files().get(fd);
    if (f instanceof ModuleFile) return f.readvUser(vecs);
    if (!f.readable) throw new LinuxError(EBADF);
    const total = vecs.reduce((a, [, l]) => a + l, 0);
    const data = f.read(total);
    if (data === WOULD_BLOCK) return sys.block(() => { const s = f.poll(); return s.readable || s.hangup; });
    let o = 0;
    for (const [base, len] of vecs) {
      if (o >= data.length) break;
      const part = data.subarray(o, Math.min(data.length, o + len));
      ua.write(base, part);
      o += part.length;
    }
    return data.length;
  }
  function writev(fd: number, iov: number, cnt: number): SyscallResult {
    const vecs = iovecs(iov, cnt);
    const f = files().get(fd);
    if (f instanceof ModuleFile) return f.writevUser(vecs);
    if (!f.writable) throw new LinuxError(EBADF);
    const data = Buffer.concat(vecs.map(([b, l]) => ua.read(b, l)));
    const n = f.write(data);
    return n === WOULD_BLOCK ? sys.block(() => { const s = f.poll(); return s.writable || !!s.error; }) : n;
  }

  function statPath(dirfd: number, pathAddr: number, flags: number): ReturnType<OpenFile['stat']> {
    const p = path(pathAddr);
    if (p === '' && flags & AT_EMPTY_PATH) return files().get(dirfd).stat();
    return vfs.stat(lookup(dirfd, p, !(flags & AT_SYMLINK_NOFOLLOW)));
  }

  function getdents(fd: number, buf: number, count: number, wide: boolean): number {
    const f = files().get(fd);
    const entries = f.entries();
    const { bytes, next } = (wide ? encodeDirents64 : encodeDirents)(entries, f.pos, count >>> 0);
    if (bytes.length === 0 && next < entries.length) throw new LinuxError(EINVAL); // buffer too small for one entry
    ua.write(buf, bytes);
    f.pos = next;
    return bytes.length;
  }

  function access(dirfd: number, pathAddr: number, mode: number, flags: number): number {
    if (mode & ~7) throw new LinuxError(EINVAL);
    const r = lookup(dirfd, path(pathAddr), !(flags & AT_SYMLINK_NOFOLLOW));
    const st = vfs.stat(r);
    if (mode & W_OK && r.kind === 'host' && vfs.readOnly) throw new LinuxError(EROFS);
    if (r.kind === 'host') host(() => fs.accessSync(r.host, mode));
    else if (mode & X_OK && !(st.mode & 0o111)) throw new LinuxError(EACCES);
    void R_OK;
    return 0;
  }

  function dup3(oldfd: number, newfd: number, flags: number): number {
    if (flags & ~O_CLOEXEC) throw new LinuxError(EINVAL);
    const f = files().get(oldfd);
    if (oldfd === newfd) throw new LinuxError(EINVAL);
    files().install(newfd, f.ref(), (flags & O_CLOEXEC) !== 0);
    return newfd;
  }

  function fcntl(fd: number, cmd: number, arg: number): number {
    const f = files().get(fd);
    switch (cmd) {
      case F_DUPFD: return files().alloc(f.ref(), arg);
      case F_DUPFD_CLOEXEC: return files().alloc(f.ref(), arg, true);
      case F_GETFD: return files().getCloexec(fd) ? FD_CLOEXEC : 0;
      case F_SETFD: files().setCloexec(fd, (arg & FD_CLOEXEC) !== 0); return 0;
      case F_GETFL: return f.flags | 0o100000; // O_LARGEFILE shows as set, as for every 32-bit open64()
      case F_SETFL: f.flags = (f.flags & ~(O_APPEND | O_NONBLOCK)) | (arg & (O_APPEND | O_NONBLOCK)); return 0;
      case F_GETLK: case F_GETLK64: {
        // No locks are held by anyone else: l_type becomes F_UNLCK (2).
        ua.write(arg, Uint8Array.of(2, 0));
        return 0;
      }
      case F_SETLK: case F_SETLKW: case F_SETLK64: case F_SETLKW64: return 0;
      default: throw new LinuxError(EINVAL);
    }
  }

  function pipe2(fdsAddr: number, flags: number): number {
    if (flags & ~(O_CLOEXEC | O_NONBLOCK | 0o40000 /* O_DIRECT */)) throw new LinuxError(EINVAL);
    const p = new Pipe();
    const r = new PipeEnd(p, false, flags);
    const w = new PipeEnd(p, true, flags);
    const rfd = files().alloc(r, 0, (flags & O_CLOEXEC) !== 0);
    let wfd: number;
    try {
      wfd = files().alloc(w, 0, (flags & O_CLOEXEC) !== 0);
    } catch (e) {
      files().close(rfd);
      throw e;
    }
    const b = Buffer.alloc(8);
    b.writeInt32LE(rfd, 0);
    b.writeInt32LE(wfd, 4);
    try {
      ua.write(fdsAddr, b);
    } catch (e) {
      files().close(rfd);
      files().close(wfd);
      throw e;
    }
    return 0;
  }

  function ioctl(fd: number, req: number, arg: number): SyscallResult {
    const f = files().get(fd);
    if (f instanceof ModuleFile && req !== FIONREAD) return f.ioctlUser(req, arg);
    if (req === FIONREAD) {
      const st = f.stat();
      if (f instanceof PipeEnd) ua.write32(arg, f.pipe.size);
      else if ((st.mode & S_IFMT) === 0o100000) ua.write32(arg, Math.max(0, st.size - f.pos));
      else throw new LinuxError(ENOTTY);
      return 0;
    }
    return f.ioctl(req, arg);
  }

  function readlinkat(dirfd: number, pathAddr: number, buf: number, size: number): number {
    if ((size | 0) <= 0) throw new LinuxError(EINVAL);
    const r = lookup(dirfd, path(pathAddr), false);
    let target: string;
    if (r.kind === 'virtual') {
      if (r.node.type !== 'link') throw new LinuxError(EINVAL);
      target = r.node.target();
    } else {
      if (!r.stat) throw new LinuxError(ENOENT);
      if ((r.stat.mode & S_IFMT) !== S_IFLNK) throw new LinuxError(EINVAL);
      target = host(() => fs.readlinkSync(r.host, 'utf8'));
    }
    const b = Buffer.from(target, 'utf8').subarray(0, size >>> 0);
    ua.write(buf, b);
    return b.length;
  }

  function mkdirat(dirfd: number, pathAddr: number, mode: number): number {
    const r = lookup(dirfd, path(pathAddr), false);
    if (r.kind === 'virtual' || r.stat) throw new LinuxError(EEXIST);
    host(() => {
      if (vfs.readOnly) throw new LinuxError(EROFS);
      fs.mkdirSync(r.host, { mode: mode & 0o7777 & ~t().umask });
    });
    return 0;
  }
  function unlinkat(dirfd: number, pathAddr: number, flags: number): number {
    if (flags & ~AT_REMOVEDIR) throw new LinuxError(EINVAL);
    const r = lookup(dirfd, path(pathAddr), false);
    if (r.kind === 'host' && !r.stat) throw new LinuxError(ENOENT);
    const h = requireWritableHost(r);
    if (flags & AT_REMOVEDIR) host(() => fs.rmdirSync(h));
    else {
      if (r.kind === 'host' && (r.stat!.mode & S_IFMT) === S_IFDIR) throw new LinuxError(EISDIR);
      host(() => fs.unlinkSync(h));
    }
    return 0;
  }
  function renameat(olddir: number, oldAddr: number, newdir: number, newAddr: number, flags: number): number {
    if (flags) throw new LinuxError(EINVAL); // RENAME_NOREPLACE/EXCHANGE are not modelled
    const a = lookup(olddir, path(oldAddr), false);
    const b = lookup(newdir, path(newAddr), false);
    if (a.kind === 'host' && !a.stat) throw new LinuxError(ENOENT);
    const ha = requireWritableHost(a), hb = requireWritableHost(b);
    host(() => fs.renameSync(ha, hb));
    return 0;
  }
  function symlinkat(targetAddr: number, dirfd: number, linkAddr: number): number {
    const target = path(targetAddr);
    const r = lookup(dirfd, path(linkAddr), false);
    if (r.kind === 'virtual' || r.stat) throw new LinuxError(EEXIST);
    const h = requireWritableHost(r);
    host(() => fs.symlinkSync(target, h));
    return 0;
  }
  function linkat(olddir: number, oldAddr: number, newdir: number, newAddr: number, flags: number): number {
    const a = lookup(olddir, path(oldAddr), (flags & AT_SYMLINK_FOLLOW) !== 0);
    const b = lookup(newdir, path(newAddr), false);
    if (a.kind === 'host' && !a.stat) throw new LinuxError(ENOENT);
    if (b.kind === 'virtual' || b.stat) throw new LinuxError(EEXIST);
    const ha = requireWritableHost(a), hb = requireWritableHost(b);
    host(() => fs.linkSync(ha, hb));
    return 0;
  }
  function chmodat(dirfd: number, pathAddr: number, mode: number): number {
    const r = lookup(dirfd, path(pathAddr), true);
    if (r.kind === 'host' && !r.stat) throw new LinuxError(ENOENT);
    const h = requireWritableHost(r);
    host(() => fs.chmodSync(h, mode & 0o7777));
    return 0;
  }
  function utimensat(dirfd: number, pathAddr: number, times: number, flags: number, wide: boolean): number {
    const UTIME_NOW = 0x3fffffff, UTIME_OMIT = 0x3ffffffe;
    let target: string;
    if (pathAddr === 0) {
      const h = files().get(dirfd).hostPath();
      if (!h) throw new LinuxError(EACCES);
      if (vfs.readOnly) throw new LinuxError(EROFS);
      target = h;
    } else {
      const r = lookup(dirfd, path(pathAddr), !(flags & AT_SYMLINK_NOFOLLOW));
      if (r.kind === 'host' && !r.stat) throw new LinuxError(ENOENT);
      target = requireWritableHost(r);
    }
    const cur = host(() => fs.lstatSync(target));
    const now = sys.clock.read(0)!;
    const pick = (sec: number, nsec: number, old: Date): number | Date =>
      nsec === UTIME_NOW ? now.sec + now.nsec / 1e9 : nsec === UTIME_OMIT ? old : sec + nsec / 1e9;
    let at: number | Date = now.sec + now.nsec / 1e9, mt: number | Date = at;
    if (times) {
      const b = Buffer.from(ua.read(times, wide ? 32 : 16));
      const rd = (i: number): [number, number] => wide
        ? [Number(b.readBigInt64LE(i * 16)), Number(b.readBigInt64LE(i * 16 + 8))]
        : [b.readInt32LE(i * 8), b.readInt32LE(i * 8 + 4)];
      const [as, an] = rd(0), [ms, mn] = rd(1);
      at = pick(as, an, cur.atime);
      mt = pick(ms, mn, cur.mtime);
    }
    host(() => (flags & AT_SYMLINK_NOFOLLOW ? fs.lutimesSync(target, at, mt) : fs.utimesSync(target, at, mt)));
    return 0;
  }
  function truncatePath(pathAddr: number, len: number): number {
    const r = lookup(AT_FDCWD, path(pathAddr), true);
    if (r.kind === 'host' && !r.stat) throw new LinuxError(ENOENT);
    const h = requireWritableHost(r);
    if (len < 0) throw new LinuxError(EINVAL);
    host(() => fs.truncateSync(h, len));
    return 0;
  }
  function ftruncate(fd: number, len: number): number {
    const f = files().get(fd);
    if (len < 0 || !f.writable) throw new LinuxError(EINVAL);
    f.truncate(len);
    return 0;
  }

  function getcwd(buf: number, size: number): number {
    const b = Buffer.from(t().cwd + '\0', 'utf8');
    if ((size >>> 0) < b.length) throw new LinuxError(ERANGE);
    ua.write(buf, b);
    return b.length;
  }
  function chdirTo(r: Resolved): number {
    const st = vfs.stat(r);
    if ((st.mode & S_IFMT) !== S_IFDIR) throw new LinuxError(ENOTDIR);
    if (r.kind === 'host') host(() => fs.accessSync(r.host, fs.constants.X_OK));
    t().cwd = r.guest;
    return 0;
  }

  /**
   * Module files whose driver has a poll(): their masks come from guest calls (src/linux/poll.ts), made
   * before `body` runs with them. A call that sleeps keeps its table (the entries on the drivers' wait
   * queues) until it starts over or ends.
   */
  const pollTables = new WeakMap<object, PollWait>();
  function withModulePolls(fds: number[], willWait: boolean, body: (masks: Map<number, number>, table: PollWait | null) => SyscallResult): SyscallResult {
    const task = t();
    pollTables.get(task)?.free();
    pollTables.delete(task);
    const mods: [number, ModuleFile][] = [];
    for (const fd of new Set(fds)) {
      const f = fd >= 0 && files().has(fd) ? files().get(fd) : null;
      if (f instanceof ModuleFile && f.pollOp !== 0) mods.push([fd, f]);
    }
    const mk = sys.modules.active;
    if (mods.length === 0 || !mk) return body(new Map(), null);
    const table = willWait ? PollWait.create(mk) : null;
    return pollModuleFiles(mods, table, (masks) => {
      let r: SyscallResult;
      try {
        r = body(masks, table);
      } catch (e) {
        table?.free();
        throw e;
      }
      if (r === WOULD_BLOCK && table) pollTables.set(task, table);
      else table?.free();
      return r;
    });
  }

  function pollFiles(fds: number[], events: number[], masks: Map<number, number> = new Map()): number[] {
    return fds.map((fd, i) => {
      if (fd < 0) return 0;
      if (!files().has(fd)) return POLLNVAL;
      const mask = masks.get(fd);
      if (mask !== undefined) return mask & events[i]!; // a driver's poll(): EPOLL* bits, filtered as do_pollfd()
      const s: PollState = files().get(fd).poll();
      let rev = 0;
      if (s.readable) rev |= POLLIN & events[i]!;
      if (s.writable) rev |= POLLOUT & events[i]!;
      if (s.hangup) rev |= POLLHUP;
      if (s.error) rev |= POLLERR;
      return rev;
    });
  }
  /** poll/ppoll: ready descriptors now; none ready → time out (the clock jumps) or, without a timeout, sleep. */
  function poll(fdsAddr: number, nfds: number, timeoutNs: number | null): SyscallResult {
    if (nfds > 1024) throw new LinuxError(EINVAL);
    const b = Buffer.from(ua.read(fdsAddr, nfds * 8));
    const fds = Array.from({ length: nfds }, (_, i) => b.readInt32LE(i * 8));
    const events = Array.from({ length: nfds }, (_, i) => b.readInt16LE(i * 8 + 4) & 0xffff);
    const all = events.map((e) => e | POLLERR | POLLHUP);
    return withModulePolls(fds, timeoutNs !== 0, (masks, table) => pollReady(b, fdsAddr, fds, all, timeoutNs, masks, table));
  }
  function pollReady(b: Buffer, fdsAddr: number, fds: number[], all: number[], timeoutNs: number | null, masks: Map<number, number>, table: PollWait | null): number | typeof WOULD_BLOCK {
    const rev = pollFiles(fds, all, masks);
    const ready = rev.filter((r) => r !== 0).length;
    if (ready === 0) {
      const again = (): boolean => !!table?.woken() || pollFiles(fds, all, masks).some((r) => r !== 0);
      if (timeoutNs === null) return sys.block(again);
      if (sys.sleepFor(timeoutNs, again) === WOULD_BLOCK) return WOULD_BLOCK;
    }
    rev.forEach((r, i) => b.writeInt16LE(r, i * 8 + 6));
    ua.write(fdsAddr, b);
    return ready;
  }
  function select(nfds: number, rd: number, wr: number, ex: number, timeoutNs: number | null): SyscallResult {
    if (nfds < 0 || nfds > 1024) throw new LinuxError(EINVAL);
    const words = Math.ceil(nfds / 32);
    // A copy of its own (a small Buffer's .buffer is the shared pool, not the set).
    const readSet = (a: number): Uint32Array | null => (a ? new Uint32Array(Uint8Array.from(ua.read(a, words * 4)).buffer) : null);
    const sets = [readSet(rd), readSet(wr), readSet(ex)];
    const wanted: number[] = [];
    for (let fd = 0; fd < nfds; fd++) if (sets.some((st) => st && (st[fd >> 5]! & (1 << (fd & 31))) !== 0)) wanted.push(fd);
    return withModulePolls(wanted, timeoutNs !== 0, (masks, table) => selectReady(nfds, [rd, wr, ex], sets, words, timeoutNs, masks, table));
  }
  function selectReady(nfds: number, addrs: number[], sets: (Uint32Array | null)[], words: number, timeoutNs: number | null, masks: Map<number, number>, table: PollWait | null): number | typeof WOULD_BLOCK {
    const [rd, wr, ex] = addrs as [number, number, number];
    const out = sets.map(() => new Uint32Array(words));
    const scan = (): number => {
    let count = 0;
    for (let fd = 0; fd < nfds; fd++) {
      const bit = 1 << (fd & 31), w = fd >> 5;
      const wanted = sets.map((s) => !!s && (s[w]! & bit) !== 0);
      if (!wanted.some(Boolean)) continue;
      if (!files().has(fd)) throw new LinuxError(EBADF);
      const mask = masks.get(fd);
      // A driver's mask as select() reads it: POLLIN_SET, POLLOUT_SET, POLLEX_SET (fs/select.c).
      const s = mask === undefined ? files().get(fd).poll() : null;
      const ok = s ? [s.readable || s.hangup, s.writable || !!s.error, false] : [(mask! & 0xd9) !== 0, (mask! & 0x30c) !== 0, (mask! & 0x2) !== 0];
      for (let k = 0; k < 3; k++) if (wanted[k] && ok[k]) {
        out[k]![w]! |= bit;
        count++;
      }
    }
    return count;
    };
    const count = scan();
    if (count === 0) {
      out.forEach((o) => o.fill(0));
      const again = (): boolean => {
        if (table?.woken()) return true;
        const n = scan();
        out.forEach((o) => o.fill(0));
        return n > 0;
      };
      if (timeoutNs === null) return sys.block(again);
      if (sys.sleepFor(timeoutNs, again) === WOULD_BLOCK) return WOULD_BLOCK;
    }
    [rd, wr, ex].forEach((a, k) => a && ua.write(a, new Uint8Array(out[k]!.buffer)));
    return count;
  }
  const timeval = (a: number): number | null => {
    if (!a) return null;
    const b = Buffer.from(ua.read(a, 8));
    return b.readInt32LE(0) * 1e9 + b.readInt32LE(4) * 1e3;
  };
  const timespec = (a: number, wide: boolean): number | null => {
    if (!a) return null;
    const b = Buffer.from(ua.read(a, wide ? 16 : 8));
    return wide ? Number(b.readBigInt64LE(0)) * 1e9 + Number(b.readBigInt64LE(8)) : b.readInt32LE(0) * 1e9 + b.readInt32LE(4);
  };

  function llseek(fd: number, hi: number, lo: number, result: number, whence: number): SyscallResult {
    const off = Number((BigInt(hi | 0) << 32n) | BigInt(lo >>> 0));
    const f = files().get(fd);
    const store = (pos: number): number => {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt(pos), 0);
      ua.write(result, b);
      return 0;
    };
    if (f instanceof ModuleFile) return f.llseekUser(off, whence, store);
    return store(f.seek(off, whence));
  }
  const off64 = (lo: number, hi: number): number => Number((BigInt(hi | 0) << 32n) | BigInt(lo >>> 0));

  return {
    3: (fd, buf, n) => read(fd, buf, n),
    4: (fd, buf, n) => write(fd, buf, n),
    5: (p, flags, mode) => openat(AT_FDCWD, p, flags, mode),
    295: (dirfd, p, flags, mode) => openat(dirfd, p, flags, mode),
    8: (p, mode) => openat(AT_FDCWD, p, 0o1 | O_CREAT | O_TRUNC, mode), // creat
    6: (fd) => (files().close(fd), 0),
    145: (fd, iov, cnt) => readv(fd, iov, cnt),
    146: (fd, iov, cnt) => writev(fd, iov, cnt),
    180: (fd, buf, n, lo, hi) => {
      if (off64(lo, hi) < 0) throw new LinuxError(EINVAL);
      if (files().get(fd) instanceof PipeEnd) throw new LinuxError(ESPIPE);
      return read(fd, buf, n, off64(lo, hi));
    },
    181: (fd, buf, n, lo, hi) => {
      if (off64(lo, hi) < 0) throw new LinuxError(EINVAL);
      if (files().get(fd) instanceof PipeEnd) throw new LinuxError(ESPIPE);
      return write(fd, buf, n, off64(lo, hi));
    },
    19: (fd, off, whence) => {
      const f = files().get(fd);
      if (f instanceof ModuleFile) return f.llseekUser(off | 0, whence, (pos) => (pos > 0x7fffffff ? -75 /* EOVERFLOW */ : pos));
      const pos = f.seek(off | 0, whence);
      if (pos > 0x7fffffff) throw new LinuxError(75 /* EOVERFLOW */);
      return pos;
    },
    140: (fd, hi, lo, result, whence) => llseek(fd, hi, lo, result, whence),
    106: (p, buf) => (ua.write(buf, encodeOldStat(statPath(AT_FDCWD, p, 0))), 0),
    107: (p, buf) => (ua.write(buf, encodeOldStat(statPath(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW))), 0),
    108: (fd, buf) => (ua.write(buf, encodeOldStat(files().get(fd).stat())), 0),
    195: (p, buf) => (ua.write(buf, encodeStat(statPath(AT_FDCWD, p, 0))), 0),
    196: (p, buf) => (ua.write(buf, encodeStat(statPath(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW))), 0),
    197: (fd, buf) => (ua.write(buf, encodeStat(files().get(fd).stat())), 0),
    300: (dirfd, p, buf, flags) => (ua.write(buf, encodeStat(statPath(dirfd, p, flags))), 0),
    383: (dirfd, p, flags, _mask, buf) => (ua.write(buf, encodeStatx(statPath(dirfd, p, flags))), 0),
    220: (fd, buf, n) => getdents(fd, buf, n, true),
    141: (fd, buf, n) => getdents(fd, buf, n, false),
    33: (p, mode) => access(AT_FDCWD, p, mode, 0),
    307: (dirfd, p, mode) => access(dirfd, p, mode, 0),
    439: (dirfd, p, mode, flags) => access(dirfd, p, mode, flags),
    183: (buf, size) => getcwd(buf, size),
    12: (p) => chdirTo(lookup(AT_FDCWD, path(p), true)),
    133: (fd) => {
      const f = files().get(fd);
      return chdirTo(vfs.resolve(f.path, '/', true));
    },
    41: (fd) => files().alloc(files().get(fd).ref()),
    63: (oldfd, newfd) => {
      const f = files().get(oldfd);
      if (oldfd === newfd) return newfd;
      files().install(newfd, f.ref());
      return newfd;
    },
    330: (oldfd, newfd, flags) => dup3(oldfd, newfd, flags),
    55: (fd, cmd, arg) => fcntl(fd, cmd, arg),
    221: (fd, cmd, arg) => fcntl(fd, cmd, arg),
    42: (fdsAddr) => pipe2(fdsAddr, 0),
    331: (fdsAddr, flags) => pipe2(fdsAddr, flags),
    54: (fd, req, arg) => ioctl(fd, req >>> 0, arg),
    39: (p, mode) => mkdirat(AT_FDCWD, p, mode),
    296: (dirfd, p, mode) => mkdirat(dirfd, p, mode),
    40: (p) => unlinkat(AT_FDCWD, p, AT_REMOVEDIR),
    10: (p) => unlinkat(AT_FDCWD, p, 0),
    301: (dirfd, p, flags) => unlinkat(dirfd, p, flags),
    38: (a, b) => renameat(AT_FDCWD, a, AT_FDCWD, b, 0),
    302: (ad, a, bd, b) => renameat(ad, a, bd, b, 0),
    353: (ad, a, bd, b, flags) => renameat(ad, a, bd, b, flags),
    83: (target, link) => symlinkat(target, AT_FDCWD, link),
    304: (target, dirfd, link) => symlinkat(target, dirfd, link),
    9: (a, b) => linkat(AT_FDCWD, a, AT_FDCWD, b, 0),
    303: (ad, a, bd, b, flags) => linkat(ad, a, bd, b, flags),
    85: (p, buf, size) => readlinkat(AT_FDCWD, p, buf, size),
    305: (dirfd, p, buf, size) => readlinkat(dirfd, p, buf, size),
    15: (p, mode) => chmodat(AT_FDCWD, p, mode),
    306: (dirfd, p, mode) => chmodat(dirfd, p, mode),
    94: (fd, mode) => {
      const h = files().get(fd).hostPath();
      if (!h) return 0;
      if (vfs.readOnly) throw new LinuxError(EROFS);
      host(() => fs.chmodSync(h, mode & 0o7777));
      return 0;
    },
    320: (dirfd, p, times, flags) => utimensat(dirfd, p, times, flags, false),
    412: (dirfd, p, times, flags) => utimensat(dirfd, p, times, flags, true),
    92: (p, len) => truncatePath(p, len | 0),
    193: (p, lo, hi) => truncatePath(p, off64(lo, hi)),
    93: (fd, len) => ftruncate(fd, len | 0),
    194: (fd, lo, hi) => ftruncate(fd, off64(lo, hi)),
    // chown family: ownership is the host's; changing it is refused unless kmemsim runs as root (then done).
    212: (p, uid, gid) => chown(lookup(AT_FDCWD, path(p), true), uid, gid),
    198: (p, uid, gid) => chown(lookup(AT_FDCWD, path(p), false), uid, gid),
    298: (dirfd, p, uid, gid, flags) => chown(lookup(dirfd, path(p), !(flags & AT_SYMLINK_NOFOLLOW)), uid, gid),
    207: (fd) => (files().get(fd), 0),
    36: () => 0, // sync
    118: (fd) => (files().get(fd), 0), // fsync
    148: (fd) => (files().get(fd), 0), // fdatasync
    168: (fdsAddr, nfds, timeout) => poll(fdsAddr, nfds, timeout < 0 ? null : timeout * 1e6),
    309: (fdsAddr, nfds, ts) => poll(fdsAddr, nfds, timespec(ts, false)),
    414: (fdsAddr, nfds, ts) => poll(fdsAddr, nfds, timespec(ts, true)),
    142: (n, r, w, e, tv) => select(n, r, w, e, timeval(tv)),
    308: (n, r, w, e, ts) => select(n, r, w, e, timespec(ts, false)),
    413: (n, r, w, e, ts) => select(n, r, w, e, timespec(ts, true)),
  };

  function chown(r: Resolved, uid: number, gid: number): number {
    if (r.kind === 'host' && !r.stat) throw new LinuxError(ENOENT);
    const h = requireWritableHost(r);
    host(() => fs.lchownSync(h, uid === -1 ? Number(r.kind === 'host' ? r.stat!.uid : 0) : uid, gid === -1 ? Number(r.kind === 'host' ? r.stat!.gid : 0) : gid));
    return 0;
  }
}
void POLLPRI;
