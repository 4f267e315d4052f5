/**
 * Calling guest handlers from a trap or a native and coming back: the
 * plumbing kprobes need (Linux's int3 handler calls the pre_handler as an
 * ordinary C function with a `struct pt_regs *` on the kernel stack, then
 * returns to the probed code with IRET).
 *
 * A `struct pt_regs` (i386 layout: bx cx dx si di bp ax ds es fs gs
 * orig_ax ip cs flags sp ss) is written on the interrupted kernel stack,
 * below everything live; the trap then "returns" into the handler
 * trampoline (a native, `kprobe_handler_return`) with ESP at the pt_regs.
 * From there a guest handler is called like any function — EAX, EDX, ECX
 * arguments, the trampoline as return address — and when it returns, the
 * trampoline runs the next step (a continuation keyed by the pt_regs
 * address, so nested and interleaved calls on several tasks' stacks stay
 * apart). The last step resumes the interrupted code from the pt_regs —
 * with whatever the handlers changed in it — through a real IRET
 * instruction in kernel text, which is also how the single step starts:
 * the IRET loads TF and the instruction at the target traps after it runs.
 */
import type { CPU } from '../../cpu/cpu.js';
import { DS, ES, FS, GS } from '../../cpu/instr.js';
import type { Kernel, TrapFrame } from '../kernel.js';
import type { GuestAccessor } from '../printk.js';
import { write32 } from '../sched/scheduler.js';

/** struct pt_regs (arch/x86/include/asm/ptrace.h, 32-bit): byte offsets. */
export const PT = {
  bx: 0, cx: 4, dx: 8, si: 12, di: 16, bp: 20, ax: 24, ds: 28, es: 32, fs: 36, gs: 40, orig_ax: 44, ip: 48, cs: 52, flags: 56, sp: 60, ss: 64,
  size: 68,
} as const;

const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;
export const TF = 0x100, IF = 0x200, DF = 0x400;

/** What the trampoline runs next, given EAX (the handler's return value) and the pt_regs address. */
export type Continuation = (cpu: CPU, eax: number, regs: number) => void;

export class TrapCalls {
  /** The trampoline native: guest handlers return here. */
  readonly trampoline: number;
  /** A real IRET instruction in kernel text (resuming from a pt_regs). */
  readonly iretInsn: number;
  private readonly conts = new Map<number, Continuation>();

  constructor(readonly kernel: Kernel, readonly mem: GuestAccessor, bindInternal: (name: string, fn: (cpu: CPU) => void) => number) {
    this.iretInsn = kernel.reserveText(new Uint8Array([0xcf]), 'kprobe_iret');
    this.trampoline = bindInternal('kprobe_handler_return', (cpu) => {
      const regs = cpu.regs[ESP]! >>> 0;
      const c = this.conts.get(regs);
      if (!c) throw new Error(`kprobes: the handler trampoline was reached with no call in flight (ESP 0x${regs.toString(16)})`);
      this.conts.delete(regs);
      c(cpu, cpu.regs[EAX]! | 0, regs);
    });
  }

  r32(a: number): number {
    return this.mem.read32(a | 0) >>> 0;
  }
  w32(a: number, v: number): void {
    write32(this.mem, a, v);
  }

  /** Write a pt_regs at `at` from the CPU's registers and the given ip/cs/flags/sp/ss. */
  private writeRegs(cpu: CPU, at: number, ip: number, cs: number, flags: number, sp: number, ss: number): void {
    const r = cpu.regs;
    const v = [r[EBX]!, r[ECX]!, r[EDX]!, r[ESI]!, r[EDI]!, r[EBP]!, r[EAX]!, cpu.segSel[DS]!, cpu.segSel[ES]!, cpu.segSel[FS]!, cpu.segSel[GS]!, -1, ip, cs, flags, sp, ss];
    const b = new Uint8Array(PT.size);
    const dv = new DataView(b.buffer);
    v.forEach((x, i) => dv.setInt32(i * 4, x | 0, true));
    this.mem.write(at | 0, b);
  }

