#!/usr/bin/env node
/**
 * bench/checkers.mjs — what each checker costs (`npm run bench` runs it
 * after bench/run.mjs).
 *
 *   node bench/checkers.mjs [--rounds=N] [--runs=N] [--warmup=N] [--cold-runs=N]
 *                           [--native-runs=N] [--peer-runs=N] [--no-peers] [--no-cold] [--json]
 *
 * The workload is bench/modules/kernel-workload.c, a loop-heavy kernel
 * module (kmalloc'd lists, sorting on the stack, CRC over a buffer,
 * recursion, memcpy/memset; --rounds, default 100, ≈ 7 million
 * instructions), compiled once with the flags `kmemsim compare` uses (the
 * module flags with -pg -mfentry, so every mode runs the very same object).
 * It runs in kmemsim
 *   plain       no checker
 *   kmemcheck   the fault-driven heap checker (--kmemcheck)
 *   inline      the precise inline heap checker (--kmemcheck --kmemcheck-inline)
 *   precise     exact stack liveness (--stack precise)
 *   cpl1        the kernel at CPL 1, its stack pages hidden (--stack cpl1)
 *   ftrace      ftrace stack-frame poisoning (--stack ftrace)
 * steady — runChecked() in this process, each machine's RAM released to the
 * pool for the next (CheckedRunResult.release, as `kmemsim compare` does),
 * after --warmup (default 5) passes over the modes, median of --runs
 * (default 7: a run of the cheaper modes that a garbage collection of the
 * others lands in costs twice its neighbours) passes over the modes, interleaved — and cold: a fresh `kmemsim run OBJECT
 * FLAGS` process, median of --cold-runs (default 1). The same source built
 * as an ordinary static i386 program (bench/native/kmemsim/kernel.h maps
 * kmalloc to malloc, printk to printf; needs gcc-multilib) runs natively,
 * under qemu-i386 and under Valgrind's no-op tool and Memcheck, the peers.
 * Every run must print the same checksum and no checker may report
 * anything (every byte the module reads was written).
 *
 * Reported per row: guest instructions, CPU and wall seconds, MIPS per CPU
 * second, the ratio to kmemsim plain and to native (CPU time), and for the
 * fault-driven modes the faults on hidden pages and single steps: tracked
 * accesses (single steps over a hidden page) per CPU second and faults per
 * tracked access (1.00 when the access decoder predicted every page).
 *
 * Exit status: 0 when everything agreed; 1 when a run failed, disagreed or
 * found something; 2 on a usage error or a missing build.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CHECKER_MODES as MODES, ROOT, fail, fmtInt, fmtRatio, fmtSeconds, inProcess, kmemsimCold, machine, median, parseOptions, printTable, ratio, referenceOf, requireFile, runPeers } from './lib.mjs';

const USAGE = 'usage: node bench/checkers.mjs [--rounds=N] [--runs=N] [--warmup=N] [--cold-runs=N] [--native-runs=N] [--peer-runs=N] [--no-peers] [--no-cold] [--json]';
const SOURCE = join(ROOT, 'bench/modules/kernel-workload.c');
const opts = parseOptions(process.argv.slice(2), { rounds: 100, runs: 7, warmup: 5, coldRuns: 1, nativeRuns: 51, peerRuns: 3, noPeers: false, noCold: false, json: false }, USAGE);


for (const f of ['dist/cli/compile.js', 'dist/harness/checked-run.js']) requireFile(join(ROOT, f), 'run npm run build');
const { compileModule } = await import(pathToFileURL(join(ROOT, 'dist/cli/compile.js')).href);
const { runChecked } = await import(pathToFileURL(join(ROOT, 'dist/harness/checked-run.js')).href);

const cflags = [`-DROUNDS=${opts.rounds}`];
let compiled;
try {
  compiled = compileModule(SOURCE, { ftrace: true, cflags });
} catch (e) {
  fail(`cannot compile ${SOURCE}: ${e.message}`);
}
const dir = mkdtempSync(join(tmpdir(), 'kmemsim-bench-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const objectPath = join(dir, 'kernel-workload.o');
writeFileSync(objectPath, compiled.object);

const checksum = (text) => /checksum: ([0-9a-f]{8})/.exec(text ?? '')?.[1] ?? null;
const problems = [];

// The peers: the same source as a static i386 program.
let peers;
const nativeBinary = join(dir, 'kernel-workload');
const cc = process.env.CC || 'gcc';
const build = (await import('node:child_process')).spawnSync(cc, ['-m32', '-static', '-O2', '-march=i686', '-fno-pic', ...cflags, `-I${join(ROOT, 'bench/native')}`, SOURCE, '-o', nativeBinary], { encoding: 'latin1' });
if (build.error || build.status !== 0) {
  const why = build.error ? build.error.message : build.stderr.split('\n').find((l) => l.includes('error')) ?? `exit status ${build.status}`;
  peers = [{ name: 'native', error: `cannot build the native program (gcc -m32 -static needs gcc-multilib): ${why}` }];
} else {
  peers = runPeers(nativeBinary, [], { nativeRuns: opts.nativeRuns, peerRuns: opts.peerRuns, peers: !opts.noPeers });
}
const native = peers[0];
// The checksum every run must print: native's, or qemu-i386's where the host cannot run i386 code.
const reference = referenceOf(peers);

/**
 * Steady state: --warmup passes over the modes first (V8 compiles kmemsim's code paths for all of them;
 * the generated block functions of the JavaScript tier, shared between runs, take several runs to be
 * optimized: a checker's second run costs 2–4 times its sixth), then --runs passes over the modes,
 * interleaved so that a change in the machine's load hits every mode alike.
 */
