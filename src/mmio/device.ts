/**
 * Virtual MMIO devices (Brendan's "virtualised device processes", seed
 * 001): a device serves "read N bytes at offset X" and "write N bytes at
 * offset X" messages for its register window; a driver reaches it through
 * ioremap() and plain loads and stores (src/mmio/mmio.ts turns each access
 * into a message through the page-hiding service). Reads wait for the
 * device's answer: onRead returns it.
 *
 * The devices here are TypeScript backends: the made-up counter/echo
 * device of examples/mmio/ (`CounterDevice`) and pass-through to the
 * modelled 16550 UART and 8254 PIT (`UartPassThrough`, `PitPassThrough`),
 * whose registers appear at consecutive offsets (offset N = port base + N),
 * byte-wide as on the ISA bus: a wider access is split into byte accesses
 * in address order (a 16-bit read of offset 0 reads ports base and base+1).
 */
import { Uart16550, COM1_BASE } from '../devices/uart16550.js';
import { Pit8254 } from '../devices/pit8254.js';

export interface MmioDevice {
  readonly name: string;
  /** Bytes of register window. */
  readonly size: number;
  /** A read of `size` bytes (1, 2, 4; more for string and 8-byte accesses, split by the bus into dwords) at `offset`: the value. */
  onRead(offset: number, size: number): number;
  /** A write of `size` bytes at `offset`. */
  onWrite(offset: number, size: number, value: number): void;
  /** Set by the bus: the device raises its interrupt line (the handlers request_irq() put there run after the access, ./irq.ts). */
  raiseIrq?: () => void;
}

/**
 * The example device (examples/mmio/counter-driver.c), "kmemsim counter":
 *
 * | offset | register | access |
 * | --- | --- | --- |
 * | 0x00 | ID: 0x434d534b ("KSMC" read as bytes) | read |
 * | 0x04 | CTRL: write 1 resets COUNT, 2 raises the IRQ (line 11 on the board) | write; reads 0 |
 * | 0x08 | COUNT: every read returns the next value (0, 1, 2, ...) | read |
 * | 0x0c | ECHO: returns what was last written (any width, little-endian) | read/write |
 *
 * Other offsets read 0xffffffff (a bus with nothing behind it) and ignore writes.
 */
export class CounterDevice implements MmioDevice {
  readonly name = 'counter';
  readonly size = 0x10;
  count = 0;
  readonly echo = new Uint8Array(4);
  irqs = 0;
  raiseIrq?: () => void;

  onRead(offset: number, size: number): number {
    if (offset === 0 && size === 4) return 0x434d534b;
    if (offset === 4 && size === 4) return 0;
    if (offset === 8 && size === 4) return this.count++ >>> 0;
    if (offset >= 0x0c && offset + size <= 0x10) {
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.echo[offset - 0x0c + i]! << (8 * i);
      return v >>> 0;
    }
    return size >= 4 ? 0xffffffff : (1 << (8 * size)) - 1;
  }

  onWrite(offset: number, size: number, value: number): void {
    if (offset === 4 && size === 4) {
      if (value & 1) this.count = 0;
      if (value & 2) {
        this.irqs++;
        this.raiseIrq?.();
      }
      return;
    }
    if (offset >= 0x0c && offset + size <= 0x10) for (let i = 0; i < size; i++) this.echo[offset - 0x0c + i] = (value >>> (8 * i)) & 0xff;
  }
}

/** Byte-wide port devices through a window: a wider access is byte accesses in address order. */
abstract class PortPassThrough implements MmioDevice {
  abstract readonly name: string;
  abstract readonly size: number;
  /** Each port access, for the log: "inb 0x3fd -> 0x60", "outb 0x3f8 <- 0x41". */
  constructor(protected readonly base: number, private readonly log: (line: string) => void) {}
  protected abstract inb(port: number): number;
  protected abstract outb(port: number, v: number): void;
  onRead(offset: number, size: number): number {
    let v = 0;
    for (let i = 0; i < Math.min(size, 4); i++) {
      const port = this.base + offset + i;
      const b = offset + i < this.size ? this.inb(port) & 0xff : 0xff;
      this.log(`${this.name}: inb 0x${port.toString(16)} -> 0x${b.toString(16).padStart(2, '0')}`);
      v |= b << (8 * i);
    }
    return v >>> 0;
  }
  onWrite(offset: number, size: number, value: number): void {
    for (let i = 0; i < Math.min(size, 4); i++) {
      const port = this.base + offset + i;
      const b = (value >>> (8 * i)) & 0xff;
      this.log(`${this.name}: outb 0x${port.toString(16)} <- 0x${b.toString(16).padStart(2, '0')}`);
      if (offset + i < this.size) this.outb(port, b);
    }
  }
}

/** The modelled 16550 (COM1's registers 0x3f8–0x3ff at offsets 0–7); what it transmits goes to `out`. */
export class UartPassThrough extends PortPassThrough {
  readonly name = 'uart';
  readonly size = 8;
  readonly uart: Uart16550;
  constructor(out: (byte: number) => void, log: (line: string) => void) {
    super(COM1_BASE, log);
    this.uart = new Uart16550(out, COM1_BASE);
  }
  protected inb(port: number): number {
    return this.uart.read(port);
  }
  protected outb(port: number, v: number): void {
    this.uart.write(port, v);
  }
}

/** The modelled 8254 (ports 0x40–0x43 at offsets 0–3), clocked by the instruction count. */
export class PitPassThrough extends PortPassThrough {
  readonly name = 'pit';
  readonly size = 4;
  readonly pit: Pit8254;
  constructor(icount: () => number, log: (line: string) => void) {
    super(0x40, log);
    this.pit = new Pit8254({ get icount() { return icount(); }, requestAttention() {} }, () => {});
  }
  protected inb(port: number): number {
    return this.pit.read(port);
  }
  protected outb(port: number, v: number): void {
    this.pit.write(port, v);
  }
}
