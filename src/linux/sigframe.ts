/**
 * Signal delivery on i386 (arch/x86/kernel/signal_32.c): a handler is
 * entered with a real signal frame on the user stack — struct sigframe
 * (sigreturn, 119) or, with SA_SIGINFO, struct rt_sigframe (siginfo and
 * ucontext; rt_sigreturn, 173) — returning through sa_restorer. The saved
 * struct sigcontext holds every register, so a handler can return (the
 * faulting instruction runs again), longjmp out, or edit the context.
 */
import type { Kernel } from '../kernel/kernel.js';
import { DS, ES, FS, GS } from '../cpu/instr.js';
import { loadSegment, setSegmentCache } from '../cpu/segments.js';
import { FAULT } from '../cpu/stop.js';
import { USER_CS, USER_DS } from '../kernel/layout.js';
import type { UserAccess } from './uaccess.js';
import { LinuxError } from './errno.js';
import { GuestFault } from '../kernel/guest-memory.js';
import type { SignalState } from './signals.js';

export const SA_SIGINFO = 4, SA_ONSTACK = 0x08000000, SA_RESTART = 0x10000000, SA_NODEFER = 0x40000000,
  SA_RESETHAND = 0x80000000, SA_RESTORER = 0x04000000;
const SS_ONSTACK = 1, SS_DISABLE = 2;

/** The user's registers where the kernel keeps them: in a trap frame, or live at a user instruction boundary. */
export interface UserRegs {
  eip: number;
  esp: number;
  eflags: number;
}

/** What sigcontext records about the event (trapno, err, cr2) for a fault; zero for a sent signal. */
export interface FaultInfo {
  trapno: number;
  err: number;
  cr2: number;
  /** si_code and si_addr for the siginfo. */
  code: number;
  addr: number;
}

const SIGCONTEXT_SIZE = 88;

function writeSigcontext(k: Kernel, u: UserRegs, fault: FaultInfo | null, oldmask: number): Buffer {
  const c = k.cpu, r = c.regs;
  const b = Buffer.alloc(SIGCONTEXT_SIZE);
  b.writeUInt32LE(c.segSel[GS] & 0xffff, 0);
  b.writeUInt32LE(c.segSel[FS] & 0xffff, 4);
  b.writeUInt32LE(c.segSel[ES] & 0xffff, 8);
  b.writeUInt32LE(c.segSel[DS] & 0xffff, 12);
  [r[7], r[6], r[5], u.esp, r[3], r[2], r[1], r[0]].forEach((v, i) => b.writeUInt32LE(v! >>> 0, 16 + i * 4));
  b.writeUInt32LE((fault?.trapno ?? 0) >>> 0, 48);
  b.writeUInt32LE((fault?.err ?? 0) >>> 0, 52);
  b.writeUInt32LE(u.eip >>> 0, 56);
  b.writeUInt32LE(USER_CS, 60);
  b.writeUInt32LE(u.eflags >>> 0, 64);
  b.writeUInt32LE(u.esp >>> 0, 68);
  b.writeUInt32LE(USER_DS, 72);
  b.writeUInt32LE(0, 76); // fpstate: no FPU state is saved (the x87 is another branch's)
  b.writeUInt32LE(oldmask >>> 0, 80);
  b.writeUInt32LE((fault?.cr2 ?? 0) >>> 0, 84);
  return b;
}

/**
 * Build the frame for `sig` on the user stack and point the registers at the
 * handler. Returns false when the frame cannot be written (the kernel then
 * kills the task with SIGSEGV, as force_sigsegv()).
 */
