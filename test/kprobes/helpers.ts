/**
 * Building and running the kprobes and scheduler test modules: C files
 * under test/kprobes/modules and test/sched/modules, compiled with the
 * module flags and kmemsim's headers, run like `kmemsim run mod.c`
 * (insmod, the kernel threads until they sleep, rmmod).
 */
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileModule } from '../../src/cli/compile.js';
import { runModule, type ModuleRunResult, type ModuleRunOptions } from '../../src/kernel/module-run.js';
import { installKernelApi, type KernelApi } from '../../src/kernel/kapi.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const objects = new Map<string, Uint8Array>();

/** `dir/name.c` (relative to the repository) compiled as a module. */
export function build(path: string): Uint8Array {
  let o = objects.get(path);
  if (!o) {
    o = compileModule(join(ROOT, path)).object;
    objects.set(path, o);
  }
  return o;
}

export interface Run extends ModuleRunResult {
  api: KernelApi;
  /** The console's lines. */
  lines: string[];
}

/** Run a module with the kernel API, as `kmemsim run` (`kernelParams`: --kernel-param). */
export function run(path: string, opts: ModuleRunOptions & { kernelParams?: string[] } = {}): Run {
  let api: KernelApi | null = null;
  const r = runModule(build(path), {
    name: path.split('/').pop(),
    exports: (k, io) => (api = installKernelApi(k, { console: (t) => io.console(t), kernelParams: opts.kernelParams })),
    onLoad: (_k, mod) => void (api as KernelApi | null)?.symbolizers.push((a) => mod.symbolize(a)),
    maxInstructions: 200_000_000,
    ...opts,
  });
  return { ...r, api: api!, lines: r.console.split('\n').filter((l) => l !== '') };
}
