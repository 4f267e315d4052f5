/**
 * Path lookup (fs/namei.c's link_path_walk) for guest paths. Without
 * --root, guest paths are host paths as under qemu-user; with --root DIR,
 * guest "/" is DIR. Either way kmemsim walks the path itself, component by
 * component, reading every symbolic link and splicing its target in (an
 * absolute target restarts at the guest root, ".." stops at it), so no
 * path, link or /proc/self/root ever reaches a host file outside the root.
 * /dev and /proc are the kernel's own (devfs.ts, procfs.ts), never the host's.
 */
import * as fs from 'node:fs';
import { ELOOP, ENOENT, ENOTDIR, LinuxError, host } from '../errno.js';
import { S_IFDIR, S_IFLNK, S_IFMT, type Stat } from './file.js';
import { statFromHost } from './hostfs.js';
import { vnodeStat, type VNode } from './vnode.js';

const MAXSYMLINKS = 40;

export type Resolved =
  | { kind: 'host'; guest: string; host: string; stat: Stat | null }
  | { kind: 'virtual'; guest: string; node: VNode; dev: number; parentIno: number; followed?: boolean };

export interface VfsOptions {
  /** Host directory that is the guest's "/" (default: the host's "/"). */
  root?: string;
  readOnly?: boolean;
  /** The kernel's file systems by guest path without the leading "/" ("proc", "sys/kernel/tracing"). */
  mounts: Map<string, VNode>;
}

export class Vfs {
  readonly root: string;
  readonly readOnly: boolean;
  private readonly mounts: Map<string, VNode>;
  /** The mounts' paths as components, deepest first. */
  private readonly mountPaths: { comps: string[]; node: VNode }[];

  constructor(o: VfsOptions) {
    this.root = o.root ? fs.realpathSync(o.root) : '/';
    this.readOnly = !!o.readOnly;
    this.mounts = o.mounts;
    this.mountPaths = [...o.mounts].map(([k, node]) => ({ comps: split(k), node })).sort((a, b) => b.comps.length - a.comps.length);
  }

  hostPathOf(comps: string[]): string {
    const rel = comps.join('/');
    return this.root === '/' ? '/' + rel : rel ? `${this.root}/${rel}` : this.root;
  }

