import { describe, expect, it } from 'vitest';
import { run } from '../kprobes/helpers.js';

describe('kernel threads and the scheduler', () => {
  it('semaphores, mutexes, wait queues and completions block and wake kernel threads, deterministically', () => {
    const r = run('test/sched/modules/threads.c');
    expect(r.diagnostics).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.lines).toEqual([
      'started: pinger/2 ponger/3 locker/3/7 producer/9',
      'producer done: produced 10, consumed 10',
      'kthread_stop: pinger 107, ponger 200',
      'lockers: counter 20, at most 1 in the section, pids sum 22',
      'consumer 10, producer 0',
    ]);
    const again = run('test/sched/modules/threads.c');
    expect(again.console).toBe(r.console);
    expect(again.instructions).toBe(r.instructions);
  });
});

describe('atomic context', () => {
  it('reports a sleeping call with preemption disabled, under a spinlock and in a kprobe handler, as Linux does', () => {
    const r = run('test/sched/modules/atomic-sleep.c');
    expect(r.exitCode).toBe(0);
    const bugs = r.lines.filter((l) => l.startsWith('BUG: '));
    expect(bugs).toEqual([
      expect.stringMatching(/^BUG: sleeping function called from invalid context at .*atomic-sleep\.c:25$/),
      'BUG: sleeping function called from invalid context at kernel/time/timer.c (msleep)',
      'BUG: scheduling while atomic: insmod/1/0x00000001',
      'BUG: sleeping function called from invalid context at kernel/time/timer.c (msleep)',
      'BUG: scheduling while atomic: insmod/1/0x00000001',
    ]);
    expect(r.lines).toContain('in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 1, name: insmod');
    expect(r.lines).toContain('probed(1) = 2');
    expect(r.lines.filter((l) => l.startsWith('  '))).toEqual([
      expect.stringMatching(/^ {2}0x[0-9a-f]{8} \(init_module\+0x[0-9a-f]+\)$/),
      expect.stringMatching(/^ {2}0x[0-9a-f]{8} \(init_module\+0x[0-9a-f]+\)$/),
      expect.stringMatching(/^ {2}0x[0-9a-f]{8} \(sleepy_pre\+0x[0-9a-f]+\)$/),
    ]);
    // Balanced afterwards: the last msleep is fine.
    expect(r.lines.at(-1)).toBe('--- preempt_count 0');
  });
});

describe('sleeps that end and sleeps that never do', () => {
  it('a task waiting for ever with nothing left to run is a hung system: exit status 124 at once', () => {
    const r = run('test/sched/modules/hung.c');
    expect(r.exitCode).toBe(124);
    expect(r.stop?.kind).toBe('halted');
    expect(r.stop && 'message' in r.stop ? r.stop.message : '').toMatch(/^INFO: task insmod:1 blocked for ever: every task sleeps \(insmod:1\)/);
    expect(r.instructions).toBeLessThan(10_000);
  });

  it('timeouts run out (-ETIME, 0 jiffies left); a kernel thread left running at rmmod is reported', () => {
    const r = run('test/sched/modules/leftover.c');
    expect(r.exitCode).toBe(0);
    expect(r.lines).toEqual(['down_timeout: -62', 'schedule_timeout(3) left 0']);
    expect(r.diagnostics).toEqual([
      'kmemsim: leftover.c: cleanup_module returned with kernel thread forever/2 still alive: their code is freed with the module (kthread_stop() them in cleanup_module)',
    ]);
  });

  it('cond_resched() is a preemption point: busy threads take turns at each tick', () => {
    const r = run('test/sched/modules/preempt.c');
    expect(r.exitCode).toBe(0);
    expect(r.lines[0]).toBe('no cond_resched: 2 turns: 0 1');
    expect(r.lines[1]).toMatch(/^cond_resched: (\d+) turns: 2 3 2 3 2 3 2 3$/);
  });
});

describe('<linux/spinlock.h>', () => {
  it('sleeping under spin_lock() is reported; the lock raises and restores the preempt count', () => {
    const r = run('test/sched/modules/spin-sleep.c');
    expect(r.exitCode).toBe(0);
    expect(r.lines).toEqual([
      'BUG: sleeping function called from invalid context at kernel/time/timer.c (msleep)',
      'in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 1, name: insmod',
      'preempt_count: 1, expected: 0',
      'Call Trace:',
      expect.stringMatching(/^ {2}0x[0-9a-f]{8} \((?:init_module|spin_sleep_init)\+0x[0-9a-f]+\)$/),
      'BUG: scheduling while atomic: insmod/1/0x00000001',
      'preempt_count 1 under spin_lock_irqsave',
      'preempt_count 0 after',
    ]);
  });
});
