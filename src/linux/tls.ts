/**
 * Thread-local storage descriptors: set_thread_area/get_thread_area
 * (arch/x86/kernel/tls.c) fill the three GDT TLS slots, entries 6–8 as on
 * i386 Linux (GDT_ENTRY_TLS_MIN = 6), from a struct user_desc:
 *   u32 entry_number; u32 base_addr; u32 limit;
 *   bits: seg_32bit:1 contents:2 read_exec_only:1 limit_in_pages:1 seg_not_present:1 useable:1
 * glibc then loads %gs with the selector (entry << 3 | 3) and reaches its
 * thread control block through it. The slots are per task; they are
 * written to the GDT when the task runs (load_TLS()).
 */
import type { Kernel } from '../kernel/kernel.js';
import { EINVAL, ESRCH, LinuxError } from './errno.js';
import type { UserAccess } from './uaccess.js';

export const GDT_ENTRY_TLS_MIN = 6;
export const GDT_ENTRY_TLS_ENTRIES = 3;

export interface UserDesc {
  base: number;
  limit: number;
  seg32: boolean;
  contents: number;
  readExecOnly: boolean;
  limitInPages: boolean;
  notPresent: boolean;
  useable: boolean;
}

/** Linux's LDT_empty(): the descriptor that clears a slot. */
function isEmpty(d: UserDesc): boolean {
  return d.base === 0 && d.limit === 0 && !d.seg32 && d.contents === 0 && d.readExecOnly && !d.limitInPages && d.notPresent && !d.useable
    || (d.base === 0 && d.limit === 0 && !d.seg32 && d.contents === 0 && !d.readExecOnly && !d.limitInPages && !d.notPresent && !d.useable);
}

/** fill_ldt(): the two descriptor words. */
export function descriptorWords(d: UserDesc): [number, number] {
  if (isEmpty(d)) return [0, 0];
  const lo = ((d.base & 0xffff) << 16) | (d.limit & 0xffff);
  const hi = (d.base & 0xff000000) | ((d.base >>> 16) & 0xff) | (d.limit & 0xf0000)
    | ((d.readExecOnly ? 0 : 1) << 9) | (d.contents << 10) | ((d.notPresent ? 0 : 1) << 15)
    | ((d.seg32 ? 1 : 0) << 22) | ((d.limitInPages ? 1 : 0) << 23) | ((d.useable ? 1 : 0) << 20) | 0x7100; // S, DPL 3, accessed
  return [lo | 0, hi | 0];
}

export class TlsSlots {
  readonly words: [number, number][] = [[0, 0], [0, 0], [0, 0]];
  readonly descs: (UserDesc | null)[] = [null, null, null];

  clone(): TlsSlots {
    const t = new TlsSlots();
    for (let i = 0; i < 3; i++) {
      t.words[i] = [...this.words[i]!];
      t.descs[i] = this.descs[i] ? { ...this.descs[i]! } : null;
    }
    return t;
  }

  /** load_TLS(): write the task's slots into the GDT (and flush the CPU's view of %gs/%fs if they use them). */
  load(k: Kernel): void {
    for (let i = 0; i < 3; i++) {
      const [lo, hi] = this.words[i]!;
      k.mem.write32(k.cpu.gdtrBase + (GDT_ENTRY_TLS_MIN + i) * 8, lo);
      k.mem.write32(k.cpu.gdtrBase + (GDT_ENTRY_TLS_MIN + i) * 8 + 4, hi);
    }
  }
}

function readUserDesc(ua: UserAccess, addr: number): { entry: number; desc: UserDesc } {
  const b = Buffer.from(ua.read(addr, 16));
  const bits = b.readUInt32LE(12);
  return {
    entry: b.readInt32LE(0),
    desc: {
      base: b.readUInt32LE(4), limit: b.readUInt32LE(8),
      seg32: !!(bits & 1), contents: (bits >> 1) & 3, readExecOnly: !!(bits & 8), limitInPages: !!(bits & 16),
      notPresent: !!(bits & 32), useable: !!(bits & 64),
    },
  };
}

/** set_thread_area(u_info): entry -1 picks the first free slot and writes its number back. */
export function setThreadArea(k: Kernel, ua: UserAccess, tls: TlsSlots, addr: number): number {
  const { entry: requested, desc } = readUserDesc(ua, addr);
  let entry = requested;
  if (entry === -1) {
    entry = tls.words.findIndex(([lo, hi]) => lo === 0 && hi === 0);
    if (entry < 0) throw new LinuxError(ESRCH);
    entry += GDT_ENTRY_TLS_MIN;
    ua.write32(addr, entry);
  }
  if (entry < GDT_ENTRY_TLS_MIN || entry >= GDT_ENTRY_TLS_MIN + GDT_ENTRY_TLS_ENTRIES) throw new LinuxError(EINVAL);
  // tls_desc_okay(): code segments (contents 3 with seg_not_present 0) are refused.
  if (desc.contents === 3 && !desc.notPresent && !isEmpty(desc)) throw new LinuxError(EINVAL);
  const i = entry - GDT_ENTRY_TLS_MIN;
  tls.words[i] = descriptorWords(desc);
  tls.descs[i] = isEmpty(desc) ? null : desc;
  tls.load(k);
  return 0;
}

/** get_thread_area(u_info): the slot named by entry_number, as a user_desc. */
export function getThreadArea(ua: UserAccess, tls: TlsSlots, addr: number): number {
  const entry = ua.read32(addr) | 0;
  if (entry < GDT_ENTRY_TLS_MIN || entry >= GDT_ENTRY_TLS_MIN + GDT_ENTRY_TLS_ENTRIES) throw new LinuxError(EINVAL);
  const d = tls.descs[entry - GDT_ENTRY_TLS_MIN];
  const b = Buffer.alloc(16);
  b.writeInt32LE(entry, 0);
  if (d) {
    b.writeUInt32LE(d.base >>> 0, 4);
    b.writeUInt32LE(d.limit >>> 0, 8);
    b.writeUInt32LE((d.seg32 ? 1 : 0) | (d.contents << 1) | (d.readExecOnly ? 8 : 0) | (d.limitInPages ? 16 : 0) | (d.notPresent ? 32 : 0) | (d.useable ? 64 : 0), 12);
  } else {
    b.writeUInt32LE(8 | 32, 12); // an empty slot reads back as read_exec_only + seg_not_present
  }
  ua.write(addr, b);
  return 0;
}
