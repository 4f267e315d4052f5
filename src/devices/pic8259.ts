/**
 * The PC/AT pair of Intel 8259A programmable interrupt controllers: the
 * master at ports 0x20/0x21 and the slave at 0xA0/0xA1, the slave's INT
 * output wired to the master's IR2 ("cascade"). Together they drive the
 * CPU's INTR line and answer the interrupt-acknowledge cycle with a vector
 * (the CPU's `InterruptController` interface, src/cpu/cpu.ts).
 *
 * What is modelled, after the 8259A datasheet (Intel order no. 231468):
 *
 * - Initialization: a write with D4=1 to the command port is ICW1 and
 *   starts the sequence ICW2 (vector base, T7–T3; the low three bits come
 *   from the IR number), ICW3 (only when ICW1.SNGL=0: on the master the
 *   inputs that have slaves, on a slave its cascade identity) and ICW4
 *   (only when ICW1.IC4=1: AEOI, SFNM, buffered mode). ICW1 clears the IMR,
 *   the ISR and the IRR, resets the rotation so IR0 has the highest
 *   priority and selects the IRR for OCW3 reads. Because the edge-sense
 *   latch is reset too, an input that is already high must go low and high
 *   again before it is seen (datasheet, "Initialization Command Words").
 * - OCW1 (data port, after initialization): the interrupt mask register;
 *   reading the data port returns it.
 * - OCW2 (command port, D4=D3=0): non-specific EOI, specific EOI, rotate on
 *   (non-)specific EOI, rotate in automatic-EOI mode, set priority.
 * - OCW3 (command port, D4=0 D3=1): read IRR / read ISR on the next read of
 *   the command port, the poll command, special mask mode.
 * - Priority resolution: fully nested, IR0 highest unless rotated; an
 *   in-service interrupt blocks requests of equal and lower priority (in
 *   special mask mode only unmasked in-service levels block). With SFNM on
 *   the master, a slave request is not blocked by the master's IR2 being in
 *   service.
 * - Edge-triggered requests (the PC/AT configuration): a rising edge on an
 *   IR input sets its IRR bit, which stays set until the request is
 *   acknowledged — even if the input drops first (as QEMU's i8259 does; a
 *   real 8259A would then answer with a spurious IR7). ICW1.LTIM selects
 *   level-triggered inputs, where the IRR bit follows the input.
 * - The cascade: the master's IR2 follows the slave's INT output as a
 *   level, so a second slave request is never lost between acknowledging
 *   the first one and its EOI. During INTA the master supplies the vector
 *   unless the acknowledged input is marked in ICW3 as having a slave, in
 *   which case the slave supplies it.
 * - A spurious acknowledge (nothing left to acknowledge) answers IR7's
 *   vector without setting its ISR bit, as the datasheet describes.
 *
 * Not modelled: MCS-80/85 mode (ICW4.µPM=0 is treated as 8086 mode, since
 * an IA-32 processor can only use 8086 mode), buffered mode (no effect on a
 * simulated bus), the ELCR edge/level register of later chipsets.
 *
 * Whenever INTR may have become asserted (a request latched, the mask or
 * the in-service register changed) the controller calls
 * `cpu.requestAttention()` so the CPU looks at it before its next block.
 */
import type { InterruptController } from '../cpu/cpu.js';

/** What the PIC needs from the CPU: a way to say "look at INTR now". */
export interface AttentionSink {
  requestAttention(): void;
}

/** One 8259A. */
export class Pic8259 {
  /** Interrupt request register: latched requests. */
  irr = 0;
  /** Interrupt mask register (OCW1). */
  imr = 0;
  /** In-service register. */
  isr = 0;
  /** Current level of each IR input, for edge detection. */
  lineLevel = 0;
  /** ICW2 & 0xF8. */
  vectorBase = 0;
  /** ICW3: master — inputs with a slave; slave — its identity. */
  icw3 = 0;
  /** Rotation: the IR number that currently has the highest priority. */
  priorityAdd = 0;
  /** 0 = operational; 2, 3, 4 = waiting for that ICW. */
  initStep = 0;
  needIcw4 = false;
  single = false;
  levelTriggered = false;
  autoEoi = false;
  rotateOnAutoEoi = false;
  specialFullyNested = false;
  specialMask = false;
  /** OCW3 RR/RIS: the command port reads the ISR (true) or the IRR (false). */
  readIsr = false;
  /** OCW3 P: the next command-port read is a poll. */
  poll = false;
  /** Raw ICW4 (for inspection). */
  icw4 = 0;

