#!/usr/bin/env node
/**
 * scripts/readme-figures.mjs — rewrites the README's generated tables from
 * real command output.
 *
 *   node scripts/readme-figures.mjs [--check]
 *
 * A generated block is a marker comment followed by a fenced block:
 *
 *   <!-- figures: kmemsim ARGS... | SELECTOR -->
 *   ```
 *   ...output...
 *   ```
 *
 * The script runs `node bin/kmemsim.js ARGS...` from the repository root
 * (so an `--svg docs/...` in ARGS rewrites that chart too) and replaces the
 * block with the part of stdout SELECTOR names: `aggregate` (kmemsim
 * compare's aggregate table, from its `aggregate (N programs)` line) or
 * `tables` (every table, without the notes printed after them). --check
 * rewrites nothing and exits 1 when a block's count columns differ from
 * fresh output (wall times are not compared). test/readme-figures.test.ts
 * does the same check in the test suite.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MARKER = /^<!-- figures: kmemsim (.+?) \| (aggregate|tables) -->\n```\n([\s\S]*?)```\n/gm;

/** The README's generated blocks: the kmemsim arguments, the selector, the block's text and where it is. */
export function figureBlocks(markdown) {
  return [...markdown.matchAll(MARKER)].map((m) => ({
    args: m[1].split(/\s+/),
    selector: m[2],
    text: m[3],
    index: m.index,
    length: m[0].length,
    marker: m[0].slice(0, m[0].indexOf('\n') + 1),
  }));
}

/** The part of `kmemsim compare`'s stdout a selector names, ending with a newline. */
export function selectOutput(stdout, selector) {
  const lines = stdout.split('\n');
  if (selector === 'aggregate') {
    const from = lines.findIndex((l) => /^aggregate \(\d+ programs?\)$/.test(l));
    if (from < 0) throw new Error('no aggregate table in the output');
    const to = lines.indexOf('', from);
    return lines.slice(from, to < 0 ? undefined : to).join('\n') + '\n';
  }
  const end = lines.findIndex((l) => l.startsWith('true/false/missed/recall:'));
  return lines.slice(0, end < 0 ? undefined : end).join('\n').trimEnd() + '\n';
}

/** Columns of compare's tables that are counts (the same on every run), by header name. */
export const COUNT_COLUMNS = ['findings', 'true', 'false', 'missed', 'recall', 'faults', 'single-steps', 'instructions', 'stopped'];

/**
 * The counts in a block of compare tables: one line per table row,
 * `TITLE / STRATEGY: column=value ...`, plus every title line and note
 * (lines that are not table rows), so that programs, rows and notes are
 * compared too. Wall times and slowdowns are left out.
 */
export function countsOf(text) {
  const out = [];
  let header = null;
  let title = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('strategy ')) {
      header = line.split(/ {2,}/);
      continue;
    }
    const cells = line.split(/ +/);
    if (header && cells.length === header.length && line && !line.startsWith(' ')) {
      out.push(`${title} / ${cells[0]}: ${COUNT_COLUMNS.map((c) => `${c}=${cells[header.indexOf(c)]}`).join(' ')}`);
      continue;
    }
    header = null;
    if (line.trim()) {
      title = line;
      out.push(line);
    }
  }
  return out;
}

/** Run `kmemsim ARGS` from the root; its stdout, or throw with its stderr. */
export function runKmemsim(args, opts = {}) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/kmemsim.js'), ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`kmemsim ${args.join(' ')}: exit status ${r.status}\n${r.stderr}`);
  return r.stdout;
}

function main() {
  const check = process.argv.includes('--check');
  const path = join(ROOT, 'README.md');
  let readme = readFileSync(path, 'utf8');
  let stale = 0;
  // From the last block back, so that earlier indices stay valid.
  for (const b of figureBlocks(readme).reverse()) {
    console.log(`readme-figures: kmemsim ${b.args.join(' ')}`);
    const args = check ? b.args.filter((a, i, all) => a !== '--svg' && all[i - 1] !== '--svg') : b.args;
    const fresh = selectOutput(runKmemsim(args), b.selector);
    if (check) {
      if (JSON.stringify(countsOf(fresh)) !== JSON.stringify(countsOf(b.text))) {
        stale++;
        console.log(`readme-figures: stale: the README says\n${b.text}but the command prints\n${fresh}`);
      }
      continue;
    }
    readme = readme.slice(0, b.index) + b.marker + '```\n' + fresh + '```\n' + readme.slice(b.index + b.length);
  }
  if (check) process.exit(stale ? 1 : 0);
  writeFileSync(path, readme);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
