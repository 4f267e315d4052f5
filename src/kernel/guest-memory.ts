/**
 * The one host-side accessor for guest memory (DESIGN.md: "every host-side
 * read or write of guest memory goes through one accessor"). Kernel code
 * written in TypeScript — system calls, the loader, later kmemcheck reports
 * and tracers — reads and writes through here, translating through the
 * guest's page tables as the given privilege would. Like copy_from_user(),
 * a missing or forbidden page is reported, not crashed on.
 */
import type { CPU } from '../cpu/cpu.js';

export class GuestFault extends Error {
  constructor(readonly address: number, readonly write: boolean) {
    super(`guest address 0x${(address >>> 0).toString(16)} is not ${write ? 'writable' : 'readable'}`);
  }
}

export class GuestMemory {
  constructor(private readonly cpu: CPU) {}

  /** Physical address for `lin`, or throw GuestFault. `user` applies the U/S check. */
  private phys(lin: number, write: boolean, user: boolean): number {
    const p = this.cpu.lookupPhys(lin | 0, write, user);
    if (p < 0 || p >= this.cpu.mem.size) throw new GuestFault(lin, write);
    return p;
  }

  read(lin: number, len: number, user = false): Uint8Array {
    const out = new Uint8Array(len);
    let i = 0;
    while (i < len) {
      const a = (lin + i) | 0;
      const p = this.phys(a, false, user);
      const n = Math.min(len - i, 4096 - (a & 0xfff));
      out.set(this.cpu.mem.u8.subarray(p, p + n), i);
      i += n;
    }
    return out;
  }

  write(lin: number, data: Uint8Array, user = false): void {
    // Check every page first so a failing copy writes nothing.
    for (let i = 0; i < data.length; i += 4096 - ((lin + i) & 0xfff)) this.phys((lin + i) | 0, true, user);
    if (data.length) this.phys((lin + data.length - 1) | 0, true, user);
    let i = 0;
    while (i < data.length) {
      const a = (lin + i) | 0;
      const p = this.phys(a, true, user);
      const n = Math.min(data.length - i, 4096 - (a & 0xfff));
      this.cpu.writePhys(p, data.subarray(i, i + n));
      i += n;
    }
  }

  // The dword accessors are what trap handlers use on every fault (frames, EFLAGS images): within a
  // page they translate once and allocate nothing.
  read32(lin: number, user = false): number {
    if ((lin & 0xfff) <= 0xffc) return this.cpu.mem.read32(this.phys(lin, false, user));
    const b = this.read(lin, 4, user);
    return b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24);
  }
  write32(lin: number, v: number, user = false): void {
    if ((lin & 0xfff) <= 0xffc) {
      this.cpu.writePhys32(this.phys(lin, true, user), v);
      return;
    }
    this.write(lin, new Uint8Array([v, v >> 8, v >> 16, v >> 24]), user);
  }
  read16(lin: number, user = false): number {
    const b = this.read(lin, 2, user);
    return b[0] | (b[1] << 8);
  }
  write16(lin: number, v: number, user = false): void {
    this.write(lin, new Uint8Array([v, v >> 8]), user);
  }

  /** A NUL-terminated string, at most `max` bytes. */
  readCString(lin: number, max = 4096, user = false): string {
    const bytes: number[] = [];
    for (let i = 0; i < max; i++) {
      const b = this.read((lin + i) | 0, 1, user)[0];
      if (b === 0) break;
      bytes.push(b);
    }
    return Buffer.from(bytes).toString('latin1');
  }

  /** Physical memory as seen by the kernel's direct map: used for page tables and zeroing fresh pages. */
  writePhys(phys: number, data: Uint8Array): void {
    this.cpu.writePhys(phys, data);
  }
  readPhys32(phys: number): number {
    return this.cpu.mem.read32(phys);
  }
  writePhys32(phys: number, v: number): void {
    this.cpu.writePhys32(phys, v);
  }
  zeroPhysPage(phys: number): void {
    this.cpu.writePhys(phys, ZERO_PAGE);
  }
}

const ZERO_PAGE = new Uint8Array(4096);
