/**
 * Watching a user process's buffer (issue 12): examples/linux/watch/ —
 * a module kmcf_add()s the buffer a static program gives it by ioctl, in
 * the program's address space; the handler sees the program's own CPL-3
 * reads and writes with its pid, not the forked child's writes to its
 * copy, and the neighbour's access is foreign; kmcf_delete() and the
 * process's exit show the pages again. The same with kmemcheck and with
 * --access-size emulate; and from TypeScript (WatchFramework.add in the
 * process's space, a TypeScript handler).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kmemsim } from '../helpers/cli.js';
import { buildModule } from '../../src/cli/cc-command.js';
import { runUserProgram } from '../../src/kernel/process.js';
import type { Kernel } from '../../src/kernel/kernel.js';
import { PageHidingService } from '../../src/kernel/page-hiding.js';
import { moduleServicesHook } from '../../src/harness/module-services.js';
import { WatchFramework, type WatchAccess } from '../../src/watch/watch.js';

const DIR = 'examples/linux/watch';
const dir = mkdtempSync(join(tmpdir(), 'kmemsim-watch-user-'));
const prog = join(dir, 'watch-user-test');
const cc = spawnSync('gcc', ['-m32', '-static', '-O2', `${DIR}/watch-user-test.c`, '-o', prog], { encoding: 'utf8' });
const skip = cc.error || cc.status !== 0 ? 'gcc -m32 -static does not work here (gcc-multilib missing?): the user-buffer watch test is skipped' : null;
if (skip) console.log(`test/watch/user-buffer.test.ts: skipped: ${skip}`);

const HANDLER_LINES = [
  'watch_user: kmcf_add(16 bytes): 0',
  'watch_user: pid 1 wrote 4 bytes at offset 4: 0x11223344',
  'watch_user: pid 1 wrote 1 byte at offset 0: 0x6b',
  'watch_user: pid 1 read 1 byte at offset 5: 0x33',
];
const STDOUT = 'pid 1: watch: 0\nchild exited 0, sum 51\nstats: 0\nagain: -1\n';

describe.skipIf(skip !== null)('a user process\'s buffer watched from a module', () => {
  for (const opts of [[], ['--kmemcheck'], ['--access-size', 'emulate']]) {
    it(`the handler sees the process's CPL-3 accesses with its pid, not its child's (${opts.join(' ') || 'plain'})`, async () => {
      const r = await kmemsim(['run', ...opts, '--module', `${DIR}/watch-user.c`, prog]);
      expect(r.stdout).toBe(STDOUT);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('watch_user:'))).toEqual([...HANDLER_LINES, 'watch_user: 1 reads, 2 writes, 1 foreign']);
      expect(r.status).toBe(0);
    });
  }

  /** The program with the module preloaded, the services' hook, and `extra` run when the module kernel exists. */
  function runSystem(args: string[], moduleArgs = '', extra?: (k: Kernel, sys: Parameters<NonNullable<ReturnType<typeof moduleServicesHook>['exports']>>[1]) => void): { k: Kernel; stdout: string; console: string; exitCode: number } {
    const mod = buildModule({ name: 'watch_user', sources: [`${DIR}/watch-user.c`], cflags: [] });
    let k: Kernel | null = null;
    const inner = moduleServicesHook({});
    let console = '';
    const r = runUserProgram(new Uint8Array(readFileSync(prog)), {
      argv: [prog, ...args],
      modules: [{ name: 'watch-user.c', bytes: mod.object, args: moduleArgs }],
      onConsole: (t) => void (console += t),
      kernelApi: {
        options: (kk) => {
          k = kk;
          return inner.options(kk);
        },
        exports: (api, sys) => {
          inner.exports!(api, sys);
          extra?.(k!, sys);
        },
      },
    });
    return { k: k!, stdout: Buffer.from(r.stdout).toString('latin1'), console, exitCode: r.exitCode };
  }

  it('a buffer still watched when the process exits is dropped, its pages shown', () => {
    const r = runSystem(['exit']);
    expect(r.stdout).toBe('pid 1: watch: 0\nchild exited 0, sum 51\n');
    expect(r.exitCode).toBe(0);
    expect(r.console.split('\n').filter((l) => l.startsWith('watch_user:'))).toEqual(HANDLER_LINES);
    const w = WatchFramework.of(r.k);
    expect(w.list()).toEqual([]);
    expect(PageHidingService.of(r.k).pagesOf(w)).toEqual([]);
  });

  it('from TypeScript: WatchFramework.add() in the process\'s address space and a TypeScript handler', () => {
    const seen: string[] = [];
    const r = runSystem(['marker'], 'guest_handler=0', (k, sys) => {
      const w = WatchFramework.of(k);
      expect(w.setHandler((a: WatchAccess, post) => {
        if (post) seen.push(`${a.pid} ${a.write ? 'W' : 'R'} ${a.size}@${a.offset} ${a.value.toString(16)}`);
      })).toBe(0);
      // The program says where its buffer is through trace_marker; it is added in the calling process's space.
      sys.tracing.marker = (text) => {
        const m = /^watch (0x[0-9a-f]+) (\d+)$/.exec(text)!;
        expect(w.add(Number(m[1]), Number(m[2]), { as: sys.task.mm.as, pid: sys.task.pid })).toBe(0);
        // Kernel addresses are not a process's.
        expect(w.add(0xc0100000, 4, { as: sys.task.mm.as, pid: sys.task.pid })).toBe(-22);
      };
    });
    expect(r.stdout).toBe(STDOUT);
    expect(seen).toEqual(['1 W 4@4 11223344', '1 W 1@0 6b', '1 R 1@5 33']);
    expect(r.console).toContain('watch_user: 1 reads, 2 writes, 1 foreign');
    expect(PageHidingService.of(r.k).pagesOf(WatchFramework.of(r.k))).toEqual([]);
  });
});
