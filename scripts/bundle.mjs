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
 * commands that need them; yargs stays in node_modules there. A second,
 * CommonJS bundle, dist/bundle/main.cjs, holds the CLI and yargs in one
 * file for V8's code cache (bin/code-cache.cjs). bin/kmemsim.js runs it,
 * else the ES-module bundle, else dist/cli/main.js.
 */
import { build } from 'esbuild';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist/bundle');
/** Where yargs's messages in other languages go beside the CommonJS bundle (see yargsInBundle). */
const YARGS_LOCALES = 'yargs-locales';

/**
 * The CommonJS bundle holds yargs too, so that its ~15 modules are neither
 * resolved nor compiled one by one but come from the bundle's code cache:
 * dist/cli/argv-parser.js (a createRequire() esbuild cannot follow) becomes
 * a plain require('yargs/yargs'), which esbuild bundles as CommonJS (the
 * build whose help wraps whole words). yargs finds its translations (y18n,
 * LANG/LC_ALL) in `__dirname + "/../locales"`: in the bundle that path is
 * made `yargs-locales` beside it, where they are copied. Anything else
 * stays external, as in the ES-module bundle.
 */
const yargsInBundle = {
  name: 'yargs-in-bundle',
  setup(b) {
    b.onResolve({ filter: /[\\/]argv-parser\.js$/ }, () => ({ path: 'argv-parser', namespace: 'kmemsim-yargs' }));
    b.onLoad({ filter: /.*/, namespace: 'kmemsim-yargs' }, () => ({
      contents: 'exports.yargs = require("yargs/yargs");',
      loader: 'js',
      resolveDir: root,
    }));
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      const inYargs = args.importer.includes('node_modules') || args.namespace === 'kmemsim-yargs';
      return inYargs && !args.path.startsWith('node:') ? undefined : { path: args.path, external: true };
    });
    b.onLoad({ filter: /[\\/]yargs[\\/]build[\\/]index\.cjs$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const locales = /__dirname,\s*"\.\.\/locales"/g;
      const found = text.match(locales)?.length ?? 0;
      if (found !== 1) throw new Error(`${args.path}: expected one reference to ../locales, found ${found} (another yargs version?)`);
      return { contents: text.replace(locales, `__dirname,"${YARGS_LOCALES}"`), loader: 'js' };
    });
  },
};

/**
 * Make `file` ASCII, which bin/code-cache.cjs reads as latin1: decoding a
 * megabyte and a half of UTF-8 costs Node about 7 ms of CPU (the string
 * also takes two bytes a character), latin1 a tenth of a millisecond.
 * esbuild escapes what strings, templates and regular expressions hold
 * (its default charset, 'ascii'); the rest is in the comments it keeps, where
 * \\uXXXX is as readable. (The escape also means the same character in
 * a string or an identifier, should esbuild ever leave one there.)
 */
function asciiOnly(file) {
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'dist/cli/main.js')],
  outfile: join(outdir, 'main.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  plugins: [yargsInBundle],
  logLevel: 'warning',
  define: { 'import.meta.url': '__kmemsim_bundle_url' },
  banner: { js: 'const __kmemsim_bundle_url = require("node:url").pathToFileURL(__filename).href;' },
});
asciiOnly(join(outdir, 'main.cjs'));
cpSync(join(dirname(createRequire(join(root, 'package.json')).resolve('yargs/package.json')), 'locales'), join(outdir, YARGS_LOCALES), { recursive: true });
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
