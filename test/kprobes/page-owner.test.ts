import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { main } from '../../src/cli/main.js';
import { run } from './helpers.js';

describe('page_owner', () => {
  it('with page_owner=on, __set_page_owner(page, order, gfp) runs for each allocation; a kprobe reads the order from regs->dx', () => {
    const r = run('test/kprobes/modules/page-order.c', { kernelParams: ['page_owner=on'] });
    expect(r.exitCode).toBe(0);
    expect(r.lines).toEqual(['Order\tParticipation', '0\t2', '1\t2', '2\t3', '3\t2', '4\t0']);
    const text = r.api.pageOwner.text((a) => r.api.symbolize(a) ?? r.module.symbolize(a), (a) => (r.module.object.contains(a) ? 'page_order' : null));
    const blocks = text.split('\n\n').filter((b) => b !== '');
    // 8 + 1 allocated, 4 + 1 freed: 4 left, the odd ones (orders 1 and 3).
    expect(blocks.length).toBe(4);
    expect(blocks[0]).toMatch(/^Page allocated via order [13], mask 0xd0\(GFP_KERNEL\), pid 1, tgid 1 \(insmod\), ts \d+ ns, free_ts 0 ns\nPFN \d+ type Unmovable Block \d+ type Unmovable Flags 0x0\(\)\n post_alloc_hook\+0x0\/0x10\n alloc_pages\+0x0\/0x10\n init_module\+0x[0-9a-f]+\/0x[0-9a-f]+ \[page_order\]$/);
  });

  it('without page_owner=on nothing is recorded and the probe never fires', () => {
    const r = run('test/kprobes/modules/page-order.c');
    expect(r.lines).toEqual(['Order\tParticipation', '0\t0', '1\t0', '2\t0', '3\t0', '4\t0']);
    expect(r.api.pageOwner.records.size).toBe(0);
  });
});

describe('examples/linux/page_owner: seed 003 in the Linux personality', () => {
  const busybox = 'build/busybox-i386/bin/busybox';
  const skip = existsSync(busybox) ? null : `${busybox} missing (scripts/fetch-busybox.sh): the page_order example test is skipped`;
  if (skip) console.log(`test/kprobes/page-owner.test.ts: skipped: ${skip}`);
  it.skipIf(skip !== null)('page_order.ko counts the orders of another module\'s allocations; cat /proc/page_order shows them', async () => {
    let stdout = '', stderr = '';
    const status = await main(['run', '--kernel-param', 'page_owner=on', '--module', 'examples/linux/page_owner/page_order.c',
      '--module', 'examples/linux/page_owner/alloc.c', busybox, '--', 'cat', '/proc/page_order'], {
      stdout: (b) => void (stdout += Buffer.from(b).toString('latin1')),
      stderr: (b) => void (stderr += Buffer.from(b).toString('latin1')),
      stdin: () => new Uint8Array(0),
    });
    expect(status).toBe(0);
    expect(stdout).toBe('Order\tParticipation\n0\t2\n1\t2\n2\t2\n3\t2\n4\t0\n');
    expect(stderr).toMatch(/^page_order: kprobe at c[0-9a-f]{7}\npage_order: order 0, participation 1\n/);
  });
});
