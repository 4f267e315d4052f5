/**
 * Calls from a system call into kernel code that is guest code: a loaded
 * module's file_operations (open, read, write, unlocked_ioctl, llseek,
 * release), its init function (init_module(2)) and exit function
 * (delete_module(2)).
 *
 * On Linux these are ordinary C calls made on the kernel stack of the task
 * that made the system call. kmemsim does the same without nesting a host
 * run loop: the system-call handler leaves the int $0x80 frame on the
 * kernel stack, pushes the call's stack arguments and a return address — a
 * native continuation, `kmemsim_syscall_continue` — loads EAX, EDX, ECX
 * (-mregparm=3) and jumps to the function at CPL 0 (Kernel.deferTrapReturn()) — or, with the
 * ring-1 layout, at CPL 1 on the task's CPL-1 stack (the guest-call hooks move there and back:
 * src/rings/ring1-tasks.ts).
 * When the function returns, the continuation runs the rest of the system
 * call (`then`), which may make another call (seq_file's release after a
 * failed open, the deferred fput()s) or finish: the user's registers are put
 * back as the entry code's pt_regs would restore them, EAX gets the result,
 * and the CPU returns from the trap with IRET.
 *
 * The kernel is not preemptible (no CONFIG_PREEMPT): a task in such a call
 * runs until it returns to user mode or sleeps. Each process has its own
 * calls in flight (its kernel stack): one that sleeps in module code lets
 * other processes make theirs (src/linux/process-tasks.ts).
 */
import type { Kernel } from '../kernel/kernel.js';
import { GuestFault } from '../kernel/guest-memory.js';
import { guestCallHooks, hostPushed } from '../kernel/call.js';
import { schedulerOf } from '../kernel/sched/scheduler.js';
import { OutOfMemory } from '../kernel/pages.js';
import { EFAULT, ENOMEM, LinuxError } from './errno.js';
import { WOULD_BLOCK } from './fs/file.js';

/** A system call's next step: call guest function `fn` with `args` (regparm(3)), then continue with `then(EAX, EDX)`. */
export class GuestCallRequest {
  constructor(
    readonly fn: number,
    readonly args: readonly number[],
    readonly then: (eax: number, edx: number) => SyscallResult,
  ) {}
}

/** What a system call (or one of its continuations) produces: the result, a sleep, or a call into guest code first. */
export type SyscallResult = number | typeof WOULD_BLOCK | GuestCallRequest;

/** Registers the entry code saves in pt_regs and restores on the way out (EAX carries the result). */
const SAVED = [1, 2, 3, 5, 6, 7]; // ECX, EDX, EBX, EBP, ESI, EDI

interface Pending {
  stackBytes: number;
  then: (eax: number, edx: number) => SyscallResult;
}

const EFLAGS_DF = 0x400;

/** One task's system call in guest code: its continuations, the user registers to put back, its trap frame. */
interface InFlight {
  pending: Pending[];
  saved: Int32Array | null;
  frame: unknown;
}

/** Whose calls are in flight: the current task (a key), and its trap frame to keep across sleeps. */
export interface KernelCallOwner {
  current(): object;
  /** Is the task dead (killed while its call slept)? Its call then ends in do_exit, not in user mode. */
  exiting(task: object): boolean;
  getFrame(): unknown;
  setFrame(frame: unknown): void;
}

export class KernelCalls {
  private readonly calls = new Map<object, InFlight>();
  private readonly continuation: number;

  /**
   * `finish` completes the system call with a plain result (signals, EAX,
   * sleeping); it is given the frame address so it can find the trap frame.
   */
  constructor(private readonly k: Kernel, private readonly finish: (res: number | typeof WOULD_BLOCK) => void, private readonly owner: KernelCallOwner) {
    this.continuation = k.bindEntry(() => this.resume(), 'kmemsim_syscall_continue');
  }

  private get mine(): InFlight {
    const key = this.owner.current();
    let c = this.calls.get(key);
    if (!c) {
      c = { pending: [], saved: null, frame: null };
      this.calls.set(key, c);
    }
    return c;
  }

  /** Is a system call of the current task waiting in guest code? */
  get active(): boolean {
    return this.activeFor(this.owner.current());
  }

