/**
 * The 8259A pair (src/devices/pic8259.ts): initialization words, masking,
 * EOI, priority, cascade, edge triggering, poll, AEOI, rotation — each
 * checked against the behaviour the 8259A datasheet describes — and the
 * same controller driven by real OUT instructions through the CPU's ports.
 */
import { describe, expect, it } from 'vitest';
import { PicPair } from '../../src/devices/pic8259.js';
import { attachPcDevices } from '../../src/devices/pc.js';
import { runSnippet } from '../helpers/asm.js';

/** A pair initialized like a PC kernel does: master 0x20, slave 0x28, cascade on IR2, 8086 mode, all unmasked. */
function pair(): { pic: PicPair; attention: { n: number } } {
  const attention = { n: 0 };
  const pic = new PicPair({ requestAttention: () => attention.n++ });
  const init = [[0x20, 0x11], [0xa0, 0x11], [0x21, 0x20], [0xa1, 0x28], [0x21, 0x04], [0xa1, 0x02], [0x21, 0x01], [0xa1, 0x01], [0x21, 0x00], [0xa1, 0x00]];
  for (const [p, v] of init) pic.write(p!, v!);
  return { pic, attention };
}

describe('8259A initialization (ICW1–ICW4)', () => {
  it('takes ICW2 as the vector base (low three bits ignored) and ICW3 as the cascade map', () => {
    const pic = new PicPair();
    pic.write(0x20, 0x11); // ICW1: edge, cascade, ICW4
    pic.write(0x21, 0x27); // ICW2: T7–T3 = 0x20
    pic.write(0x21, 0x04); // ICW3
    pic.write(0x21, 0x01); // ICW4
    expect(pic.master.vectorBase).toBe(0x20);
    expect(pic.master.icw3).toBe(0x04);
    expect(pic.master.initStep).toBe(0);
    // The next data write is OCW1.
    pic.write(0x21, 0xa5);
    expect(pic.read(0x21)).toBe(0xa5);
  });

  it('skips ICW3 in single mode and ICW4 when IC4 is clear', () => {
    const pic = new PicPair();
    pic.write(0x20, 0x12); // SNGL, no IC4
    pic.write(0x21, 0x40); // ICW2
    expect(pic.master.initStep).toBe(0);
    pic.write(0x21, 0x33); // OCW1
    expect(pic.master.imr).toBe(0x33);
    expect(pic.master.vectorBase).toBe(0x40);
  });

  it('ICW1 clears IMR, ISR and IRR and selects IRR for OCW3 reads', () => {
    const { pic } = pair();
    pic.write(0x21, 0xff);
    pic.master.imr = 0;
    pic.pulseIrq(1);
    pic.acknowledge();
    pic.pulseIrq(3);
    pic.write(0x20, 0x0b); // OCW3: read ISR
    expect(pic.read(0x20)).toBe(0x02);
    pic.write(0x20, 0x11);
    expect(pic.master.isr).toBe(0);
    expect(pic.master.irr & ~4).toBe(0);
    expect(pic.master.imr).toBe(0);
    expect(pic.master.readIsr).toBe(false);
  });

  it('needs a new rising edge after ICW1 for a line that was already high', () => {
    const { pic } = pair();
    pic.setIrq(5, true);
    expect(pic.intr()).toBe(true);
    for (const [p, v] of [[0x20, 0x11], [0x21, 0x20], [0x21, 0x04], [0x21, 0x01], [0x21, 0x00]]) pic.write(p!, v!);
    expect(pic.intr()).toBe(false); // still high, but no edge since the edge-sense latch was reset
    pic.setIrq(5, false);
    pic.setIrq(5, true);
    expect(pic.intr()).toBe(true);
    expect(pic.acknowledge()).toBe(0x25);
  });

  it('initLikeBios leaves vectors 0x08/0x70, the cascade and only IR2 unmasked', () => {
    const pic = new PicPair();
    pic.initLikeBios();
    expect(pic.master.vectorBase).toBe(0x08);
    expect(pic.slave.vectorBase).toBe(0x70);
    expect(pic.read(0x21)).toBe(0xfb);
    expect(pic.read(0xa1)).toBe(0xff);
    pic.pulseIrq(0);
    expect(pic.intr()).toBe(false);
  });
});

