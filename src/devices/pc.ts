/**
 * The I/O devices of kmemsim's PC: the 8259 pair, the 8254 timer on IRQ0,
 * QEMU's debug console (0xE9) and isa-debug-exit (0xF4), the x87's FERR#
 * on IRQ13 with its clear port 0xF0, and a 16550 UART
 * at COM1 — the set a Multiboot test kernel written for
 * `qemu-system-i386 -kernel` expects to find.
 *
 * The ISA bus is eight bits wide for these devices: a 16- or 32-bit IN/OUT
 * to one of their ports is carried out as successive byte accesses to
 * consecutive ports (port, port+1, ...), each going to whichever device
 * owns that port (nothing there: reads 0xFF). isa-debug-exit is the
 * exception: like QEMU's, it takes a write of up to 32 bits in one piece.
 *
 * State at power-on is what a BIOS leaves before booting an OS (see
 * `PicPair.initLikeBios`): PICs at vectors 0x08/0x70 with every line but the
 * cascade masked. The PIT is left idle until the kernel programs it (a PC
 * BIOS would have channel 0 running at 18.2 Hz; with IRQ0 masked the
 * difference shows only to a kernel that unmasks IRQ0 without programming
 * the PIT).
 */
import type { CPU, PortHandler } from '../cpu/cpu.js';
import { PicPair } from './pic8259.js';
import { Pit8254 } from './pit8254.js';
import { DebugCon, DEBUGCON_PORT } from './debugcon.js';
import { Uart16550, COM1_BASE } from './uart16550.js';
import { IsaDebugExit, DEBUG_EXIT_PORT, DEBUG_EXIT_IOSIZE } from './isa-debug-exit.js';

export type ConsoleWrite = (bytes: Uint8Array | number) => void;

export interface PcDevices {
  pic: PicPair;
  pit: Pit8254;
  debugcon: DebugCon;
  uart: Uart16550;
  debugExit: IsaDebugExit;
}

export interface PcDeviceOptions {
  /** Where COM1's output goes (default: the console). */
  serialWrite?: ConsoleWrite;
  /** Where 0xE9's output goes (default: the console). */
  debugconWrite?: ConsoleWrite;
  /** Leave the PICs uninitialized instead of in the BIOS's state (tests). */
  rawPic?: boolean;
}

interface BytePort {
  read(port: number): number;
  write(port: number, value: number): void;
}

/**
 * Register byte-wide handlers for `ports`; wider accesses are split into
 * byte accesses to consecutive ports through the CPU's port space.
 */
export function registerBytePorts(cpu: CPU, ports: readonly number[], dev: BytePort): void {
  const own = new Set(ports);
  const handler: PortHandler = {
    read(port, size) {
      if (size === 1) return dev.read(port) & 0xff;
      let v = 0;
      for (let i = 0; i < size; i++) {
        const p = (port + i) & 0xffff;
        const b = own.has(p) ? dev.read(p) : cpu.portIn(p, 1);
        v |= (b & 0xff) << (8 * i);
      }
      return v;
    },
    write(port, value, size) {
      if (size === 1) {
        dev.write(port, value & 0xff);
        return;
      }
      for (let i = 0; i < size; i++) {
        const p = (port + i) & 0xffff;
        const b = (value >>> (8 * i)) & 0xff;
        if (own.has(p)) dev.write(p, b);
        else cpu.portOut(p, b, 1);
      }
    },
  };
  for (const p of ports) cpu.registerPort(p, handler);
}

function sink(w: ConsoleWrite): (byte: number) => void {
  return (b) => w(b);
}

/** Create the devices, plug them into `cpu` (ports, INTR, timer) and return them. */
export function attachPcDevices(cpu: CPU, consoleWrite: ConsoleWrite, opts: PcDeviceOptions = {}): PcDevices {
  const pic = new PicPair(cpu);
  if (!opts.rawPic) pic.initLikeBios();
  cpu.interruptController = pic;
  registerBytePorts(cpu, [0x20, 0x21, 0xa0, 0xa1], pic);

  const pit = new Pit8254(cpu, () => pic.pulseIrq(0));
  registerBytePorts(cpu, [0x40, 0x41, 0x42, 0x43], pit);
  cpu.addTimedDevice(pit);

  const debugcon = new DebugCon(sink(opts.debugconWrite ?? consoleWrite));
  registerBytePorts(cpu, [DEBUGCON_PORT], { read: () => debugcon.read(), write: (_p, v) => debugcon.write(v) });

  const uart = new Uart16550(sink(opts.serialWrite ?? consoleWrite), COM1_BASE);
  registerBytePorts(cpu, [0, 1, 2, 3, 4, 5, 6, 7].map((i) => COM1_BASE + i), uart);

  // The x87's FERR# on a PC/AT: with CR0.NE = 0 an x87 error raises IRQ13 (the slave's IR5), and a write
  // to port 0xF0 clears the latch (the handler's job before FNCLEX; SDM Vol. 1 §8.7 and Appendix D).
  cpu.fpuError = () => pic.setIrq(13, true);
  registerBytePorts(cpu, [0xf0], { read: () => 0xff, write: () => pic.setIrq(13, false) });

  const debugExit = new IsaDebugExit(cpu);
  const exitHandler: PortHandler = {
    read: () => 0,
    write: (_port, value, size) => debugExit.write(value, size),
  };
  for (let i = 0; i < DEBUG_EXIT_IOSIZE; i++) cpu.registerPort(DEBUG_EXIT_PORT + i, exitHandler);

  return { pic, pit, debugcon, uart, debugExit };
}
