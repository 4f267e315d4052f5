/**
 * Heap findings say which object they hit and where it came from
 * (src/shadow/object-owner.ts): the cache, its size, the offset of the
 * access, the allocation stack (the origin of an uninitialized read) and,
 * for freed memory, the free stack — as the object was when the error was
 * caught (a write past an object that is freed later is not "freed") — in
 * the text report (KASAN's lines), the JSON report and SARIF.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { JsonReport } from '../../src/cli/check-command.js';
import { hasGcc, NO_GCC, RUNTIME } from '../module/helpers.js';

async function kmemsim(args: string[]): Promise<{ status: number; stderr: string; stdout: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const status = await main(args, { stdout: (b) => void out.push(Buffer.from(b)), stderr: (b) => void err.push(Buffer.from(b)), stdin: () => new Uint8Array(0) });
  return { status, stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString('latin1') };
}

const skip = !hasGcc ? NO_GCC : !existsSync(RUNTIME) ? `${RUNTIME} missing: run npm run build` : null;
if (skip) console.log(`test/shadow/object-owner.test.ts: skipped: ${skip}`);

async function report(args: string[]): Promise<{ stderr: string; json: JsonReport; sarif: { runs: { results: { stacks: { message: { text: string } }[]; properties: Record<string, unknown> }[] }[] } }> {
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-owner-'));
  try {
    const r = await kmemsim([...args, '--report-json', join(dir, 'r.json'), '--report-sarif', join(dir, 'r.sarif')]);
    expect(r.status).toBe(99);
    return { stderr: r.stderr, json: JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as JsonReport, sarif: JSON.parse(readFileSync(join(dir, 'r.sarif'), 'utf8')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(skip !== null)('heap findings with the object, its allocation and free stacks', () => {
  it('use after free: the object, the offset, "Allocated" at the kmalloc line and "Freed" at the kfree line', async () => {
    const { stderr, json, sarif } = await report(['run', 'examples/kmemcheck/use-after-free.c', '--kmemcheck']);
    expect(stderr).toMatch(/The buggy address belongs to the object at c[0-9a-f]{7}\n which belongs to the cache kmalloc-16 of size 16\nThe buggy address is located 8 bytes inside of\n 16-byte region \[c[0-9a-f]{7}, c[0-9a-f]{7}\), freed \(kmalloc\(12\)\)\nAllocated \(instruction \d+\):\n \[<c[0-9a-f]{7}>\] \? init_module\+0x[0-9a-f]+\/0x[0-9a-f]+ \[examples\/kmemcheck\/use-after-free\.c:20\]\n[^]*Freed \(instruction \d+\):\n \[<c[0-9a-f]{7}>\] \? init_module\+0x[0-9a-f]+\/0x[0-9a-f]+ \[examples\/kmemcheck\/use-after-free\.c:27\]/);
    const o = json.findings[0]!.object!;
    expect(o).toMatchObject({ cache: 'kmalloc-16', size: 16, requested: 12, offset: 8 });
    expect(o.address + o.offset).toBe(json.findings[0]!.address);
    expect(o.allocated.stack[0]).toMatchObject({ function: 'init_module', line: 20 });
    expect(o.freed!.stack[0]).toMatchObject({ function: 'init_module', line: 27 });
    expect(o.freed!.icount).toBeGreaterThan(o.allocated.icount);
    const result = sarif.runs[0]!.results[0]!;
    expect(result.stacks.map((s) => s.message.text.replace(/\d+/, 'N'))).toEqual(['Call stack at the access', 'Allocated (instruction N)', 'Freed (instruction N)']);
    expect(result.properties['object']).toMatchObject({ cache: 'kmalloc-16', offset: 8, freed: true });
  });

  it('an uninitialized read: the allocation is the origin, nothing freed', async () => {
    const { json, stderr } = await report(['run', 'examples/kmemcheck/uninit-kmalloc.c', '--kmemcheck']);
    const o = json.findings[0]!.object!;
    expect(o).toMatchObject({ cache: 'kmalloc-8', size: 8, offset: 4, freed: null });
    expect(o.allocated.stack[0]).toMatchObject({ function: 'init_module', line: 21 });
    expect(stderr).not.toMatch(/Freed \(instruction/);
  });

  it('a write past the end, caught before the object is freed: "to the right of", not freed; the later write into it: freed', async () => {
    const { json } = await report(['run', 'examples/kmemcheck/write-past-and-after-free.c', '--kmemcheck', '--kmemcheck-writes']);
    const [past, after] = json.findings;
    expect(past).toMatchObject({ kind: 'unallocated', access: 'write' });
    expect(past!.object).toMatchObject({ size: 8, offset: 8, freed: null });
    expect(after).toMatchObject({ kind: 'freed', access: 'write' });
    expect(after!.object).toMatchObject({ size: 8, offset: 0 });
    expect(after!.object!.freed!.stack[0]).toMatchObject({ function: 'init_module', line: 32 });
  });

  it('stack findings have no object', async () => {
    const r = await kmemsim(['run', 'examples/stack/uninit-local.c', '--stack', 'precise', '--kmemcheck']);
    expect(r.status).toBe(99);
    expect(r.stderr).not.toMatch(/buggy address/);
  });
});