  /**
   * Walk `path` from `cwd` (an absolute guest path). `follow`: follow a
   * symbolic link in the last component. A missing last component resolves
   * with stat null (for O_CREAT, mkdir, ...); a missing directory is ENOENT.
   */
  resolve(path: string, cwd: string, follow: boolean): Resolved {
    if (path === '') throw new LinuxError(ENOENT);
    let comps: string[] = path.startsWith('/') ? [] : split(cwd);
    const pending = split(path).reverse();
    const mustBeDir = path.endsWith('/');
    let links = 0;
    while (pending.length) {
      const c = pending.pop()!;
      if (c === '.') continue;
      if (c === '..') {
        comps.pop();
        continue;
      }
      const isLast = pending.length === 0;
      const cand = [...comps, c];
      const v = this.lookupVirtual(cand);
      if (v !== undefined) {
        if (v === null) {
          if (isLast) throw new LinuxError(ENOENT);
          throw new LinuxError(ENOENT);
        }
        if (v.node.type === 'link' && (!isLast || follow || mustBeDir)) {
          if (v.node.open && isLast) return { kind: 'virtual', guest: '/' + cand.join('/'), node: v.node, dev: v.dev, parentIno: v.parentIno, followed: true };
          if (++links > MAXSYMLINKS) throw new LinuxError(ELOOP);
          const t = v.node.target();
          if (t.startsWith('/')) comps = [];
          pending.push(...split(t).reverse());
          continue;
        }
        if (!isLast && v.node.type !== 'dir') throw new LinuxError(ENOTDIR);
        comps = cand;
        if (isLast) return { kind: 'virtual', guest: '/' + comps.join('/'), node: v.node, dev: v.dev, parentIno: v.parentIno };
        continue;
      }
      const hostPath = this.hostPathOf(cand);
      let st: fs.BigIntStats | undefined;
      try {
        st = fs.lstatSync(hostPath, { bigint: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && isLast) return { kind: 'host', guest: '/' + cand.join('/'), host: hostPath, stat: null };
        host(() => { throw e; });
      }
      const mode = Number(st!.mode) & S_IFMT;
      if (mode === S_IFLNK && (!isLast || follow || mustBeDir)) {
        if (++links > MAXSYMLINKS) throw new LinuxError(ELOOP);
        const t = host(() => fs.readlinkSync(hostPath, 'utf8'));
        if (t.startsWith('/')) comps = [];
        pending.push(...split(t).reverse());
        if (pending.length === 0) pending.push('.');
        continue;
      }
      if ((!isLast || mustBeDir) && mode !== S_IFDIR) throw new LinuxError(ENOTDIR);
      comps = cand;
      if (isLast) return { kind: 'host', guest: '/' + comps.join('/'), host: hostPath, stat: statFromHost(st!) };
    }
    // The path ended at a directory reached by "." / ".." / a link's target ("/", "a/..").
    const v = this.lookupVirtual(comps);
    if (v) return { kind: 'virtual', guest: '/' + comps.join('/'), node: v.node, dev: v.dev, parentIno: v.parentIno };
    const hostPath = this.hostPathOf(comps);
    return { kind: 'host', guest: '/' + comps.join('/'), host: hostPath, stat: statFromHost(host(() => fs.statSync(hostPath, { bigint: true }))) };
  }

  /**
   * The kernel's node for guest path components under a mount: undefined outside mounts, null when missing.
   * A mount point may be several components deep (debugfs at sys/kernel/debug); the directories above it
   * are the host's when it has them, else empty directories holding the way to the mount.
   */
  private lookupVirtual(comps: string[]): { node: VNode; dev: number; parentIno: number } | null | undefined {
    if (comps.length === 0) return undefined;
    const m = this.mountPaths.find((p) => p.comps.length <= comps.length && p.comps.every((c, i) => c === comps[i]));
    if (!m) return this.mountWay(comps);
    const dev = comps[0] === 'proc' ? 4 : 5;
    let node: VNode = m.node;
    let parentIno = 2;
    for (const c of comps.slice(m.comps.length)) {
      if (node.type !== 'dir') return null;
      const next = node.children().get(c);
      if (!next) return null;
      parentIno = node.ino;
      node = next;
    }
    return { node, dev, parentIno };
  }

  /**
   * The way to a deeper mount (/sys/kernel for sys/kernel/tracing) where the host has no such
   * directory (under --root, in a container): a directory holding the next component. Else undefined.
   */
  private mountWay(comps: string[]): { node: VNode; dev: number; parentIno: number } | undefined {
    const deeper = this.mountPaths.filter((p) => p.comps.length > comps.length && comps.every((c, i) => c === p.comps[i]));
    if (deeper.length === 0 || fs.existsSync(this.hostPathOf(comps))) return undefined;
    const ino = (depth: number): number => 0x5000 + depth;
    const children = (): Map<string, VNode> => new Map(deeper.map((p) => {
      const name = p.comps[comps.length]!;
      const child: VNode = p.comps.length === comps.length + 1 ? p.node : { type: 'dir', ino: ino(comps.length + 1), children: () => new Map() };
      return [name, child];
    }));
    return { node: { type: 'dir', ino: ino(comps.length), children }, dev: 5, parentIno: 2 };
  }

  stat(r: Resolved): Stat {
    if (r.kind === 'host') {
      if (!r.stat) throw new LinuxError(ENOENT);
      return r.stat;
    }
    if (r.node.type === 'link' && r.node.open && r.followed) {
      // A magic link (/proc/self/fd/N) stats the open file it names.
      const f = r.node.open(0, r.guest);
      try {
        return f.stat();
      } finally {
        f.unref();
      }
    }
    return vnodeStat(r.node, r.dev);
  }
}

export function split(p: string): string[] {
  return p.split('/').filter((c) => c !== '');
}

/** The directory and name parts of a resolved path's guest components. */
export function isDirStat(s: Stat): boolean {
  return (s.mode & S_IFMT) === S_IFDIR;
}
