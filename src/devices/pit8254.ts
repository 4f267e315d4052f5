/**
 * The Intel 8254 programmable interval timer (8253-compatible) at ports
 * 0x40–0x43, channel 0's OUT wired to IRQ0 as on every PC.
 *
 * Time is the CPU's retired-instruction count, so runs are deterministic
 * (DESIGN invariant 4). The PIT's input clock is the PC's 1.193182 MHz
 * (14.31818 MHz / 12) and kmemsim's nominal processor speed is the
 * 100 million instructions per second the user-program kernel's clock
 * already uses (src/linux/clock.ts, INSTRUCTIONS_PER_SECOND). One PIT
 * clock is therefore 100e6 / 1193182 ≈ 83.81 instructions; the conversion
 * is done exactly in integers: after `i` instructions the PIT has seen
 * floor(i × 596591 / 50000000) clocks (1193182/100e6 reduced). A 100 Hz
 * tick (count 11932) comes every ~1 000 000 instructions; the BIOS's
 * 18.2 Hz (count 0 = 65536) every ~5.49 M.
 *
 * Modelled, after the 8254 datasheet (Intel order no. 231164):
 * - control word (port 0x43): counter select, read/write mode (latch,
 *   LSB only, MSB only, LSB then MSB), mode 0–5, BCD; writing it stops the
 *   counter until a count is written and sets OUT to its initial level
 *   (low in mode 0, high otherwise);
 * - counter latch command and the 8254 read-back command (latch count
 *   and/or status of several counters at once); status byte with OUT,
 *   null count, access mode, mode and BCD;
 * - count 0 means 65536 (10000 in BCD);
 * - a count starts one input clock after it is written;
 * - mode 0 (interrupt on terminal count): OUT goes high when the count
 *   reaches 0 and stays high; mode 2 (rate generator): OUT low for one
 *   clock at the end of each period; mode 3 (square wave): OUT high for
 *   the first half of each period; mode 4 (software strobe): one low clock
 *   after the count; modes 6 and 7 are 2 and 3. In modes 2 and 3 a new
 *   count written while counting takes effect at the end of the current
 *   period (datasheet); in modes 0 and 4 it restarts counting.
 * - modes 1 and 5 are started by a rising edge on GATE; channel 0's GATE is
 *   tied high on a PC, so such a counter never starts.
 * - IRQ0 is requested on every rising edge of OUT0 (the 8259 inputs are
 *   edge-triggered). If the CPU is late, edges that happened meanwhile
 *   collapse into one request, as they would in the 8259's IRR.
 *
 * Counters 1 and 2 count and can be read, but their outputs go nowhere:
 * port 0x61 (speaker gate/data, refresh toggle) is not modelled. The
 * mode-3 count is read back as QEMU's i8254 computes it (decrementing by
 * two), which is exact for even counts.
 *
 * The PIT reads the time from `cpu.icount` when a port is accessed. The
 * CPU updates that count at the end of each decoded block, so an IN/OUT in
 * the middle of a block sees the count at the block's start: programming
 * and reading the counter are deterministic but may be early by the few
 * instructions that precede the IN/OUT in its block.
 */
import type { TimedDevice } from '../cpu/cpu.js';

/** PIT input clock, Hz. */
export const PIT_HZ = 1193182;
/** Nominal processor speed: the same clock as the user-program kernel (src/linux/clock.ts). */
export const INSTRUCTIONS_PER_SECOND = 100_000_000;
// PIT_HZ / INSTRUCTIONS_PER_SECOND in lowest terms.
const NUM = 596591;
const DEN = 50_000_000;

/** PIT clocks seen after `icount` instructions (exact for any icount below 2^53). */
export function pitTicksAt(icount: number): number {
  const q = Math.floor(icount / DEN);
  const r = icount - q * DEN;
  return q * NUM + Math.floor((r * NUM) / DEN);
}

/** The first instruction count at which `tick` PIT clocks have been seen. */
export function icountForPitTick(tick: number): number {
  const q = Math.floor(tick / NUM);
  const r = tick - q * NUM;
  return q * DEN + Math.ceil((r * DEN) / NUM);
}

/** What the PIT needs from the CPU: the time, and a way to say "my next event moved". */
export interface PitClock {
  readonly icount: number;
  requestAttention(): void;
}

function fromBcd(v: number): number {
  return ((v >> 12) & 0xf) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 + (v & 0xf);
}
function toBcd(v: number): number {
  return ((Math.floor(v / 1000) % 10) << 12) | ((Math.floor(v / 100) % 10) << 8) | ((Math.floor(v / 10) % 10) << 4) | (v % 10);
}

