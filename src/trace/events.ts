/**
 * `--trace-events`: one line per exception or interrupt the CPU delivers,
 * written as the event happens, e.g.
 *
 *   [icount 1234] #PF(14) err=0x0006 eip=0x08049012 cpl 3->0 stack 007b:bfffefe0 -> 0068:c000bff0 cr2=0x0804c000
 *   [icount 1240] int 0x80 err=- eip=0x0804901a cpl 3->0 stack 007b:bfffefd0 -> 0068:c000bff0
 *   [icount 99051] irq 0 vec 0x20 err=- eip=0x0010004c cpl 0->0 stack 0010:00107fe4 (no switch)
 *
 * Fields: the retired-instruction count when the event was delivered (see
 * the README on its precision inside a basic block); what was delivered —
 * `#XX(n)` for an exception, `int` and the vector for INT n / INT3 / INTO,
 * `irq N vec V` for an external interrupt from the 8259 pair, `vec V`
 * otherwise; the error code pushed, or `-`; the EIP saved in the frame
 * (the faulting instruction for a fault, the next one for a trap or
 * interrupt); the privilege level before and after; the stack the frame
 * was pushed on — old SS:ESP -> new SS:ESP when the level changed (the new
 * stack comes from the TSS), the unchanged SS:ESP and `(no switch)`
 * otherwise; CR2 for a page fault.
 *
 * It is built on the CPU's observer (`CpuObserver.onException`), which
 * costs nothing when no tracer is attached.
 */
import type { CPU, CpuObserver, ExceptionEvent } from '../cpu/cpu.js';
import { Vec, vectorName } from '../cpu/stop.js';

/** Tells an external interrupt from an exception: the 8259 pair's last INTA (src/devices/pic8259.ts). */
export interface IrqSource {
  readonly ackSeq: number;
  readonly lastAckIrq: number;
  readonly lastAckVector: number;
}

const h8 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
const h4 = (v: number): string => (v & 0xffff).toString(16).padStart(4, '0');
const hx = (v: number): string => '0x' + (v >>> 0).toString(16);

/** "#PF" from "#PF page fault"; "NMI"; "vec 0x30" for vectors without a name. */
export function shortVectorName(v: number): string {
  const name = vectorName(v);
  return name.startsWith('vector ') ? `vec ${hx(v)}` : name.split(' ')[0]!;
}

/**
 * One trace line. `irq` is the IRQ line (0–15) when the event is an
 * external interrupt, -2 for a spurious one, null otherwise.
 */
export function formatEvent(ev: ExceptionEvent, icount: number, irq: number | null = null): string {
  let what: string;
  if (ev.software) what = ev.vector < 32 && !shortVectorName(ev.vector).startsWith('vec') ? `int ${shortVectorName(ev.vector)}(${ev.vector})` : `int ${hx(ev.vector)}`;
  else if (irq !== null) what = irq >= 0 ? `irq ${irq} vec ${hx(ev.vector)}` : `spurious irq vec ${hx(ev.vector)}`;
  else if (ev.vector < 32) {
    const n = shortVectorName(ev.vector);
    what = n.startsWith('vec') ? `exception ${ev.vector}` : `${n}(${ev.vector})`;
  } else what = `vec ${hx(ev.vector)}`;
  const err = ev.errorCode === null ? '-' : '0x' + (ev.errorCode >>> 0).toString(16).padStart(4, '0');
  const [oss, oesp] = ev.oldStack;
  const [nss, nesp] = ev.newStack;
  const stack = ev.cplBefore === ev.cplAfter
    ? `${h4(oss)}:${h8(oesp)} (no switch)`
    : `${h4(oss)}:${h8(oesp)} -> ${h4(nss)}:${h8(nesp)}`;
  let line = `[icount ${icount}] ${what} err=${err} eip=0x${h8(ev.eip)} cpl ${ev.cplBefore}->${ev.cplAfter} stack ${stack}`;
  if (ev.vector === Vec.PF && !ev.software && irq === null) line += ` cr2=0x${h8(ev.cr2)}`;
  return line;
}

/**
 * An observer that writes one line per delivered event to `write`. Chains
 * to an observer already on the CPU, so it can be combined with others.
 */
export function eventTracer(cpu: CPU, write: (line: string) => void, irqs: IrqSource | null = null): CpuObserver {
  const previous = cpu.observer;
  let seenAck = irqs?.ackSeq ?? 0;
  return {
    onException(ev: ExceptionEvent): void {
      let irq: number | null = null;
      if (irqs !== null && irqs.ackSeq !== seenAck) {
        // An INTA happened since the last event: this delivery is that interrupt, unless delivering it
        // faulted (a bad gate): then the event is the fault, with another vector, and is shown as such.
        seenAck = irqs.ackSeq;
        if (ev.external && ev.vector === irqs.lastAckVector) irq = irqs.lastAckIrq >= 0 ? irqs.lastAckIrq : -2;
      }
      write(formatEvent(ev, cpu.icount, irq));
      previous?.onException?.(ev);
    },
  };
}

/** Attach the tracer to `cpu` (cpu.observer). */
export function attachEventTrace(cpu: CPU, write: (line: string) => void, irqs: IrqSource | null = null): CpuObserver {
  const obs = eventTracer(cpu, write, irqs);
  cpu.observer = obs;
  return obs;
}
