/**
 * Calling guest functions from the host: how the simulated kernel runs a
 * module's init_module() and cleanup_module() (Linux's do_one_initcall()
 * and delete_module() call them as ordinary C functions on the kernel
 * stack of the insmod/rmmod process).
 *
 * The call is made the way compiled kernel code makes it, with i386
 * Linux's -mregparm=3 convention: the first three arguments in EAX, EDX,
 * ECX, the others pushed right to left, then the return address. That
 * return address is a native routine bound once per kernel (the "return
 * stub"): when the guest's RET reaches it, it records that the function
 * returned and stops the CPU. The stop is `{kind: 'exited', status: EAX}`,
 * the only voluntary stop kind the CPU has; the stub's flag is what tells
 * a return apart from a guest that stopped the machine on its own, so a
 * caller sees `returned: true` and no stop, or `returned: false` and the
 * reason (fault, budget, unsupported instruction, triple fault).
 *
 * The function runs at the kernel's current privilege level with the
 * kernel's segments — CPL 0 after boot (Kernel leaves CS = __KERNEL_CS,
 * SS/DS/ES = __KERNEL_DS, ESP at the top of the kernel stack), CPL 1 after
 * src/rings/ring1.ts enterRing1() (CS = KERNEL1_CS, its own CPL-1 stack). DF and TF are cleared on
 * entry (the ABI requires DF = 0 at a call; TF belongs to the checkers).
 */
import type { StopReason } from '../cpu/stop.js';
import type { Kernel } from './kernel.js';

/** The outcome of one guest call. */
export interface CallResult {
  /** The function returned to the host through the return stub. */
  returned: boolean;
  /** EAX (unsigned 32-bit): the return value when `returned`, else whatever EAX held at the stop. */
  eax: number;
  /** EAX as a signed C int (init_module's "-12"). */
  value: number;
  /** Why the machine stopped before the function returned; null when it returned. */
  stop: StopReason | null;
  /** Instructions retired during the call. */
  instructions: number;
}

/**
 * Who wants to know about host calls into the guest: the stack checkers
 * (the host's pushes are initialized stack words; the CPL-1 tracker shows
 * its hidden stack for the pushes and hides it again for the call).
 */
export interface GuestCallHooks {
  /** Before the arguments and return address are pushed. */
  beforePush?(kernel: Kernel): void;
  /** After the pushes: ESP now, and how many bytes were pushed (stack arguments + return address). */
  pushed?(kernel: Kernel, esp: number, bytes: number): void;
  /** The call is over (returned or stopped). */
  finished?(kernel: Kernel): void;
  /**
   * A system call's calls into guest code are over and its trap returns next (src/linux/kcall.ts, which
   * calls beforePush/pushed for each of its calls as callGuest() does): a layout that ran them on another
   * stack goes back to the trap's (the ring-1 layout: CPL 0, the kernel stack the trap frame is on).
   */
  returnToTrap?(kernel: Kernel): void;
}

/** Per-kernel state: the return stub's address and whether it was reached. */
interface CallState {
  stub: number;
  returned: boolean;
  active: boolean;
}

const states = new WeakMap<Kernel, CallState>();

function stateOf(kernel: Kernel): CallState {
  let s = states.get(kernel);
  if (!s) {
    const st: CallState = { stub: 0, returned: false, active: false };
    // Named for stack traces: it is the bottom frame of every module call (where do_one_initcall() would be on Linux).
    st.stub = kernel.bindRoutine((k) => {
      st.returned = true;
      k.cpu.stop({ kind: 'exited', status: k.cpu.regs[0]! | 0 });
    }, 'kmemsim_call_stub');
    states.set(kernel, st);
    s = st;
  }
  return s;
}

/**
 * Hooks per kernel, apart from the call state: registering hooks must not
 * bind the return stub (binding it earlier than a plain run does would
 * give it another address — a value that lands on the stack, so a checked
 * run's garbage would differ from a plain run's).
 */
const callHooks = new WeakMap<Kernel, GuestCallHooks[]>();

const NO_HOOKS: readonly GuestCallHooks[] = [];

