/**
 * Character devices registered by modules (Linux's fs/char_dev.c and
 * drivers/char/misc.c): device-number regions (register_chrdev_region(),
 * alloc_chrdev_region(), /proc/devices), the cdev map from device numbers
 * to struct cdev (cdev_add(); __register_chrdev() allocates one for 256
 * minors), misc devices on major 10, and the /dev nodes devtmpfs would make
 * (device_create(), misc_register(), mknod(2)).
 *
 * Opening a node looks its device number up as chrdev_open() does: the cdev
 * covering it gives the file_operations; for major 10, misc_open() finds
 * the miscdevice by minor, puts it in file->private_data and uses its fops.
 */
import { EBUSY, EEXIST, EINVAL, ENXIO, LinuxError } from './errno.js';
import { S_IFCHR } from './fs/file.js';
import { CDEV, MAJOR, MINOR, MISCDEVICE, MKDEV, FILE, INODE, write16, write32, type KernelMemory } from './module-abi.js';
import type { ModuleNode } from './module-file.js';

export const MISC_MAJOR = 10;
export const MISC_DYNAMIC_MINOR = 255;
/** Dynamic majors are handed out from 254 down to 234 (CHRDEV_MAJOR_DYN_END), as Linux's find_dynamic_major(). */
const DYN_MAJOR_HIGH = 254, DYN_MAJOR_LOW = 234;
/** misc_register()'s dynamic minors: 127 down to 0 (DYNAMIC_MINORS in Linux 5.x). */
const DYNAMIC_MINORS = 128;

interface Region {
  major: number;
  baseminor: number;
  count: number;
  name: string;
}

interface CdevEntry {
  dev: number;
  count: number;
  cdev: number;
  /** Allocated by __register_chrdev() (freed by __unregister_chrdev()). */
  owned: boolean;
}

/** A /dev node: its device number and permissions. */
export interface DevNode {
  ino: number;
  rdev: number;
  mode: number;
}

export class ChrdevRegistry {
  private readonly regions: Region[] = [];
  private readonly cdevs: CdevEntry[] = [];
  private readonly misc = new Map<number, number>();
  readonly nodes = new Map<string, DevNode>();
  private readonly inodes = new Map<number, number>();
  private nextIno = 200;

  constructor(private readonly mem: KernelMemory, private readonly kzalloc: (n: number) => number) {}

  /** register_chrdev_region()/alloc_chrdev_region() (major 0: a dynamic one); returns the major. */
  registerRegion(major: number, baseminor: number, count: number, name: string): number {
    if (count === 0 || baseminor + count > 1 << 20) throw new LinuxError(EINVAL);
    if (major === 0) {
      for (let m = DYN_MAJOR_HIGH; m >= DYN_MAJOR_LOW; m--) {
        if (!this.regions.some((r) => r.major === m)) {
          major = m;
          break;
        }
      }
      if (major === 0) throw new LinuxError(EBUSY);
    }
    if (major >= 512) throw new LinuxError(EINVAL);
    const clash = this.regions.some((r) => r.major === major && r.baseminor < baseminor + count && baseminor < r.baseminor + r.count);
    if (clash) throw new LinuxError(EBUSY);
    this.regions.push({ major, baseminor, count, name });
    return major;
  }

  unregisterRegion(major: number, baseminor: number, count: number): void {
    const i = this.regions.findIndex((r) => r.major === major && r.baseminor === baseminor && r.count === count);
    if (i >= 0) this.regions.splice(i, 1);
  }

  /** cdev_add(): device numbers dev..dev+count-1 open through this cdev. */
  addCdev(cdev: number, dev: number, count: number, owned = false): void {
    if (count === 0) throw new LinuxError(EINVAL);
    if (this.cdevs.some((c) => c.dev < dev + count && dev < c.dev + c.count)) throw new LinuxError(EBUSY);
    write32(this.mem, cdev + CDEV.dev, dev);
    write32(this.mem, cdev + CDEV.count, count);
    this.cdevs.push({ dev, count, cdev, owned });
  }

  /** cdev_del(); returns whether it was kmemsim's own (to be freed). */
  delCdev(cdev: number): boolean {
    const i = this.cdevs.findIndex((c) => c.cdev === cdev);
    if (i < 0) return false;
    const [e] = this.cdevs.splice(i, 1);
    return e!.owned;
  }