describe('8259A requests, masks and priority', () => {
  it('latches an edge; the request survives the line dropping; holding it high does not repeat it', () => {
    const { pic } = pair();
    pic.setIrq(4, true);
    pic.setIrq(4, false);
    expect(pic.master.irr & 0x10).toBe(0x10);
    expect(pic.acknowledge()).toBe(0x24);
    pic.write(0x20, 0x20); // EOI
    pic.setIrq(4, true);
    expect(pic.acknowledge()).toBe(0x24);
    pic.write(0x20, 0x20);
    expect(pic.intr()).toBe(false); // still high: no new edge
  });

  it('level-triggered mode (ICW1.LTIM) follows the line', () => {
    const pic = new PicPair();
    for (const [p, v] of [[0x20, 0x19], [0x21, 0x20], [0x21, 0x04], [0x21, 0x01], [0x21, 0x00]]) pic.write(p!, v!);
    pic.setIrq(6, true);
    expect(pic.intr()).toBe(true);
    pic.setIrq(6, false);
    expect(pic.intr()).toBe(false);
  });

  it('OCW1 masks a request without losing it, and unmasking asks the CPU to look', () => {
    const { pic, attention } = pair();
    pic.write(0x21, 0x08);
    pic.pulseIrq(3);
    expect(pic.intr()).toBe(false);
    const before = attention.n;
    pic.write(0x21, 0x00);
    expect(pic.intr()).toBe(true);
    expect(attention.n).toBeGreaterThan(before);
    expect(pic.acknowledge()).toBe(0x23);
  });

  it('presents the highest priority first (IR0 highest) and blocks equal and lower priorities while in service', () => {
    const { pic } = pair();
    pic.pulseIrq(3);
    pic.pulseIrq(1);
    expect(pic.acknowledge()).toBe(0x21);
    expect(pic.intr()).toBe(false); // IR3 waits behind IR1 in service
    pic.pulseIrq(0);
    expect(pic.intr()).toBe(true); // IR0 has higher priority: nests
    expect(pic.acknowledge()).toBe(0x20);
    expect(pic.master.isr).toBe(0x03);
    pic.write(0x20, 0x20); // non-specific EOI: ends IR0, the highest in service
    expect(pic.master.isr).toBe(0x02);
    expect(pic.intr()).toBe(false);
    pic.write(0x20, 0x20);
    expect(pic.acknowledge()).toBe(0x23);
  });

  it('specific EOI ends the named level only', () => {
    const { pic } = pair();
    pic.pulseIrq(5);
    pic.acknowledge();
    pic.pulseIrq(2 - 2); // IR0
    pic.acknowledge();
    expect(pic.master.isr).toBe(0x21);
    pic.write(0x20, 0x65); // specific EOI, level 5
    expect(pic.master.isr).toBe(0x01);
  });

  it('OCW3 reads IRR and ISR', () => {
    const { pic } = pair();
    pic.pulseIrq(6);
    pic.pulseIrq(7);
    pic.acknowledge();
    pic.write(0x20, 0x0a); // read IRR
    expect(pic.read(0x20)).toBe(0x80);
    pic.write(0x20, 0x0b); // read ISR
    expect(pic.read(0x20)).toBe(0x40);
    expect(pic.read(0x20)).toBe(0x40); // the selection persists
  });

  it('answers a spurious acknowledge with IR7 and sets no ISR bit', () => {
    const { pic } = pair();
    expect(pic.acknowledge()).toBe(0x27);
    expect(pic.master.isr).toBe(0);
    expect(pic.lastAckIrq).toBe(-1);
  });

  it('automatic EOI leaves nothing in service', () => {
    const pic = new PicPair();
    for (const [p, v] of [[0x20, 0x13], [0x21, 0x30], [0x21, 0x03], [0x21, 0x00]]) pic.write(p!, v!);
    pic.pulseIrq(2);
    expect(pic.acknowledge()).toBe(0x32);
    expect(pic.master.isr).toBe(0);
    pic.pulseIrq(2);
    expect(pic.intr()).toBe(true);
  });

  it('the poll command acknowledges through a read of the command port', () => {
    const { pic } = pair();
    pic.pulseIrq(6);
    pic.write(0x20, 0x0c); // OCW3 with P
    expect(pic.read(0x20)).toBe(0x86);
    expect(pic.master.isr).toBe(0x40);
    pic.write(0x20, 0x0c);
    expect(pic.read(0x20)).toBe(0x00); // nothing pending
  });

  it('rotation: set priority makes the named level the lowest; rotate on EOI moves it', () => {
    const { pic } = pair();
    pic.write(0x20, 0xc4); // set priority: IR4 lowest, so IR5 highest
    pic.pulseIrq(1);
    pic.pulseIrq(6);
    expect(pic.acknowledge()).toBe(0x26);
    pic.write(0x20, 0xa0); // rotate on non-specific EOI: IR6 becomes the lowest
    expect(pic.master.priorityAdd).toBe(7);
    expect(pic.acknowledge()).toBe(0x21);
  });

  it('special mask mode lets lower priorities through while a masked level is in service', () => {
    const { pic } = pair();
    pic.pulseIrq(1);
    pic.acknowledge();
    pic.pulseIrq(4);
    expect(pic.intr()).toBe(false);
    pic.write(0x21, 0x02); // mask IR1 (in service)
    pic.write(0x20, 0x68); // OCW3: set special mask mode
    expect(pic.intr()).toBe(true);
    expect(pic.acknowledge()).toBe(0x24);
  });
});

