#!/usr/bin/env node
/**
 * scripts/build-guests.mjs — compiles the guest programs kmemsim runs.
 *
 *   node scripts/build-guests.mjs [--force] [--quiet|--verbose] [--kind=NAME[,NAME]] [--jobs=N] [--list]
 *
 * Prints one summary line (--quiet: nothing unless something fails; --verbose:
 * every command), compiler warnings, and errors.
 *
 * Guest kinds (see KINDS below; add a kind by adding an entry):
 *   examples  examples/*.c  → build/examples/<name>-O<level>   (static i386 ELF,
 *             one per optimization level in OPT_LEVELS, linked with examples/lib)
 *   bench     bench/*.c     → build/bench/<name>               (static i386 ELF, -O2)
 *   fuzz      examples/fuzz/programs/*.c (but glibc-*.c) → build/fuzz/<name> (static i386 ELF, -O2:
 *             user-program fuzz targets, `kmemsim fuzz build/fuzz/NAME`)
 *   kernels   test/kernels/*.S → build/kernels/<name>.elf      (Multiboot kernels for
 *             `kmemsim boot`: `as --32` then `ld -m elf_i386 -T test/kernels/kernel.ld`,
 *             loaded at 1 MiB; needs only binutils, not gcc)
 *   runtime   guest/runtime/*.{c,S} → build/runtime/runtime.o (the guest runtime linked
 *             into every kernel module: memcpy, memset, strlen, ...; each source compiled
 *             with the module flags MODULE_CFLAGS, then `ld -m elf_i386 -r` into one
 *             relocatable object)
 *
 * The runtime in examples/lib/ is compiled once per optimization level into
 * build/lib/user-O<level>/*.o and linked into every user program.
 *
 * Targets are rebuilt only when missing or older than one of their inputs
 * (sources, headers, and this script, since it holds the flags), so running
 * it from `npm install` (prepare → build) is fast when nothing changed.
 * --force rebuilds everything.
 *
 * When gcc is missing, or cannot produce static i386 code (no binutils, a
 * non-x86 host, ...), it prints why and exits 0: installing kmemsim must not
 * fail over example guests, and the tests that need them skip with a message.
 * The same goes for the kernels when `as`/`ld` cannot produce i386 ELF (each
 * kind has its own probe, so kernels still build where gcc is missing).
 * A real compile error exits 1.
 *
 * It also writes build/guests.json, a manifest of every target
 * ({ kind, name, opt, path, sources, and for examples expected + spec}),
 * which test/examples.test.ts reads.
 *
 * Plain Node ESM, no dependencies. CC overrides the compiler (default gcc);
 * AS and LD override the assembler and linker used for kernels (LD also for the runtime).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const CC = process.env.CC || 'gcc';
const AS = process.env.AS || 'as';
const LD = process.env.LD || 'ld';

/** Optimization levels every example is built at; they must all behave identically. */
const OPT_LEVELS = ['0', '1', '2', '3', 's'];

/**
 * Code generation for user-space guests:
 * - i686 with no MMX/SSE (kmemsim models the integer ISA and the x87, not
 *   MMX/SSE state: floating point compiles to x87 code), no PIC (plain absolute addresses),
 * - freestanding, no builtins: the only library is examples/lib,
 * - no stack protector (it reads %gs:0x14, i.e. TLS we do not set up), no CET
 *   endbr32 markers, no unwind tables (smaller binaries),
 * - -g: DWARF line info for reports; it is not loaded, so it costs nothing at run time.
 */
const USER_CFLAGS = [
  '-m32', '-march=i686', '-mtune=generic', '-mno-mmx', '-mno-sse', '-mno-sse2',
  '-ffreestanding', '-fno-builtin', '-fno-pic', '-fno-pie',
  '-fno-stack-protector', '-fcf-protection=none',
  '-fno-asynchronous-unwind-tables', '-fno-unwind-tables',
  '-g', '-std=gnu11', '-Wall', '-Wextra',
  '-I', 'examples/lib',
];
/**
 * The runtime itself additionally must not have its loops turned into calls
 * to memset/memcpy (gcc does that even with -ffreestanding; memset would call
 * itself).
 */
