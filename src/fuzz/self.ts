/**
 * kmemsim against itself: the standing robustness suite. Malformed inputs —
 * mutated executables, module objects and Multiboot kernels, random code
 * wrapped in an executable, hand-made bad files — go through the real
 * command line (`main()` of src/cli/main.ts, in-process, stdout and stderr
 * captured), with and without every checker and through `run`, `disasm`,
 * `boot` and `compare`, and every outcome is checked:
 *
 * - the exit status is one the README documents for that command;
 * - kmemsim's own stderr lines carry no JavaScript stack trace (no "    at "
 *   line, no TypeError/RangeError) and no "internal error";
 * - a failure status comes with a one-line "kmemsim: ..." message;
 * - the same input gives the same status, stdout and stderr again
 *   (checked on every `determinismEvery`-th input);
 * - the process's memory stays under a bound.
 *
 * Mutations are drawn from a seeded generator (xorshift32), so a run is
 * reproducible from its seed. The vitest suite (test/robustness/fuzz.test.ts)
 * runs a small fixed budget; `npm run fuzz-self -- --time 600`
 * (scripts/fuzz-self.mjs) runs for longer and saves any violating input.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { main } from '../cli/main.js';
import type { CliIO } from '../cli/io.js';
import { compileModule, CompileError } from '../cli/compile.js';

/** What one command line did. */
export interface Outcome {
  status: number;
  stdout: string;
  stderr: string;
}

/** Cap on captured output per stream (a mutated program may print a lot); what is past it is counted, not kept. */
const CAPTURE_LIMIT = 64 * 1024;

