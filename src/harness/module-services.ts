/**
 * The kernel services every module run exports besides the kernel API
 * proper (src/kernel/kapi.ts): the watch framework's kmcf_* calls
 * (src/watch) and virtual MMIO — ioremap/iounmap on the virtual board,
 * mmiotrace (src/mmio). One place for `kmemsim run` with or without
 * checkers (src/cli/main.ts, ./checked-run.ts) and for `compare`.
 */
import type { Kernel } from '../kernel/kernel.js';
import type { KernelApi } from '../kernel/kapi.js';
import type { Finding, SourceLocator, Symbolizer } from '../shadow/report.js';
import { finishWatch, installWatch, type WatchRunOptions } from '../watch/run.js';
import { installMmioApi, type MmioRunOptions } from '../mmio/guest-api.js';
import { PageHidingService } from '../kernel/page-hiding.js';
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

/** After the run: the watch framework's overflow reports (text and findings) and live overlays. */
export function finishModuleServices(kernel: Kernel | null, symbolize?: Symbolizer, locate?: SourceLocator): { reports: string[]; findings: Finding[]; lost: number } {
  return finishWatch(kernel, symbolize, locate);
}
