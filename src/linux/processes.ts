/**
 * Processes: fork/vfork/clone (fork-like flags), execve of static i386 ELF
 * files and #! scripts, exit and exit_group, wait4/waitpid, kill/tkill/
 * tgkill with Linux's default actions, SIGCHLD to the parent on exit.
 * Threads (CLONE_VM | CLONE_THREAD) are not modelled: -ENOSYS.
 */
import * as fs from 'node:fs';
import { parseElf32, ElfError } from '../elf/elf32.js';
import { X87State } from '../cpu/fpu/x87-state.js';
import { buildInitialStack, parseUserProgram, mapSegments, LoadError, STACK_PAGES } from '../kernel/process.js';
import { TASK_SIZE, PAGE_SIZE, USER_DS } from '../kernel/layout.js';
import { DS, ES, FS, GS } from '../cpu/instr.js';
import { loadSegment, setSegmentCache } from '../cpu/segments.js';
import { EACCES, ECHILD, EINVAL, ELOOP, ENOEXEC, ENOMEM, ENOSYS, ESRCH, E2BIG, LinuxError, host } from './errno.js';
import type { LinuxSystem, SyscallTable } from './linux.js';
import { HOST_GID, HOST_UID, cpuidLeaf } from './linux.js';
import { Task } from './task.js';
import { TlsSlots, setThreadArea } from './tls.js';
import { SIGCHLD, NSIG } from './signals.js';
import { S_IFMT, S_IFREG, WOULD_BLOCK } from './fs/file.js';
import { UserMm, elfSegmentVmas } from './mm.js';
import { devString } from './sys-mm.js';
import { PT_LOAD } from '../elf/elf32.js';

const CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400, CLONE_SIGHAND = 0x800, CLONE_VFORK = 0x4000,
  CLONE_THREAD = 0x10000, CLONE_SETTLS = 0x80000, CLONE_PARENT_SETTID = 0x100000, CLONE_CHILD_CLEARTID = 0x200000,
  CLONE_CHILD_SETTID = 0x1000000;
const WNOHANG = 1, WUNTRACED = 2, WCONTINUED = 8;
const MAX_ARG_STRLEN_TOTAL = 128 * 1024;

