#!/usr/bin/env node
/**
 * scripts/bundle.mjs — bundles the command line for start-up time.
 *
 *   node scripts/bundle.mjs      (part of `npm run build`, after tsc)
 *
 * tsc compiles src/ into about a hundred ES modules under dist/; Node
 * resolves, reads and compiles each one separately, which is most of a
 * short `kmemsim run`'s wall time. esbuild (a devDependency for this step
 * only) bundles dist/cli/main.js into dist/bundle/main.js, with code
 * splitting: what `main.ts` imports dynamically (the checkers behind
 * --kmemcheck/--stack, `compare`) becomes chunks loaded only by the
 * commands that need them. yargs stays in node_modules (main.ts loads its
 * CommonJS build through require(), see there). bin/kmemsim.js runs the
 * bundle, or dist/cli/main.js when there is none.
 */
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist/bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'dist/cli/main.js')],
  outfile: join(outdir, 'main.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
  define: { 'import.meta.url': '__kmemsim_bundle_url' },
  banner: { js: 'const __kmemsim_bundle_url = require("node:url").pathToFileURL(__filename).href;' },
});
// The ES-module build last: dist/bundle/main.js stands for the whole build (scripts/prepare.mjs).
await build({
  // compare --jobs starts dist/bundle/compare-worker.js beside the chunks (src/harness/compare-jobs.ts).
  entryPoints: { main: join(root, 'dist/cli/main.js'), 'compare-worker': join(root, 'dist/harness/compare-worker.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  chunkNames: 'chunk-[hash]',
  logLevel: 'warning',
});
