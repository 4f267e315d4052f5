/**
 * A module whose init_module halts the CPU for good (src/kernel/module-run.ts
 * neverReturned()): `cli; hlt` can never resume — "init_module never
 * returned: the CPU halted with interrupts disabled at EIP …", exit status
 * 125; `sti; hlt` waits for an interrupt the module kernel (no timer, no
 * device) can never raise — a hung task, 124, detected at once instead of
 * after the budget. Neither is the 0 of a successful load.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runModule } from '../../src/kernel/module-run.js';
import { runChecked } from '../../src/harness/checked-run.js';
import { builtCliState, cli, hasAs, MODULES, NO_AS } from './helpers.js';

if (!hasAs) console.log(`test/module/halt.test.ts: ${NO_AS}`);

/** test/modules/halt.S assembled with (sti) or without (cli) WITH_STI, written to a temporary .o. */
function haltObject(sti: boolean): { bytes: Uint8Array; path: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-halt-'));
  const path = join(dir, sti ? 'halt-sti.o' : 'halt-cli.o');
  execFileSync('as', ['--32', ...(sti ? ['--defsym', 'WITH_STI=1'] : []), join(MODULES, 'halt.S'), '-o', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { bytes: new Uint8Array(readFileSync(path)), path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

describe.skipIf(!hasAs)('init_module halting the CPU', () => {
  it('cli; hlt: never returns, the CPU halted with interrupts disabled: 125, with the EIP of the HLT and its function', () => {
    const o = haltObject(false);
    try {
      const r = runModule(o.bytes, { name: 'halt-cli.o', runtime: null });
      expect(r.initCalled).toBe(true);
      expect(r.initReturn).toBeUndefined();
      expect(r.cleanupCalled).toBe(false);
      expect(r.exitCode).toBe(125);
      const init = r.module.object.globals.get('init_module')!;
      expect(r.stop).toMatchObject({ kind: 'halted', eip: (init + 1) >>> 0, interruptsEnabled: false });
      expect(r.stop!.kind === 'halted' && r.stop!.message).toBe(
        `init_module never returned: the CPU halted with interrupts disabled at EIP 0x${((init + 1) >>> 0).toString(16).padStart(8, '0')} init_module+0x1/0x0 [halt-cli]: nothing can wake it (a hard lockup)`,
      );
      // The same at CPL 1 (HLT is emulated by the ring-0 #GP handler) and under a checker.
      const c = runChecked(o.bytes, { name: 'halt-cli.o', runtime: null, stack: 'cpl1' });
      expect(c.run!.exitCode).toBe(125);
      expect(c.run!.stop).toMatchObject({ kind: 'halted', interruptsEnabled: false });
    } finally {
      o.cleanup();
    }
  });

  it('sti; hlt with no interrupt source: a hung task, 124 at once (the budget is not burnt)', () => {
    const o = haltObject(true);
    try {
      const r = runModule(o.bytes, { name: 'halt-sti.o', runtime: null });
      expect(r.exitCode).toBe(124);
      expect(r.stop).toMatchObject({ kind: 'halted', interruptsEnabled: true });
      expect(r.stop!.kind === 'halted' && r.stop!.message).toMatch(/^init_module never returned: the CPU halted at EIP 0x[0-9a-f]{8} init_module\+0x1\/0x0 \[halt-sti\] with interrupts enabled, waiting for an interrupt, and the kernel has no interrupt source \(no timer\): it would wait forever/);
      expect(r.instructions).toBeLessThan(10);
    } finally {
      o.cleanup();
    }
  });

  const skipCli = builtCliState(['src/kernel/module-run.ts', 'src/cli/describe.ts', 'src/cli/main.ts', 'src/cpu/stop.ts']);
  it.skipIf(skipCli !== null)('the CLI prints the reason and exits 125 / 124, in the JSON report too', () => {
    for (const [sti, status] of [[false, 125], [true, 124]] as const) {
      const o = haltObject(sti);
      try {
        const r = cli(['run', o.path]);
        expect(r.status).toBe(status);
        expect(r.stderr).toMatch(/^kmemsim: init_module never returned: the CPU halted /);
        const json = join(o.path + '.json');
        const c = cli(['run', o.path, '--stack', 'precise', '--report-json', json]);
        expect(c.status).toBe(status);
        const rep = JSON.parse(readFileSync(json, 'utf8'));
        expect(rep.exit).toMatchObject({ status, stop: { kind: 'halted' } });
        expect(rep.exit.stop.message).toMatch(/^init_module never returned/);
      } finally {
        o.cleanup();
      }
    }
  });
});
