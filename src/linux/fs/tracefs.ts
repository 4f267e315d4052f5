/**
 * tracefs: only what tracing tools write to — `trace_marker`, at Linux's
 * two paths (/sys/kernel/tracing, where tracefs is mounted since 4.1, and
 * /sys/kernel/debug/tracing, the debugfs automount); the rest of /sys is
 * the host's (src/linux/fs/vfs.ts mounts it over them). Each write(2)
 * is one marker (kernel/trace/trace.c, tracing_mark_write()): the bytes,
 * cut at TRACE_MARKER_MAX; the active tracer gets them — under
 * `--mmiotrace` a `MARK` line of the mmiotrace log, as Linux's mmiotrace
 * prints markers (mmio_print_mark()). With no tracer the write succeeds
 * and the marker goes nowhere (Linux's ring buffer nobody reads).
 */
import { EINVAL, LinuxError } from '../errno.js';
import { OpenFile, S_IFREG, syntheticStat, type Stat } from './file.js';
import type { VNode } from './vnode.js';

/** Linux's limit for one marker write (TRACE_BUF_SIZE less its header; longer writes are cut). */
export const TRACE_MARKER_MAX = 1024;

/** Where the markers go (set while a tracer runs, e.g. the MMIO bus's mmiotrace); null: dropped. */
export interface TraceMarkerSink {
  marker: ((text: string) => void) | null;
}

class TraceMarkerFile extends OpenFile {
  constructor(private readonly ino: number, private readonly sink: TraceMarkerSink, flags: number, path: string) {
    super(flags, path);
  }
  stat(): Stat {
    return syntheticStat(S_IFREG | 0o220, this.ino, { dev: 0x2e });
  }
  override write(d: Uint8Array): number {
    if (d.length === 0) return 0;
    if (!this.writable) throw new LinuxError(EINVAL);
    const n = Math.min(d.length, TRACE_MARKER_MAX);
    this.sink.marker?.(Buffer.from(d.subarray(0, n)).toString('latin1'));
    return n;
  }
}

/** tracefs's directory (mounted at sys/kernel/tracing and sys/kernel/debug/tracing): trace_marker. */
export function tracefs(sink: TraceMarkerSink, ino: number): VNode {
  const marker: VNode = {
    type: 'dev', ino: ino + 1, mode: S_IFREG | 0o220, rdev: 0,
    open: (flags, path) => new TraceMarkerFile(ino + 1, sink, flags, path),
  };
  return { type: 'dir', ino, children: () => new Map([['trace_marker', marker]]) };
}