/** Run `kmemsim ARGV` in this process with stdout/stderr captured (latin1 text) and the given stdin. */
export async function runCaptured(argv: string[], stdin: Uint8Array = new Uint8Array(0)): Promise<Outcome> {
  const outParts: string[] = [];
  const errParts: string[] = [];
  let outLen = 0;
  let errLen = 0;
  const io: CliIO = {
    stdout: (b) => {
      if (outLen < CAPTURE_LIMIT) outParts.push(Buffer.from(b).toString('latin1'));
      outLen += b.length;
    },
    stderr: (b) => {
      if (errLen < CAPTURE_LIMIT) errParts.push(Buffer.from(b).toString('latin1'));
      errLen += b.length;
    },
    stdin: () => stdin,
  };
  // One event-loop turn first: callers run many of these back to back, and a test worker must answer its RPC.
  await new Promise<void>((resolve) => setImmediate(resolve));
  let status: number;
  try {
    status = await main(argv, io);
  } catch (e) {
    // Nothing may escape main(): report it as the violation it is.
    status = -1;
    errParts.push(`UNCAUGHT ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  }
  return { status, stdout: outParts.join(''), stderr: errParts.join('') };
}

// ---- the documented exit statuses, per command (README "Use", "Kernel modules", "kmemcheck", "boot") ----

export type Command = 'program' | 'module' | 'disasm' | 'boot' | 'compare';

/** Statuses kmemsim itself chooses; for `program` any guest status 0..255 is also documented ("the guest's"). */
const KMEMSIM_STATUSES: Record<Command, readonly number[]> = {
  program: [2, 124, 125, 126, 127],
  module: [0, 1, 2, 99, 124, 125, 126, 127],
  disasm: [0, 2, 126, 127],
  boot: [0, 2, 124, 125, 126, 127],
  compare: [0, 2, 126, 127],
};

function documented(cmd: Command, status: number): boolean {
  if (!Number.isInteger(status) || status < 0 || status > 255) return false;
  if (cmd === 'program') return true;
  if (cmd === 'boot' && status & 1) return true; // (v << 1) | 1 from isa-debug-exit
  return KMEMSIM_STATUSES[cmd].includes(status);
}

/** Statuses that must come with a kmemsim message on stderr (for programs, the guest may exit with any of them itself). */
function needsMessage(cmd: Command, status: number): boolean {
  if (cmd === 'program') return false;
  if (cmd === 'boot') return [2, 124, 125, 126, 127].includes(status);
  return [2, 124, 125, 126, 127].includes(status) || (cmd === 'module' && status === 99);
}

/** Why an outcome breaks the contract, or null when it keeps it. */
export function violation(cmd: Command, o: Outcome): string | null {
  if (o.status === -1) return `main() threw: ${o.stderr.split('\n').slice(-3).join(' | ')}`;
  if (!documented(cmd, o.status)) return `undocumented exit status ${o.status} for ${cmd}`;
  const lines = o.stderr.split('\n');
  // A V8 stack frame: "    at fn (file:///x.js:12:34)" or "    at file:///x.js:12:34".
  const trace = lines.find((l) => /^\s+at .*:\d+:\d+\)?$/.test(l) || /^(\w*Error|TypeError|RangeError|ReferenceError|SyntaxError)\b/.test(l));
  if (trace !== undefined) return `JavaScript stack trace on stderr: ${trace.trim()}`;
  const internal = lines.find((l) => /^kmemsim: .*internal error/.test(l));
  if (internal !== undefined) return `internal error: ${internal}`;
  // compare names a program it could not compare in its table ("  not compared: why"), on stdout.
  const said = lines.some((l) => /^kmemsim: \S/.test(l)) || (cmd === 'compare' && /^ {2}not compared: \S/m.test(o.stdout));
  if (needsMessage(cmd, o.status) && !said) return `status ${o.status} without a "kmemsim: ..." message`;
  return null;
}

// ---- seeded randomness and mutations -------------------------------------------------------------

/** xorshift32: small, fast, and the same sequence everywhere for a seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.below(a.length)]!;
  }
}

const INTERESTING32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x1000, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x40000000, 0x08048000, 0xc0000000];

function put32(b: Uint8Array, off: number, v: number): void {
  if (off + 4 > b.length) return;
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}
function get32(b: Uint8Array, off: number): number {
  return off + 4 <= b.length ? (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0 : 0;
}
function get16(b: Uint8Array, off: number): number {
  return off + 2 <= b.length ? b[off]! | (b[off + 1]! << 8) : 0;
}

/** Where the ELF tables are (for structure-aware mutations); zeros when the file is too short. */
function tables(b: Uint8Array): { phoff: number; phsize: number; shoff: number; shsize: number } {
  return { phoff: get32(b, 28), phsize: get16(b, 42) * get16(b, 44), shoff: get32(b, 32), shsize: get16(b, 46) * get16(b, 48) };
}

/**
 * One mutant of `orig`: bit flips, byte and word smashes with interesting
 * values, in the ELF header, the program or section header tables or
 * anywhere, truncation and extension — one to four of them stacked.
 */
export function mutate(orig: Uint8Array, rng: Rng): Uint8Array {
  let b = new Uint8Array(orig);
  const rounds = 1 + rng.below(4);
  for (let r = 0; r < rounds && b.length > 0; r++) {
    const t = tables(b);
    const region = (): number => {
      switch (rng.below(4)) {
        case 0: return rng.below(Math.min(52, b.length));
        case 1: return t.phsize && t.phoff < b.length ? t.phoff + rng.below(Math.min(t.phsize, b.length - t.phoff)) : rng.below(b.length);
        case 2: return t.shsize && t.shoff < b.length ? t.shoff + rng.below(Math.min(t.shsize, b.length - t.shoff)) : rng.below(b.length);
        default: return rng.below(b.length);
      }
    };
    switch (rng.below(6)) {
      case 0: {
        const o = region();
        b[o] = b[o]! ^ (1 << rng.below(8));
        break;
      }
      case 1:
        b[region()] = rng.below(256);
        break;
      case 2:
        put32(b, region() & ~3, rng.pick(INTERESTING32));
        break;
      case 3:
        put32(b, region(), rng.next());
        break;
      case 4:
        b = b.slice(0, rng.below(b.length + 1));
        break;
      default: {
        const extra = new Uint8Array(1 + rng.below(64));
        for (let i = 0; i < extra.length; i++) extra[i] = rng.below(256);
        const o = rng.below(b.length + 1);
        const n = new Uint8Array(b.length + extra.length);
        n.set(b.subarray(0, o));
        n.set(extra, o);
        n.set(b.subarray(o), o + extra.length);
        b = n;
      }
    }
  }
  return b;
}

/**
 * A minimal static i386 executable whose code is `code` (one PT_LOAD, R+X,
 * entry at the code): random code run as a program (at 0x08048000), or,
 * with `multiboot`, booted as a Multiboot kernel (at 1 MiB, with the
 * header: magic 0x1BADB002, flags 0, checksum) by `kmemsim boot`.
 */
export function executableFromCode(code: Uint8Array, multiboot = false): Uint8Array {
  const base = multiboot ? 0x100000 : 0x08048000;
  const mbh = multiboot ? 12 : 0;
  const hdr = 52 + 32 + mbh;
  const b = new Uint8Array(hdr + code.length);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0]);
  const dv = new DataView(b.buffer);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 3, true); // EM_386
  dv.setUint32(20, 1, true);
  dv.setUint32(24, base + hdr, true); // e_entry
  dv.setUint32(28, 52, true); // e_phoff
  dv.setUint16(40, 52, true);
  dv.setUint16(42, 32, true);
  dv.setUint16(44, 1, true);
  dv.setUint32(52, 1, true); // PT_LOAD
  dv.setUint32(56, 0, true);
  dv.setUint32(60, base, true);
  dv.setUint32(64, base, true);
  dv.setUint32(68, b.length, true);
  dv.setUint32(72, b.length, true);
  dv.setUint32(76, 5, true); // R+X
  dv.setUint32(80, 0x1000, true);
  if (multiboot) {
    dv.setUint32(84, 0x1badb002, true);
    dv.setUint32(88, 0, true);
    dv.setUint32(92, (-0x1badb002) >>> 0, true);
  }
  b.set(code, hdr);
  return b;
}

/** Random code: mostly random bytes, sometimes biased to the one-byte map's common opcodes and 0F escapes. */
export function randomCode(rng: Rng): Uint8Array {
  const n = 1 + rng.below(96);
  const code = new Uint8Array(n);
  const common = [0x0f, 0x66, 0xf3, 0xf2, 0x89, 0x8b, 0x01, 0x29, 0x31, 0xcd, 0xff, 0xe8, 0xeb, 0xc3, 0xd8, 0xd9, 0xdd, 0xde];
  for (let i = 0; i < n; i++) code[i] = rng.below(3) === 0 ? rng.pick(common) : rng.below(256);
  return code;
}

// ---- the campaign ----------------------------------------------------------------------------------

/** One input class of the campaign: how to make an input and run it. */
export interface InputClass {
  name: string;
  command: Command;
  /** The argv for `kmemsim` given the input's path (and the rng, for flags). */
  argv(path: string, rng: Rng): string[];
  /** The input's bytes. */
  make(rng: Rng): Uint8Array;
  /** File name suffix (".o" for modules is not needed: they are recognized by e_type; ".c" for compare). */
  suffix?: string;
}

export interface ClassCount {
  runs: number;
  statuses: Record<number, number>;
}

export interface FuzzReport {
  seed: number;
  counts: Record<string, ClassCount>;
  violations: { cls: string; argv: string[]; reason: string; saved: string | null }[];
  maxRss: number;
}

export interface FuzzOptions {
  seed: number;
  classes: InputClass[];
  /** Scratch directory for the inputs (files are overwritten; violating inputs are kept). */
  workDir: string;
  /** Stop after this many inputs in total... */
  maxInputs?: number;
  /** ...or when this many milliseconds have passed (whichever first). */
  timeMs?: number;
  /** Check determinism (a second run, same outcome) on every n-th input (default 4; 0 = never). */
  determinismEvery?: number;
  /** The process's RSS must stay under this many bytes (default 3 GiB). */
  rssLimit?: number;
  /** Where violating inputs are saved (default: workDir). */
  saveDir?: string;
  progress?(line: string): void;
}

/**
 * Output with what is measured on the host's clock masked: `compare`'s wall
 * time and slowdown columns (decimal numbers such as "59.4" and "2.5x") are
 * the only part of any command's output that is not a function of its input.
 */
export function wallClockFree(cmd: Command, text: string): string {
  return cmd === 'compare' ? text.replace(/ *\b\d+\.\d+x?(?![\w.])/g, ' #') : text;
}

/** The machinery's own budget per run: enough for a guest to do something, small enough for many inputs. */
export const FUZZ_BUDGET = '200000';

/** Run the campaign: classes in turn, one input each, until the input count or time is reached. */
export async function fuzzSelf(opts: FuzzOptions): Promise<FuzzReport> {
  const rng = new Rng(opts.seed);
  const counts: Record<string, ClassCount> = {};
  const violations: FuzzReport['violations'] = [];
  const started = Date.now();
  const every = opts.determinismEvery ?? 4;
  const rssLimit = opts.rssLimit ?? 3 * 1024 ** 3;
  let maxRss = 0;
  fs.mkdirSync(opts.workDir, { recursive: true });
  for (let i = 0; ; i++) {
    if (opts.maxInputs !== undefined && i >= opts.maxInputs) break;
    if (opts.timeMs !== undefined && Date.now() - started >= opts.timeMs) break;
    if (opts.maxInputs === undefined && opts.timeMs === undefined) break;
    // One event-loop turn per input: a test runner's worker must answer its RPC between long synchronous runs.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const cls = opts.classes[i % opts.classes.length]!;
    const bytes = cls.make(rng);
    const path = join(opts.workDir, `input-${cls.name.replace(/\W/g, "-")}${cls.suffix ?? ''}`);
    fs.writeFileSync(path, bytes);
    const argv = cls.argv(path, rng);
    const o = await runCaptured(argv);
    const c = (counts[cls.name] ??= { runs: 0, statuses: {} });
    c.runs++;
    c.statuses[o.status] = (c.statuses[o.status] ?? 0) + 1;
    let reason = violation(commandFor(cls, bytes), o);
    if (reason === null && every > 0 && i % every === 0) {
      const again = await runCaptured(argv);
      const same = (a: string, b: string): boolean => wallClockFree(cls.command, a) === wallClockFree(cls.command, b);
      if (again.status !== o.status || !same(again.stdout, o.stdout) || !same(again.stderr, o.stderr)) {
        reason = `not deterministic: status ${o.status} then ${again.status}${again.stdout !== o.stdout ? ', stdout differs' : ''}${again.stderr !== o.stderr ? ', stderr differs' : ''}`;
      }
    }
    const rss = process.memoryUsage().rss;
    maxRss = Math.max(maxRss, rss);
    if (reason === null && rss > rssLimit) reason = `memory: the process uses ${Math.round(rss / 2 ** 20)} MiB, over the ${Math.round(rssLimit / 2 ** 20)} MiB bound`;
    if (reason !== null) {
      let saved: string | null = null;
      const dir = opts.saveDir ?? opts.workDir;
      try {
        fs.mkdirSync(dir, { recursive: true });
        saved = join(dir, `violation-${violations.length}-${cls.name.replace(/\W/g, "-")}${cls.suffix ?? ''}`);
        fs.writeFileSync(saved, bytes);
      } catch {
        saved = null;
      }
      violations.push({ cls: cls.name, argv: argv.map((a) => (a === path && saved ? saved : a)), reason, saved });
      opts.progress?.(`VIOLATION ${cls.name}: ${reason}\n  kmemsim ${argv.join(' ')}${saved ? `\n  input saved as ${saved}` : ''}`);
    }
  }
  return { seed: opts.seed, counts, violations, maxRss };
}

// ---- the standard input classes ---------------------------------------------------------------------

/** Every checker combination `kmemsim run` has for modules (none included). */
export const CHECKER_FLAGS: readonly string[][] = [
  [],
  ['--kmemcheck'],
  ['--kmemcheck', '--kmemcheck-inline'],
  ['--stack', 'cpl1'],
  ['--stack', 'ftrace'],
  ['--stack', 'precise'],
  ['--kmemcheck', '--stack', 'precise'],
];

export interface Corpora {
  /** Static i386 executables (build/examples/*). */
  executables: Uint8Array[];
  /** Module objects (examples/kmemcheck/*.c compiled). */
  modules: Uint8Array[];
  /** Multiboot kernels (build/kernels/*.elf). */
  kernels: Uint8Array[];
  /** Module sources (examples/kmemcheck/*.c), mutated as text for `compare`. */
  sources: Uint8Array[];
}

/**
 * The input classes over the corpora: executables run plain and with
 * checker flags (usage error for programs, or 126: the same either way),
 * disassembled; module objects run with every checker combination and
 * disassembled; kernels booted; random code run and booted; mutated module
 * sources through `compare` (each compiled with gcc: the slowest class).
 */
export function standardClasses(c: Corpora): InputClass[] {
  const budget = ['--max-instructions', FUZZ_BUDGET];
  const classes: InputClass[] = [];
  if (c.executables.length) {
    classes.push({
      name: 'executable/run', command: 'program',
      make: (rng) => mutate(rng.pick(c.executables), rng),
      argv: (p, rng) => ['run', p, ...budget, ...(rng.below(8) === 0 ? rng.pick(CHECKER_FLAGS) : [])],
    });
    classes.push({ name: 'executable/disasm', command: 'disasm', make: (rng) => mutate(rng.pick(c.executables), rng), argv: (p) => ['disasm', p] });
  }
  if (c.modules.length) {
    classes.push({
      name: 'module/run', command: 'module',
      make: (rng) => mutate(rng.pick(c.modules), rng),
      // The mutant is written as ".o": a relocatable is recognized by e_type; anything else runs as a program, with the program's statuses.
      argv: (p, rng) => ['run', p, ...budget, ...rng.pick(CHECKER_FLAGS)],
    });
    classes.push({ name: 'module/disasm', command: 'disasm', make: (rng) => mutate(rng.pick(c.modules), rng), argv: (p) => ['disasm', p] });
  }
  if (c.kernels.length) {
    classes.push({ name: 'kernel/boot', command: 'boot', make: (rng) => mutate(rng.pick(c.kernels), rng), argv: (p) => ['boot', p, ...budget] });
  }
  classes.push({ name: 'random-code/run', command: 'program', make: (rng) => executableFromCode(randomCode(rng)), argv: (p) => ['run', p, ...budget] });
  classes.push({ name: 'random-code/boot', command: 'boot', make: (rng) => executableFromCode(randomCode(rng), true), argv: (p) => ['boot', p, ...budget] });
  if (c.sources.length) {
    classes.push({
      name: 'source/compare', command: 'compare', suffix: '.c',
      make: (rng) => mutate(rng.pick(c.sources), rng),
      argv: (p) => ['compare', p, '--max-instructions', FUZZ_BUDGET],
    });
  }
  return classes;
}

/** A mutated module may stop being ET_REL, and then `run` treats it as a program: judge it by what it now is. */
export function commandFor(cls: InputClass, bytes: Uint8Array): Command {
  if (cls.command === 'module' && !(bytes.length >= 18 && bytes[16] === 1 && bytes[17] === 0 && bytes[0] === 0x7f)) return 'program';
  return cls.command;
}

/**
 * The corpora from a built checkout: every file in build/examples (at most
 * `maxExecutables`, spread over the programs), examples/kmemcheck/*.c
 * compiled as modules (at most `maxModules`; none without gcc), every
 * build/kernels/*.elf.
 */
export function loadCorpora(root: string, limits: { maxExecutables?: number; maxModules?: number } = {}): Corpora {
  const list = (dir: string, ok: (n: string) => boolean): string[] => {
    try {
      return fs.readdirSync(join(root, dir)).filter(ok).sort().map((n) => join(root, dir, n));
    } catch {
      return [];
    }
  };
  const spread = <T>(a: T[], n: number | undefined): T[] => (n === undefined || a.length <= n ? a : Array.from({ length: n }, (_, i) => a[Math.floor((i * a.length) / n)]!));
  const executables = spread(list('build/examples', (n) => !n.includes('.')), limits.maxExecutables).map((p) => new Uint8Array(fs.readFileSync(p)));
  const sourcePaths = spread(list('examples/kmemcheck', (n) => n.endsWith('.c')), limits.maxModules);
  const modules: Uint8Array[] = [];
  for (const p of sourcePaths) {
    try {
      modules.push(compileModule(p).object);
    } catch (e) {
      if (!(e instanceof CompileError)) throw e;
    }
  }
  const sources = sourcePaths.map((p) => new Uint8Array(fs.readFileSync(p)));
  const kernels = list('build/kernels', (n) => n.endsWith('.elf')).map((p) => new Uint8Array(fs.readFileSync(p)));
  return { executables, modules, kernels, sources };
}
