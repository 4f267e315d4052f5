#!/usr/bin/env node
// Thin launcher. `npm install` (the prepare script) compiles the CLI to dist/ and bundles it
// (scripts/bundle.mjs: start-up time). It runs the CommonJS bundle dist/bundle/main.cjs through
// V8's code cache (README "Start-up"), else the ES-module bundle, else the modules tsc wrote.
// This file is CommonJS (bin/package.json): Node starts a CommonJS entry without setting up its
// ES-module loader, which the bundle does not need.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const dist = join(__dirname, '../dist');
const cjs = join(dist, 'bundle/main.cjs');
const bundle = join(dist, 'bundle/main.js');
const run = ({ main }) => main(process.argv.slice(2)).then((code) => process.exit(code));
if (existsSync(cjs)) run(require('./code-cache.cjs').load(pathToFileURL(cjs)));
else import(pathToFileURL(existsSync(bundle) ? bundle : join(dist, 'cli/main.js')).href).then(run);
