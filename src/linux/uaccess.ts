/**
 * copy_from_user()/copy_to_user(): system calls read and write the calling
 * process's memory through the kernel's one guest-memory accessor, with the
 * user-mode checks, after faulting in the demand-paged pages the VMAs allow
 * (a read() into a fresh malloc'd buffer). Anything else is EFAULT.
 */
import { TASK_SIZE } from '../kernel/layout.js';
import type { Kernel } from '../kernel/kernel.js';
import type { UserMm } from './mm.js';
import { EFAULT, ENAMETOOLONG, LinuxError } from './errno.js';

export const PATH_MAX = 4096;

export class UserAccess {
  constructor(private readonly k: Kernel, private readonly mm: () => UserMm) {}

  private prepare(addr: number, len: number, write: boolean): void {
    if (len === 0) return;
    if ((addr >>> 0) + len > TASK_SIZE || !this.mm().faultIn(addr, len, write)) throw new LinuxError(EFAULT);
  }

  read(addr: number, len: number): Uint8Array {
    this.prepare(addr, len, false);
    return this.k.mem.read(addr, len, true);
  }
  write(addr: number, data: Uint8Array): void {
    this.prepare(addr, data.length, true);
    this.k.mem.write(addr, data, true);
  }
  read32(addr: number): number {
    this.prepare(addr, 4, false);
    return this.k.mem.read32(addr, true);
  }
  write32(addr: number, v: number): void {
    this.prepare(addr, 4, true);
    this.k.mem.write32(addr, v, true);
  }
  /** A NUL-terminated string (strncpy_from_user()): ENAMETOOLONG past `max` bytes. */
  readString(addr: number, max = PATH_MAX): string {
    return Buffer.from(this.readCBytes(addr, max)).toString('utf8');
  }
  readCBytes(addr: number, max = PATH_MAX): Uint8Array {
    const out: Uint8Array[] = [];
    let a = addr >>> 0, total = 0;
    for (;;) {
      const n = 4096 - (a & 0xfff);
      const chunk = this.read(a, n);
      const z = chunk.indexOf(0);
      if (z >= 0) {
        out.push(chunk.subarray(0, z));
        total += z;
        if (total >= max) throw new LinuxError(ENAMETOOLONG);
        return Buffer.concat(out);
      }
      out.push(chunk);
      total += n;
      if (total >= max) throw new LinuxError(ENAMETOOLONG);
      a += n;
    }
  }
  /** A NULL-terminated array of string pointers (argv, envp). */
  readStringArray(addr: number, maxTotal = 128 * 1024): string[] {
    const out: string[] = [];
    if (addr === 0) return out;
    let total = 0;
    for (let i = 0; ; i++) {
      const p = this.read32(addr + i * 4);
      if (p === 0) return out;
      const s = this.readString(p, maxTotal);
      total += s.length + 1;
      if (total > maxTotal) throw new LinuxError(7 /* E2BIG */);
      out.push(s);
    }
  }
}