export function processSyscalls(sys: LinuxSystem): SyscallTable {
  const ua = sys.ua;
  const t = () => sys.task;

  function fork(flags: number, newsp: number, ptid: number, tls: number, ctid: number): number {
    if (flags & (CLONE_VM | CLONE_THREAD | CLONE_SIGHAND | CLONE_FILES | CLONE_FS) && !(flags & CLONE_VFORK && (flags & ~0xff) === (CLONE_VM | CLONE_VFORK))) {
      throw new LinuxError(ENOSYS); // threads and shared tables are not modelled
    }
    const parent = t();
    const frame = sys.frame!;
    const mm = parent.mm.fork();
    const pid = sys.allocPid();
    const child = new Task(pid, parent.pid, mm, parent.files.clone(), parent.cwd, parent.tls.clone(), parent.signals.clone(), parent.exe, parent.argv, parent.env);
    child.comm = parent.comm;
    child.pgid = parent.pgid;
    child.sid = parent.sid;
    child.umask = parent.umask;
    // The child returns from the same system call with EAX = 0 (ret_from_fork).
    const regs = Int32Array.from(sys.k.cpu.regs);
    regs[0] = 0;
    regs[4] = newsp ? newsp : frame.esp;
    const c = sys.k.cpu;
    child.context = { regs, eip: frame.eip, eflags: frame.eflags, segs: [c.segSel[DS], c.segSel[ES], c.segSel[FS], c.segSel[GS]], fpu: new X87State().copyFrom(c.fpu) };
    if (sys.processTasks && !sys.processTasks.add(child)) {
      mm.destroy();
      throw new LinuxError(ENOMEM);
    }
    sys.tasks.set(pid, child);
    if (flags & CLONE_SETTLS) {
      // The descriptor is read in the parent's memory and installed in the child's slots only.
      const slots = child.tls;
      setThreadArea(sys.k, ua, slots, tls);
      parent.tls.load(sys.k);
    }
    if (flags & CLONE_PARENT_SETTID) ua.write32(ptid, pid);
    if (flags & CLONE_CHILD_SETTID) sys.writeInTask(child, ctid, pid);
    if (flags & CLONE_CHILD_CLEARTID) child.clearChildTid = ctid;
    return pid;
  }

  function waitFor(pid: number, statusAddr: number, options: number): number | typeof WOULD_BLOCK {
    if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | 0x40000000 | 0x80000000 | 0x20000000)) throw new LinuxError(EINVAL);
    const me = t();
    const mine = [...sys.tasks.values()].filter((c) => c.ppid === me.pid && (pid === -1 || (pid > 0 ? c.pid === pid : pid === 0 ? c.pgid === me.pgid : c.pgid === -pid)));
    if (!mine.length) throw new LinuxError(ECHILD);
    const zombie = mine.find((c) => c.state === 'zombie');
    if (zombie) {
      if (statusAddr) ua.write32(statusAddr, zombie.exitStatus);
      sys.reap(zombie);
      return zombie.pid;
    }
    const stopped = options & WUNTRACED ? mine.find((c) => c.state === 'stopped' && c.stopReport) : undefined;
    if (stopped) {
      if (statusAddr) ua.write32(statusAddr, (stopped.stopReport << 8) | 0x7f);
      stopped.stopReport = 0;
      return stopped.pid;
    }
    if (options & WNOHANG) return 0;
    return sys.block(() => mine.some((c) => c.state === 'zombie' || !sys.tasks.has(c.pid) || (options & WUNTRACED && c.state === 'stopped' && c.stopReport !== 0)));
  }

  function kill(pid: number, sig: number): number {
    if (sig < 0 || sig > NSIG) throw new LinuxError(EINVAL);
    const me = t();
    const targets = [...sys.tasks.values()].filter((x) => x.state !== 'zombie' && (
      pid > 0 ? x.pid === pid : pid === 0 ? x.pgid === me.pgid : pid === -1 ? x.pid !== 1 || x === me : x.pgid === -pid));
    if (!targets.length) throw new LinuxError(ESRCH);
    if (sig !== 0) for (const x of targets) sys.sendSignal(x, sig, me.pid);
    return 0;
  }

  function execve(pathAddr: number, argvAddr: number, envpAddr: number): number {
    const path = ua.readString(pathAddr);
    const argv = ua.readStringArray(argvAddr, MAX_ARG_STRLEN_TOTAL);
    const env = ua.readStringArray(envpAddr, MAX_ARG_STRLEN_TOTAL);
    let guest = path, args = argv;
    for (let depth = 0; ; depth++) {
      if (depth > 4) throw new LinuxError(ELOOP);
      const r = sys.vfs.resolve(guest, t().cwd, true);
      if (r.kind !== 'host') throw new LinuxError(EACCES);
      if (!r.stat) throw new LinuxError(2 /* ENOENT */);
      if ((r.stat.mode & S_IFMT) !== S_IFREG) throw new LinuxError(EACCES);
      host(() => fs.accessSync(r.host, fs.constants.X_OK));
      const bytes = new Uint8Array(host(() => fs.readFileSync(r.host)));
      if (bytes[0] === 0x23 && bytes[1] === 0x21) {
        // #! interpreter [one optional argument] (fs/binfmt_script.c): argv becomes interp [arg] path argv[1..].
        const nl = bytes.indexOf(10);
        const line = Buffer.from(bytes.subarray(2, nl < 0 ? Math.min(bytes.length, 256) : Math.min(nl, 256))).toString('utf8').trim();
        if (!line) throw new LinuxError(ENOEXEC);
        const sp = line.search(/[ \t]/);
        const interp = sp < 0 ? line : line.slice(0, sp);
        const opt = sp < 0 ? '' : line.slice(sp).trim();
        args = [interp, ...(opt ? [opt] : []), guest, ...args.slice(1)];
        guest = interp;
        continue;
      }
      let elf;
      try {
        elf = parseUserProgram(bytes);
      } catch (e) {
        if (e instanceof ElfError || e instanceof LoadError) {
          if (e instanceof LoadError || (bytes[0] === 0x7f && bytes[1] === 0x45)) sys.io.diagnostic(`kmemsim: execve ${guest}: ${e.message}`);
          throw new LinuxError(ENOEXEC);
        }
        throw e;
      }
      sys.io.verbose && sys.io.diagnostic(`kmemsim: pid ${t().pid} execve ${r.guest}`);
      replaceImage(elf, r.guest, r.stat, path, args, env);
      return 0;
    }
  }

  /** The point of no return (begin_new_exec + load_elf_binary + start_thread). */
  function replaceImage(elf: ReturnType<typeof parseElf32>, exe: string, st: { dev: number; ino: number }, execfn: string, argv: string[], env: string[]): void {
    const k = sys.k;
    const task = t();
    for (const f of sys.mmReleased) f(task.mm.as);
    task.mm.destroy(true);
    k.cpu.flushTlb();
    const mm = new UserMm(k, task.mm.as);
    task.mm = mm;
    mapSegments(k, mm.as, elf);
    const segments = elfSegmentVmas(elf);
    mm.setupExec(segments, { path: exe, dev: devString(st.dev), inode: st.ino }, TASK_SIZE - STACK_PAGES * PAGE_SIZE);
    task.tls = new TlsSlots();
    task.tls.load(k);
    task.signals.resetForExec();
    task.files.closeOnExec();
    k.cpu.fpu.init(); // a new image starts with FNINIT's state (Linux's fpstate_init on exec)
    task.exe = exe;
    task.setComm(execfn);
    task.argv = argv;
    task.env = env;
    const sp = buildInitialStack(k, mm.as, elf, { argv, env }, { system: sys, execfn, hwcap: cpuidLeaf(k, 1).edx, uid: HOST_UID, gid: HOST_GID });
    // start_thread(): the new program starts with clean registers at its entry point.
    const r = k.cpu.regs;
    for (let i = 0; i < 8; i++) if (i !== 4) r[i] = 0;
    const f = sys.frame!;
    f.eip = elf.header.entry;
    f.esp = sp;
    f.eflags = 0x202;
    for (const seg of [DS, ES]) loadSegment(k.cpu, seg, USER_DS);
    for (const seg of [FS, GS]) setSegmentCache(k.cpu, seg, 0, null);
  }

  return {
    2: () => fork(SIGCHLD, 0, 0, 0, 0),
    190: () => fork(SIGCHLD, 0, 0, 0, 0), // vfork as fork: the parent does not wait for the child's exec (allowed; nothing shared)
    120: (flags, newsp, ptid, tls, ctid) => fork(flags, newsp, ptid, tls, ctid),
    11: (p, a, e) => execve(p, a, e),
    7: (pid, status, options) => waitFor(pid, status, options),
    114: (pid, status, options, rusage) => {
      if (rusage) ua.write(rusage, new Uint8Array(72));
      return waitFor(pid, status, options);
    },
    37: (pid, sig) => kill(pid, sig),
    238: (tid, sig) => kill(tid > 0 ? tid : -1e9, sig),
    270: (tgid, tid, sig) => {
      if (tgid <= 0 || tid <= 0) throw new LinuxError(EINVAL);
      if (tgid !== tid) throw new LinuxError(ESRCH);
      return kill(tid, sig);
    },
    1: (status) => (sys.exitTask(t(), (status & 0xff) << 8), 0),
    252: (status) => (sys.exitTask(t(), (status & 0xff) << 8), 0),
  };
}
void E2BIG;
