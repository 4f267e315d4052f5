/**
 * Test fixture: kmemcheck's fault protocol on one hidden page, with the
 * kernel's own trap handlers — the #PF handler shows the page and sets TF
 * in the frame, the #DB handler after the single step hides it again and
 * clears TF — run by a loop of guest code that touches the page with
 * loads, stores, a read-modify-write, PUSH/POP around REP STOSD and
 * (optionally) LODSD. Tests comparing two delivery paths (a fast one and
 * the full one) record every handler entry and compare the records.
 */
import type { Kernel } from '../../src/kernel/kernel.js';
import { kva } from '../../src/kernel/layout.js';
import { Vec } from '../../src/cpu/stop.js';
import { CS } from '../../src/cpu/instr.js';
import { assemble } from './asm.js';

/** Where the loop's code is, and the hidden page it touches. */
export const CODE = kva(0x10000) >>> 0;
export const DATA = kva(0x30000) >>> 0;
const TF = 0x100;
const RF = 0x10000;

/**
 * A `guest` for hiddenPageLoop that single-steps itself: every fourth trip it sets TF for a few
 * instructions (each #DB handler entry clears it again).
 */
export const SELF_STEP = `test ecx, 3
      jnz 2f
      pushfd
      or dword ptr [esp], ${TF}
      popfd
      nop
      nop
    2:`;

export interface HiddenPageLoopOptions {
  /** Trips round the loop. */
  trips: number;
  /** Dwords each trip's REP STOSD writes to the page. */
  stos: number;
  /** Each trip also LODSDs one dword from the page. */
  lods?: boolean;
  /** Record CS's hidden limit in each entry (after the selector). */
  csLimit?: boolean;
  /** Called in the #PF handler after it showed the page, with the faults before this one. */
  onFault?: (k: Kernel, fault: number) => void;
  /** Instructions run at the top of every trip (ECX counts the trips down). */
  guest?: string;
  /**
   * DR0 on the loop's first instruction after `guest` (a store to the hidden page: the instruction the #PF
   * handler steps), its #DB handled as a debugger would (RF in the frame, the page left as it was).
   */
  breakpoint?: boolean;
}

/**
 * One handler entry: vector, CR2, DR6, EFLAGS, CS (and its limit with `csLimit`), ESP, EIP, icount, and
 * the six dwords at ESP.
 */
export function handlerEntry(k: Kernel, vector: number, csLimit = false): number[] {
  const cpu = k.cpu;
  const esp = cpu.regs[4]! >>> 0;
  const words = Array.from({ length: 6 }, (_, i) => k.mem.read32((esp + 4 * i) | 0) >>> 0);
  const cs = csLimit ? [cpu.segSel[CS]!, cpu.segLimit[CS]! >>> 0] : [cpu.segSel[CS]!];
  return [vector, cpu.cr2 >>> 0, cpu.dr[6]! >>> 0, cpu.getEflags() >>> 0, ...cs, esp, cpu.eip >>> 0, cpu.icount, ...words];
}

/**
 * Load the loop at CODE (a function: call it with callGuest), hide DATA and install the two handlers.
 * Each fault makes 2 entries (the #PF, the #DB of its step); a trip faults on 4 accesses, `stos` STOS
 * elements and the LODS. Returns the entries, appended to as the guest runs.
 */
export function hiddenPageLoop(k: Kernel, opts: HiddenPageLoopOptions): number[][] {
  const prologue = `
      sti
      mov ecx, ${opts.trips}
      xor eax, eax`;
  const guest = opts.guest ?? '';
  if (opts.breakpoint) {
    k.cpu.writeDebugRegister(0, CODE + assemble(`${prologue}\n${guest}`, { base: CODE }).length);
    k.cpu.writeDebugRegister(7, 1);
  }
  const code = assemble(`${prologue}
    1:
      ${guest}
      mov [${DATA + 4}], ecx
      add eax, [${DATA + 4}]
      movzx edx, byte ptr [${DATA + 5}]
      add [${DATA + 8}], edx
      push ecx
      mov edi, ${DATA + 0x100}
      mov ecx, ${opts.stos}
      rep stosd
${opts.lods ? `      mov esi, ${DATA + 0x100}\n      lodsd\n` : ''}      pop ecx
      dec ecx
      jnz 1b
      cli
      ret
  `, { base: CODE });
  k.mem.write(CODE, code);
  const pte = k.as.readPte(DATA);
  k.as.writePte(DATA, pte & ~1);
  const entries: number[][] = [];
  let faults = 0;
  k.setTrapHandler(Vec.PF, (kk, f) => {
    entries.push(handlerEntry(kk, Vec.PF, opts.csLimit));
    kk.as.writePte(DATA, pte);
    kk.mem.write32((f.frameAddress + 8) | 0, f.eflags | TF);
    opts.onFault?.(kk, faults++);
  });
  k.setTrapHandler(Vec.DB, (kk, f) => {
    entries.push(handlerEntry(kk, Vec.DB, opts.csLimit));
    if (kk.cpu.dr[6]! & 1) {
      // The instruction breakpoint: resume the instruction (RF), the page as it was.
      kk.cpu.dr[6] = kk.cpu.dr[6]! & ~0xf;
      kk.mem.write32((f.frameAddress + 8) | 0, f.eflags | RF);
      return;
    }
    kk.as.writePte(DATA, pte & ~1);
    kk.mem.write32((f.frameAddress + 8) | 0, f.eflags & ~TF);
  });
  return entries;
}
