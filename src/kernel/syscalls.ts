/**
 * The Linux i386 system calls user programs may make through int $0x80
 * (arch/x86/entry/syscalls/syscall_32.tbl numbering; arguments in EBX, ECX,
 * EDX, ESI, EDI, EBP; result or -errno in EAX). Anything else returns
 * -ENOSYS, reported once per number with --verbose.
 *
 * The clock is deterministic: it starts at a fixed date and advances with
 * the retired-instruction count, so the same program gives the same output.
 */
import type { Kernel } from './kernel.js';
import { GuestFault } from './guest-memory.js';
import { OutOfMemory } from './pages.js';
import { MMAP_TOP, PAGE_SIZE, SYSCALL_VECTOR } from './layout.js';

export const ENOENT = 2, EBADF = 9, ENOMEM = 12, EFAULT = 14, EINVAL = 22, ENOSYS = 38, ENODEV = 19;

/** 2008-04-04 00:00:00 UTC, the month of the kmemcheck thread; the clock advances 1 s per 100 M instructions. */
export const CLOCK_EPOCH = 1207267200;
export const INSTRUCTIONS_PER_SECOND = 100_000_000;

export interface ProcessIO {
  stdin: Uint8Array;
  stdinPos: number;
  stdout(bytes: Uint8Array): void;
  stderr(bytes: Uint8Array): void;
  diagnostic(line: string): void;
  verbose: boolean;
}

export interface UserMemoryMap {
  startBrk: number;
  brk: number;
  mmapTop: number;
  /** Anonymous mappings: start → length (page multiple). */
  mappings: Map<number, number>;
}

export function installSyscalls(k: Kernel, io: ProcessIO, mm: UserMemoryMap): void {
  const reported = new Set<number>();
  const cpu = k.cpu;
  const r = cpu.regs;

  const table: Record<number, () => number> = {
    1: () => exit(r[3]),
    252: () => exit(r[3]),
    3: () => {
      if (r[3] !== 0) return -EBADF;
      const n = Math.min(r[2] >>> 0, io.stdin.length - io.stdinPos);
      if (n > 0) k.mem.write(r[1], io.stdin.subarray(io.stdinPos, io.stdinPos + n), true);
      io.stdinPos += n;
      return n;
    },
    4: () => {
      const fd = r[3];
      if (fd !== 1 && fd !== 2) return -EBADF;
      const len = r[2] >>> 0;
      const data = k.mem.read(r[1], len, true);
      if (fd === 1) io.stdout(data);
      else io.stderr(data);
      return len;
    },
    20: () => 1,
    13: () => {
      const t = now().sec;
      if (r[3] !== 0) k.mem.write32(r[3], t, true);
      return t;
    },
    78: () => {
      const t = now();
      if (r[3] !== 0) {
        k.mem.write32(r[3], t.sec, true);
        k.mem.write32(r[3] + 4, t.usec, true);
      }
      if (r[1] !== 0) {
        k.mem.write32(r[1], 0, true);
        k.mem.write32(r[1] + 4, 0, true);
      }
      return 0;
    },
    122: () => {
      // struct new_utsname: six 65-byte fields.
      const fields = ['Linux', 'kmemsim', '2.6.26-kmemsim', '#1 SMP kmemsim', 'i686', '(none)'];
      const buf = new Uint8Array(65 * 6);
      fields.forEach((f, i) => buf.set(Buffer.from(f, 'latin1'), i * 65));
      k.mem.write(r[3], buf, true);
      return 0;
    },
    45: () => {
      const want = r[3] >>> 0;
      if (want < mm.startBrk) return mm.brk;
      const oldEnd = pageUp(mm.brk);
      const newEnd = pageUp(want);
      if (newEnd > oldEnd) {
        if (overlapsMapping(oldEnd, newEnd - oldEnd) || newEnd > mm.mmapTop) return mm.brk;
        try {
          k.as.mapRange(oldEnd, newEnd, true);
        } catch (e) {
          // Out of page frames: brk(2) fails as Linux's does, by returning the unchanged break.
          if (e instanceof OutOfMemory) return mm.brk;
          throw e;
        }
      } else {
        for (let p = newEnd; p < oldEnd; p += PAGE_SIZE) k.as.unmap(p);
      }
      mm.brk = want;
      return want;
    },
    192: () => {
      const [addr, len, , flags, fd] = [r[3] >>> 0, r[1] >>> 0, r[2], r[6], r[7]];
      const MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20;
      if (!(flags & MAP_ANONYMOUS)) return fd === -1 ? -EBADF : -ENODEV;
      if (len === 0) return -EINVAL;
      const size = pageUp(len);
      let start: number;
      if (flags & MAP_FIXED) {
        if (addr & (PAGE_SIZE - 1)) return -EINVAL;
        start = addr;
        unmapRange(start, size);
      } else {
        start = (mm.mmapTop - size) >>> 0;
        if (start <= pageUp(mm.brk)) return -ENOMEM;
        mm.mmapTop = start;
      }
      k.as.mapRange(start, start + size, true);
      mm.mappings.set(start, size);
      return start | 0;
    },
    91: () => {
      const addr = r[3] >>> 0;
      const len = r[1] >>> 0;
      if (addr & (PAGE_SIZE - 1) || len === 0) return -EINVAL;
      unmapRange(addr, pageUp(len));
      return 0;
    },
  };

  function now(): { sec: number; usec: number } {
    const t = cpu.icount;
    return { sec: CLOCK_EPOCH + Math.floor(t / INSTRUCTIONS_PER_SECOND), usec: Math.floor((t % INSTRUCTIONS_PER_SECOND) / (INSTRUCTIONS_PER_SECOND / 1e6)) };
  }
  function exit(status: number): number {
    cpu.stop({ kind: 'exited', status: status & 0xff });
    return 0;
  }
  function overlapsMapping(start: number, len: number): boolean {
    for (const [s, l] of mm.mappings) if (start < s + l && s < start + len) return true;
    return false;
  }
  function unmapRange(start: number, len: number): void {
    for (let p = start; p < start + len; p += PAGE_SIZE) k.as.unmap(p);
    for (const [s, l] of [...mm.mappings]) {
      if (start <= s && s + l <= start + len) mm.mappings.delete(s);
    }
  }

  k.setTrapHandler(SYSCALL_VECTOR, () => {
    const nr = r[0];
    const fn = table[nr];
    if (!fn) {
      if (io.verbose && !reported.has(nr)) {
        reported.add(nr);
        io.diagnostic(`kmemsim: system call ${nr} is not implemented; returning -ENOSYS`);
      }
      r[0] = -ENOSYS;
      return;
    }
    try {
      r[0] = fn();
    } catch (e) {
      if (e instanceof GuestFault) r[0] = -EFAULT;
      else if (e instanceof OutOfMemory) r[0] = -ENOMEM;
      else throw e;
    }
  });
}

export function pageUp(v: number): number {
  return Math.ceil(v / PAGE_SIZE) * PAGE_SIZE;
}
export { MMAP_TOP };
