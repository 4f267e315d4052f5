/**
 * Parallel fuzzing through AFL++'s sync directory: two `-S` instances
 * share finds (the second imports the first's queue as sync: entries and
 * records how far in .synced/); `--jobs 2` starts a main and a secondary;
 * a real afl-fuzz instance on a native build and a kmemsim `-M` instance
 * exchange entries when afl++ (afl-fuzz, afl-cc) and gcc-multilib are
 * installed.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { hasGcc, ROOT, NO_GCC, RUNTIME } from '../module/helpers.js';
import { gccM32Missing } from '../linux/harness.js';

const skip = !hasGcc ? NO_GCC : !existsSync(RUNTIME) ? `${RUNTIME} missing: run npm run build` : null;
if (skip) console.log(`test/fuzz/parallel.test.ts: skipped: ${skip}`);
const LAUNCHER_BUILT = existsSync(join(ROOT, 'dist/cli/main.js')) || existsSync(join(ROOT, 'dist/bundle/main.js'));
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
/** afl-cc must build a program (the afl++ package without its compiler's recommends may not). */
function aflCcWorks(): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-aflcc-'));
  writeFileSync(join(dir, 't.c'), 'int main(void) { return 0; }\n');
  return spawnSync('afl-cc', [join(dir, 't.c'), '-o', join(dir, 't')], { env: { ...process.env, AFL_QUIET: '1' } }).status === 0;
}
const noAfl = !has('afl-fuzz') || !has('afl-cc') ? 'afl-fuzz or afl-cc not installed (Debian package afl++)'
  : !aflCcWorks() ? 'afl-cc cannot build a program here (it needs clang)' : gccM32Missing();
if (noAfl) console.log(`test/fuzz/parallel.test.ts: the afl-fuzz exchange is skipped: ${noAfl}`);

async function kmemsim(args: string[]): Promise<{ status: number; stderr: string }> {
  const err: Buffer[] = [];
  const status = await main(args, { stdout: () => undefined, stderr: (b) => void err.push(Buffer.from(b)), stdin: () => new Uint8Array(0) });
  return { status, stderr: Buffer.concat(err).toString('latin1') };
}
const tmp = (): string => mkdtempSync(join(tmpdir(), 'kmemsim-fuzz-sync-'));
const queue = (out: string, name: string): string[] => readdirSync(join(out, name, 'queue')).filter((n) => n.startsWith('id:')).sort();
const EX = join(ROOT, 'examples/fuzz');

