/** Shared pieces of the ftrace tests: modules in test/modules/ftrace-*.c compiled with -pg -mfentry. */
import { join } from 'node:path';
import { compileModule, type CompileResult } from '../../src/cli/compile.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { loadModule, type LoadedModule } from '../../src/kernel/module.js';
import { ExportTable } from '../../src/kernel/exports.js';
import { installKernelApi } from '../../src/kernel/kapi.js';
import { callGuest, type CallResult } from '../../src/kernel/call.js';
import { MODULES } from '../module/helpers.js';

export { hasGcc, NO_GCC } from '../module/helpers.js';

const cache = new Map<string, CompileResult>();

/** test/modules/<name>.c with the module flags, -pg -mfentry, and `opt` (e.g. -O0). */
export function ftraceModule(name: string, opt = '-O2', ftrace = true): CompileResult {
  const key = `${name}:${opt}:${ftrace}`;
  let r = cache.get(key);
  if (!r) {
    r = compileModule(join(MODULES, `${name}.c`), { ftrace, cflags: [opt] });
    cache.set(key, r);
  }
  return r;
}

/** A fresh kernel with the kernel API (printk, ...) and the module loaded (no runtime). */
export function loaded(bytes: Uint8Array, name = 'mod.o'): { k: Kernel; m: LoadedModule; fn: (n: string) => number; call: (n: string, args?: number[]) => CallResult } {
  const k = new Kernel();
  const api = installKernelApi(k, { console: () => {} });
  const m = loadModule(k, bytes, { name, exports: ExportTable.from(api) });
  const fn = (n: string): number => {
    const a = m.object.symbolAddress(n);
    if (a === undefined) throw new Error(`no symbol ${n}`);
    return a;
  };
  return { k, m, fn, call: (n, args = []) => callGuest(k, fn(n), args, 50_000_000) };
}
