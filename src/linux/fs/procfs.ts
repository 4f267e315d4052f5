/**
 * /proc: the entries programs read about themselves — /proc/self (a link to
 * /proc/<pid>), exe, cwd, root, fd/N, maps (Linux's format), cmdline,
 * environ, comm, stat's neighbours are not modelled — and /proc/cpuinfo (from the
 * simulated CPU's CPUID), /proc/version, /proc/uptime, /proc/meminfo.
 */
import { S_IFREG } from './file.js';
import type { OpenFile } from './file.js';
import type { VNode } from './vnode.js';

/** What procfs needs to know about a process. */
export interface ProcView {
  pid: number;
  exe: string;
  /** current->comm (a byte string: one character per byte). */
  comm: string;
  cwd: string;
  argv: string[];
  env: string[];
  maps(): string;
  /** Open descriptors: number → file. */
  fds(): Map<number, OpenFile>;
}

export interface ProcSystem {
  /** The process with this pid, or undefined. */
  process(pid: number): ProcView | undefined;
  pids(): number[];
  self(): number;
  cpuinfo(): string;
  version: string;
  uptimeSeconds(): number;
  memTotalKiB: number;
  memFreeKiB(): number;
  /** Entries made at run time: modules' /proc files, /proc/modules (src/linux/sys-module.ts). */
  extra?(): Map<string, VNode>;
}

const text = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const file = (ino: number, content: () => string | Uint8Array): VNode => ({
  type: 'file', ino, mode: S_IFREG | 0o444,
  content: () => {
    const c = content();
    return typeof c === 'string' ? text(c) : c;
  },
});
const nul = (items: string[]): Uint8Array => Buffer.from(items.map((s) => s + '\0').join(''), 'utf8');

function processDir(sys: ProcSystem, pid: number): VNode {
  const base = 0x10000 + pid * 64;
  const p = (): ProcView | undefined => sys.process(pid);
  const fdDir: VNode = {
    type: 'dir', ino: base + 1,
    children: () => {
      const m = new Map<string, VNode>();
      for (const [n, f] of p()?.fds() ?? []) {
        m.set(String(n), { type: 'link', ino: base + 32 + (n % 32), target: () => f.path, open: () => f.ref() });
      }
      return m;
    },
  };
  const children = (): Map<string, VNode> => new Map<string, VNode>([
    ['exe', { type: 'link', ino: base + 2, target: () => p()?.exe ?? '' }],
    ['cwd', { type: 'link', ino: base + 3, target: () => p()?.cwd ?? '/' }],
    // The guest's root is its own "/": following /proc/self/root never leaves --root.
    ['root', { type: 'link', ino: base + 4, target: () => '/' }],
    ['fd', fdDir],
    ['maps', file(base + 5, () => p()?.maps() ?? '')],
    ['cmdline', file(base + 6, () => nul(p()?.argv ?? []))],
    ['environ', file(base + 7, () => nul(p()?.env ?? []))],
    // comm_show(): the task's comm and a newline.
    ['comm', file(base + 8, () => Buffer.from(`${p()?.comm ?? ''}\n`, 'latin1'))],
  ]);
  return { type: 'dir', ino: base, children };
}

export function procfs(sys: ProcSystem): VNode {
  return {
    type: 'dir', ino: 1,
    children: () => {
      const m = new Map<string, VNode>([
        ['self', { type: 'link', ino: 2, target: () => String(sys.self()) }],
        ['cpuinfo', file(3, () => sys.cpuinfo())],
        ['version', file(4, () => sys.version + '\n')],
        ['uptime', file(5, () => { const u = sys.uptimeSeconds(); return `${u.toFixed(2)} ${u.toFixed(2)}\n`; })],
        ['meminfo', file(6, () => `MemTotal:     ${String(sys.memTotalKiB).padStart(10)} kB\nMemFree:      ${String(sys.memFreeKiB()).padStart(10)} kB\n`)],
      ]);
      for (const [name, n] of sys.extra?.() ?? []) m.set(name, n);
      for (const pid of sys.pids()) m.set(String(pid), processDir(sys, pid));
      return m;
    },
  };
}
