/**
 * Start-up (README "Start-up"): the bundle bin/kmemsim.js runs loads, for
 * every command, only what every command needs; the checkers (src/shadow,
 * src/rings, src/ftrace, src/harness but its light modes.ts) and compare's reports are chunks
 * reached only through dynamic import(), so `kmemsim run prog` never
 * parses them.
 *
 * bin/kmemsim.js (CommonJS) runs the CommonJS bundle dist/bundle/main.cjs
 * (ASCII, yargs inside) through V8's code cache (bin/code-cache.cjs): the
 * build writes main.cjs.cache from a program run (scripts/code-cache.mjs),
 * else the first run does, later runs use it, a damaged cache is replaced,
 * and the output is the same each time. Tested on a copy of bin/ and
 * dist/bundle/ so the checkout's own cache is left alone.
 */
import { describe, expect, it } from 'vitest';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../module/helpers.js';

const BUNDLE = join(ROOT, 'dist/bundle');
const built = existsSync(join(BUNDLE, 'main.js'));
if (!built) console.log('test/cli/startup.test.ts: skipped: dist/bundle/ is not built (npm run build)');

/** The dist/ modules a bundle file holds (esbuild heads each with a `// dist/...js` comment). */
const modulesIn = (text: string): string[] => [...text.matchAll(/^\/\/ (dist\/\S+\.js)$/gm)].map((m) => m[1]!);

/** The files reached from `file` through static imports, itself included. */
function staticClosure(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(join(BUNDLE, file), 'utf8');
  for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s*"\.\/([^"]+)"/gms)) staticClosure(m[1]!, seen);
  for (const m of text.matchAll(/^import\s*"\.\/([^"]+)"/gm)) staticClosure(m[1]!, seen);
  return seen;
}