  /** The cdev __register_chrdev() made for (major, baseminor). */
  ownedCdev(major: number, baseminor: number): number | undefined {
    return this.cdevs.find((c) => c.owned && c.dev === MKDEV(major, baseminor))?.cdev;
  }

  /** misc_register(): the minor given (or a dynamic one), written back; /dev/NAME. */
  registerMisc(misc: number, name: string, nodeName: string, mode: number): number {
    let minor = this.mem.read32(misc + MISCDEVICE.minor) | 0;
    if (minor === MISC_DYNAMIC_MINOR) {
      minor = -1;
      for (let i = 0; i < DYNAMIC_MINORS; i++) {
        const m = DYNAMIC_MINORS - i - 1;
        if (!this.misc.has(m)) {
          minor = m;
          break;
        }
      }
      if (minor < 0) throw new LinuxError(EBUSY);
      write32(this.mem, misc + MISCDEVICE.minor, minor);
    } else if (minor < 0 || minor >= 1 << 20) {
      throw new LinuxError(EINVAL);
    } else if (this.misc.has(minor)) {
      throw new LinuxError(EBUSY);
    }
    if (this.nodes.has(nodeName)) throw new LinuxError(EEXIST);
    void name;
    this.misc.set(minor, misc);
    this.makeNode(nodeName, MKDEV(MISC_MAJOR, minor), mode || 0o600);
    return minor;
  }

  deregisterMisc(misc: number): void {
    for (const [minor, m] of this.misc) {
      if (m !== misc) continue;
      this.misc.delete(minor);
      this.removeNodesOf(MKDEV(MISC_MAJOR, minor));
    }
  }

  /** A node in /dev (devtmpfs); an existing name is kept (EEXIST for the caller that cares). */
  makeNode(name: string, rdev: number, mode = 0o600): void {
    if (name === '' || name.includes('/') || this.nodes.has(name)) throw new LinuxError(EEXIST);
    this.nodes.set(name, { ino: this.nextIno++, rdev, mode: S_IFCHR | (mode & 0o7777) });
  }

  removeNodesOf(rdev: number): void {
    for (const [name, n] of this.nodes) if (n.rdev === rdev) this.nodes.delete(name);
  }

  /** chrdev_open(): what opening device number `rdev` means, or ENXIO when no driver has it. */
  lookup(rdev: number, ino: number, mode: number): ModuleNode {
    const major = MAJOR(rdev), minor = MINOR(rdev);
    const inode = this.inodeFor(rdev, mode, ino);
    if (major === MISC_MAJOR && this.misc.has(minor)) {
      const misc = this.misc.get(minor)!;
      return {
        inode, ino, mode, rdev, kind: 'fops', ops: this.mem.read32(misc + MISCDEVICE.fops) >>> 0,
        prepare: (filp) => write32(this.mem, filp + FILE.private_data, misc),
      };
    }
    const c = this.cdevs.find((e) => rdev >= e.dev && rdev < e.dev + e.count);
    if (!c) throw new LinuxError(ENXIO);
    write32(this.mem, inode + INODE.i_cdev, c.cdev);
    return { inode, ino, mode, rdev, kind: 'fops', ops: this.mem.read32(c.cdev + CDEV.ops) >>> 0 };
  }

  /** The node's struct inode (one per device number, made on first open, as the inode cache would keep it). */
  private inodeFor(rdev: number, mode: number, ino: number): number {
    let a = this.inodes.get(rdev);
    if (a === undefined) {
      a = this.kzalloc(INODE.size);
      if (a === 0) throw new LinuxError(12 /* ENOMEM */);
      this.inodes.set(rdev, a);
    }
    write16(this.mem, a + INODE.i_mode, mode);
    write32(this.mem, a + INODE.i_ino, ino);
    write32(this.mem, a + INODE.i_rdev, rdev);
    return a;
  }

  /** /proc/devices' "Character devices:" lines. */
  procDevices(): string {
    const majors = new Map<number, string>([[1, 'mem'], [5, '/dev/tty'], [MISC_MAJOR, 'misc']]);
    for (const r of this.regions) if (!majors.has(r.major)) majors.set(r.major, r.name);
    const lines = [...majors].sort((a, b) => a[0] - b[0]).map(([m, n]) => `${String(m).padStart(3)} ${n}`);
    return `Character devices:\n${lines.join('\n')}\n\nBlock devices:\n`;
  }
}
