/**
 * Compiling a kernel module's C source for `kmemsim run mod.c`: gcc with
 * i386 Linux's module flags (as Kbuild passes them: -mregparm=3,
 * -ffreestanding, no PIC) plus what keeps the code inside the i686 kmemsim
 * models (no SSE/MMX, no CET markers, no stack protector reading %gs), and
 * kmemsim's include directory for <kmemsim/kernel.h>. The object goes to a
 * temporary directory that is removed afterwards; only its bytes are kept.
 *
 * The same flags build the guest runtime (scripts/build-guests.mjs, kind
 * "runtime", imports MODULE_CFLAGS from here).
 */
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** node:child_process, loaded only when gcc runs: `kmemsim run PROGRAM` never needs it (README "Start-up"). */
const childProcess = (): typeof import('node:child_process') => createRequire(import.meta.url)('node:child_process');

/**
 * The compiler flags for kernel modules and the guest runtime, in order
 * (README "Kernel modules" lists them) — the one definition:
 * scripts/build-guests.mjs imports it from dist/. The first line is
 * i386 Linux's (arch/x86/Makefile, 32-bit branch): regparm(3) calls, no FPU
 * (-msoft-float: a `double` becomes calls to libgcc's __adddf3 ..., which
 * the kernel does not export, so such a module fails to link, as on Linux),
 * small structs returned in registers, and a 4-byte stack alignment
 * (frames as Linux's). The rest keeps gcc to the i686 integer instructions
 * kmemsim models and away from %gs-based canaries and endbr32.
 */
export const MODULE_CFLAGS: readonly string[] = [
  '-m32', '-ffreestanding', '-fno-pic', '-mregparm=3', '-fno-builtin', '-g', '-O2',
  '-msoft-float', '-freg-struct-return', '-mpreferred-stack-boundary=2',
  '-march=i686', '-mno-sse', '-mno-mmx', '-fno-stack-protector', '-fcf-protection=none',
  '-fno-asynchronous-unwind-tables',
];

/** kmemsim's guest headers (<kmemsim/kernel.h>), next to dist/ and src/. */
export const INCLUDE_DIR = fileURLToPath(new URL('../../include', import.meta.url));

export class CompileError extends Error {
  constructor(
    /** 'no-compiler': gcc cannot be started; 'failed': it ran and reported errors. */
    readonly kind: 'no-compiler' | 'failed',
    message: string,
    /** gcc's own messages (stderr), as it printed them. */
    readonly output = '',
  ) {
    super(message);
    this.name = 'CompileError';
  }
}

export interface CompileResult {
  /** The relocatable object's bytes. */
  object: Uint8Array;
  /** gcc's warnings (empty when it printed nothing). */
  warnings: string;
  /** The command that was run (argv, compiler first). */
  command: string[];
  /**
   * gcc's -fstack-usage output (the `.su` file: `file.c:LINE:COL:function<TAB>bytes<TAB>qualifiers`
   * per function; bytes include the return address), '' when gcc wrote none. src/ftrace/stack-usage.ts parses it.
   */
  stackUsage: string;
}

export interface CompileOptions {
  /** The compiler (default: $CC, else gcc). */
  cc?: string;
  /**
   * Build for ftrace (src/ftrace): add `-pg -mfentry`, so that every function starts with
   * `call __fentry__` (which the loader records and patches to a 5-byte NOP, as Linux's
   * recordmcount + ftrace_init() do).
   */
  ftrace?: boolean;
  /** More flags after the module flags (later ones win, e.g. `-O0` over the default `-O2`). */
  cflags?: readonly string[];
}

/** What `ftrace: true` adds to the module flags (Linux's CC_FLAGS_FTRACE with CONFIG_HAVE_FENTRY). */
export const FTRACE_CFLAGS: readonly string[] = ['-pg', '-mfentry'];

/**
 * The gcc command line for `source` writing `output`. `ftrace` adds
 * FTRACE_CFLAGS, `cflags` more flags after the module flags, `stackUsage`
 * -fstack-usage (which changes no code; compileModule() always asks for it).
 */
export function moduleCompileCommand(
  source: string,
  output: string,
  cc = process.env['CC'] || 'gcc',
  opts: { ftrace?: boolean; cflags?: readonly string[]; stackUsage?: boolean } = {},
): string[] {
  return [cc, ...MODULE_CFLAGS, ...(opts.ftrace ? FTRACE_CFLAGS : []), ...(opts.cflags ?? []), ...(opts.stackUsage ? ['-fstack-usage'] : []), `-I${INCLUDE_DIR}`, '-c', source, '-o', output];
}

/** Compile one C file into a kernel-module object. Throws CompileError. */
export function compileModule(source: string, opts: CompileOptions = {}): CompileResult {
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-cc-'));
  try {
    const out = join(dir, basename(source).replace(/\.c$/, '') + '.o');
    const command = moduleCompileCommand(source, out, opts.cc, { ftrace: opts.ftrace, cflags: opts.cflags, stackUsage: true });
    const r = childProcess().spawnSync(command[0]!, command.slice(1), { encoding: 'utf8' });
    if (r.error) {
      const err = r.error as NodeJS.ErrnoException;
      throw new CompileError(
        'no-compiler',
        err.code === 'ENOENT'
          ? `${command[0]} not found: running a .c file needs gcc (able to generate 32-bit code, -m32); or compile it elsewhere with the flags in the README and run the .o`
          : `cannot run ${command[0]}: ${err.message}`,
      );
    }
    if (r.status !== 0) {
      const why = r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
      throw new CompileError('failed', `compiling ${source} failed (${command[0]} ${why})`, r.stderr ?? '');
    }
    // -fstack-usage writes the .su next to the -o output (its "auxiliary" name).
    const su = out.replace(/\.o$/, '.su');
    const stackUsage = existsSync(su) ? readFileSync(su, 'utf8') : '';
    return { object: new Uint8Array(readFileSync(out)), warnings: r.stderr ?? '', command, stackUsage };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
