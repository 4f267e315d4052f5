/**
 * Process identity, time, limits, TLS, futexes, randomness and signal
 * bookkeeping: the calls glibc's start-up and ordinary programs make.
 */
import { EAGAIN, EFAULT, EINVAL, EPERM, ESRCH, ETIMEDOUT, LinuxError } from './errno.js';
import { HOST_GID, HOST_UID, HOSTNAME, type LinuxSystem, type SyscallTable } from './linux.js';
import { getThreadArea, setThreadArea } from './tls.js';
import { rtSigaction, rtSigprocmask, sigaltstack, NSIG } from './signals.js';
import { CLOCK_EPOCH, type Timespec } from './clock.js';
import { STACK_LIMIT } from '../kernel/layout.js';
import { WOULD_BLOCK } from './fs/file.js';
import { TASK_COMM_LEN } from './task.js';

const RLIM_INFINITY = 0xffffffff;
const RLIMIT_CPU = 0, RLIMIT_FSIZE = 1, RLIMIT_DATA = 2, RLIMIT_STACK = 3, RLIMIT_CORE = 4, RLIMIT_NOFILE = 7, RLIM_NLIMITS = 16;

/** The limits a process starts with (as a login shell's defaults: 8 MiB stack, 1024 files, no core files). */
function rlimit(res: number): [bigint, bigint] {
  const inf = 0xffffffffffffffffn;
  switch (res) {
    case RLIMIT_STACK: return [BigInt(STACK_LIMIT), inf];
    case RLIMIT_NOFILE: return [1024n, 1048576n];
    case RLIMIT_CORE: return [0n, inf];
    case 8: return [8n * 1024n * 1024n, 8n * 1024n * 1024n]; // RLIMIT_MEMLOCK
    case 6: case 11: return [63432n, 63432n]; // RLIMIT_NPROC, RLIMIT_SIGPENDING
    case 12: return [819200n, 819200n]; // RLIMIT_MSGQUEUE
    case 13: case 14: return [0n, 0n]; // RLIMIT_NICE, RLIMIT_RTPRIO
    default: return [inf, inf];
  }
}
void RLIMIT_CPU; void RLIMIT_FSIZE; void RLIMIT_DATA;

const FUTEX_WAIT = 0, FUTEX_WAKE = 1, FUTEX_WAIT_BITSET = 9, FUTEX_WAKE_BITSET = 10, FUTEX_CMD_MASK = 0x7f & ~0x80;

