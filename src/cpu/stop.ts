/** Why the machine stopped running. Every way out of `CPU.run` is one of these. */
export type StopReason =
  | { kind: 'exited'; status: number }
  /**
   * HLT with nothing that could wake the processor. A kernel that expected
   * the call to return says why it never will (`message`, the HLT's `eip`,
   * whether IF was set) — the module runner does.
   */
  | { kind: 'halted'; message?: string; eip?: number; interruptsEnabled?: boolean }
  | { kind: 'budget'; executed: number }
  | { kind: 'fault'; vector: number; errorCode: number | null; eip: number; message: string }
  | { kind: 'unsupported'; eip: number; bytes: number[]; mnemonic: string; message: string }
  | { kind: 'triple-fault'; chain: { vector: number; errorCode: number | null; eip: number }[]; message: string }
  | { kind: 'internal-error'; eip: number; message: string }
  /** The kernel handed the processor back to its caller between two instructions (a scheduler switches tasks); run() may go on. */
  | { kind: 'yield' };

/** Exception vectors (Intel SDM Vol. 3 §6.3.1, Table 6-1). */
export const enum Vec {
  DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8,
  TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18,
}

export const VECTOR_NAMES: Record<number, string> = {
  0: '#DE divide error', 1: '#DB debug', 2: 'NMI', 3: '#BP breakpoint', 4: '#OF overflow',
  5: '#BR bound range', 6: '#UD invalid opcode', 7: '#NM device not available', 8: '#DF double fault',
  10: '#TS invalid TSS', 11: '#NP segment not present', 12: '#SS stack fault', 13: '#GP general protection',
  14: '#PF page fault', 16: '#MF x87 error', 17: '#AC alignment check', 18: '#MC machine check',
};

export function vectorName(v: number): string {
  return VECTOR_NAMES[v] ?? `vector ${v}`;
}

/** Thrown (never allocated anew) to unwind an instruction that faults. */
export const FAULT = { fault: true } as const;
