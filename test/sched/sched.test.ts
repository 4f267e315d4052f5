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