/** Register hooks called around every callGuest() on `kernel`. */
export function addGuestCallHooks(kernel: Kernel, hooks: GuestCallHooks): void {
  const list = callHooks.get(kernel);
  if (list) list.push(hooks);
  else callHooks.set(kernel, [hooks]);
}

/** The hooks registered on `kernel`: a trap handler that pushes a guest call itself (src/watch/trap-call.ts) tells them, as callGuest does. */
export function guestCallHooks(kernel: Kernel): readonly GuestCallHooks[] {
  return callHooks.get(kernel) ?? NO_HOOKS;
}

/**
 * A native pushed words for guest code to pop (a tail call's return address, a value a stub pops): ESP
 * was `top` before the pushes. The stack checkers hear of them as of callGuest()'s: initialized words.
 */
export function hostPushed(kernel: Kernel, top: number): void {
  const esp = kernel.cpu.regs[4]!;
  for (const h of guestCallHooks(kernel)) h.pushed?.(kernel, esp, (top - esp) | 0);
}

/** The return stub's guest address for `kernel` (guest code that sees it on the stack is returning to the host). */
export function returnStubAddress(kernel: Kernel): number {
  return stateOf(kernel).stub;
}

const EFLAGS_TF = 0x100;
const EFLAGS_DF = 0x400;

/**
 * Call the guest function at `addr` with `args` (regparm(3)) and run until
 * it returns or the machine stops; at most `budget` instructions.
 *
 * Not re-entrant: a native routine that runs inside a guest call cannot
 * call guest code this way (it throws).
 */
export function callGuest(kernel: Kernel, addr: number, args: readonly number[] = [], budget = 10_000_000_000): CallResult {
  const cpu = kernel.cpu;
  const st = stateOf(kernel);
  const hooks = callHooks.get(kernel) ?? NO_HOOKS;
  if (st.active) throw new Error('callGuest: a guest call is already running (nested guest calls are not supported)');
  if (cpu.cpl === 3) throw new Error('callGuest: the CPU is at CPL 3; guest kernel functions are called from kernel mode');
  for (const a of args) {
    if (!Number.isInteger(a) || a < -0x8000_0000 || a > 0xffff_ffff) throw new RangeError(`callGuest: argument ${a} is not a 32-bit value`);
  }
  let savedEsp = cpu.regs[4]!;
  const before = cpu.icount;
  st.active = true;
  st.returned = false;
  cpu.stopReason = null;
  let stop: StopReason | null;
  try {
    // Stack arguments right to left, then the return address, as CALL leaves them. A beforePush hook
    // may switch stacks (the ring-1 layout re-enters CPL 1 after an oops left the CPU in a ring-0 handler).
    for (const h of hooks) h.beforePush?.(kernel);
    savedEsp = cpu.regs[4]!;
    for (let i = args.length - 1; i >= 3; i--) cpu.push32(args[i]! | 0);
    cpu.push32(st.stub);
    for (const h of hooks) h.pushed?.(kernel, cpu.regs[4]!, (savedEsp - cpu.regs[4]!) | 0);
    cpu.regs[0] = (args[0] ?? 0) | 0;
    cpu.regs[2] = (args[1] ?? 0) | 0;
    cpu.regs[1] = (args[2] ?? 0) | 0;
    cpu.setEflags(0, EFLAGS_DF | EFLAGS_TF);
    cpu.eip = addr | 0;
    try {
      stop = cpu.run(budget);
    } catch (e) {
      // The CPU turns guest problems into stops itself; anything reaching here is a kmemsim bug.
      stop = { kind: 'internal-error', eip: cpu.eip, message: `internal error: ${e instanceof Error ? e.message : String(e)}` };
    }
    stop ??= { kind: 'budget', executed: cpu.icount };
  } finally {
    st.active = false;
    for (const h of hooks) h.finished?.(kernel);
  }
  const eax = cpu.regs[0]! >>> 0;
  const instructions = cpu.icount - before;
  if (st.returned) {
    // The callee popped the return address; the caller removes the stack arguments, as after any call.
    cpu.regs[4] = savedEsp;
    cpu.stopReason = null;
    return { returned: true, eax, value: eax | 0, stop: null, instructions };
  }
  return { returned: false, eax, value: eax | 0, stop, instructions };
}
