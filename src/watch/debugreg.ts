/**
 * `--access-size debugreg` (Brendan's scheme in seed 001): the #PF handler
 * does not decode the instruction. It arms DR0–DR3 as 1-byte read/write
 * data breakpoints at CR2 + 1, + 2, + 4 and + 8, shows the page and
 * single-steps; at the #DB, DR6.B0–B3 say which of those bytes the access
 * touched, so its size: none → 1, B0 → 2, B0–B1 → 4, B0–B2 → 6 or 8,
 * all → more than 8. Sizes the four breakpoints cannot tell apart take
 * more passes (Brendan's "2 or more debug exceptions"): the instruction is
 * undone — general registers, EFLAGS, the x87 state and the two pages from
 * CR2's on restored — and stepped again with breakpoints at the next
 * thresholds among the sizes an i686 access can have (6, 8, 10, 14, 16,
 * 28, 32, 94, 108: SGDT/SIDT and far pointers, CMPXCHG8B and doubles, x87
 * extended reals, FSTENV, PUSHA, FSAVE).
 *
 * The access the clients are then told about (after it ran: the strategy
 * knows it only then, HiddenFault.late) is [CR2, CR2 + size), a write when
 * the #PF error code says so, else a read. What the scheme cannot see it
 * gets wrong, and `kmemsim compare --access-size` counts it (the decoder's
 * prediction is compared, for the statistics only): the part of an access
 * below CR2 (one that began on the page before), an instruction's second
 * operand (MOVS's destination: a copy becomes a read), a read-modify-write
 * (reported as the write its fault says).
 *
 * An instruction that moved ESP at the same privilege level (PUSHA: the #DB
 * frame now sits on that stack) cannot be undone; a second pass then is
 * not possible and the access is taken from the decoder (counted as
 * `unknown`). Pages whose client must see an access before it runs (MMIO)
 * are decoded as before (PageHidingClient.early).
 *
 * The guest's own DR0–DR3: while its DR7 enables any breakpoint, the
 * strategy does not take them over — that access is decoded instead and
 * counted in `refused` (the run says so once); otherwise DR0–DR3 and DR7
 * are restored after the step.
 */
import { X87State } from '../cpu/fpu/x87-state.js';
import { IF, TF } from '../cpu/flags.js';
import {
  ACCESS_READ, ACCESS_WRITE, AccessList, type AccessProbe, type HiddenFault, type PageHidingService,
} from '../kernel/page-hiding.js';
import { decodeAccesses } from '../shadow/access.js';

/** The sizes of an i686 memory access, in bytes. */
export const ACCESS_SIZES = [1, 2, 4, 6, 8, 10, 14, 16, 28, 32, 94, 108] as const;
/** Brendan's first pass: 1-byte breakpoints at CR2 + these. */
const FIRST_PASS = [1, 2, 4, 8];
/** DR7: L0–L3, R/W = 11 (data reads or writes), LEN = 00 (1 byte) for all four. */
const DR7_ARMED = 0x33330055;

export class DebugRegisterProbe implements AccessProbe {
  readonly counters = { probes: 0, passes: 0, refused: 0, unknown: 0, wrong: 0 };
  /** Called once when the guest's use of DR0–DR3 first makes the strategy decode instead. */
  onRefused: ((why: string) => void) | null = null;

  private thresholds: number[] = [];
  private candidates: number[] = [];
  private readonly savedDr = new Int32Array(8);
  private readonly savedRegs = new Int32Array(8);
  private savedEflags = 0;
  private readonly savedFpu = new X87State();
  private savedPages: { lin: number; bytes: Uint8Array }[] = [];
  private readonly predicted = new AccessList();

  arm(f: HiddenFault, svc: PageHidingService): boolean {
    const cpu = svc.kernel.cpu;
    if (f.context.eflags & TF) return false;
    if (cpu.dr[7]! & 0xff) {
      if (this.counters.refused++ === 0) this.onRefused?.('the guest has debug breakpoints enabled in DR7 (DR0–DR3 are its): those accesses are decoded instead');
      return false;
    }
    this.counters.probes++;
    this.savedDr.set(cpu.dr);
    this.savedRegs.set(cpu.regs);
    this.savedEflags = f.frame!.eflags;
    this.savedFpu.copyFrom(cpu.fpu);
    this.savedPages = [];
    for (const lin of [f.cr2 & ~0xfff, (f.cr2 & ~0xfff) + 4096]) {
      if (svc.physOf(lin | 0) < 0) continue;
      const bytes = new Uint8Array(4096);
      for (let i = 0; i < 4096; i++) bytes[i] = svc.peek8((lin + i) | 0);
      this.savedPages.push({ lin: lin | 0, bytes });
    }
    this.candidates = [...ACCESS_SIZES];
    this.setThresholds(svc, f.cr2, FIRST_PASS);
    return true;
  }

