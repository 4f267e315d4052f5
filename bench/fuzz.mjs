#!/usr/bin/env node
/**
 * bench/fuzz.mjs — `kmemsim fuzz`'s speed (`npm run bench:fuzz` builds first).
 *
 *   node bench/fuzz.mjs [--rounds=N] [--execs=N] [--target=FILE.c] [--json]
 *
 * On a small module target (default examples/fuzz/clean.c), with and
 * without --kmemcheck: executions per CPU second with the machine snapshot
 * restored before every input (how `kmemsim fuzz` runs) and with a freshly
 * booted machine per input (ModuleTarget's `snapshot: false`, how it ran
 * before), and the cost of one snapshot restore alone (after an input, so
 * it has pages to copy back), and a cmplog run (src/fuzz/cmplog.ts: the
 * input run with compare logging compiled in, once per queue entry).
 * Inputs are a fixed list of havoc mutations
 * (seeded), each run with AFL's 64 KiB edge map as the fuzzer does.
 *
 * CPU time (process.cpuUsage, user + system), not wall time: the machine
 * may be shared. Each configuration runs --rounds times (default 5),
 * interleaved (A, B, A, B, ...), and the median is reported.
 *
 * Exit status: 0; 2 when the build (dist/) or gcc is missing.
 */
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => pathToFileURL(join(ROOT, 'dist', p)).href;

function arg(name, dflt) {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : dflt;
}
const ROUNDS = Number(arg('rounds', '5'));
const EXECS = Number(arg('execs', '300'));
const TARGET = resolve(ROOT, arg('target', 'examples/fuzz/clean.c'));
const JSON_OUT = process.argv.includes('--json');

if (!existsSync(join(ROOT, 'dist/fuzz/target-module.js'))) {
  console.error('bench/fuzz.mjs: dist/ is not built: run npm run build');
  process.exit(2);
}
const { compileModule } = await import(dist('cli/compile.js'));
const { ModuleTarget } = await import(dist('fuzz/target-module.js'));
const { FUZZ_MEMORY_SIZE } = await import(dist('cli/fuzz-command.js'));
const { havoc } = await import(dist('fuzz/mutate.js'));
const { Rng } = await import(dist('fuzz/random.js'));
const { MAP_SIZE } = await import(dist('fuzz/coverage.js'));
const { CompareLog } = await import(dist('fuzz/cmplog.js'));

let object;
try {
  object = compileModule(TARGET).object;
} catch (e) {
  console.error(`bench/fuzz.mjs: cannot compile ${TARGET}: ${e.message}`);
  process.exit(2);
}

const rng = new Rng(1);
const inputs = [Uint8Array.from([0x30, 0x30, 0x30, 0x30])];
while (inputs.length < 64) inputs.push(havoc(inputs[rng.below(inputs.length)], { rng, tokens: [], maxLength: 256 }, { stacked: 0 }));

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function target(heap, snapshot) {
  const run = { name: 'bench', heap, stack: null, stackUsage: null, maxInstructions: 1e10, memorySize: FUZZ_MEMORY_SIZE };
  return new ModuleTarget(object, run, 10_000_000, { snapshot });
}

const configs = [
  { name: 'snapshot, plain', heap: null, snapshot: true },
  { name: 'fresh boot, plain', heap: null, snapshot: false },
  { name: 'snapshot, --kmemcheck', heap: 'kmemcheck', snapshot: true },
  { name: 'fresh boot, --kmemcheck', heap: 'kmemcheck', snapshot: false },
  { name: 'snapshot, cmplog run', heap: null, snapshot: true, cmplog: true },
  { name: 'snapshot, --kmemcheck, cmplog', heap: 'kmemcheck', snapshot: true, cmplog: true },
];
const log = new CompareLog();
const edges = new Uint8Array(MAP_SIZE);
const samples = new Map(configs.map((c) => [c.name, []]));
const targets = new Map(configs.map((c) => [c.name, target(c.heap, c.snapshot)]));
// Warm-up: V8 compiles the interpreter, the snapshot is taken.
for (const c of configs) for (let i = 0; i < 20; i++) targets.get(c.name).execute(inputs[i % inputs.length], edges);
for (let r = 0; r < ROUNDS; r++) {
  for (const c of configs) {
    const t = targets.get(c.name);
    // A fresh boot is ~20x slower: fewer executions, the same per-execution figure.
    const n = c.snapshot && !c.cmplog ? EXECS : Math.max(20, Math.round(EXECS / 10));
    const t0 = cpuMs();
    for (let i = 0; i < n; i++) {
      edges.fill(0);
      log.clear();
      t.execute(inputs[(r * n + i) % inputs.length], c.cmplog ? null : edges, c.cmplog ? log : null);
    }
    samples.get(c.name).push((n * 1000) / (cpuMs() - t0));
  }
}

// One restore alone: after an input (dirtied pages to copy back), time restore() by itself.
const restore = [];
for (const heap of [null, 'kmemcheck']) {
  const t = targets.get(heap ? 'snapshot, --kmemcheck' : 'snapshot, plain');
  const us = [];
  const pages = [];
  for (let i = 0; i < 400; i++) {
    t.execute(inputs[i % inputs.length], edges);
    const t0 = process.cpuUsage();
    t.snapshot.restore();
    const d = process.cpuUsage(t0);
    us.push(d.user + d.system);
    pages.push(t.snapshot.lastRestore.copiedPages);
  }
  restore.push({ mode: heap ?? 'plain', medianUs: median(us), objects: t.snapshot.objects, medianCopiedPages: median(pages) });
}

const result = {
  target: TARGET.replace(ROOT + '/', ''),
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  rounds: ROUNDS,
  execsPerCpuSecond: Object.fromEntries(configs.map((c) => [c.name, Math.round(median(samples.get(c.name)))])),
  restore,
};
if (JSON_OUT) {
  console.log(JSON.stringify(result, null, 2));
} else {
  console.log(`kmemsim fuzz bench: ${result.target}, ${result.node}, ${result.cpu}; CPU time, median of ${ROUNDS} interleaved rounds`);
  for (const c of configs) console.log(`  ${c.name.padEnd(30)} ${String(result.execsPerCpuSecond[c.name]).padStart(7)} execs per CPU second`);
  for (const r of restore) console.log(`  one snapshot restore (${r.mode.padEnd(9)}) ${r.medianUs.toFixed(0).padStart(5)} µs CPU (${r.medianCopiedPages} pages copied back, ${r.objects} host objects restored)`);
}
