#!/usr/bin/env node
/**
 * bench/run.mjs — kmemsim's speed benchmark (`npm run bench` builds first).
 *
 *   node bench/run.mjs [--rounds=N] [--runs=N] [--native-runs=N] [--modes=a,b] [--json]
 *
 * Runs build/bench/workload (bench/workload.c, static i386, -O2):
 *   - natively (the host runs i386 binaries directly): median wall time of
 *     --native-runs (default 5);
 *   - in kmemsim, once per mode in MODES (median of --runs, default 5, after
 *     one small warm-up run so V8 has compiled the interpreter),
 * checks that every run printed the same stdout and exit status as the
 * native run (the workload ends with "checksum: XXXXXXXX"), and prints guest
 * instructions, wall seconds, guest MIPS, the ratio to native and to plain
 * kmemsim, plus the Node version and CPU model. --json prints the same data
 * as one JSON object instead. Native wall times include process start-up
 * (a millisecond or so); kmemsim times are runUserProgram calls in this process.
 *
 * Adding a checking mode (kmemcheck, CPL-1 stack tracking, ...) is one more
 * entry in MODES with the extra runUserProgram options it needs.
 *
 * Exit status: 0 when every available run agreed with the native output,
 * 1 when a kmemsim run failed or disagreed, 2 on a usage error or when the
 * workload is not built.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORKLOAD = join(ROOT, 'build/bench/workload');
const PROCESS_JS = join(ROOT, 'dist/kernel/process.js');
const DEFAULT_ROUNDS = 60; // ≈ 290 million guest instructions

/**
 * kmemsim configurations to measure. `options` is merged into the
 * runUserProgram options; the first mode is the baseline for "vs plain".
 */
const MODES = [
  { name: 'plain', description: 'interpreter, no checking', options: {} },
  // Later: { name: 'kmemcheck', description: '...', options: { check: 'kmemcheck' } }, ...
];

function parseArgs(argv) {
  const o = { rounds: DEFAULT_ROUNDS, runs: 5, nativeRuns: 5, json: false, modes: MODES.map((m) => m.name) };
  for (const a of argv) {
    const [k, v] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, ''];
    const num = () => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) usage(`${k} needs a positive integer`);
      return n;
    };
    if (k === '--rounds') o.rounds = num();
    else if (k === '--runs') o.runs = num();
    else if (k === '--native-runs') o.nativeRuns = num();
    else if (k === '--json') o.json = true;
    else if (k === '--modes') o.modes = v.split(',').filter(Boolean);
    else if (k === '--help' || k === '-h') usage(null);
    else usage(`unknown option ${a}`);
  }
  for (const m of o.modes) if (!MODES.some((x) => x.name === m)) usage(`unknown mode ${m} (known: ${MODES.map((x) => x.name).join(', ')})`);
  return o;
}

