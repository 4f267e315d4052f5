/**
 * The 8254 timer (src/devices/pit8254.ts): the instruction-count time base,
 * the counting modes, access modes, latch and read-back, and IRQ0 delivered
 * through the 8259 and a real IDT to a handler at CPL 0.
 */
import { describe, expect, it } from 'vitest';
import { Pit8254, pitTicksAt, icountForPitTick, PIT_HZ, INSTRUCTIONS_PER_SECOND } from '../../src/devices/pit8254.js';
import { INSTRUCTIONS_PER_SECOND as KERNEL_IPS } from '../../src/linux/clock.js';
import { attachPcDevices } from '../../src/devices/pc.js';
import { assemble } from '../helpers/asm.js';
import { tableMachine, LAYOUT } from '../oracle/machine.js';

/** A PIT on a hand-driven clock. */
function pit(): { p: Pit8254; clock: { icount: number; requestAttention(): void; asked: number }; irqs: number[] } {
  const clock = { icount: 0, asked: 0, requestAttention() { this.asked++; } };
  const irqs: number[] = [];
  const p = new Pit8254(clock, () => irqs.push(clock.icount));
  return { p, clock, irqs };
}

/** Advance the clock through every event up to `until`, as the CPU's run loop does. */
function runUntil(p: Pit8254, clock: { icount: number }, until: number): void {
  while (p.nextEventAt <= until) {
    clock.icount = p.nextEventAt;
    p.onTime(clock.icount);
  }
  clock.icount = until;
}

function readCount16(p: Pit8254, port = 0x40): number {
  const lo = p.read(port);
  const hi = p.read(port);
  return lo | (hi << 8);
}

describe('PIT time base', () => {
  it('runs at 1.193182 MHz against the kernel clock of 100 M instructions per second', () => {
    expect(INSTRUCTIONS_PER_SECOND).toBe(KERNEL_IPS);
    expect(pitTicksAt(INSTRUCTIONS_PER_SECOND)).toBe(PIT_HZ);
    expect(pitTicksAt(10 * INSTRUCTIONS_PER_SECOND)).toBe(10 * PIT_HZ);
    expect(pitTicksAt(83)).toBe(0);
    expect(pitTicksAt(84)).toBe(1); // one PIT clock ≈ 83.81 instructions
  });

  it('icountForPitTick is the exact inverse: the first instruction count that reaches a tick', () => {
    for (const t of [0, 1, 2, 3, 100, 11932, 65536, 1193181, 1193182, 1193183, 987654321, 12345678901]) {
      const i = icountForPitTick(t);
      expect(pitTicksAt(i)).toBeGreaterThanOrEqual(t);
      if (i > 0) expect(pitTicksAt(i - 1)).toBeLessThan(t);
    }
  });
});

