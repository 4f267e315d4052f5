/**
 * The descriptors a program starts with: stdin reads the bytes kmemsim was
 * given, stdout and stderr write to kmemsim's callbacks. They look like what
 * the host's 0, 1 and 2 are: a terminal (character device answering TCGETS
 * and TIOCGWINSZ) when the host's is one, else a pipe — so glibc buffers as
 * it would natively.
 */
import * as tty from 'node:tty';
import { LinuxError, ENOTTY } from '../errno.js';
import { OpenFile, O_RDONLY, O_WRONLY, S_IFCHR, S_IFIFO, syntheticStat, type Stat } from './file.js';

export const TCGETS = 0x5401, TCSETS = 0x5402, TCSETSW = 0x5403, TCSETSF = 0x5404, TIOCGPGRP = 0x540f,
  TIOCSPGRP = 0x5410, TIOCGWINSZ = 0x5413, FIONREAD = 0x541b;

export interface TerminalOps {
  /** Write the reply of an ioctl to user memory. */
  writeUser(addr: number, data: Uint8Array): void;
  pgrp(): number;
}

/** A struct termios (36 bytes on i386) with the host tty driver's defaults (n_tty: ICRNL IXON OPOST ONLCR, 38400 8N1, ISIG ICANON ECHO…). */
function defaultTermios(): Uint8Array {
  const b = Buffer.alloc(60);
  b.writeUInt32LE(0x500, 0); // c_iflag: ICRNL | IXON
  b.writeUInt32LE(0x5, 4); // c_oflag: OPOST | ONLCR
  b.writeUInt32LE(0xbf, 8); // c_cflag: B38400 | CS8 | CREAD
  b.writeUInt32LE(0x8a3b, 12); // c_lflag: ISIG ICANON ECHO ECHOE ECHOK ECHOCTL ECHOKE IEXTEN
  b.writeUInt8(0, 16); // c_line
  Buffer.from([3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22]).copy(b, 17); // c_cc
  return b.subarray(0, 36);
}

abstract class StdioFile extends OpenFile {
  constructor(flags: number, path: string, private readonly isTty: boolean, private readonly ino: number, private readonly term: TerminalOps) {
    super(flags, path);
  }
  stat(): Stat {
    return this.isTty
      ? syntheticStat(S_IFCHR | 0o620, this.ino, { dev: 0x16, rdev: (136 << 8) | 0 })
      : syntheticStat(S_IFIFO | 0o600, this.ino, { dev: 0xc });
  }
  override ioctl(req: number, arg: number): number {
    if (!this.isTty) throw new LinuxError(ENOTTY);
    switch (req) {
      case TCGETS: this.term.writeUser(arg, defaultTermios()); return 0;
      case TCSETS: case TCSETSW: case TCSETSF: return 0;
      case TIOCGWINSZ: {
        const out = process.stdout as tty.WriteStream;
        const b = Buffer.alloc(8);
        b.writeUInt16LE(out.rows || 24, 0);
        b.writeUInt16LE(out.columns || 80, 2);
        this.term.writeUser(arg, b);
        return 0;
      }
      case TIOCGPGRP: this.term.writeUser(arg, Buffer.from(Uint32Array.of(this.term.pgrp()).buffer)); return 0;
      case TIOCSPGRP: return 0;
      default: throw new LinuxError(22 /* EINVAL */);
    }
  }
}

export class StdinFile extends StdioFile {
  constructor(private data: Uint8Array, private readonly cursor: { pos: number }, isTty: boolean, term: TerminalOps) {
    super(O_RDONLY, isTty ? '/dev/pts/0' : 'pipe:[10]', isTty, 10, term);
  }
  /** Start over with new bytes (a fuzz target's next input, after its snapshot restore). */
  refill(data: Uint8Array): void {
    this.data = data;
    this.cursor.pos = 0;
  }
  override read(n: number): Uint8Array {
    const c = this.cursor;
    const out = this.data.slice(c.pos, Math.min(this.data.length, c.pos + n));
    c.pos += out.length;
    return out;
  }
}

export class StdoutFile extends StdioFile {
  constructor(private readonly sink: (b: Uint8Array) => void, ino: number, isTty: boolean, term: TerminalOps) {
    super(O_WRONLY, isTty ? '/dev/pts/0' : `pipe:[${ino}]`, isTty, ino, term);
  }
  override write(data: Uint8Array): number {
    this.sink(data.slice());
    return data.length;
  }
}
