/**
 * yargs, the command line's argument parser, loaded for start-up time
 * (README "Start-up"):
 *
 * - its CommonJS build, through require(): it lays `--help` out with
 *   wrap-ansi (whole words), its ES-module build with a plain
 *   character-count wrap that cuts words in two;
 * - `yargs/yargs`, the factory alone: the package's main entry (`yargs`)
 *   also builds a whole parser for process.argv when it is loaded (its
 *   singleton API), which kmemsim never uses.
 *
 * The CommonJS bundle (scripts/bundle.mjs) replaces this module by a
 * plain `require('yargs/yargs')` so that esbuild bundles yargs with the
 * CLI, into the same code cache.
 */
import { createRequire } from 'node:module';
import type YargsFactory from 'yargs/yargs';

export const yargs = createRequire(import.meta.url)('yargs/yargs') as typeof YargsFactory;
