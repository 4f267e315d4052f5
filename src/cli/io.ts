/**
 * Where the `kmemsim` command's output goes. By default the process's file
 * descriptors 1 and 2 (written synchronously, so guest output and kmemsim's
 * messages interleave in order) and its stdin; `main(argv, io)` can run the
 * whole command in-process against other sinks (the robustness suite in
 * src/fuzz/self.ts captures both streams this way).
 */
import * as fs from 'node:fs';

export interface CliIO {
  stdout(bytes: Uint8Array): void;
  stderr(bytes: Uint8Array): void;
  /** The guest's stdin (`kmemsim run`). */
  stdin(): Uint8Array;
  /** The width of the terminal stderr is, or null when it is none (then no status line is drawn). */
  stderrColumns?(): number | null;
}

/**
 * Write all of `b` to `fd`. When the reader has gone (`kmemsim run … | head
 * -1`: EPIPE), stop at once with status 141, what a shell shows for a
 * process SIGPIPE killed — what `cat` or qemu-user would do; Node ignores
 * SIGPIPE, so kmemsim cannot die of it, and nothing is left to write to.
 */
function writeAll(fd: number, b: Uint8Array): void {
  let off = 0;
  try {
    while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') process.exit(128 + 13);
    throw e;
  }
}

/** The host's stdin, when it is a file or pipe (never blocks on a terminal). */
function hostStdin(): Uint8Array {
  try {
    const st = fs.fstatSync(0);
    if (st.isFile() || st.isFIFO()) return new Uint8Array(fs.readFileSync(0));
  } catch {
    /* no stdin */
  }
  return new Uint8Array(0);
}

export const processIO: CliIO = {
  stdout: (b) => writeAll(1, b),
  stderr: (b) => writeAll(2, b),
  stdin: hostStdin,
  stderrColumns: () => (process.stderr.isTTY ? process.stderr.columns || 80 : null),
};

let current: CliIO = processIO;

/** Run `fn` with the command's output going to `io`. */
export async function withCliIO<T>(io: CliIO, fn: () => Promise<T>): Promise<T> {
  const saved = current;
  current = io;
  try {
    return await fn();
  } finally {
    current = saved;
  }
}

/** Bytes or text (UTF-8) to the command's stdout. */
export function out(data: Uint8Array | string): void {
  current.stdout(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
}
/** Bytes or text (UTF-8) to the command's stderr. */
export function errOut(data: Uint8Array | string): void {
  current.stderr(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
}
/** One line of kmemsim's own to stderr. */
export function errLine(line: string): void {
  errOut(line + '\n');
}
/** The terminal width of the command's stderr, or null when it is not a terminal. */
export function stderrColumns(): number | null {
  return current.stderrColumns?.() ?? null;
}
/** The guest's stdin. */
export function stdinBytes(): Uint8Array {
  return current.stdin();
}
