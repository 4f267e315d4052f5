#!/usr/bin/env node
// Thin launcher. `npm install` (the prepare script) compiles the CLI to dist/ and bundles it
// (scripts/bundle.mjs: start-up time). It runs the CommonJS bundle dist/bundle/main.cjs through
// V8's code cache (README "Start-up"), else the ES-module bundle, else the modules tsc wrote.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const cjs = new URL('../dist/bundle/main.cjs', import.meta.url);
const bundle = new URL('../dist/bundle/main.js', import.meta.url);
let main;
if (existsSync(cjs)) ({ main } = createRequire(import.meta.url)('./code-cache.cjs').load(cjs));
else ({ main } = await import(existsSync(bundle) ? bundle.href : '../dist/cli/main.js'));
main(process.argv.slice(2)).then((code) => process.exit(code));