describe.skipIf(skip !== null)('kmemsim fuzz: -M/-S sync directory', () => {
  it('two -S instances share finds: the second imports the first\'s queue entries (sync:NAME) once', async () => {
    const out = tmp();
    const a = await kmemsim(['fuzz', join(EX, 'clean.c'), '--kmemcheck', '-o', out, '-S', 'one', '--seed', '1', '--runs', '300']);
    expect(a.status, a.stderr).toBe(0);
    const found = queue(out, 'one');
    expect(found.length).toBeGreaterThan(3);
    const b = await kmemsim(['fuzz', join(EX, 'clean.c'), '--kmemcheck', '-o', out, '-S', 'two', '--seed', '2', '--runs', '40']);
    expect(b.status, b.stderr).toBe(0);
    const imported = queue(out, 'two').filter((n) => /,sync:one,src:\d{6}$/.test(n));
    expect(imported.length).toBeGreaterThan(0);
    expect(readFileSync(join(out, 'two/.synced/one')).readUInt32LE(0)).toBe(found.length);
    expect(readFileSync(join(out, 'two/fuzzer_stats'), 'utf8')).toMatch(new RegExp(`^corpus_imported +: ${imported.length}$`, 'm'));
    // The first instance, resumed, imports the second's own finds and not its own entries back.
    const a2 = await kmemsim(['fuzz', join(EX, 'clean.c'), '--kmemcheck', '-o', out, '-S', 'one', '-i', '-', '--seed', '1', '--runs', '400']);
    expect(a2.status, a2.stderr).toBe(0);
    const twos = queue(out, 'two');
    expect(readFileSync(join(out, 'one/.synced/two')).readUInt32LE(0)).toBe(twos.length);
    for (const n of queue(out, 'one')) {
      const m = /,sync:two,src:(\d{6})$/.exec(n);
      if (m) expect(twos.find((t) => t.startsWith(`id:${m[1]},`))).not.toMatch(/,sync:one,/); // its own entries give it nothing new
    }
  });

  it('-M marks the main instance (is_main_node) and -M with -S is refused', async () => {
    const out = tmp();
    const r = await kmemsim(['fuzz', join(EX, 'clean.c'), '-o', out, '-M', 'boss', '--runs', '5']);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(out, 'boss/is_main_node'))).toBe(true);
    const bad = await kmemsim(['fuzz', join(EX, 'clean.c'), '-o', tmp(), '-M', 'a', '-S', 'b', '--runs', '5']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^kmemsim: -M and -S exclude each other/m);
    const name = await kmemsim(['fuzz', join(EX, 'clean.c'), '-o', tmp(), '-S', '../x', '--runs', '5']);
    expect(name.status).toBe(2);
  });

  it.skipIf(!LAUNCHER_BUILT)('--jobs 2 runs a main instance and a secondary in OUT', async () => {
    const out = tmp();
    const r = await kmemsim(['fuzz', join(EX, 'clean.c'), '-o', out, '--jobs', '2', '--runs', '150', '--seed', '5']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/main and 1 secondary \(secondary1\)/);
    expect(existsSync(join(out, 'main/is_main_node'))).toBe(true);
    expect(readFileSync(join(out, 'main/fuzzer_stats'), 'utf8')).toMatch(/^execs_done +: 150$/m);
    expect(existsSync(join(out, 'secondary1/fuzzer_stats'))).toBe(true);
    expect(readFileSync(join(out, 'secondary1/fuzzer_stats'), 'utf8')).toMatch(/^command_line +: .* -S secondary1 --seed 6 /m);
  });
});

describe.skipIf(skip !== null || noAfl !== null)('kmemsim fuzz: with a real afl-fuzz instance', () => {
  it('a kmemsim -M instance imports afl-fuzz\'s queue, and afl-fuzz -S imports kmemsim\'s', async () => {
    const dir = tmp();
    const native = join(dir, 'ini-native');
    const i386 = join(dir, 'ini-i386');
    const src = join(EX, 'programs/glibc-ini.c');
    expect(spawnSync('afl-cc', ['-O2', src, '-o', native]).status).toBe(0);
    expect(spawnSync('gcc', ['-m32', '-static', '-O2', src, '-o', i386]).status).toBe(0);
    const out = join(dir, 'out');
    const env = { ...process.env, AFL_NO_UI: '1', AFL_SKIP_CPUFREQ: '1', AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES: '1', AFL_NO_AFFINITY: '1', AFL_IMPORT_FIRST: '1' };
    const afl = (input: string): void => {
      const r = spawnSync('afl-fuzz', ['-i', input, '-o', out, '-S', 'afl', '-V', '2', '--', native, '@@'], { env, cwd: dir, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    };
    afl(join(EX, 'programs/glibc-ini.seeds'));
    const k = await kmemsim(['fuzz', i386, '-o', out, '-M', 'km', '--seed', '1', '--runs', '60', '--keep-going', '--', '@@']);
    expect([0, 99]).toContain(k.status);
    expect(queue(out, 'km').some((n) => /,sync:afl,src:\d{6}$/.test(n))).toBe(true);
    afl('-');
    // afl-fuzz recorded how far it read kmemsim's queue (AFL++ secondaries sync from main nodes).
    expect(existsSync(join(out, 'afl/.synced/km'))).toBe(true);
    expect(readFileSync(join(out, 'afl/.synced/km')).readUInt32LE(0)).toBe(queue(out, 'km').length);
  }, 120_000);
});
