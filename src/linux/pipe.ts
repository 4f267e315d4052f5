/**
 * Pipes (fs/pipe.c): a 64 KiB ring shared by a read end and a write end.
 * A read of an empty pipe with a writer left, or a write to a full one,
 * cannot complete: it returns WOULD_BLOCK and the system-call layer puts
 * the task to sleep (or EAGAIN with O_NONBLOCK). Writing with no reader
 * left is EPIPE, and the writer gets SIGPIPE.
 */
import { EAGAIN, EPIPE, LinuxError } from './errno.js';
import { OpenFile, O_NONBLOCK, O_RDONLY, O_WRONLY, S_IFIFO, WOULD_BLOCK, syntheticStat, type PollState, type Stat } from './fs/file.js';

export const PIPE_BUF = 4096;
const PIPE_SIZE = 65536;

let nextPipeIno = 1000;

export class Pipe {
  readonly ino = nextPipeIno++;
  private chunks: Uint8Array[] = [];
  size = 0;
  readers = 0;
  writers = 0;

  read(n: number): Uint8Array {
    const out = new Uint8Array(Math.min(n, this.size));
    let o = 0;
    while (o < out.length) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length, out.length - o);
      out.set(c.subarray(0, take), o);
      o += take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    this.size -= out.length;
    return out;
  }
  write(data: Uint8Array): number {
    const n = Math.min(data.length, PIPE_SIZE - this.size);
    if (n > 0) this.chunks.push(data.slice(0, n));
    this.size += n;
    return n;
  }
  get space(): number {
    return PIPE_SIZE - this.size;
  }
}

/** Raised by a write with no reader: the caller sends SIGPIPE, then returns EPIPE. */
export class BrokenPipe extends LinuxError {
  constructor() {
    super(EPIPE, 'broken pipe');
  }
}

export class PipeEnd extends OpenFile {
  constructor(readonly pipe: Pipe, readonly isWriter: boolean, flags: number) {
    super((flags & O_NONBLOCK) | (isWriter ? O_WRONLY : O_RDONLY), `pipe:[${pipe.ino}]`);
    if (isWriter) pipe.writers++;
    else pipe.readers++;
  }
  stat(): Stat {
    return syntheticStat(S_IFIFO | 0o600, this.pipe.ino, { dev: 0xc, size: 0 });
  }
  override read(n: number): Uint8Array | typeof WOULD_BLOCK {
    if (this.isWriter) throw new LinuxError(9 /* EBADF */);
    if (n === 0) return new Uint8Array(0);
    if (this.pipe.size > 0) return this.pipe.read(n);
    if (this.pipe.writers === 0) return new Uint8Array(0);
    if (this.flags & O_NONBLOCK) throw new LinuxError(EAGAIN);
    return WOULD_BLOCK;
  }
  override write(data: Uint8Array): number | typeof WOULD_BLOCK {
    if (!this.isWriter) throw new LinuxError(9 /* EBADF */);
    if (this.pipe.readers === 0) throw new BrokenPipe();
    if (data.length === 0) return 0;
    // Writes of at most PIPE_BUF bytes are atomic: all or wait.
    if (this.pipe.space === 0 || (data.length <= PIPE_BUF && this.pipe.space < data.length)) {
      if (this.flags & O_NONBLOCK) throw new LinuxError(EAGAIN);
      return WOULD_BLOCK;
    }
    return this.pipe.write(data);
  }
  override poll(): PollState {
    const p = this.pipe;
    return this.isWriter
      ? { readable: false, writable: p.readers > 0 && p.space >= PIPE_BUF, hangup: false, error: p.readers === 0 }
      : { readable: p.size > 0, writable: false, hangup: p.writers === 0 };
  }
  protected override release(): void {
    if (this.isWriter) this.pipe.writers--;
    else this.pipe.readers--;
  }
}