function steadyAll() {
  // Each run's machine goes back to the RAM pool (CheckedRunResult.release), inside the measured time: the
  // next run reuses its memory, as `kmemsim compare` does, instead of allocating 80 MiB that V8 answers with
  // garbage collections. Only the result's data (instructions, console, findings, summary) is read after.
  const once = (mode) =>
    inProcess(() => {
      const r = runChecked(compiled.object, { ...mode.options, name: 'kernel-workload', stackUsage: compiled.stackUsage });
      r.release();
      return r;
    });
  for (let w = 0; w < opts.warmup; w++) for (const mode of MODES) once(mode);
  const samples = new Map(MODES.map((m) => [m, []]));
  for (let i = 0; i < opts.runs; i++) for (const mode of MODES) samples.get(mode).push(once(mode));
  const out = new Map();
  for (const [mode, s] of samples) {
    const r = s[0].value;
    if (!r.run) throw new Error(`${mode.name}: the run failed: ${r.error?.message ?? r.error}`);
    out.set(mode, {
      cpu: median(s.map((x) => x.cpu)),
      wall: median(s.map((x) => x.wall)),
      cpus: s.map((x) => x.cpu),
      instructions: r.run.instructions,
      checksum: checksum(r.run.console),
      findings: r.findings.length,
      faults: r.summary.faults ?? 0,
      steps: r.summary.singleSteps ?? 0,
    });
  }
  return out;
}

function cold(mode) {
  const r = kmemsimCold(['run', objectPath, ...mode.flags, '--verbose'], { runs: opts.coldRuns });
  if (r.error) return { error: r.error };
  return { cpu: r.cpu, wall: r.wall, checksum: checksum(r.stdout), status: r.status, instructions: Number(/(\d+) instructions executed/.exec(r.stderr)?.[1] ?? NaN) };
}

const rows = [];
for (const p of peers) {
  if (p.error) rows.push({ name: p.name, error: p.error });
  else rows.push({ name: p.name, cpu: p.cpu, wall: p.wall, checksum: checksum(p.stdout) });
}
const results = {};
const steadyResults = steadyAll();
for (const mode of MODES) {
  const s = steadyResults.get(mode);
  results[mode.name] = s;
  rows.push({ name: `kmemsim ${mode.name}`, ...s });
  if (!opts.noCold) {
    const c = cold(mode);
    rows.push({ name: `kmemsim ${mode.name}, cold`, ...c });
    if (!c.error && c.status !== 0) problems.push(`kmemsim run ${mode.flags.join(' ')}: exit status ${c.status}`);
  }
  if (s.findings) problems.push(`${mode.name}: ${s.findings} findings on a clean workload`);
}
const plain = results.plain;
for (const r of rows) {
  if (r.error) continue;
  if (reference !== null && r.checksum !== checksum(reference.stdout)) problems.push(`${r.name}: checksum ${r.checksum} differs from ${reference.name}'s ${checksum(reference.stdout)}`);
  if (r.checksum !== plain.checksum) problems.push(`${r.name}: checksum ${r.checksum} differs from kmemsim plain's ${plain.checksum}`);
  r.mips = r.instructions ? r.instructions / r.cpu / 1e6 : null;
  r.vsNative = native.error ? null : ratio(r.cpu, native.cpu);
  r.vsPlain = r.name.startsWith('kmemsim') ? ratio(r.cpu, r.name.endsWith('cold') ? rows.find((x) => x.name === 'kmemsim plain, cold')?.cpu : plain.cpu) : null;
  if (r.steps) {
    r.trackedPerCpuSecond = r.steps / r.cpu;
    r.faultsPerTracked = r.faults / r.steps;
  }
}

const report = { machine: machine(), workload: { source: 'bench/modules/kernel-workload.c', rounds: opts.rounds }, reference: reference?.name ?? null, rows, problems };
if (opts.json) console.log(JSON.stringify(report, null, 2));
else {
  const m = report.machine;
  console.log(`\nkmemsim checkers bench: bench/modules/kernel-workload.c, ${opts.rounds} rounds; node ${m.node}, ${m.cpu}, ${m.cores} cores, load average ${m.loadavg.join(' ')}`);
  console.log(`steady: median of ${opts.runs} in-process runs (interleaved, after ${opts.warmup} warm-up passes over the modes, each run's RAM back to the pool); cold: a fresh kmemsim process (median of ${opts.coldRuns}); ratios by CPU time`);
  console.log(reference?.name === 'qemu-i386' ? `checksums checked against qemu-i386's (native: ${native.error})\n` : '');
  printTable(
    ['run', 'instructions', 'CPU s', 'wall s', 'MIPS', 'vs plain', 'vs native', 'faults', 'steps', 'tracked/CPU s', 'faults/tracked', 'checksum'],
    rows.map((r) =>
      r.error
        ? [r.name, '', 'n/a', '', '', '', '', '', '', '', '', r.error]
        : [r.name, fmtInt(r.instructions), fmtSeconds(r.cpu), fmtSeconds(r.wall), r.mips ? r.mips.toFixed(1) : '', fmtRatio(r.vsPlain), fmtRatio(r.vsNative), r.steps ? fmtInt(r.faults) : '', r.steps ? fmtInt(r.steps) : '', r.trackedPerCpuSecond ? fmtInt(r.trackedPerCpuSecond) : '', r.faultsPerTracked ? r.faultsPerTracked.toFixed(2) : '', r.checksum ?? '-'],
    ),
  );
  for (const p of problems) console.log(`problem: ${p}`);
}
process.exit(problems.length ? 1 : 0);
