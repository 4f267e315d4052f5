/**
 * The gdb remote stub: the GDB remote serial protocol (gdb manual, "Remote
 * Protocol") served against the simulated machine, as QEMU's gdbstub does.
 *
 * How the guest is stopped. The stub is a client of the one single-step
 * loop of its own (./step-loop.ts): it
 * is called before and after every step. A stop — a breakpoint's address
 * reached, a single step done, a watched access retired, a checker's
 * finding (`--gdb-on-finding`), Ctrl-C from gdb — is the stub serving
 * packets right there, between two instructions, until gdb says continue
 * or step: the machine's state is exactly the architectural state at that
 * instruction boundary, and nothing of the run loop is unwound. The CPU
 * (src/cpu) knows nothing of it; without `--gdb` nothing is attached and
 * nothing is slower.
 *
 * - Breakpoints (Z0, and Z1 the same way) are addresses kept in the stub:
 *   guest memory never holds an INT3 it did not write, so checksums,
 *   kmemcheck's shadow and self-reading code see the real bytes.
 * - Watchpoints (Z2 write, Z3 read, Z4 access) are the machine's, not the
 *   guest's DR0–DR7: the step loop decodes each instruction's memory
 *   accesses (src/shadow/access.ts, the decoder kmemcheck uses) and the
 *   stop comes after the instruction that made a matching access retired,
 *   as a data breakpoint's #DB does (SDM Vol. 3 §17.2.5), with
 *   `watch:ADDR` in the stop reply. Accesses made by the simulated
 *   kernel's native routines (kzalloc's zeroing, copy_from_user) are not
 *   instructions and are not seen.
 * - Memory (m, M, X) is linear addresses through the current page tables,
 *   with pages hidden by kmemcheck readable (src/kernel/page-hiding.ts
 *   peek/poke); an unmapped address is an error reply (E14), never a
 *   fault in the guest.
 * - Steps skip the simulated kernel's native routines: `stepi` over
 *   `call kmalloc` stops at the return address, as over a system call.
 */
import type { CPU } from '../cpu/cpu.js';
import type { HiddenFault } from '../kernel/page-hiding.js';
import { ACCESS_READ, ACCESS_WRITE, ACCESS_RMW } from '../kernel/page-hiding.js';
import type { StepClient } from './step-loop.js';
import { fromHex, hexLE, PacketReader, PACKET_SIZE, frame, toHex, type ByteSource } from './packets.js';
import { readRegister, REGISTERS, targetXml, writeRegister } from './registers.js';

/** Guest memory as the debugger sees it. */
export interface DebugMemory {
  /** A byte at a linear address, or -1 when unmapped. */
  peek8(lin: number): number;
  /** Write bytes at a linear address; false (nothing written) when any is unmapped. */
  poke(lin: number, data: Uint8Array): boolean;
}

/** Why the guest stopped, for the stop reply. */
export type StopCause =
  | { kind: 'attach' }
  | { kind: 'step' }
  | { kind: 'breakpoint' }
  | { kind: 'watch'; type: 'watch' | 'rwatch' | 'awatch'; address: number }
  | { kind: 'interrupt' }
  | { kind: 'finding'; report: string };

interface Watchpoint {
  type: 2 | 3 | 4;
  address: number;
  length: number;
}

/** Signal numbers of stop replies (gdb's, as QEMU sends them). */
const SIGINT = 2, SIGTRAP = 5;
/** Steps between two looks for Ctrl-C while the guest runs (an Atomics load each). */
const POLL_INTERVAL = 4096;

export interface StubOptions {
  /** One-line diagnostics (stderr). */
  log?(line: string): void;
  /** `k`: end the run. */
  kill?(): void;
  /**
   * `--gdb-on-finding`: asked before and after every step; returns a new
   * finding (its EIP and text report) when a checker saved one since the
   * last call, else null.
   */
  newFinding?(): { eip: number; report: string } | null;
}

export class GdbStub implements StepClient {
  readonly breakpoints = new Set<number>();
  readonly watchpoints: Watchpoint[] = [];
  private readonly reader: PacketReader;
  /** gdb asked for swbreak/hwbreak stop reasons (qSupported). */
  private swbreak = false;
  /** Set by `s`: stop before the next guest instruction once one retired. */
  private stepFrom = -1;
  /** Stop at the next step (attach, -S). */
  private stopNext = false;
  /** No client yet (`boot -s` without -S): look for one between instructions, and stop when it comes. */
  private awaitingClient = false;
  /** The address a `c` resumed from: its breakpoint does not fire again before the instruction ran. */
  private resumeAt = -1;
  private pendingWatch: { cause: StopCause; icount: number } | null = null;
  /** A finding to stop at: when EIP reaches `eip`. */
  private pendingFinding: { eip: number; report: string } | null = null;
  private poll = POLL_INTERVAL;
  private lastStop: StopCause = { kind: 'attach' };
  /** The client detached or disconnected: the stub is out of the way. */
  detached = false;
  /** Every stop served (for tests and --verbose). */
  stops = 0;

