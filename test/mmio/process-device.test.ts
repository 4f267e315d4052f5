/**
 * A guest user process as the MMIO device (src/mmio/process-device.ts):
 * examples/mmio/counter-device.c serves the counter device over /dev/vdev;
 * the example drivers print exactly what they print against the
 * TypeScript device (counter-driver.expected, irq-driver.expected — the
 * IRQ raised by the process's ioctl), also under kmemcheck and --stack
 * cpl1; a device process that dies while a read waits gives all ones and
 * a report, and the driver goes on; a --vdev that cannot run is exit 2.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kmemsim } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'kmemsim-vdev-'));
const device = join(dir, 'counter-device');
const cc = spawnSync('gcc', ['-m32', '-static', '-O2', '-Iinclude', 'examples/mmio/counter-device.c', '-o', device], { encoding: 'utf8' });
const skip = cc.error || cc.status !== 0 ? 'gcc -m32 -static does not work here (gcc-multilib missing?): the device-process test is skipped' : null;
if (skip) console.log(`test/mmio/process-device.test.ts: skipped: ${skip}`);

const expected = (name: string): string => readFileSync(`examples/mmio/${name}.expected`, 'utf8');
const normalizeIrq = (s: string): string => s.replace(/0x[0-9a-f]{8} \(counter_irq\+0x[0-9a-f]+\)/g, 'ADDR (counter_irq+OFFSET)');

describe.skipIf(skip !== null)('--vdev: the counter device as a user process', () => {
  for (const opts of [[], ['--kmemcheck', '--stack', 'cpl1']]) {
    it(`counter-driver.c prints what it prints against the TypeScript device (${opts.join(' ') || 'plain'})`, async () => {
      const r = await kmemsim(['run', 'examples/mmio/counter-driver.c', ...opts, '--vdev', device]);
      expect(r.stdout).toBe(expected('counter-driver'));
      expect(r.status).toBe(0);
    });
  }

  it('irq-driver.c: the process raises the IRQ with ioctl, the handler runs as with the TypeScript device', async () => {
    const r = await kmemsim(['run', 'examples/mmio/irq-driver.c', '--vdev', device]);
    expect(normalizeIrq(r.stdout)).toBe(expected('irq-driver'));
    expect(r.status).toBe(0);
  });

  it('a device process that dies while a read waits: the read gets all ones, the kernel a report, the driver goes on', async () => {
    const r = await kmemsim(['run', 'examples/mmio/counter-driver.c', '--vdev', `${device} die-at-count`]);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('vdev: counter: the device process exited with status 3 while a read of 4 bytes at offset 0x8 waited: the device reads all ones from now on');
    expect(lines[1]).toBe('counter: 4294967295 4294967295 4294967295, after reset 4294967295');
    expect(lines).toContain('counter: id via pointer 0xffffffff');
    // The UART behind its own window still works: nothing was left hidden or half done.
    expect(lines).toContain('ttyS0: ok');
    expect(r.status).toBe(0);
  });

  it('a --vdev program that cannot run is a usage error', async () => {
    const r = await kmemsim(['run', 'examples/mmio/counter-driver.c', '--vdev', 'examples/mmio/counter-device.c']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^kmemsim: --vdev examples\/mmio\/counter-device\.c: cannot run it: /);
  });
});