  /**
   * From a trap handler (int3, #DB) on kernel code: save the interrupted
   * state as a pt_regs on its stack (with `ip`, the pt_regs' instruction
   * pointer) and leave the trap into the trampoline, which runs `cont`.
   * The handler that calls this must return normally (dispatchTrap's IRET
   * does the rest). Returns the pt_regs address.
   */
  enterFromTrap(f: TrapFrame, ip: number, flags: number, cont: Continuation): number {
    const cpu = this.kernel.cpu;
    const sameLevel = (f.cs & 3) === cpu.cpl;
    const base = sameLevel ? f.frameAddress : f.userEsp;
    const regs = ((base - PT.size) & ~3) >>> 0;
    this.writeRegs(cpu, regs, ip, f.cs, flags, f.userEsp, f.userSs);
    this.conts.set(regs, cont);
    const handlerFlags = f.eflags & ~(TF | IF | DF);
    if (sameLevel) {
      // A fresh IRET frame under the pt_regs: the trap's IRET lands in the trampoline with ESP = regs.
      const frame = regs - 12;
      this.w32(frame, this.trampoline);
      this.w32(frame + 4, f.cs);
      this.w32(frame + 8, handlerFlags);
      cpu.regs[ESP] = frame | 0;
    } else {
      // An outer-ring frame (the ring-1 kernel): rewrite its EIP, EFLAGS and ESP.
      this.w32(f.frameAddress, this.trampoline);
      this.w32(f.frameAddress + 8, handlerFlags);
      this.w32(f.frameAddress + 12, regs);
    }
    return regs;
  }

  /**
   * From a native routine (ESP at its return address, which is spent): save
   * the CPU's state as a pt_regs below `sp` and go on in the trampoline,
   * which runs `cont`. The native must return normally: its RET pops the
   * trampoline.
   */
  enterFromNative(ip: number, sp: number, cont: Continuation): number {
    const cpu = this.kernel.cpu;
    const regs = ((sp - 8 - PT.size) & ~3) >>> 0;
    this.writeRegs(cpu, regs, ip, cpu.segSel[1]!, cpu.getEflags(), sp, cpu.segSel[2]!);
    this.conts.set(regs, cont);
    this.w32(regs - 4, this.trampoline);
    cpu.regs[ESP] = (regs - 4) | 0;
    return regs;
  }

  /**
   * In the trampoline (ESP = regs): call guest `fn(args)` (regparm(3)),
   * returning to the trampoline, which then runs `cont`.
   */
  call(cpu: CPU, regs: number, fn: number, args: readonly number[], cont: Continuation): void {
    this.conts.set(regs, cont);
    this.w32(regs - 4, this.trampoline);
    this.w32(regs - 8, fn);
    cpu.regs[ESP] = (regs - 8) | 0; // the routine's RET pops fn: fn runs with the trampoline as its return address
    cpu.regs[EAX] = (args[0] ?? 0) | 0;
    cpu.regs[EDX] = (args[1] ?? 0) | 0;
    cpu.regs[ECX] = (args[2] ?? 0) | 0;
  }

  /**
   * In the trampoline: resume the code a pt_regs describes — its general
   * registers, then IRET to its ip/cs/flags with ESP = its sp (`flags`
   * overrides the flags word, e.g. TF for a single step).
   */
  resume(cpu: CPU, regs: number, flags?: number): void {
    const rd = (o: number): number => this.r32(regs + o);
    const r = cpu.regs;
    const ip = rd(PT.ip), cs = rd(PT.cs), fl = flags ?? rd(PT.flags), sp = rd(PT.sp);
    r[EBX] = rd(PT.bx);
    r[ECX] = rd(PT.cx);
    r[EDX] = rd(PT.dx);
    r[ESI] = rd(PT.si);
    r[EDI] = rd(PT.di);
    r[EBP] = rd(PT.bp);
    r[EAX] = rd(PT.ax);
    this.w32(sp - 12, ip);
    this.w32(sp - 8, cs);
    this.w32(sp - 4, fl);
    this.w32(sp - 16, this.iretInsn);
    r[ESP] = (sp - 16) | 0; // the routine's RET pops the IRET instruction's address; the IRET pops the frame
  }
}
