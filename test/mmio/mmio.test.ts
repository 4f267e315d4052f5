/**
 * Virtual MMIO (src/mmio): the example driver against the counter device
 * and the UART pass-through, its mmiotrace log line for line (Linux's
 * format, examples/mmio/counter-driver.mmiotrace with the PCs written PC:
 * they are checked to be the module's own instructions), alone and under
 * kmemcheck and --stack cpl1; and the TypeScript API on real instructions
 * (MOV, MOVZX, OR [m] read-modify-write, REP MOVSD from and to a device).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileModule } from '../../src/cli/compile.js';
import { runChecked, type CheckedRunOptions } from '../../src/harness/checked-run.js';
import { MmioBus } from '../../src/mmio/mmio.js';
import { MmioTrace } from '../../src/mmio/mmiotrace.js';
import type { MmioDevice } from '../../src/mmio/device.js';
import { hasGcc, ROOT, runtimeObject } from '../module/helpers.js';
import { machine } from '../shadow/fixture.js';

const DIR = join(ROOT, 'examples/mmio');
if (!hasGcc) console.log('test/mmio/mmio.test.ts: gcc not found: the example driver (a C module) is skipped');

/** Linux's lines (kernel/trace/trace_mmiotrace.c), version 20070824. */
const LINE = new RegExp([
  '^VERSION 20070824$',
  '^MAP \\d+\\.\\d{6} \\d+ 0x[0-9a-f]+ 0x[0-9a-f]+ 0x[0-9a-f]+ 0x0 0$',
  '^UNMAP \\d+\\.\\d{6} \\d+ 0x0 0$',
  '^[RW] [124] \\d+\\.\\d{6} \\d+ 0x[0-9a-f]+ 0x[0-9a-f]+ 0x[0-9a-f]+ 0$',
  '^MARK \\d+\\.\\d{6} .*$',
].join('|'));

describe.skipIf(!hasGcc)('examples/mmio/counter-driver.c', () => {
  const object = compileModule(join(DIR, 'counter-driver.c')).object;
  const CONFIGS: [string, Partial<CheckedRunOptions>][] = [
    ['alone', {}],
    ['kmemcheck and --stack cpl1', { heap: 'kmemcheck', stack: 'cpl1' }],
  ];
  for (const [what, opts] of CONFIGS) {
    it(`drives the counter device and the UART; its mmiotrace log is Linux's format, line for line (${what})`, () => {
      let log = '';
      const r = runChecked(object, { name: 'counter-driver.c', runtime: runtimeObject(), ...opts, services: { mmio: { traceSink: (t) => void (log += t) } } });
      expect(r.error).toBeNull();
      expect(r.findings).toEqual([]);
      expect(r.run!.exitCode).toBe(0);
      expect(r.run!.console).toBe(readFileSync(join(DIR, 'counter-driver.expected'), 'utf8'));
      const lines = log.split('\n');
      expect(lines.pop()).toBe('');
      for (const l of lines) expect(l).toMatch(LINE);
      // Every PC is an instruction of the module's init_module.
      for (const l of lines.filter((x) => /^[RW] /.test(x))) {
        const pc = Number.parseInt(l.split(' ')[6]!, 16);
        expect(r.symbolize(pc)?.function, l).toMatch(/^(init_module|uart_puts)$/);
      }
      const normalized = lines.map((l) => l.replace(/^([RW] \d+ \S+ \d+ 0x[0-9a-f]+ 0x[0-9a-f]+) 0x[0-9a-f]+ 0$/, '$1 PC 0')).join('\n') + '\n';
      expect(normalized).toBe(readFileSync(join(DIR, 'counter-driver.mmiotrace'), 'utf8'));
    });
  }
});

class Recorder implements MmioDevice {
  readonly name = 'rec';
  readonly size = 0x100;
  readonly log: string[] = [];
  next = 0x10;
  onRead(offset: number, size: number): number {
    this.log.push(`R${size}@${offset}`);
    return this.next++;
  }
  onWrite(offset: number, size: number, value: number): void {
    this.log.push(`W${size}@${offset}=${value.toString(16)}`);
  }
}

describe('MmioBus (TypeScript devices)', () => {
  it('turns every access to an ioremap()ped window into device messages; reads get the device\'s value', () => {
    const m = machine({ kmemcheck: false });
    const bus = MmioBus.of(m.k);
    const dev = new Recorder();
    bus.attach(0xfe000000, dev);
    let log = '';
    bus.trace = new MmioTrace((t) => void (log += t), () => m.k.cpu.icount * 1000);
    expect(bus.ioremap(0xfe000ff0, 4)).toBe(0); // beyond the device's window
    const v = bus.ioremap(0xfe000010, 0x40);
    expect(v >>> 0).toBe(0xf0000010);
    const vs = `0x${(v >>> 0).toString(16)}`;
    expect(m.run(`mov eax, [${vs}]
       movzx ebx, byte ptr [${vs} + 5]
       mov word ptr [${vs} + 2], 0x1234
       or dword ptr [${vs} + 8], 0x100
       cld
       mov esi, ${vs}
       mov edi, D
       mov ecx, 2
       rep movsd
       mov esi, D
       mov edi, ${vs} + 0x20
       mov ecx, 2
       rep movsd
       hlt`)).toEqual({ kind: 'halted' });
    expect(m.k.cpu.regs[0]).toBe(0x10);
    expect(m.k.cpu.regs[3]).toBe(0x11);
    expect(dev.log).toEqual([
      'R4@16', 'R1@21', 'W2@18=1234',
      'R4@24', 'W4@24=112', // OR [m]: read 0x12, write 0x112
      'R4@16', 'R4@20', // REP MOVSD from the device: one message per iteration
      'W4@48=13', 'W4@52=14', // ...and to it
    ]);
    expect(m.run('nop\nhlt')).toEqual({ kind: 'halted' });
    expect(bus.iounmap(v)).toBe(true);
    expect(bus.iounmap(v)).toBe(false);
    const lines = log.trimEnd().split('\n');
    for (const l of lines) expect(l).toMatch(LINE);
    expect(lines[0]).toBe('VERSION 20070824');
    expect(lines[1]).toBe('MAP 0.000000 1 0xfe000010 0xf0000010 0x40 0x0 0');
    // Timestamps: microseconds of the clock given (here 1 µs per instruction).
    expect(lines[2]).toMatch(/^R 4 0\.000000 1 0xfe000010 0x10 0x[0-9a-f]+ 0$/);
    expect(lines[3]).toMatch(/^R 1 0\.00000\d 1 0xfe000015 0x11 /);
    const times = lines.slice(1).map((l) => Number(l.split(' ')[/^[RW] /.test(l) ? 2 : 1]));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(lines.at(-1)).toMatch(/^UNMAP 0\.0000(1\d|0[5-9]) 1 0x0 0$/);
    expect(m.k.as.isMapped(v)).toBe(false);
  });
});
