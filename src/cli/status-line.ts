/**
 * A one-line status kept at the bottom of a terminal, the way `make -j`
 * front-ends, afl-fuzz's compact mode and `rsync --info=progress2` do it:
 * on a terminal the line is redrawn in place (`\r` … erase to end of line)
 * at most every `minIntervalMs`, and permanent lines are printed above it;
 * without a terminal (a pipe, a file, CI logs) nothing is redrawn and only
 * the permanent lines appear, so logs stay readable and diffable.
 */
export interface StatusLineOptions {
  /** Raw writes to the stream (stderr). */
  write(text: string): void;
  /** Whether that stream is a terminal. */
  tty: boolean;
  /** Terminal width; the status is cut to fit so it never wraps. Default 80. */
  columns?: number;
  /** Redraws closer together than this are skipped (the last text is kept). Default 100 ms. */
  minIntervalMs?: number;
  /** Clock in ms (tests). Default Date.now. */
  now?(): number;
}

export class StatusLine {
  private shown = '';
  private pending = '';
  private lastDraw = -Infinity;

  constructor(private readonly o: StatusLineOptions) {}

  /** Replace the status text (drawn now, or at the next update/line after the interval). */
  update(text: string): void {
    this.pending = text;
    if (!this.o.tty) return;
    const now = (this.o.now ?? Date.now)();
    if (now - this.lastDraw < (this.o.minIntervalMs ?? 100)) return;
    this.lastDraw = now;
    this.draw(text);
  }

  /** A permanent line (no trailing newline needed), printed above the status. */
  line(text: string): void {
    if (this.o.tty && this.shown) this.o.write('\r\x1b[K');
    this.o.write(text + '\n');
    this.shown = '';
    if (this.o.tty && this.pending) this.draw(this.pending);
  }

  /** Erase the status (before the final output). */
  clear(): void {
    if (this.o.tty && this.shown) this.o.write('\r\x1b[K');
    this.shown = '';
    this.pending = '';
  }

  private draw(text: string): void {
    const width = Math.max(10, (this.o.columns ?? 80) - 1);
    const cut = text.length > width ? text.slice(0, width - 1) + '…' : text;
    this.o.write(`\r${cut}\x1b[K`);
    this.shown = cut;
  }
}
