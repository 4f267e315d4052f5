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
