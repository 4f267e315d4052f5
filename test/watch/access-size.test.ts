/**
 * `--access-size emulate` in module runs and `kmemsim compare --access-size`:
 * the examples under every page-hiding client give the same console and
 * findings as with `decode`, with fewer exceptions (no #DB for an emulated
 * access); the compare table has a row per strategy, decode at 2
 * exceptions per access, emulate below it, and the same findings.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { compileModule } from '../../src/cli/compile.js';
import { runChecked } from '../../src/harness/checked-run.js';
import { main } from '../../src/cli/main.js';
import { compareAccessSize, formatAccessSizeTable } from '../../src/harness/access-size-compare.js';
import { hasGcc, ROOT, runtimeObject } from '../module/helpers.js';

if (!hasGcc) console.log('test/watch/access-size.test.ts: gcc not found: the C modules are skipped');

const MODULES = ['examples/kmemcheck/memcpy-shadow.c', 'examples/kmemcheck/uninit-kmalloc.c', 'examples/watch/stats.c', 'examples/watch/overlay.c', 'examples/watch/overflow.c', 'examples/mmio/counter-driver.c', 'examples/stack/uninit-local.c'];

describe.skipIf(!hasGcc)('--access-size emulate', () => {
  for (const path of MODULES) {
    it(`${path}: same console and findings as decode under kmemcheck and --stack cpl1, fewer exceptions`, () => {
      const object = compileModule(join(ROOT, path)).object;
      const [d, e] = (['decode', 'emulate'] as const).map((accessSize) =>
        runChecked(object, { name: path, runtime: runtimeObject(), heap: 'kmemcheck', stack: 'cpl1', services: { accessSize } }));
      expect(e!.error).toBeNull();
      expect(e!.run!.console).toBe(d!.run!.console);
      expect(e!.run!.exitCode).toBe(d!.run!.exitCode);
      const key = (f: { kind: string; access: string; size: number; address: number; eip: number; function: string | null }): unknown[] => [f.kind, f.access, f.size, f.address, f.eip, f.function];
      expect(e!.findings.map(key)).toEqual(d!.findings.map(key));
      const hs = (r: typeof d): { faults: number; steps: number; emulated: number } => (r!.checkers.heap as unknown as { hiding: { stats: { faults: number; steps: number; emulated: number } } }).hiding.stats;
      expect(hs(d).emulated).toBe(0);
      expect(hs(e).emulated).toBeGreaterThan(0);
      expect(hs(e).steps + hs(e).emulated).toBe(hs(d).steps);
      expect(hs(e).faults + hs(e).steps).toBeLessThan(hs(d).faults + hs(d).steps);
    });
  }

  it('kmemsim compare --access-size: one row per program and strategy, the totals, the same findings', () => {
    const p = { name: 'memcpy-shadow.c', object: compileModule(join(ROOT, 'examples/kmemcheck/memcpy-shadow.c')).object, stackUsage: null };
    const rows = compareAccessSize([p, { name: 'broken.c', error: 'cannot compile' }]);
    expect(rows.map((r) => [r.program, r.strategy])).toEqual([['memcpy-shadow.c', 'decode'], ['memcpy-shadow.c', 'debugreg'], ['memcpy-shadow.c', 'emulate'], ['broken.c', 'decode'], ['broken.c', 'debugreg'], ['broken.c', 'emulate']]);
    const [d, g, e] = rows as [typeof rows[0], typeof rows[0], typeof rows[0]];
    // memcpy's REP MOVS: the breakpoints see the source read, not the copy to the destination (a false finding).
    expect(g.wrong).toBeGreaterThan(0);
    expect(g.sameFindings).toBe(false);
    expect(d.exceptionsPerAccess).toBe(2);
    expect(e.exceptionsPerAccess).toBeLessThan(2);
    expect(e.accesses).toBe(d.accesses);
    expect(e.sameFindings && d.sameFindings).toBe(true);
    expect(d.findings).toBe(1);
    const text = formatAccessSizeTable(rows);
    expect(text.split('\n')[0]).toMatch(/^program +strategy +accesses +exc\/acc +wrong +unknown +findings +same +µs\/acc$/);
    expect(text).toMatch(/\n\(all\) +decode +\d+ +2\.00 +0 +0 +1 +yes +\d+\.\d\n/);
    expect(text).toMatch(/\n\(all\) +debugreg +\d+ +\d\.\d\d +[1-9]\d* +0 +\d+ +NO +\d+\.\d\n/);
    expect(text).toMatch(/\nbroken\.c +emulate +error: cannot compile\n/);
  });

  it('--access-size is refused for programs and --svg with compare --access-size is a usage error', async () => {
    const err: string[] = [];
    const io = { stdin: () => new Uint8Array(0), stdout: () => {}, stderr: (b: Uint8Array) => void err.push(Buffer.from(b).toString()) };
    expect(await main(['run', join(ROOT, 'build/examples/hello-O2'), '--access-size', 'emulate'], io)).toBe(2);
    expect(err.join('')).toMatch(/--access-size concern kernel modules/);
    expect(await main(['run', join(ROOT, 'examples/watch/stats.c'), '--access-size', 'guess'], io)).toBe(2);
    expect(await main(['compare', join(ROOT, 'examples/watch'), '--access-size', '--svg', '/tmp/x.svg'], io)).toBe(2);
  });
});
