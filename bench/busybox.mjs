#!/usr/bin/env node
/**
 * The busybox workload of `npm run bench`: Debian's busybox-static (i386)
 * running `sha256sum` of a generated file and `sort` of generated lines,
 * natively, under kmemsim (in-process, dist/) and under qemu-i386 when it is
 * installed — wall times measured in the same run, outputs compared.
 *
 *   node bench/busybox.mjs [--mib=N] [--lines=N] [--json]
 *
 * Defaults are small (1 MiB, 20,000 lines) so the bench stays short; the
 * issue's figures are --mib=16 --lines=200000. Busybox comes from
 * $KMEMSIM_BUSYBOX or build/busybox-i386/bin/busybox (.ci/run unpacks it);
 * without it the bench says so and exits 0.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { refusedElf } from './lib.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const o = { mib: 1, lines: 20000, json: false };
  for (const a of argv) {
    const [k, v] = a.split('=');
    if (a === '--help' || a === '-h') {
      console.log('usage: node bench/busybox.mjs [--mib=N] [--lines=N] [--json]');
      process.exit(0);
    }
    if (k === '--mib' && Number(v) > 0) o.mib = Number(v);
    else if (k === '--lines' && Number(v) > 0) o.lines = Number(v);
    else if (k === '--json') o.json = true;
    else {
      process.stderr.write(`usage: node bench/busybox.mjs [--mib=N] [--lines=N] [--json]\n`);
      process.exit(2);
    }
  }
  return o;
}

function findBusybox() {
  const env = process.env.KMEMSIM_BUSYBOX;
  if (env && existsSync(env)) return env;
  const p = join(ROOT, 'build/busybox-i386/bin/busybox');
  return existsSync(p) ? p : null;
}

/** Deterministic inputs: a file of pseudo-random bytes and lines of pseudo-random words. */
function makeInputs(dir, mib, lines) {
  let s = 0x12345678;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s);
  const bin = Buffer.alloc(mib << 20);
  for (let i = 0; i < bin.length; i += 4) bin.writeUInt32LE(next(), i);
  writeFileSync(join(dir, 'data.bin'), bin);
  const words = [];
  for (let i = 0; i < lines; i++) words.push(`${(next() % 1000000).toString(36)} line ${i % 97}\n`);
  writeFileSync(join(dir, 'lines.txt'), words.join(''));
}

function timeIt(fn) {
  const t0 = process.hrtime.bigint();
  const r = fn();
  return { ...r, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const bb = findBusybox();
  if (!bb) {
    console.log('busybox bench: skipped (busybox-static:i386 not found; set KMEMSIM_BUSYBOX or let .ci/run unpack it into build/busybox-i386)');
    return 0;
  }
  const { runUserProgram } = await import(join(ROOT, 'dist/kernel/process.js'));
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-bb-bench-'));
  makeInputs(dir, o.mib, o.lines);
  const elf = new Uint8Array(readFileSync(bb));
  const workloads = [
    { name: `sha256sum ${o.mib} MiB`, args: ['sha256sum', 'data.bin'] },
    { name: `sort ${o.lines} lines`, args: ['sort', 'lines.txt'] },
  ];
  const hasQemu = !spawnSync('qemu-i386', ['--version']).error;
  const rows = [];
  let failed = false;
  for (const w of workloads) {
    const native = timeIt(() => {
      const r = spawnSync(bb, w.args, { cwd: dir, maxBuffer: 1 << 28 });
      return { stdout: r.stdout.toString('latin1'), status: r.status, refused: refusedElf(bb, r) };
    });
    const kmem = timeIt(() => {
      const r = runUserProgram(elf, { argv: [bb, ...w.args], cwd: dir, env: ['LC_ALL=C'] });
      return { stdout: Buffer.from(r.stdout).toString('latin1'), status: r.exitCode, instructions: r.instructions };
    });
    const qemu = hasQemu ? timeIt(() => {
      const r = spawnSync('qemu-i386', [bb, ...w.args], { cwd: dir, maxBuffer: 1 << 28 });
      return { stdout: r.stdout.toString('latin1'), status: r.status };
    }) : null;
    // Where this host cannot execute i386 binaries, qemu-i386's output is the reference (and there is no native time).
    const reference = native.refused ? qemu : native;
    const same = reference !== null && kmem.stdout === reference.stdout && kmem.status === reference.status;
    if (!same) failed = true;
    rows.push({
      workload: w.name,
      instructions: kmem.instructions,
      nativeSeconds: native.refused ? null : native.seconds,
      kmemsimSeconds: kmem.seconds,
      mips: kmem.instructions / kmem.seconds / 1e6,
      vsNative: native.refused ? null : kmem.seconds / native.seconds,
      reference: native.refused ? 'qemu-i386' : 'native',
      qemuSeconds: qemu?.seconds ?? null,
      vsQemu: qemu ? kmem.seconds / qemu.seconds : null,
      sameOutput: same,
    });
  }
  if (o.json) console.log(JSON.stringify({ busybox: bb, rows }, null, 2));
  else {
    console.log(`\nbusybox workloads (${bb})`);
    const head = ['workload', 'guest instructions', 'native s', 'kmemsim s', 'guest MIPS', 'vs native', hasQemu ? 'qemu-i386 s' : 'qemu-i386', 'vs qemu', 'output'];
    const lines = rows.map((r) => [
      r.workload, String(r.instructions), r.nativeSeconds === null ? 'cannot run' : r.nativeSeconds.toFixed(3), r.kmemsimSeconds.toFixed(2), r.mips.toFixed(1),
      r.vsNative === null ? '' : `${r.vsNative.toFixed(0)}x`, r.qemuSeconds === null ? 'not installed' : r.qemuSeconds.toFixed(3),
      r.vsQemu === null ? '' : `${r.vsQemu.toFixed(0)}x`, r.sameOutput ? `same as ${r.reference}` : `DIFFERS from ${r.reference}`,
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
    for (const l of [head, ...lines]) console.log(l.map((c, i) => c.padEnd(widths[i])).join('  '));
  }
  return failed ? 1 : 0;
}

main().then((c) => process.exit(c));