  learn(f: HiddenFault, svc: PageHidingService, dr6: number): boolean {
    const cpu = svc.kernel.cpu;
    this.counters.passes++;
    // Breakpoint i fired: the access reached CR2 + thresholds[i], i.e. size > thresholds[i].
    let atLeast = 0;
    this.thresholds.forEach((t, i) => {
      if (dr6 & (1 << i)) atLeast = Math.max(atLeast, t + 1);
    });
    const below = this.thresholds.filter((t, i) => !(dr6 & (1 << i)));
    const atMost = below.length ? Math.min(...below) : Infinity;
    this.candidates = this.candidates.filter((s) => s >= atLeast && s <= atMost);
    let size: number | null = this.candidates.length === 1 ? this.candidates[0]! : null;
    if (size === null && this.candidates.length > 1) {
      if (this.undo(f, svc)) {
        this.setThresholds(svc, f.cr2, this.split(this.candidates));
        return false;
      }
      this.counters.unknown++;
    }
    for (let i = 0; i < 4; i++) cpu.writeDebugRegister(i, this.savedDr[i]!);
    cpu.writeDebugRegister(7, this.savedDr[7]!);
    // The clients' reports show the guest's DR6, not the probe's hits (the #DB handler clears BS itself).
    cpu.dr[6] = this.savedDr[6]! | (dr6 & 0x4000);
    // The decoder's prediction: what the clients get when the size stayed unknown, and the statistics' yardstick.
    this.predicted.clear();
    try {
      if (f.ins.def !== null) decodeAccesses(f.ins, f.context, this.predicted);
    } catch {
      this.predicted.clear();
    }
    const a = f.accesses;
    a.clear();
    if (size === null) {
      for (let i = 0; i < this.predicted.count; i++) a.add(this.predicted.addr[i]!, this.predicted.size[i]!, this.predicted.kind[i]!, this.predicted.copyOf[i]!);
      if (a.count === 0) a.add(f.cr2, 1, f.errorCode & 2 ? ACCESS_WRITE : ACCESS_READ);
      return true;
    }
    a.add(f.cr2, size, f.errorCode & 2 ? ACCESS_WRITE : ACCESS_READ);
    const p = this.predicted;
    const i = p.find(f.cr2);
    if (i < 0 || p.addr[i] !== f.cr2 || p.size[i] !== size || p.count !== 1) this.counters.wrong++;
    return true;
  }

  /** Up to four thresholds splitting the candidate sizes (a breakpoint at CR2 + t fires when size > t). */
  private split(c: number[]): number[] {
    const t: number[] = [];
    const groups = Math.min(5, c.length);
    for (let g = 1; g < groups; g++) t.push(c[Math.round((g * c.length) / groups) - 1]!);
    return [...new Set(t)];
  }

  private setThresholds(svc: PageHidingService, cr2: number, t: number[]): void {
    const cpu = svc.kernel.cpu;
    this.thresholds = t.slice(0, 4);
    for (let i = 0; i < 4; i++) cpu.writeDebugRegister(i, i < this.thresholds.length ? (cr2 + this.thresholds[i]!) | 0 : 0);
    // Only the breakpoints in use are enabled.
    let dr7 = 0;
    for (let i = 0; i < this.thresholds.length; i++) dr7 |= (DR7_ARMED & (3 << (2 * i))) | (DR7_ARMED & (0xf << (16 + 4 * i)));
    cpu.writeDebugRegister(7, dr7);
    cpu.dr[6] = cpu.dr[6]! & ~0xf;
  }

  /** Put the instruction back as before its step, ready to run again; false when it cannot be. */
  private undo(f: HiddenFault, svc: PageHidingService): boolean {
    const cpu = svc.kernel.cpu;
    const frame = f.frame!;
    // A same-privilege trap frame sits on the stack the instruction used: ESP cannot be put back under it.
    if (f.after.regs[4] !== f.context.regs[4]) return false;
    const esp = cpu.regs[4]!;
    cpu.regs.set(this.savedRegs);
    cpu.regs[4] = esp;
    cpu.fpu.copyFrom(this.savedFpu);
    for (const p of this.savedPages) svc.poke(p.lin, p.bytes);
    svc.kernel.mem.write32(frame.frameAddress, f.eip);
    const fl = (this.savedEflags | TF) & ~IF;
    svc.kernel.mem.write32((frame.frameAddress + 8) | 0, fl);
    frame.eflags = fl;
    return true;
  }
}