  constructor(
    private readonly io: ByteSource & { pollByte(): number; readonly connected?: boolean },
    readonly cpu: CPU,
    private readonly memory: DebugMemory,
    private readonly opts: StubOptions = {},
  ) {
    this.reader = new PacketReader(io);
  }

  /** Stop before the next guest instruction (the first stop after attaching; -S). */
  stopAtNext(): void {
    this.stopNext = true;
  }

  /** Run on until a client connects, then stop there (QEMU's `-s` without `-S`). */
  stopWhenConnected(): void {
    this.awaitingClient = true;
  }

  /** A checker reported a finding at `eip`: stop there (--gdb-on-finding), with its report. */
  findingAt(eip: number, report: string): void {
    if (!this.detached) this.pendingFinding = { eip: eip >>> 0, report };
  }

  // ---- StepClient ------------------------------------------------------------

  wantsDecode(): boolean {
    return this.watchpoints.length > 0 && !this.detached;
  }

  beforeStep(cpu: CPU, f: HiddenFault | null): void {
    if (this.detached) return;
    if (this.opts.newFinding) this.pollFinding();
    const eip = cpu.eip >>> 0;
    if (cpu.nativeAt((cpu.segBase[1]! + eip) | 0)) return; // the simulated kernel's routine: not a place to stop
    if (--this.poll <= 0) {
      this.poll = POLL_INTERVAL;
      if (this.awaitingClient) {
        if (!this.io.connected) return;
        this.awaitingClient = false;
        return this.serve({ kind: 'attach' });
      }
      const b = this.io.pollByte();
      if (b === 0x03) return this.serve({ kind: 'interrupt' });
    }
    if (this.stopNext) {
      this.stopNext = false;
      return this.serve({ kind: 'attach' });
    }
    if (this.stepFrom >= 0 && cpu.icount > this.stepFrom) return this.serve({ kind: 'step' });
    if (this.pendingFinding !== null && this.pendingFinding.eip === eip) {
      const { report } = this.pendingFinding;
      this.pendingFinding = null;
      return this.serve({ kind: 'finding', report });
    }
    const resumed = this.resumeAt === eip;
    this.resumeAt = -1;
    if (!resumed && this.breakpoints.has(eip)) return this.serve({ kind: 'breakpoint' });
    if (f !== null && this.watchpoints.length > 0) this.checkWatch(cpu, f);
  }

  afterStep(cpu: CPU): void {
    if (this.detached) return;
    if (this.opts.newFinding) this.pollFinding();
    const w = this.pendingWatch;
    if (w === null) return;
    this.pendingWatch = null;
    // The access counts once the instruction retired (a faulting attempt is no access: it runs again).
    if (cpu.icount === w.icount + 1) this.serve(w.cause);
  }

  private pollFinding(): void {
    const f = this.opts.newFinding!();
    if (f !== null) this.findingAt(f.eip, f.report);
  }

  private checkWatch(cpu: CPU, f: HiddenFault): void {
    const a = f.accesses;
    for (let i = 0; i < a.count; i++) {
      const lo = a.addr[i]! >>> 0;
      const size = a.size[i]!;
      const kind = a.kind[i]!;
      const writes = kind === ACCESS_WRITE || kind === ACCESS_RMW;
      const reads = kind === ACCESS_READ || kind === ACCESS_RMW;
      for (const w of this.watchpoints) {
        if (!(lo < w.address + w.length && w.address < lo + size)) continue;
        const type = w.type === 2 ? (writes ? 'watch' : null) : w.type === 3 ? (reads ? 'rwatch' : null) : writes || reads ? 'awatch' : null;
        if (type === null) continue;
        this.pendingWatch = { cause: { kind: 'watch', type, address: w.address }, icount: cpu.icount };
        return;
      }
    }
  }

  // ---- the protocol ------------------------------------------------------------

  private send(data: string | Uint8Array): void {
    this.io.write(frame(data));
  }

  private stopReply(cause: StopCause): string {
    const sig = cause.kind === 'interrupt' ? SIGINT : SIGTRAP;
    let r = `T${sig.toString(16).padStart(2, '0')}`;
    if (cause.kind === 'watch') r += `${cause.type}:${(cause.address >>> 0).toString(16)};`;
    else if (cause.kind === 'breakpoint' && this.swbreak) r += 'swbreak:;';
    return `${r}thread:1;`;
  }

