#!/usr/bin/env node
/**
 * scripts/update-expected.mjs — (re)writes examples/<name>.expected from a
 * native run of the built example guests.
 *
 *   node scripts/update-expected.mjs [name ...]     (default: every example)
 *
 * For each example it runs every optimization level natively (the host must
 * run static i386 binaries), with the arguments, environment and standard
 * input from examples/<name>.json, checks that all levels agree on stdout
 * and exit status, writes the stdout to examples/<name>.expected and
 * reports whether the status matches the "status" in the JSON (which it
 * does not rewrite: that one is chosen by the author).
 *
 * Example spec format (examples/<name>.json):
 *   { "description": "...",
 *     "args":   ["arg1", ...],     argv[1..]; argv[0] is always the example's name
 *     "env":    ["K=V", ...],      the whole environment (default: empty)
 *     "stdin":  "text",            standard input (default: empty)
 *     "status": 0 }                expected exit status
 *
 * Build first: node scripts/build-guests.mjs
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const manifestPath = join(ROOT, 'build/guests.json');
if (!existsSync(manifestPath)) {
  console.error('update-expected: build/guests.json missing; run node scripts/build-guests.mjs first');
  process.exit(1);
}
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
const wanted = new Set(process.argv.slice(2));
const examples = new Map();
for (const t of manifest.targets) {
  if (t.kind !== 'examples' || (wanted.size && !wanted.has(t.name))) continue;
  if (!examples.has(t.name)) examples.set(t.name, []);
  examples.get(t.name).push(t);
}

let problems = 0;
for (const [name, targets] of examples) {
  const specPath = join(ROOT, 'examples', `${name}.json`);
  const spec = existsSync(specPath) ? JSON.parse(readFileSync(specPath, 'utf8')) : {};
  const env = Object.fromEntries((spec.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  let reference = null;
  for (const t of targets) {
    const r = spawnSync(join(ROOT, t.path), spec.args ?? [], {
      argv0: name,
      env,
      input: spec.stdin ?? '',
      maxBuffer: 64 << 20,
    });
    if (r.error) {
      console.error(`${t.path}: cannot run natively: ${r.error.message}`);
      process.exit(1);
    }
    const got = { stdout: r.stdout.toString('latin1'), status: r.status ?? 128 + (r.signal ? 1 : 0) };
    if (!reference) {
      reference = { ...got, path: t.path };
    } else if (got.stdout !== reference.stdout || got.status !== reference.status) {
      console.error(`${name}: ${t.path} differs from ${reference.path} (status ${got.status} vs ${reference.status})`);
      problems++;
    }
  }
  if (!reference) continue;
  writeFileSync(join(ROOT, 'examples', `${name}.expected`), Buffer.from(reference.stdout, 'latin1'));
  const statusNote = spec.status === reference.status ? 'status ok' : `STATUS ${reference.status}, spec says ${spec.status}`;
  if (spec.status !== reference.status) problems++;
  console.log(`${name}: ${targets.length} levels agree; wrote examples/${name}.expected (${reference.stdout.length} bytes), ${statusNote}`);
}
process.exit(problems ? 1 : 0);
