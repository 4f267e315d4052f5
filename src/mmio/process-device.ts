/**
 * A guest user process as a virtual MMIO device (Brendan's "virtualised
 * device processes", seed 001): a static i386 program opens `/dev/vdev`,
 * receives the driver's accesses as messages with read(2), answers reads
 * with write(2), and raises the device's IRQ with ioctl(2).
 *
 *   struct vdev_msg { u32 op; u32 offset; u32 size; u32 value; };   (16 bytes, read from /dev/vdev)
 *     op 0 (VDEV_READ):  "read `size` bytes at `offset`": answer with write(fd, &value, 4) (u32, little-endian)
 *     op 1 (VDEV_WRITE): "write `size` bytes at `offset`": `value` is what the driver stored; no answer
 *   ioctl(fd, VDEV_IOC_IRQ, 0): raise the device's interrupt line
 *
 * (include/kmemsim/vdev.h for programs.) The program runs in a system of
 * its own — its own simulated machine, kernel and Linux personality, its
 * own process list and clock — started when the device is attached: it
 * runs until it first waits in read(2) on /dev/vdev. Each access of the
 * driver then runs it, inside the handling of the driver's fault, until
 * it waits for the next message (a read waits for the reply, as the seed
 * describes): deterministic, and the driver's machine does not advance
 * meanwhile (its clock stands still, as during any host device model).
 * A read of more than 4 bytes is asked for as several messages (dwords).
 *
 * The device process dying (exiting, killed by a fault, running out of
 * its budget without waiting for a message) while a read waits: the read
 * gets all ones — a missing device on a real bus — and the kernel log a
 * `vdev:` report; from then on the device reads all ones and drops
 * writes. The driver's guest memory is never left hidden: the access
 * completes like any other.
 */
import { loadUserProgram, type Process } from '../kernel/process.js';
import type { StopReason } from '../cpu/stop.js';
import { OpenFile, S_IFCHR, WOULD_BLOCK, syntheticStat, type PollState, type Stat } from '../linux/fs/file.js';
import { EINVAL, ENOTTY, LinuxError } from '../linux/errno.js';
import type { VNode } from '../linux/fs/vnode.js';
import type { MmioDevice } from './device.js';

export const VDEV_READ = 0, VDEV_WRITE = 1;
/** _IO('v', 1). */
export const VDEV_IOC_IRQ = 0x7601;
const MSG_SIZE = 16;
/** Instructions the device process may take to answer one message (then it is given up as dead). */
export const VDEV_BUDGET = 50_000_000;

export interface ProcessDeviceOptions {
  /** argv, argv[0] first. */
  argv: string[];
  /** Bytes of register window. */
  size: number;
  name?: string;
  /** The device process's stdout and stderr (default: dropped). */
  onOutput?: (bytes: Uint8Array) => void;
  /** Reports ("vdev: ..."), for the driver's kernel log. */
  log?: (line: string) => void;
  budget?: number;
}

/** /dev/vdev in the device process's system. */
class VdevFile extends OpenFile {
  constructor(private readonly dev: ProcessDevice, flags: number, path: string) {
    super(flags, path);
  }
  stat(): Stat {
    return syntheticStat(S_IFCHR | 0o666, 120, { dev: 5, rdev: (10 << 8) | 63 });
  }
  override read(n: number): Uint8Array | typeof WOULD_BLOCK {
    if (n < MSG_SIZE) throw new LinuxError(EINVAL);
    return this.dev.nextMessage() ?? WOULD_BLOCK;
  }
  /** Readable when a message waits (the system-call layer sleeps on this). */
  override poll(): PollState {
    return { readable: this.dev.hasMessage, writable: true, hangup: false };
  }
  override write(d: Uint8Array): number {
    if (d.length < 4) throw new LinuxError(EINVAL);
    this.dev.reply(d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24));
    return d.length;
  }
  override ioctl(req: number): number {
    if (req !== VDEV_IOC_IRQ) throw new LinuxError(ENOTTY);
    this.dev.raiseIrq?.();
    return 0;
  }
}

