/**
 * The debug registers (Intel SDM Vol. 3 §17.2): the bits of DR6 and DR7
 * (§17.2.3–17.2.4, Figure 17-2), shared by the CPU core, MOV DRn, exception
 * delivery and task switches, and which of DR0–DR3 an address or an access
 * matches (the CPU keeps the state: `CPU.dr`, and the pages it keeps out of
 * the TLB while a data breakpoint is enabled).
 *
 * On P6-class processors DR6 bits 4–11 and 16–31 and DR7 bit 10 read as 1
 * whatever is written; DR6 bit 12 and DR7 bits 11, 12, 14 and 15 read as 0
 * (what hardware and KVM do; QEMU's TCG keeps a 1 written to DR6 bit 12).
 */
export const DR6_FIXED = 0xffff0ff0 | 0;
/** DR6 bits software can write: B0–B3, BD, BS, BT. */
export const DR6_WRITABLE = 0xe00f;
/** DR6.BD: the #DB comes from general detect. BS: single step. BT: a task switch to a TSS with T set. */
export const DR6_BD = 0x2000, DR6_BS = 0x4000, DR6_BT = 0x8000;
export const DR7_FIXED = 0x400;
export const DR7_WRITABLE = 0xffff23ff | 0;
/** DR7.GD: general detect. L0–L3: the local enables a task switch clears. */
export const DR7_GD = 0x2000, DR7_LOCAL_ENABLES = 0x55;

/** Bytes a breakpoint covers, by DR7's LENn field: 00 = 1, 01 = 2, 10 = 8 (undefined on IA-32, treated as 8), 11 = 4. */
const DR_LEN = [1, 2, 8, 4];

/**
 * What DR7 enables: any instruction breakpoint (R/W = 00, a fault before the instruction), and the
 * linear pages of the enabled data breakpoints (R/W = 01 write, 11 read/write; traps after the access).
 */
export function enabledBreakpoints(dr: Int32Array): { exec: boolean; watched: Set<number> } {
  const dr7 = dr[7]!;
  let exec = false;
  const watched = new Set<number>();
  for (let i = 0; i < 4; i++) {
    if (!((dr7 >>> (i * 2)) & 3)) continue;
    const rw = (dr7 >>> (16 + i * 4)) & 3;
    if (rw === 0) exec = true;
    else if (rw === 1 || rw === 3) {
      const len = DR_LEN[(dr7 >>> (18 + i * 4)) & 3]!;
      const a = dr[i]! & ~(len - 1);
      watched.add(a >>> 12);
      watched.add(((a + len - 1) | 0) >>> 12);
    }
  }
  return { exec, watched };
}

/** DR6 B0–B3 bits of the enabled data breakpoints an access of `size` bytes at `lin` hits (reads only for R/W = 11). */
export function dataBreakpointHits(dr: Int32Array, lin: number, size: number, write: boolean): number {
  const dr7 = dr[7]!;
  let hits = 0;
  for (let i = 0; i < 4; i++) {
    if (!((dr7 >>> (i * 2)) & 3)) continue;
    const rw = (dr7 >>> (16 + i * 4)) & 3;
    if (rw === 0 || rw === 2 || (rw === 1 && !write)) continue;
    const len = DR_LEN[(dr7 >>> (18 + i * 4)) & 3]!;
    const a = (dr[i]! & ~(len - 1)) >>> 0;
    const l = lin >>> 0;
    if (l < a + len && a < l + size) hits |= 1 << i;
  }
  return hits;
}

/** DR6 B0–B3 bits of the enabled instruction breakpoints at `eip` (the caller checks RF). */
export function instructionBreakpointHits(dr: Int32Array, eip: number): number {
  const dr7 = dr[7]!;
  let hits = 0;
  for (let i = 0; i < 4; i++) {
    if ((dr7 >>> (i * 2)) & 3 && ((dr7 >>> (16 + i * 4)) & 3) === 0 && dr[i] === eip) hits |= 1 << i;
  }
  return hits;
}
