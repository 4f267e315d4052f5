/**
 * QEMU's debug console ("isa-debugcon", `-debugcon`) at port 0xE9, the
 * port Bochs introduced for its "port e9 hack": every byte written is
 * printed at once, with no setup and no status to poll, which is why toy
 * kernels use it for their first words. Reading the port returns 0xE9 (QEMU's
 * default `readback` value), which kernels use to detect the device.
 *
 * Only the low byte of a wider write is printed (QEMU's device is one byte
 * wide).
 */
export const DEBUGCON_PORT = 0xe9;

export class DebugCon {
  /** Bytes written so far. */
  bytesWritten = 0;

  constructor(private readonly out: (byte: number) => void) {}

  read(): number {
    return DEBUGCON_PORT;
  }

  write(value: number): void {
    this.bytesWritten++;
    this.out(value & 0xff);
  }
}
