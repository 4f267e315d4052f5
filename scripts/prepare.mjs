#!/usr/bin/env node
/**
 * scripts/prepare.mjs — npm's `prepare` script: `npm run build` when dist/
 * is missing or older than its sources, else only the (incremental) guest
 * build.
 *
 * npm runs `prepare` after `npm install`, and again whenever npm links this
 * directory as a package: `npx kmemsim` in the clone (npm exec installs the
 * directory into its cache, ~/.npm/_npx, and prepares it — the first call
 * used to rebuild everything, 10–30 s in silence), `npm link`, `npm install
 * -g .`. The bundle dist/bundle/main.js is the last file the build writes,
 * so it stands for the whole of dist/: when it is newer than every file
 * under src/, the tsconfig files, package.json and the bundle script,
 * nothing is recompiled.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist/bundle/main.js');

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of readdirSync(path)) m = Math.max(m, newest(join(path, e)));
  return m;
}

const inputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'scripts/bundle.mjs'].map((p) => join(root, p));
const upToDate = existsSync(stamp) && statSync(stamp).mtimeMs > Math.max(...inputs.filter(existsSync).map(newest));
const run = (args) => {
  const r = spawnSync(args[0], args.slice(1), { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
if (upToDate) {
  console.log('kmemsim: dist/ is up to date (`npm run build` rebuilds it)');
  run([process.execPath, join(root, 'scripts/build-guests.mjs'), '--quiet']);
} else {
  console.log('kmemsim: building dist/ and the example guests (npm run build)');
  run(['npm', 'run', 'build']);
}
