/**
 * Example guests (examples/*.c): every example at every optimization level
 * must print exactly examples/<name>.expected and exit with the "status"
 * from examples/<name>.json — natively on the host (when it can run i386
 * binaries) and in kmemsim. Both are compared with the same expected file,
 * so they also agree with each other; stderr is compared between the two
 * unless the spec says "compareStderr": false (sysinfo prints host-specific
 * values there).
 *
 * The binaries come from scripts/build-guests.mjs (build/examples/, listed in
 * build/guests.json). When gcc is available the script is run first (it only
 * rebuilds what changed); without gcc the tests skip with a message.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runUserProgram } from '../src/kernel/process.js';
import { canRunNativeI386 } from './differential/native.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MANIFEST = join(ROOT, 'build/guests.json');

interface ExampleSpec {
  description?: string;
  args?: string[];
  env?: string[];
  stdin?: string;
  status: number;
  compareStderr?: boolean;
}

interface Target {
  kind: string;
  name: string;
  opt: string;
  path: string;
}

interface Outcome {
  stdout: string;
  stderr: string;
  /** Exit status, or "signal SIGSEGV" when the native process was killed. */
  status: number | string;
}

function hasGcc(): boolean {
  return !spawnSync(process.env.CC || 'gcc', ['--version']).error;
}

/**
 * Builds (or refreshes) the example guests. Returns `skip` when they cannot
 * exist here (no gcc), `error` when the build script failed.
 */
function prepareGuests(): { skip?: string; error?: string } {
  if (hasGcc()) {
    try {
      execFileSync(process.execPath, [join(ROOT, 'scripts/build-guests.mjs'), '--kind=examples', '--quiet'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      const err = e as { stdout?: Buffer; stderr?: Buffer };
      return { error: `scripts/build-guests.mjs failed:\n${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? ''}` };
    }
  }
  if (!existsSync(MANIFEST)) return { skip: 'gcc not found: example guests not built (install gcc and binutils)' };
  return {};
}

function loadTargets(): Target[] {
  if (!existsSync(MANIFEST)) return [];
  const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { targets: Target[] };
  return manifest.targets.filter((t) => t.kind === 'examples' && existsSync(join(ROOT, t.path)));
}

function loadSpec(name: string): ExampleSpec {
  return JSON.parse(readFileSync(join(ROOT, 'examples', `${name}.json`), 'utf8')) as ExampleSpec;
}

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

function envObject(env: string[]): Record<string, string> {
  return Object.fromEntries(env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

/** Can the host execute static i386 ELF files? Null if so, else the reason (test/differential/native.ts probes it). */
function nativeProblem(sample: Target | undefined): string | null {
  if (!sample) return 'no example binaries';
  const host = canRunNativeI386();
  return host.ok ? null : host.why;
}

function runNative(t: Target, spec: ExampleSpec): Outcome {
  const r = spawnSync(join(ROOT, t.path), spec.args ?? [], {
    argv0: t.name,
    env: envObject(spec.env ?? []),
    input: spec.stdin ?? '',
    maxBuffer: 16 << 20,
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return {
    stdout: r.stdout.toString('latin1'),
    stderr: r.stderr.toString('latin1'),
    status: r.status ?? `signal ${r.signal}`,
  };
}

const KMEMSIM_BUDGET = 2_000_000_000;

function runInKmemsim(t: Target, spec: ExampleSpec): Outcome & { stop: string } {
  const elf = new Uint8Array(readFileSync(join(ROOT, t.path)));
  const r = runUserProgram(elf, {
    argv: [t.name, ...(spec.args ?? [])],
    env: spec.env ?? [],
    stdin: new Uint8Array(Buffer.from(spec.stdin ?? '', 'latin1')),
    maxInstructions: KMEMSIM_BUDGET,
  });
  const stop = r.stop.kind === 'exited' ? 'exited' : `${r.stop.kind}: ${'message' in r.stop ? r.stop.message : ''}`;
  return { stdout: latin1(r.stdout), stderr: latin1(r.stderr), status: r.exitCode, stop };
}

const prepared = prepareGuests();
const unavailable = prepared.skip ?? null;
const targets = unavailable || prepared.error ? [] : loadTargets();
const names = [...new Set(targets.map((t) => t.name))].sort();
const noNative = unavailable ? unavailable : nativeProblem(targets[0]);
const nativeCache = new Map<string, Outcome>();

describe('example guests', () => {
  if (unavailable) {
    it.skip(`skipped: ${unavailable}`, () => {});
    return;
  }
  if (prepared.error) {
    const message = prepared.error;
    it('build the example guests', () => {
      throw new Error(message);
    });
    return;
  }

  it('every examples/*.c was built, with an .expected and a .json spec', () => {
    const sources = readdirSync(join(ROOT, 'examples'))
      .filter((f) => f.endsWith('.c'))
      .map((f) => f.slice(0, -2))
      .sort();
    expect(names).toEqual(sources);
    for (const n of sources) {
      expect(existsSync(join(ROOT, 'examples', `${n}.expected`)), `${n}.expected`).toBe(true);
      expect(typeof loadSpec(n).status, `${n}.json status`).toBe('number');
    }
  });

  for (const name of names) {
    describe(name, () => {
      const spec = loadSpec(name);
      const expected = readFileSync(join(ROOT, 'examples', `${name}.expected`)).toString('latin1');
      const levels = targets.filter((t) => t.name === name);

      for (const t of levels) {
        it(`native -O${t.opt}`, (ctx) => {
          if (noNative) ctx.skip(`native runs skipped: ${noNative}`);
          const out = runNative(t, spec);
          nativeCache.set(t.path, out);
          expect(out.stdout).toBe(expected);
          expect(out.status).toBe(spec.status);
        });
      }

      for (const t of levels) {
        it(`kmemsim -O${t.opt}`, () => {
          const out = runInKmemsim(t, spec);
          expect(out.stop).toBe('exited');
          expect(out.stdout).toBe(expected);
          expect(out.status).toBe(spec.status);
          if (!noNative && spec.compareStderr !== false) {
            const native = nativeCache.get(t.path) ?? runNative(t, spec);
            expect(out.stderr).toBe(native.stderr);
          }
        });
      }
    });
  }
});
