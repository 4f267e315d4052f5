import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { main } from '../../src/cli/main.js';
import { kmemsim as runCli, type CliResult } from '../helpers/cli.js';
import { build, run } from './helpers.js';
import { runChecked } from '../../src/harness/checked-run.js';

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

  it('page_owner=on under every checker: the same output, no findings (the natives\' pushes are initialized stack words)', () => {
    const plain = run('test/kprobes/modules/page-order.c', { kernelParams: ['page_owner=on'] });
    for (const m of [{ heap: 'kmemcheck' as const, stack: null }, { heap: 'inline' as const, stack: null }, { heap: 'kmemcheck' as const, stack: 'precise' as const }, { heap: null, stack: 'cpl1' as const }]) {
      const r = runChecked(build('test/kprobes/modules/page-order.c'), { ...m, name: 'page-order.c', kernelParams: ['page_owner=on'], maxInstructions: 50_000_000 });
      expect(r.error, JSON.stringify(m)).toBeNull();
      expect(r.run?.console, JSON.stringify(m)).toBe(plain.console);
      expect(r.findings, JSON.stringify(m)).toEqual([]);
    }
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

describe('/sys/kernel/debug/page_owner: the records as a file user programs read', () => {
  const busybox = 'build/busybox-i386/bin/busybox';
  const skip = existsSync(busybox) ? null : `${busybox} missing (scripts/fetch-busybox.sh): the debugfs page_owner test is skipped`;
  if (skip) console.log(`test/kprobes/page-owner.test.ts: skipped: ${skip}`);
  const kmemsim = (args: string[]): Promise<CliResult> => runCli(['run', ...args]);


  it.skipIf(skip !== null)('busybox cat prints Linux\'s print_page_owner() records, one block per read(2), by pfn; a small buffer is ENOMEM; without page_owner=on there is no file', async () => {
    const r = await kmemsim(['--kernel-param', 'page_owner=on', '--module', 'examples/linux/page_owner/alloc.c', busybox, '--', 'sh', '-c',
      'cat /sys/kernel/debug/page_owner; ls -l /sys/kernel/debug; dd if=/sys/kernel/debug/page_owner bs=64 count=1 2>&1 >/dev/null | head -1']);
    expect(r.status).toBe(0);
    const [records, rest] = [r.stdout.slice(0, r.stdout.lastIndexOf('\n\n') + 2), r.stdout.slice(r.stdout.lastIndexOf('\n\n') + 2)];
    const blocks = records.split('\n\n').filter((b) => b !== '');
    // alloc.c keeps two order-1 and two order-3 blocks (it frees the rest).
    expect(blocks.length).toBe(4);
    const record = /^Page allocated via order ([13]), mask 0xd0\(GFP_KERNEL\), pid 1, tgid 1 \(insmod\), ts \d+ ns, free_ts 0 ns\nPFN (\d+) type Unmovable Block (\d+) type Unmovable Flags 0x0\(\)\n post_alloc_hook\+0x0\/0x10\n alloc_pages\+0x0\/0x10\n init_module\+0x[0-9a-f]+\/0x[0-9a-f]+ \[alloc\]$/;
    const parsed = blocks.map((b) => record.exec(b));
    expect(parsed.every((m) => m !== null), records).toBe(true);
    const pfns = parsed.map((m) => Number(m![2]));
    expect(pfns).toEqual([...pfns].sort((a, b) => a - b));
    for (const m of parsed) expect(Number(m![3])).toBe(Number(m![2]) >> 10); // pageblock_order 10
    expect(parsed.map((m) => m![1]).sort()).toEqual(['1', '1', '3', '3']);
    expect(rest).toMatch(/^total 0\n-r-------- +1 root +root +0 .* page_owner\ndd: \/sys\/kernel\/debug\/page_owner: Cannot allocate memory\n$/);

    const off = await kmemsim(['--module', 'examples/linux/page_owner/alloc.c', busybox, '--', 'cat', '/sys/kernel/debug/page_owner']);
    expect(off.status).toBe(1);
    expect(off.stderr).toContain("cat: can't open '/sys/kernel/debug/page_owner': No such file or directory");
  });

  it.skipIf(skip !== null)('a kprobe on read_page_owner (the file\'s .read) fires for each read(2): seed 003\'s bpftrace probe sees the reads', async () => {
    const r = await kmemsim(['--kernel-param', 'page_owner=on', '--module', 'examples/linux/page_owner/alloc.c', '--bpftrace', 'kprobe:read_page_owner { @reads = count(); }', busybox, '--', 'cat', '/sys/kernel/debug/page_owner']);
    expect(r.status).toBe(0);
    // With a program bpftrace prints where the kernel console goes (stderr). Four records, then the read that returns 0.
    expect(r.stderr).toBe('Attaching 1 probe...\n\n@reads: 5\n\n');
    expect(r.stdout.split('\n\n').filter((b) => b !== '').length).toBe(4);
  });
});