  /**
   * The guest is stopped: tell gdb why, then answer packets until one
   * resumes it (c, s, vCont, D) — or gdb goes away, which detaches the
   * stub (breakpoints and watchpoints dropped, the guest runs on).
   */
  serve(cause: StopCause): void {
    this.stops++;
    this.lastStop = cause;
    this.stepFrom = -1;
    this.pendingWatch = null;
    if (cause.kind === 'finding') {
      // The report, on gdb's console (O packets) and on kmemsim's stderr.
      this.opts.log?.(cause.report);
      this.send('O' + toHex(Buffer.from(cause.report + '\n', 'utf8')));
    }
    if (cause.kind !== 'attach') this.send(this.stopReply(cause));
    for (;;) {
      const p = this.reader.next();
      if (p.kind === 'eof') {
        this.detach('gdb disconnected');
        return;
      }
      if (p.kind === 'interrupt') continue; // already stopped
      const resume = this.handle(Buffer.from(p.data).toString('latin1'));
      if (resume) return;
    }
  }

  /** Drop every breakpoint and watchpoint: the guest runs on untouched (`why` is logged unless null). */
  detach(why: string | null): void {
    if (this.detached) return;
    this.detached = true;
    this.breakpoints.clear();
    this.watchpoints.length = 0;
    this.pendingFinding = null;
    if (why !== null) this.opts.log?.(`kmemsim: ${why}; the guest runs on`);
  }

  /** One packet; true when it resumes the guest. */
  handle(pkt: string): boolean {
    const cpu = this.cpu;
    const c = pkt[0] ?? '';
    const body = pkt.slice(1);
    switch (c) {
      case '?':
        // Stopped before the first instruction: SIGTRAP, as gdbserver and QEMU report it.
        this.send(this.stopReply(this.lastStop.kind === 'attach' ? { kind: 'step' } : this.lastStop));
        return false;
      case 'g':
        this.send(REGISTERS.map((_, n) => toHex(readRegister(cpu, n)!)).join(''));
        return false;
      case 'G': {
        const bytes = fromHex(body);
        const total = REGISTERS.reduce((a, r) => a + r.bits / 8, 0);
        if (bytes === null || bytes.length > total) return this.error(22);
        let off = 0;
        for (let n = 0; n < REGISTERS.length && off < bytes.length; n++) {
          const len = REGISTERS[n]!.bits / 8;
          if (off + len > bytes.length) break;
          if (!writeRegister(cpu, n, bytes.subarray(off, off + len))) return this.error(22);
          off += len;
        }
        this.send('OK');
        return false;
      }
      case 'p': {
        const n = Number.parseInt(body, 16);
        const v = /^[0-9a-f]+$/i.test(body) ? readRegister(cpu, n) : null;
        if (v === null) return this.error(22);
        this.send(toHex(v));
        return false;
      }
      case 'P': {
        const m = /^([0-9a-f]+)=([0-9a-f]*)$/i.exec(body);
        const bytes = m ? fromHex(m[2]!) : null;
        if (!m || bytes === null || !writeRegister(cpu, Number.parseInt(m[1]!, 16), bytes)) return this.error(22);
        this.send('OK');
        return false;
      }
      case 'm': {
        const m = /^([0-9a-f]+),([0-9a-f]+)$/i.exec(body);
        if (!m) return this.error(22);
        const addr = Number.parseInt(m[1]!, 16);
        const len = Math.min(Number.parseInt(m[2]!, 16), PACKET_SIZE / 2);
        const out: number[] = [];
        for (let i = 0; i < len; i++) {
          const b = this.memory.peek8((addr + i) | 0);
          if (b < 0) break;
          out.push(b);
        }
        // Fewer bytes than asked when the range runs into an unmapped page; none at all is EFAULT.
        if (out.length === 0 && len > 0) return this.error(14);
        this.send(toHex(out));
        return false;
      }
      case 'M':
      case 'X': {
        const colon = body.indexOf(':');
        const m = /^([0-9a-f]+),([0-9a-f]+)$/i.exec(colon < 0 ? '' : body.slice(0, colon));
        if (!m) return this.error(22);
        const addr = Number.parseInt(m[1]!, 16);
        const len = Number.parseInt(m[2]!, 16);
        const data = c === 'M' ? fromHex(body.slice(colon + 1)) : Uint8Array.from(Buffer.from(body.slice(colon + 1), 'latin1'));
        if (data === null || data.length !== len) return this.error(22);
        if (!this.memory.poke(addr | 0, data)) return this.error(14);
        this.send('OK');
        return false;
      }
      case 'c':
      case 'C':
      case 's':
      case 'S': {
        // An address after c/s resumes there (C/S carry a signal first, which a bare machine cannot deliver: ignored).
        const addr = c === 'c' || c === 's' ? body : body.split(';')[1];
        if (addr) cpu.eip = Number.parseInt(addr, 16) | 0;
        return this.resume(c === 's' || c === 'S');
      }
      case 'v':
        return this.handleV(pkt);
      case 'Z':
      case 'z':
        return this.handleZ(c === 'Z', body);
      case 'H':
      case 'T':
        this.send('OK');
        return false;
      case 'D':
        this.send('OK');
        this.detach('gdb detached');
        return true;
      case 'k':
        this.detach(null);
        this.opts.kill?.();
        return true;
      case 'q':
      case 'Q':
        this.handleQuery(pkt);
        return false;
      default:
        this.send(''); // not supported
        return false;
    }
  }

