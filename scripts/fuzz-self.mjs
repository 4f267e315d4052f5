#!/usr/bin/env node
/**
 * `npm run fuzz-self -- [--time SECONDS] [--seed N] [--out DIR] [--no-compare]`:
 * the robustness suite of src/fuzz/self.ts for longer than CI runs it.
 * Mutated executables, module objects (with every checker) and kernels,
 * random code, and mutated module sources through `compare`, all through
 * kmemsim's own command line in this process. Prints the inputs tried per
 * class with their exit statuses, and every violation (undocumented status,
 * stack trace, internal error, missing message, non-determinism, memory
 * over the bound) with the input saved under --out (default
 * fuzz-self-out/). Exits 1 when there was a violation, 0 otherwise.
 *
 * Runs the compiled code in dist/: `npm run build` first.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const timeS = Number(opt('--time', '600'));
const seed = Number(opt('--seed', '16'));
const out = resolve(opt('--out', 'fuzz-self-out'));
if (!Number.isFinite(timeS) || timeS <= 0 || !Number.isInteger(seed)) {
  console.error('usage: npm run fuzz-self -- [--time SECONDS] [--seed N] [--out DIR] [--no-compare]');
  process.exit(2);
}
const self = join(root, 'dist/fuzz/self.js');
if (!existsSync(self)) {
  console.error('fuzz-self: dist/ is not built: run `npm run build` first');
  process.exit(2);
}
const { fuzzSelf, loadCorpora, standardClasses } = await import(self);
process.chdir(root);
const corpora = loadCorpora(root);
let classes = standardClasses(corpora);
if (args.includes('--no-compare')) classes = classes.filter((c) => c.command !== 'compare');
// compare compiles each input with gcc (seconds, not milliseconds): it gets a tenth of the time, after the rest.
const compare = classes.filter((c) => c.command === 'compare');
const rest = classes.filter((c) => c.command !== 'compare');
console.log(`fuzz-self: seed ${seed}, ${timeS} s; corpora: ${corpora.executables.length} executables, ${corpora.modules.length} modules, ${corpora.kernels.length} kernels, ${corpora.sources.length} module sources`);
const started = Date.now();
const progress = (l) => console.log(l);
const a = await fuzzSelf({ seed, classes: rest, workDir: join(out, 'work'), saveDir: out, timeMs: timeS * (compare.length ? 900 : 1000), progress });
const b = compare.length ? await fuzzSelf({ seed, classes: compare, workDir: join(out, 'work'), saveDir: out, timeMs: timeS * 100, progress }) : { counts: {}, violations: [], maxRss: 0 };
const counts = { ...a.counts, ...b.counts };
const violations = [...a.violations, ...b.violations];
let total = 0;
console.log('\ninput class            inputs  exit statuses');
for (const [name, c] of Object.entries(counts)) {
  total += c.runs;
  const st = Object.entries(c.statuses).sort((x, y) => Number(x[0]) - Number(y[0])).map(([s, n]) => `${s}:${n}`).join(' ');
  console.log(`${name.padEnd(22)} ${String(c.runs).padStart(6)}  ${st}`);
}
console.log(`total                  ${String(total).padStart(6)}  in ${((Date.now() - started) / 1000).toFixed(0)} s; peak RSS ${Math.round(Math.max(a.maxRss, b.maxRss) / 2 ** 20)} MiB`);
console.log(`violations: ${violations.length}`);
for (const v of violations) console.log(`  ${v.cls}: ${v.reason}\n    kmemsim ${v.argv.join(' ')}`);
process.exit(violations.length ? 1 : 0);
