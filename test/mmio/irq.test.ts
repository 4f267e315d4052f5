/**
 * IRQ delivery from virtual devices (src/mmio/irq.ts): examples/mmio/irq-driver.c
 * puts a handler on the counter device's line with request_irq(); each
 * IRQ the device raises runs it in interrupt context (in_interrupt(),
 * in_irq(), interrupts off, preempt count HARDIRQ_OFFSET; sleeping
 * reported), alone, under kmemcheck and --stack cpl1, and with the
 * emulate strategy; the bad uses get Linux's errno or message. And the
 * TypeScript side: IrqLines' errnos and a device raising an IRQ outside
 * any access (pending until the next one).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileModule } from '../../src/cli/compile.js';
import { runChecked, type CheckedRunOptions } from '../../src/harness/checked-run.js';
import { IrqLines, IRQF_SHARED } from '../../src/mmio/irq.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { hasGcc, ROOT, runtimeObject } from '../module/helpers.js';

const DIR = join(ROOT, 'examples/mmio');
if (!hasGcc) console.log('test/mmio/irq.test.ts: gcc not found: the IRQ example driver (a C module) is skipped');

/** The call trace's address and offset depend on the heap layout and the compiler; __FILE__ on how the module was compiled. */
const normalize = (s: string): string => s
  .replace(/0x[0-9a-f]{8} \(counter_irq\+0x[0-9a-f]+\)/g, 'ADDR (counter_irq+OFFSET)')
  .replace(/ at \S*examples\/mmio\/irq-driver\.c:/, ' at examples/mmio/irq-driver.c:');

describe.skipIf(!hasGcc)('examples/mmio/irq-driver.c', () => {
  const object = compileModule(join(DIR, 'irq-driver.c')).object;
  const CONFIGS: [string, Partial<CheckedRunOptions>][] = [
    ['alone', {}],
    ['kmemcheck and --stack cpl1', { heap: 'kmemcheck', stack: 'cpl1' }],
    ['kmemcheck, --stack cpl1 and --access-size emulate', { heap: 'kmemcheck', stack: 'cpl1', services: { accessSize: 'emulate' } }],
  ];
  for (const [what, opts] of CONFIGS) {
    it(`the handler runs in interrupt context for each IRQ the device raises (${what})`, () => {
      const r = runChecked(object, { name: 'irq-driver.c', runtime: runtimeObject(), ...opts });
      expect(r.error).toBeNull();
      expect(r.findings).toEqual([]);
      expect(r.run!.exitCode).toBe(0);
      expect(normalize(r.run!.console)).toBe(readFileSync(join(DIR, 'irq-driver.expected'), 'utf8'));
    });
  }
});

describe('IrqLines', () => {
  it('request_irq and free_irq errnos; shared lines; a raise with no handler is counted and reported once', () => {
    const k = new Kernel({ memorySize: 8 << 20 });
    const irqs = IrqLines.of(k);
    const log: string[] = [];
    irqs.log = (l) => void log.push(l);
    expect(irqs.request(16, 0x1000, 0, 0, 1)).toBe(-22);
    expect(irqs.request(3, 0, 0, 0, 1)).toBe(-22);
    expect(irqs.request(3, 0x1000, IRQF_SHARED, 0, 0)).toBe(-22);
    expect(irqs.request(3, 0x1000, IRQF_SHARED, 0x500, 1)).toBe(0);
    expect(irqs.request(3, 0x2000, 0, 0x600, 2)).toBe(-16);
    expect(irqs.request(3, 0x2000, IRQF_SHARED, 0x600, 2)).toBe(0);
    expect(irqs.handlers(3)).toBe(2);
    expect(irqs.free(3, 2)).toBe(0x600);
    expect(irqs.free(3, 2)).toBe(0);
    expect(log).toEqual(['<4>WARNING: Trying to free already-free IRQ 3']);
    // Raised outside any access: pending; delivered (here: nobody on line 5) at the next boundary.
    irqs.raise(5);
    irqs.raise(5);
    expect(irqs.hasPending).toBe(true);
    const frame = { vector: 1, errorCode: null, eip: 0, cs: 8, eflags: 2, fromUser: false, userEsp: 0, userSs: 0, frameAddress: 0 };
    irqs.deliver(frame);
    irqs.raise(5);
    irqs.deliver(frame);
    expect(irqs.hasPending).toBe(false);
    expect(irqs.counters).toMatchObject({ raised: 3, delivered: 2, unhandled: 2, handlerCalls: 0 });
    expect(log.slice(1)).toEqual(['<3>irq 5: nobody cared (no handler registered)']);
  });
});