/** One counter of the 8254. */
export class PitCounter {
  mode = 0;
  /** Access mode: 1 LSB, 2 MSB, 3 LSB then MSB. */
  rw = 3;
  bcd = false;
  /** The count as written (binary or BCD digits), 0–0xFFFF. */
  written = 0;
  /** Period in input clocks (count 0 → 65536, or 10000 in BCD). */
  period = 0;
  /** Input clock at which the current count was loaded; -1 while stopped. */
  loadTick = -1;
  /** A count written in mode 2/3 while counting: loaded at `pendingAt`. */
  pendingPeriod = 0;
  pendingWritten = 0;
  pendingAt = -1;
  /** LSB-then-MSB write in progress: the LSB written so far, or -1. */
  lsbWritten = -1;
  /** LSB-then-MSB read of the live count: next read returns the MSB. */
  readMsbNext = false;
  /** Latched count, or -1; and whether its LSB has been read. */
  latchedCount = -1;
  latchedMsbNext = false;
  /** Latched status byte, or -1. */
  latchedStatus = -1;
  /** Set when a count has been written but not yet loaded into the counting element. */
  nullCount = true;
  /** OUT level while stopped (after a control word). */
  idleOut = true;

  constructor(readonly index: number) {}

  private commitPending(tick: number): void {
    if (this.pendingAt >= 0 && tick >= this.pendingAt) {
      this.loadTick = this.pendingAt;
      this.period = this.pendingPeriod;
      this.written = this.pendingWritten;
      this.pendingAt = -1;
    }
  }

  /** Writing a control word for this counter (not a latch command). */
  control(rw: number, mode: number, bcd: boolean): void {
    this.rw = rw;
    this.mode = mode > 5 ? mode - 4 : mode;
    this.bcd = bcd;
    this.loadTick = -1;
    this.pendingAt = -1;
    this.lsbWritten = -1;
    this.readMsbNext = false;
    this.latchedCount = -1;
    this.latchedStatus = -1;
    this.nullCount = true;
    this.idleOut = this.mode !== 0;
  }

  /** A byte written to the counter's port at PIT clock `tick`. Returns true when a count was loaded. */
  writeByte(v: number, tick: number): boolean {
    v &= 0xff;
    let value: number;
    if (this.rw === 1) value = v;
    else if (this.rw === 2) value = v << 8;
    else if (this.lsbWritten < 0) {
      this.lsbWritten = v;
      // Mode 0: writing the first byte stops the count (datasheet).
      if (this.mode === 0 && this.loadTick >= 0) {
        this.commitPending(tick);
        this.idleOut = false;
        this.loadTick = -1;
      }
      return false;
    } else {
      value = this.lsbWritten | (v << 8);
      this.lsbWritten = -1;
    }
    this.load(value, tick);
    return true;
  }

  private load(value: number, tick: number): void {
    const period = this.bcd ? (value === 0 ? 10000 : fromBcd(value)) : value === 0 ? 65536 : value;
    this.nullCount = false;
    this.commitPending(tick);
    if ((this.mode === 2 || this.mode === 3) && this.loadTick >= 0 && tick >= this.loadTick) {
      // Counting: the new count is loaded at the end of the current period.
      const d = tick - this.loadTick;
      this.pendingAt = this.loadTick + (Math.floor(d / this.period) + 1) * this.period;
      this.pendingPeriod = period;
      this.pendingWritten = value;
      return;
    }
    this.pendingAt = -1;
    this.written = value;
    this.period = period;
    if (this.mode === 1 || this.mode === 5) {
      // Hardware-triggered: waits for a GATE rising edge that never comes on channel 0.
      this.loadTick = -1;
      this.idleOut = true;
      return;
    }
    // The count is loaded into the counting element on the next input clock.
    this.loadTick = tick + 1;
  }

  /** The counting element's value at PIT clock `tick` (binary, before BCD conversion). */
  private countAt(tick: number): number {
    this.commitPending(tick);
    const wrap = this.bcd ? 10000 : 65536;
    if (this.loadTick < 0 || tick < this.loadTick) return this.period % wrap;
    const d = tick - this.loadTick;
    const n = this.period;
    switch (this.mode) {
      case 2: return (n - (d % n)) % wrap;
      case 3: return (n - ((2 * d) % n)) % wrap;
      default: return (((n - d) % wrap) + wrap) % wrap; // modes 0 and 4 keep counting down past zero
    }
  }

  /** OUT at PIT clock `tick`. */
  outAt(tick: number): boolean {
    this.commitPending(tick);
    if (this.loadTick < 0 || tick < this.loadTick) return this.idleOut;
    const d = tick - this.loadTick;
    const n = this.period;
    switch (this.mode) {
      case 0: return d >= n;
      case 2: return d % n !== n - 1;
      case 3: return d % n < (n + 1) >> 1;
      case 4: return d !== n;
      default: return true;
    }
  }

  /** The first rising edge of OUT strictly after PIT clock `tick`, or Infinity. */
  nextRisingEdge(tick: number): number {
    if (this.loadTick < 0) return Infinity;
    const n = this.period;
    const from = Math.max(tick + 1, this.loadTick + 1);
    switch (this.mode) {
      case 0: return this.loadTick + n >= from ? this.loadTick + n : Infinity;
      case 4: return this.loadTick + n + 1 >= from ? this.loadTick + n + 1 : Infinity;
      case 2:
      case 3: {
        const k = Math.ceil((from - this.loadTick) / n);
        const edge = this.loadTick + k * n;
        // A pending count takes over at its boundary, which is itself an edge of the old period.
        if (this.pendingAt >= 0 && edge > this.pendingAt) {
          const k2 = Math.ceil((from - this.pendingAt) / this.pendingPeriod);
          return this.pendingAt + Math.max(k2, 0) * this.pendingPeriod;
        }
        return edge;
      }
      default: return Infinity;
    }
  }

