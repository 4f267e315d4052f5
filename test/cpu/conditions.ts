/**
 * Condition-code truth tables shared by the Jcc, SETcc and CMOVcc tests.
 *
 * Mnemonic order is the cc nibble 0..15 (SDM Vol. 1 Appendix B, Table B-1):
 *   O(OF=1) NO B(CF=1) AE E(ZF=1) NE BE(CF=1 or ZF=1) A S(SF=1) NS
 *   P(PF=1) NP L(SF≠OF) GE LE(ZF=1 or SF≠OF) G
 * Each expectation string has one character per cc ('1' = condition true),
 * written out by hand from that table, not computed.
 */
export const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'] as const;

/** EFLAGS status bits set directly (all others clear) → truth string. */
export const FLAG_STATES: { flags: string; truth: string }[] = [
  { flags: '', truth: '0101010101010101' },
  { flags: 'CF', truth: '0110011001010101' },
  { flags: 'ZF', truth: '0101101001010110' },
  { flags: 'SF', truth: '0101010110011010' },
  { flags: 'OF', truth: '1001010101011010' },
  { flags: 'SF OF', truth: '1001010110010101' },
  { flags: 'PF', truth: '0101010101100101' },
  { flags: 'ZF SF', truth: '0101101010011010' },
  { flags: 'CF ZF', truth: '0110101001010110' },
  { flags: 'OF SF ZF AF PF CF', truth: '1010101010100110' },
];

/** Flags produced by a real instruction (exercising lazy flag evaluation) → truth string. */
export const INSN_STATES: { name: string; src: string; regs: Record<string, number>; truth: string }[] = [
  // 1-2 = 0xffffffff: CF SF AF PF
  { name: 'cmp 1, 2 (below, less)', src: 'cmp eax, ebx', regs: { eax: 1, ebx: 2 }, truth: '0110011010101010' },
  // 0x80000000-1 = 0x7fffffff: OF AF PF — signed less, unsigned above
  { name: 'cmp 0x80000000, 1 (overflow)', src: 'cmp eax, ebx', regs: { eax: 0x80000000, ebx: 1 }, truth: '1001010101101010' },
  // 5-5: ZF PF
  { name: 'cmp 5, 5 (equal)', src: 'cmp eax, ebx', regs: { eax: 5, ebx: 5 }, truth: '0101101001100110' },
  // 2-1 = 1: no flags
  { name: 'cmp 2, 1 (above, greater)', src: 'cmp eax, ebx', regs: { eax: 2, ebx: 1 }, truth: '0101010101010101' },
  // -1-1 = 0xfffffffe: SF only — unsigned above, signed less
  { name: 'cmp -1, 1', src: 'cmp eax, ebx', regs: { eax: 0xffffffff, ebx: 1 }, truth: '0101010110011010' },
  // stc; inc 0x7fffffff → OF SF AF PF and CF kept
  { name: 'stc; inc 0x7fffffff', src: 'stc\ninc eax', regs: { eax: 0x7fffffff }, truth: '1010011010100101' },
  // 8-bit 0x80-1 = 0x7f: OF AF
  { name: 'sub al 0x80-1', src: 'sub al, bl', regs: { eax: 0x80, ebx: 1 }, truth: '1001010101011010' },
  // shl 0x80000000,1 = 0: CF ZF PF, OF = MSB(0) ^ CF = 1
  { name: 'shl 0x80000000, 1', src: 'shl eax, 1', regs: { eax: 0x80000000 }, truth: '1010101001101010' },
  // sar -1,1 = -1: CF SF PF, OF = 0
  { name: 'sar -1, 1', src: 'sar eax, 1', regs: { eax: 0xffffffff }, truth: '0110011010101010' },
  // and: 0x80000000: SF PF, CF = OF = 0
  { name: 'and → 0x80000000', src: 'and eax, ebx', regs: { eax: 0x80000000, ebx: 0xffffffff }, truth: '0101010110101010' },
  // neg 0: ZF PF, CF = 0
  { name: 'neg 0', src: 'neg eax', regs: { eax: 0 }, truth: '0101101001100110' },
];
