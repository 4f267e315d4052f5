/**
 * Signal dispositions and the blocked mask (kernel/signal.c): what
 * rt_sigaction, rt_sigprocmask and sigaltstack record, and the default
 * action of each signal (terminate, core, ignore, stop, continue).
 */
import { EINVAL, LinuxError } from './errno.js';
import type { UserAccess } from './uaccess.js';

export const NSIG = 64;
export const SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGILL = 4, SIGTRAP = 5, SIGABRT = 6, SIGBUS = 7, SIGFPE = 8,
  SIGKILL = 9, SIGUSR1 = 10, SIGSEGV = 11, SIGUSR2 = 12, SIGPIPE = 13, SIGALRM = 14, SIGTERM = 15, SIGSTKFLT = 16,
  SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGTSTP = 20, SIGTTIN = 21, SIGTTOU = 22, SIGURG = 23, SIGXCPU = 24,
  SIGXFSZ = 25, SIGVTALRM = 26, SIGPROF = 27, SIGWINCH = 28, SIGIO = 29, SIGPWR = 30, SIGSYS = 31;
export const SIG_DFL = 0, SIG_IGN = 1;
export const SIG_BLOCK = 0, SIG_UNBLOCK = 1, SIG_SETMASK = 2;

export type DefaultAction = 'term' | 'core' | 'ign' | 'stop' | 'cont';

/** The default actions (signal(7)). */
export function defaultAction(sig: number): DefaultAction {
  switch (sig) {
    case SIGCHLD: case SIGURG: case SIGWINCH: return 'ign';
    case SIGCONT: return 'cont';
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU: return 'stop';
    case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS: case SIGFPE: case SIGSEGV: case SIGXCPU:
    case SIGXFSZ: case SIGSYS: return 'core';
    default: return 'term';
  }
}

export interface SigAction {
  handler: number;
  flags: number;
  restorer: number;
  /** sa_mask as two 32-bit words. */
  mask: [number, number];
}

export class SignalState {
  actions: SigAction[] = Array.from({ length: NSIG + 1 }, () => ({ handler: SIG_DFL, flags: 0, restorer: 0, mask: [0, 0] as [number, number] }));
  blocked: [number, number] = [0, 0];
  altstack = { sp: 0, flags: 2 /* SS_DISABLE */, size: 0 };

  clone(): SignalState {
    const s = new SignalState();
    s.actions = this.actions.map((a) => ({ ...a, mask: [...a.mask] as [number, number] }));
    s.blocked = [...this.blocked];
    s.altstack = { ...this.altstack };
    return s;
  }
  /** execve(): handled signals go back to SIG_DFL; ignored ones stay ignored. */
  resetForExec(): void {
    for (const a of this.actions) if (a.handler !== SIG_IGN) Object.assign(a, { handler: SIG_DFL, flags: 0, restorer: 0, mask: [0, 0] });
    this.altstack = { sp: 0, flags: 2, size: 0 };
  }
}

/** rt_sigaction(sig, act, oact, sigsetsize): struct sigaction { handler; flags; restorer; u64 mask }. */
export function rtSigaction(ua: UserAccess, s: SignalState, sig: number, act: number, oact: number, sigsetsize: number): number {
  if (sigsetsize !== 8 || sig < 1 || sig > NSIG) throw new LinuxError(EINVAL);
  if (act && (sig === SIGKILL || sig === SIGSTOP)) throw new LinuxError(EINVAL);
  const cur = s.actions[sig]!;
  let next: SigAction | null = null;
  if (act) {
    const b = Buffer.from(ua.read(act, 20));
    next = { handler: b.readUInt32LE(0), flags: b.readUInt32LE(4), restorer: b.readUInt32LE(8), mask: [b.readUInt32LE(12), b.readUInt32LE(16)] };
  }
  if (oact) {
    const b = Buffer.alloc(20);
    b.writeUInt32LE(cur.handler >>> 0, 0);
    b.writeUInt32LE(cur.flags >>> 0, 4);
    b.writeUInt32LE(cur.restorer >>> 0, 8);
    b.writeUInt32LE(cur.mask[0] >>> 0, 12);
    b.writeUInt32LE(cur.mask[1] >>> 0, 16);
    ua.write(oact, b);
  }
  if (next) s.actions[sig] = next;
  return 0;
}

/** rt_sigprocmask(how, set, oset, sigsetsize): SIGKILL and SIGSTOP can never be blocked. */
export function rtSigprocmask(ua: UserAccess, s: SignalState, how: number, set: number, oset: number, sigsetsize: number): number {
  if (sigsetsize !== 8) throw new LinuxError(EINVAL);
  let want: [number, number] | null = null;
  if (set) {
    const b = Buffer.from(ua.read(set, 8));
    want = [b.readUInt32LE(0), b.readUInt32LE(4)];
    if (how !== SIG_BLOCK && how !== SIG_UNBLOCK && how !== SIG_SETMASK) throw new LinuxError(EINVAL);
  }
  if (oset) {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(s.blocked[0] >>> 0, 0);
    b.writeUInt32LE(s.blocked[1] >>> 0, 4);
    ua.write(oset, b);
  }
  if (want) {
    const [lo, hi] = s.blocked;
    const n: [number, number] = how === SIG_BLOCK ? [lo | want[0], hi | want[1]]
      : how === SIG_UNBLOCK ? [lo & ~want[0], hi & ~want[1]] : want;
    n[0] &= ~((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)));
    s.blocked = [n[0] >>> 0, n[1] >>> 0];
  }
  return 0;
}

/** sigaltstack(ss, old_ss): stack_t { void *ss_sp; int ss_flags; size_t ss_size }. */
export function sigaltstack(ua: UserAccess, s: SignalState, ss: number, old: number): number {
  if (old) {
    const b = Buffer.alloc(12);
    b.writeUInt32LE(s.altstack.sp >>> 0, 0);
    b.writeInt32LE(s.altstack.flags, 4);
    b.writeUInt32LE(s.altstack.size >>> 0, 8);
    ua.write(old, b);
  }
  if (ss) {
    const b = Buffer.from(ua.read(ss, 12));
    const flags = b.readInt32LE(4);
    if (flags !== 0 && flags !== 2) throw new LinuxError(EINVAL);
    if (flags === 0 && b.readUInt32LE(8) < 2048) throw new LinuxError(12 /* ENOMEM: below MINSIGSTKSZ */);
    s.altstack = { sp: b.readUInt32LE(0), flags, size: b.readUInt32LE(8) };
  }
  return 0;
}

/** The exit status a shell shows for death by `sig` (128 + N). */
export function signalExitStatus(sig: number): number {
  return 128 + sig;
}
