/**
 * Origins of uninitialized stack reads (`--stack precise`,
 * src/shadow/stack.ts originOf): the instruction that grew the stack over
 * the bytes read names the function whose frame they were — KMSAN's
 * "Uninit was created at" — in the text report and the JSON finding's
 * `origin`; the strategies that do not follow every instruction (cpl1)
 * give none.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { JsonReport } from '../../src/cli/check-command.js';
import { hasGcc, NO_GCC, RUNTIME } from '../module/helpers.js';

async function kmemsim(args: string[]): Promise<{ status: number; stderr: string }> {
  const err: Buffer[] = [];
  const status = await main(args, { stdout: () => {}, stderr: (b) => void err.push(Buffer.from(b)), stdin: () => new Uint8Array(0) });
  return { status, stderr: Buffer.concat(err).toString('latin1') };
}

const skip = !hasGcc ? NO_GCC : !existsSync(RUNTIME) ? `${RUNTIME} missing: run npm run build` : null;
if (skip) console.log(`test/shadow/stack-origin.test.ts: skipped: ${skip}`);

describe.skipIf(skip !== null)('origins of uninitialized stack reads', () => {
  it('--stack precise: the read in report() of init_module()\'s local is created by init_module\'s frame', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-origin-'));
    try {
      const r = await kmemsim(['run', 'examples/stack/uninit-local.c', '--stack', 'precise', '--report-json', join(dir, 'r.json')]);
      expect(r.status).toBe(99);
      expect(r.stderr).toMatch(/Uninit was created at: the stack frame of init_module, grown by\n \[<c[0-9a-f]{7}>\] init_module\+0x[0-9a-f]+\/0x[0-9a-f]+ \[examples\/stack\/uninit-local\.c:3[4-9]\]/); // the first instruction after the frame grew (the oracle learns ESP moved there)
      const f = (JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as JsonReport).findings[0]!;
      expect(f).toMatchObject({ function: 'report', region: 'stack' });
      expect(f.origin).toMatchObject({ function: 'init_module', file: 'examples/stack/uninit-local.c' });
      expect(f.origin!.line).toBeGreaterThanOrEqual(34);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--stack cpl1 finds the read but keeps no origins', async () => {
    const r = await kmemsim(['run', 'examples/stack/uninit-local.c', '--stack', 'cpl1']);
    expect(r.status).toBe(99);
    expect(r.stderr).toMatch(/uninitialized stack memory/);
    expect(r.stderr).not.toMatch(/Uninit was created at/);
  });
});