  constructor(readonly isMaster: boolean) {}

  /** Rank of the highest-priority bit of `mask` (0 = highest), 8 when none. */
  priorityOf(mask: number): number {
    if ((mask & 0xff) === 0) return 8;
    let p = 0;
    while (!(mask & (1 << ((p + this.priorityAdd) & 7)))) p++;
    return p;
  }

  /** The IR this chip would present now (unmasked, not blocked by one in service), or -1. */
  pending(): number {
    const req = this.irr & ~this.imr & 0xff;
    const p = this.priorityOf(req);
    if (p === 8) return -1;
    let inService = this.isr;
    if (this.specialMask) inService &= ~this.imr;
    // SFNM: the master lets a higher-priority request from the slave through while IR2 is in service.
    if (this.specialFullyNested && this.isMaster) inService &= ~this.icw3;
    return p < this.priorityOf(inService) ? (p + this.priorityAdd) & 7 : -1;
  }

  /** Drive IR input `irq` to `high`. Returns true when a request was latched. */
  setLine(irq: number, high: boolean): boolean {
    const bit = 1 << irq;
    const was = (this.lineLevel & bit) !== 0;
    if (high) this.lineLevel |= bit;
    else this.lineLevel &= ~bit;
    if (this.levelTriggered) {
      if (high) this.irr |= bit;
      else this.irr &= ~bit;
      return high;
    }
    if (high && !was) {
      this.irr |= bit;
      return true;
    }
    return false;
  }

  /** INTA for `irq`: the request moves to in service (or is ended at once in AEOI mode). */
  acknowledge(irq: number): void {
    const bit = 1 << irq;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (irq + 1) & 7;
    } else {
      this.isr |= bit;
    }
    if (!this.levelTriggered) this.irr &= ~bit;
  }

  /** Write to the command port (A0=0): ICW1, OCW2 or OCW3. */
  writeCommand(v: number): void {
    v &= 0xff;
    if (v & 0x10) {
      // ICW1
      this.irr = 0;
      this.isr = 0;
      this.imr = 0;
      this.priorityAdd = 0;
      this.readIsr = false;
      this.poll = false;
      this.specialMask = false;
      this.autoEoi = false;
      this.rotateOnAutoEoi = false;
      this.specialFullyNested = false;
      this.icw4 = 0;
      this.needIcw4 = (v & 1) !== 0;
      this.single = (v & 2) !== 0;
      this.levelTriggered = (v & 8) !== 0;
      if (this.levelTriggered) this.irr = this.lineLevel;
      this.initStep = 2;
      return;
    }
    if (v & 0x08) {
      // OCW3
      if (v & 0x04) this.poll = true;
      if (v & 0x02) this.readIsr = (v & 1) !== 0;
      if (v & 0x40) this.specialMask = (v & 0x20) !== 0;
      return;
    }
    // OCW2: R SL EOI in bits 7:5, level in bits 2:0.
    const level = v & 7;
    switch (v >> 5) {
      case 0: this.rotateOnAutoEoi = false; break;
      case 4: this.rotateOnAutoEoi = true; break;
      case 1: // non-specific EOI
      case 5: { // rotate on non-specific EOI
        const p = this.priorityOf(this.isr);
        if (p !== 8) {
          const irq = (p + this.priorityAdd) & 7;
          this.isr &= ~(1 << irq);
          if (v >> 5 === 5) this.priorityAdd = (irq + 1) & 7;
        }
        break;
      }
      case 3: this.isr &= ~(1 << level); break; // specific EOI
      case 7: // rotate on specific EOI
        this.isr &= ~(1 << level);
        this.priorityAdd = (level + 1) & 7;
        break;
      case 6: this.priorityAdd = (level + 1) & 7; break; // set priority: `level` becomes the lowest
      default: break; // 2: no operation
    }
  }

  /** Write to the data port (A0=1): ICW2–ICW4 during initialization, else OCW1. */
  writeData(v: number): void {
    v &= 0xff;
    switch (this.initStep) {
      case 2:
        this.vectorBase = v & 0xf8;
        this.initStep = this.single ? (this.needIcw4 ? 4 : 0) : 3;
        return;
      case 3:
        this.icw3 = v;
        this.initStep = this.needIcw4 ? 4 : 0;
        return;
      case 4:
        this.icw4 = v;
        this.autoEoi = (v & 2) !== 0;
        this.specialFullyNested = (v & 0x10) !== 0;
        this.initStep = 0;
        return;
      default:
        this.imr = v;
    }
  }

  /** Read of the command port: IRR or ISR (OCW3), or the poll word. */
  readCommand(): number {
    if (this.poll) {
      this.poll = false;
      const irq = this.pending();
      if (irq < 0) return 0;
      this.acknowledge(irq);
      return 0x80 | irq;
    }
    return this.readIsr ? this.isr : this.irr;
  }
}