  /** Is a system call of `task` in guest code (running or asleep there)? */
  activeFor(task: object): boolean {
    return (this.calls.get(task)?.pending.length ?? 0) > 0;
  }

  /** Start `req` from the system-call handler: the trap frame stays on the kernel stack. */
  start(req: GuestCallRequest): void {
    schedulerOf(this.k)?.syncUserTask(); // `current` is this process
    const c = this.mine;
    if (c.saved === null) c.saved = Int32Array.from(this.k.cpu.regs);
    c.frame = this.owner.getFrame();
    this.enter(req);
    this.k.deferTrapReturn();
  }

  /** Forget the current task's calls in flight (the task died in one: an oops). */
  reset(): void {
    this.calls.delete(this.owner.current());
  }

  /** Forget `task`'s calls (it was released). */
  forget(task: object): void {
    this.calls.delete(task);
  }

  private enter(req: GuestCallRequest): void {
    const cpu = this.k.cpu;
    const stackArgs = req.args.slice(3);
    // As callGuest(): the hooks may move to another stack first (the ring-1 layout: CPL 1, the task's CPL-1 stack).
    for (const h of guestCallHooks(this.k)) h.beforePush?.(this.k);
    const top = cpu.regs[4]!;
    for (let i = stackArgs.length - 1; i >= 0; i--) cpu.push32(stackArgs[i]! | 0);
    cpu.push32(this.continuation);
    hostPushed(this.k, top); // initialized stack words for the stack checkers, as callGuest()'s
    this.mine.pending.push({ stackBytes: stackArgs.length * 4, then: req.then });
    cpu.regs[0] = (req.args[0] ?? 0) | 0;
    cpu.regs[2] = (req.args[1] ?? 0) | 0;
    cpu.regs[1] = (req.args[2] ?? 0) | 0;
    cpu.setEflags(0, EFLAGS_DF); // the entry code's CLD: the ABI wants DF clear at a call
    cpu.eip = req.fn | 0;
  }

  private resume(): void {
    const cpu = this.k.cpu;
    const c = this.mine;
    const p = c.pending.pop();
    if (!p) {
      cpu.stop({ kind: 'internal-error', eip: cpu.eip, message: 'internal error: a system-call continuation was reached with no call in flight' });
      return;
    }
    // The callee's RET popped the return address; the caller drops the stack arguments.
    cpu.regs[4] = (cpu.regs[4] + p.stackBytes) | 0;
    let r: SyscallResult;
    try {
      r = p.then(cpu.regs[0]! >>> 0, cpu.regs[2]! >>> 0);
    } catch (e) {
      r = errnoResult(e);
    }
    if (r instanceof GuestCallRequest) {
      this.enter(r);
      return;
    }
    if (c.pending.length) {
      cpu.stop({ kind: 'internal-error', eip: cpu.eip, message: 'internal error: nested system-call continuations' });
      return;
    }
    // Back on the kernel stack the trap frame is on (a layout that ran the calls elsewhere moves back).
    for (const h of guestCallHooks(this.k)) h.returnToTrap?.(this.k);
    const saved = c.saved!;
    c.saved = null;
    for (const i of SAVED) cpu.regs[i] = saved[i]!;
    this.owner.setFrame(c.frame); // the call may have slept while other tasks made theirs
    // A call that sleeps restarts with its number in EAX (orig_ax): poll(2) after its drivers' poll()s.
    if (r === WOULD_BLOCK) cpu.regs[0] = saved[0]!;
    this.finish(r);
    if (cpu.stopReason && cpu.stopReason.kind !== 'yield') return;
    if (c.pending.length) return; // finish() started more work (the deferred fput()s)
    this.k.returnFromTrap();
    // A task killed while its call slept does not run user code again: the run loop sends it to do_exit().
    if (this.owner.exiting(this.owner.current())) cpu.stop({ kind: 'yield' });
  }
}

/** A host-side exception in a system call as its -errno (LinuxError, a bad user pointer, no memory). */
export function errnoResult(e: unknown): number {
  if (e instanceof LinuxError) return -e.errno;
  if (e instanceof GuestFault) return -EFAULT;
  if (e instanceof OutOfMemory) return -ENOMEM;
  throw e;
}