function usage(err) {
  const text = 'usage: node bench/run.mjs [--rounds=N] [--runs=N] [--native-runs=N] [--modes=plain,...] [--json]';
  if (err) {
    console.error(`bench: ${err}\n${text}`);
    process.exit(2);
  }
  console.log(text);
  process.exit(0);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const checksumOf = (stdout) => /checksum: ([0-9a-f]{8})/.exec(stdout)?.[1] ?? null;
const now = () => Number(process.hrtime.bigint()) / 1e9;

function runNative(args, runs) {
  const times = [];
  let first = null;
  for (let i = 0; i < runs; i++) {
    const t0 = now();
    const r = spawnSync(WORKLOAD, args, { argv0: 'workload', env: {}, maxBuffer: 1 << 20 });
    const t = now() - t0;
    if (r.error) return { available: false, error: `cannot run i386 binaries natively here (${r.error.code ?? r.error.message})` };
    const res = { stdout: r.stdout.toString('latin1'), exitCode: r.status ?? -1 };
    if (first && (res.stdout !== first.stdout || res.exitCode !== first.exitCode)) {
      return { available: false, error: 'native runs disagree with each other' };
    }
    first ??= res;
    times.push(t);
  }
  return { available: true, ...first, checksum: checksumOf(first.stdout), times, seconds: median(times) };
}

async function loadKmemsim() {
  if (!existsSync(PROCESS_JS)) return { error: `${PROCESS_JS} missing: run npm run build` };
  try {
    const mod = await import(pathToFileURL(PROCESS_JS).href);
    if (typeof mod.runUserProgram !== 'function') return { error: 'dist/kernel/process.js has no runUserProgram' };
    return { runUserProgram: mod.runUserProgram };
  } catch (e) {
    return { error: `cannot load dist/kernel/process.js: ${e.message}` };
  }
}

function runKmemsim(runUserProgram, elf, args, mode, runs, rounds) {
  const decoder = new TextDecoder('latin1');
  const budget = rounds * 20_000_000 + 100_000_000;
  const once = (argv) => {
    const t0 = now();
    const r = runUserProgram(elf, { argv, env: [], maxInstructions: budget, ...mode.options });
    const t = now() - t0;
    return { seconds: t, stdout: decoder.decode(r.stdout), exitCode: r.exitCode, instructions: r.instructions, stop: r.stop };
  };
  try {
    once(['workload', '1']); // warm-up: let V8 optimize the interpreter
    const results = [];
    for (let i = 0; i < runs; i++) results.push(once(['workload', ...args]));
    const first = results[0];
    const problems = [];
    if (first.stop?.kind !== 'exited') problems.push(`stopped: ${first.stop?.kind}${first.stop?.message ? ` (${first.stop.message})` : ''}`);
    if (results.some((r) => r.stdout !== first.stdout || r.instructions !== first.instructions)) problems.push('runs are not deterministic');
    const times = results.map((r) => r.seconds);
    const seconds = median(times);
    return {
      available: true,
      instructions: first.instructions,
      times,
      seconds,
      mips: first.instructions / seconds / 1e6,
      stdout: first.stdout,
      exitCode: first.exitCode,
      checksum: checksumOf(first.stdout),
      problems,
    };
  } catch (e) {
    return { available: false, error: `runUserProgram threw: ${e?.message ?? e}` };
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(WORKLOAD)) {
    console.error(`bench: ${WORKLOAD} missing: run npm run build (needs gcc and binutils)`);
    process.exit(2);
  }
  const args = [String(opts.rounds)];
  const elf = new Uint8Array(readFileSync(WORKLOAD));
  const native = runNative(args, opts.nativeRuns);
  const km = await loadKmemsim();

  const rows = [];
  for (const name of opts.modes) {
    const mode = MODES.find((m) => m.name === name);
    const r = km.error ? { available: false, error: km.error } : runKmemsim(km.runUserProgram, elf, args, mode, opts.runs, opts.rounds);
    if (r.available && native.available && (r.stdout !== native.stdout || r.exitCode !== native.exitCode)) {
      r.problems.push(`output differs from native (checksum ${r.checksum ?? 'none'} vs ${native.checksum}, exit ${r.exitCode} vs ${native.exitCode})`);
    }
    rows.push({ mode: name, description: mode.description, ...r });
  }
  const base = rows.find((r) => r.available);
  for (const r of rows) {
    if (!r.available) continue;
    r.vsNative = native.available ? r.seconds / native.seconds : null;
    r.vsPlain = base ? r.seconds / base.seconds : null;
  }

  const cpuList = cpus();
  const report = {
    node: process.version,
    cpu: cpuList[0]?.model?.trim() ?? 'unknown',
    cores: cpuList.length,
    workload: { path: 'build/bench/workload', rounds: opts.rounds },
    native: native.available
      ? { seconds: native.seconds, times: native.times, checksum: native.checksum, exitCode: native.exitCode }
      : { error: native.error },
    modes: rows.map(({ stdout: _stdout, ...r }) => r),
  };
  const failed = rows.some((r) => !r.available || r.problems.length);

  if (opts.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    printTable(report, native, rows);
  }
  process.exit(failed ? 1 : 0);
}

function printTable(report, native, rows) {
  const fmtInt = (n) => n.toLocaleString('en-US');
  console.log(`kmemsim bench: build/bench/workload ${report.workload.rounds} rounds`);
  console.log(`node ${report.node}, ${report.cpu} (${report.cores} cores)`);
  console.log('');
  const header = ['run', 'guest instructions', 'wall s', 'guest MIPS', 'vs native', 'vs plain', 'checksum'];
  const table = [header];
  table.push([
    'native',
    '',
    native.available ? native.seconds.toFixed(3) : 'n/a',
    '',
    native.available ? '1.0x' : '',
    '',
    native.available ? native.checksum ?? '(none)' : '',
  ]);
  for (const r of rows) {
    if (!r.available) {
      table.push([`kmemsim ${r.mode}`, 'unavailable', '', '', '', '', '']);
      continue;
    }
    table.push([
      `kmemsim ${r.mode}`,
      fmtInt(r.instructions),
      r.seconds.toFixed(3),
      r.mips.toFixed(1),
      r.vsNative == null ? '' : `${r.vsNative.toFixed(0)}x`,
      r.vsPlain == null ? '' : `${r.vsPlain.toFixed(2)}x`,
      `${r.checksum ?? '(none)'} ${r.problems.length ? 'MISMATCH' : 'ok'}`,
    ]);
  }
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i].length)));
  for (const row of table) {
    console.log(row.map((c, i) => (i === 0 || i === row.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd());
  }
  if (!native.available) console.log(`\nnative: ${native.error}`);
  for (const r of rows) {
    if (!r.available) console.log(`\nkmemsim ${r.mode}: ${r.error}`);
    else for (const p of r.problems) console.log(`\nkmemsim ${r.mode}: ${p}`);
  }
  if (native.available) console.log(`\nnative runs (s): ${native.times.map((t) => t.toFixed(3)).join(' ')}`);
  for (const r of rows) if (r.available) console.log(`kmemsim ${r.mode} runs (s): ${r.times.map((t) => t.toFixed(3)).join(' ')}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
