/**
 * A process's file descriptors (struct files_struct): numbers → open file
 * descriptions, with the close-on-exec flag per descriptor. fork() copies
 * the table (sharing the descriptions), execve() closes the FD_CLOEXEC ones.
 */
import { EBADF, EMFILE, LinuxError } from './errno.js';
import type { OpenFile } from './fs/file.js';

/** RLIMIT_NOFILE's soft limit. */
export const NR_OPEN = 1024;

export class FdTable {
  private readonly files: (OpenFile | undefined)[] = [];
  private readonly cloexec = new Set<number>();

  get(fd: number): OpenFile {
    const f = fd >= 0 ? this.files[fd] : undefined;
    if (!f) throw new LinuxError(EBADF);
    return f;
  }
  has(fd: number): boolean {
    return fd >= 0 && this.files[fd] !== undefined;
  }
  /** The lowest free descriptor ≥ min (takes the caller's reference). */
  alloc(file: OpenFile, min = 0, closeOnExec = false): number {
    for (let fd = min; fd < NR_OPEN; fd++) {
      if (!this.files[fd]) {
        this.install(fd, file, closeOnExec);
        return fd;
      }
    }
    file.unref();
    throw new LinuxError(EMFILE);
  }
  /** Put `file` at `fd`, closing what was there (dup2). */
  install(fd: number, file: OpenFile, closeOnExec = false): void {
    if (fd < 0 || fd >= NR_OPEN) throw new LinuxError(EBADF);
    const old = this.files[fd];
    this.files[fd] = file;
    if (closeOnExec) this.cloexec.add(fd);
    else this.cloexec.delete(fd);
    old?.unref();
  }
  close(fd: number): void {
    const f = this.get(fd);
    this.files[fd] = undefined;
    this.cloexec.delete(fd);
    f.unref();
  }
  getCloexec(fd: number): boolean {
    this.get(fd);
    return this.cloexec.has(fd);
  }
  setCloexec(fd: number, on: boolean): void {
    this.get(fd);
    if (on) this.cloexec.add(fd);
    else this.cloexec.delete(fd);
  }
  entries(): Map<number, OpenFile> {
    const m = new Map<number, OpenFile>();
    this.files.forEach((f, i) => f && m.set(i, f));
    return m;
  }
  /** fork(): a copy sharing every description. */
  clone(): FdTable {
    const t = new FdTable();
    this.files.forEach((f, i) => {
      if (f) t.install(i, f.ref(), this.cloexec.has(i));
    });
    return t;
  }
  /** execve(): close the close-on-exec descriptors. */
  closeOnExec(): void {
    for (const fd of [...this.cloexec]) this.close(fd);
  }
  closeAll(): void {
    this.files.forEach((f, i) => f && this.close(i));
  }
}
