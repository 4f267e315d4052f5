/**
 * QEMU's "isa-debug-exit" device (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`):
 * a write of value v to any of its ports ends the emulator with exit status
 * (v << 1) | 1 (QEMU hw/misc/debugexit.c). Test kernels use it to report
 * pass/fail to the host; the shift makes every status odd, so it can never
 * be mistaken for QEMU's own 0 (normal exit) — e.g. v = 0x10 gives 33.
 *
 * kmemsim stops the machine with `{ kind: 'exited', status }`: `status` is
 * the full 32-bit value QEMU passes to exit(); a host process only sees its
 * low 8 bits, which is what `exitStatusFor` returns. Reads return 0, as in
 * QEMU. Writes of any width (OUTB/OUTW/OUTL) are accepted.
 */
import type { StopReason } from '../cpu/stop.js';

export const DEBUG_EXIT_PORT = 0xf4;
export const DEBUG_EXIT_IOSIZE = 4;

/** What the device needs from the CPU: stopping it. */
export interface Stoppable {
  stop(reason: StopReason): void;
}

export class IsaDebugExit {
  /** The last value written, or -1. */
  lastValue = -1;

  constructor(private readonly cpu: Stoppable) {}

  read(): number {
    return 0;
  }

  write(value: number, size: number): void {
    const v = size === 4 ? value >>> 0 : value & (size === 2 ? 0xffff : 0xff);
    this.lastValue = v;
    this.cpu.stop({ kind: 'exited', status: ((v << 1) | 1) >>> 0 });
  }
}

/** The status a host process would exit with: QEMU's (v << 1) | 1, truncated to 8 bits by exit(). */
export function exitStatusFor(status: number): number {
  return status & 0xff;
}