const LIB_CFLAGS = ['-fno-tree-loop-distribute-patterns'];
/** Static, non-PIE ELF executable at the classic 0x08048000, nothing from the host toolchain. */
const USER_LDFLAGS = ['-m32', '-nostdlib', '-static', '-no-pie', '-Wl,--build-id=none', '-Wl,-z,noexecstack'];

/**
 * Code generation for kernel modules and the guest runtime linked into them:
 * MODULE_CFLAGS, defined once in src/cli/compile.ts (`kmemsim run mod.c`
 * compiles with it too) and read here from its compiled form in dist/
 * (`npm run build` runs tsc before this script).
 */
const COMPILE_JS = join(ROOT, 'dist/cli/compile.js');
if (!existsSync(COMPILE_JS)) {
  console.error(`build-guests: ${COMPILE_JS} is missing: run tsc first (npm run build does)`);
  process.exit(1);
}
const { MODULE_CFLAGS } = await import(pathToFileURL(COMPILE_JS).href);
/** The runtime is kmemsim's own code: warnings on, and no loops turned into memset/memcpy calls (see LIB_CFLAGS). */
const RUNTIME_CFLAGS = ['-Wall', '-Wextra', '-fno-tree-loop-distribute-patterns', '-I', 'include'];
const RUNTIME_DIR = 'guest/runtime';
const MODULE_HEADERS = ['include/kmemsim/kernel.h', ...listFiles('include/linux', (f) => f.endsWith('.h')).map((f) => `include/linux/${f}`)];

const LIB_DIR = 'examples/lib';
const LIB_SOURCES = listFiles(LIB_DIR, (f) => f.endsWith('.c') || f.endsWith('.S')).map((f) => `${LIB_DIR}/${f}`);
const LIB_HEADERS = listFiles(LIB_DIR, (f) => f.endsWith('.h')).map((f) => `${LIB_DIR}/${f}`);

// ---------------------------------------------------------------------------
// Targets: { out, deps: string[], cmd: string[], kind, name, opt, info? }
// `deps` may name other targets' outputs; those are built first.

/** The runtime objects for one optimization level. */
function libObjects(opt) {
  return LIB_SOURCES.map((src) => ({
    out: `build/lib/user-O${opt}/${basename(src).replace(/\.[cS]$/, '.o')}`,
    deps: [src, ...LIB_HEADERS, SELF],
    cmd: [CC, ...USER_CFLAGS, ...LIB_CFLAGS, `-O${opt}`, '-c', src, '-o'],
    internal: true,
  }));
}

/** One static user program: its own sources compiled and linked with the runtime. */
function userProgram({ kind, name, sources, opt, out, extraDeps = [], info }) {
  const libs = libObjects(opt);
  return [
    ...libs,
    {
      kind, name, opt, out, info,
      deps: [...sources, ...libs.map((l) => l.out), ...LIB_HEADERS, ...extraDeps, SELF],
      cmd: [CC, ...USER_CFLAGS, `-O${opt}`, ...USER_LDFLAGS, ...sources, ...libs.map((l) => l.out), '-o'],
    },
  ];
}

/**
 * Guest kinds. Each returns its targets; a later kind (kernel modules:
 * `gcc -m32 -c -mregparm=3 ...` relocatable objects) is one more entry.
 */
const KINDS = {
  examples() {
    return listFiles('examples', (f) => f.endsWith('.c')).flatMap((f) => {
      const name = f.slice(0, -2);
      const spec = `examples/${name}.json`;
      return OPT_LEVELS.flatMap((opt) =>
        userProgram({
          kind: 'examples', name, opt,
          sources: [`examples/${f}`],
          out: `build/examples/${name}-O${opt}`,
          info: { expected: `examples/${name}.expected`, spec: existsSync(join(ROOT, spec)) ? spec : null },
        }),
      );
    });
  },
  bench() {
    return listFiles('bench', (f) => f.endsWith('.c')).flatMap((f) => {
      const name = f.slice(0, -2);
      return userProgram({ kind: 'bench', name, opt: '2', sources: [`bench/${f}`], out: `build/bench/${name}` });
    });
  },
  fuzz() {
    return listFiles('examples/fuzz/programs', (f) => f.endsWith('.c') && !f.startsWith('glibc-')).flatMap((f) => {
      const name = f.slice(0, -2);
      return userProgram({ kind: 'fuzz', name, opt: '2', sources: [`examples/fuzz/programs/${f}`], out: `build/fuzz/${name}` });
    });
  },
  kernels() {
    return kernelTargets();
  },
  runtime() {
    return runtimeTargets();
  },
};