export function miscSyscalls(sys: LinuxSystem): SyscallTable {
  const ua = sys.ua;
  const t = () => sys.task;

  const readTimespec32 = (addr: number): Timespec => {
    const b = Buffer.from(ua.read(addr, 8));
    return { sec: b.readInt32LE(0), nsec: b.readInt32LE(4) };
  };
  const readTimespec64 = (addr: number): Timespec => {
    const b = Buffer.from(ua.read(addr, 16));
    return { sec: Number(b.readBigInt64LE(0)), nsec: b.readInt32LE(8) };
  };
  const writeTimespec32 = (addr: number, ts: Timespec): void => {
    const b = Buffer.alloc(8);
    b.writeInt32LE(ts.sec | 0, 0);
    b.writeInt32LE(ts.nsec | 0, 4);
    ua.write(addr, b);
  };
  const writeTimespec64 = (addr: number, ts: Timespec): void => {
    const b = Buffer.alloc(16);
    b.writeBigInt64LE(BigInt(ts.sec), 0);
    b.writeBigInt64LE(BigInt(ts.nsec), 8);
    ua.write(addr, b);
  };
  const clockGettime = (id: number, addr: number, wide: boolean): number => {
    const ts = sys.clock.read(id);
    if (!ts) throw new LinuxError(EINVAL);
    if (wide) writeTimespec64(addr, ts);
    else writeTimespec32(addr, ts);
    return 0;
  };
  const clockGetres = (id: number, addr: number, wide: boolean): number => {
    if (!sys.clock.read(id)) throw new LinuxError(EINVAL);
    if (addr) (wide ? writeTimespec64 : writeTimespec32)(addr, { sec: 0, nsec: 1 });
    return 0;
  };
  /**
   * nanosleep/clock_nanosleep: the caller sleeps until the virtual clock
   * reaches the deadline while every other task runs; when all are idle the
   * clock jumps to the next deadline (never a host sleep).
   */
  const sleep = (id: number, flags: number, req: Timespec, rem: number, wide: boolean): number | typeof WOULD_BLOCK => {
    if (req.nsec < 0 || req.nsec >= 1e9 || req.sec < 0) throw new LinuxError(EINVAL);
    const now = sys.clock.read(id);
    if (!now) throw new LinuxError(EINVAL);
    const TIMER_ABSTIME = 1;
    const ns = flags & TIMER_ABSTIME ? (req.sec - now.sec) * 1e9 + (req.nsec - now.nsec) : req.sec * 1e9 + req.nsec;
    if (sys.sleepFor(ns) === WOULD_BLOCK) return WOULD_BLOCK;
    if (rem && !(flags & TIMER_ABSTIME)) (wide ? writeTimespec64 : writeTimespec32)(rem, { sec: 0, nsec: 0 });
    return 0;
  };
  const uname = (addr: number): number => {
    // struct new_utsname: six 65-byte fields.
    const fields = ['Linux', HOSTNAME, '6.1.0-kmemsim', '#1 SMP PREEMPT_DYNAMIC kmemsim', 'i686', '(none)'];
    const buf = new Uint8Array(65 * 6);
    fields.forEach((f, i) => buf.set(Buffer.from(f, 'latin1'), i * 65));
    ua.write(addr, buf);
    return 0;
  };
  const writeRlimit32 = (addr: number, res: number): number => {
    if (res < 0 || res >= RLIM_NLIMITS) throw new LinuxError(EINVAL);
    const [cur, max] = rlimit(res);
    const clamp = (v: bigint): number => (v >= 0xffffffffn ? RLIM_INFINITY : Number(v));
    const b = Buffer.alloc(8);
    b.writeUInt32LE(clamp(cur), 0);
    b.writeUInt32LE(clamp(max), 4);
    ua.write(addr, b);
    return 0;
  };
  const prlimit = (pid: number, res: number, nw: number, old: number): number => {
    if (pid !== 0 && pid !== t().pid) throw new LinuxError(ESRCH);
    if (res < 0 || res >= RLIM_NLIMITS) throw new LinuxError(EINVAL);
    if (old) {
      const [cur, max] = rlimit(res);
      const b = Buffer.alloc(16);
      b.writeBigUInt64LE(cur, 0);
      b.writeBigUInt64LE(max, 8);
      ua.write(old, b);
    }
    if (nw) {
      const b = Buffer.from(ua.read(nw, 16));
      if (b.readBigUInt64LE(0) > b.readBigUInt64LE(8)) throw new LinuxError(EINVAL);
      // Limits are fixed in kmemsim: lowering or raising them is accepted and changes nothing.
    }
    return 0;
  };
  const futex = (uaddr: number, op: number, val: number, timeout: number, _uaddr2: number, _val3: number, wide: boolean): number | typeof WOULD_BLOCK => {
    const cmd = op & FUTEX_CMD_MASK;
    if (uaddr & 3) throw new LinuxError(EINVAL);
    switch (cmd) {
      case FUTEX_WAIT: case FUTEX_WAIT_BITSET: {
        if ((ua.read32(uaddr) | 0) !== (val | 0)) throw new LinuxError(EAGAIN);
        // Processes are single-threaded and memory is not shared: no one can wake the waiter. With a timeout it
        // times out; without one it sleeps for good (a run where every task does ends as a deadlock).
        if (timeout) {
          const ts = wide ? readTimespec64(timeout) : readTimespec32(timeout);
          if (sys.sleepFor(ts.sec * 1e9 + ts.nsec) === WOULD_BLOCK) return WOULD_BLOCK;
          throw new LinuxError(ETIMEDOUT);
        }
        return sys.block(() => false);
      }
      case FUTEX_WAKE: case FUTEX_WAKE_BITSET:
        return 0; // no waiters
      default:
        throw new LinuxError(38 /* ENOSYS */);
    }
  };
  const times = (addr: number): number => {
    const ticks = Math.floor(sys.clock.cpuNs() / 1e7); // USER_HZ = 100
    if (addr) {
      const b = Buffer.alloc(16);
      b.writeUInt32LE(ticks >>> 0, 0);
      ua.write(addr, b);
    }
    return Math.floor(sys.clock.monotonicNs() / 1e7) | 0;
  };

  /** prctl(2) (kernel/sys.c): PR_SET_NAME and PR_GET_NAME (current->comm); other options are EINVAL. */
  const prctl = (option: number, arg2: number): number => {
    const PR_SET_NAME = 15, PR_GET_NAME = 16;
    if (option === PR_SET_NAME) {
      // strncpy_from_user(comm, arg2, TASK_COMM_LEN - 1): at most 15 bytes, a missing NUL is no error.
      const bytes: number[] = [];
      for (let i = 0; i < TASK_COMM_LEN - 1; i++) {
        const c = ua.read((arg2 + i) >>> 0, 1)[0]!;
        if (c === 0) break;
        bytes.push(c);
      }
      t().comm = Buffer.from(bytes).toString('latin1');
      return 0;
    }
    if (option === PR_GET_NAME) {
      const b = new Uint8Array(TASK_COMM_LEN);
      b.set(Buffer.from(t().comm, 'latin1').subarray(0, TASK_COMM_LEN - 1));
      ua.write(arg2, b);
      return 0;
    }
    throw new LinuxError(EINVAL);
  };

  return {
    172: (option, arg2) => prctl(option, arg2),
    20: () => t().pid,
    224: () => t().pid, // gettid: one thread per process
    64: () => t().ppid,
    65: () => t().pgid,
    132: (pid) => {
      if (pid !== 0 && pid !== t().pid) throw new LinuxError(ESRCH);
      return t().pgid;
    },
    147: (pid) => {
      if (pid !== 0 && pid !== t().pid) throw new LinuxError(ESRCH);
      return t().sid;
    },
    57: (pid, pgid) => {
      if (pid !== 0 && pid !== t().pid) throw new LinuxError(ESRCH);
      if (pgid < 0) throw new LinuxError(EINVAL);
      if (t().sid === t().pid) throw new LinuxError(EPERM);
      t().pgid = pgid || t().pid;
      return 0;
    },
    66: () => {
      if (t().pgid === t().pid) throw new LinuxError(EPERM);
      t().sid = t().pgid = t().pid;
      return t().pid;
    },
    // uid/gid: the host's, as under qemu-user (16-bit and 32-bit variants).
    24: () => HOST_UID & 0xffff, 49: () => HOST_UID & 0xffff, 47: () => HOST_GID & 0xffff, 50: () => HOST_GID & 0xffff,
    199: () => HOST_UID, 201: () => HOST_UID, 200: () => HOST_GID, 202: () => HOST_GID,
    209: (r, e, s) => (ua.write32(r, HOST_UID), ua.write32(e, HOST_UID), ua.write32(s, HOST_UID), 0), // getresuid32
    211: (r, e, s) => (ua.write32(r, HOST_GID), ua.write32(e, HOST_GID), ua.write32(s, HOST_GID), 0), // getresgid32
    205: (size, list) => { // getgroups32
      if (size < 0) throw new LinuxError(EINVAL);
      if (size === 0) return 1;
      ua.write32(list, HOST_GID);
      return 1;
    },
    // set*id to the ids the process already has succeeds; anything else is EPERM unless root.
    213: (uid) => (uid === HOST_UID || HOST_UID === 0 ? 0 : -EPERM), 214: (gid) => (gid === HOST_GID || HOST_UID === 0 ? 0 : -EPERM),
    60: (mask) => { const old = t().umask; t().umask = mask & 0o777; return old; },
    122: (addr) => uname(addr),
    // The host name is fixed: sethostname is refused.
    74: () => -EPERM,
    76: (res, addr) => writeRlimit32(addr, res),
    191: (res, addr) => writeRlimit32(addr, res),
    75: () => 0, // setrlimit: accepted, limits are fixed
    340: (pid, res, nw, old) => prlimit(pid, res, nw, old),
    77: (_who, addr) => (ua.write(addr, new Uint8Array(72)), 0), // getrusage: all zero
    43: (addr) => times(addr),
    13: (addr) => {
      const sec = sys.clock.read(0)!.sec;
      if (addr) ua.write32(addr, sec);
      return sec;
    },
    78: (tv, tz) => {
      const ts = sys.clock.read(0)!;
      if (tv) {
        const b = Buffer.alloc(8);
        b.writeInt32LE(ts.sec, 0);
        b.writeInt32LE(Math.floor(ts.nsec / 1000), 4);
        ua.write(tv, b);
      }
      if (tz) ua.write(tz, new Uint8Array(8));
      return 0;
    },
    265: (id, addr) => clockGettime(id, addr, false),
    403: (id, addr) => clockGettime(id, addr, true),
    266: (id, addr) => clockGetres(id, addr, false),
    406: (id, addr) => clockGetres(id, addr, true),
    162: (req, rem) => sleep(0, 0, readTimespec32(req), rem, false),
    267: (id, flags, req, rem) => sleep(id, flags, readTimespec32(req), rem, false),
    407: (id, flags, req, rem) => sleep(id, flags, readTimespec64(req), rem, true),
    // alarm: no timer signal is modelled; the previous alarm is always none.
    27: () => 0,
    158: () => (sys.k.cpu.stop({ kind: 'yield' }), 0), // sched_yield: the next task runs
    355: (buf, len) => {
      const n = Math.min(len >>> 0, 33554431);
      ua.write(buf, sys.random.bytes(n));
      return n;
    },
    243: (addr) => setThreadArea(sys.k, ua, t().tls, addr),
    244: (addr) => getThreadArea(ua, t().tls, addr),
    258: (addr) => {
      t().clearChildTid = addr;
      return t().pid;
    },
    311: (_head, len) => (len === 12 ? 0 : -EINVAL), // set_robust_list: recorded nowhere (no threads)
    240: (uaddr, op, val, timeout, uaddr2, val3) => futex(uaddr, op, val, timeout, uaddr2, val3, false),
    422: (uaddr, op, val, timeout, uaddr2, val3) => futex(uaddr, op, val, timeout, uaddr2, val3, true),
    174: (sig, act, oact, size) => rtSigaction(ua, t().signals, sig, act, oact, size),
    175: (how, set, oset, size) => rtSigprocmask(ua, t().signals, how, set, oset, size),
    186: (ss, old) => sigaltstack(ua, t().signals, ss, old),
    116: (addr) => { // sysinfo
      const b = Buffer.alloc(64);
      b.writeInt32LE(Math.floor(sys.clock.monotonicNs() / 1e9), 0);
      b.writeUInt32LE(sys.k.cpu.mem.size, 16);
      b.writeUInt32LE(Math.max(0, sys.k.cpu.mem.size - sys.k.frames.allocated * 4096), 20);
      b.writeUInt16LE(sys.tasks.size, 40);
      b.writeUInt32LE(1, 52); // mem_unit
      ua.write(addr, b);
      return 0;
    },
  };
}
void EFAULT; void CLOCK_EPOCH;
