/**
 * `kmemsim run MODULE --bpftrace PROGRAM`: bpftrace's language subset on
 * the simulated kernel (src/bpftrace), through the CLI's main().
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { main } from '../../src/cli/main.js';
import { kmemsim } from '../helpers/cli.js';
import { formatPrintf } from '../../src/bpftrace/run.js';
import { parseProgram, BpftraceError } from '../../src/bpftrace/parse.js';

const PAGES = 'test/kprobes/modules/pages.c';

describe('bpftrace', () => {
  it("runs seed 003's script as written: a line per page_owner event", async () => {
    const r = await kmemsim(['run', PAGES, '--kernel-param', 'page_owner=on', '--bpftrace', 'examples/linux/page_owner/page_owner.bt']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    expect(lines[0]).toBe('Attaching 9 probes...');
    const events = lines.filter((l) => l.startsWith('page_owner info'));
    expect(events.map((l) => l.replace(/timestamp=\d+/, 'timestamp=T'))).toEqual([
      ...Array(4).fill('page_owner info {set}: timestamp=T pid=1 proc_name=insmod'),
      ...Array(2).fill('page_owner info {reset}: timestamp=T pid=1 proc_name=insmod'),
    ]);
    const ts = events.map((l) => Number(/timestamp=(\d+)/.exec(l)![1]));
    expect([...ts].sort((a, b) => a - b)).toEqual(ts); // the clock only moves forward
    expect(lines.at(-1)).toBe('pages done');
  });

  it('wildcards, filters, kretprobe retval, count() and sum() maps printed at exit as bpftrace prints them', async () => {
    const prog = `
      BEGIN { printf("tracing\\n"); }
      kprobe:__*page_owner* { @calls[func] = count(); }
      kprobe:__kmalloc /arg0 >= 200/ { @big = count(); @bytes = sum(arg0); }
      kretprobe:__kmalloc { @ret[comm] = count(); $p = retval; if ($p == 0) { printf("NULL\\n"); } }
      kprobe:alloc_pages { @orders[arg1] = count(); }
      END { printf("end %s\\n", "now"); }
    `;
    const r = await kmemsim(['run', PAGES, '--kernel-param', 'page_owner=on', '--bpftrace', prog]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe([
      // 6 page_owner functions match the wildcard (__set, __reset, __split, __copy, __dump, __set_..._migrate_reason),
      // plus __kmalloc twice, alloc_pages, BEGIN and END.
      'Attaching 11 probes...',
      'tracing',
      'pages done',
      'end now',
      '',
      '@big: 2',
      '',
      '@bytes: 500',
      '',
      '@calls[__reset_page_owner]: 2',
      '@calls[__set_page_owner]: 4',
      '',
      '@orders[0]: 1',
      '@orders[1]: 1',
      '@orders[2]: 1',
      '@orders[3]: 1',
      '',
      '@ret[insmod]: 3',
      '',
      '',
    ].join('\n'));
  });

  it('bad programs are usage errors (exit status 2) with bpftrace-style positions', async () => {
    let r = await kmemsim(['run', PAGES, '--bpftrace', 'kprobe:__kmalloc { printf("x" }']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^kmemsim: --bpftrace: stdin:1:31: ERROR: syntax error, unexpected '}', expecting '\)'/);
    r = await kmemsim(['run', PAGES, '--bpftrace', 'kprobe:no_such_function { printf("x\\n"); }']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('kmemsim: --bpftrace: ERROR: kprobe:no_such_function: no symbol no_such_function in the kernel or its modules\n');
    r = await kmemsim(['run', PAGES, '--bpftrace', 'uprobe:/bin/sh:main { }']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Invalid probe type: uprobe/);
  });

  it('printf formats as C and bpftrace do', () => {
    expect(formatPrintf('%d %u %lu %llu %x %lx %s %5d|%-4s|%08x %p %c', [-1n, -1n, -1n, 5n, 255n, 4096n, 'ab', 42n, 'x', 48879n, 16n, 65n]))
      .toBe('-1 4294967295 18446744073709551615 5 ff 1000 ab    42|x   |0000beef 0x10 A');
    expect(() => parseProgram('BEGIN { @x = ; }')).toThrow(BpftraceError);
  });
});

describe('bpftrace with the checkers and with programs', () => {
  const normalize = (s: string): string => s.replace(/timestamp=\d+/g, 'timestamp=T');

  it('runs under --kmemcheck, --kmemcheck-inline and each --stack strategy: the same lines as the plain run, no findings', async () => {
    const plain = await kmemsim(['run', PAGES, '--kernel-param', 'page_owner=on', '--bpftrace', 'examples/linux/page_owner/page_owner.bt']);
    expect(plain.status).toBe(0);
    for (const m of [['--kmemcheck'], ['--kmemcheck', '--kmemcheck-inline'], ['--stack', 'cpl1'], ['--kmemcheck', '--stack', 'precise'], ['--stack', 'ftrace']]) {
      const r = await kmemsim(['run', PAGES, ...m, '--kernel-param', 'page_owner=on', '--bpftrace', 'examples/linux/page_owner/page_owner.bt']);
      expect(r.stderr, m.join(' ')).toBe('');
      expect(r.status, m.join(' ')).toBe(0);
      // --stack ftrace builds the module with -pg -mfentry: other instruction counts, so other timestamps.
      expect(m.includes('ftrace') ? normalize(r.stdout) : r.stdout, m.join(' ')).toBe(m.includes('ftrace') ? normalize(plain.stdout) : plain.stdout);
    }
    const bad = await kmemsim(['run', PAGES, '--kmemcheck', '--bpftrace', 'kprobe:no_such_function { }']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('kmemsim: --bpftrace: ERROR: kprobe:no_such_function: no symbol no_such_function in the kernel or its modules\n');
  });

  const busybox = 'build/busybox-i386/bin/busybox';
  const skip = existsSync(busybox) ? null : `${busybox} missing (scripts/fetch-busybox.sh): bpftrace with a program is skipped`;
  if (skip) console.log(`test/kprobes/bpftrace.test.ts: skipped: ${skip}`);
  const DRIVE = ['sh', '-c', 'echo 2 > /dev/page_alloc; echo 0 > /dev/page_alloc; echo - > /dev/page_alloc; cat /sys/kernel/debug/page_owner'];

  it.skipIf(skip !== null)("seed 003's script with a program driving the allocations (kmemsim run --module m.c --bpftrace X PROGRAM), plain and under --kmemcheck", async () => {
    const args = ['--kernel-param', 'page_owner=on', '--module', 'test/kprobes/modules/page-alloc-dev.c', '--bpftrace', 'examples/linux/page_owner/page_owner.bt', busybox, '--', ...DRIVE];
    const r = await kmemsim(['run', ...args]);
    expect(r.status).toBe(0);
    // bpftrace prints on stderr with the console; the program's stdout is its own (one order-2 block left).
    expect(normalize(r.stderr)).toBe([
      'Attaching 9 probes...',
      'page_owner info {set}: timestamp=T pid=1 proc_name=busybox',
      'page_owner info {set}: timestamp=T pid=1 proc_name=busybox',
      'page_owner info {reset}: timestamp=T pid=1 proc_name=busybox',
      // sh execs its last command in place, through /proc/self/exe; the applet renames itself (prctl PR_SET_NAME).
      'page_owner info {read}: timestamp=T pid=1 proc_name=cat',
      'page_owner info {read}: timestamp=T pid=1 proc_name=cat',
      '',
    ].join('\n'));
    expect(r.stdout).toMatch(/^Page allocated via order 2, mask 0xd0\(GFP_KERNEL\), pid 1, tgid 1 \(busybox\), ts \d+ ns, free_ts 0 ns\nPFN \d+ .*\n post_alloc_hook\+0x0\/0x10\n alloc_pages\+0x0\/0x10\n pa_write\+0x[0-9a-f]+\/0x[0-9a-f]+ \[page_alloc_dev\]\n\n$/);
    const checked = await kmemsim(['run', '--kmemcheck', ...args]);
    expect(checked.status).toBe(0);
    expect(checked.stderr).toBe(r.stderr);
    expect(checked.stdout).toBe(r.stdout);
    const bad = await kmemsim(['run', '--bpftrace', 'kprobe:no_such_function { }', busybox, 'true']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('kmemsim: --bpftrace: ERROR: kprobe:no_such_function: no symbol no_such_function in the kernel or its modules\n');
  });
});
