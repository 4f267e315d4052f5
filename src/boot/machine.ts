/**
 * `kmemsim boot`: a bare PC — CPU, RAM, the devices of src/devices — with
 * a Multiboot kernel loaded the way `qemu-system-i386 -kernel` loads it,
 * run until it stops. Nothing of kmemsim's own kernel is involved: the
 * guest kernel owns the machine from its first instruction (its GDT, IDT,
 * paging, PIC and timer setup are all its own).
 *
 * This module assembles a whole machine (CPU, devices, loader and, when
 * asked, the --trace-events tracer), so it sits at the top of the layers
 * next to src/cli, which only parses arguments and prints.
 *
 * Exit status, as `kmemsim boot` reports it:
 * - isa-debug-exit (port 0xF4) written with v: (v << 1) | 1, as QEMU;
 * - HLT with interrupts disabled (nothing can ever wake the CPU): 0;
 * - instruction budget exhausted: 124 (like timeout(1));
 * - triple fault, unhandled exception (no IDT), unsupported instruction,
 *   internal error: 125.
 */
import { CPU } from '../cpu/cpu.js';
import type { StopReason } from '../cpu/stop.js';
import { Vec } from '../cpu/stop.js';
import { unsupportedStop } from '../cpu/disasm.js';
import { attachPcDevices, type PcDevices } from '../devices/pc.js';
import { exitStatusFor } from '../devices/isa-debug-exit.js';
import { attachEventTrace } from '../trace/events.js';
import { loadMultiboot, type LoadedKernel } from './multiboot.js';

export const DEFAULT_BOOT_MEMORY_MIB = 128;
export const DEFAULT_BOOT_BUDGET = 10_000_000_000;
/** RAM limits: the kernel is loaded at 1 MiB or above, and physical memory is at most 1 GiB. */
export const MIN_BOOT_MEMORY_MIB = 2;
export const MAX_BOOT_MEMORY_MIB = 1024;

export interface BootOptions {
  /** RAM in MiB (default 128). */
  memoryMiB?: number;
  /** Instruction budget (default 10^10); the run stops with kind 'budget' (status 124) when it runs out. */
  maxInstructions?: number;
  /** One line per exception/interrupt (`--trace-events`), without the newline. */
  traceEvents?: (line: string) => void;
  /** Console output (debugcon 0xE9 and COM1), in chunks, as it is produced. */
  stdout?: (bytes: Uint8Array) => void;
  /** Send COM1 here instead of `stdout` (tests that compare each device with QEMU). */
  serial?: (bytes: Uint8Array) => void;
  /** Kernel command line (Multiboot information flag bit 2). */
  cmdline?: string;
  /** Called once the kernel is loaded, before its first instruction (a debugger attaches here: `boot -s`). */
  onReady?: (cpu: CPU) => void;
}

export interface BootResult {
  stop: StopReason;
  exitCode: number;
  instructions: number;
  /** Everything the kernel printed, in order (both devices unless `serial` was given). */
  console: Uint8Array;
  /** Bytes written to each device. */
  debugcon: Uint8Array;
  serialOut: Uint8Array;
  kernel: LoadedKernel;
  cpu: CPU;
  devices: PcDevices;
}

/** Bad options (the CLI reports these as usage errors). */
export class BootOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BootOptionError';
  }
}

/**
 * Collects bytes and hands them on in chunks: at a newline, when the buffer
 * is full, and at the end. One preallocated buffer, no allocation per byte.
 */
class ByteSink {
  private buf = new Uint8Array(4096);
  private n = 0;
  private readonly parts: Uint8Array[] = [];
  private total = 0;

  constructor(private readonly forward: ((bytes: Uint8Array) => void) | undefined, private readonly lineBuffered = true) {}

