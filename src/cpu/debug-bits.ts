/**
 * Bits of the debug status and control registers (Intel SDM Vol. 3 §17.2.3–17.2.4,
 * Figure 17-2), shared by the CPU core, MOV DRn, exception delivery and task switches.
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