  private error(errno: number): false {
    this.send(`E${errno.toString(16).padStart(2, '0')}`);
    return false;
  }

  private resume(step: boolean): true {
    const cpu = this.cpu;
    this.resumeAt = cpu.eip >>> 0;
    this.stepFrom = step ? cpu.icount : -1;
    this.poll = POLL_INTERVAL;
    return true;
  }

  private handleV(pkt: string): boolean {
    if (pkt === 'vCont?') {
      this.send('vCont;c;C;s;S');
      return false;
    }
    if (pkt.startsWith('vCont;')) {
      // Actions for our one thread (or for all): the first one decides.
      const action = pkt.slice(6).split(';')[0] ?? '';
      const k = action[0];
      if (k === 'c' || k === 'C') return this.resume(false);
      if (k === 's' || k === 'S') return this.resume(true);
      return this.error(22);
    }
    if (pkt.startsWith('vKill')) {
      this.send('OK');
      this.detach(null);
      this.opts.kill?.();
      return true;
    }
    this.send(''); // vMustReplyEmpty, vFile, ...: not supported
    return false;
  }

  private handleZ(insert: boolean, body: string): boolean {
    const m = /^([0-4]),([0-9a-f]+),([0-9a-f]+)/i.exec(body);
    if (!m) return this.error(22);
    const type = Number(m[1]);
    const address = Number.parseInt(m[2]!, 16) >>> 0;
    const length = Number.parseInt(m[3]!, 16);
    if (type <= 1) {
      if (insert) this.breakpoints.add(address);
      else this.breakpoints.delete(address);
    } else {
      if (length <= 0) return this.error(22);
      const i = this.watchpoints.findIndex((w) => w.type === type && w.address === address && w.length === length);
      if (insert && i < 0) this.watchpoints.push({ type: type as 2 | 3 | 4, address, length });
      if (!insert && i >= 0) this.watchpoints.splice(i, 1);
    }
    this.send('OK');
    return false;
  }

  private handleQuery(pkt: string): void {
    if (pkt.startsWith('qSupported')) {
      this.swbreak = pkt.includes('swbreak+');
      this.send(`PacketSize=${PACKET_SIZE.toString(16)};qXfer:features:read+;swbreak+;hwbreak+;QStartNoAckMode+;vContSupported+`);
    } else if (pkt === 'QStartNoAckMode') {
      this.send('OK');
      this.reader.noAck = true;
    } else if (pkt.startsWith('qXfer:features:read:')) {
      const m = /^qXfer:features:read:([^:]+):([0-9a-f]+),([0-9a-f]+)$/i.exec(pkt);
      if (!m) return void this.error(22);
      if (m[1] !== 'target.xml') return void this.error(0);
      const xml = targetXml();
      const off = Number.parseInt(m[2]!, 16);
      const len = Number.parseInt(m[3]!, 16);
      const chunk = xml.slice(off, off + len);
      this.send((off + len >= xml.length ? 'l' : 'm') + chunk);
    } else if (pkt === 'qAttached') this.send('1');
    else if (pkt === 'qC') this.send('QC1');
    else if (pkt === 'qfThreadInfo') this.send('m1');
    else if (pkt === 'qsThreadInfo') this.send('l');
    else if (pkt.startsWith('qSymbol')) this.send('OK');
    else if (pkt.startsWith('qThreadExtraInfo')) this.send(toHex(Buffer.from('CPU 0', 'latin1')));
    else this.send('');
  }

  /** The guest finished: tell gdb (W: exited with status), as gdbserver and QEMU do. */
  exited(status: number): void {
    if (this.detached || this.awaitingClient) return;
    this.send(`W${hexLE(status & 0xff, 1)}`);
    this.detached = true;
  }
}