describe.skipIf(!built)('the bundled CLI', () => {
  it('loads no checker and no compare code before a command asks for it', () => {
    const eager = [...staticClosure('main.js')].flatMap((f) => modulesIn(readFileSync(join(BUNDLE, f), 'utf8')));
    expect(eager).toContain('dist/cpu/cpu.js');
    expect(eager).toContain('dist/kernel/process.js');
    const lazy = eager.filter((m) => (/^dist\/(shadow|rings|ftrace|harness|report)\//.test(m) && m !== 'dist/harness/modes.js') || m === 'dist/cli/check-command.js' || m === 'dist/cli/compare-command.js');
    expect(lazy).toEqual([]);
  });

  it('the lazy chunks exist and main.js imports them dynamically', () => {
    const main = readFileSync(join(BUNDLE, 'main.js'), 'utf8');
    const dynamic = [...main.matchAll(/import\("\.\/([^"]+)"\)/g)].map((m) => m[1]!);
    const reached = dynamic.flatMap((f) => [...staticClosure(f)]).flatMap((f) => modulesIn(readFileSync(join(BUNDLE, f), 'utf8')));
    expect(reached).toContain('dist/cli/check-command.js');
    expect(reached).toContain('dist/harness/checked-run.js');
    expect(reached).toContain('dist/shadow/kmemcheck.js');
    expect(reached).toContain('dist/cli/compare-command.js');
  });
});

const HELLO = join(ROOT, 'build/examples/hello-O2');
const haveCjs = existsSync(join(BUNDLE, 'main.cjs')) && existsSync(HELLO);
if (!haveCjs) console.log('test/cli/startup.test.ts: code cache tests skipped: dist/bundle/main.cjs or build/examples/hello-O2 is not built (npm run build)');

describe.skipIf(!haveCjs)('the code cache of the CommonJS bundle', () => {
  it('is written by the first run, used by the next, replaced when damaged; the output never changes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-codecache-'));
    try {
      cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
      cpSync(BUNDLE, join(dir, 'dist/bundle'), { recursive: true });
      rmSync(join(dir, 'dist/bundle/main.cjs.cache'), { force: true });
      // yargs and the guest runtime are found from the copy as from the checkout.
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
      copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
      const cache = join(dir, 'dist/bundle/main.cjs.cache');
      const run = () => spawnSync(process.execPath, [join(dir, 'bin/kmemsim.js'), 'run', HELLO, '--', 'a', 'b'], { encoding: 'utf8', env: { ...process.env, GREETING: 'x' } });
      const first = run();
      expect(first.stderr).toBe('');
      expect(first.status).toBe(2);
      expect(first.stdout).toMatch(/Hello from a static i386 guest!/);
      expect(statSync(cache).size).toBeGreaterThan(100_000);
      const written = statSync(cache).mtimeMs;
      const second = run();
      expect(second).toMatchObject({ status: 2, stdout: first.stdout, stderr: '' });
      expect(statSync(cache).mtimeMs).toBe(written); // accepted: not rewritten
      writeFileSync(cache, 'not a code cache');
      const third = run();
      expect(third).toMatchObject({ status: 2, stdout: first.stdout, stderr: '' });
      expect(statSync(cache).size).toBeGreaterThan(100_000); // rejected by V8, written anew
      // A cache older than the bundle (V8 would take one for another bundle of the same length) is replaced.
      const rewritten = statSync(cache).mtimeMs;
      utimesSync(cache, new Date(rewritten - 60_000), new Date(rewritten - 60_000));
      expect(run()).toMatchObject({ status: 2, stdout: first.stdout, stderr: '' });
      expect(statSync(cache).mtimeMs).toBeGreaterThan(statSync(join(dir, 'dist/bundle/main.cjs')).mtimeMs);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is written by the build from a program run, which no later command replaces', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-buildcache-'));
    try {
      cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
      cpSync(BUNDLE, join(dir, 'dist/bundle'), { recursive: true });
      cpSync(join(ROOT, 'scripts/code-cache.mjs'), join(dir, 'scripts/code-cache.mjs'));
      cpSync(HELLO, join(dir, 'build/examples/hello-O2'));
      copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
      const cache = join(dir, 'dist/bundle/main.cjs.cache');
      // What the first command alone would have cached: `--version` compiles no program run.
      rmSync(cache, { force: true });
      expect(spawnSync(process.execPath, [join(dir, 'bin/kmemsim.js'), '--version']).status).toBe(0);
      const versionOnly = statSync(cache).size;
      const script = spawnSync(process.execPath, [join(dir, 'scripts/code-cache.mjs')], { encoding: 'utf8' });
      expect(script).toMatchObject({ status: 0, stderr: '' });
      const built = statSync(cache);
      expect(built.size).toBeGreaterThan(versionOnly * 1.2);
      expect(spawnSync(process.execPath, [join(dir, 'bin/kmemsim.js'), '--version']).status).toBe(0);
      expect(statSync(cache).mtimeMs).toBe(built.mtimeMs);
      // Without the example it says why and leaves the cache alone.
      rmSync(join(dir, 'build'), { recursive: true });
      const without = spawnSync(process.execPath, [join(dir, 'scripts/code-cache.mjs')], { encoding: 'utf8' });
      expect(without.status).toBe(0);
      expect(without.stdout).toMatch(/no code cache written: build\/examples\/hello-O2 is not built/);
      expect(statSync(cache).mtimeMs).toBe(built.mtimeMs);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is started by a CommonJS launcher (no ES-module main entry), which falls back to the ES-module bundle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-launcher-'));
    try {
      cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
      cpSync(BUNDLE, join(dir, 'dist/bundle'), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
      copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
      // process.mainModule is the entry's CommonJS module; Node leaves it undefined for an ES-module entry.
      const probe = join(dir, 'probe.cjs');
      writeFileSync(probe, "process.on('exit', () => process.stderr.write(`main: ${process.mainModule?.filename}\\n`));\n");
      const run = () => spawnSync(process.execPath, ['-r', probe, join(dir, 'bin/kmemsim.js'), 'run', HELLO], { encoding: 'utf8' });
      const viaCjs = run();
      expect(viaCjs.stderr).toBe(`main: ${join(dir, 'bin/kmemsim.js')}\n`);
      expect(viaCjs.stdout).toMatch(/Hello from a static i386 guest!/);
      rmSync(join(dir, 'dist/bundle/main.cjs'));
      const viaEsm = run();
      expect(viaEsm).toMatchObject({ status: viaCjs.status, stdout: viaCjs.stdout, stderr: viaCjs.stderr });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is ASCII (read as latin1), and what it prints is not changed by that', () => {
    expect(readFileSync(join(BUNDLE, 'main.cjs'), 'latin1')).toMatch(/^[\x00-\x7f]*$/);
    const help = spawnSync(process.execPath, [join(ROOT, 'bin/kmemsim.js'), 'run', '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '200' } });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('DR0\u2013DR3 data breakpoints');
  });

  it('holds yargs: it runs without node_modules, with yargs\'s translations beside it', () => {
    expect(readFileSync(join(BUNDLE, 'main.cjs'), 'utf8')).not.toMatch(/require\("yargs/);
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-bundle-'));
    try {
      cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
      cpSync(BUNDLE, join(dir, 'dist/bundle'), { recursive: true });
      copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
      const run = (lang: string, ...args: string[]) =>
        spawnSync(process.execPath, [join(dir, 'bin/kmemsim.js'), ...args], { encoding: 'utf8', env: { ...process.env, LC_ALL: lang, LANG: lang } });
      expect(run('C', '--version')).toMatchObject({ status: 0, stdout: `${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}\n` });
      const en = run('C', 'run');
      expect(en.status).toBe(2);
      expect(en.stderr).toMatch(/^kmemsim: Not enough non-option arguments: got 0, need at least 1\n/);
      const fr = run('fr_FR.UTF-8', 'run');
      expect(fr.status).toBe(2);
      expect(fr.stderr).toMatch(/^kmemsim: Pas assez d'arguments/);
      expect(run('C', '--help').stdout).toMatch(/^Commands:$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
