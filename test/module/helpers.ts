/**
 * Shared pieces of the kernel-module tests: building the test modules in
 * test/modules/ (gcc through src/cli/compile.ts, `as --32` for the
 * assembly ones), the guest runtime object, and fake kernel exports —
 * native routines standing in for the kernel API (src/kernel/kapi.ts) so
 * these tests depend only on the loader.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kernel } from '../../src/kernel/kernel.js';
import { compileModule } from '../../src/cli/compile.js';
import { allocContiguousFrames } from '../../src/kernel/module.js';
import { kva } from '../../src/kernel/layout.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const MODULES = join(ROOT, 'test/modules');
export const RUNTIME = join(ROOT, 'build/runtime/runtime.o');

export const hasGcc = !spawnSync(process.env['CC'] || 'gcc', ['--version']).error;
export const hasAs = !spawnSync('as', ['--version']).error;

/** Why gcc-based tests are skipped, for the skip message. */
export const NO_GCC = 'gcc not found: the kernel-module tests that compile C are skipped';
export const NO_AS = 'as (binutils) not found: the assembly test modules cannot be built';

const objects = new Map<string, Uint8Array>();

/** test/modules/<name>.c compiled with the module flags. */
export function compiled(name: string): Uint8Array {
  const key = `c:${name}`;
  let o = objects.get(key);
  if (!o) {
    o = compileModule(join(MODULES, `${name}.c`)).object;
    objects.set(key, o);
  }
  return o;
}

/** test/modules/<name>.S assembled with `as --32`. */
export function assembled(name: string): Uint8Array {
  const key = `S:${name}`;
  let o = objects.get(key);
  if (!o) {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-as-'));
    try {
      const out = join(dir, `${name}.o`);
      execFileSync('as', ['--32', join(MODULES, `${name}.S`), '-o', out], { stdio: ['ignore', 'pipe', 'pipe'] });
      o = new Uint8Array(readFileSync(out));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    objects.set(key, o);
  }
  return o;
}

let runtimeBytes: Uint8Array | null = null;

/** build/runtime/runtime.o, (re)built by the build script first (incremental: usually a no-op). */
export function runtimeObject(): Uint8Array {
  if (runtimeBytes) return runtimeBytes;
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-guests.mjs'), '--kind=runtime', '--quiet'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (!existsSync(RUNTIME)) throw new Error(`${RUNTIME} was not built`);
  runtimeBytes = new Uint8Array(readFileSync(RUNTIME));
  return runtimeBytes;
}

/** `n` bytes of zeroed kernel memory (direct map), page aligned. */
export function kernelBuffer(k: Kernel, n: number): number {
  const frames = allocContiguousFrames(k, Math.max(1, Math.ceil(n / 4096)), 4096);
  const addr = kva(frames[0]!) >>> 0;
  k.mem.write(addr, new Uint8Array(frames.length * 4096));
  return addr;
}

/** A NUL-terminated string in fresh kernel memory. */
export function kernelString(k: Kernel, s: string): number {
  const addr = kernelBuffer(k, s.length + 1);
  k.mem.write(addr, Buffer.from(s + '\0', 'latin1'));
  return addr;
}

/**
 * printf-style formatting over guest memory, enough for the test modules:
 * %d %i %u %x %X %c %s %p %%, with l/h/z length modifiers ignored (every
 * argument is one 32-bit stack slot on i386).
 */
export function formatGuest(k: Kernel, fmt: string, argAddr: number): string {
  let arg = argAddr;
  const next = (): number => {
    const v = k.mem.read32(arg);
    arg += 4;
    return v;
  };
  return fmt.replace(/%([-0 ]?\d*)[lhz]*([diuxXcsp%])/g, (_m, _flags: string, conv: string) => {
    switch (conv) {
      case '%': return '%';
      case 'd': case 'i': return String(next() | 0);
      case 'u': return String(next() >>> 0);
      case 'x': return (next() >>> 0).toString(16);
      case 'X': return (next() >>> 0).toString(16).toUpperCase();
      case 'p': return '0x' + (next() >>> 0).toString(16).padStart(8, '0');
      case 'c': return String.fromCharCode(next() & 0xff);
      case 's': return k.mem.readCString(next());
      default: return '';
    }
  });
}

export interface FakeKernelApi {
  exports: Map<string, number>;
  /** printk's output, log-level prefixes removed. */
  console: string[];
  /** kmemcheck_mark_initialized(addr, n) calls. */
  marked: [number, number][];
  /** ext_fn calls (the relocation test module's export). */
  extCalls: number;
}

/**
 * A stand-in for installKernelApi(): printk (asmlinkage: the format and
 * its arguments on the stack), kmemcheck_mark_initialized (regparm: EAX,
 * EDX) and ext_fn (returns 0x100), each a native routine.
 */
export function fakeKernelApi(k: Kernel, onConsole?: (text: string) => void): FakeKernelApi {
  const api: FakeKernelApi = { exports: new Map(), console: [], marked: [], extCalls: 0 };
  api.exports.set('printk', k.bindRoutine((kern) => {
    const esp = kern.cpu.regs[4]! >>> 0;
    const fmt = kern.mem.readCString(kern.mem.read32(esp + 4));
    const text = formatGuest(kern, fmt.replace(/^<[0-7]>/, ''), esp + 8);
    api.console.push(text);
    onConsole?.(text);
    kern.cpu.regs[0] = text.length;
  }));
  api.exports.set('kmemcheck_mark_initialized', k.bindRoutine((kern) => {
    api.marked.push([kern.cpu.regs[0]! >>> 0, kern.cpu.regs[2]! >>> 0]);
  }));
  api.exports.set('ext_fn', k.bindRoutine((kern) => {
    api.extCalls++;
    kern.cpu.regs[0] = 0x100;
  }));
  return api;
}

/**
 * Why the built CLI (bin/kmemsim.js → dist/bundle/ or dist/) cannot be tested now, or null:
 * no gcc, or dist/ older than one of `sources` (each against its own
 * compiled file: others may be edited and rebuilt at other times), or the
 * bundle older than those compiled files.
 */
export function builtCliState(sources: readonly string[]): string | null {
  if (!hasGcc) return NO_GCC;
  if (!existsSync(join(ROOT, 'dist/cli/compile.js'))) return 'dist/ has no module support: run `npm run build` first';
  const outOf = (s: string): string => join(ROOT, s.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js'));
  const stale = sources.filter((s) => !existsSync(outOf(s)) || statSync(join(ROOT, s)).mtimeMs > statSync(outOf(s)).mtimeMs);
  if (stale.length) return `dist/ is older than ${stale.join(', ')}: run \`npm run build\` to test the built CLI`;
  // bin/kmemsim.js runs the bundle (scripts/bundle.mjs) when there is one: it must not be older than what tsc wrote.
  const bundle = join(ROOT, 'dist/bundle/main.js');
  if (existsSync(bundle) && sources.some((s) => statSync(outOf(s)).mtimeMs > statSync(bundle).mtimeMs)) {
    return 'dist/bundle/ is older than dist/: run `npm run build` to test the built CLI';
  }
  return null;
}

/** Run the built CLI (node bin/kmemsim.js ARGS) from the project root. */
export function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/kmemsim.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
