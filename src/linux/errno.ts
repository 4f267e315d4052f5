/**
 * Linux errno values (include/uapi/asm-generic/errno-base.h, errno.h). System
 * calls return -errno in EAX; the personality's code throws LinuxError to
 * unwind from deep inside a call (path resolution, user copies).
 */
export const EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ENXIO = 6, E2BIG = 7, ENOEXEC = 8, EBADF = 9,
  ECHILD = 10, EAGAIN = 11, ENOMEM = 12, EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENODEV = 19,
  ENOTDIR = 20, EISDIR = 21, EINVAL = 22, ENFILE = 23, EMFILE = 24, ENOTTY = 25, EFBIG = 27, ENOSPC = 28,
  ESPIPE = 29, EROFS = 30, EMLINK = 31, EPIPE = 32, EDOM = 33, ERANGE = 34, EDEADLK = 35, ENAMETOOLONG = 36,
  ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40, ENOTSUP = 95, ETIMEDOUT = 110;

/**
 * A failed system call: unwinds to the dispatcher, which returns -errno. Not
 * an Error subclass on purpose: failing calls are ordinary (a fork bomb makes
 * thousands), and capturing a stack trace for each would dominate the run.
 */
export class LinuxError {
  constructor(readonly errno: number, readonly message = `errno ${errno}`) {}
}

/** Node's error codes for host file-system calls → Linux errno (the host is Linux, so the names match). */
const HOST: Record<string, number> = {
  EPERM, ENOENT, EIO, ENXIO, EBADF, EAGAIN, ENOMEM, EACCES, EFAULT, EBUSY, EEXIST, EXDEV, ENODEV, ENOTDIR,
  EISDIR, EINVAL, ENFILE, EMFILE, ENOTTY, EFBIG, ENOSPC, ESPIPE, EROFS, EMLINK, EPIPE, ENAMETOOLONG, ENOTEMPTY,
  ELOOP, ENOTSUP, ETIMEDOUT,
};

/** The errno of a failed host call (node:fs); an unknown code is EIO. */
export function hostErrno(e: unknown): number {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code && HOST[code] !== undefined) return HOST[code]!;
  const n = (e as NodeJS.ErrnoException | null)?.errno;
  return typeof n === 'number' && n < 0 ? -n : EIO;
}

/** Run a host call; a host error becomes the LinuxError with its errno. */
export function host<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof LinuxError) throw e;
    throw new LinuxError(hostErrno(e));
  }
}
