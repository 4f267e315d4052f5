#!/usr/bin/env node
// Thin launcher. `npm install` (the prepare script) compiles the CLI to dist/ and bundles it
// into dist/bundle/ (scripts/bundle.mjs: start-up time); without the bundle, the modules tsc wrote.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/bundle/main.js', import.meta.url);
const { main } = await import(existsSync(bundle) ? bundle.href : '../dist/cli/main.js');
main(process.argv.slice(2)).then((code) => process.exit(code));