describe('8259A cascade', () => {
  it('a slave request comes through master IR2 with the slave’s vector; both chips mark it in service', () => {
    const { pic } = pair();
    pic.pulseIrq(10);
    expect(pic.intr()).toBe(true);
    expect(pic.acknowledge()).toBe(0x2a);
    expect(pic.lastAckIrq).toBe(10);
    expect(pic.master.isr).toBe(0x04);
    expect(pic.slave.isr).toBe(0x04);
    pic.write(0xa0, 0x20);
    pic.write(0x20, 0x20);
    expect(pic.master.isr | pic.slave.isr).toBe(0);
  });

  it('slave requests rank at IR2: above master IR3, below master IR1', () => {
    const { pic } = pair();
    pic.pulseIrq(3);
    pic.pulseIrq(14);
    pic.pulseIrq(1);
    expect(pic.acknowledge()).toBe(0x21);
    pic.write(0x20, 0x20);
    expect(pic.acknowledge()).toBe(0x2e);
    pic.write(0xa0, 0x20);
    pic.write(0x20, 0x20);
    expect(pic.acknowledge()).toBe(0x23);
  });

  it('a second slave request waits for the slave’s EOI, then is not lost', () => {
    const { pic } = pair();
    pic.pulseIrq(8);
    pic.pulseIrq(12);
    expect(pic.acknowledge()).toBe(0x28);
    pic.write(0x20, 0x20); // master EOI first
    expect(pic.intr()).toBe(false); // IR12 is lower than IR8, still in service on the slave
    pic.write(0xa0, 0x20);
    expect(pic.intr()).toBe(true);
    expect(pic.acknowledge()).toBe(0x2c);
  });

  it('masking IR2 on the master masks every slave line', () => {
    const { pic } = pair();
    pic.write(0x21, 0x04);
    pic.pulseIrq(9);
    expect(pic.intr()).toBe(false);
    pic.write(0x21, 0x00);
    expect(pic.acknowledge()).toBe(0x29);
  });
});

describe('8259A through the CPU’s I/O ports', () => {
  it('initializes and reads back through OUT/IN, including a 16-bit OUT split over 0x20/0x21', () => {
    let pic: PicPair | null = null;
    const { cpu, stop } = runSnippet(
      `mov ax, 0x3011      # one OUTW: ICW1 (0x11) to 0x20, ICW2 (0x30) to 0x21
       out 0x20, ax
       mov al, 0x04
       out 0x21, al
       mov al, 0x01
       out 0x21, al
       mov al, 0x5a
       out 0x21, al
       in al, 0x21
       mov bl, al
       hlt`,
      (c) => {
        pic = attachPcDevices(c, () => {}, { rawPic: true }).pic;
      },
    );
    expect(stop?.kind).toBe('halted');
    expect(pic!.master.vectorBase).toBe(0x30);
    expect(pic!.master.icw3).toBe(0x04);
    expect(cpu.regs[3]! & 0xff).toBe(0x5a);
  });
});