export function setupFrame(k: Kernel, ua: UserAccess, s: SignalState, sig: number, u: UserRegs, fault: FaultInfo | null, senderPid: number, savedMask: [number, number] | null = null): boolean {
  const act = s.actions[sig]!;
  const r = k.cpu.regs;
  let sp = u.esp >>> 0;
  const onAlt = s.altstack.flags !== SS_DISABLE && sp > s.altstack.sp && sp <= s.altstack.sp + s.altstack.size;
  if (act.flags & SA_ONSTACK && s.altstack.flags !== SS_DISABLE && !onAlt) sp = (s.altstack.sp + s.altstack.size) >>> 0;
  const rt = (act.flags & SA_SIGINFO) !== 0;
  const size = rt ? 4 * 4 + 128 + 20 + SIGCONTEXT_SIZE + 8 + 8 : 4 * 2 + SIGCONTEXT_SIZE + 4 + 8;
  sp = (((sp - size) & ~15) - 4) >>> 0; // align_sigframe(): (sp + 4) is 16-byte aligned at handler entry
  // The mask the handler's return restores: the task's, or the one sigsuspend() replaced.
  const [m0, m1] = savedMask ?? s.blocked;
  const restorer = act.flags & SA_RESTORER ? act.restorer : 0;
  const f = Buffer.alloc(size);
  f.writeUInt32LE(restorer >>> 0, 0);
  f.writeInt32LE(sig, 4);
  try {
    if (rt) {
      const info = sp + 16, uc = info + 128;
      f.writeUInt32LE(info >>> 0, 8);
      f.writeUInt32LE(uc >>> 0, 12);
      // siginfo: si_signo, si_errno, si_code, then the union (si_addr for faults, si_pid/si_uid for kill()).
      f.writeInt32LE(sig, 16);
      f.writeInt32LE(fault ? fault.code : 0 /* SI_USER */, 24);
      if (fault) f.writeUInt32LE(fault.addr >>> 0, 28);
      else f.writeInt32LE(senderPid, 28);
      // ucontext: uc_flags, uc_link, uc_stack, uc_mcontext, uc_sigmask.
      const ucOff = 16 + 128;
      f.writeUInt32LE(s.altstack.sp >>> 0, ucOff + 8);
      f.writeInt32LE(onAlt ? SS_ONSTACK : s.altstack.flags, ucOff + 12);
      f.writeUInt32LE(s.altstack.size >>> 0, ucOff + 16);
      writeSigcontext(k, u, fault, m0).copy(f, ucOff + 20);
      f.writeUInt32LE(m0 >>> 0, ucOff + 20 + SIGCONTEXT_SIZE);
      f.writeUInt32LE(m1 >>> 0, ucOff + 24 + SIGCONTEXT_SIZE);
    } else {
      writeSigcontext(k, u, fault, m0).copy(f, 8);
      f.writeUInt32LE(m1 >>> 0, 8 + SIGCONTEXT_SIZE);
    }
    ua.write(sp, f);
  } catch (e) {
    if (e instanceof LinuxError || e instanceof GuestFault) return false;
    throw e;
  }
  // Block sa_mask and (unless SA_NODEFER) the signal itself while the handler runs.
  const bit = sig - 1;
  s.blocked = [(m0 | act.mask[0] | (act.flags & SA_NODEFER || bit >= 32 ? 0 : 1 << bit)) >>> 0, (m1 | act.mask[1] | (act.flags & SA_NODEFER || bit < 32 ? 0 : 1 << (bit - 32))) >>> 0];
  if (act.flags & SA_RESETHAND) act.handler = 0;
  u.esp = sp;
  u.eip = act.handler;
  u.eflags &= ~(0x100 | 0x400 | 0x40000); // TF, DF, AC cleared for the handler
  r[0] = sig;
  if (rt) {
    r[2] = sp + 16; // EDX: siginfo (regparm-style convenience, as Linux does)
    r[1] = sp + 16 + 128; // ECX: ucontext
  }
  for (const seg of [DS, ES]) setSegmentCache(k.cpu, seg, USER_DS, null), loadSegment(k.cpu, seg, USER_DS);
  return true;
}

/** sigreturn/rt_sigreturn: restore the registers and mask from the frame the handler returned through. Returns EAX. */
export function restoreFrame(k: Kernel, ua: UserAccess, s: SignalState, u: UserRegs, rt: boolean): number {
  // The restorer popped pretcode (and for sigreturn also sig: "popl %eax") before int $0x80.
  const scAddr = rt ? u.esp - 4 + 16 + 128 + 20 : u.esp - 8 + 8;
  const sc = Buffer.from(ua.read(scAddr, SIGCONTEXT_SIZE + 8));
  const r = k.cpu.regs;
  const regsOrder = [7, 6, 5, -1, 3, 2, 1, 0];
  regsOrder.forEach((reg, i) => {
    if (reg >= 0) r[reg] = sc.readUInt32LE(16 + i * 4) | 0;
  });
  u.esp = sc.readUInt32LE(28);
  u.eip = sc.readUInt32LE(56);
  // FIX_EFLAGS: only the flags a user may change come back from the frame.
  const FIX = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x40000;
  u.eflags = (u.eflags & ~FIX) | (sc.readUInt32LE(64) & FIX);
  const segs: [number, number][] = [[GS, 0], [FS, 4], [ES, 8], [DS, 12]];
  for (const [seg, off] of segs) {
    try {
      loadSegment(k.cpu, seg, sc.readUInt32LE(off) & 0xffff);
    } catch (e) {
      if (e !== FAULT) throw e;
      setSegmentCache(k.cpu, seg, 0, null);
    }
  }
  const mask: [number, number] = rt
    ? [sc.readUInt32LE(SIGCONTEXT_SIZE), sc.readUInt32LE(SIGCONTEXT_SIZE + 4)]
    : [sc.readUInt32LE(80), sc.readUInt32LE(SIGCONTEXT_SIZE)];
  s.blocked = [(mask[0] & ~((1 << 8) | (1 << 18))) >>> 0, mask[1] >>> 0];
  return r[0]!;
}