  put(b: number): void {
    this.buf[this.n++] = b;
    if (this.n === this.buf.length || (this.lineBuffered && b === 10)) this.flush();
  }
  flush(): void {
    if (this.n === 0) return;
    const chunk = this.buf.slice(0, this.n);
    this.n = 0;
    this.parts.push(chunk);
    this.total += chunk.length;
    this.forward?.(chunk);
  }
  bytes(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.total);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** Exit status for a stop (see the module comment). */
export function bootExitCode(stop: StopReason): number {
  switch (stop.kind) {
    case 'exited': return exitStatusFor(stop.status);
    case 'halted': return 0;
    case 'budget': return 124;
    default: return 125;
  }
}

function checkOptions(opts: BootOptions): { memoryMiB: number; budget: number } {
  const memoryMiB = opts.memoryMiB ?? DEFAULT_BOOT_MEMORY_MIB;
  if (!Number.isInteger(memoryMiB) || memoryMiB < MIN_BOOT_MEMORY_MIB || memoryMiB > MAX_BOOT_MEMORY_MIB) {
    throw new BootOptionError(`--memory must be a whole number of MiB from ${MIN_BOOT_MEMORY_MIB} to ${MAX_BOOT_MEMORY_MIB} (got ${opts.memoryMiB})`);
  }
  const budget = opts.maxInstructions ?? DEFAULT_BOOT_BUDGET;
  if (!Number.isInteger(budget) || budget < 0) {
    throw new BootOptionError(`--max-instructions must be a non-negative whole number (got ${opts.maxInstructions})`);
  }
  return { memoryMiB, budget };
}

/**
 * Boot a Multiboot kernel image and run it to completion (or the budget).
 * Throws MultibootError for a file that cannot be booted and
 * BootOptionError for bad options; everything the guest does ends in a
 * StopReason.
 */
export function bootMultiboot(image: Uint8Array, opts: BootOptions = {}): BootResult {
  const { memoryMiB, budget } = checkOptions(opts);
  const cpu = new CPU({ memorySize: memoryMiB * 1024 * 1024 });
  const consoleSink = new ByteSink(opts.stdout);
  const serialSink = opts.serial ? new ByteSink(opts.serial) : null;
  const debugconLog = new ByteSink(undefined, false);
  const serialLog = new ByteSink(undefined, false);
  const devices = attachPcDevices(cpu, (b) => writeBytes(consoleSink, b), {
    debugconWrite: (b) => {
      writeBytes(debugconLog, b);
      writeBytes(consoleSink, b);
    },
    serialWrite: (b) => {
      writeBytes(serialLog, b);
      writeBytes(serialSink ?? consoleSink, b);
    },
  });
  const kernel = loadMultiboot(cpu, image, { cmdline: opts.cmdline });
  if (opts.traceEvents) attachEventTrace(cpu, opts.traceEvents, devices.pic);
  opts.onReady?.(cpu);

  let stop: StopReason | null;
  try {
    stop = cpu.run(budget);
  } catch (e) {
    stop = { kind: 'internal-error', eip: cpu.eip, message: `internal error: ${e instanceof Error ? e.message : String(e)}` };
  }
  stop ??= { kind: 'budget', executed: cpu.icount };
  serialSink?.flush();
  // An unmodelled instruction (#UD with a reason) that nothing handled: say what it was, as `kmemsim run` does.
  if (stop.kind === 'fault' && stop.vector === Vec.UD && cpu.unsupported) {
    const ins = cpu.unsupported;
    stop = unsupportedStop(ins, stop.eip);
  }
  return {
    stop,
    exitCode: bootExitCode(stop),
    instructions: cpu.icount,
    console: consoleSink.bytes(),
    debugcon: debugconLog.bytes(),
    serialOut: serialLog.bytes(),
    kernel,
    cpu,
    devices,
  };
}

function writeBytes(sink: ByteSink, b: Uint8Array | number): void {
  if (typeof b === 'number') sink.put(b & 0xff);
  else for (const x of b) sink.put(x);
}

/** Bytes of guest code at a physical/linear address as the CPU would fetch them (empty when unmapped). */
export function codeBytesAt(cpu: CPU, eip: number, n = 8): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const lin = (cpu.segBase[1] + eip + i) | 0;
    const p = cpu.lookupPhys(lin, false, cpu.cpl === 3);
    if (p < 0 || p >= cpu.mem.size) break;
    out.push(cpu.mem.read8(p));
  }
  return out;
}
