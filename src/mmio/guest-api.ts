/**
 * The MMIO calls modules make (include/kmemsim/kernel.h), exported by the
 * kernel, -mregparm=3:
 *
 * | symbol | C prototype | arguments |
 * | --- | --- | --- |
 * | ioremap | `void __iomem *ioremap(unsigned long phys, unsigned long size)` | EAX, EDX |
 * | iounmap | `void iounmap(volatile void __iomem *addr)` | EAX |
 * | mmiotrace_printk | `int mmiotrace_printk(const char *fmt, ...)` (Linux's, include/linux/mmiotrace.h) | stack |
 * | request_irq | `int request_irq(unsigned int irq, irq_handler_t handler, unsigned long flags, const char *name, void *dev)` (<linux/interrupt.h>) | EAX, EDX, ECX, [ESP+4], [ESP+8] |
 * | free_irq | `const void *free_irq(unsigned int irq, void *dev_id)` | EAX, EDX |
 *
 * readb/readw/readl, writeb/writew/writel, ioread32/iowrite32 are inline
 * functions in the header (a volatile load or store, as Linux's are), so
 * they reach the device the way any pointer access does.
 *
 * Every module run has the same virtual board (BOARD below): the example
 * counter device (its interrupt on line COUNTER_IRQ, ./irq.ts) and pass-through windows onto a 16550 UART and an 8254
 * PIT. The pass-through logs each port access on the kernel console at
 * KERN_DEBUG; what the UART transmits is printed as `ttyS0:` lines.
 */
import type { CPU } from '../cpu/cpu.js';
import type { Kernel } from '../kernel/kernel.js';
import type { KernelApi } from '../kernel/kapi.js';
import { GuestVarArgs, guestFormatEnv, readGuestString, vsprintf, MAX_STRING } from '../kernel/printk.js';
import { SS } from '../cpu/instr.js';
import { Clock } from '../linux/clock.js';
import { CounterDevice, PitPassThrough, UartPassThrough } from './device.js';
import { MmioBus } from './mmio.js';
import { MmioTrace } from './mmiotrace.js';
import { IrqLines } from './irq.js';
import { ProcessDevice } from './process-device.js';

/** Physical addresses of the virtual board's devices (below 4 GiB, above any RAM kmemsim gives a kernel). */
export const BOARD = { counter: 0xfeb00000, uart: 0xfeb01000, pit: 0xfeb02000 } as const;
/** The counter device's interrupt line (request_irq(COUNTER_IRQ, ...)). */
export const COUNTER_IRQ = 11;

export interface MmioRunOptions {
  /** `--mmiotrace FILE`: the log's text, piece by piece. */
  traceSink?: (text: string) => void;
  /** `--vdev`: a static program serving the counter device's window over /dev/vdev (./process-device.ts). */
  vdev?: { elf: Uint8Array; argv: string[] };
}

/** Attach the board and bind ioremap, iounmap and mmiotrace_printk (after installKernelApi). Returns a flush for the UART's last line. */
export function installMmioApi(kernel: Kernel, api: KernelApi, opts: MmioRunOptions = {}): () => void {
  const bus = MmioBus.of(kernel);
  const clock = new Clock(kernel.cpu);
  if (opts.traceSink) bus.trace = new MmioTrace(opts.traceSink, () => clock.monotonicNs());
  let line = '';
  const flush = (): void => {
    if (line !== '') api.log.emit(`<6>ttyS0: ${line}\n`);
    line = '';
  };
  const log = (text: string): void => void api.log.emit(`<7>mmio ${text}\n`);
  const counter = opts.vdev
    ? new ProcessDevice(opts.vdev.elf, { argv: opts.vdev.argv, size: 0x10, name: 'counter', log: (l) => void api.log.emit(`<3>${l}\n`) })
    : new CounterDevice();
  bus.attach(BOARD.counter, counter, COUNTER_IRQ);
  const irqs = IrqLines.of(kernel);
  irqs.preempt = (delta) => api.sched.addPreemptCount(delta);
  irqs.log = (line) => void api.log.emit(`${line}\n`);
  bus.attach(BOARD.uart, new UartPassThrough((b) => {
    if (b === 0x0a) flush();
    else line += String.fromCharCode(b);
  }, log));
  bus.attach(BOARD.pit, new PitPassThrough(() => kernel.cpu.icount, log));

  const env = guestFormatEnv(api.memory, (a) => api.symbolize(a));
  const reg = (cpu: CPU, r: number): number => cpu.regs[r]! >>> 0;
  /** regparm(3) argument i: EAX, EDX, ECX, then [ESP + 4], [ESP + 8], ... */
  const arg = (cpu: CPU, i: number): number => i < 3 ? reg(cpu, [0, 2, 1][i]!) : api.memory.read32((cpu.segBase[SS] + cpu.regs[4]! + 4 * (i - 2)) | 0) >>> 0;
  api.bind('ioremap', (cpu) => {
    cpu.regs[0] = bus.ioremap(reg(cpu, 0), reg(cpu, 2));
  });
  api.bind('iounmap', (cpu) => {
    const a = reg(cpu, 0);
    if (a !== 0 && !bus.iounmap(a)) api.log.emit(`<4>WARNING: iounmap: bad address 0x${a.toString(16).padStart(8, '0')}\n`);
  });
  api.bind('request_irq', (cpu) => {
    cpu.regs[0] = irqs.request(arg(cpu, 0), arg(cpu, 1), arg(cpu, 2), arg(cpu, 3), arg(cpu, 4));
  });
  api.bind('free_irq', (cpu) => {
    cpu.regs[0] = irqs.free(arg(cpu, 0), arg(cpu, 1));
  });
  api.bind('mmiotrace_printk', (cpu) => {
    const sp = (cpu.segBase[SS] + cpu.regs[4]!) | 0;
    const fmt = readGuestString(api.memory, api.memory.read32((sp + 4) | 0) >>> 0, MAX_STRING) ?? '';
    const text = vsprintf(fmt, new GuestVarArgs(api.memory, (sp + 8) | 0), env);
    bus.trace?.mark(text);
    cpu.regs[0] = text.length;
  });
  return flush;
}