/**
 * Multiboot test kernels: each test/kernels/<name>.S is assembled on its own
 * (`as` directly, no C preprocessor; shared code comes in with `.include`
 * from test/kernels/*.inc) and linked by test/kernels/kernel.ld at 1 MiB.
 */
const KERNEL_DIR = 'test/kernels';
const KERNEL_LDSCRIPT = `${KERNEL_DIR}/kernel.ld`;

function kernelTargets() {
  const includes = listFiles(KERNEL_DIR, (f) => f.endsWith('.inc')).map((f) => `${KERNEL_DIR}/${f}`);
  return listFiles(KERNEL_DIR, (f) => f.endsWith('.S')).flatMap((f) => {
    const name = f.slice(0, -2);
    const obj = `build/kernels/obj/${name}.o`;
    return [
      {
        out: obj,
        deps: [`${KERNEL_DIR}/${f}`, ...includes, SELF],
        cmd: [AS, '--32', '-I', KERNEL_DIR, `${KERNEL_DIR}/${f}`, '-o'],
        internal: true,
      },
      {
        kind: 'kernels', name, opt: null, out: `build/kernels/${name}.elf`,
        deps: [obj, KERNEL_LDSCRIPT, `${KERNEL_DIR}/${f}`, SELF],
        cmd: [LD, '-m', 'elf_i386', '-T', KERNEL_LDSCRIPT, '--build-id=none', '-z', 'noexecstack', obj, '-o'],
      },
    ];
  });
}

/**
 * The guest runtime for kernel modules: every guest/runtime source compiled
 * with the module flags, then partially linked (`ld -r`) into one
 * relocatable object that the module loader (src/kernel/module.ts) loads
 * next to each module.
 */
function runtimeTargets() {
  return [...relocatableTargets(RUNTIME_DIR, 'runtime', 'build/runtime/runtime.o'), ...relocatableTargets(LINUX_LIB_DIR, 'linuxlib', 'build/runtime/linux.o')];
}

/**
 * The Linux library for modules (guest/linux: seq_file, kstrto*, sscanf, the
 * rest of lib/string.c, the llseek helpers): built like the runtime into
 * build/runtime/linux.o, and linked into a module only when the module uses
 * one of its functions (as ld takes an archive member), since it needs the
 * kernel's exports (copy_to_user, vsnprintf, __kmalloc).
 */
const LINUX_LIB_DIR = 'guest/linux';

function relocatableTargets(dir, name, out) {
  const sources = listFiles(dir, (f) => f.endsWith('.c') || f.endsWith('.S')).map((f) => `${dir}/${f}`);
  if (sources.length === 0) return [];
  const objects = sources.map((src) => ({
    kind: 'runtime', name: basename(src), opt: '2',
    out: `build/runtime/obj/${name}-${basename(src).replace(/\.[cS]$/, '.o')}`,
    deps: [src, ...MODULE_HEADERS, SELF, 'src/cli/compile.ts'],
    cmd: [CC, ...MODULE_CFLAGS, ...RUNTIME_CFLAGS, '-c', src, '-o'],
    internal: true,
  }));
  return [
    ...objects,
    {
      kind: 'runtime', name, opt: '2', out,
      deps: [...objects.map((o) => o.out), ...sources, SELF],
      cmd: [LD, '-m', 'elf_i386', '-r', ...objects.map((o) => o.out), '-o'],
    },
  ];
}

/** Which probe a kind needs before building (default: the C compiler). */
const PROBES = { kernels: probeAssembler };

// ---------------------------------------------------------------------------

function listFiles(dir, pred) {
  const abs = join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs).filter(pred).sort();
}

function mtime(rel) {
  try {
    return statSync(resolve(ROOT, rel)).mtimeMs;
  } catch {
    return -1;
  }
}

