/**
 * `kmemsim run FILE.c` / `FILE.o` end to end: through the TypeScript
 * functions the CLI uses (compileModule + runModule + the kernel API), and
 * through the built CLI (`node bin/kmemsim.js`, after `npm run build`).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileModule, CompileError, MODULE_CFLAGS, moduleCompileCommand, INCLUDE_DIR } from '../../src/cli/compile.js';
import { runModule } from '../../src/kernel/module-run.js';
import { installKernelApi } from '../../src/kernel/kapi.js';
import { builtCliState, cli, compiled, hasGcc, MODULES, NO_GCC, runtimeObject } from './helpers.js';

if (!hasGcc) console.log(`test/module/cli.test.ts: ${NO_GCC}`);

describe('compileModule', () => {
  it('uses exactly the documented module flags and kmemsim\'s include directory', () => {
    expect(MODULE_CFLAGS.slice(0, 7)).toEqual(['-m32', '-ffreestanding', '-fno-pic', '-mregparm=3', '-fno-builtin', '-g', '-O2']);
    expect(moduleCompileCommand('a.c', 'a.o', 'gcc')).toEqual(['gcc', ...MODULE_CFLAGS, `-I${INCLUDE_DIR}`, '-c', 'a.c', '-o', 'a.o']);
    expect(existsSync(join(INCLUDE_DIR, 'kmemsim/kernel.h'))).toBe(true);
  });

  it('says clearly when the compiler is missing', () => {
    let err: unknown;
    try {
      compileModule(join(MODULES, 'quiet.c'), { cc: 'kmemsim-no-such-compiler' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CompileError);
    expect((err as CompileError).kind).toBe('no-compiler');
    expect((err as CompileError).message).toMatch(/kmemsim-no-such-compiler not found: running a \.c file needs gcc/);
  });

  it.skipIf(!hasGcc)('reports gcc\'s messages when compilation fails', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-test-'));
    try {
      const src = join(dir, 'broken.c');
      writeFileSync(src, '#include <kmemsim/kernel.h>\nint init_module(void) { return undeclared_thing; }\n');
      let err: unknown;
      try {
        compileModule(src);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CompileError);
      expect((err as CompileError).kind).toBe('failed');
      expect((err as CompileError).output).toMatch(/undeclared_thing/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!hasGcc)('a module against the real kernel API (the functions behind `kmemsim run mod.c`)', () => {
  it('allocates, formats, prints %pS of its own function, frees', () => {
    let out = '';
    let api: ReturnType<typeof installKernelApi> | null = null;
    const r = runModule(compileModule(join(MODULES, 'kapi.c')).object, {
      name: 'kapi.c',
      runtime: runtimeObject(),
      exports: (k, io) => (api = installKernelApi(k, { console: (t) => io.console(t) })),
      onLoad: (_k, mod) => void api!.symbolizers.push((a) => mod.symbolize(a)),
      onConsole: (t) => (out += t),
    });
    expect(r.stop).toBeNull();
    expect(r.exitCode).toBe(0);
    expect(out).toMatch(/^kapi: item-2\/10 from (init_module|kapi_init)\+0x0\/0x[0-9a-f]+\nkapi: bye\n$/);
    expect(r.console).toBe(out);
  });
});

const skipCli = builtCliState([
  'src/cli/main.ts', 'src/cli/compile.ts', 'src/kernel/module.ts', 'src/kernel/module-run.ts',
  'src/kernel/call.ts', 'src/kernel/exports.ts', 'src/kernel/kapi.ts',
]);
if (skipCli && hasGcc) console.log(`test/module/cli.test.ts: CLI tests skipped: ${skipCli}`);

describe.skipIf(skipCli !== null)('kmemsim run FILE.c / FILE.o (the built CLI)', () => {
  it('compiles and runs a module: printk to stdout, status 0', () => {
    const r = cli(['run', 'test/modules/hello.c']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello, world (5 letters) from init #1\ngoodbye after 2 calls, 42\n');
    expect(r.status).toBe(0);
  });

  it('uses the kernel API (slab caches, kmalloc, snprintf, %pS)', () => {
    const r = cli(['run', 'test/modules/kapi.c']);
    expect(r.stdout).toMatch(/^kapi: item-2\/10 from (init_module|kapi_init)\+0x0\/0x[0-9a-f]+\nkapi: bye\n$/);
    expect(r.status).toBe(0);
  });

  it('exits 1 with insmod\'s verdict when init_module returns a negative errno', () => {
    const r = cli(['run', 'test/modules/errno.c']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/kmemsim: errno\.c: init_module returned -22 \(-EINVAL\): insmod fails \("Invalid argument"\)/);
  });

  it('exits 125 with an oops naming the function on a NULL dereference', () => {
    const r = cli(['run', 'test/modules/oops.c']);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/NULL pointer dereference at 0x00000004/);
    expect(r.stderr).toMatch(/init_module\+0x[0-9a-f]+\/0x[0-9a-f]+ \[oops\]/);
  });

  it('runs a relocatable object directly, whatever its name, and a missing symbol is status 126', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-test-'));
    try {
      writeFileSync(join(dir, 'hello.o'), compiled('hello'));
      writeFileSync(join(dir, 'hello-module'), compiled('hello'));
      for (const f of ['hello.o', 'hello-module']) {
        const r = cli(['run', join(dir, f)]);
        expect(r.stdout, f).toBe('hello, world (5 letters) from init #1\ngoodbye after 2 calls, 42\n');
        expect(r.status, f).toBe(0);
      }
      writeFileSync(join(dir, 'bitfield.o'), compiled('bitfield'));
      const u = cli(['run', join(dir, 'bitfield.o')]);
      // The kmemcheck annotations link against the kernel's kmemcheck_mark_initialized; init_module
      // returns the bitfield's offset (8), which Linux warns about and loads anyway.
      expect(u.status).toBe(0);
      expect(u.stderr).toMatch(/init_module suspiciously returned 8/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a module that uses floating point (126): the message names libgcc\'s soft-float routines and says kernel code may not use floating point', () => {
    const r = cli(['run', 'test/modules/float.c']);
    expect(r.status).toBe(126);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^kmemsim: cannot load module float\.c: unknown symbols .*__adddf3.*__fixdfsi.* \(not exported by the kernel\): .* libgcc's software floating point — kernel code may not use floating point \(float\/double\), as on Linux, which builds modules with -msoft-float\n$/);
  });

  it('shows gcc\'s errors and exits 126 when the module does not compile; 127 when it does not exist', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-test-'));
    try {
      const src = join(dir, 'broken.c');
      writeFileSync(src, 'int init_module(void) { return nope; }\n');
      const r = cli(['run', src]);
      expect(r.status).toBe(126);
      expect(r.stderr).toMatch(/'nope' undeclared|‘nope’ undeclared/);
      expect(r.stderr).toMatch(/kmemsim: compiling .*broken\.c failed \(gcc exit status 1\)/);
      expect(cli(['run', join(dir, 'missing.c')]).status).toBe(127);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('honours --max-instructions (124) and refuses module parameters (2)', () => {
    expect(cli(['run', 'test/modules/hello.c', '--max-instructions', '10']).status).toBe(124);
    const p = cli(['run', 'test/modules/quiet.c', '--', 'debug=1']);
    expect(p.status).toBe(2);
    expect(p.stderr).toMatch(/module parameters \(debug=1\) are not supported/);
  });
});