export class ProcessDevice implements MmioDevice {
  readonly name: string;
  readonly size: number;
  raiseIrq?: () => void;
  /** Why the process no longer serves (null while it does). */
  dead: string | null = null;
  readonly counters = { messages: 0, replies: 0, irqs: 0 };
  private readonly proc: Process;
  private readonly queue: Uint8Array[] = [];
  private answer: number | null = null;
  private readonly budget: number;
  private readonly log: (line: string) => void;

  constructor(elf: Uint8Array, opts: ProcessDeviceOptions) {
    this.name = opts.name ?? 'vdev';
    this.size = opts.size;
    this.budget = opts.budget ?? VDEV_BUDGET;
    this.log = opts.log ?? (() => {});
    const out = opts.onOutput ?? (() => {});
    this.proc = loadUserProgram(elf, { argv: opts.argv, onStdout: out, onStderr: out, maxInstructions: this.budget });
    const node: VNode = {
      type: 'dev', ino: 120, mode: S_IFCHR | 0o666, rdev: (10 << 8) | 63,
      open: (flags, path) => new VdevFile(this, flags, path),
    };
    this.proc.linux.system.devices.set('vdev', node);
    // Up to its first wait for a message.
    this.runUntilIdle('starting');
  }

  get hasMessage(): boolean {
    return this.queue.length > 0;
  }

  /** The next message for the process's read(2), or null (it waits). */
  nextMessage(): Uint8Array | null {
    return this.queue.shift() ?? null;
  }

  reply(value: number): void {
    this.counters.replies++;
    this.answer = value >>> 0;
  }

  onRead(offset: number, size: number): number {
    const ones = size >= 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    if (this.dead !== null) return ones;
    this.answer = null;
    this.send(VDEV_READ, offset, size, 0);
    this.runUntilIdle(`a read of ${size} byte${size === 1 ? '' : 's'} at offset 0x${offset.toString(16)} waited`);
    if (this.answer === null) {
      if (this.dead === null) this.log(`vdev: ${this.name}: the device process waits for a message without answering the read of ${size} bytes at offset 0x${offset.toString(16)}: all ones`);
      return ones;
    }
    return size >= 4 ? this.answer : this.answer & ones;
  }

  onWrite(offset: number, size: number, value: number): void {
    if (this.dead !== null) return;
    this.send(VDEV_WRITE, offset, size, value);
    this.runUntilIdle(`a write of ${size} byte${size === 1 ? '' : 's'} at offset 0x${offset.toString(16)} was sent`);
  }

  private send(op: number, offset: number, size: number, value: number): void {
    const m = new Uint8Array(MSG_SIZE);
    const dv = new DataView(m.buffer);
    dv.setUint32(0, op, true);
    dv.setUint32(4, offset >>> 0, true);
    dv.setUint32(8, size >>> 0, true);
    dv.setUint32(12, value >>> 0, true);
    this.queue.push(m);
    this.counters.messages++;
  }

  /**
   * Run the device process until every task of its system waits (for the next message): the
   * scheduler's "every task is blocked" stop is the idle state. Any other stop is its death.
   */
  private runUntilIdle(what: string): void {
    let stop: StopReason;
    try {
      stop = this.proc.linux.system.run(this.budget);
    } catch (e) {
      stop = { kind: 'internal-error', eip: this.proc.kernel.cpu.eip, message: e instanceof Error ? e.message : String(e) };
    }
    if (stop.kind === 'fault' && stop.vector === 0x80 && this.queue.length === 0) return;
    this.dead = describe(stop);
    this.queue.length = 0;
    this.log(`vdev: ${this.name}: the device process ${this.dead} while ${what}: the device reads all ones from now on`);
  }
}

function describe(stop: StopReason): string {
  switch (stop.kind) {
    case 'exited': return `exited with status ${stop.status}`;
    case 'fault': return stop.vector === 0x80 ? 'left messages unread' : `died of exception ${stop.vector} at 0x${(stop.eip >>> 0).toString(16)}`;
    case 'budget': return 'did not wait for the next message within its instruction budget';
    default: return `stopped (${stop.kind})`;
  }
}