function parseArgs(argv) {
  const opts = { force: false, quiet: false, verbose: false, list: false, kinds: Object.keys(KINDS), jobs: Math.max(1, cpus().length) };
  for (const a of argv) {
    if (a === '--force') opts.force = true;
    else if (a === '--quiet' || a === '-q') opts.quiet = true;
    else if (a === '--verbose' || a === '-v') opts.verbose = true;
    else if (a === '--list') opts.list = true;
    else if (a.startsWith('--kind=')) opts.kinds = a.slice(7).split(',');
    else if (a.startsWith('--jobs=')) opts.jobs = Math.max(1, Number(a.slice(7)) || 1);
    else if (a === '--help' || a === '-h') {
      console.log('usage: node scripts/build-guests.mjs [--force] [--quiet|--verbose] [--kind=examples,bench,kernels,runtime] [--jobs=N] [--list]');
      process.exit(0);
    } else {
      console.error(`build-guests: unknown option ${a}`);
      process.exit(2);
    }
  }
  for (const k of opts.kinds) {
    if (!KINDS[k]) {
      console.error(`build-guests: unknown kind ${k} (known: ${Object.keys(KINDS).join(', ')})`);
      process.exit(2);
    }
  }
  return opts;
}

/** Can CC build and link a static i386 program here? Returns null or the reason it cannot. */
function probeCompiler() {
  const v = spawnSync(CC, ['--version'], { encoding: 'utf8' });
  if (v.error) return { missing: true, why: v.error.code === 'ENOENT' ? `${CC} not found` : `${CC}: ${v.error.message}` };
  const dir = join(tmpdir(), `kmemsim-probe-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const src = join(dir, 'probe.c');
    writeFileSync(src, 'void _start(void) { for (;;) __asm__ volatile("int $0x80" :: "a"(1), "b"(0)); }\n');
    const r = spawnSync(CC, [...USER_CFLAGS, '-O2', ...USER_LDFLAGS, src, '-o', join(dir, 'probe')], {
      encoding: 'utf8',
      cwd: ROOT,
    });
    if (r.error || r.status !== 0) {
      const msg = (r.stderr || String(r.error || '')).trim().split('\n').slice(0, 3).join(' | ');
      return { missing: false, why: `${CC} cannot build static i386 programs (${msg || `exit status ${r.status}`})` };
    }
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Can AS and LD build an i386 ELF executable here? Returns null or the reason they cannot. */
function probeAssembler() {
  for (const tool of [AS, LD]) {
    const v = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (v.error) return { missing: true, why: v.error.code === 'ENOENT' ? `${tool} not found` : `${tool}: ${v.error.message}` };
  }
  const dir = join(tmpdir(), `kmemsim-probe-as-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const src = join(dir, 'probe.s');
    writeFileSync(src, '.text\n.globl _start\n_start: hlt\n');
    const a = spawnSync(AS, ['--32', src, '-o', join(dir, 'probe.o')], { encoding: 'utf8' });
    const l = a.status === 0 ? spawnSync(LD, ['-m', 'elf_i386', join(dir, 'probe.o'), '-o', join(dir, 'probe')], { encoding: 'utf8' }) : a;
    if (l.error || l.status !== 0) {
      const msg = (l.stderr || String(l.error || '')).trim().split('\n').slice(0, 3).join(' | ');
      return { missing: false, why: `${AS}/${LD} cannot build i386 ELF files (${msg || `exit status ${l.status}`})` };
    }
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(cmd) {
  return new Promise((resolvePromise) => {
    const child = spawn(cmd[0], cmd.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (e) => resolvePromise({ ok: false, output: String(e) }));
    child.on('close', (code) => resolvePromise({ ok: code === 0, output }));
  });
}

async function buildAll(targets, opts) {
  const byOut = new Map();
  for (const t of targets) if (!byOut.has(t.out)) byOut.set(t.out, t);
  const promises = new Map();
  let running = 0;
  const waiting = [];
  const acquire = () => (running < opts.jobs ? (running++, Promise.resolve()) : new Promise((r) => waiting.push(r)));
  const release = () => (waiting.length ? waiting.shift()() : running--);
  let built = 0;
  let failed = 0;

  const build = (t) => {
    if (promises.has(t.out)) return promises.get(t.out);
    const p = (async () => {
      const depResults = await Promise.all(t.deps.filter((d) => byOut.has(d)).map((d) => build(byOut.get(d))));
      if (depResults.some((ok) => !ok)) return false;
      const outTime = mtime(t.out);
      const stale = opts.force || outTime < 0 || t.deps.some((d) => mtime(d) > outTime);
      if (!stale) return true;
      await acquire();
      try {
        mkdirSync(resolve(ROOT, dirname(t.out)), { recursive: true });
        if (opts.verbose) console.log(`  CC  ${t.out}`);
        // Build under a temporary name and rename: a concurrent run (two test
        // files building at once) never sees a half-written file.
        const tmp = `${t.out}.tmp-${process.pid}`;
        const r = await run([...t.cmd, tmp]);
        if (!r.ok) {
          failed++;
          rmSync(resolve(ROOT, tmp), { force: true });
          console.error(`build-guests: failed: ${t.cmd.join(' ')} ${t.out}\n${r.output}`);
          return false;
        }
        renameSync(resolve(ROOT, tmp), resolve(ROOT, t.out));
        if (r.output.trim()) process.stderr.write(`${t.out}:\n${r.output}`); // warnings
        built++;
        return true;
      } finally {
        release();
      }
    })();
    promises.set(t.out, p);
    return p;
  };

  await Promise.all([...byOut.values()].map(build));
  return { built, failed, total: byOut.size };
}

function writeManifest(targets) {
  const path = resolve(ROOT, 'build/guests.json');
  let old = { targets: [] };
  try {
    old = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    /* first build */
  }
  const kindsBuilt = new Set(targets.map((t) => t.kind));
  const entries = [
    ...old.targets.filter((e) => !kindsBuilt.has(e.kind)),
    ...targets
      .filter((t) => !t.internal)
      .map((t) => ({ kind: t.kind, name: t.name, opt: t.opt, path: t.out, sources: [...new Set(t.deps.filter((d) => /\.(c|S)$/.test(d) && !d.startsWith(LIB_DIR)))], ...t.info })),
  ];
  const manifest = {
    note: 'written by scripts/build-guests.mjs; paths are relative to the repository root',
    optLevels: OPT_LEVELS,
    targets: entries,
  };
  mkdirSync(dirname(path), { recursive: true });
  const text = JSON.stringify(manifest, null, 2) + '\n';
  if (!existsSync(path) || readFileSync(path, 'utf8') !== text) {
    writeFileSync(`${path}.tmp-${process.pid}`, text);
    renameSync(`${path}.tmp-${process.pid}`, path);
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.list) {
    for (const t of opts.kinds.flatMap((k) => KINDS[k]())) if (!t.internal) console.log(`${t.kind}\t${t.out}`);
    return 0;
  }
  // Each kind needs its tools; kinds whose tools are missing are skipped with the reason (one line per probe).
  const probed = new Map();
  const skipped = new Map();
  const kinds = opts.kinds.filter((k) => {
    const probe = PROBES[k] ?? probeCompiler;
    if (!probed.has(probe)) probed.set(probe, probe());
    if (!probed.get(probe)) return true;
    skipped.set(probe, [...(skipped.get(probe) ?? []), k]);
    return false;
  });
  for (const [probe, names] of skipped) {
    const problem = probed.get(probe);
    if (probe === probeCompiler) {
      const hint = problem.missing ? '' : ' (gcc -m32 on an x86 host)';
      const what = names.map((n) => (n === 'examples' ? 'example' : n === 'runtime' ? 'kernel-module runtime' : n)).join(' and ');
      console.log(`${problem.why}: ${what} guests not built; install gcc and binutils${hint}`);
    } else {
      console.log(`${problem.why}: test ${names.join(' and ')} not built; install binutils (as, ld with i386 support)`);
    }
  }
  if (kinds.length === 0) return 0;
  const targets = kinds.flatMap((k) => KINDS[k]());
  const t0 = Date.now();
  const { built, failed, total } = await buildAll(targets, opts);
  if (failed) {
    console.error(`build-guests: ${failed} target(s) failed`);
    return 1;
  }
  writeManifest(targets);
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (!opts.quiet) {
    console.log(built ? `guests: built ${built} of ${total} target(s) in ${secs}s` : `guests: ${total} target(s) up to date`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