describe('PIT counting modes', () => {
  it('mode 2 (rate generator): a rising edge of OUT0 every N clocks, counting from the clock after the write', () => {
    const { p, clock, irqs } = pit();
    clock.icount = 500;
    p.write(0x43, 0x34); // ch0, LSB/MSB, mode 2
    p.write(0x40, 11932 & 0xff);
    p.write(0x40, 11932 >> 8);
    const load = pitTicksAt(500) + 1;
    expect(p.nextEventAt).toBe(icountForPitTick(load + 11932));
    expect(clock.asked).toBeGreaterThan(0);
    runUntil(p, clock, 5_000_000);
    expect(irqs).toEqual([1, 2, 3, 4].map((k) => icountForPitTick(load + k * 11932)));
    // ~100 Hz: one IRQ per ~1 000 016 instructions.
    expect(irqs[1]! - irqs[0]!).toBeGreaterThanOrEqual(1_000_015);
    expect(irqs[1]! - irqs[0]!).toBeLessThanOrEqual(1_000_017);
  });

  it('count 0 means 65536 (the BIOS’s 18.2 Hz)', () => {
    const { p, clock, irqs } = pit();
    p.write(0x43, 0x36); // mode 3
    p.write(0x40, 0);
    p.write(0x40, 0);
    runUntil(p, clock, INSTRUCTIONS_PER_SECOND);
    expect(irqs.length).toBe(18); // 1193182 / 65536 = 18.2
    expect(irqs[0]).toBe(icountForPitTick(1 + 65536));
  });

  it('mode 3 (square wave): OUT high for the first half of the period, edges every N clocks', () => {
    const { p, clock, irqs } = pit();
    p.write(0x43, 0x36);
    p.write(0x40, 100);
    p.write(0x40, 0);
    const c = p.counters[0];
    expect(c.outAt(1)).toBe(true);
    expect(c.outAt(1 + 49)).toBe(true);
    expect(c.outAt(1 + 50)).toBe(false);
    expect(c.outAt(1 + 100)).toBe(true);
    runUntil(p, clock, icountForPitTick(1 + 300));
    expect(irqs.length).toBe(3);
  });

  it('mode 0 (interrupt on terminal count): OUT low until the count expires, one edge, then stays high', () => {
    const { p, clock, irqs } = pit();
    p.write(0x43, 0x30);
    expect(p.counters[0].outAt(0)).toBe(false);
    p.write(0x40, 0x10);
    p.write(0x40, 0x00);
    runUntil(p, clock, icountForPitTick(100000));
    expect(irqs).toEqual([icountForPitTick(1 + 16)]);
    expect(p.nextEventAt).toBe(Infinity);
    expect(p.counters[0].outAt(100000)).toBe(true);
  });

  it('mode 2: a count written while counting takes effect at the end of the current period', () => {
    const { p, clock, irqs } = pit();
    p.write(0x43, 0x34);
    p.write(0x40, 100);
    p.write(0x40, 0);
    clock.icount = icountForPitTick(1 + 150); // mid-way through the second period
    p.onTime(clock.icount); // the first edge (at 101) is due
    p.write(0x40, 40);
    p.write(0x40, 0);
    runUntil(p, clock, icountForPitTick(1 + 290));
    // Old period ends at 201; then the new 40-clock periods: 241, 281.
    expect(irqs.map(pitTicksAt)).toEqual([1 + 150, 201, 241, 281]);
  });

  it('modes 1 and 5 wait for a GATE edge that channel 0 never gets', () => {
    const { p } = pit();
    p.write(0x43, 0x32);
    p.write(0x40, 10);
    p.write(0x40, 0);
    expect(p.nextEventAt).toBe(Infinity);
  });

  it('a control word stops the counter until a count is written', () => {
    const { p, clock } = pit();
    p.write(0x43, 0x34);
    p.write(0x40, 10);
    p.write(0x40, 0);
    expect(p.nextEventAt).not.toBe(Infinity);
    clock.icount = 1000;
    p.write(0x43, 0x34);
    expect(p.nextEventAt).toBe(Infinity);
    expect(p.counters[0].nullCount).toBe(true);
  });
});

describe('PIT access modes, latch and read-back', () => {
  it('reads the live count LSB then MSB; the latch command freezes it until both bytes are read', () => {
    const { p, clock } = pit();
    p.write(0x43, 0x34);
    p.write(0x40, 0x00);
    p.write(0x40, 0x10); // 4096
    clock.icount = icountForPitTick(1 + 96);
    expect(readCount16(p)).toBe(4096 - 96);
    p.write(0x43, 0x00); // latch counter 0
    clock.icount = icountForPitTick(1 + 1000);
    expect(readCount16(p)).toBe(4096 - 96);
    expect(readCount16(p)).toBe(4096 - 1000); // latch consumed: live again
  });

  it('LSB-only and MSB-only access modes', () => {
    const { p, clock } = pit();
    p.write(0x43, 0x14); // LSB only, mode 2
    p.write(0x40, 200);
    expect(p.counters[0].period).toBe(200);
    clock.icount = icountForPitTick(1 + 50);
    expect(p.read(0x40)).toBe(150);
    p.write(0x43, 0x24); // MSB only
    p.write(0x40, 0x02);
    expect(p.counters[0].period).toBe(0x200);
  });

  it('the read-back command latches status and count of several counters', () => {
    const { p, clock } = pit();
    p.write(0x43, 0x34);
    p.write(0x40, 0x00);
    p.write(0x40, 0x01); // 256
    p.write(0x43, 0xb6); // ch2, LSB/MSB, mode 3
    p.write(0x42, 0x00);
    p.write(0x42, 0x02);
    clock.icount = icountForPitTick(1 + 10);
    p.write(0x43, 0xc0 | 0x0a); // read-back: count and status of counters 0 and 2
    // Status: OUT, null count, RW, mode, BCD.
    expect(p.read(0x40)).toBe(0x80 | (3 << 4) | (2 << 1));
    expect(readCount16(p)).toBe(246);
    expect(p.read(0x42)).toBe(0x80 | (3 << 4) | (3 << 1));
    expect(readCount16(p, 0x42)).toBe(512 - 20);
    expect(p.read(0x43)).toBe(0xff);
  });

  it('BCD counting: the count is written and read in decimal digits', () => {
    const { p, clock, irqs } = pit();
    p.write(0x43, 0x35); // mode 2, BCD
    p.write(0x40, 0x00);
    p.write(0x40, 0x10); // 1000 decimal
    clock.icount = icountForPitTick(1 + 1);
    expect(readCount16(p)).toBe(0x0999);
    runUntil(p, clock, icountForPitTick(1 + 2000));
    expect(irqs.map(pitTicksAt)).toEqual([1001, 2001]);
  });
});

