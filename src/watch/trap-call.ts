/**
 * Calling guest code from a trap handler: how the watch framework runs a
 * module's handler (kmcf_handler_t) before and after a watched access,
 * the way Linux's do_page_fault() and do_debug() call C functions.
 *
 * kmemsim's #PF and #DB handlers are native (src/kernel/kernel.ts): they
 * run in TypeScript and end with IRET. To call guest code from one, the
 * handler diverts its own return: below the hardware frame it pushes
 *
 *     stub          ← popped by the return routine's RET: IRETs the original frame
 *     R             ← the guest function's return address (a native routine)
 *     EFLAGS CS EIP ← a CPL-0 IRET frame leading to the guest function
 *     (dummy)       ← #PF only: the kernel pops one error code before its IRET
 *
 * and loads the arguments into EAX, EDX, ECX (regparm(3)). The kernel's
 * IRET then enters the function at CPL 0 with IF and TF clear, on the
 * trap's stack; its RET reaches R, which may chain another call of the
 * same function (several accesses), and otherwise restores the general
 * registers of the interrupted code and "returns" to the stub — two real
 * instructions in a kernel page, `add esp, 4; iret` for #PF (dropping the
 * error code) and `iret` for #DB — so the original frame is resumed by the
 * processor itself, as it would have been without the call.
 *
 * One call sequence at a time: `busy` is true from divert() until the
 * interrupted code is resumed (the watch framework counts a watched access
 * made meanwhile instead of calling the handler again: no recursion).
 */
import type { Kernel, TrapFrame } from '../kernel/kernel.js';
import { guestCallHooks } from '../kernel/call.js';
import { KERNEL_CS, kva } from '../kernel/layout.js';
import { IF, TF } from '../cpu/flags.js';

/** `add esp, 4` (83 C4 04) then `iret` (CF): the #PF stub; the #DB stub is the IRET alone. */
const STUB = [0x83, 0xc4, 0x04, 0xcf];
const IRET_ONLY = 3;
/** Where the scratch area for call arguments (e.g. struct kmcf_access) starts in the stub page. */
const SCRATCH = 64;
/** Bytes of scratch space callers may use. */
export const TRAP_CALL_SCRATCH_SIZE = 4096 - SCRATCH;

/** One call of the sequence: its arguments (EAX, EDX, ECX), written just before it is made. */
export interface PendingCall {
  args(): [number, number, number];
  /** The function of this call when not the sequence's (the handlers of a shared IRQ line). */
  fn?: number;
  /** Called with EAX when the function returned. */
  returned?(eax: number): void;
}

export class TrapGuestCall {
  /** Kernel address of the stub page (code, then the scratch area). */
  readonly page: number;
  /** Kernel address of the scratch area (TRAP_CALL_SCRATCH_SIZE bytes). */
  readonly scratch: number;
  private readonly returnRoutine: number;
  private readonly saved = new Int32Array(8);
  private fn = 0;
  private queue: PendingCall[] = [];
  private current: PendingCall | null = null;
  private resumeStub = 0;
  private done: (() => void) | null = null;
  /** A call sequence is under way (from divert() until the interrupted code resumes). */
  busy = false;

  constructor(private readonly kernel: Kernel, name: string) {
    const phys = kernel.frames.alloc();
    kernel.mem.writePhys(phys, new Uint8Array(4096));
    kernel.mem.writePhys(phys, new Uint8Array(STUB));
    this.page = kva(phys);
    this.scratch = (this.page + SCRATCH) | 0;
    this.returnRoutine = kernel.bindRoutine((k) => this.onReturn(k), `${name}_return`);
  }

  /**
   * From inside a trap handler for frame `f`: make the kernel's IRET call
   * `fn` once per entry of `calls` (in order), then resume `f` as it is
   * when the last call returns; `done` runs then. Nothing runs now.
   */
  divert(f: TrapFrame, fn: number, calls: PendingCall[], done: (() => void) | null = null): void {
    if (this.busy) throw new Error('TrapGuestCall.divert: a call sequence is already under way');
    if (calls.length === 0) return;
    const cpu = this.kernel.cpu;
    this.busy = true;
    this.fn = fn;
    this.queue = calls.slice(1);
    this.current = calls[0]!;
    this.done = done;
    this.saved.set(cpu.regs);
    const hasErr = f.errorCode !== null;
    this.resumeStub = hasErr ? this.page : (this.page + IRET_ONLY) | 0;
    // The stack checkers hear of the pushes (initialized words), as for callGuest(); not beforePush/finished:
    // those prepare a call from the host's idle state (the ring-1 layout re-enters CPL 1), not from a trap.
    const hooks = guestCallHooks(this.kernel);
    const top = cpu.regs[4]!;
    cpu.push32(this.resumeStub);
    cpu.push32(this.returnRoutine);
    cpu.push32((f.eflags & ~(TF | IF)) | 2);
    cpu.push32(KERNEL_CS);
    cpu.push32(this.current.fn ?? fn);
    if (hasErr) cpu.push32(0);
    for (const h of hooks) h.pushed?.(this.kernel, cpu.regs[4]!, (top - cpu.regs[4]!) | 0);
    this.loadArgs(this.current);
  }

  private loadArgs(c: PendingCall): void {
    const [a, d, cx] = c.args();
    const r = this.kernel.cpu.regs;
    r[0] = a | 0;
    r[2] = d | 0;
    r[1] = cx | 0;
  }

  /** The guest function returned to R (ESP at the stub slot). */
  private onReturn(k: Kernel): void {
    const cpu = k.cpu;
    this.current?.returned?.(cpu.regs[0]! >>> 0);
    const next = this.queue.shift();
    if (next !== undefined) {
      // Call it again: R as its return address, the function's address for the routine's RET to take.
      this.current = next;
      this.loadArgs(next);
      cpu.push32(this.returnRoutine);
      cpu.push32(next.fn ?? this.fn);
      return;
    }
    this.current = null;
    const esp = cpu.regs[4]!;
    cpu.regs.set(this.saved);
    cpu.regs[4] = esp;
    this.busy = false;
    const done = this.done;
    this.done = null;
    done?.();
    // The routine's RET pops the stub's address: the processor resumes the original frame.
  }
}
