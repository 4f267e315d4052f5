#!/usr/bin/env node
/**
 * bench/run.mjs — plain-mode speed on a user program (`npm run bench` builds
 * first and runs this, then bench/checkers.mjs and bench/busybox.mjs).
 *
 *   node bench/run.mjs [--rounds=N] [--cold-rounds=N] [--runs=N] [--cold-runs=N]
 *                      [--native-runs=N] [--peer-runs=N] [--startup-runs=N] [--no-peers] [--json]
 *
 * The workload is build/bench/workload (bench/workload.c, static i386, -O2,
 * about 4.8 million instructions per round). It runs
 *   - natively (the host runs i386 binaries), under qemu-i386 and under
 *     Valgrind's no-op tool and Memcheck when they are installed: the peers,
 *     with --rounds (default 60, ≈ 290 M instructions);
 *   - in kmemsim steady: runUserProgram in this process, after a warm-up
 *     run, median of --runs (default 5) — V8 has compiled kmemsim and the
 *     block functions, so this is the cost of running guest code;
 *   - in kmemsim cold: a fresh `kmemsim run build/bench/workload N` process
 *     (node bin/kmemsim.js) with --cold-rounds (default 25, ≈ 120 M
 *     instructions), median of --cold-runs (default 3): start-up, boot and
 *     V8 warm-up included, what a user waits for.
 * Start-up: `kmemsim run build/examples/hello-O2` in fresh processes
 * (--startup-runs, default 11: CPU per run, median and best wall) beside
 * `node -e 0`, Node's own start-up.
 * Every run must print the native run's output (the checksums). Each row
 * gives CPU seconds (user + system; see lib.mjs) and wall seconds, guest
 * MIPS per CPU second, and ratios to native and to kmemsim steady, by CPU
 * time. --json prints the same as one JSON object.
 *
 * Exit status: 0 when every run that could run agreed with native (with
 * qemu-i386 where the host cannot execute i386 binaries: then there is no
 * "vs native" column); 1 when one failed or disagreed, or there was no
 * reference to check against; 2 on a usage error or a missing build.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, fmtInt, fmtRatio, fmtSeconds, inProcess, kmemsimCold, machine, median, parseOptions, printTable, ratio, referenceOf, requireFile, runChild, runPeers } from './lib.mjs';

const USAGE = 'usage: node bench/run.mjs [--rounds=N] [--cold-rounds=N] [--runs=N] [--cold-runs=N] [--native-runs=N] [--peer-runs=N] [--startup-runs=N] [--no-peers] [--json]';
const WORKLOAD = join(ROOT, 'build/bench/workload');
const PROCESS_JS = join(ROOT, 'dist/kernel/process.js');

const opts = parseOptions(process.argv.slice(2), { rounds: 60, coldRounds: 25, runs: 5, coldRuns: 3, nativeRuns: 11, peerRuns: 3, startupRuns: 11, noPeers: false, json: false }, USAGE);
requireFile(WORKLOAD, 'run npm run build (needs gcc and binutils)');
requireFile(PROCESS_JS, 'run npm run build');

const { runUserProgram } = await import(pathToFileURL(PROCESS_JS).href);
const elf = new Uint8Array(readFileSync(WORKLOAD));
const args = [String(opts.rounds)];
const coldArgs = [String(opts.coldRounds)];
const checksum = (out) => /total: ([0-9a-f]{8})|checksum: ([0-9a-f]{8})/.exec(out ?? '')?.slice(1).find(Boolean) ?? null;
const problems = [];

// The peers, on the steady-state arguments; native on the cold ones too.
const peers = runPeers(WORKLOAD, args, { nativeRuns: opts.nativeRuns, peerRuns: opts.peerRuns, peers: !opts.noPeers });
const native = peers[0];
const nativeCold = runChild(WORKLOAD, coldArgs, { runs: opts.nativeRuns });
// The output every run must print: native's, or qemu-i386's where the host cannot run i386 code.
const reference = referenceOf(peers);
const referenceCold = !nativeCold.error || reference === null ? { name: 'native', ...nativeCold } : { name: reference.name, ...runChild('qemu-i386', [WORKLOAD, ...coldArgs]) };
if (reference === null) problems.push(`no reference output: native: ${native.error}; qemu-i386 not installed`);

// kmemsim steady: in this process, after a warm-up run.
const decoder = new TextDecoder('latin1');
const runInProcess = (argv) => {
  const r = runUserProgram(elf, { argv: ['workload', ...argv], env: [], maxInstructions: 1e11 });
  return { stdout: decoder.decode(r.stdout), status: r.exitCode, instructions: r.instructions, stop: r.stop };
};
inProcess(() => runInProcess(['5']));
const samples = Array.from({ length: opts.runs }, () => inProcess(() => runInProcess(args)));
const steady = samples[0].value;
if (steady.stop?.kind !== 'exited') problems.push(`kmemsim steady stopped: ${steady.stop?.kind} ${steady.stop?.message ?? ''}`);
if (samples.some((s) => s.value.stdout !== steady.stdout || s.value.instructions !== steady.instructions)) problems.push('kmemsim steady runs are not deterministic');

// kmemsim cold: fresh processes; the instruction count from --verbose's last line.
const cold = kmemsimCold(['run', relative(process.cwd(), WORKLOAD), '--verbose', '--', ...coldArgs], { runs: opts.coldRuns });
const coldInstructions = Number(/([\d,]+) instructions executed/.exec(cold.stderr ?? '')?.[1]?.replace(/,/g, '') ?? NaN);

// Start-up: a tiny program, fresh processes, against Node's own start-up.
const HELLO = join(ROOT, 'build/examples/hello-O2');
const startup = {
  node: runChild(process.execPath, ['-e', '0'], { runs: opts.startupRuns }),
  kmemsim: kmemsimCold(['run', relative(process.cwd(), HELLO)], { runs: opts.startupRuns }),
};
if (startup.kmemsim.error) problems.push(`start-up: ${startup.kmemsim.error}`);

const rows = [];
const add = (name, r, instructions, base) => {
  if (r.error) {
    rows.push({ name, error: r.error });
    return;
  }
  const same = base === undefined || base === null || base.error || (r.stdout === base.stdout && r.status === base.status);
  if (!same) problems.push(`${name}: output differs from ${base.name}'s (checksum ${checksum(r.stdout)} vs ${checksum(base.stdout)}, exit ${r.status} vs ${base.status})`);
  rows.push({ name, cpu: r.cpu, wall: r.wall, instructions, checksum: checksum(r.stdout), ok: same });
};
for (const p of peers) add(p.name, p, null, p === reference ? undefined : reference);
const steadyRow = { cpu: median(samples.map((s) => s.cpu)), wall: median(samples.map((s) => s.wall)), stdout: steady.stdout, status: steady.status };
add(`kmemsim steady (median of ${opts.runs})`, steadyRow, steady.instructions, reference);
add(`native, ${opts.coldRounds} rounds`, nativeCold, null);
add(`kmemsim cold, ${opts.coldRounds} rounds (median of ${opts.coldRuns})`, cold, coldInstructions, referenceCold);

const steadyCpu = steadyRow.cpu;
for (const r of rows) {
  if (r.error) continue;
  const cold = r.name.includes(`${opts.coldRounds} rounds`);
  const nat = cold ? nativeCold : native;
  r.mips = r.instructions ? r.instructions / r.cpu / 1e6 : null;
  r.vsNative = ratio(r.cpu, nat.error ? null : nat.cpu);
  r.vsNativeWall = ratio(r.wall, nat.error ? null : nat.wall);
  // Against kmemsim steady, per guest instruction (the cold run has fewer rounds).
  r.vsSteady = r.name.startsWith('kmemsim') ? ratio(r.cpu / r.instructions, steadyCpu / steady.instructions) : null;
}

const report = {
  machine: machine(),
  workload: { path: 'build/bench/workload', rounds: opts.rounds, coldRounds: opts.coldRounds, instructions: steady.instructions, coldInstructions },
  reference: reference?.name ?? null,
  rows,
  startup: Object.fromEntries(Object.entries(startup).map(([k, r]) => [k, r.error ? { error: r.error } : { cpu: r.cpu, wall: r.wall, bestWall: Math.min(...r.walls) }])),
  problems,
};
if (opts.json) console.log(JSON.stringify(report, null, 2));
else {
  const m = report.machine;
  console.log(`kmemsim bench: build/bench/workload ${opts.rounds} rounds (${fmtInt(steady.instructions)} guest instructions); node ${m.node}, ${m.cpu}, ${m.cores} cores, load average ${m.loadavg.join(' ')}`);
  console.log('CPU s = user + system time; ratios by CPU time (wall-time ratio in brackets)');
  console.log(reference?.name === 'qemu-i386' ? `outputs checked against qemu-i386's (native: ${native.error})\n` : '');
  printTable(
    ['run', 'CPU s', 'wall s', 'guest MIPS', 'vs native', 'vs steady', 'checksum'],
    rows.map((r) =>
      r.error
        ? [r.name, 'n/a', '', '', '', '', r.error]
        : [r.name, fmtSeconds(r.cpu), fmtSeconds(r.wall), r.mips ? r.mips.toFixed(1) : '', r.vsNative ? `${fmtRatio(r.vsNative)} (${fmtRatio(r.vsNativeWall)})` : '', r.vsSteady ? fmtRatio(r.vsSteady) : '', `${r.checksum ?? '-'} ${r.ok ? 'ok' : 'MISMATCH'}`],
    ),
  );
  const st = report.startup;
  console.log(`\nstart-up (${opts.startupRuns} fresh processes each): kmemsim run build/examples/hello-O2 ${fmtSeconds(st.kmemsim.cpu)} CPU s, wall median ${fmtSeconds(st.kmemsim.wall)} s, best ${fmtSeconds(st.kmemsim.bestWall)} s; node -e 0 ${fmtSeconds(st.node.cpu)} CPU s, wall median ${fmtSeconds(st.node.wall)} s, best ${fmtSeconds(st.node.bestWall)} s`);
  console.log(`kmemsim steady runs, CPU s: ${samples.map((s) => s.cpu.toFixed(3)).join(' ')}; wall s: ${samples.map((s) => s.wall.toFixed(3)).join(' ')}`);
  for (const p of problems) console.log(`problem: ${p}`);
}
process.exit(problems.length ? 1 : 0);