/** The timer's handler (every IDT vector of the oracle machine points at it): count at 0x6000, EOI, IRET. */
function countingHandler(): Uint8Array {
  return assemble(`
    inc dword ptr [0x6000]
    mov al, 0x20
    out 0x20, al
  `, { base: LAYOUT.handler });
}

/**
 * The 8259 initialized (ICW1-ICW4: IRQ0-7 at vectors 0x20-0x27, all but IRQ0 masked), PIT channel 0 in
 * mode 2 with `divisor` (low byte, high byte), STI, then `loop` as the body of a loop at label 1, then CLI, HLT.
 */
function timerProgram(divisor: number, loop: string): Uint8Array {
  return assemble(`
    mov al, 0x11
    out 0x20, al
    mov al, 0x20
    out 0x21, al
    mov al, 0x04
    out 0x21, al
    mov al, 0x01
    out 0x21, al
    mov al, 0xfe
    out 0x21, al
    mov al, 0x34
    out 0x43, al
    mov al, ${divisor & 0xff}
    out 0x40, al
    mov al, ${divisor >>> 8}
    out 0x40, al
    sti
  1:
    ${loop}
    cli
    hlt
  `, { base: LAYOUT.code });
}

describe('IRQ0 through the 8259 and the IDT', () => {
  it('delivers timer interrupts to a handler at CPL 0, one per period, and HLT waits for them', () => {
    const cpu = tableMachine(timerProgram(11932, `
      hlt
      cmp dword ptr [0x6000], 5
      jb 1b
    `), countingHandler());
    const { pit: timer, pic } = attachPcDevices(cpu, () => {});
    const deliveries: { vector: number; icount: number; cpl: number }[] = [];
    cpu.observer = { onException: (ev) => deliveries.push({ vector: ev.vector, icount: cpu.icount, cpl: ev.cplAfter }) };
    const stop = cpu.run(20_000_000);
    expect(stop?.kind).toBe('halted');
    expect(cpu.read32(0x6000)).toBe(5);
    expect(deliveries.map((d) => d.vector)).toEqual([0x20, 0x20, 0x20, 0x20, 0x20]);
    expect(deliveries.every((d) => d.cpl === 0)).toBe(true);
    expect(timer.irqCount).toBe(5);
    expect(pic.master.isr).toBe(0);
    for (let k = 1; k < deliveries.length; k++) {
      const gap = deliveries[k]!.icount - deliveries[k - 1]!.icount;
      expect(gap).toBeGreaterThanOrEqual(1_000_015);
      expect(gap).toBeLessThanOrEqual(1_000_017);
    }
    // The CPU sat in HLT for almost all of it: the run took 5 periods of simulated time.
    expect(cpu.icount).toBeGreaterThan(5_000_000);
  });

  it('runs the same way twice (time is the instruction count)', () => {
    const code = timerProgram(100, `
      inc ecx
      cmp dword ptr [0x6000], 50
      jb 1b
    `);
    const handler = countingHandler();
    const once = (): [number, number] => {
      const cpu = tableMachine(code, handler);
      attachPcDevices(cpu, () => {});
      cpu.run(10_000_000);
      return [cpu.icount, cpu.regs[1]!];
    };
    expect(once()).toEqual(once());
  });
});
