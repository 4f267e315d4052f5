/**
 * Compiling a kernel module's C source for `kmemsim run mod.c`: gcc with
 * i386 Linux's module flags (as Kbuild passes them: -mregparm=3,
 * -ffreestanding, no PIC) plus what keeps the code inside the i686 kmemsim
 * models (no SSE/MMX, no CET markers, no stack protector reading %gs), and
 * kmemsim's include directory for <kmemsim/kernel.h>. The object goes to a
 * temporary directory that is removed afterwards; only its bytes are kept.
 *
 * The same flags build the guest runtime (scripts/build-guests.mjs, kind
 * "runtime"); test/module checks that the two lists agree.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiler flags for kernel modules, in order (README "Kernel modules" lists them). */
export const MODULE_CFLAGS: readonly string[] = [
  '-m32', '-ffreestanding', '-fno-pic', '-mregparm=3', '-fno-builtin', '-g', '-O2',
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
}

export interface CompileOptions {
  /** The compiler (default: $CC, else gcc). */
  cc?: string;
}

/** The gcc command line for `source` writing `output`. */
export function moduleCompileCommand(source: string, output: string, cc = process.env['CC'] || 'gcc'): string[] {
  return [cc, ...MODULE_CFLAGS, `-I${INCLUDE_DIR}`, '-c', source, '-o', output];
}

/** Compile one C file into a kernel-module object. Throws CompileError. */
export function compileModule(source: string, opts: CompileOptions = {}): CompileResult {
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-cc-'));
  try {
    const out = join(dir, basename(source).replace(/\.c$/, '') + '.o');
    const command = moduleCompileCommand(source, out, opts.cc);
    const r = spawnSync(command[0]!, command.slice(1), { encoding: 'utf8' });
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
    return { object: new Uint8Array(readFileSync(out)), warnings: r.stderr ?? '', command };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
