/**
 * A Linux process (task_struct): its ids, address space, descriptors,
 * working directory, TLS descriptors, signal dispositions and the address
 * set_tid_address() gave.
 */
import type { UserMm } from './mm.js';
import type { FdTable } from './fd-table.js';
import type { TlsSlots } from './tls.js';
import type { SignalState } from './signals.js';

export class Task {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  /** set_tid_address(): cleared (and futex-woken) when the task exits. */
  clearChildTid = 0;
  umask = 0o022;
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
  }
}
