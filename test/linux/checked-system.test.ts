/**
 * The checkers over the whole system (issue 11's "Done when"): a static
 * glibc program drives a module's ioctl with a planted uninitialized read;
 * the fault-driven kmemcheck, the inline checker and the precise stack
 * checker each find it in the module's ioctl path, with the module's
 * functions and lines; a clean module under every checker stays clean.
 */
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { cli, hasGcc, NO_GCC } from '../module/helpers.js';
import { buildProgram, gccM32Missing, ROOT } from './harness.js';

const m32 = hasGcc ? gccM32Missing() : NO_GCC;
if (m32) console.warn(`test/linux/checked-system.test.ts: skipped: ${m32}`);
const MODULE = join(ROOT, 'test/linux/modules/uninit-ioctl.c');

describe.skipIf(m32 !== null)('kmemcheck, the inline checker and --stack precise over a program and its module', () => {
  const user = m32 ? '' : buildProgram('stats-user', mkdtempSync(join(tmpdir(), 'kmemsim-sys-')));

  it('the heap read planted in the ioctl path: found by --kmemcheck and --kmemcheck-inline; --stack precise alone finds nothing there', () => {
    for (const flags of [['--kmemcheck'], ['--kmemcheck', '--kmemcheck-inline'], ['--kmemcheck', '--stack', 'precise']]) {
      const r = cli(['run', ...flags, '--module', MODULE, user]);
      expect(r.stdout, flags.join(' ')).toBe('ioctl 0\n');
      expect(r.status, flags.join(' ')).toBe(99);
      expect(r.stderr.match(/^WARNING: kmemcheck: /gm)?.length, flags.join(' ')).toBe(1);
      expect(r.stderr, flags.join(' ')).toMatch(/Caught 32-bit read from uninitialized memory/);
      expect(r.stderr, flags.join(' ')).toMatch(/EIP is at stats_total\S*\+0x[0-9a-f]+\/0x[0-9a-f]+ \[\S*uninit-ioctl\.c:33\]/);
    }
    expect(cli(['run', '--kmemcheck-inline', '--kmemcheck', '--module', MODULE, user]).stderr).toMatch(/kmemsim: kmemcheck \(inline checker\): 1 error reported/);
    const stack = cli(['run', '--stack', 'precise', '--module', MODULE, user]);
    expect(stack.stderr).toBe('');
    expect(stack.status).toBe(0);
  });

  it('the same bug on the stack (-DON_STACK): --stack precise finds it in the ioctl path, the system-call entry at the bottom', () => {
    const r = cli(['run', '--stack', 'precise', '--module', MODULE, '--cflags', '-DON_STACK', user]);
    expect(r.stdout).toBe('ioctl 0\n');
    expect(r.status).toBe(99);
    expect(r.stderr.match(/^WARNING: kmemcheck: /gm)?.length).toBe(1);
    expect(r.stderr).toMatch(/Caught 32-bit read from uninitialized stack memory/);
    expect(r.stderr).toMatch(/EIP is at stats_total\S*\+0x[0-9a-f]+\/0x[0-9a-f]+ \[\S*uninit-ioctl\.c:33\]/);
    expect(r.stderr).toMatch(/\] \? stats_ioctl\+0x[0-9a-f]+\/0x[0-9a-f]+ \[\S*uninit-ioctl\.c:\d+\]\n.*kmemsim_syscall_continue/);
    expect(r.stderr).toMatch(/kmemsim: stack precise: 1 error reported/);
    // The heap checkers see nothing there: it is not heap memory.
    expect(cli(['run', '--kmemcheck', '--module', MODULE, '--cflags', '-DON_STACK', user]).status).toBe(0);
  });

  it('a checker with a program and no --module is a usage error (2); every --stack works with --module (cpl1-program, ftrace-system, task-stacks tests)', () => {
    for (const s of ['cpl1', 'ftrace', 'precise']) {
      const r = cli(['run', '--stack', s, user]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^kmemsim: --kmemcheck and --stack check kernel modules \(a \.c file or a relocatable \.o, or --module with a program\); .* is a program\n$/);
    }
  });
});
