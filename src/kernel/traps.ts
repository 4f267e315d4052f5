/**
 * What the kernel does with exceptions from user programs: grow the stack
 * on a fault just below it (as Linux's do_page_fault()/expand_stack()
 * does), and otherwise end the program the way Linux would deliver a fatal
 * signal — here as a typed stop that names the signal, the fault and where.
 */
import type { Kernel, TrapFrame } from './kernel.js';
import { Vec, vectorName } from '../cpu/stop.js';
import { hexBytes, unsupportedStop } from '../cpu/disasm.js';
import { PAGE_SIZE, STACK_LIMIT, TASK_SIZE } from './layout.js';
import { OutOfMemory } from './pages.js';

const SIGNALS: Record<number, string> = {
  0: 'SIGFPE', 1: 'SIGTRAP', 3: 'SIGTRAP', 4: 'SIGSEGV', 5: 'SIGSEGV', 6: 'SIGILL', 7: 'SIGSEGV',
  10: 'SIGSEGV', 11: 'SIGBUS', 12: 'SIGBUS', 13: 'SIGSEGV', 14: 'SIGSEGV', 16: 'SIGFPE', 17: 'SIGBUS',
};

/** #PF error code in words: "user write to a not-present page". */
export function describePageFault(err: number): string {
  const who = err & 4 ? 'user' : 'supervisor';
  const what = err & 2 ? 'write' : 'read';
  const why = err & 8 ? 'reserved bit set in a paging entry' : err & 1 ? 'protection violation' : 'page not present';
  return `${who} ${what}, ${why}`;
}

export function installUserTraps(k: Kernel, stackTop = TASK_SIZE): void {
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
      message: `${SIGNALS[v] ?? 'SIGKILL'}: ${vectorName(v)}${detail} at EIP 0x${(f.eip >>> 0).toString(16)} (bytes ${bytes})${f.fromUser ? '' : ' in kernel mode'}`,
    });
  };
  for (let v = 0; v < 32; v++) k.setTrapHandler(v, fatal);
  k.setTrapHandler(Vec.PF, (kern, f) => {
    const addr = kern.cpu.cr2 >>> 0;
    const err = f.errorCode ?? 0;
    // Stack growth: a not-present user fault inside the stack rlimit below the stack top.
    if (f.fromUser && !(err & 1) && addr < stackTop && addr >= stackTop - STACK_LIMIT && addr >= ((f.userEsp >>> 0) - 65536 - 32 * 4)) {
      try {
        kern.as.mapUser(addr & ~(PAGE_SIZE - 1), true);
      } catch (e) {
        if (!(e instanceof OutOfMemory)) throw e;
        // No frame left for the stack page: Linux's page-fault path ends in the OOM killer (SIGKILL).
        kern.cpu.stop({
          kind: 'fault', vector: Vec.PF, errorCode: err, eip: f.eip,
          message: `SIGKILL: out of memory: no free page frame to grow the stack at 0x${addr.toString(16)} (guest RAM is ${kern.cpu.mem.size >>> 20} MiB: see --memory) at EIP 0x${(f.eip >>> 0).toString(16)}`,
        });
      }
      return;
    }
    fatal(kern, f);
  });
}
