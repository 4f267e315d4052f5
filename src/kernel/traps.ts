/**
 * What the kernel does with exceptions from user programs that nothing else
 * handled (the Linux personality's demand paging and signal handlers run
 * first, src/linux/linux.ts): end the program the way Linux would deliver a
 * fatal signal — here as a typed stop that names the signal, the fault and
 * where.
 */
import type { Kernel, TrapFrame } from './kernel.js';
import { Vec, vectorName } from '../cpu/stop.js';
import { hexBytes, unsupportedStop } from '../cpu/disasm.js';

/** The signal Linux's i386 trap handlers (arch/x86/kernel/traps.c) send for an exception vector. */
export function signalForVector(v: number): number {
  switch (v) {
    case Vec.DE: case Vec.MF: case 19: return 8; // SIGFPE
    case Vec.DB: case Vec.BP: return 5; // SIGTRAP
    case Vec.UD: return 4; // SIGILL
    case Vec.NP: case Vec.SS: case Vec.AC: return 7; // SIGBUS
    default: return 11; // SIGSEGV (#GP, #PF, #OF, #BR, ...)
  }
}

const SIGNAL_NAMES: Record<number, string> = { 4: 'SIGILL', 5: 'SIGTRAP', 7: 'SIGBUS', 8: 'SIGFPE', 11: 'SIGSEGV' };

/** #PF error code in words: "user write to a not-present page". */
export function describePageFault(err: number): string {
  const who = err & 4 ? 'user' : 'supervisor';
  const what = err & 2 ? 'write' : 'read';
  const why = err & 8 ? 'reserved bit set in a paging entry' : err & 1 ? 'protection violation' : 'page not present';
  return `${who} ${what}, ${why}`;
}

export function installUserTraps(k: Kernel): void {
  const fatal = (kern: Kernel, f: TrapFrame): void => {
    const cpu = kern.cpu;
    const v = f.vector;
    if (v === Vec.UD && cpu.unsupported) {
      const ins = cpu.unsupported;
      cpu.unsupported = null;
      cpu.stop(unsupportedStop(ins, f.eip));
      return;
    }
    let detail = '';
    if (v === Vec.PF) detail = ` accessing 0x${(cpu.cr2 >>> 0).toString(16)} (${describePageFault(f.errorCode ?? 0)})`;
    else if (f.errorCode !== null) detail = ` (error code 0x${f.errorCode.toString(16)})`;
    let bytes = '';
    try {
      bytes = hexBytes([...kern.mem.read(f.eip, 8)]);
    } catch {
      bytes = '(unreadable)';
    }
    cpu.stop({
      kind: 'fault',
      vector: v,
      errorCode: f.errorCode,
      eip: f.eip,
      message: `${SIGNAL_NAMES[signalForVector(v)]}: ${vectorName(v)}${detail} at EIP 0x${(f.eip >>> 0).toString(16)} (bytes ${bytes})${f.fromUser ? '' : ' in kernel mode'}`,
    });
  };
  for (let v = 0; v < 32; v++) k.setTrapHandler(v, fatal);
}
