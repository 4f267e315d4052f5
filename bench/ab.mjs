#!/usr/bin/env node
/**
 * bench/ab.mjs — two builds of kmemsim on the checkers' module, in one
 * process, runs alternated: the way to compare a change with the tree
 * before it on a machine whose speed drifts (a shared 2-core machine's
 * single runs of one build can differ by 40 %; alternating runs in one
 * process puts both trees under the same drift).
 *
 *   node bench/ab.mjs TREE_A TREE_B [--seconds=N] [--rounds=N] [--plain|--inline|--precise|--cpl1|--ftrace]
 *
 * Each TREE is a checkout built with `npm run build` (its dist/ and its
 * guest runtime). The module (bench/modules/kernel-workload.c, --rounds,
 * default 100) is compiled once by TREE_A and the same object runs under
 * each tree's runChecked() — kmemcheck unless a mode is given — in
 * alternating order for --seconds (default 120) after two warm-up passes.
 * A process's first-loaded tree is suspect (two copies of one build in
 * one process: A 0.716, B 0.750 CPU s median), so the time is split
 * between two processes, one loading TREE_A first and one TREE_B first
 * (internal options --child and --reversed), and their runs are pooled.
 * Two copies of one build so measured still differ by up to about 5 %
 * (B/A 0.962 over 90 s of kmemcheck): smaller changes are noise.
 * Reported per tree: runs, and the minimum, first quartile and median
 * CPU time (process.cpuUsage: every thread); for the fault-driven modes
 * also tracked accesses per CPU second at the median; then each load
 * order's medians and B/A ratio, and the geometric mean of the two ratios
 * (the figure to quote: the machine's speed may differ between halves).
 *
 * Exit status: 0; 1 when the trees disagree on the run (instructions,
 * single steps, findings); 2 on a usage error or a tree that is not built.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CHECKER_MODES, ROOT, fail, fmtInt, parseOptions, requireFile } from './lib.mjs';

const USAGE = 'usage: node bench/ab.mjs TREE_A TREE_B [--seconds=N] [--rounds=N] [--plain|--inline|--precise|--cpl1|--ftrace]';
const args = process.argv.slice(2);
const trees = args.filter((a) => !a.startsWith('--')).map((t) => resolve(t));
const opts = parseOptions(args.filter((a) => a.startsWith('--')), { seconds: 120, rounds: 100, plain: false, inline: false, precise: false, cpl1: false, ftrace: false, child: false, reversed: false }, USAGE);
if (trees.length !== 2) fail('give two trees', USAGE);
const chosen = CHECKER_MODES.filter((m) => opts[m.name]);
if (chosen.length > 1) fail('give at most one mode', USAGE);
const mode = chosen[0]?.name ?? 'kmemcheck';
const modeOptions = CHECKER_MODES.find((m) => m.name === mode).options;
for (const tree of trees) for (const f of ['dist/cli/compile.js', 'dist/harness/checked-run.js']) requireFile(join(tree, f), `run npm run build in ${tree}`);

if (!opts.child) {
  // Half the time with each tree loaded first (see the top), runs pooled per tree.
  const seconds = Math.max(1, Math.round(opts.seconds / 2));
  const passOn = args.filter((a) => a.startsWith('--') && !a.startsWith('--seconds'));
  const halves = [false, true].map((reversed) => {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...trees, ...passOn, `--seconds=${seconds}`, '--child', ...(reversed ? ['--reversed'] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
    if (r.status !== 0) process.exit(r.status ?? 1);
    return JSON.parse(r.stdout);
  });
  const at = (xs, q) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];
  const median = (xs) => at([...xs].sort((a, b) => a - b), 0.5);
  console.log(`bench/ab.mjs: ${mode}, bench/modules/kernel-workload.c at ${opts.rounds} rounds, ${opts.seconds} s of alternated runs (CPU s), half with each tree loaded first`);
  trees.forEach((tree, i) => {
    const xs = halves.flatMap((h) => h[i].cpu).sort((a, b) => a - b);
    const med = at(xs, 0.5);
    const steps = halves[0][i].steps;
    const tracked = steps > 0 ? `  tracked accesses per CPU s ${fmtInt(steps / med)}` : '';
    console.log(`${tree}: runs ${xs.length}  min ${xs[0].toFixed(3)}  p25 ${at(xs, 0.25).toFixed(3)}  median ${med.toFixed(3)}${tracked}`);
  });
  // Each half's B/A ratio of medians, and their geometric mean: the machine's speed may differ between the halves.
  const ratios = halves.map((h) => median(h[1].cpu) / median(h[0].cpu));
  halves.forEach((h, k) => console.log(`  ${k === 0 ? 'A' : 'B'} loaded first: medians ${h.map((t) => median(t.cpu).toFixed(3)).join(' / ')}, B/A ${ratios[k].toFixed(3)}`));
  console.log(`B/A (geometric mean of the halves): ${Math.sqrt(ratios[0] * ratios[1]).toFixed(3)}`);
  const outcomes = new Set(halves.flatMap((h) => h.map((t) => t.outcome)));
  if (outcomes.size > 1) {
    console.error(`bench/ab.mjs: the trees disagree on the run (instructions, single steps, findings): ${[...outcomes].join(' vs ')}`);
    process.exit(1);
  }
  process.exit(0);
}

// A child: the trees loaded in this order, runs alternated; the samples to the parent as JSON, in the trees' order.
const loaded = [];
for (const tree of opts.reversed ? [...trees].reverse() : trees) {
  const { compileModule } = await import(pathToFileURL(join(tree, 'dist/cli/compile.js')).href);
  const { runChecked } = await import(pathToFileURL(join(tree, 'dist/harness/checked-run.js')).href);
  loaded.push({ tree, compileModule, runChecked, cpu: [], outcome: null });
}
let compiled;
try {
  compiled = loaded[0].compileModule(join(ROOT, 'bench/modules/kernel-workload.c'), { ftrace: true, cflags: [`-DROUNDS=${opts.rounds}`] });
} catch (e) {
  fail(`cannot compile the module: ${e.message}`);
}

const end = Date.now() + opts.seconds * 1000;
for (let pass = 0; pass < 3 || Date.now() < end; pass++) {
  for (const t of pass & 1 ? loaded : [...loaded].reverse()) {
    const c0 = process.cpuUsage();
    const r = t.runChecked(compiled.object, { ...modeOptions, name: 'kernel-workload', stackUsage: compiled.stackUsage });
    // The machine back to the tree's RAM pool, inside the measured time (a tree from before the pool has no release()).
    r.release?.();
    const c = process.cpuUsage(c0);
    if (!r.run) fail(`${t.tree}: the run failed: ${r.error?.message ?? r.error}`);
    const outcome = JSON.stringify([r.run.instructions, r.summary.singleSteps, r.findings.length]);
    // A run unlike the tree's first makes the parent report a disagreement.
    t.outcome = t.outcome === null || t.outcome === outcome ? outcome : `${t.outcome} then ${outcome}`;
    if (pass >= 2) t.cpu.push((c.user + c.system) / 1e6);
    t.steps = r.summary.singleSteps;
  }
}

const inOrder = opts.reversed ? [...loaded].reverse() : loaded;
console.log(JSON.stringify(inOrder.map((t) => ({ tree: t.tree, cpu: t.cpu, steps: t.steps ?? 0, outcome: t.outcome }))));
