#!/usr/bin/env node
/**
 * bench/kmemcheck.mjs — the cost of kmemcheck (`npm run bench` runs it after
 * bench/run.mjs).
 *
 *   node bench/kmemcheck.mjs [--runs=N] [--json]
 *
 * Compiles bench/modules/kmalloc-workload.c as a kernel module with the flags
 * `kmemsim run FILE.c` uses, runs it plain and with kmemcheck (median of
 * --runs, default 1, after a warm-up run of each), checks both print the
 * same checksum and that kmemcheck reports nothing, and prints guest
 * instructions, wall time, the slowdown, tracked accesses (faults on hidden
 * pages) per second and single steps per tracked access.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = join(ROOT, 'bench/modules/kmalloc-workload.c');

const args = process.argv.slice(2);
let runs = 1;
let json = false;
for (const a of args) {
  if (a.startsWith('--runs=')) runs = Math.max(1, Number(a.slice(7)) | 0);
  else if (a === '--json') json = true;
  else {
    console.error(`usage: node bench/kmemcheck.mjs [--runs=N] [--json]`);
    process.exit(2);
  }
}

const need = ['dist/cli/compile.js', 'dist/harness/heap-runs.js'];
for (const f of need) {
  if (!existsSync(join(ROOT, f))) {
    console.error(`bench: ${f} missing: run npm run build`);
    process.exit(2);
  }
}
const { compileModule } = await import(pathToFileURL(join(ROOT, 'dist/cli/compile.js')).href);
const { runModuleWithKmemcheck, runModuleWithInlineChecker } = await import(pathToFileURL(join(ROOT, 'dist/harness/heap-runs.js')).href);

let object;
try {
  object = compileModule(SOURCE).object;
} catch (e) {
  console.error(`bench: cannot compile ${SOURCE}: ${e.message}`);
  process.exit(2);
}
if (!(object instanceof Uint8Array)) {
  console.error('bench: compileModule returned no object');
  process.exit(2);
}

const now = () => Number(process.hrtime.bigint()) / 1e9;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function measure(kmemcheck, inline = false) {
  const once = () => {
    const t0 = now();
    const r = inline
      ? runModuleWithInlineChecker(object, { inline: true, name: 'kmalloc-workload' })
      : runModuleWithKmemcheck(object, { kmemcheck, name: 'kmalloc-workload' });
    return { seconds: now() - t0, r };
  };
  once();
  const samples = Array.from({ length: runs }, once);
  const first = samples[0].r;
  if (!first.run) throw new Error(`run failed: ${first.error?.message ?? first.error}`);
  const console_ = first.run.console ?? '';
  const checksum = /checksum: ([0-9a-f]{8})/.exec(typeof console_ === 'string' ? console_ : console_.join(''))?.[1] ?? null;
  return {
    seconds: median(samples.map((s) => s.seconds)),
    times: samples.map((s) => s.seconds),
    instructions: first.run.instructions,
    checksum,
    findings: first.findings.length,
    faults: first.summary.faults ?? 0,
    singleSteps: first.summary.singleSteps ?? 0,
  };
}

const plain = measure(false);
const checked = measure(true);
const inlineRun = measure(false, true);
// Instruction counts may differ slightly: a REP string instruction single-stepped over tracked
// memory retires once per iteration (see the README).
const ok = plain.checksum !== null && plain.checksum === checked.checksum && checked.findings === 0 && inlineRun.checksum === plain.checksum && inlineRun.findings === 0;
const out = {
  workload: 'bench/modules/kmalloc-workload.c',
  plain,
  kmemcheck: checked,
  inline: inlineRun,
  slowdown: checked.seconds / plain.seconds,
  slowdownVsInline: checked.seconds / inlineRun.seconds,
  trackedAccessesPerSecond: checked.faults / checked.seconds,
  singleStepsPerTrackedAccess: checked.faults ? checked.singleSteps / checked.faults : 0,
  ok,
};
if (json) console.log(JSON.stringify(out, null, 2));
else {
  const f = (x, d = 3) => x.toFixed(d);
  console.log(`\nkmemcheck bench: ${out.workload} (kernel module, median of ${runs})`);
  console.log('mode        guest instructions  wall s  guest MIPS  tracked accesses  slowdown  checksum');
  console.log(`plain       ${String(plain.instructions).padStart(18)}  ${f(plain.seconds).padStart(6)}  ${f(plain.instructions / plain.seconds / 1e6, 1).padStart(10)}  ${'-'.padStart(16)}  ${'1.0x'.padStart(8)}  ${plain.checksum}`);
  console.log(`kmemcheck   ${String(checked.instructions).padStart(18)}  ${f(checked.seconds).padStart(6)}  ${f(checked.instructions / checked.seconds / 1e6, 2).padStart(10)}  ${String(checked.faults).padStart(16)}  ${(f(out.slowdown, 0) + 'x').padStart(8)}  ${checked.checksum} ${ok ? 'ok' : 'MISMATCH'}`);
  console.log(`inline      ${String(inlineRun.instructions).padStart(18)}  ${f(inlineRun.seconds).padStart(6)}  ${f(inlineRun.instructions / inlineRun.seconds / 1e6, 2).padStart(10)}  ${'-'.padStart(16)}  ${(f(inlineRun.seconds / plain.seconds, 0) + 'x').padStart(8)}  ${inlineRun.checksum}`);
  console.log(`kmemcheck vs the inline checker: ${f(out.slowdownVsInline, 2)}x`);
  console.log(`tracked accesses (faults on hidden pages) per second: ${f(out.trackedAccessesPerSecond, 0)}; single steps per tracked access: ${f(out.singleStepsPerTrackedAccess, 2)}; findings: ${checked.findings}`);
}
process.exit(ok ? 0 : 1);
