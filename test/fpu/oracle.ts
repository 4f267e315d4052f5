/**
 * The host's x87 as the reference for the floatx80 tests: compiles test/fpu/x87-oracle.c with
 * `gcc -m32 -O0` once per run and feeds it batches of cases on stdin.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canRunNativeI386 } from '../differential/native.js';

export interface OracleCase {
  op: string;
  cw: number;
  a: Uint8Array;
  b: Uint8Array;
}

export interface OracleResult {
  r1: Uint8Array;
  r2: Uint8Array;
  sw: number;
}

let exe: string | undefined;
let probe: { ok: boolean; why: string } | undefined;

/** Can the host run the oracle? `why` names what is missing. */
export function oracleAvailable(): { ok: boolean; why: string } {
  if (probe) return probe;
  const base = canRunNativeI386();
  if (!base.ok) return (probe = base);
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-x87-'));
  const src = fileURLToPath(new URL('./x87-oracle.c', import.meta.url));
  const out = join(dir, 'x87-oracle');
  const r = spawnSync('gcc', ['-m32', '-O0', '-o', out, src], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    return (probe = { ok: false, why: `cannot build the x87 oracle with gcc -m32 (install gcc-multilib): ${r.error?.message ?? r.stderr}` });
  }
  exe = out;
  return (probe = { ok: true, why: 'host x87 available' });
}

export function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < 10; i++) s += (b[i] ?? 0).toString(16).padStart(2, '0');
  return s;
}

function unhex(s: string): Uint8Array {
  const out = new Uint8Array(10);
  for (let i = 0; i < 10; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Run a batch of cases on the host x87. */
export function runOracle(cases: OracleCase[]): OracleResult[] {
  if (!exe) throw new Error('x87 oracle not built (call oracleAvailable first)');
  const input = cases.map((c) => `${c.op} ${c.cw.toString(16)} ${hex(c.a)} ${hex(c.b)}\n`).join('');
  const r = spawnSync(exe, [], { input, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`x87 oracle failed (status ${r.status}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  if (lines.length !== cases.length) throw new Error(`x87 oracle answered ${lines.length} of ${cases.length} cases`);
  return lines.map((l) => {
    const [r1, r2, sw] = l.split(' ');
    return { r1: unhex(r1!), r2: unhex(r2!), sw: parseInt(sw!, 16) };
  });
}
