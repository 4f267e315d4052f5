// Run a CommonJS bundle, ASCII only, with V8's code cache (Node 20 has none for ES modules): the compiled code
// is kept beside the bundle in FILE.cache, written after a run when it was missing, older than the
// bundle or rejected by V8 (another Node or V8 version, a damaged file), and read on every later start.
// The cache is only an optimization: a directory that cannot be written just means no cache.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');
const { fileURLToPath } = require('node:url');

exports.load = function load(url) {
  const file = fileURLToPath(url);
  const cacheFile = `${file}.cache`;
  let cached;
  try {
    // V8 checks no more of the source than its length: a cache older than the bundle (written for another
    // build) is not offered to it, and is replaced after this run.
    if (fs.statSync(cacheFile).mtimeMs >= fs.statSync(file).mtimeMs) cached = fs.readFileSync(cacheFile);
  } catch {
    cached = undefined;
  }
  // The bundle is ASCII (scripts/bundle.mjs), so latin1 reads it as UTF-8 would, at a fraction of the cost.
  const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'latin1')), {
    filename: file,
    cachedData: cached,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
  if (cached === undefined || script.cachedDataRejected) {
    // After the command has run, so that the functions it compiled are in the cache too.
    process.once('exit', () => {
      const tmp = `${cacheFile}.${process.pid}`;
      try {
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, cacheFile);
      } catch {
        try {
          fs.rmSync(tmp, { force: true });
        } catch {
          /* nothing to clean */
        }
      }
    });
  }
  return mod.exports;
};
