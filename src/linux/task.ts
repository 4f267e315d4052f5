/**
 * A Linux process (task_struct): its ids, address space, descriptors,
 * working directory, TLS descriptors, signal dispositions and the address
 * set_tid_address() gave.
 */
import type { UserMm } from './mm.js';
import type { FdTable } from './fd-table.js';
import type { TlsSlots } from './tls.js';
import type { SignalState } from './signals.js';
import type { UserContext } from './sched.js';

export type TaskState = 'runnable' | 'blocked' | 'stopped' | 'zombie';

export class Task {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  /** set_tid_address(): cleared (and futex-woken) when the task exits. */
  clearChildTid = 0;
  umask = 0o022;
  state: TaskState = 'runnable';
  /** Saved user registers while another task runs. */
  context: UserContext | null = null;
  /** While blocked: true when the restarted system call may now complete. */
  wakeWhen: (() => boolean) | null = null;
  /** While blocked in a timed sleep: the monotonic time (ns) it ends, for the idle clock jump. */
  wakeAt: number | null = null;
  /** A timed sleep in progress across restarts (nanosleep's restart_block). */
  sleepUntil: number | null = null;
  /** wait4's status word once a zombie: (code << 8) for exit, the signal number (| 0x80 core) for a kill. */
  exitStatus = 0;
  /** Signals pending delivery (bit n-1 for signal n), as two words. */
  pending: [number, number] = [0, 0];
  /** Its int $0x80 is rewound (it slept): signals wait for the restarted call's return to user mode. */
  restarting = false;
  /** The number of the system call in progress (EAX at entry), to restart it after -ERESTARTSYS from module code. */
  syscallNr = 0;
  /** While in rt_sigsuspend: the mask it replaced (restored by the handler's return). */
  suspendSaved: [number, number] | null = null;
  /** The stop signal to report to a WUNTRACED waiter, once. */
  stopReport = 0;
  /**
   * current->comm: the base name of the file name execve() was given (not the
   * target of a symlink: busybox's `ls` link runs as "ls"), at most
   * TASK_COMM_LEN - 1 = 15 characters; a fork inherits it. setComm() sets it.
   */
  comm: string;
  constructor(
    pid: number,
    ppid: number,
    public mm: UserMm,
    public files: FdTable,
    /** Absolute guest path of the working directory. */
    public cwd: string,
    public tls: TlsSlots,
    public signals: SignalState,
    /** Guest path of the program (/proc/self/exe), argv and envp (/proc/self/cmdline, environ). */
    public exe: string,
    public argv: string[],
    public env: string[],
  ) {
    this.pid = pid;
    this.ppid = ppid;
    this.pgid = pid;
    this.sid = pid;
    this.comm = commFromFilename(exe);
  }

  /** begin_new_exec()'s __set_task_comm(me, kbasename(bprm->filename)): the name as execve() was given it. */
  setComm(filename: string): void {
    this.comm = commFromFilename(filename);
  }
}

/** TASK_COMM_LEN (include/linux/sched.h): comm holds 15 characters and its NUL. */
export const TASK_COMM_LEN = 16;

/** kbasename(filename) truncated to TASK_COMM_LEN - 1 bytes, as __set_task_comm() → strscpy_pad() stores it. */
export function commFromFilename(filename: string): string {
  const base = filename.slice(filename.lastIndexOf('/') + 1);
  return Buffer.from(base, 'utf8').subarray(0, TASK_COMM_LEN - 1).toString('latin1');
}
