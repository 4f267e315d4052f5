/**
 * `kmemsim run … | head -1`: when the reader of kmemsim's stdout goes away,
 * kmemsim stops at once with status 141 (128 + SIGPIPE) and says nothing —
 * no "internal error: EPIPE" (src/cli/io.ts writeAll).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findBusybox, ROOT } from '../linux/harness.js';

const bb = findBusybox();
if (bb.skip) console.warn(`test/cli/epipe.test.ts: skipped: ${bb.skip}`);

describe.skipIf(!bb.path)('a closed stdout pipe', () => {
  it('busybox yes under kmemsim, its reader gone after the first bytes: exit 141, nothing on stderr', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/kmemsim.js'), 'run', bb.path!, '--', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    expect(stderr).toBe('');
    expect(status).toBe(141);
  }, 60_000);
});
