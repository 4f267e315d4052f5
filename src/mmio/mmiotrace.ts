/**
 * Linux's mmiotrace log (Documentation/trace/mmiotrace.rst; the lines of
 * kernel/trace/trace_mmiotrace.c), format version 20070824:
 *
 *   VERSION 20070824
 *   MAP <time> <map id> 0x<phys> 0x<virt> 0x<len> 0x0 0
 *   R <width> <time> <map id> 0x<phys> 0x<value> 0x<pc> 0
 *   W <width> <time> <map id> 0x<phys> 0x<value> 0x<pc> 0
 *   UNMAP <time> <map id> 0x0 0
 *   MARK <time> <text>
 *
 * `width` is in bytes; `time` is seconds and microseconds (`%lu.%06lu`)
 * of kmemsim's virtual clock (1 s per 10^8 instructions, src/linux/clock.ts);
 * the last field, Linux's PID slot, is 0 as Linux has printed it since
 * 2.6.28. Map ids count ioremap() calls from 1. No PCIDEV lines: kmemsim
 * has no PCI bus (the virtual devices are at fixed physical addresses).
 */

export const MMIOTRACE_VERSION = '20070824';

export class MmioTrace {
  constructor(private readonly sink: (text: string) => void, private readonly nowNs: () => number) {
    sink(`VERSION ${MMIOTRACE_VERSION}\n`);
  }

  private lastUs = 0;

  /** The clock in µs, never going back (inside a fault the instruction count is that of the instruction not yet retired). */
  private time(): string {
    const us = (this.lastUs = Math.max(this.lastUs, Math.floor(this.nowNs() / 1000)));
    return `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;
  }

  map(id: number, phys: number, virt: number, len: number): void {
    this.sink(`MAP ${this.time()} ${id} 0x${hex(phys)} 0x${hex(virt)} 0x${hex(len)} 0x0 0\n`);
  }

  unmap(id: number): void {
    this.sink(`UNMAP ${this.time()} ${id} 0x0 0\n`);
  }

  access(write: boolean, width: number, id: number, phys: number, value: number, pc: number): void {
    this.sink(`${write ? 'W' : 'R'} ${width} ${this.time()} ${id} 0x${hex(phys)} 0x${hex(value)} 0x${hex(pc)} 0\n`);
  }

  /** A marker (mmiotrace_printk(), Linux's trace_marker): the text ends with a newline, as Linux's do. */
  mark(text: string): void {
    this.sink(`MARK ${this.time()} ${text.endsWith('\n') ? text : text + '\n'}`);
  }
}

const hex = (v: number): string => (v >>> 0).toString(16);
