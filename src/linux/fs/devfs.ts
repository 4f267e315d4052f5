/**
 * /dev: the character devices a program expects (drivers/char/mem.c's null,
 * zero, full, random and urandom — random bytes deterministic — and tty),
 * and the stdin/stdout/stderr/fd links to /proc/self/fd as udev makes them.
 */
import * as fs from 'node:fs';
import { ENOSPC, ENXIO, LinuxError } from '../errno.js';
import { OpenFile, S_IFCHR, syntheticStat, type Stat } from './file.js';
import type { VNode } from './vnode.js';
import { HostFile } from './hostfs.js';
import type { DeterministicRandom } from '../random.js';

const mkdev = (major: number, minor: number): number => (major << 8) | minor;

class CharDevice extends OpenFile {
  constructor(private readonly ino: number, private readonly rdev: number, flags: number, path: string,
    private readonly ops: { read(n: number): Uint8Array; write(d: Uint8Array): number }) {
    super(flags, path);
  }
  stat(): Stat {
    return syntheticStat(S_IFCHR | 0o666, this.ino, { dev: 5, rdev: this.rdev });
  }
  override read(n: number): Uint8Array {
    return this.ops.read(n);
  }
  override write(d: Uint8Array): number {
    return this.ops.write(d);
  }
  override seek(): number {
    return 0; // lseek on the memory devices succeeds and stays at 0
  }
}

/** `extra`: nodes made at run time (modules' devices, src/linux/sys-module.ts). */
export function devfs(random: DeterministicRandom, extra: () => Map<string, VNode> = () => new Map()): VNode {
  const chr = (ino: number, major: number, minor: number, ops: { read(n: number): Uint8Array; write(d: Uint8Array): number }): VNode => ({
    type: 'dev', ino, mode: S_IFCHR | 0o666, rdev: mkdev(major, minor),
    open: (flags, path) => new CharDevice(ino, mkdev(major, minor), flags, path, ops),
  });
  const zero = (n: number): Uint8Array => new Uint8Array(n);
  const sink = (d: Uint8Array): number => d.length;
  const link = (ino: number, target: string): VNode => ({ type: 'link', ino, target: () => target });
  const children = new Map<string, VNode>([
    ['null', chr(101, 1, 3, { read: () => new Uint8Array(0), write: sink })],
    ['zero', chr(102, 1, 5, { read: zero, write: sink })],
    ['full', chr(103, 1, 7, { read: zero, write: () => { throw new LinuxError(ENOSPC); } })],
    ['random', chr(104, 1, 8, { read: (n) => random.bytes(n), write: sink })],
    ['urandom', chr(105, 1, 9, { read: (n) => random.bytes(n), write: sink })],
    ['tty', {
      type: 'dev', ino: 106, mode: S_IFCHR | 0o666, rdev: mkdev(5, 0),
      // The controlling terminal is the host's, when kmemsim has one; else ENXIO as for a daemon.
      open: (flags, path) => {
        try {
          fs.accessSync('/dev/tty');
          return HostFile.open('/dev/tty', path, flags, 0, false);
        } catch {
          throw new LinuxError(ENXIO);
        }
      },
    }],
    ['stdin', link(107, '/proc/self/fd/0')],
    ['stdout', link(108, '/proc/self/fd/1')],
    ['stderr', link(109, '/proc/self/fd/2')],
    ['fd', link(110, '/proc/self/fd')],
  ]);
  return { type: 'dir', ino: 100, children: () => new Map([...children, ...extra()]) };
}