/** Master + slave, as wired on every PC since the AT. */
export class PicPair implements InterruptController {
  readonly master = new Pic8259(true);
  readonly slave = new Pic8259(false);
  /**
   * The last interrupt-acknowledge cycle: `ackSeq` counts them, so a tracer
   * can tell that the event the CPU delivers next is this external
   * interrupt: IRQ `lastAckIrq` (0–15, or -1 for a spurious acknowledge)
   * with vector `lastAckVector`.
   */
  ackSeq = 0;
  lastAckIrq = -1;
  lastAckVector = -1;

  constructor(private readonly cpu: AttentionSink | null = null) {}

  /**
   * Put the pair in the state a PC BIOS leaves it in before it boots an
   * operating system: master vectors 0x08–0x0F, slave 0x70–0x77, the slave
   * on IR2, 8086 mode, every line masked except the cascade. Done through
   * the same ICW/OCW writes the BIOS makes.
   */
  initLikeBios(): void {
    this.write(0x20, 0x11);
    this.write(0x21, 0x08);
    this.write(0x21, 0x04);
    this.write(0x21, 0x01);
    this.write(0xa0, 0x11);
    this.write(0xa1, 0x70);
    this.write(0xa1, 0x02);
    this.write(0xa1, 0x01);
    this.write(0x21, 0xfb);
    this.write(0xa1, 0xff);
  }

  /** Drive IRQ line 0–15 (8–15 are the slave's IR0–IR7). */
  setIrq(irq: number, high: boolean): void {
    const chip = irq < 8 ? this.master : this.slave;
    if (chip.setLine(irq & 7, high) || chip.levelTriggered) this.update();
  }

  /** A rising then falling edge: how an edge-triggered source (the 8254's OUT0) requests an interrupt. */
  pulseIrq(irq: number): void {
    this.setIrq(irq, true);
    this.setIrq(irq, false);
  }

  /** The slave's INT output: it has a request it would present. */
  private slaveOutput(): boolean {
    return this.slave.pending() >= 0;
  }

  /** Recompute the cascade input and tell the CPU when INTR is asserted. */
  private update(): void {
    // IR2 of the master follows the slave's INT output as a level.
    if (this.slaveOutput()) this.master.irr |= 4;
    else if (!(this.master.lineLevel & 4)) this.master.irr &= ~4;
    if (this.cpu !== null && this.intr()) this.cpu.requestAttention();
  }

  intr(): boolean {
    return this.master.pending() >= 0;
  }

  /** The INTA cycle: returns the vector and moves the request to in service. */
  acknowledge(): number {
    const m = this.master;
    const irq = m.pending();
    let vector: number;
    let line: number;
    if (irq < 0) {
      // Spurious: the request went away. IR7's vector, ISR untouched.
      vector = m.vectorBase | 7;
      line = -1;
    } else {
      m.acknowledge(irq);
      if (!m.single && m.icw3 & (1 << irq)) {
        // A slave is on this input: it supplies the vector.
        const s = this.slave;
        const sirq = s.pending();
        if (sirq < 0) {
          vector = s.vectorBase | 7;
          line = -1;
        } else {
          s.acknowledge(sirq);
          vector = s.vectorBase | sirq;
          line = 8 + sirq;
        }
      } else {
        vector = m.vectorBase | irq;
        line = irq;
      }
    }
    this.ackSeq++;
    this.lastAckIrq = line;
    this.lastAckVector = vector;
    this.update();
    return vector;
  }

  /** Byte read of 0x20, 0x21, 0xA0 or 0xA1. */
  read(port: number): number {
    const chip = port & 0x80 ? this.slave : this.master;
    let v: number;
    if (port & 1) v = chip.imr;
    else {
      const wasPoll = chip.poll;
      v = chip.readCommand();
      if (wasPoll) this.update();
    }
    return v & 0xff;
  }

  /** Byte write of 0x20, 0x21, 0xA0 or 0xA1. */
  write(port: number, value: number): void {
    const chip = port & 0x80 ? this.slave : this.master;
    if (port & 1) chip.writeData(value);
    else chip.writeCommand(value);
    this.update();
  }
}
