/**
 * The kernel services every module run exports besides the kernel API
 * proper (src/kernel/kapi.ts): the watch framework's kmcf_* calls
 * (src/watch) and virtual MMIO — ioremap/iounmap on the virtual board,
 * mmiotrace (src/mmio). One place for `kmemsim run` with or without
 * checkers (src/cli/run-module.ts, ./checked-run.ts) and for `compare`.
 */
import type { Kernel } from '../kernel/kernel.js';
import type { KernelApi } from '../kernel/kapi.js';
import type { Finding, SourceLocator, Symbolizer } from '../shadow/report.js';
import { finishWatch, installWatch, type WatchRunOptions } from '../watch/run.js';
import { installMmioApi, type MmioRunOptions } from '../mmio/guest-api.js';
import { PageHidingService } from '../kernel/page-hiding.js';
import type { KernelApiHook } from '../linux/sys-module.js';
import { MmioBus } from '../mmio/mmio.js';
import { WatchFramework } from '../watch/watch.js';
import { AccessEmulator } from '../watch/emulate.js';
import { DebugRegisterProbe } from '../watch/debugreg.js';

import type { AccessSizeStrategy } from './modes.js';

export { ACCESS_SIZE_STRATEGIES, type AccessSizeStrategy } from './modes.js';

export interface ModuleServiceOptions {
  watch?: WatchRunOptions;
  mmio?: MmioRunOptions;
  /** Default 'decode'. */
  accessSize?: AccessSizeStrategy;
  /** kmemsim's own messages (the debugreg strategy's refusal). */
  onDiagnostic?: (line: string) => void;
}

const strategies = new WeakMap<Kernel, AccessEmulator | DebugRegisterProbe>();

/** The access-size strategy object of a run's kernel (its counters), or null for decode. */
export function accessSizeStrategyOf(kernel: Kernel): AccessEmulator | DebugRegisterProbe | null {
  return strategies.get(kernel) ?? null;
}

/**
 * Bind the services' natives into `api` (call right after installKernelApi, after the checkers
 * attached) and set the access-size strategy for every page-hiding client of the run.
 */
export function installModuleServices(kernel: Kernel, api: KernelApi, opts: ModuleServiceOptions = {}): void {
  installWatch(kernel, api, opts.watch);
  installMmioApi(kernel, api, opts.mmio);
  if (opts.accessSize === 'emulate') {
    const e = new AccessEmulator();
    strategies.set(kernel, e);
    PageHidingService.of(kernel).setFaultCompleter(e);
  }
  if (opts.accessSize === 'debugreg') {
    const probe = new DebugRegisterProbe();
    strategies.set(kernel, probe);
    probe.onRefused = (why) => opts.onDiagnostic?.(`kmemsim: --access-size debugreg: ${why}`);
    PageHidingService.of(kernel).setAccessProbe(probe);
  }
}

/**
 * The services in a program run with modules (`kmemsim run --module m.c PROGRAM`): installed with
 * the module kernel's API, after `inner`'s (a checker's); under `--mmiotrace` the program's writes to
 * trace_marker become MARK lines.
 */
export function moduleServicesHook(opts: ModuleServiceOptions, inner?: KernelApiHook): KernelApiHook {
  let kernel: Kernel | null = null;
  return {
    options: (k) => {
      kernel = k;
      return inner?.options(k) ?? {};
    },
    installed: inner?.installed,
    exports: (api, sys) => {
      inner?.exports?.(api, sys);
      const k = kernel!;
      installModuleServices(k, api, opts);
      const trace = MmioBus.of(k).trace;
      if (trace) sys.tracing.marker = (text) => trace.mark(text);
      // kmcf_add() of a user address in a system call watches the calling process's buffer; its exit undoes it.
      WatchFramework.configure(k, {
        pidOf: () => sys.task?.pid ?? 0,
        userSpace: () => (sys.task ? { as: sys.task.mm.as, pid: sys.task.pid } : null),
      });
      sys.mmReleased.push((as) => {
        if (WatchFramework.existsOn(k)) WatchFramework.of(k).dropSpace(as);
      });
    },
  };
}

/** After the run: the watch framework's overflow reports (text and findings) and live overlays. */
export function finishModuleServices(kernel: Kernel | null, symbolize?: Symbolizer, locate?: SourceLocator): { reports: string[]; findings: Finding[]; lost: number } {
  return finishWatch(kernel, symbolize, locate);
}