  latchCount(tick: number): void {
    if (this.latchedCount >= 0) return; // a second latch before the first is read is ignored
    const c = this.countAt(tick);
    this.latchedCount = this.bcd ? toBcd(c) : c;
    this.latchedMsbNext = false;
  }

  latchStatus(tick: number): void {
    if (this.latchedStatus >= 0) return;
    this.latchedStatus = (this.outAt(tick) ? 0x80 : 0) | (this.nullCount ? 0x40 : 0) | (this.rw << 4) | (this.mode << 1) | (this.bcd ? 1 : 0);
  }

  readByte(tick: number): number {
    if (this.latchedStatus >= 0) {
      const s = this.latchedStatus;
      this.latchedStatus = -1;
      return s;
    }
    if (this.latchedCount >= 0) {
      const c = this.latchedCount;
      if (this.rw === 1) {
        this.latchedCount = -1;
        return c & 0xff;
      }
      if (this.rw === 2) {
        this.latchedCount = -1;
        return (c >> 8) & 0xff;
      }
      if (!this.latchedMsbNext) {
        this.latchedMsbNext = true;
        return c & 0xff;
      }
      this.latchedCount = -1;
      return (c >> 8) & 0xff;
    }
    const raw = this.countAt(tick);
    const c = this.bcd ? toBcd(raw) : raw;
    if (this.rw === 1) return c & 0xff;
    if (this.rw === 2) return (c >> 8) & 0xff;
    const msb = this.readMsbNext;
    this.readMsbNext = !msb;
    return msb ? (c >> 8) & 0xff : c & 0xff;
  }
}

/** The three counters, the control port, and channel 0's IRQ0 timing. */
export class Pit8254 implements TimedDevice {
  readonly counters = [new PitCounter(0), new PitCounter(1), new PitCounter(2)];
  /** Instruction count of the next rising edge of OUT0 (TimedDevice). */
  nextEventAt = Infinity;
  /** PIT clock of that edge. */
  private nextEdgeTick = Infinity;
  /** IRQ0 requests made so far. */
  irqCount = 0;

  /** `raiseIrq0` is called on each rising edge of OUT0 (the board wires it to the 8259's IR0). */
  constructor(private readonly clock: PitClock, private readonly raiseIrq0: () => void) {}

  private now(): number {
    return pitTicksAt(this.clock.icount);
  }

  /** Recompute channel 0's next edge after a change at PIT clock `tick`. */
  private reschedule(tick: number): void {
    this.nextEdgeTick = this.counters[0].nextRisingEdge(tick);
    const at = this.nextEdgeTick === Infinity ? Infinity : icountForPitTick(this.nextEdgeTick);
    if (at !== this.nextEventAt) {
      this.nextEventAt = at;
      this.clock.requestAttention();
    }
  }

  /** TimedDevice: the CPU has reached nextEventAt. */
  onTime(icount: number): void {
    const tick = pitTicksAt(icount);
    if (this.nextEdgeTick <= tick) {
      this.irqCount++;
      this.raiseIrq0();
    }
    this.nextEdgeTick = this.counters[0].nextRisingEdge(tick);
    this.nextEventAt = this.nextEdgeTick === Infinity ? Infinity : icountForPitTick(this.nextEdgeTick);
  }

  /** Byte read of 0x40–0x43 (the control port reads as 0xFF: it is write-only). */
  read(port: number): number {
    const i = port & 3;
    if (i === 3) return 0xff;
    return this.counters[i].readByte(this.now());
  }

  /** Byte write of 0x40–0x43. */
  write(port: number, value: number): void {
    const i = port & 3;
    const tick = this.now();
    value &= 0xff;
    if (i !== 3) {
      this.counters[i].writeByte(value, tick);
      if (i === 0) this.reschedule(tick);
      return;
    }
    const sc = value >> 6;
    if (sc === 3) {
      // Read-back: bit 5 = 0 latches counts, bit 4 = 0 latches status, bits 3:1 select counters 2..0.
      for (let c = 0; c < 3; c++) {
        if (!(value & (2 << c))) continue;
        if (!(value & 0x20)) this.counters[c].latchCount(tick);
        if (!(value & 0x10)) this.counters[c].latchStatus(tick);
      }
      return;
    }
    const rw = (value >> 4) & 3;
    if (rw === 0) {
      this.counters[sc].latchCount(tick);
      return;
    }
    this.counters[sc].control(rw, (value >> 1) & 7, (value & 1) !== 0);
    if (sc === 0) this.reschedule(tick);
  }
}
