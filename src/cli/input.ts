/**
 * The one way every command (`run`, `boot`, `disasm`, ...) reads the file it
 * was given. Like execve(2), which refuses anything but a regular file
 * (EACCES) before reading a byte, it opens the path, checks with fstat that
 * it is a regular file no larger than MAX_INPUT_BYTES, and only then reads
 * exactly that many bytes: /dev/zero, a FIFO, a terminal or a 1 GiB sparse
 * file are refused at once, with memory bounded by the limit.
 *
 * Status: 127 when the path does not exist (as a shell's "command not
 * found"), 126 for everything else that cannot be read (as a shell's "cannot
 * execute"): a directory, a device or FIFO, a file over the limit, no
 * permission.
 */
import * as fs from 'node:fs';
import { formatSize } from './options.js';
import { errLine } from './io.js';

/** Input files larger than this are refused (a static i386 program or module object is far smaller). */
export const MAX_INPUT_BYTES = 256 * 1024 * 1024;

export class InputError extends Error {
  constructor(message: string, readonly status: 126 | 127) {
    super(message);
    this.name = 'InputError';
  }
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The file's bytes, or InputError (thrown) with a one-line message "cannot read FILE: why". */
export function readInputFile(file: string, limit = MAX_INPUT_BYTES): Uint8Array {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer must not hang (fstat refuses it right after).
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new InputError(`cannot read ${file}: no such file`, 127);
    const why = err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.code === 'ENOTDIR' ? 'a path component is not a directory' : err.message;
    throw new InputError(`cannot read ${file}: ${why}`, 126);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new InputError(`cannot read ${file}: ${kindOf(st)}, not a regular file`, 126);
    if (st.size > limit) {
      throw new InputError(`cannot read ${file}: ${formatSize(st.size)} is larger than the ${formatSize(limit)} input limit`, 126);
    }
    const bytes = new Uint8Array(st.size);
    let off = 0;
    while (off < bytes.length) {
      const n = fs.readSync(fd, bytes, off, bytes.length - off, off);
      if (n === 0) break; // the file shrank while we read it: keep what is there
      off += n;
    }
    return off === bytes.length ? bytes : bytes.subarray(0, off);
  } catch (e) {
    if (e instanceof InputError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new InputError(`cannot read ${file}: ${err.code === 'EISDIR' ? 'is a directory' : err.message}`, 126);
  } finally {
    fs.closeSync(fd);
  }
}

/** The input file through readInputFile(); on failure its message is printed ("kmemsim: ...") and its status returned. */
export function readInput(file: string): Uint8Array | number {
  try {
    return readInputFile(file);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    errLine(`kmemsim: ${e.message}`);
    return e.status;
  }
}
