#!/usr/bin/env node
/**
 * scripts/prepare.mjs — npm's `prepare` script: `npm run build` when dist/
 * is missing or older than its sources, else only the (incremental) guest
 * build.
 *
 * npm runs `prepare` after `npm install`, and again whenever npm links this
 * directory as a package: `npx kmemsim` in the clone (npm exec installs the
 * directory into its cache, ~/.npm/_npx, as a `file:` dependency and
 * prepares it — the first call used to rebuild everything, 10–30 s in
 * silence), `npm link`, `npm install -g .`. The bundle dist/bundle/main.js
 * is the last file the build writes, so it stands for the whole of dist/:
 * when it is newer than every file under src/, the tsconfig files,
 * package.json and the bundle script, nothing is recompiled.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** What dist/ is built from (relative to the root). */
export const BUILD_INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'scripts/bundle.mjs'];
/** The build's last output. */
export const BUILD_STAMP = 'dist/bundle/main.js';

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of readdirSync(path)) m = Math.max(m, newest(join(path, e)));
  return m;
}

/** True when `root`'s dist/ was built after every one of its inputs last changed. */
export function distUpToDate(root) {
  const stamp = join(root, BUILD_STAMP);
  if (!existsSync(stamp)) return false;
  const inputs = BUILD_INPUTS.map((p) => join(root, p)).filter(existsSync);
  return statSync(stamp).mtimeMs > Math.max(0, ...inputs.map(newest));
}

function main() {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const run = (args) => {
    const r = spawnSync(args[0], args.slice(1), { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  };
  if (distUpToDate(root)) {
    console.log('kmemsim: dist/ is up to date (`npm run build` rebuilds it)');
    run([process.execPath, join(root, 'scripts/build-guests.mjs'), '--quiet']);
    if (!existsSync(join(root, 'dist/bundle/main.cjs.cache'))) run([process.execPath, join(root, 'scripts/code-cache.mjs')]);
  } else {
    console.log('kmemsim: building dist/ and the example guests (npm run build)');
    run(['npm', 'run', 'build']);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
