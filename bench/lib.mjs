/**
 * bench/lib.mjs — what the benchmarks share: timing (CPU time and wall time,
 * medians), child processes with their CPU time, kmemsim cold runs, the
 * peers (native, qemu-i386, Valgrind) and table printing.
 *
 * CPU time is the figure to compare on a shared machine: wall time grows
 * with whatever else runs, CPU time (user + system, every thread of the
 * process) much less. In-process runs are timed with process.cpuUsage();
 * child processes with the kernel's accounting of waited-for children
 * (cutime + cstime in /proc/self/stat, getrusage(RUSAGE_CHILDREN)'s figure,
 * in clock ticks: 10 ms at the usual 100 Hz), so short children are run
 * several times and their total divided.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const KMEMSIM_BIN = join(ROOT, 'bin/kmemsim.js');

/** The checkers' modes (bench/checkers.mjs, bench/ab.mjs): runChecked() options and the `kmemsim run` flags that ask for the same. */
export const CHECKER_MODES = [
  { name: 'plain', options: {}, flags: [] },
  { name: 'kmemcheck', options: { heap: 'kmemcheck' }, flags: ['--kmemcheck'] },
  { name: 'inline', options: { heap: 'inline' }, flags: ['--kmemcheck', '--kmemcheck-inline'] },
  { name: 'precise', options: { stack: 'precise' }, flags: ['--stack', 'precise'] },
  { name: 'cpl1', options: { stack: 'cpl1' }, flags: ['--stack', 'cpl1'] },
  { name: 'ftrace', options: { stack: 'ftrace' }, flags: ['--stack', 'ftrace'] },
];

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const nowSeconds = () => Number(process.hrtime.bigint()) / 1e9;

/** Run `fn` in this process: its wall and CPU seconds and its value. */
export function inProcess(fn) {
  const c0 = process.cpuUsage();
  const t0 = nowSeconds();
  const value = fn();
  const wall = nowSeconds() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6, value };
}

let ticks = null;
/** CPU seconds of this process's waited-for children so far, or null where /proc is missing. */
function childrenCpu() {
  try {
    const stat = readFileSync('/proc/self/stat', 'latin1');
    // Fields after the command name (which may contain spaces) start at field 3; cutime and cstime are 16 and 17.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'latin1' }).stdout) || 100;
    return (Number(f[13]) + Number(f[14])) / ticks;
  } catch {
    return null;
  }
}

/**
 * Run a command `runs` times: median wall seconds, CPU seconds per run (the
 * children's total over `runs`), the first run's stdout and status; checks
 * every run printed the same. `{ error }` when it cannot be run.
 */
export function runChild(cmd, args, { runs = 1, env = process.env, input } = {}) {
  const walls = [];
  let first = null;
  const c0 = childrenCpu();
  for (let i = 0; i < runs; i++) {
    const t0 = nowSeconds();
    const r = spawnSync(cmd, args, { env, input, maxBuffer: 64 << 20 });
    walls.push(nowSeconds() - t0);
    if (r.error) return { error: `cannot run ${cmd}: ${r.error.code ?? r.error.message}` };
    // Refused as the program itself, or as a tool's own i386 part (valgrind's x86-linux tools).
    if (refusedElf(cmd, r) || (r.stdout.length === 0 && /: Exec format error/.test(r.stderr.toString('latin1')))) return { error: 'this host cannot execute i386 binaries (exec format error)' };
    const res = { stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString('latin1'), status: r.status ?? 128 + 9 };
    if (first && (res.stdout !== first.stdout || res.status !== first.status)) return { error: `${cmd}: runs disagree with each other` };
    first ??= res;
  }
  const c1 = childrenCpu();
  return { ...first, wall: median(walls), walls, cpu: c0 === null || c1 === null ? null : (c1 - c0) / runs };
}

/**
 * The kernel refused `cmd`, an ELF file, with ENOEXEC (a kernel without IA32
 * emulation, or a sandbox such as gVisor that runs only 64-bit code), and
 * execvp fell back to running it as a shell script: sh's syntax error, not
 * the program's output. Without this the refusal would look like a program
 * that printed nothing and exited 2.
 */
export function refusedElf(cmd, r) {
  if (r.status === 0 || r.stdout.length > 0) return false;
  if (!/Syntax error|syntax error|Exec format error|cannot execute binary file/.test(r.stderr.toString('latin1'))) return false;
  try {
    return readFileSync(cmd).subarray(0, 4).toString('latin1') === '\x7fELF';
  } catch {
    return false;
  }
}

