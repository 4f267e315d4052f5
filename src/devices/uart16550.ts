/**
 * A National Semiconductor 16550A UART at COM1 (ports 0x3F8–0x3FF), enough
 * for the polled serial output every toy kernel and early Linux console
 * write: wait for LSR.THRE, write the byte to THR.
 *
 * Registers (PC16550D datasheet, "Register Summary"):
 *
 * | off | DLAB=0 read | DLAB=0 write | DLAB=1 |
 * | --- | --- | --- | --- |
 * | 0 | RBR receive buffer | THR transmit holding → console | DLL divisor low |
 * | 1 | IER | IER | DLM divisor high |
 * | 2 | IIR (no interrupt pending: 0x01, 0xC1 with FIFOs on) | FCR | |
 * | 3 | LCR (bit 7 = DLAB) | LCR | |
 * | 4 | MCR | MCR | |
 * | 5 | LSR: THRE and TEMT always set (0x60), DR when a byte waits | — | |
 * | 6 | MSR | — | |
 * | 7 | SCR scratch | SCR | |
 *
 * Transmission is instantaneous: a byte written to THR goes to the console
 * at once, so LSR always reports the transmitter empty and a polling loop
 * never spins. IER, LCR, MCR, SCR and the divisor latch read back what was
 * written; the baud rate has no effect.
 *
 * Loopback (MCR bit 4) is modelled because kernels use it to test that a
 * UART is present (write a byte, read it back): in loopback a THR write is
 * received into RBR instead of being printed, and MSR's top nibble mirrors
 * MCR's low one (DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD). Outside loopback
 * MSR reports CTS, DSR and DCD (0xB0), as QEMU's serial device does with a
 * connected backend.
 *
 * Not modelled: input from the host (RBR is empty outside loopback), the
 * interrupt line (IRQ4): IER is stored but the UART never requests an
 * interrupt, and IIR always says "none pending" — polled output needs
 * neither. FIFO depth and timing, line errors and break are not modelled.
 */
export const COM1_BASE = 0x3f8;

export class Uart16550 {
  ier = 0;
  lcr = 0;
  mcr = 0;
  scr = 0;
  dll = 0;
  dlm = 0;
  fifoEnabled = false;
  /** Received byte (loopback only), or -1. */
  rbr = -1;
  /** Bytes transmitted to the console. */
  bytesWritten = 0;

  constructor(private readonly out: (byte: number) => void, readonly base = COM1_BASE) {}

  private get dlab(): boolean {
    return (this.lcr & 0x80) !== 0;
  }

  read(port: number): number {
    switch ((port - this.base) & 7) {
      case 0: {
        if (this.dlab) return this.dll;
        const v = this.rbr < 0 ? 0 : this.rbr;
        this.rbr = -1;
        return v;
      }
      case 1: return this.dlab ? this.dlm : this.ier;
      case 2: return this.fifoEnabled ? 0xc1 : 0x01;
      case 3: return this.lcr;
      case 4: return this.mcr;
      case 5: return 0x60 | (this.rbr >= 0 ? 1 : 0);
      case 6: {
        if (this.mcr & 0x10) {
          const m = this.mcr;
          return ((m & 2) << 3) | ((m & 1) << 5) | ((m & 4) << 4) | ((m & 8) << 4);
        }
        return 0xb0;
      }
      default: return this.scr;
    }
  }

  write(port: number, value: number): void {
    const v = value & 0xff;
    switch ((port - this.base) & 7) {
      case 0:
        if (this.dlab) this.dll = v;
        else if (this.mcr & 0x10) this.rbr = v;
        else {
          this.bytesWritten++;
          this.out(v);
        }
        return;
      case 1:
        if (this.dlab) this.dlm = v;
        else this.ier = v & 0x0f;
        return;
      case 2:
        this.fifoEnabled = (v & 1) !== 0;
        if (v & 2) this.rbr = -1; // clear receive FIFO
        return;
      case 3: this.lcr = v; return;
      case 4: this.mcr = v & 0x1f; return;
      case 7: this.scr = v; return;
      default: return; // LSR and MSR are read-only
    }
  }
}
