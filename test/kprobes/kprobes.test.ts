import { describe, expect, it } from 'vitest';
import { run } from './helpers.js';

describe('kprobes', () => {
  it('pre_handler sees regs->ip = addr + 1 and the regparm arguments; post_handler runs after the out-of-line step', () => {
    const r = run('test/kprobes/modules/kprobe-basic.c');
    expect(r.diagnostics).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.lines).toEqual([
      'register_kprobe(target) = 0, addr == target',
      'register_kprobe(__kmalloc) = 0',
      'target(1, 2, 3, 4) = 1234; pre 1 post 1',
      'pre: ip - addr = 1, args 1 2 3 4',
      'post: ip > addr + 1: 1, ip - addr <= 15: 1',
      'kmalloc(100, 0xd0) by insmod/1, preempt_count 1',
      'kmalloc hits 1',
      'after unregister: kmalloc hits 1',
      'redirected: register 0, target(1, 2, 3, 4) = -10',
      'restored: target(1, 2, 3, 4) = 1234, nmissed 0',
    ]);
  });
});

describe('kprobe registration errors', () => {
  it('returns -ENOENT, -EINVAL, -EILSEQ and -E2BIG where Linux does; maxactive 0 takes the default 10', () => {
    const r = run('test/kprobes/modules/kprobe-errors.c');
    expect(r.exitCode).toBe(0);
    const printed = r.lines.filter((l) => !l.startsWith('register_'));
    expect(printed).toEqual([
      'missing symbol: -2',
      'symbol and addr: -22',
      'neither: -22',
      'NOKPROBE_SYMBOL: -22',
      'inside an instruction: -84',
      'data address: -22',
      'kprobes itself: -22',
      'twice: 0 -22',
      'maxactive 5000: -7',
      'maxactive 0: 0, now 10',
    ]);
    // The reasons, at KERN_DEBUG.
    expect(r.lines).toContain('register_kprobe: -2 (-ENOENT): no symbol no_such_function in the kernel or its modules');
    expect(r.lines.some((l) => /forbidden is on the kprobe blacklist/.test(l))).toBe(true);
  });
});

describe('kprobe recursion and kretprobe instances', () => {
  it('counts a probe hit inside a handler as missed and still runs the probed code; maxactive bounds kretprobe instances', () => {
    const r = run('test/kprobes/modules/kprobe-recursion.c');
    expect(r.diagnostics).toEqual([]);
    expect(r.lines).toEqual([
      'outer(1) = 4; outer hits 1, inner hits 1, inner nmissed 1',
      'inner(1) = 2; inner hits 2, inner nmissed 1',
      'register_kretprobe = 0',
      // recurse(3) → recurse(2) take the two instances; recurse(1) and recurse(0) are missed.
      'recurse(2) returned 2',
      'recurse(3) returned 3',
      'recurse(3) = 3; handler ran 2 times, nmissed 2',
      'after unregister: recurse(3) = 3, handler ran 2 times',
    ]);
  });
});

describe('kretprobes on the kernel functions the SO2 tracer probes', () => {
  it('count every call per pid across 32 sleeping, contending kernel threads', () => {
    const r = run('test/kprobes/modules/tracer-core.c');
    expect(r.diagnostics).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.lines).toEqual([
      'register_kretprobes: 0',
      expect.stringMatching(/^32 of 32 threads counted right; kmalloc'd 95744 bytes; worker0: sched \d+$/),
    ]);
  });
});
