/**
 * The differential harness for real Linux programs: the same i386 ELF run
 * natively on the host and under kmemsim (in-process, src/kernel/process.ts),
 * with the same argv, environment and stdin, each in its own scratch
 * directory, compared byte for byte (stdout, stderr, exit status).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir, constants as osConstants } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runUserProgram } from '../../src/kernel/process.js';
import { canRunNativeI386 } from '../differential/native.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface Outcome {
  stdout: string;
  stderr: string;
  status: number | string;
}

export interface RunSpec {
  exe: string;
  args: string[];
  env?: string[];
  stdin?: string;
  /** Files to create in each scratch directory first (name → contents); a name ending in / is a directory. */
  setup?(dir: string): void;
  maxInstructions?: number;
}

const BASE_ENV = ['PATH=/usr/bin:/bin', 'LC_ALL=C', 'HOME=/nonexistent', 'TZ=UTC'];

/**
 * The reference run: the host executing the i386 binary, or — with `qemu`, on a host that cannot
 * (qemuReference) — qemu-i386 (qemu-user) executing it.
 */
export function runNativeIn(dir: string, spec: RunSpec, qemu = false): Outcome {
  const env = Object.fromEntries([...BASE_ENV, ...(spec.env ?? [])].map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  const [file, args] = qemu ? ['qemu-i386', [spec.exe, ...spec.args]] : [spec.exe, spec.args];
  const r = spawnSync(file, args, { cwd: dir, env, input: spec.stdin ?? '', maxBuffer: 64 << 20, timeout: 30_000 });
  // Death by a signal is compared as the status a shell shows for it (128 + N), which is what kmemsim run exits with.
  const status = r.status ?? (r.signal && osConstants.signals[r.signal] ? 128 + osConstants.signals[r.signal] : `signal ${r.signal}`);
  return { stdout: r.stdout?.toString('latin1') ?? '', stderr: r.stderr?.toString('latin1') ?? '', status };
}

export function runKmemsimIn(dir: string, spec: RunSpec): Outcome {
  const r = runUserProgram(new Uint8Array(readFileSync(spec.exe)), {
    argv: [spec.exe, ...spec.args],
    env: [...BASE_ENV, ...(spec.env ?? [])],
    stdin: Buffer.from(spec.stdin ?? '', 'latin1'),
    cwd: dir,
    maxInstructions: spec.maxInstructions ?? 2_000_000_000,
  });
  const stderr = Buffer.from(r.stderr).toString('latin1');
  return {
    stdout: Buffer.from(r.stdout).toString('latin1'),
    stderr: r.stop.kind === 'exited' ? stderr : `${stderr}[kmemsim stop: ${JSON.stringify(r.stop)}]`,
    status: r.exitCode,
  };
}


/**
 * The reference for `differential` on this host: false (the host runs i386 binaries itself), true
 * (it cannot, and qemu-i386 is installed: `differential(spec, true)`), or why there is none.
 */
export function qemuReference(): boolean | string {
  const host = canRunNativeI386();
  if (host.ok) return false;
  const q = spawnSync('qemu-i386', ['--version'], { encoding: 'utf8' });
  return q.error || q.status !== 0 ? `${host.why}, and qemu-i386 (Debian's qemu-user) is not installed` : true;
}

/** Run both ways in fresh scratch directories (the reference under qemu-i386 with `qemu`). */
export function differential(spec: RunSpec, qemu = false): { native: Outcome; kmemsim: Outcome } {
  const base = mkdtempSync(join(tmpdir(), 'kmemsim-linux-'));
  const a = join(base, 'native'), b = join(base, 'kmemsim');
  mkdirSync(a);
  mkdirSync(b);
  spec.setup?.(a);
  spec.setup?.(b);
  return { native: runNativeIn(a, spec, qemu), kmemsim: runKmemsimIn(b, spec) };
}

let m32Probe: { build: string | null; run: string | null } | undefined;
function probeM32(): { build: string | null; run: string | null } {
  if (m32Probe) return m32Probe;
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-m32-'));
  const b = spawnSync('sh', ['-c', `printf 'int main(void){return 42;}' | gcc -m32 -static -x c - -o ${dir}/t`]);
  if (b.error || b.status !== 0) return (m32Probe = { build: 'gcc -m32 -static does not work here (install gcc-multilib on an x86 host)', run: 'no i386 program could be built' });
  const host = canRunNativeI386();
  return (m32Probe = { build: null, run: host.ok ? null : host.why });
}

/** Why i386 programs cannot be built here, or null (gcc -m32 -static needs gcc-multilib). Running them needs nativeI386Missing too. */
export function gccM32Missing(): string | null {
  return probeM32().build;
}

/** Why i386 programs cannot run natively here (for the native side of `differential`), or null. */
export function nativeI386Missing(): string | null {
  return probeM32().run;
}

/** Compile test/linux/programs/<name>.c statically for i386 into `outDir`. */
/** The line of `file` marked `/* planted: NAME *\/` (test/linux/modules/task-stacks.c: where a checker's finding points). */
export function plantedLine(file: string, name: string): number {
  const i = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(`/* planted: ${name} */`));
  if (i < 0) throw new Error(`${file}: no line marked planted: ${name}`);
  return i + 1;
}

export function buildProgram(name: string, outDir: string): string {
  const out = join(outDir, name);
  const r = spawnSync('gcc', ['-m32', '-static', '-O2', '-o', out, join(ROOT, 'test/linux/programs', `${name}.c`)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc failed for ${name}: ${r.stderr}`);
  return out;
}

/**
 * Debian 12's busybox-static for i386: $KMEMSIM_BUSYBOX, or build/busybox-i386/bin/busybox
 * (.ci/run unpacks it there as root), or fetched now with `apt-get download` when i386 is
 * a dpkg architecture. Returns the path or a reason to skip.
 */
export function findBusybox(): { path?: string; skip?: string } {
  const env = process.env.KMEMSIM_BUSYBOX;
  if (env && existsSync(env)) return { path: env };
  const dest = join(ROOT, 'build/busybox-i386');
  const bin = join(dest, 'bin/busybox');
  if (existsSync(bin)) return { path: bin };
  const dl = mkdtempSync(join(tmpdir(), 'kmemsim-bb-'));
  const r = spawnSync('apt-get', ['download', 'busybox-static:i386'], { cwd: dl, encoding: 'utf8', timeout: 120_000 });
  const deb = r.status === 0 ? readdirSync(dl).find((f) => f.endsWith('.deb')) : undefined;
  if (!deb) return { skip: 'busybox-static:i386 is not available (as root: dpkg --add-architecture i386 && apt-get update; .ci/run does this)' };
  const x = spawnSync('dpkg-deb', ['-x', join(dl, deb), dest]);
  if (x.status !== 0 || !existsSync(bin)) return { skip: 'dpkg-deb -x failed to unpack busybox-static:i386' };
  return { path: bin };
}