/** A fresh `kmemsim ...` process (bin/kmemsim.js under this Node): start-up and V8 warm-up included. */
export function kmemsimCold(args, opts = {}) {
  return runChild(process.execPath, [KMEMSIM_BIN, ...args], opts);
}

/** The tool answers `--version`. */
export function hasTool(name) {
  const r = spawnSync(name, ['--version'], { encoding: 'latin1' });
  return !r.error && r.status === 0;
}

/**
 * The peers on the same i386 program: natively (the host runs i386
 * binaries), under qemu-i386 and under Valgrind (no-op tool and Memcheck)
 * when installed. Each entry: { name, wall, cpu, stdout, status } or
 * { name, error }.
 */
export function runPeers(binary, args, { nativeRuns = 11, peerRuns = 3, peers = true } = {}) {
  const out = [{ name: 'native', ...runChild(binary, args, { runs: nativeRuns }) }];
  if (!peers) {
    // Without native, qemu-i386 still gives the reference output (see referenceOf).
    if (out[0].error && hasTool('qemu-i386')) out.push({ name: 'qemu-i386', ...runChild('qemu-i386', [binary, ...args]) });
    return out;
  }
  if (hasTool('qemu-i386')) out.push({ name: 'qemu-i386', ...runChild('qemu-i386', [binary, ...args], { runs: peerRuns }) });
  else out.push({ name: 'qemu-i386', error: 'not installed' });
  if (hasTool('valgrind')) {
    out.push({ name: 'valgrind --tool=none', ...runChild('valgrind', ['-q', '--tool=none', binary, ...args], { runs: peerRuns }) });
    out.push({ name: 'valgrind --tool=memcheck', ...runChild('valgrind', ['-q', '--tool=memcheck', binary, ...args], { runs: peerRuns }) });
  } else {
    out.push({ name: 'valgrind --tool=none', error: 'not installed' }, { name: 'valgrind --tool=memcheck', error: 'not installed' });
  }
  return out;
}

/**
 * The run whose output every other must match: native, or qemu-i386 where
 * this host cannot execute i386 binaries (its output is the program's too;
 * ratios stay to native and are left out without it). null when neither ran.
 */
export function referenceOf(peers) {
  return peers.find((p) => (p.name === 'native' || p.name === 'qemu-i386') && !p.error) ?? null;
}

/** Node, CPU, cores and the load average when the bench started (the machine may be shared). */
export function machine() {
  const c = cpus();
  return { node: process.version, cpu: c[0]?.model?.trim() ?? 'unknown', cores: c.length, loadavg: loadavg().map((x) => Number(x.toFixed(2))) };
}

export const ratio = (a, b) => (a == null || b == null || !(b > 0) ? null : a / b);
export const fmtRatio = (x) => (x == null ? '' : x >= 100 ? `${x.toFixed(0)}x` : x >= 10 ? `${x.toFixed(1)}x` : `${x.toFixed(2)}x`);
export const fmtSeconds = (x) => (x == null ? 'n/a' : x.toFixed(3));
export const fmtInt = (n) => (n == null ? '' : Math.round(n).toLocaleString('en-US'));

/** Print rows (arrays of strings) under a header, first column left-aligned. */
export function printTable(header, rows) {
  const table = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...table.map((r) => String(r[i] ?? '').length)));
  for (const row of table) console.log(row.map((c, i) => (i === 0 ? String(c ?? '').padEnd(widths[i]) : String(c ?? '').padStart(widths[i]))).join('  ').trimEnd());
}

/** Parse `--name=value` options against `spec` ({ name: default }); numbers must be positive integers. */
export function parseOptions(argv, spec, usage) {
  const o = { ...spec };
  for (const a of argv) {
    if (a === '--help' || a === '-h') {
      console.log(usage);
      process.exit(0);
    }
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(a);
    const key = m && Object.keys(spec).find((k) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`) === m[1]);
    if (!key) fail(`unknown option ${a}`, usage);
    if (typeof spec[key] === 'boolean') {
      if (m[2] !== undefined) fail(`${a}: takes no value`, usage);
      o[key] = true;
    } else {
      const n = Number(m[2]);
      if (!Number.isInteger(n) || n < 1) fail(`--${m[1]} needs a positive whole number`, usage);
      o[key] = n;
    }
  }
  return o;
}

export function fail(message, usage) {
  console.error(`bench: ${message}${usage ? `\n${usage}` : ''}`);
  process.exit(2);
}

export function requireFile(path, how) {
  if (!existsSync(path)) fail(`${path} missing: ${how}`);
}
