/**
 * The watch framework in a module run (`kmemsim run mod.c`, with or
 * without checkers): the kmcf_* natives are exported, and after the run
 * the overflow reports are drained and the live overlays written out.
 */
import type { Kernel } from '../kernel/kernel.js';
import type { KernelApi } from '../kernel/kapi.js';
import { toFinding, type Finding, type SourceLocator, type Symbolizer } from '../shadow/report.js';
import { formatLost } from '../shadow/report.js';
import { installWatchApi } from './guest-api.js';
import { WatchFramework, formatOverflowReport } from './watch.js';

export interface WatchRunOptions {
  /** Each overlay's text (Overlay.format) as it ends, and the live ones after the run (`--overlay-save`). */
  overlaySink?: (text: string) => void;
}

/** Export the kmcf_* API on `kernel` (after installKernelApi). */
export function installWatch(kernel: Kernel, api: KernelApi, opts: WatchRunOptions = {}): void {
  installWatchApi(kernel, api);
  if (opts.overlaySink) WatchFramework.configure(kernel, { overlaySink: opts.overlaySink });
}

/** After the run: live overlays to the sink, overflow reports drained (text and findings). */
export function finishWatch(kernel: Kernel | null, symbolize?: Symbolizer, locate?: SourceLocator): { reports: string[]; findings: Finding[]; lost: number } {
  const out = { reports: [] as string[], findings: [] as Finding[], lost: 0 };
  if (kernel === null || !WatchFramework.existsOn(kernel)) return out;
  const w = WatchFramework.of(kernel);
  w.flushOverlays('live');
  for (const e of w.errors.drain()) {
    out.reports.push(formatOverflowReport(e, symbolize, locate));
    out.findings.push({ ...toFinding(e, symbolize, locate, { checker: 'watch', region: 'heap' }), kind: 'overflow' });
  }
  out.lost = w.errors.takeLost();
  if (out.lost > 0) out.reports.push(formatLost(out.lost).replace('kmemcheck', 'kmcf'));
  return out;
}
