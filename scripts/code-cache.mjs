#!/usr/bin/env node
/**
 * scripts/code-cache.mjs — writes the CommonJS bundle's V8 code cache
 * (dist/bundle/main.cjs.cache, see bin/code-cache.cjs) from a program run.
 *
 *   node scripts/code-cache.mjs      (the last step of `npm run build`)
 *
 * The cache holds the functions the run that wrote it compiled. Left to the
 * first command a user types it could be `kmemsim --help`, whose cache
 * lacks everything a program run compiles (about 12 ms of CPU more on
 * every later `kmemsim run`), or a checker run, whose cache is larger than
 * a plain run needs; and a dist/ the user cannot write (a global install
 * by root) would never get one. So the build writes it from
 * `kmemsim run build/examples/hello-O2`, the path every program run takes
 * (yargs, the boot, the ELF loader, the decoder, system calls). Without
 * that example (no gcc: scripts/build-guests.mjs) it prints why and leaves
 * the cache to the first run, as before; when the run fails it warns and
 * exits 0 all the same (the cache is an optimization). A cache V8 rejects
 * at run time (another Node) is still replaced by the first run that
 * finds it so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cache = join(root, 'dist/bundle/main.cjs.cache');
const program = 'build/examples/hello-O2';

if (!existsSync(join(root, 'dist/bundle/main.cjs'))) {
  console.log('kmemsim: no code cache written: dist/bundle/main.cjs is not built (node scripts/bundle.mjs)');
} else if (!existsSync(join(root, program))) {
  console.log(`kmemsim: no code cache written: ${program} is not built (scripts/build-guests.mjs needs gcc -m32); the first run writes it`);
} else {
  rmSync(cache, { force: true });
  const r = spawnSync(process.execPath, [join(root, 'bin/kmemsim.js'), 'run', program], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0 || !existsSync(cache)) {
    // Only an optimization: the build goes on (the tests are what catch a broken run).
    console.error(`kmemsim: warning: writing the code cache: kmemsim run ${program} exited with ${r.status ?? r.signal}${existsSync(cache) ? '' : ', no cache written'}`);
  }
}
