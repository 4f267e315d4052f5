/**
 * The module notifier chain (Linux's register_module_notifier() and
 * kernel/module/main.c's blocking_notifier_call_chain(&module_notify_list,
 * MODULE_STATE_COMING / MODULE_STATE_GOING, mod)): clients of the kernel
 * hear of every module loaded and freed, whoever loads it — `kmemsim run`'s
 * module runner, `--module` preloads, init_module(2) from busybox insmod.
 *
 * `coming` runs once the module is linked and in kallsyms, before its init
 * function (where Linux calls ftrace_module_init() and the COMING chain);
 * `going` runs before its memory is freed (ftrace_release_mod()). Per kernel;
 * notifiers run in registration order.
 */
import type { Kernel } from './kernel.js';
import type { LoadedModule } from './module.js';

export interface ModuleNotifier {
  coming?(m: LoadedModule): void;
  going?(m: LoadedModule): void;
}

const chains = new WeakMap<Kernel, ModuleNotifier[]>();

function chainOf(kernel: Kernel): ModuleNotifier[] {
  let c = chains.get(kernel);
  if (!c) {
    c = [];
    chains.set(kernel, c);
  }
  return c;
}

/** register_module_notifier(): returns the unregister function. */
export function registerModuleNotifier(kernel: Kernel, n: ModuleNotifier): () => void {
  chainOf(kernel).push(n);
  return () => {
    const c = chainOf(kernel);
    const i = c.indexOf(n);
    if (i >= 0) c.splice(i, 1);
  };
}

/** MODULE_STATE_COMING: the loader has linked `m`. */
export function notifyModuleComing(kernel: Kernel, m: LoadedModule): void {
  for (const n of [...(chains.get(kernel) ?? [])]) n.coming?.(m);
}

/** MODULE_STATE_GOING: `m`'s memory is about to be freed. */
export function notifyModuleGoing(kernel: Kernel, m: LoadedModule): void {
  for (const n of [...(chains.get(kernel) ?? [])]) n.going?.(m);
}
